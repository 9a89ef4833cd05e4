"""The agent actor's checkpoints and recovery (Mesos' ``--recover=reconnect``), in process.

An ``AgentActor`` on a real ``Node`` talks to a fake master actor that records every
message; a restart is "stop the actor, spawn a new one on the same work dir". The pure
join of checkpoints and recovered containers (``plan_recovery``) is tested row by row.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from actors import protocol as p
from actors.agent import (
    AgentActor,
    Containerizers,
    ContainerRunner,
    GetAgentState,
    GetUsage,
    RecoveredTask,
    StoredTask,
    TaskStore,
    checkpoint_dir,
    plan_recovery,
)
from actors.resources import Resources
from runtime import ActorRef, Node
from tests._wait import wait_for as _shared_wait_for
from tests.agent.conftest import RecordingMaster as FakeMaster
from tests.agent.conftest import acking

MASTER = "tcp://h:1/master"
AGENT = "tcp://h:1/agent"
FW = "fw-1"


wait_for = functools.partial(_shared_wait_for, retry_errors=False)
"""The suite's one wait_for (tests/_wait.py); a poll that raises fails at once here."""

# ------------------------------------------------------------------------------ fakes


class FakeRunner:
    """A runner whose tasks "outlive the agent": ``recovered`` is what recover() finds."""

    name = "fake"
    checkpoints = True

    def __init__(self, recovered: list[RecoveredTask] | None = None) -> None:
        self.recovered = recovered or []
        self.launched: list[str] = []
        self.killed: list[str] = []
        self.forgotten: list[str] = []
        self.report: Any = None

    def launch(self, framework_id: str, task: p.TaskInfo, report: Any) -> None:
        self.report = report
        self.launched.append(task.task_id)

    def kill(self, task_id: str, grace: float | None, report: Any) -> None:
        self.killed.append(task_id)

    def recover(self, report: Any) -> list[RecoveredTask]:
        self.report = report
        return self.recovered

    def forget(self, task_id: str) -> None:
        self.forgotten.append(task_id)

    def usage(self) -> dict[str, dict[str, Any]]:
        return {}


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("test")
    yield n
    n.shutdown(timeout=5)


class Harness:
    def __init__(self, node: Node, work_dir: Path | None) -> None:
        self.node = node
        self.work_dir = work_dir
        self.log: list[Any] = []
        node.spawn(FakeMaster, self.log, name="master")
        self.agent: ActorRef | None = None

    def start_agent(self, runner: Any) -> ActorRef:
        self.agent = self.node.spawn(
            AgentActor,
            hostname="h",
            address=AGENT,
            resources=Resources.parse("cpus:4;mem:4096;ports:[31000-31100]"),
            runner=runner,
            master=MASTER,
            work_dir=str(self.work_dir) if self.work_dir else None,
            resolve=lambda address: self.node.ref(address.rsplit("/", 1)[1]),
            update_retry_interval=60.0,  # resends only when a test asks for them
            register_retry_interval=0.2,
            name="agent",
        )
        wait_for(lambda: self.state()["registered"], 5, "registration")
        return self.agent

    def stop_agent(self) -> None:
        assert self.agent is not None
        assert self.node.stop(self.agent, 5)
        self.agent = None

    def state(self) -> Any:
        assert self.agent is not None
        return self.agent.ask(GetAgentState(), timeout=5)

    def run(self, task: p.TaskInfo) -> None:
        assert self.agent is not None
        self.agent.tell(p.RunTask(FW, "tcp://fw:1/fw", task))

    def updates(self, task_id: str | None = None) -> list[p.StatusUpdate]:
        return [
            m
            for m in list(self.log)
            if isinstance(m, p.StatusUpdate) and task_id in (None, m.task_id)
        ]

    def wait_update(self, task_id: str, state: str, timeout: float = 10.0) -> p.StatusUpdate:
        def find() -> p.StatusUpdate | None:
            return next((u for u in self.updates(task_id) if u.state == state), None)

        return wait_for(find, timeout, f"{task_id} {state}")

    def ack(self, u: p.StatusUpdate) -> None:
        assert self.agent is not None
        self.agent.tell(p.StatusUpdateAck(u.framework_id, u.agent_id, u.task_id, u.uuid))

    def reregistrations(self) -> list[p.ReregisterAgent]:
        return [m for m in list(self.log) if isinstance(m, p.ReregisterAgent)]


def info(task_id: str, command: str = "sleep 600", mem: float = 32.0, **kw: Any) -> p.TaskInfo:
    return p.TaskInfo(
        task_id,
        task_id,
        "agent-1",
        Resources.parse(f"cpus:0.1;mem:{mem:g}").to_dict(),
        p.CommandSpec(command),
        kill_grace_period=0.5,
        **kw,
    )


# ------------------------------------------------------------------------------ the plan


