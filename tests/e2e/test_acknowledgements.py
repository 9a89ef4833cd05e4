"""Status update acknowledgements end to end, across three processes."""

from __future__ import annotations

from typing import Any

import pytest

from actors.agent import GetAgentState
from tests.e2e._tasks import Launcher, task
from tests.e2e.conftest import E2ECluster, Framework, Proc, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]


def agent_state(fw: Framework, agent: Proc) -> Any:
    """Ask the agent actor itself, over the wire, what it still holds."""
    return fw.handle.node.ref(f"{agent.address}/agent").ask(GetAgentState(), timeout=5)


def test_an_unacknowledged_update_comes_again_and_a_double_acknowledgement_is_harmless(
    cluster: E2ECluster,
) -> None:
    """Mesos' status update manager: the agent resends the head of a task's update stream
    (same uuid) until the framework acknowledges it, and only then sends the next one.
    Acknowledging twice is not an error: the second one is simply stale."""
    cluster.start(masters=1, agents=1)
    agent = cluster.agents[0]
    launcher = Launcher(
        ["batch-0"], make=lambda tid, aid: task(tid, aid, "true", exit_state="TASK_FINISHED")
    )
    fw = cluster.framework("lazy", auto_acknowledge=False, on_offers=launcher)

    # RUNNING arrives, is not acknowledged, and arrives again with the same uuid;
    # FINISHED is held back behind it.
    wait_for(lambda: len(fw.sched.of("batch-0")) >= 2, 20, "RUNNING resent")
    first, again = fw.sched.of("batch-0")[:2]
    assert (first.state, again.state) == ("TASK_RUNNING", "TASK_RUNNING")
    assert first.uuid and again.uuid == first.uuid
    assert "TASK_FINISHED" not in fw.sched.states("batch-0")
    assert agent_state(fw, agent)["pending_updates"] == 2

    fw.driver.acknowledge(first)
    fw.driver.acknowledge(first)  # the same acknowledgement twice

    wait_for(lambda: "TASK_FINISHED" in fw.sched.states("batch-0"), 20, "FINISHED after the ack")
    finished = next(u for u in fw.sched.of("batch-0") if u.state == "TASK_FINISHED")
    assert finished.uuid != first.uuid
    fw.driver.acknowledge(finished)
    fw.driver.acknowledge(finished)
    fw.driver.acknowledge(first)  # long stale by now

    # The agent forgot the finished, fully acknowledged task; the master carried on.
    wait_for(lambda: agent_state(fw, agent)["tasks"] == {}, 20, "the agent to drain the stream")
    assert agent_state(fw, agent)["pending_updates"] == 0
    assert cluster.tasks()["batch-0"]["state"] == "TASK_FINISHED"
    assert fw.sched.errors == []
    assert cluster.leader().alive and agent.alive
