"""A minimal placing framework for the runtime's cluster-actor tests (no masters, no
agents): it speaks the real records to real ``python -m runtime.worker`` processes it
starts itself, so the script API and the worker are tested over the real transport
without the cluster. The real framework is ``actors.cluster_actors`` (issue 27, A2).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import itertools
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any

from runtime import Actor, Node
from runtime._actor_records import (
    FRAMEWORK_ACTOR,
    ActorEvent,
    ActorInfo,
    ActorList,
    CheckpointSaved,
    GetActor,
    GetWorkingDir,
    KillActor,
    ListActors,
    OwnerGone,
    PutWorkingDir,
    RegisterWorker,
    SaveCheckpoint,
    SpawnActor,
    StopWorker,
    WaitActor,
    WatchActors,
    WorkerAssignment,
    WorkerFailed,
    WorkerReady,
)
from runtime._cluster_actors import ActorsMixin
from runtime.errors import ActorNotFound, DuplicateName
from transport import Security


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


@dataclasses.dataclass
class _Actor:
    info: ActorInfo
    request: SpawnActor
    proc: subprocess.Popen[bytes] | None = None
    control: str = ""
    checkpoint: bytes | None = None
    killed: bool = False


class MiniFramework(Actor):
    def __init__(self, address: Callable[[], str]) -> None:
        super().__init__()
        self._address = address
        self.actors: dict[str, _Actor] = {}
        self.code: dict[str, bytes] = {}
        self.watchers: dict[str, set[str]] = {}
        self.ids = itertools.count(1)
        self.warm: list[tuple[str, int]] = []  # (control address, pid) of idle warm workers
        self.warm_procs: list[subprocess.Popen[bytes]] = []
        self.lock = threading.Lock()

    # -- helpers -------------------------------------------------------------------------

    def _set(self, a: _Actor, **changes: Any) -> None:
        a.info = dataclasses.replace(a.info, **changes)
        for sub in self.watchers.get(a.info.actor_id, ()):
            self.node.ref(sub).tell(ActorEvent(a.info))

    def _launch(self, a: _Actor) -> None:
        argv = [
            sys.executable,
            "-m",
            "runtime.worker",
            "--framework",
            self._address(),
            "--actor-id",
            a.info.actor_id,
            "--incarnation",
            str(a.info.incarnation),
            "--insecure-dev",
        ]
        sandbox = tempfile.mkdtemp(prefix=f"mini-{a.info.actor_id}-")
        a.proc = subprocess.Popen(argv, cwd=sandbox, preexec_fn=_die_with_parent)
        proc = a.proc
        threading.Thread(target=self._reap, args=(a, proc), daemon=True).start()

    def start_warm(self) -> subprocess.Popen[bytes]:
        """A warm worker (``--actor-id ""``): it registers and waits for any actor."""
        argv = [sys.executable, "-m", "runtime.worker", "--framework", self._address(),
                "--actor-id", "", "--insecure-dev"]  # fmt: skip
        sandbox = tempfile.mkdtemp(prefix="mini-warm-")
        proc = subprocess.Popen(argv, cwd=sandbox, preexec_fn=_die_with_parent)
        self.warm_procs.append(proc)
        return proc

    def _reap(self, a: _Actor, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        self.ref.tell(("exited", a.info.actor_id, proc.pid, code))

    # -- messages ------------------------------------------------------------------------

    def receive(self, m: Any) -> Any:
        t = type(m)
        if t is SpawnActor:
            for a in self.actors.values():
                if m.name and a.info.name == m.name and a.info.state not in ("STOPPED", "FAILED"):
                    if m.get_if_exists:
                        return a.info
                    raise DuplicateName(f"an actor named {m.name!r} exists")
            actor_id = f"a{next(self.ids)}"
            info = ActorInfo(
                actor_id=actor_id,
                name=m.name,
                namespace=m.namespace,
                class_name=m.spec.class_name,
                methods=m.spec.methods,
                async_methods=m.spec.async_methods,
                state="STARTING",
                incarnation=1,
                max_restarts=m.spec.max_restarts,
                restart=m.spec.restart,
                lifetime=m.lifetime,
                owner=m.owner,
                cpus=m.spec.cpus,
                mem=m.spec.mem,
            )
            a = self.actors[actor_id] = _Actor(info, m)
            if self.warm:  # hand it to a warm worker: no process start
                a.control, pid = self.warm.pop(0)
                a.proc = next(p for p in self.warm_procs if p.pid == pid)
                self.node.ref(a.control).tell(
                    WorkerAssignment(actor_id, 1, m.spec, m.name, m.namespace, None, 4096)
                )
                threading.Thread(target=self._reap, args=(a, a.proc), daemon=True).start()
            else:
                self._launch(a)
            return info
        if t is RegisterWorker and m.actor_id == "":
            self.warm.append((m.control, m.pid))
            return None
        if t is RegisterWorker:
            found = self.actors.get(m.actor_id)
            if found is None or found.info.incarnation != m.incarnation or found.killed:
                self.node.ref(m.control).tell(StopWorker(m.actor_id, "unknown"))
                return None
            a = found
            a.control = m.control
            r = a.request
            self.node.ref(m.control).tell(
                WorkerAssignment(
                    m.actor_id, m.incarnation, r.spec, r.name, r.namespace, a.checkpoint, 4096
                )
            )
            return None
        if t is WorkerReady:
            a = self.actors[m.actor_id]
            self._set(a, state="RUNNING", address=m.address)
            return None
        if t is WorkerFailed:
            a = self.actors[m.actor_id]
            a.killed = True
            self._set(a, state="FAILED", message=m.message, address="")
            return None
        if t is WaitActor:
            return self._get(m.actor_id).info
        if t is GetActor:
            if m.actor_id:
                return self._get(m.actor_id).info
            for a in self.actors.values():
                if a.info.name == m.name and a.info.state not in ("STOPPED", "FAILED"):
                    return a.info
            raise ActorNotFound(f"no actor named {m.name!r}")
        if t is KillActor:
            a = self._get(m.actor_id)
            self._stop_worker(a, "killed")
            return a.info
        if t is ListActors:
            return ActorList([a.info for a in self.actors.values()])
        if t is WatchActors:
            for i in m.actor_ids:
                self.watchers.setdefault(i, set()).add(m.subscriber)
                if i in self.actors:
                    self.node.ref(m.subscriber).tell(ActorEvent(self.actors[i].info))
            return None
        if t is OwnerGone:
            for a in list(self.actors.values()):
                if a.info.owner == m.owner and a.info.lifetime == "owned":
                    self._stop_worker(a, "owner gone")
            return None
        if t is SaveCheckpoint:
            a = self._get(m.actor_id)
            if len(m.data) > 4096:
                raise ValueError(f"checkpoint of {len(m.data)} bytes > 4096")
            a.checkpoint = m.data
            return CheckpointSaved(m.actor_id, m.seq, len(m.data))
        if t is PutWorkingDir:
            self.code[m.sha256] = m.data
            return m.sha256
        if t is GetWorkingDir:
            return self.code[m.sha256]
        if t is tuple and m[0] == "exited":
            _, actor_id, pid, code = m
            a = self.actors[actor_id]
            if a.proc is None or a.proc.pid != pid or a.killed:
                return None
            if a.info.restarts >= a.info.max_restarts != -1:
                self._set(a, state="FAILED", address="", message=f"exit {code}, no restarts left")
                return None
            reason = "REASON_CONTAINER_LIMITATION_MEMORY" if code == -signal.SIGKILL else ""
            self._set(
                a, state="RESTARTING", address="", message=f"worker exited ({code})", reason=reason
            )
            self._set(a, incarnation=a.info.incarnation + 1, restarts=a.info.restarts + 1)
            self._launch(a)
            return None
        return None

    def _get(self, actor_id: str) -> _Actor:
        a = self.actors.get(actor_id)
        if a is None:
            raise ActorNotFound(f"no actor {actor_id!r}")
        return a

    def _stop_worker(self, a: _Actor, why: str) -> None:
        a.killed = True
        if a.control:
            self.node.ref(a.control).tell(StopWorker(a.info.actor_id, why))
        if a.proc is not None:
            with contextlib.suppress(Exception):
                a.proc.kill()
        self._set(a, state="STOPPED", address="", message=why)

    def stop_all(self) -> None:
        for proc in self.warm_procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        for a in self.actors.values():
            a.killed = True
            if a.proc is not None and a.proc.poll() is None:
                a.proc.kill()
                a.proc.wait(5)


class MiniCluster(ActorsMixin):
    """A script's side bound to the MiniFramework (what ``connect()`` gives for real)."""

    def __init__(self, fw_node: Node) -> None:
        self.node = Node("script")
        self.node.listen(None, security=Security.plain())
        self._fw = f"{fw_node.address}/{FRAMEWORK_ACTOR}"

    def actor(self, name: str, timeout: float = 10.0) -> Any:
        return self.node.ref(self._fw.rsplit("/", 1)[0] + "/" + name)

    def on_leader_change(self, callback: Callable[[str | None], None]) -> None:
        callback(self._fw.rsplit("/", 1)[0])

    def close(self) -> None:
        self._close_actors()
        self.node.shutdown(2)


def start_framework() -> tuple[Node, Any]:
    node = Node("fw")
    address = node.listen("tcp://127.0.0.1:0", security=Security.plain())
    ref = node.spawn(MiniFramework, lambda: f"{address}/{FRAMEWORK_ACTOR}", name=FRAMEWORK_ACTOR)
    return node, ref
