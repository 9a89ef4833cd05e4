"""``AgentProcess``: one pydcos agent (what ``pydcos agent`` runs).

```
 AgentProcess
   Node (transport)                         LeaderWatch (ZooKeeper)
     root supervisor                           leader changes --MasterChanged--> agent
       "agent" AgentActor --TaskRunner--> simulated | containers (native, docker)
```

Resources and attributes come from flags; resources default to what the machine has
(psutil), as a Mesos agent's do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from actors import protocol as p
from actors.agent._agent_actor import AGENT_ACTOR, AgentActor, SimulatedRunner, TaskRunner
from actors.agent._gc import DEFAULT_GC_DELAY, DEFAULT_GC_DISK_HEADROOM
from actors.agent._runner import TASKS_SUPERVISOR
from actors.protocol import MASTER_ACTOR
from actors.resources import Attributes, Resources, parse_attributes
from runtime import ChildSpec, Node, Supervisor
from transport import Security
from zk import LeaderInfo, LeaderWatch, close_quietly, connect, resolve_credentials

log = logging.getLogger("actors.agent")

VERSION = "0.1.0"


def default_resources(work_dir: str | None = None) -> Resources:
    """What this machine has, as Mesos computes it: all cpus, memory minus 1 GB (or
    half when small), the work dir's free disk, and ports 31000-32000."""
    cpus = float(psutil.cpu_count() or 1)
    total_mb = psutil.virtual_memory().total / 2**20
    mem = total_mb - 1024 if total_mb >= 2048 else total_mb / 2
    disk_path = work_dir if work_dir and os.path.exists(work_dir) else "/"
    disk = psutil.disk_usage(disk_path).free / 2**20
    return Resources.parse(f"cpus:{cpus:g};mem:{int(mem)};disk:{int(disk)};ports:[31000-32000]")


@dataclass
class AgentOptions:
    """Settings of one agent process (the ``pydcos agent`` flags)."""

    zk: str
    security: Security
    resources: Resources
    attributes: Attributes = field(default_factory=Attributes)
    work_dir: str | None = None
    containerizers: tuple[str, ...] = ("mesos", "docker")
    docker_url: str | None = None
    cgroup_root: str = "pydcos"
    """Parent cgroup of the native tasks' cgroups (``/sys/fs/cgroup/<ctrl>/<root>/<id>``)."""
    bind: str = "tcp://127.0.0.1:0"
    advertise: str | None = None
    hostname: str = ""
    session_timeout: float = 2.0
    zk_credentials: str | None = None
    """ZooKeeper digest credentials file (else ``$PYDCOS_ZK_CREDENTIALS``, else none)."""
    gc_delay: float = DEFAULT_GC_DELAY
    """Seconds an unused sandbox is kept on an empty disk (Mesos' ``--gc_delay``)."""
    gc_disk_headroom: float = DEFAULT_GC_DISK_HEADROOM
    """Disk fraction to keep free: sandboxes go sooner as the disk fills."""
    metrics_interval: float = 2.0
    """Seconds between two metrics samples (``--metrics-interval``; issue 21)."""
    enforce_disk_quota: bool = False
    """Kill a task whose persistent volume outgrows its size (``--enforce-disk-quota``)."""
    disk_watch_interval: float = 15.0
    """Seconds between two volume usage checks (``--disk-watch-interval``)."""
    default_user: str | None = None
    """The user of native tasks that name none (``--default-user``; None: the agent's
    own). ``pydcos agent`` passes ``default_task_user()`` unless told otherwise."""


