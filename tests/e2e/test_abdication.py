"""DELETE /marathon/v2/leader cannot keep a cluster in elections: a leader elected less
than --min-leader-tenure ago refuses with 429 and Retry-After (issue 30: until IAM
guards the endpoint, anyone who reaches a master may call it)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import E2ECluster, http_request, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]


def _delete(url: str) -> tuple[int, dict[str, str], dict[str, object]]:
    r = http_request(url, "DELETE", timeout=10)
    return r.status, r.headers, json.loads(r.body or b"{}")


def test_a_new_leader_refuses_to_abdicate_within_its_tenure(cluster: E2ECluster) -> None:
    cluster.add_master("--min-leader-tenure", "3600")
    cluster.add_master("--min-leader-tenure", "3600")
    for m in cluster.masters:
        m.wait_up()
    leader = cluster.serving_leader()
    status, headers, body = _delete(f"{leader.http_url}/marathon/v2/leader")
    assert status == 429, body
    assert "min-leader-tenure" in str(body["message"])
    assert int(headers["retry-after"]) > 3000
    assert cluster.leader() == leader and leader.alive


def test_a_leader_past_its_tenure_abdicates(cluster: E2ECluster) -> None:
    cluster.add_master("--min-leader-tenure", "0")
    cluster.add_master("--min-leader-tenure", "0")
    for m in cluster.masters:
        m.wait_up()
    first = cluster.serving_leader()
    status, _, body = _delete(f"{first.http_url}/marathon/v2/leader")
    assert status == 200 and body["message"] == "Leadership abdicated"
    wait_for(lambda: cluster.leader() != first, timeout=30, what="another master leading")
