"""``connect()``: a script's handle on a running cluster, found through ZooKeeper.

```
 cluster = runtime.connect("zk://127.0.0.1:2181/pydcos")
 cluster.actor("master").ask(...)        # an actor on the leading master
 cluster.on_leader_change(fn)            # fn(leader node address or None)
 cluster.close()
```

The handle owns a connect-only client node (no listening socket): peers answer it over
the connection it opened, so scripts work from behind NAT and never need the cluster's
secret key, only the public ``cluster.key`` and an authorised client keypair.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime._cluster_actors import ActorsMixin
from runtime._node import Node
from runtime._ref import ActorRef
from runtime.errors import RuntimeSystemError

log = logging.getLogger("runtime.connect")

DEFAULT_CHROOT = "/pydcos"


class NoCluster(RuntimeSystemError):
    """No cluster could be reached; the message says where we looked and what to do."""


def parse_zk_url(url: str) -> tuple[str, str]:
    """``zk://h1:p1,h2:p2/chroot`` -> (``h1:p1,h2:p2``, ``/chroot``)."""
    if not isinstance(url, str) or not url.startswith("zk://"):
        raise ValueError(f"cluster URL: {url!r} is not of the form zk://host:port[/chroot]")
    rest = url[len("zk://") :]
    hosts, slash, chroot = rest.partition("/")
    if not hosts:
        raise ValueError(f"cluster URL: {url!r} names no ZooKeeper host")
    for hp in hosts.split(","):
        host, colon, port = hp.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"cluster URL: {hp!r} in {url!r} is not host:port")
    return hosts, "/" + chroot.strip("/") if slash and chroot.strip("/") else DEFAULT_CHROOT


def client_security(keys: str | Path | None, insecure_dev: bool) -> Any:
    """CURVE as a client (public cluster key + own client keypair), or plain for dev."""
    from transport import Security

    if insecure_dev:
        return Security.plain()
    directory = Path(keys or os.environ.get("PYDCOS_KEYS") or Path.home() / ".pydcos" / "keys")
    cluster_key = directory / "cluster.key"
    client_secret = directory / "client.key_secret"
    if not cluster_key.exists() or not client_secret.exists():
        raise NoCluster(
            f"no client keys in {directory} (need cluster.key and client.key_secret): "
            "run 'pydcos cluster keys' or pass insecure_dev=True for a dev cluster"
        )
    return Security.curve(cluster_key, client_secret_file=client_secret)


def _local_cluster(
    keys: str | Path | None, insecure_dev: bool
) -> tuple[str | None, str | Path | None, bool]:
    """The cluster ``pydcos cluster up`` started (``$PYDCOS_HOME/cluster/cluster.json``):
    its ZooKeeper URL, and its keys / insecure mode unless given."""
    import json

    home = Path(os.environ.get("PYDCOS_HOME") or Path.home() / ".pydcos")
    try:
        record = json.loads((home / "cluster" / "cluster.json").read_text())
        url = f"zk://{record['zk_hosts']}{record.get('chroot', DEFAULT_CHROOT)}"
    except (OSError, ValueError, KeyError, TypeError):
        return None, keys, insecure_dev
    if keys is None and not insecure_dev:
        insecure_dev = bool(record.get("insecure_dev"))
        keys = record.get("keys") or None
    return url, keys, insecure_dev


class Cluster(ActorsMixin):
    """A connection to one pydcos cluster. Close it (or use ``with``) when done.

    Cluster actors (``spawn``, ``get_actor``, ``kill``, ``wait``, ``supervise``) come
    from ``runtime._cluster_actors.ActorsMixin``."""

    def __init__(self, node: Node, client: Any, *, owns_node: bool = True) -> None:
        from zk import LeaderWatch

        self.node = node
        self._client = client
        self._owns_node = owns_node
        self._callbacks: list[Callable[[str | None], None]] = []
        self._leader: Any = None
        self._changed = threading.Condition()
        self._watch = LeaderWatch(client, self._on_leader)

    # -- leader -----------------------------------------------------------------------

    def _on_leader(self, leader: Any) -> None:
        with self._changed:
            self._leader = leader
            self._changed.notify_all()
        address = leader.address if leader is not None else None
        for cb in list(self._callbacks):
            try:
                cb(address)
            except Exception:
                log.exception("leader change callback failed")

    @property
    def leader(self) -> Any:
        """The leading master's published ``zk.LeaderInfo``, or None during an election."""
        return self._leader

    @property
    def leader_address(self) -> str | None:
        """The leading master's node address (``tcp://host:port``), or None."""
        leader = self._leader
        return leader.address if leader is not None else None

    def wait_leader(self, timeout: float = 10.0) -> Any:
        """Block until a master leads; raises NoCluster after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._leader is not None, timeout):
                raise NoCluster(f"no master became leader within {timeout:g} s")
            return self._leader

    def on_leader_change(self, callback: Callable[[str | None], None]) -> None:
        """Call ``callback(leader node address or None)`` on every change (now too)."""
        self._callbacks.append(callback)
        callback(self.leader_address)

    # -- actors -----------------------------------------------------------------------

    def actor(self, name: str, timeout: float = 10.0) -> ActorRef:
        """A ref to an actor: ``tcp://host:port/name`` as given, or ``name`` on the
        leading master (``master``, later ``marathon``, ``metronome``...)."""
        if "://" in name:
            return self.node.ref(name)
        self.wait_leader(timeout)
        return self.node.ref(f"{self._leader.address}/{name}")

    def close(self) -> None:
        from zk import close_quietly

        self._close_actors()
        self._watch.stop()
        close_quietly(self._client)
        if self._owns_node:
            self.node.shutdown(5)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    url: str | None = None,
    *,
    keys: str | Path | None = None,
    insecure_dev: bool = False,
    session_timeout: float = 5.0,
    connect_timeout: float = 10.0,
    name: str = "client",
    zk_credentials: str | Path | None = None,
) -> Cluster:
    """Connect to the cluster whose ZooKeeper is at ``url`` (or ``$PYDCOS_ZK``).

    ``zk_credentials``: the cluster's ZooKeeper credentials file (else
    ``$PYDCOS_ZK_CREDENTIALS``); finding the leader needs none, its znodes are
    world-readable."""
    from zk import BadCredentials, ZkUnavailable, resolve_credentials
    from zk import connect as zk_connect

    url = url or os.environ.get("PYDCOS_ZK")
    if not url:
        url, keys, insecure_dev = _local_cluster(keys, insecure_dev)
    if not url:
        raise NoCluster(
            "no cluster given: pass connect('zk://host:port/pydcos') or set PYDCOS_ZK "
            "(start a local cluster with 'pydcos cluster up')"
        )
    if not url.startswith("zk://"):
        url = "zk://" + url
    hosts, chroot = parse_zk_url(url)
    security = client_security(keys, insecure_dev)
    try:
        credentials = resolve_credentials(zk_credentials)
    except BadCredentials as exc:
        raise NoCluster(str(exc)) from None
    try:
        client = zk_connect(
            hosts,
            chroot=chroot,
            session_timeout=session_timeout,
            connect_timeout=connect_timeout,
            credentials=credentials,
        )
    except ZkUnavailable as exc:
        raise NoCluster(f"cannot reach ZooKeeper at {hosts}: {exc}") from None
    node = Node(name)
    try:
        node.listen(None, security=security)
        return Cluster(node, client)
    except Exception:
        node.shutdown(2)
        from zk import close_quietly

        close_quietly(client)
        raise