def stored(tid: str, state: str, pending: int = 0) -> StoredTask:
    ups = tuple(p.StatusUpdate(FW, tid, "agent-1", state, f"u{i}", 0.0) for i in range(pending))
    return StoredTask(FW, info(tid), state, ups)


def rec(tid: str, running: bool, state: str | None = None, msg: str = "") -> RecoveredTask:
    return RecoveredTask(tid, running, None, state, None if running else "R", msg)


@pytest.mark.parametrize(
    ("agent", "containers", "resume", "enqueue", "forget", "orphans"),
    [
        # a live task reattached: nothing new to say
        ([stored("t", "TASK_RUNNING")], [rec("t", True, "TASK_RUNNING")], ["t"], None, [], []),
        # reattached but RUNNING was never queued (killed between launch and report)
        (
            [stored("t", "TASK_STARTING")],
            [rec("t", True, "TASK_RUNNING", "reattached")],
            ["t"],
            ("TASK_RUNNING", None, "reattached"),
            [],
            [],
        ),
        # ended while the agent was away: its real end is queued
        (
            [stored("t", "TASK_RUNNING", 1)],
            [rec("t", False, "TASK_FAILED", "exited with status 3")],
            ["t"],
            ("TASK_FAILED", "R", "exited with status 3"),
            [],
            [],
        ),
        # no container was ever checkpointed: failed, saying why
        (
            [stored("t", "TASK_STAGING")],
            [],
            ["t"],
            ("TASK_FAILED", "REASON_EXECUTOR_TERMINATED", "no container was checkpointed"),
            [],
            [],
        ),
        # terminal with unacknowledged updates: kept for resending, nothing added
        (
            [stored("t", "TASK_FINISHED", 2)],
            [rec("t", False, "TASK_FINISHED")],
            ["t"],
            None,
            [],
            [],
        ),
        # terminal and fully acknowledged: forgotten
        ([stored("t", "TASK_FINISHED")], [rec("t", False, "TASK_FINISHED")], [], None, ["t"], []),
        # a container nobody checkpointed: killed; an ended one: forgotten
        (
            [],
            [rec("x", True, "TASK_RUNNING"), rec("y", False, "TASK_KILLED")],
            [],
            None,
            ["y"],
            ["x"],
        ),
    ],
)
def test_plan_recovery_joins_checkpoints_with_recovered_containers(
    agent: list[StoredTask],
    containers: list[RecoveredTask],
    resume: list[str],
    enqueue: tuple[str, str | None, str] | None,
    forget: list[str],
    orphans: list[str],
) -> None:
    plan = plan_recovery(agent, containers)
    assert [r.stored.info.task_id for r in plan.resume] == resume
    if enqueue is None:
        assert all(r.enqueue is None for r in plan.resume)
    else:
        (got,) = [r.enqueue for r in plan.resume]
        assert got is not None
        assert got[:2] == enqueue[:2] and enqueue[2] in got[2], got
    assert list(plan.forget) == forget
    assert list(plan.orphans) == orphans


def test_task_store_round_trips_the_wire_records(tmp_path: Path) -> None:
    store = TaskStore(tmp_path)
    t = StoredTask(
        FW,
        info("a/b c", labels={"k": "v"}, health_checks=[p.HealthCheckInfo(protocol="TCP")]),
        "TASK_RUNNING",
        (p.StatusUpdate(FW, "a/b c", "agent-1", "TASK_RUNNING", "u1", 1.5, healthy=True),),
    )
    store.save(t)
    assert store.load() == [t]
    (tmp_path / "meta" / "streams" / "junk.json").write_text("{not json")
    assert store.load() == [t]  # an unreadable file is skipped, not fatal
    store.remove("a/b c")
    assert store.load() == []


# ------------------------------------------------------------------------------ the actor


def test_tasks_and_pending_updates_are_checkpointed_until_acknowledged(
    node: Node, tmp_path: Path
) -> None:
    """Persist the task BEFORE launching it and each update BEFORE sending it; drop an
    update once acknowledged; forget a terminal, fully acknowledged task."""
    h = Harness(node, tmp_path)
    runner = FakeRunner()
    h.start_agent(runner)
    store = TaskStore(tmp_path)
    h.run(info("t1"))
    wait_for(lambda: runner.launched == ["t1"], 5, "launch")
    (s,) = store.load()
    assert (s.info.task_id, s.state, s.updates) == ("t1", "TASK_STAGING", ())

    runner.report("t1", "TASK_RUNNING", None, "running", None)
    running = h.wait_update("t1", "TASK_RUNNING")
    assert [u.uuid for u in store.load()[0].updates] == [running.uuid]
    runner.report("t1", "TASK_FINISHED", None, "exited with status 0", None)
    wait_for(lambda: len(store.load()[0].updates) == 2, 5, "FINISHED checkpointed")

    h.ack(running)
    finished = h.wait_update("t1", "TASK_FINISHED")
    wait_for(lambda: [u.uuid for u in store.load()[0].updates] == [finished.uuid], 5, "ack")
    h.ack(finished)
    wait_for(lambda: store.load() == [] and runner.forgotten == ["t1"], 5, "forgotten")
    assert h.state()["tasks"] == {}


