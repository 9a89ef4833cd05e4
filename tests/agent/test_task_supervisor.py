"""One TaskSupervisor actor per task, under the node's ``tasks`` supervisor."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors import protocol as p
from actors.agent import TASKS_SUPERVISOR, Containerizers, ContainerRunner, TaskSupervisor
from actors.resources import Resources
from runtime import Node, SupervisorRef
from tests.agent.conftest import wait_for


class Reports:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, str | None, str, bool | None]] = []
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> None:
        with self._lock:
            self.items.append(args)

    def states(self, task_id: str) -> list[str]:
        with self._lock:
            return [s for t, s, *_ in self.items if t == task_id]


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("agent-test", on_fatal=lambda reason: None)
    yield n
    n.shutdown(10)


def task(task_id: str, command: str) -> p.TaskInfo:
    res = Resources.parse("cpus:0.1;mem:64").to_dict()
    return p.TaskInfo(task_id, task_id, "a1", res, p.CommandSpec(command), kill_grace_period=1.0)


def test_each_task_runs_under_its_own_supervisor_actor(node: Node, tmp_path: Path) -> None:
    runner = ContainerRunner(
        Containerizers(tmp_path, ["mesos"], cgroup_root=f"pydcos-test-{os.getpid()}")
    )
    runner.bind(node)
    reports = Reports()
    runner.launch("fw", task("long", "sleep 30"), reports)
    runner.launch("fw", task("short", "exit 0"), reports)
    tasks = SupervisorRef(node.lookup(TASKS_SUPERVISOR))
    children = tasks.which_children()
    assert sorted(c.id.split("#")[0] for c in children) == ["long", "short"]
    wait_for(lambda: "TASK_FINISHED" in reports.states("short"), what="short finished")
    wait_for(lambda: "TASK_RUNNING" in reports.states("long"), what="long running")
    runner.kill("long", 0.5, reports)
    wait_for(lambda: "TASK_KILLED" in reports.states("long"), what="long killed")
    for tid in ("long", "short"):
        assert sum(s in ("TASK_FINISHED", "TASK_KILLED") for s in reports.states(tid)) == 1
        runner.forget(tid)
    wait_for(lambda: tasks.which_children() == [], what="supervisors gone")


def test_sandbox_gc_removes_forgotten_tasks_sandboxes_only(node: Node, tmp_path: Path) -> None:
    runner = ContainerRunner(
        Containerizers(tmp_path, ["mesos"], cgroup_root=f"pydcos-test-{os.getpid()}"),
        gc_delay=1.0,  # every unused sandbox idle past the floor (60 s) goes
    )
    runner.bind(node)
    reports = Reports()
    runner.launch("fw", task("done", "exit 0"), reports)
    runner.launch("fw", task("busy", "sleep 30"), reports)
    wait_for(lambda: "TASK_FINISHED" in reports.states("done"), what="done finished")
    wait_for(lambda: "TASK_RUNNING" in reports.states("busy"), what="busy running")
    boxes = tmp_path / "sandboxes"
    long_ago = time.time() - 3600
    for tid in ("done", "busy"):
        for path in [*(boxes / tid).iterdir(), boxes / tid]:
            os.utime(path, (long_ago, long_ago))
    gc = runner.collect_garbage()
    assert gc is not None
    gc.join(10)
    assert (boxes / "done").exists()  # finished, but not acknowledged yet: still tracked
    runner.forget("done")
    gc = runner.collect_garbage()
    assert gc is not None
    gc.join(10)
    assert not (boxes / "done").exists() and (boxes / "busy").exists()
    runner.kill("busy", 0.5, reports)
    wait_for(lambda: "TASK_KILLED" in reports.states("busy"), what="busy killed")
    runner.forget("busy")


def test_a_task_supervisor_reports_one_terminal_state_and_nothing_after(node: Node) -> None:
    reports = Reports()

    class FakeHandle:
        state = None

        def kill(self, grace: float | None) -> None:
            pass

    def launch(on_update: Any, on_health: Any) -> FakeHandle:
        on_update("TASK_RUNNING", None, "")
        on_update("TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED", "exited with status 1")
        on_update("TASK_FINISHED", None, "a second terminal state is a bug")
        on_health(type("H", (), {"healthy": True, "message": "late"})())
        return FakeHandle()

    node.spawn(TaskSupervisor, "t", lambda: reports, launch=launch)
    wait_for(lambda: len(reports.items) >= 2, what="reports")
    assert reports.states("t") == ["TASK_RUNNING", "TASK_FAILED"]