class AgentProcess:
    """Start with ``start()``; stop with ``stop()``. Stopping the agent leaves its
    tasks running (Mesos' agent restart semantics); only a kill stops a task."""

    def __init__(self, options: AgentOptions) -> None:
        self.options = options
        self.node = Node("agent")
        self.client: Any = None
        self.watch: LeaderWatch | None = None
        self.runner: TaskRunner | None = None
        self.hostname = options.hostname or socket.gethostname()

    def _make_runner(self) -> tuple[TaskRunner, list[str]]:
        names = list(self.options.containerizers)
        if names == ["simulated"]:
            return SimulatedRunner(), ["simulated"]
        from actors.agent._facade import Containerizers
        from actors.agent._runner import ContainerRunner

        work_dir = self.options.work_dir
        if work_dir is None:
            raise ValueError("--work-dir is required for the mesos and docker containerizers")
        c = Containerizers(
            work_dir,
            [n for n in names if n != "simulated"],
            docker_url=self.options.docker_url,
            agent_id=containerizer_id(work_dir),
            host=self.hostname if self.hostname != "localhost" else "127.0.0.1",
            cgroup_root=self.options.cgroup_root,
            clock=self.node.clock,
        )
        for name, why in c.reasons.items():
            log.warning("containerizer %s unavailable: %s", name, why)
        runner = ContainerRunner(
            c,
            gc_delay=self.options.gc_delay,
            gc_disk_headroom=self.options.gc_disk_headroom,
            default_user=self.options.default_user,
        )
        return runner, c.available()

    def start(self) -> AgentProcess:
        o = self.options
        if o.work_dir:
            Path(o.work_dir).mkdir(parents=True, exist_ok=True)
        self.node.listen(o.bind, security=o.security, advertise=o.advertise)
        self.runner, available = self._make_runner()
        attrs = dict(o.attributes.to_dict())
        # What this agent can run, as a text attribute (which cannot hold commas):
        # "mesos/docker", "mesos" when the Docker engine is unreachable, "none".
        attrs.setdefault("containerizers", "/".join(available) or "none")
        # Task supervisors live beside the agent actor, not under it: an agent actor
        # restart must not take running tasks with it.
        self.node.root.start_child(
            ChildSpec(
                TASKS_SUPERVISOR,
                Supervisor,
                kind="supervisor",
                kwargs={"strategy": "one_for_one"},
                name=TASKS_SUPERVISOR,
            )
        )
        spec = ChildSpec(
            AGENT_ACTOR,
            AgentActor,
            restart="permanent",
            kwargs={
                "hostname": self.hostname,
                "address": self.node.actor_address(AGENT_ACTOR),
                "resources": o.resources,
                "attributes": Attributes.from_dict(attrs),
                "runner": self.runner,
                "work_dir": o.work_dir,
                "version": VERSION,
                "metrics_interval": o.metrics_interval,
                "enforce_disk_quota": o.enforce_disk_quota,
                "disk_watch_interval": o.disk_watch_interval,
            },
            name=AGENT_ACTOR,
        )
        self.node.root.start_child(spec)
        self.client = connect(
            o.zk,
            session_timeout=o.session_timeout,
            credentials=resolve_credentials(o.zk_credentials),
        )
        self.watch = LeaderWatch(self.client, self._on_leader)
        log.info("agent %s listening on %s", self.hostname, self.node.address)
        return self

    def _on_leader(self, leader: LeaderInfo | None) -> None:
        address = f"{leader.address}/{MASTER_ACTOR}" if leader is not None else None
        self.node.ref(AGENT_ACTOR).tell(p.MasterChanged(address))

    def stop(self) -> None:
        if self.watch is not None:
            self.watch.stop()
            self.watch = None
        self.node.shutdown(10)
        if self.client is not None:
            close_quietly(self.client)
            self.client = None


DEFAULT_ROOT_TASK_USER = "nobody"
"""The user of tasks that name none on an agent running as root: root only when asked
for (``--default-user root``), as DC/OS' strict mode runs tasks as ``nobody``."""


def default_task_user(euid: int | None = None) -> str | None:
    """``--default-user``'s default: ``nobody`` for an agent running as root, else None
    (tasks run as the agent's own user, the only one it can run them as)."""
    return DEFAULT_ROOT_TASK_USER if (os.geteuid() if euid is None else euid) == 0 else None


def check_default_user(name: str, euid: int | None = None) -> str:
    """``--default-user NAME`` validated at start (the message names the flag and the
    user): it must exist here, and an agent that is not root can only name itself."""
    from actors.agent import _user

    why = _user.valid_user_name(name)
    if why:
        raise ValueError(f"--default-user: {why}")
    try:
        target = _user.lookup(name)
        problem = _user.switch_problem(target, os.geteuid() if euid is None else euid)
    except _user.UserError as exc:
        raise ValueError(f"--default-user: {exc}") from None
    if problem:
        raise ValueError(f"--default-user: {problem}")
    return target.name


def containerizer_id(work_dir: str) -> str:
    """A stable id of this agent's containers (Docker names and labels), persisted in
    ``<work_dir>/meta/containerizer_id``: the agent id is only known after registration,
    and agents sharing one Docker engine must not recover (or reap) each other's
    containers."""
    import uuid

    from actors.agent._checkpoint import atomic_write_json

    path = Path(work_dir, "meta", "containerizer_id")
    with contextlib.suppress(OSError, ValueError, TypeError):
        text = str(json.loads(path.read_text()))
        if text.isalnum() and 0 < len(text) <= 40:
            return text
    new = uuid.uuid4().hex[:12]
    atomic_write_json(path, new)
    return new


def parse_agent_attributes(text: str) -> Attributes:
    """``zone:a;rack:r1`` (Mesos' --attributes)."""
    return parse_attributes(text) if text else Attributes()
