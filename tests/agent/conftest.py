"""Fixtures: a private dockerd (session), a work dir, helpers that poll with deadlines."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from actors import protocol as p
from actors.agent import CGROUP_ROOT, DockerDaemon, DockerDaemonError, NativeContainerizer
from runtime import Actor, ActorRef
from tests._wait import wait_for as _shared_wait_for

CGROUP_PREFIX = "pydcos-test-"
"""Native tests run their tasks under the cgroup root ``pydcos-test-<pytest pid>``."""


@pytest.fixture(scope="session", autouse=True)
def _remove_test_cgroups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Leave no ``/sys/fs/cgroup/*/pydcos-test-<pid>`` behind: remove this session's root
    (and any task cgroup under it) at the end, and empty roots of dead sessions now."""
    for d in CGROUP_ROOT.glob(f"*/{CGROUP_PREFIX}*"):
        pid = d.name[len(CGROUP_PREFIX) :]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            with contextlib.suppress(OSError):
                d.rmdir()  # only if empty: a dead session's live tasks are not ours to kill
    for d in CGROUP_ROOT.glob(f"{CGROUP_PREFIX}*"):  # cgroup v2: one hierarchy
        pid = d.name[len(CGROUP_PREFIX) :]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            with contextlib.suppress(OSError):
                d.rmdir()
    yield
    work_dir = tmp_path_factory.mktemp("cgroup-cleanup")
    native = NativeContainerizer(work_dir, cgroup_root=f"{CGROUP_PREFIX}{os.getpid()}")
    native.remove_cgroup_root(kill_tasks=True)


_DOCKERD: dict[str, Any] = {"users": 0}


def acquire_dockerd() -> DockerDaemon:
    """The session's one private dockerd (with the busybox test image), shared by every
    fixture that wants it (tests/agent, tests/e2e); skips, saying why, if it cannot start.
    Pair with ``release_dockerd()``: the last release stops it by PID."""
    if "error" in _DOCKERD:
        pytest.skip(str(_DOCKERD["error"]))
    if "daemon" not in _DOCKERD:
        d = DockerDaemon()
        try:
            d.start()
            d.build_test_image()
        except (DockerDaemonError, Exception) as e:
            d.stop()
            _DOCKERD["error"] = (
                f"dockerd could not start: {e}\n--- dockerd log tail ---\n{d.log_tail()}"
            )
            print(_DOCKERD["error"], file=sys.stderr)
            pytest.skip(str(_DOCKERD["error"]))
        _DOCKERD["daemon"] = d
    _DOCKERD["users"] += 1
    daemon: DockerDaemon = _DOCKERD["daemon"]
    return daemon


def release_dockerd() -> None:
    _DOCKERD["users"] -= 1
    if _DOCKERD["users"] <= 0 and "daemon" in _DOCKERD:
        _DOCKERD.pop("daemon").stop()


@pytest.fixture(scope="session")
def dockerd() -> Iterator[DockerDaemon]:
    """The real Docker engine on a private socket with the busybox test image built."""
    d = acquire_dockerd()
    try:
        yield d
    finally:
        release_dockerd()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path


wait_for = functools.partial(_shared_wait_for, retry_errors=False)
"""The suite's one wait_for (tests/_wait.py); a poll that raises fails at once here."""


class RecordingMaster(Actor):
    """A master for agent tests: records what the agent says and admits every
    (re-)registration as agent ``agent-1`` (spawn it as ``master`` on the agent's node)."""

    def __init__(self, log: list[Any]) -> None:
        super().__init__()
        self.log = log

    def receive(self, message: Any) -> Any:
        self.log.append(message)
        if isinstance(message, p.RegisterAgent | p.ReregisterAgent):
            self.node.ref("agent").tell(p.AgentRegistered("agent-1", "master-1", 1.0))
        return None


@contextlib.contextmanager
def acking(
    updates: Callable[[], Iterable[p.StatusUpdate]], agent: Callable[[], ActorRef | None]
) -> Iterator[None]:
    """A framework that acknowledges every status update ``updates()`` lists, to the
    agent ``agent()`` names now (a restarted agent is a new actor)."""
    stop = threading.Event()

    def run() -> None:
        acked: set[str] = set()
        while not stop.is_set():
            for u in list(updates()):
                target = agent()
                if u.uuid not in acked and target is not None:
                    acked.add(u.uuid)
                    target.tell(p.StatusUpdateAck(u.framework_id, u.agent_id, u.task_id, u.uuid))
            stop.wait(0.02)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(2)
