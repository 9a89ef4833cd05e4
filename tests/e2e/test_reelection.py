"""A master re-elected in the same process serves what ZooKeeper holds, not what it had
loaded at its previous election (issue 26: the soak's "lost changes" looked like that).

```
 master-1 leads: create app (v0), job (v0)   -> abdicates
 master-2 leads: PUT app (v1), PUT job (v1)  -> acknowledged, stored, task replaced;
                                                abdicates
 master-1 leads AGAIN, same process           -> serves v1 and v1's task, not its old
                                                term's v0 (nothing kept across terms)
```

The re-elected master loads the v1 deployment's records as the last leader stored them,
whose final write (dropping v0's killed task) was fenced off as it stepped down: two
instances for one wanted. It must not choose the surplus before reconciliation: it used
to kill v1's running task (the youngest) to keep v0's vanished one, then relaunch.

(The soak's loss itself was ZooKeeper's: Debian's 3.8.0 truncated committed
transactions when a member with a short log won an ensemble election, the
ZOOKEEPER-4643/4646 family; every process, old or new, then read the older state.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import E2ECluster, Proc, http_request, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]

APP = "/reelect/web"
JOB = "reelect.job"


def _call(m: Proc, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = None if body is None else json.dumps(body).encode()
    r = http_request(f"{m.http_url}{path}", method, raw, timeout=10)
    return r.status, json.loads(r.body) if r.body else None


def _answered(m: Proc, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """``method path`` once ``m`` answers it: a just-elected leader says 503 ("retry")
    until its leader services have started and adopted their tasks."""

    def ok() -> tuple[int, Any] | None:
        status, got = _call(m, method, path, body)
        return None if status == 503 else (status, got)

    result: tuple[int, Any] = wait_for(ok, timeout=30, what=f"{method} {path} answered")
    return result


def _app(version: str) -> dict[str, Any]:
    return {
        "id": APP,
        "cmd": "sleep 1000",
        "cpus": 0.1,
        "mem": 32,
        "instances": 1,
        "env": {"V": version},
    }


def _job(version: str) -> dict[str, Any]:
    return {
        "id": JOB,
        "description": f"v{version}",
        "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "env": {"V": version}},
    }


def _deployed(m: Proc) -> None:
    """Wait until ``m``'s Marathon has no deployment in progress (the app is running)."""

    def done() -> bool:
        status, body = _call(m, "GET", "/marathon/v2/deployments")
        return status == 200 and body == []

    wait_for(done, timeout=30, what="no deployment in progress")


def _task_ids(m: Proc) -> set[str]:
    status, body = _answered(m, "GET", f"/marathon/v2/apps{APP}/tasks")
    assert status == 200, body
    return {t["id"] for t in body["tasks"]}


def _hand_over(cluster: E2ECluster, leader: Proc) -> Proc:
    """``leader`` abdicates; the other master leads and serves."""
    status, body = _call(leader, "DELETE", "/marathon/v2/leader")
    assert status == 200, body
    wait_for(lambda: cluster.leader() is not leader, timeout=30, what="the other master leading")
    return cluster.serving_leader()


def test_a_reelected_master_serves_the_changes_made_while_it_was_not_leading(
    cluster: E2ECluster,
) -> None:
    cluster.add_master("--min-leader-tenure", "0")
    cluster.add_master("--min-leader-tenure", "0")
    cluster.add_agent()
    for proc in cluster.masters + cluster.agents:
        proc.wait_up()
    cluster.wait_agents(1)
    first = cluster.serving_leader()
    status, body = _call(first, "POST", "/marathon/v2/apps", _app("0"))
    assert status == 201, body
    _deployed(first)
    old_tasks = _task_ids(first)
    status, body = _call(first, "POST", "/service/metronome/v1/jobs", _job("0"))
    assert status == 201, body

    second = _hand_over(cluster, first)
    assert second is not first
    status, body = _answered(second, "PUT", f"/marathon/v2/apps{APP}", _app("1"))
    assert status == 200, body
    _deployed(second)
    new_tasks = _task_ids(second)
    assert new_tasks and not new_tasks & old_tasks  # v1 replaced v0's task
    status, body = _answered(second, "PUT", f"/service/metronome/v1/jobs/{JOB}", _job("1"))
    assert status == 200, body

    again = _hand_over(cluster, second)
    assert again is first and first.alive  # the same process, re-elected

    status, body = _answered(again, "GET", f"/marathon/v2/apps{APP}")
    assert status == 200, body
    assert body["app"]["env"] == {"V": "1"}
    # v1's task, adopted (once reconciled), neither killed as unknown nor replaced.
    wait_for(lambda: _task_ids(again) == new_tasks, timeout=20, what="v1's task adopted")
    status, body = _answered(again, "GET", f"/service/metronome/v1/jobs/{JOB}")
    assert status == 200, body
    assert body["run"]["env"] == {"V": "1"} and body["description"] == "v1"
