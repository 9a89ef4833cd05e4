"""Master failover with real processes: the leader is SIGKILLed while tasks run."""

from __future__ import annotations

import pytest

from tests.e2e._tasks import Launcher
from tests.e2e.conftest import E2ECluster, native_checkpoints, task_alive, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]

TASKS = ["web-0", "web-1", "web-2", "web-3"]


def test_sigkill_of_the_leading_master_loses_restarts_and_duplicates_no_task(
    cluster: E2ECluster,
) -> None:
    """3 masters, 2 agents (native containerizer), 4 running tasks; SIGKILL the leader.

    Mesos' failover rules (ARCHITECTURE.md, flow 6): the new leader learns the running
    tasks from the re-registering agents, the framework re-subscribes with the same
    framework id, and the task processes themselves never notice."""
    cluster.start(masters=3, agents=2, containerizers="mesos")
    old = cluster.leader()
    old_id = cluster.get("state", old)["id"]
    launcher = Launcher(TASKS, per_offer=2)
    fw = cluster.framework("svc", failover_timeout=300, on_offers=launcher)
    fid = fw.framework_id
    assert fid is not None

    wait_for(
        lambda: all(fw.sched.latest(t) == "TASK_RUNNING" for t in TASKS), 30, "4 tasks RUNNING"
    )
    assert len(set(launcher.placed.values())) == 2, f"tasks not on both agents: {launcher.placed}"
    # The real processes behind the tasks (checkpointed by the agents' native containerizer).
    pids = {}
    for agent in cluster.agents:
        assert agent.work_dir is not None
        for tid, cp in native_checkpoints(agent.work_dir).items():
            assert task_alive(cp), f"{tid} (pid {cp['pid']}) is not running"
            pids[tid] = (agent.name, cp["pid"], cp["start_time"])
    assert sorted(pids) == TASKS
    seen_before = len(fw.sched.updates)

    old.kill9()

    new = cluster.leader(timeout=30)
    assert new is not old
    # Agents re-register with the new leader, and it knows every task as RUNNING.
    state = cluster.wait_agents(2, timeout=30)
    assert state["id"] != old_id and state["hostname"] == new.name
    tasks = wait_for(lambda: (t := cluster.tasks(new)) and len(t) == 4 and t, 20, "4 tasks")
    assert {tid: t["state"] for tid, t in tasks.items()} == dict.fromkeys(TASKS, "TASK_RUNNING")
    assert {tid: t["slave_id"] for tid, t in tasks.items()} == launcher.placed
    assert all(t["framework_id"] == fid for t in tasks.values())

    # The framework re-subscribed to the new leader under the same id.
    wait_for(lambda: fw.driver.master_id == state["id"], 20, "framework re-subscription")
    assert fw.framework_id == fid
    assert ("reregistered", fid, state["id"]) in fw.sched.registrations
    frameworks = [f for f in cluster.get("frameworks", new)["frameworks"] if f["id"] == fid]
    assert [(f["id"], f["active"]) for f in frameworks] == [(fid, True)]

    # Nothing was lost, restarted or duplicated: no new state for any task, same pids.
    after = fw.sched.updates[seen_before:]
    assert [u for u in after if u.state != "TASK_RUNNING"] == [], after
    assert launcher.pending == [], "a task was launched again"
    for agent in cluster.agents:
        assert agent.work_dir is not None
        for tid, cp in native_checkpoints(agent.work_dir).items():
            assert (agent.name, cp["pid"], cp["start_time"]) == pids[tid]
            assert task_alive(cp), f"{tid} (pid {cp['pid']}) died during the failover"
    assert fw.sched.errors == []
