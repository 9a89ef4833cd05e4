"""An agent process dies (SIGKILL) and comes back."""

from __future__ import annotations

import pytest

from tests.e2e._tasks import Launcher
from tests.e2e.conftest import E2ECluster, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]


def test_sigkilled_agent_tasks_become_unreachable_and_the_restarted_agent_reregisters(
    cluster: E2ECluster,
) -> None:
    """Mesos: an agent that misses ``max_agent_ping_timeouts`` pings is unreachable, its
    tasks are reported TASK_UNREACHABLE and the framework hears ``agent_lost``. Restarted
    on the same work dir it keeps its agent id and re-registers; tasks it no longer runs
    are then TASK_LOST (the simulated containerizer has no processes to recover), and the
    other agent's tasks are untouched throughout."""
    cluster.start(masters=1, agents=2)
    ids = ["a-0", "a-1", "b-0"]
    launcher = Launcher(ids, per_offer=2)
    fw = cluster.framework("svc", on_offers=launcher)
    wait_for(lambda: all(fw.sched.latest(t) == "TASK_RUNNING" for t in ids), 20, "RUNNING")
    agent_ids = {a["hostname"]: a["id"] for a in cluster.get("slaves")["slaves"]}
    victim_id = launcher.placed["a-0"]
    victim = next(a for a in cluster.agents if agent_ids[a.name] == victim_id)
    on_victim = sorted(t for t, a in launcher.placed.items() if a == victim_id)
    elsewhere = sorted(t for t in ids if t not in on_victim)
    assert on_victim == ["a-0", "a-1"] and elsewhere == ["b-0"]

    victim.kill9()

    wait_for(
        lambda: all(fw.sched.latest(t) in ("TASK_UNREACHABLE", "TASK_LOST") for t in on_victim),
        20,
        "the dead agent's tasks reported unreachable",
    )
    for t in on_victim:
        u = fw.sched.of(t)[-1]
        assert u.agent_id == victim_id and u.source == "SOURCE_MASTER"
        assert u.reason == "REASON_AGENT_DISCONNECTED", u
        assert "unreachable" in u.message, u
    wait_for(lambda: victim_id in fw.sched.lost_agents, 10, "agent_lost")
    state = cluster.get("state")
    assert (state["activated_slaves"], state["unreachable_slaves"]) == (1, 1)
    assert fw.sched.states("b-0") == ["TASK_RUNNING"]
    assert cluster.tasks()["b-0"]["state"] == "TASK_RUNNING"

    cluster.restart(victim)

    state = cluster.wait_agents(2, timeout=20)
    assert state["unreachable_slaves"] == 0
    assert sorted(a["id"] for a in state["slaves"]) == sorted(agent_ids.values()), (
        "the restarted agent did not keep its id"
    )
    wait_for(
        lambda: all(fw.sched.latest(t) == "TASK_LOST" for t in on_victim),
        20,
        "tasks the restarted agent does not have reported LOST",
    )
    tasks = cluster.tasks()
    assert {t: tasks[t]["state"] for t in ids} == {
        "a-0": "TASK_LOST",
        "a-1": "TASK_LOST",
        "b-0": "TASK_RUNNING",
    }
    assert fw.sched.states("b-0") == ["TASK_RUNNING"]
    assert fw.sched.errors == []
