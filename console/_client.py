"""Which cluster, and how to talk to it: ZooKeeper for the leader, HTTP for the APIs.

Resolution order: ``--zk``, then ``$PYDCOS_ZK``, then the local cluster's state dir.
HTTP goes to the leader's gateway (its URL is published in ZooKeeper); a 307 from a
standby (a failover in between) is followed by hand so POST/PUT/DELETE keep their body.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from console import _state as st
from console._errors import ConsoleError

NO_CLUSTER_HINT = (
    "no cluster: pass --zk HOST:PORT/pydcos, set PYDCOS_ZK, or start a local one with "
    "'pydcos cluster up'"
)


class ClientError(ConsoleError):
    """A user-facing failure talking to the cluster (one line)."""


class NoCluster(ClientError):
    pass


class _Refused(ClientError):
    """The leader's port refused the connection: nothing was sent, so a retry is safe."""


class ApiError(ClientError):
    """An HTTP API said no; ``message`` is the API's own, with the field when given."""

    def __init__(self, status: int, body: Any, what: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{what}: {describe_error(status, body)}")


def describe_error(status: int, body: Any) -> str:
    """Marathon/Metronome error bodies as one line: message, then ``path: errors``."""
    if not isinstance(body, dict):
        return f"HTTP {status}: {str(body)[:200]}"
    msg = str(body.get("message") or f"HTTP {status}")
    parts = []
    for d in body.get("details") or []:
        if isinstance(d, dict):
            errs = d.get("errors") or []
            errs = errs if isinstance(errs, list) else [errs]
            parts.append(f"{d.get('path', '/')}: {'; '.join(str(e) for e in errs)}")
    return msg + (" (" + ", ".join(parts) + ")" if parts else "")


@dataclass
class Target:
    """A cluster to talk to."""

    zk_hosts: str
    chroot: str = st.CHROOT
    keys: str | None = None
    insecure_dev: bool = False
    local: st.ClusterRecord | None = None
    zk_credentials: str | None = None
    """ZooKeeper digest credentials file (the local cluster's; else
    ``$PYDCOS_ZK_CREDENTIALS``). Not needed to find the leader (world-readable)."""

    @property
    def zk(self) -> str:
        return f"{self.zk_hosts}{self.chroot}"


def split_zk(zk: str) -> tuple[str, str]:
    zk = zk.removeprefix("zk://")
    hosts, slash, chroot = zk.partition("/")
    if not hosts:
        raise NoCluster(f"--zk {zk!r}: no host:port")
    return hosts, ("/" + chroot.strip("/")) if slash and chroot.strip("/") else st.CHROOT


def resolve_target(
    zk: str | None = None,
    state_dir: Path | None = None,
    keys: str | None = None,
    insecure_dev: bool = False,
) -> Target:
    zk = zk or os.environ.get("PYDCOS_ZK")
    rec = st.load(Path(state_dir) if state_dir else st.default_state_dir())
    if zk:
        hosts, chroot = split_zk(zk)
        if rec is not None and (rec.zk_hosts, rec.chroot) == (hosts, chroot):
            # The local cluster, named by its ZooKeeper: use its keys and work dirs too.
            return Target(
                hosts,
                chroot,
                keys or rec.keys or None,
                insecure_dev or rec.insecure_dev,
                local=rec,
                zk_credentials=_local_credentials(rec),
            )
        return Target(hosts, chroot, keys, insecure_dev)
    if rec is None or not any(st.alive(p) for p in rec.processes if p.kind != "agent"):
        raise NoCluster(NO_CLUSTER_HINT)
    return Target(
        rec.zk_hosts,
        rec.chroot,
        keys or rec.keys or None,
        insecure_dev or rec.insecure_dev,
        local=rec,
        zk_credentials=_local_credentials(rec),
    )


TOKEN_ENV = "PYDCOS_TOKEN"
"""A login token to send instead of the CLI's stored one (scripts, tests)."""


def token_for(target: Target) -> str | None:
    """The token to send to ``target``: ``$PYDCOS_TOKEN``, else the one ``auth login``
    (or ``cluster up``) stored for its ZooKeeper (``Target.zk``), else None."""
    from console._token_store import load_token

    return load_token(target.zk)


def authorization(token: str | None) -> dict[str, str]:
    """The header DC/OS' Admin Router reads (``Authorization: token=<jwt>``)."""
    return {"Authorization": f"token={token}"} if token else {}


def _local_credentials(rec: st.ClusterRecord) -> str | None:
    """The local cluster's ZooKeeper credentials file, if ``cluster up`` made one."""
    from console._launcher import credentials_path

    path = credentials_path(Path(rec.state_dir))
    return str(path) if path.exists() else None


class ClusterClient:
    """HTTP and actor access to one cluster. Close it when done."""

    def __init__(self, target: Target, timeout: float = 10.0, failover_wait: float = 20.0) -> None:
        self.target = target
        self.timeout = timeout
        self.failover_wait = failover_wait
        """How long a request waits out a failover (a new leader, a 503) before failing."""
        self._zk: Any = None
        self._leader: Any = None
        self._cluster: Any = None
        self._token: str | None = None
        self._token_read = False

    def auth_headers(self) -> dict[str, str]:
        """``Authorization: token=<jwt>`` when the CLI is logged in (or
        ``$PYDCOS_TOKEN`` is set); read once per client."""
        if not self._token_read:
            self._token = token_for(self.target)
            self._token_read = True
        return authorization(self._token)

    # -- ZooKeeper --------------------------------------------------------------------

    def zk(self) -> Any:
        if self._zk is None:
            from zk import BadCredentials, ZkUnavailable, resolve_credentials
            from zk import connect as zk_connect

            try:
                self._zk = zk_connect(
                    self.target.zk_hosts,
                    chroot=self.target.chroot,
                    session_timeout=5.0,
                    connect_timeout=3.0,
                    credentials=resolve_credentials(self.target.zk_credentials),
                )
            except BadCredentials as exc:
                raise ClientError(str(exc)) from None
            except ZkUnavailable:
                raise NoCluster(
                    f"no cluster: ZooKeeper at {self.target.zk_hosts} does not answer "
                    "(start a local cluster with 'pydcos cluster up')"
                ) from None
        return self._zk

    def leader(self, wait: float = 5.0) -> Any:
        """The leading master's ``LeaderInfo`` (waits up to ``wait`` s for an election)."""
        from zk import read_leader

        deadline = time.monotonic() + wait
        while True:
            leader = read_leader(self.zk())
            if leader is not None and leader.http_url:
                self._leader = leader
                return leader
            if time.monotonic() > deadline:
                raise NoCluster(
                    f"no master is leading the cluster at {self.target.zk} "
                    "(an election is in progress, or no master runs)"
                )
            time.sleep(0.1)

    def base_url(self) -> str:
        if self._leader is None:
            self.leader()
        return str(self._leader.http_url).rstrip("/")

    # -- HTTP -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        what: str = "",
        ok: tuple[int, ...] = (200, 201, 202, 204),
    ) -> Any:
        """JSON in, JSON out; raises ApiError for other statuses.

        Through a failover (the leader refuses connections, or answers 503 while a new
        one takes over) the leader is looked up again in ZooKeeper and the request sent
        again, for up to ``failover_wait`` s: neither case reached a handler, so a
        retried POST is not applied twice."""
        rel = path + ("?" + urlencode(query, doseq=True) if query else "")
        url = self.base_url() + rel
        data = json.dumps(body).encode() if body is not None else None
        deadline = time.monotonic() + self.failover_wait
        redirects = 0
        while True:
            try:
                status, headers, raw = self._once(method, url, data)
            except _Refused as exc:
                if time.monotonic() > deadline:
                    raise ClientError(str(exc)) from None
                url = self._relocated(rel, deadline)
                continue
            if status in (307, 308) and headers.get("location") and redirects < 5:
                redirects += 1
                loc = headers["location"]
                url = loc if "://" in loc else self.base_url() + loc
                continue
            if status == 503 and time.monotonic() < deadline:
                url = self._relocated(rel, deadline)
                continue
            break
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = raw.decode(errors="replace")
        if status == 401 and 401 not in ok:
            raise ApiError(
                status,
                {"message": f"{_message(doc)}; log in with 'pydcos auth login' or set {TOKEN_ENV}"},
                what or f"{method} {path}",
            )
        if status not in ok:
            raise ApiError(status, doc, what or f"{method} {path}")
        return doc

    def _once(self, method: str, url: str, data: bytes | None) -> tuple[int, dict[str, str], bytes]:
        u = urlsplit(url)
        conn = http.client.HTTPConnection(
            u.hostname or "127.0.0.1", u.port or 80, timeout=self.timeout
        )
        try:
            path = (u.path or "/") + ("?" + u.query if u.query else "")
            headers = {"Accept": "application/json", **self.auth_headers()}
            if data is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        except ConnectionRefusedError as exc:
            raise _Refused(f"{method} {url}: {exc}") from None
        except OSError as exc:
            raise ClientError(f"{method} {url}: {exc}") from None
        finally:
            conn.close()

    def _relocated(self, rel: str, deadline: float) -> str:
        """The URL of ``rel`` at the leader ZooKeeper names now, after a short pause
        (a SIGKILLed leader stays named until its ZooKeeper session expires)."""
        time.sleep(0.2)
        self._leader = None
        self.leader(wait=max(0.5, deadline - time.monotonic()))
        return str(self._leader.http_url).rstrip("/") + rel

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query={k: v for k, v in query.items() if v is not None})

    # -- actors -----------------------------------------------------------------------

    def cluster(self) -> Any:
        """A ``runtime.Cluster`` handle (transport), made on first use."""
        if self._cluster is None:
            from runtime import NoCluster as RtNoCluster
            from runtime import connect

            try:
                self._cluster = connect(
                    f"zk://{self.target.zk}",
                    keys=self.target.keys,
                    insecure_dev=self.target.insecure_dev,
                    connect_timeout=3.0,
                    zk_credentials=self.target.zk_credentials,
                )
            except RtNoCluster as exc:
                raise NoCluster(str(exc)) from None
        return self._cluster

    def close(self) -> None:
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()
            self._cluster = None
        if self._zk is not None:
            from zk import close_quietly

            with contextlib.suppress(Exception):
                close_quietly(self._zk)
            self._zk = None

    def __enter__(self) -> ClusterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _message(doc: Any) -> str:
    return str(doc.get("message")) if isinstance(doc, dict) and doc.get("message") else "HTTP 401"


def app_path(app_id: str) -> str:
    """``/marathon/v2/apps/<id>`` with the id normalised to a leading slash."""
    return "/marathon/v2/apps/" + quote(app_id.strip("/"), safe="/")