def test_no_work_dir_means_no_checkpoints_and_no_recovery(node: Node, tmp_path: Path) -> None:
    """The scale bench runs 1,000 simulated agents without a work dir: nothing touches
    the disk and recover() is never asked."""
    h = Harness(node, None)
    runner = FakeRunner([rec("ghost", True, "TASK_RUNNING")])
    runner.recover = None  # type: ignore[assignment]  # would raise if called
    h.start_agent(runner)
    h.run(info("t1"))
    wait_for(lambda: runner.launched == ["t1"], 5, "launch")
    runner.report("t1", "TASK_RUNNING", None, "", None)
    h.wait_update("t1", "TASK_RUNNING")
    assert h.reregistrations() == []
    assert list(tmp_path.iterdir()) == []


def test_restarted_agent_reregisters_recovered_tasks_and_resends_unacknowledged_updates(
    node: Node, tmp_path: Path
) -> None:
    """Three tasks when the agent dies: one keeps running (its RUNNING unacknowledged),
    one exits while the agent is away, one was being launched. The new agent keeps its
    id, re-registers the first two, resends the pending RUNNING (same uuid), reports the
    real end of the second and fails the third with a reason; nothing is relaunched."""
    h = Harness(node, tmp_path)
    r1 = FakeRunner()
    h.start_agent(r1)
    for tid in ("keep", "dies", "limbo"):
        h.run(info(tid))
    wait_for(lambda: len(r1.launched) == 3, 5, "launches")
    r1.report("keep", "TASK_RUNNING", None, "running", None)
    r1.report("dies", "TASK_RUNNING", None, "running", None)
    pending = h.wait_update("keep", "TASK_RUNNING")
    h.ack(h.wait_update("dies", "TASK_RUNNING"))
    wait_for(lambda: h.state()["pending_updates"] == 1, 5, "one update pending")
    h.stop_agent()
    h.log.clear()

    r2 = FakeRunner(
        [
            RecoveredTask("keep", True, object(), "TASK_RUNNING", None, "reattached"),
            RecoveredTask(
                "dies",
                False,
                None,
                "TASK_FAILED",
                "REASON_COMMAND_EXECUTOR_FAILED",
                "exited with status 3 while the agent was down",
            ),
        ]
    )
    h.start_agent(r2)
    (rereg,) = h.reregistrations()
    assert rereg.agent_id == "agent-1"
    assert {t.task.task_id: t.state for t in rereg.tasks} == {
        "keep": "TASK_RUNNING",
        "dies": "TASK_FAILED",
        "limbo": "TASK_FAILED",
    }
    again = h.wait_update("keep", "TASK_RUNNING")
    assert again.uuid == pending.uuid
    dead = h.wait_update("dies", "TASK_FAILED")
    assert (dead.reason, dead.message) == (
        "REASON_COMMAND_EXECUTOR_FAILED",
        "exited with status 3 while the agent was down",
    )
    limbo = h.wait_update("limbo", "TASK_FAILED")
    assert limbo.reason == "REASON_EXECUTOR_TERMINATED" and "launched" in limbo.message
    assert r2.launched == [] and r2.killed == []
    assert all(u.state != "TASK_LOST" for u in h.updates())

    for u in (again, dead, limbo):
        h.ack(u)
    wait_for(lambda: h.state()["tasks"] == {"keep": "TASK_RUNNING"}, 5, "acks drained")
    assert sorted(r2.forgotten) == ["dies", "limbo"]
    assert [s.info.task_id for s in TaskStore(tmp_path).load()] == ["keep"]


# ------------------------------------------------------------------------------ real tasks


@pytest.fixture
def cgroup_root() -> str:
    return f"pydcos-test-{os.getpid()}"


def container_runner(work_dir: Path, cgroup_root: str) -> ContainerRunner:
    # Docker named but with no engine behind it: the agent runs native tasks only.
    return ContainerRunner(
        Containerizers(
            work_dir,
            ["mesos", "docker"],
            docker_url="unix:///nonexistent/docker.sock",
            cgroup_root=cgroup_root,
        )
    )


def test_bad_tasks_fail_with_what_and_why_and_the_agent_carries_on(
    node: Node, tmp_path: Path, cgroup_root: str
) -> None:
    """A command that does not exist, memory below the minimum and a DOCKER task on an
    agent whose engine is unreachable each end with a message that says what and why;
    the next good task runs."""
    h = Harness(node, tmp_path)
    runner = container_runner(tmp_path, cgroup_root)
    assert runner.containerizers.available() == ["mesos"]
    h.start_agent(runner)
    with acking(h.updates, lambda: h.agent):
        _bad_tasks(h)


