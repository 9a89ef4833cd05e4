"""The local cluster's state dir: what ``cluster up`` started, so ``down`` stops exactly that.

```
<state-dir>/                      default ~/.pydcos/cluster ($PYDCOS_HOME/cluster)
  cluster.json                    the record below (written atomically)
  keys/                           CURVE keys (absent with --insecure-dev)
  logs/zk.log master-1.log ...    one log per process
  zk/                             ZooKeeper's data dir
  agents/agent-1/ ...             each agent's work dir (sandboxes/, checkpoints)
```

A recorded process is identified by PID *and* start time, so a PID the kernel reused for
another program is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RECORD = "cluster.json"
CHROOT = "/pydcos"


def pydcos_home() -> Path:
    return Path(os.environ.get("PYDCOS_HOME") or Path.home() / ".pydcos")


def default_state_dir() -> Path:
    return pydcos_home() / "cluster"


@dataclass
class ProcRecord:
    """One process the launcher started."""

    name: str
    """``zk``, ``master-1``, ``agent-2``..."""
    kind: str
    """``zk``, ``master`` or ``agent``."""
    pid: int
    started: float
    """The process' start time (psutil ``create_time``): guards against PID reuse."""
    log: str
    argv: list[str] = field(default_factory=list)
    address: str = ""
    """Transport address (``tcp://127.0.0.1:PORT``) once the process printed it."""
    http_url: str = ""
    """Masters: the gateway's base URL."""
    work_dir: str = ""
    """Agents: sandboxes and checkpoints live here."""
    resources: str = ""
    attributes: str = ""
    child_pid: int = 0
    """ZooKeeper: the JVM's PID (the ``pydcos zk`` wrapper's child)."""
    host: str = ""
    """``cluster up --hosts``: the simulated host (``master-1``...) it runs on."""
    netns: str = ""
    """... and that host's network namespace ('' on loopback)."""
    dns: str = ""
    """Masters: the DNS server's ``ip:port``, as the ready line reported it."""

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ProcRecord:
        known = {f for f in ProcRecord.__dataclass_fields__}
        return ProcRecord(**{k: v for k, v in d.items() if k in known})


@dataclass
class ClusterRecord:
    """``cluster.json``: everything needed to reach, inspect and stop the local cluster."""

    state_dir: str
    zk_hosts: str
    chroot: str = CHROOT
    insecure_dev: bool = False
    keys: str = ""
    containerizers: str = "mesos"
    docker_note: str = ""
    hosts_note: str = ""
    """Why ``--hosts`` fell back to loopback ('' when it did not)."""
    created: float = field(default_factory=time.time)
    processes: list[ProcRecord] = field(default_factory=list)
    network: dict[str, Any] = field(default_factory=dict)
    """``cluster up --hosts``: the ``console._hosts.NetPlan`` (tag, subnet, namespaces,
    ``hosts: [{name, role, ip, netns}]``); empty on loopback."""
    zk_members: list[dict[str, Any]] = field(default_factory=list)
    """A ZooKeeper ensemble started by ``cluster up`` (``--hosts``/``--zk-ensemble``):
    ``[{server_id, host, ip, client_port, quorum_port, election_port}]``."""

    @property
    def hosts(self) -> list[dict[str, Any]]:
        """``[{name, role, ip, netns}]`` with ``--hosts``, else empty."""
        return list(self.network.get("hosts", []))

    @property
    def zk(self) -> str:
        return f"{self.zk_hosts}{self.chroot}"

    def by_kind(self, kind: str) -> list[ProcRecord]:
        return [p for p in self.processes if p.kind == kind]

    def get(self, name: str) -> ProcRecord | None:
        aliases = {"zookeeper": "zk" if any(p.name == "zk" for p in self.processes) else "zk-1"}
        name = aliases.get(name, name)
        return next((p for p in self.processes if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ClusterRecord:
        procs = [ProcRecord.from_dict(p) for p in d.get("processes", [])]
        known = {f for f in ClusterRecord.__dataclass_fields__} - {"processes"}
        return ClusterRecord(**{k: v for k, v in d.items() if k in known}, processes=procs)


def load(state_dir: Path) -> ClusterRecord | None:
    path = state_dir / RECORD
    try:
        return ClusterRecord.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path} is unreadable ({exc}); remove it after checking") from None


def save(record: ClusterRecord) -> None:
    d = Path(record.state_dir)
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".cluster.", suffix=".tmp", dir=d)
    with os.fdopen(fd, "w") as f:
        json.dump(record.to_dict(), f, indent=2)
    os.replace(tmp, d / RECORD)


def forget(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / RECORD).unlink()


def process_alive(pid: int, started: float | None = None) -> bool:
    """Is ``pid`` running, not a zombie, and (when ``started`` is given) the same process?"""
    import psutil

    if pid <= 0:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - started) < 1.0
    except psutil.Error:
        return False


def start_time(pid: int) -> float:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return 0.0


def alive(p: ProcRecord) -> bool:
    return process_alive(p.pid, p.started)
