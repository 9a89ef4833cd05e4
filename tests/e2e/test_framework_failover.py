"""A scheduler goes away and a new instance takes over its framework id."""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from tests.e2e._tasks import Launcher, task
from tests.e2e.conftest import E2ECluster, Framework, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]


def reconciliation(fw: Framework, since: int) -> dict[str, p.StatusUpdate]:
    """Reconciliation answers received after update number ``since``, by task id."""
    return {
        u.task_id: u
        for u in fw.sched.updates[since:]
        if u.reason == "REASON_RECONCILIATION" and not u.uuid
    }


def ours(cluster: E2ECluster, fid: str | None) -> list[dict[str, Any]]:
    """This test's framework in /mesos/master/frameworks (Marathon and Metronome, which
    every master runs, are there too)."""
    return [f for f in cluster.get("frameworks")["frameworks"] if f["id"] == fid]


def test_framework_failover_within_its_timeout_keeps_its_tasks_and_reconciliation_reports_them(
    cluster: E2ECluster,
) -> None:
    """Mesos: a disconnected framework keeps its tasks for ``failover_timeout``; a new
    scheduler subscribing with the same framework id takes them over. Explicit
    reconciliation answers for the named tasks (TASK_UNKNOWN for one the master never
    saw), implicit reconciliation for every live task of the framework."""
    cluster.start(masters=1, agents=1)
    ids = ["svc-0", "svc-1", "job-0"]

    def make(tid: str, agent_id: str) -> p.TaskInfo:
        return task(tid, agent_id, exit_state="TASK_FINISHED" if tid == "job-0" else None)

    first = cluster.framework("svc", failover_timeout=120, on_offers=Launcher(ids, 3, make))
    fid = first.framework_id
    assert fid is not None
    wait_for(
        lambda: (
            [first.sched.latest(t) for t in ids]
            == ["TASK_RUNNING", "TASK_RUNNING", "TASK_FINISHED"]
        ),
        20,
        "two running tasks and one finished",
    )

    first.close()  # the scheduler process goes away without tearing down
    wait_for(
        lambda: [f["active"] for f in ours(cluster, fid)] == [False],
        20,
        "the master to see the framework disconnected",
    )
    assert {t: s["state"] for t, s in cluster.tasks().items()} == {
        "svc-0": "TASK_RUNNING",
        "svc-1": "TASK_RUNNING",
        "job-0": "TASK_FINISHED",
    }

    second = cluster.framework("svc", failover_timeout=120, framework_id=fid)
    assert second.framework_id == fid
    assert [r[0] for r in second.sched.registrations] == ["reregistered"]
    frameworks = ours(cluster, fid)
    assert [(f["id"], f["active"]) for f in frameworks] == [(fid, True)]
    assert sorted(t["id"] for t in frameworks[0]["tasks"]) == ["svc-0", "svc-1"]

    mark = len(second.sched.updates)
    second.driver.reconcile(["svc-0", "job-0", "never-launched"])
    answers = wait_for(
        lambda: (r := reconciliation(second, mark)) and len(r) == 3 and r,
        20,
        "explicit reconciliation",
    )
    assert {t: u.state for t, u in answers.items()} == {
        "svc-0": "TASK_RUNNING",
        "job-0": "TASK_FINISHED",
        "never-launched": "TASK_UNKNOWN",
    }
    assert all(u.source == "SOURCE_MASTER" for u in answers.values())

    mark = len(second.sched.updates)
    second.driver.reconcile()
    answers = wait_for(
        lambda: (r := reconciliation(second, mark)) and len(r) == 2 and r,
        20,
        "implicit reconciliation",
    )
    assert {t: u.state for t, u in answers.items()} == {
        "svc-0": "TASK_RUNNING",
        "svc-1": "TASK_RUNNING",
    }
    assert second.sched.errors == []
    # The new scheduler can still act on the tasks it inherited.
    second.driver.kill("svc-1")
    wait_for(lambda: second.sched.latest("svc-1") == "TASK_KILLED", 20, "svc-1 killed")
    assert cluster.tasks()["svc-0"]["state"] == "TASK_RUNNING"


def test_a_framework_that_does_not_come_back_within_its_failover_timeout_loses_its_tasks(
    cluster: E2ECluster,
) -> None:
    """The other side of the rule: past ``failover_timeout`` the master removes the
    framework and kills its tasks (Mesos' framework removal, REASON_FRAMEWORK_REMOVED)."""
    cluster.start(masters=1, agents=1)
    fw = cluster.framework("short", failover_timeout=1.0, on_offers=Launcher(["t-0"]))
    wait_for(lambda: fw.sched.latest("t-0") == "TASK_RUNNING", 20, "RUNNING")
    fid = fw.framework_id
    fw.close()
    wait_for(lambda: ours(cluster, fid) == [], 20, "framework removed")
    assert cluster.tasks()["t-0"]["state"] == "TASK_KILLED"