def _bad_tasks(h: Harness) -> None:
    h.run(info("nocmd", "/no/such/command --flag"))
    h.run(info("tiny", mem=8))
    h.run(info("docker", container=p.ContainerInfo(type="DOCKER", docker=p.DockerInfo("busybox"))))
    h.run(info("good", "exit 0"))

    nocmd = h.wait_update("nocmd", "TASK_FAILED", 20)
    assert "status 127" in nocmd.message and "not found" in nocmd.message, nocmd
    tiny = h.wait_update("tiny", "TASK_ERROR")
    assert tiny.reason == "REASON_TASK_INVALID"
    assert "mem 8 MB is below the minimum of 32 MB" in tiny.message
    docker = h.wait_update("docker", "TASK_FAILED")
    assert docker.reason == "REASON_CONTAINER_LAUNCH_FAILED"
    assert "cannot launch DOCKER task" in docker.message and "unreachable" in docker.message
    assert h.state()["registered"]
    h.wait_update("good", "TASK_FINISHED", 20)
    wait_for(lambda: h.state()["tasks"] == {}, 10, "every task acknowledged and forgotten")


def test_a_native_task_survives_an_agent_restart_and_reports_usage(
    node: Node, tmp_path: Path, cgroup_root: str
) -> None:
    """Stop the agent actor, build a new runner and agent on the same work dir (a new
    agent process would): the same pid is reattached (not restarted), re-registered as
    RUNNING, its usage read from its cgroup; killing it afterwards works."""
    h = Harness(node, tmp_path)
    h.start_agent(container_runner(tmp_path, cgroup_root))
    with acking(h.updates, lambda: h.agent):
        h.run(info("svc", "sleep 600", mem=64))
        h.wait_update("svc", "TASK_RUNNING", 20)
        pid = int(_cp(tmp_path, "svc")["pid"])
        started = psutil.Process(pid).create_time()
        usage = wait_for(lambda: h.agent and h.agent.ask(GetUsage(), timeout=5), 5, "usage")
        assert set(usage) == {"svc"}
        u = usage["svc"]
        assert u["mem_limit_bytes"] == 64 * 2**20 and u["cpus_limit"] == 0.1
        assert u["mem_bytes"] > 0 and u["cpu_time_s"] >= 0.0

        wait_for(lambda: h.state()["pending_updates"] == 0, 5, "updates acknowledged")
        h.stop_agent()
        h.log.clear()
        h.start_agent(container_runner(tmp_path, cgroup_root))
        (rereg,) = h.reregistrations()
        assert [(t.task.task_id, t.state) for t in rereg.tasks] == [("svc", "TASK_RUNNING")]
        assert psutil.Process(pid).create_time() == started  # the same process
        assert h.updates() == []  # nothing new to say about it

        assert h.agent is not None
        h.agent.tell(p.KillTask(FW, "svc", 0.2))
        h.wait_update("svc", "TASK_KILLED", 20)
        wait_for(lambda: h.state()["tasks"] == {}, 10, "killed task forgotten")
        assert not (checkpoint_dir(tmp_path) / "svc.json").exists()


def _cp(work_dir: Path, task_id: str) -> dict[str, Any]:
    import json

    return dict(json.loads((checkpoint_dir(work_dir) / f"{task_id}.json").read_text()))


def test_an_agent_actor_restarted_in_process_takes_over_the_runners_tasks(
    node: Node, tmp_path: Path, cgroup_root: str
) -> None:
    """The supervisor restarts a crashed agent actor with the same runner: recover()
    answers from the handles the runner holds (no second watcher per task) and the
    task's later updates reach the new actor."""
    h = Harness(node, tmp_path)
    runner = container_runner(tmp_path, cgroup_root)
    h.start_agent(runner)
    with acking(h.updates, lambda: h.agent):
        h.run(info("svc", "sleep 600"))
        h.wait_update("svc", "TASK_RUNNING", 20)
        wait_for(lambda: h.state()["pending_updates"] == 0, 5, "updates acknowledged")
        handle = runner.handles["svc"]
        h.stop_agent()
        h.log.clear()
        h.start_agent(runner)
        (rereg,) = h.reregistrations()
        assert [(t.task.task_id, t.state) for t in rereg.tasks] == [("svc", "TASK_RUNNING")]
        assert runner.handles == {"svc": handle}
        assert h.agent is not None
        h.agent.tell(p.KillTask(FW, "svc", 0.2))
        h.wait_update("svc", "TASK_KILLED", 20)
        wait_for(lambda: h.state()["tasks"] == {} and runner.handles == {}, 10, "forgotten")
