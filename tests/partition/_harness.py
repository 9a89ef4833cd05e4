"""A client of a ``pydcos cluster up --hosts`` cluster for partition tests and the soak.

Plain HTTP (urllib) against the masters' public APIs, processes from the cluster
record, partitions through ``console._hosts.Hosts`` (iptables inside the namespaces).
No waiting loops of its own: callers poll with ``runtime.testing.wait_for``.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console._hosts import Hosts, netns_unsupported

__all__ = ["HostsCluster", "netns_unsupported", "pydcos_env", "request", "restart"]


def request(
    url: str, method: str = "GET", body: Any = None, timeout: float = 5.0
) -> tuple[int, Any]:
    """(status, decoded JSON body or raw text); status 0 when nothing answered."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, _decode(raw)
    except urllib.error.HTTPError as e:
        return e.code, _decode(e.read())
    except (OSError, ValueError):
        return 0, None


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


@dataclass
class Proc:
    name: str
    kind: str
    pid: int
    host: str
    http_url: str


class HostsCluster:
    """The processes, leader and partitions of one ``--hosts`` cluster."""

    def __init__(self, state_dir: Path | str) -> None:
        self.state_dir = Path(state_dir)
        self.hosts = Hosts.load(self.state_dir)

    def record(self) -> dict[str, Any]:
        return json.loads((self.state_dir / "cluster.json").read_text())

    def procs(self, kind: str) -> list[Proc]:
        return [
            Proc(p["name"], p["kind"], p["pid"], p.get("host", ""), p.get("http_url", ""))
            for p in self.record()["processes"]
            if p["kind"] == kind
        ]

    def proc(self, name: str) -> Proc:
        return next(p for p in self.procs_all() if p.name == name)

    def procs_all(self) -> list[Proc]:
        return [p for kind in ("zk", "master", "agent") for p in self.procs(kind)]

    # -- leadership --------------------------------------------------------------------

    def electeds(self, timeout: float = 2.0) -> list[Proc]:
        """Masters that say they lead (``master/elected`` 1) and answer now."""
        out = []
        for m in self.procs("master"):
            code, body = request(m.http_url + "/metrics/snapshot", timeout=timeout)
            if code == 200 and isinstance(body, dict) and body.get("master/elected") == 1:
                out.append(m)
        return out

    def leader(self, exclude: str | None = None) -> Proc | None:
        """The one master leading (None during an election, or if another is excluded:
        a partitioned old leader must not count)."""
        found = [m for m in self.electeds() if m.name != exclude]
        return found[0] if len(found) == 1 else None

    def leader_url(self) -> str | None:
        m = self.leader()
        return m.http_url if m is not None else None

    def api(
        self, method: str, path: str, body: Any = None, timeout: float = 5.0
    ) -> tuple[int, Any]:
        """A request to the leader (status 0 when there is none)."""
        url = self.leader_url()
        if url is None:
            return 0, None
        return request(url + path, method, body, timeout)

    # -- Marathon / Mesos views --------------------------------------------------------

    def app_tasks(self, app_id: str) -> list[dict[str, Any]] | None:
        code, body = self.api("GET", f"/marathon/v2/apps{app_id}/tasks")
        if code != 200 or not isinstance(body, dict):
            return None
        return list(body.get("tasks", []))

    def running(self, app_id: str) -> dict[str, dict[str, Any]] | None:
        """Task id -> Marathon task, for the app's RUNNING tasks (None: no answer)."""
        tasks = self.app_tasks(app_id)
        if tasks is None:
            return None
        return {t["id"]: t for t in tasks if t.get("state") == "TASK_RUNNING"}

    def mesos_state(self) -> dict[str, Any] | None:
        code, body = self.api("GET", "/mesos/master/state", timeout=10)
        return body if code == 200 and isinstance(body, dict) else None

    def agent_host(self, agent_id: str) -> str | None:
        """The simulated host (``agent-2``) of a Mesos agent id."""
        state = self.mesos_state()
        if state is None:
            return None
        for a in state.get("slaves", []):
            if a.get("id") == agent_id:
                ip = str(a.get("pid", "")).rsplit("@", 1)[-1].split(":")[0]
                name = self.hosts.name_of(ip)
                if name is None:
                    name = self.hosts.name_of(str(a.get("hostname", "")))
                return name or str(a.get("hostname", ""))
        return None

    # -- faults ------------------------------------------------------------------------

    def partition(self, host: str, from_: list[str] | None = None) -> None:
        self.hosts.partition(host, from_=from_)

    def heal(self) -> None:
        if self.hosts.partitioned():
            self.hosts.heal()

    def sigkill(self, name: str) -> int:
        p = self.proc(name)
        os.kill(p.pid, signal.SIGKILL)
        return p.pid


def pydcos_env(pid: int) -> dict[str, str]:
    """The ``PYDCOS_*`` variables of a running process (to restart it alike)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(): v.decode() for k, v in pairs if k.startswith(b"PYDCOS_")}


def restart(state_dir: Path | str, name: str, env: dict[str, str], timeout: float = 30.0) -> int:
    """Start a killed master or agent again, as ``cluster up`` started it (same argv,
    namespace, work dir), wait for its ready line and update the cluster record.
    Returns the new PID."""
    import time

    from console import _state as st
    from console._launcher import Launcher, read_banner

    launcher = Launcher(Path(state_dir))
    rec = launcher._record_or_fail()
    old = next(p for p in rec.processes if p.name == name)
    started = launcher._spawn(old.name, old.kind, old.argv, old.kind, env, netns=old.netns)
    started.rec.host, started.rec.work_dir = old.host, old.work_dir
    started.rec.resources, started.rec.attributes = old.resources, old.attributes
    deadline = time.monotonic() + timeout
    while True:
        if started.popen.poll() is not None:
            raise RuntimeError(f"{name} exited with status {started.popen.returncode}")
        words = read_banner(Path(started.rec.log), started.offset, old.kind)
        if words is not None:
            launcher._take_banner(started.rec, words)
            if started.rec.address:
                break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start within {timeout:g} s")
        time.sleep(0.05)
    fresh = launcher._record_or_fail()
    fresh.processes = [started.rec if x.name == name else x for x in fresh.processes]
    st.save(fresh)
    return started.popen.pid
