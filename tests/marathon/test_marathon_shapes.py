"""Issue 17, items 2-5, through Marathon's REST API (a real master process with the
real ZooKeeper and gateway; simulated agents on its node), as a client sees them:

- health timestamps are wall-clock times (not a monotonic reading shown as 1970),
  ``firstSuccess`` is filled;
- the task JSON has exactly the fields of Marathon's ``EnrichedTask`` (no ``agentId``:
  strict clients build objects from the fields);
- ``PUT /v2/apps/{id}`` is a partial update unless ``partialUpdate=false``, as are
  ``PUT /v2/apps`` (bulk) and group updates;
- service ports are assigned from the range, unique across apps, kept across a
  restart and a config change, and shown as the tasks' ``servicePorts``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.marathon._harness import HealthRunner, SseListener, wait_for
from tests.marathon.test_marathon_api import APPS, Cluster

pytestmark = pytest.mark.zk

# Marathon's docs/docs/rest-api/public/api/v2/types/enrichedTask.raml (EnrichedTask)
# plus ``role`` (Marathon 1.9+), and healthCheck.raml (Health).
ENRICHED_TASK_FIELDS = {
    "appId",
    "healthCheckResults",
    "host",
    "id",
    "ipAddresses",
    "ports",
    "servicePorts",
    "slaveId",
    "state",
    "stagedAt",
    "startedAt",
    "version",
    "localVolumes",
    "role",
}
HEALTH_FIELDS = {
    "alive",
    "consecutiveFailures",
    "firstSuccess",
    "instanceId",
    "lastSuccess",
    "lastFailure",
    "lastFailureCause",
}
HEALTH_CHECK = {
    "protocol": "HTTP",
    "path": "/",
    "portIndex": 0,
    "intervalSeconds": 2,
    "timeoutSeconds": 1,
    "maxConsecutiveFailures": 3,
}


def _app(app_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": app_id, "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1, **extra}


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def cluster(zk_hosts: str, zk_chroot: str) -> Iterator[Cluster]:
    c = Cluster(f"{zk_hosts}{zk_chroot}", agents=2, runner=HealthRunner)
    yield c
    c.stop()


def _deployed(c: Cluster) -> bool:
    return c.no_deployments()


# ------------------------------------------------------------------ task JSON


def test_task_json_has_exactly_marathons_fields(cluster: Cluster) -> None:
    http = cluster.http
    assert http("POST", APPS, _app("shape", healthChecks=[HEALTH_CHECK]))[0] == 201
    wait_for(lambda: cluster.running("/shape", 1), what="running")

    def healthy_task() -> dict[str, Any] | None:
        task = cluster.app("/shape")["tasks"][0]
        return task if task["healthCheckResults"] else None

    task = wait_for(healthy_task, what="a health result")
    for listing in (
        [task],
        http.get(f"{APPS}/shape/tasks")["tasks"],
        http.get("/marathon/v2/tasks")["tasks"],
        http.get(f"{APPS}?embed=apps.tasks")["apps"][0]["tasks"],
    ):
        (t,) = listing
        assert set(t) == ENRICHED_TASK_FIELDS, set(t) ^ ENRICHED_TASK_FIELDS
        assert "agentId" not in t
        (health,) = t["healthCheckResults"]
        assert set(health) == HEALTH_FIELDS, set(health) ^ HEALTH_FIELDS
        assert health["instanceId"] == t["id"] and health["alive"] is True
        assert t["slaveId"] and t["appId"] == "/shape" and t["state"] == "TASK_RUNNING"
        assert [a["protocol"] for a in t["ipAddresses"]] == ["IPv4"]


def test_strict_marathon_client_builds_task_objects() -> None:
    """The public ``marathon`` client maps each JSON field to a constructor argument:
    an extra field (``agentId``) is a TypeError on every task listing."""
    models = pytest.importorskip("marathon.models.task")
    doc: dict[str, Any] = {field: None for field in ENRICHED_TASK_FIELDS}
    doc.update({"healthCheckResults": [dict.fromkeys(HEALTH_FIELDS)], "ipAddresses": []})
    task = models.MarathonTask.from_json(doc)
    assert task.health_check_results[0].alive is None


# ------------------------------------------------------------------ timestamps


def test_health_and_task_timestamps_are_wall_clock_times(cluster: Cluster) -> None:
    """Every timestamp lies between wall-clock readings taken before and after (with a
    second of slack); before the fix ``lastSuccess`` was a monotonic reading (1970-...)
    and ``firstSuccess`` null."""
    http = cluster.http
    events = SseListener(http.base + "/marathon/v2/events")
    try:
        before = time.time()
        assert http("POST", APPS, _app("clock", healthChecks=[HEALTH_CHECK]))[0] == 201

        def health() -> dict[str, Any] | None:
            tasks = cluster.app("/clock")["tasks"]
            results = tasks[0]["healthCheckResults"] if tasks else []
            return results[0] if results else None

        result = wait_for(health, what="a health result")
        wait_for(lambda: "health_status_changed_event" in events.types(), what="health event")
        after = time.time()
        task = cluster.app("/clock")["tasks"][0]
        assert result["firstSuccess"] is not None and result["lastSuccess"] is not None
        stamps = [result["firstSuccess"], result["lastSuccess"], task["stagedAt"]]
        stamps += [task["startedAt"], cluster.app("/clock")["version"]]
        stamps += [event["timestamp"] for _, event in list(events.events)]
        for stamp in stamps:
            assert before - 1.0 <= _seconds(stamp) <= after + 1.0, (stamp, before, after)
        assert _seconds(result["firstSuccess"]) <= _seconds(result["lastSuccess"])
    finally:
        events.close()


# ------------------------------------------------------------------ PUT


def test_put_is_a_partial_update_by_default(cluster: Cluster) -> None:
    http = cluster.http
    status, body, _ = http("POST", APPS, _app("web", instances=1, env={"A": "1"}))
    assert status == 201, body
    wait_for(lambda: cluster.running("/web", 1) and _deployed(cluster), what="deployed")
    version = cluster.app("/web")["versionInfo"]["lastConfigChangeAt"]

    status, body, _ = http("PUT", f"{APPS}/web?force=false", {"instances": 4})
    assert status == 200, body
    wait_for(lambda: cluster.running("/web", 4) and _deployed(cluster), what="scaled to 4")
    app = cluster.app("/web")
    assert app["cmd"] == "sleep 1000" and app["env"] == {"A": "1"}
    assert app["versionInfo"]["lastConfigChangeAt"] == version  # a scale, not a restart

    # partialUpdate=false replaces the whole definition: the body must be a whole app.
    status, body, _ = http("PUT", f"{APPS}/web?partialUpdate=false", {"instances": 2})
    assert status == 422, body
    assert cluster.app("/web")["instances"] == 4
    status, body, _ = http(
        "PUT", f"{APPS}/web?partialUpdate=false", {"cmd": "sleep 2000", "mem": 32, "cpus": 0.1}
    )
    assert status == 200, body
    app = cluster.app("/web")
    assert app["instances"] == 1 and app["env"] == {} and app["cmd"] == "sleep 2000"


def test_bulk_put_and_group_put_are_partial_updates(cluster: Cluster) -> None:
    http = cluster.http
    assert http("POST", APPS, _app("a"))[0] == 201
    assert http("POST", APPS, _app("b", env={"KEEP": "yes"}))[0] == 201
    wait_for(lambda: _deployed(cluster), what="deployed")

    status, body, _ = http("PUT", APPS, [{"id": "/a", "instances": 2}, {"id": "b", "instances": 3}])
    assert status == 200, body
    assert body["deploymentId"]
    assert (cluster.app("/a")["instances"], cluster.app("/b")["instances"]) == (2, 3)
    assert cluster.app("/b")["env"] == {"KEEP": "yes"}
    status, body, _ = http("PUT", APPS, [{"id": "/a", "instances": -1}])
    assert status == 422 and body["details"][0]["path"].startswith("/0/"), body

    assert http("PUT", "/marathon/v2/groups/shop?force=true", {"apps": [_app("cart")]})[0] == 200
    status, body, _ = http(
        "PUT", "/marathon/v2/groups/shop?force=true", {"apps": [{"id": "cart", "instances": 2}]}
    )
    assert status == 200, body
    cart = cluster.app("/shop/cart")
    assert cart["instances"] == 2 and cart["cmd"] == "sleep 1000"


# ------------------------------------------------------------------ service ports


def test_service_ports_are_assigned_unique_and_stable(cluster: Cluster) -> None:
    http = cluster.http

    def ports_of(app_id: str) -> list[int]:
        return [d["port"] for d in cluster.app(app_id)["portDefinitions"]]

    status, body, _ = http(
        "POST", APPS, _app("one", portDefinitions=[{"port": 0}, {"port": 0, "name": "admin"}])
    )
    assert status == 201, body
    assert [d["port"] for d in body["portDefinitions"]] == ports_of("/one")
    assert http("POST", APPS, _app("two"))[0] == 201
    one, two = ports_of("/one"), ports_of("/two")
    assert all(10000 <= port <= 20000 for port in one + two), (one, two)
    assert len(set(one + two)) == 3  # unique across apps

    wait_for(lambda: cluster.running("/one", 1) and _deployed(cluster), what="one running")
    task = cluster.app("/one")["tasks"][0]
    assert task["servicePorts"] == one and len(task["ports"]) == 2

    # A restart keeps them; so does a config change that asks for 0 again.
    assert http("POST", f"{APPS}/one/restart")[0] == 200
    assert ports_of("/one") == one
    wait_for(lambda: cluster.running("/one", 1) and _deployed(cluster), what="restarted")
    status, body, _ = http(
        "PUT",
        f"{APPS}/one",
        {"cmd": "sleep 2000", "portDefinitions": [{"port": 0}, {"port": 0, "name": "admin"}]},
    )
    assert status == 200, body
    assert ports_of("/one") == one
    wait_for(lambda: cluster.running("/one", 1) and _deployed(cluster), what="upgraded")
    assert http("PUT", f"{APPS}/one", {"instances": 2})[0] == 200
    assert ports_of("/one") == one
    wait_for(lambda: cluster.running("/one", 2) and _deployed(cluster), what="scaled")
    assert all(t["servicePorts"] == one for t in cluster.app("/one")["tasks"])
    # Stored: a stored version carries them (a new leader loads these).
    versions = http.get(f"{APPS}/one/versions")["versions"]
    stored = http.get(f"{APPS}/one/versions/{versions[0]}")
    assert [d["port"] for d in stored["portDefinitions"]] == one
