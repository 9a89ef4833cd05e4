"""Marathon through its REST API, in one process: a real MasterProcess (real ZooKeeper,
real gateway, real master actor) with MarathonService, and simulated agents on its node.

Each test reads like a user session against Marathon's public API (shapes from
Marathon's REST docs): create, scale, update, restart, delete; 422/409 bodies; events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from actors.marathon import MarathonConfig, MarathonService
from actors.master import MasterConfig, MasterOptions, MasterProcess
from tests.marathon._harness import HealthRunner, Http, SseListener, spawn_agents, wait_for
from transport import Security

pytestmark = pytest.mark.zk

APPS = "/marathon/v2/apps"


class Cluster:
    def __init__(self, zk: str, agents: int, runner: Any = None) -> None:
        self.service = MarathonService(
            MarathonConfig(tick_interval=0.05, decline_refuse_seconds=0.5)
        )
        self.proc = MasterProcess(
            MasterOptions(
                zk=zk,
                security=Security.plain(),
                config=MasterConfig(ping_interval=0.5),
                services=(self.service,),
                min_leader_tenure=0.0,  # test_info_leader_ping_metrics abdicates at once
            )
        ).start()
        assert self.proc.gateway is not None
        self.http = Http(self.proc.gateway.url)
        wait_for(lambda: self.proc._leading.is_set(), what="leadership")
        assert self.proc.context is not None
        kwargs = {"runner": runner} if runner is not None else {}
        self.agents = spawn_agents(
            self.proc.node, self.proc.context.master_address, agents, **kwargs
        )
        wait_for(lambda: self.http.get("/marathon/v2/info")["frameworkId"], what="subscription")

    def app(self, app_id: str) -> dict[str, Any]:
        return self.http.get(f"{APPS}{app_id}")["app"]

    def running(self, app_id: str, n: int, version: str | None = None) -> bool:
        app = self.app(app_id)
        tasks = [t for t in app["tasks"] if t["state"] == "TASK_RUNNING"]
        if version is not None:
            tasks = [t for t in tasks if t["version"] == version]
        return len(tasks) == n and len(app["tasks"]) == n

    def no_deployments(self) -> bool:
        return self.http.get("/marathon/v2/deployments") == []

    def stop(self) -> None:
        for ref in self.agents:
            self.proc.node.stop(ref)
        self.proc.stop()


@pytest.fixture
def cluster(zk_hosts: str, zk_chroot: str) -> Iterator[Cluster]:
    c = Cluster(f"{zk_hosts}{zk_chroot}", agents=3)
    yield c
    c.stop()


def test_app_lifecycle_create_scale_update_restart_delete(cluster: Cluster) -> None:
    http = cluster.http
    status, body, headers = http(
        "POST", APPS, {"id": "web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 2}
    )
    assert status == 201, body
    assert body["id"] == "/web" and body["instances"] == 2
    assert headers["Marathon-Deployment-Id"] == body["deployments"][0]["id"]
    assert headers["Location"].endswith("/v2/apps/web")
    v1 = body["version"]
    wait_for(lambda: cluster.running("/web", 2), what="2 running")
    wait_for(cluster.no_deployments, what="deployment done")
    task = cluster.app("/web")["tasks"][0]
    assert task["ports"] and 31000 <= task["ports"][0] <= 31099
    assert task["host"].startswith("agent") and task["appId"] == "/web"

    # Scale: only instances change, so no restart.
    status, body, headers = http(
        "PUT", f"{APPS}/web", {"cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 4}
    )
    assert status == 200, body
    assert set(body) == {"version", "deploymentId"}
    assert headers["Marathon-Deployment-Version"] == body["version"]
    wait_for(lambda: cluster.running("/web", 4), what="4 running")
    assert {t["version"] for t in cluster.app("/web")["tasks"]} == {v1, body["version"]}

    # Update the command: a rolling restart replaces every instance.
    status, body, _ = http("PATCH", f"{APPS}/web", {"cmd": "sleep 2000"})
    assert status == 200, body
    v3 = body["version"]
    wait_for(lambda: cluster.running("/web", 4, version=v3), what="upgraded")
    wait_for(cluster.no_deployments, what="upgrade done")
    assert cluster.app("/web")["cmd"] == "sleep 2000"

    # Restart: same config, new tasks.
    before = {t["id"] for t in cluster.app("/web")["tasks"]}
    status, body, _ = http("POST", f"{APPS}/web/restart")
    assert status == 200, body
    wait_for(
        lambda: (
            cluster.running("/web", 4)
            and not before & {t["id"] for t in cluster.app("/web")["tasks"]}
        ),
        what="restarted",
    )
    versions = http.get(f"{APPS}/web/versions")["versions"]
    assert len(versions) == 4 and versions[-1] == v1
    old = http.get(f"{APPS}/web/versions/{v1}")
    assert old["cmd"] == "sleep 1000" and old["instances"] == 2

    status, body, _ = http("DELETE", f"{APPS}/web")
    assert status == 200 and body["deploymentId"]
    wait_for(lambda: http("GET", f"{APPS}/web")[0] == 404, what="app gone")
    wait_for(lambda: http.get("/marathon/v2/tasks")["tasks"] == [], what="tasks gone")
    assert http.get(APPS) == {"apps": []}


def test_invalid_requests_get_marathon_shaped_errors_and_change_nothing(
    cluster: Cluster,
) -> None:
    http = cluster.http
    status, body, _ = http(
        "POST", APPS, {"id": "ok", "cmd": "sleep 1", "instances": 1, "cpus": 0.1, "mem": 32}
    )
    assert status == 201
    wait_for(cluster.no_deployments, what="deployed")
    before = http.get(APPS)

    status, body, _ = http("POST", APPS, {"id": "bad", "cmd": "x", "instances": -1})
    assert status == 422
    assert body["message"] == "Object is not valid"
    assert any(d["path"] == "/instances" for d in body["details"]), body

    status, body, _ = http("POST", APPS, raw=b'{"id": "broken", ')
    assert status == 400 and body["message"] == "Invalid JSON"

    status, body, _ = http(
        "POST", APPS, {"id": "c", "cmd": "x", "constraints": [["hostname", "BOGUS"]]}
    )
    assert status == 422 and body["details"][0]["path"].startswith("/constraints")

    status, body, _ = http("POST", APPS, {"id": "t", "cmd": "x", "instances": "three"})
    assert status == 422 and body["details"][0]["path"] == "/instances"

    status, body, _ = http("POST", APPS, {"id": "ok", "cmd": "sleep 1"})
    assert status == 409 and "already exists" in body["message"]

    status, body, _ = http("PUT", f"{APPS}/ok", {"cmd": "sleep 1", "instances": -5})
    assert status == 422

    status, body, _ = http("GET", f"{APPS}/nope")
    assert status == 404 and "does not exist" in body["message"]
    assert http.get(APPS) == before


def test_conflicting_change_gets_409_until_forced_and_stuck_deployment_says_why(
    cluster: Cluster,
) -> None:
    http = cluster.http
    app = {
        "id": "uniq",
        "cmd": "sleep 100",
        "cpus": 0.1,
        "mem": 32,
        "instances": 5,
        "constraints": [["hostname", "UNIQUE"]],
    }
    status, body, headers = http("POST", APPS, app)
    assert status == 201
    dep_id = headers["Marathon-Deployment-Id"]

    def stuck() -> Any:
        deps = http.get("/marathon/v2/deployments?embed=waitingFor")
        return deps and "hostname:UNIQUE" in deps[0]["currentActions"][0]["waitingFor"] and deps

    deps = wait_for(stuck, what="deployment blocked by the constraint")
    assert deps[0]["id"] == dep_id and deps[0]["affectedApps"] == ["/uniq"]
    queue = http.get("/marathon/v2/queue")["queue"]
    assert queue[0]["count"] == 2 and queue[0]["app"]["id"] == "/uniq"
    assert "hostname:UNIQUE" in queue[0]["waitingReason"]
    summary = queue[0]["processedOffersSummary"]
    assert any(r["reason"] == "UnfulfilledConstraint" for r in summary["rejectSummaryLastOffers"])

    status, body, _ = http("PUT", f"{APPS}/uniq", {**app, "id": None, "instances": 3})
    assert status == 409, body
    assert body["message"].startswith("App is locked by one or more deployments.")
    assert body["deployments"] == [{"id": dep_id}]

    status, body, _ = http("PUT", f"{APPS}/uniq?force=true", {**app, "id": None, "instances": 3})
    assert status == 200, body
    wait_for(lambda: cluster.running("/uniq", 3), what="3 running")
    wait_for(cluster.no_deployments, what="forced deployment done")
    hosts = [t["host"] for t in cluster.app("/uniq")["tasks"]]
    assert len(set(hosts)) == 3


def test_cancelling_a_deployment_rolls_the_app_back(cluster: Cluster) -> None:
    http = cluster.http
    app = {
        "id": "roll",
        "cmd": "sleep 100",
        "cpus": 0.1,
        "mem": 32,
        "instances": 2,
        "constraints": [["hostname", "UNIQUE"]],
    }
    assert http("POST", APPS, app)[0] == 201
    wait_for(lambda: cluster.running("/roll", 2), what="2 running")
    wait_for(cluster.no_deployments, what="deployed")
    status, body, _ = http("PUT", f"{APPS}/roll", {**app, "id": None, "instances": 6})
    stuck_id = body["deploymentId"]
    wait_for(lambda: cluster.running("/roll", 3), what="3 of 6 placed")
    status, body, _ = http("DELETE", f"/marathon/v2/deployments/{stuck_id}")
    assert status == 200 and body["deploymentId"] != stuck_id
    wait_for(cluster.no_deployments, what="rollback done")
    assert cluster.app("/roll")["instances"] == 2
    wait_for(lambda: cluster.running("/roll", 2), what="back to 2")

    # Force-cancel: the deployment stops where it is, nothing is rolled back.
    status, body, _ = http("PUT", f"{APPS}/roll", {**app, "id": None, "instances": 6})
    status, _, _ = http("DELETE", f"/marathon/v2/deployments/{body['deploymentId']}?force=true")
    assert status == 202
    assert cluster.no_deployments()
    assert cluster.app("/roll")["instances"] == 6


def test_event_stream_reports_the_deployment(cluster: Cluster) -> None:
    listener = SseListener(cluster.http.base + "/marathon/v2/events")
    try:
        wait_for(lambda: "event_stream_attached" in listener.types(), what="attached")
        status, _, _ = cluster.http(
            "POST", APPS, {"id": "ev", "cmd": "sleep 9", "cpus": 0.1, "mem": 32, "instances": 1}
        )
        assert status == 201
        wanted = {
            "api_post_event",
            "deployment_info",
            "status_update_event",
            "deployment_step_success",
            "deployment_success",
        }
        wait_for(lambda: wanted <= set(listener.types()), what=f"events {wanted}")
        update = next(d for t, d in listener.events if t == "status_update_event")
        assert update["appId"] == "/ev" and update["taskStatus"] == "TASK_RUNNING"
        assert update["eventType"] == "status_update_event" and update["timestamp"]
        cluster.http("DELETE", f"{APPS}/ev")
        wait_for(lambda: "app_terminated_event" in listener.types(), what="terminated")
    finally:
        listener.close()


def test_failing_app_backs_off_and_delete_delay_relaunches_at_once(cluster: Cluster) -> None:
    http = cluster.http
    app = {
        "id": "crash",
        "cmd": "false",
        "cpus": 0.1,
        "mem": 32,
        "instances": 1,
        "backoffSeconds": 60,
        "labels": {"pydcos.simulated.exit": "TASK_FAILED"},
    }
    assert http("POST", APPS, app)[0] == 201

    def delayed() -> Any:
        queue = http.get("/marathon/v2/queue")["queue"]
        return queue and queue[0]["delay"]["timeLeftSeconds"] > 0 and queue[0]

    entry = wait_for(delayed, what="backoff")
    assert entry["delay"]["overdue"] is False and entry["waitingReason"].startswith("backoff")
    failure = http.get(f"{APPS}/crash")["app"]["lastTaskFailure"]
    assert failure["state"] == "TASK_FAILED" and failure["appId"] == "/crash"
    first_task = failure["taskId"]
    status, _, _ = http("DELETE", "/marathon/v2/queue/crash/delay")
    assert status == 204
    # Relaunched at once (not after 60 s): a new task fails, with a new delay.
    wait_for(
        lambda: http.get(f"{APPS}/crash")["app"]["lastTaskFailure"]["taskId"] != first_task,
        timeout=10,
        what="relaunch after the delay was reset",
    )
    assert http("DELETE", "/marathon/v2/queue/nope/delay")[0] == 404


def test_tasks_endpoints_kill_and_scale(cluster: Cluster) -> None:
    http = cluster.http
    assert (
        http(
            "POST", APPS, {"id": "/g/k", "cmd": "sleep 9", "cpus": 0.1, "mem": 32, "instances": 3}
        )[0]
        == 201
    )
    wait_for(lambda: cluster.running("/g/k", 3), what="3 running")
    tasks = http.get("/marathon/v2/tasks")["tasks"]
    assert len(tasks) == 3 and {t["appId"] for t in tasks} == {"/g/k"}
    assert http.get("/marathon/v2/tasks?status=running")["tasks"]
    # Kill one without scaling: it is replaced.
    victim = tasks[0]["id"]
    status, body, _ = http("DELETE", f"{APPS}/g/k/tasks/{victim}")
    assert status == 200 and body["task"]["id"] == victim
    wait_for(
        lambda: (
            cluster.running("/g/k", 3)
            and victim not in {t["id"] for t in cluster.app("/g/k")["tasks"]}
        ),
        what="replaced",
    )
    # Kill one with scale=true: instances goes down.
    victim = cluster.app("/g/k")["tasks"][0]["id"]
    status, body, _ = http("DELETE", f"{APPS}/g/k/tasks/{victim}?scale=true")
    assert status == 200 and "deploymentId" in body
    wait_for(lambda: cluster.running("/g/k", 2), what="scaled to 2")
    assert cluster.app("/g/k")["instances"] == 2
    ids = [t["id"] for t in cluster.app("/g/k")["tasks"]]
    status, body, _ = http("POST", "/marathon/v2/tasks/delete?scale=true", {"ids": ids[:1]})
    assert status == 200, body
    wait_for(lambda: cluster.running("/g/k", 1), what="scaled to 1")
    group = http.get("/marathon/v2/groups/g")
    assert group["id"] == "/g" and group["apps"][0]["id"] == "/g/k"
    root = http.get("/marathon/v2/groups")
    assert root["groups"][0]["id"] == "/g"
    apps = http.get(f"{APPS}?embed=apps.tasks&embed=apps.counts")["apps"]
    assert apps[0]["tasksRunning"] == 1 and len(apps[0]["tasks"]) == 1


def test_groups_deploy_in_dependency_order_and_delete(cluster: Cluster) -> None:
    http = cluster.http
    group = {
        "id": "/shop",
        "apps": [
            {"id": "db", "cmd": "sleep 9", "cpus": 0.1, "mem": 32, "instances": 1},
            {
                "id": "web",
                "cmd": "sleep 9",
                "cpus": 0.1,
                "mem": 32,
                "instances": 2,
                "dependencies": ["/shop/db"],
            },
        ],
    }
    status, body, _ = http("POST", "/marathon/v2/groups", group)
    assert status == 201, body
    dep = http.get("/marathon/v2/deployments")
    if dep:
        assert dep[0]["totalSteps"] == 2
    wait_for(
        lambda: cluster.running("/shop/web", 2) and cluster.running("/shop/db", 1),
        what="group running",
    )
    assert http("POST", "/marathon/v2/groups", group)[0] == 409
    status, body, _ = http("DELETE", "/marathon/v2/groups/shop")
    assert status == 200, body
    wait_for(lambda: http.get("/marathon/v2/tasks")["tasks"] == [], what="group stopped")
    assert http("GET", "/marathon/v2/groups/shop")[0] == 404


def test_unhealthy_instance_killed_by_the_agent_is_replaced(zk_hosts: str, zk_chroot: str) -> None:
    runners: list[HealthRunner] = []

    def make() -> HealthRunner:
        runners.append(HealthRunner())
        return runners[-1]

    c = Cluster(f"{zk_hosts}{zk_chroot}", agents=1, runner=make)
    try:
        runners[0].sick["/hc"] = 1  # the first instance fails its health checks
        app = {
            "id": "hc",
            "cmd": "sleep 9",
            "cpus": 0.1,
            "mem": 32,
            "instances": 1,
            "backoffSeconds": 0.1,
            "healthChecks": [
                {
                    "protocol": "HTTP",
                    "path": "/",
                    "portIndex": 0,
                    "intervalSeconds": 2,
                    "timeoutSeconds": 1,
                    "maxConsecutiveFailures": 3,
                }
            ],
        }
        listener = SseListener(c.http.base + "/marathon/v2/events")
        assert c.http("POST", APPS, app)[0] == 201

        def healthy() -> bool:
            a = c.app("/hc")
            return a["tasksHealthy"] == 1 and a["tasksRunning"] == 1

        wait_for(healthy, what="a healthy replacement")
        a = c.app("/hc")
        assert a["lastTaskFailure"]["state"] == "TASK_KILLED"
        assert a["tasks"][0]["healthCheckResults"][0]["alive"] is True
        wait_for(
            lambda: (
                {"health_status_changed_event", "unhealthy_instance_kill_event"}
                <= set(listener.types())
            ),
            what="health events",
        )
        wait_for(c.no_deployments, what="deployment done")
        listener.close()
    finally:
        c.stop()


def test_info_leader_ping_metrics(cluster: Cluster) -> None:
    http = cluster.http
    info = http.get("/marathon/v2/info")
    assert info["name"] == "marathon" and info["elected"] is True
    assert info["marathon_config"]["failover_timeout"] == 604800
    leader = http.get("/marathon/v2/leader")["leader"]
    assert cluster.http.base.endswith(leader)
    status, body, _ = http("GET", "/marathon/ping")
    assert status == 200 and body == "pong"
    metrics = http.get("/marathon/metrics")
    assert "marathon.apps.active.gauge" in metrics["gauges"]
    assert isinstance(metrics["counters"], dict)
    election = cluster.proc.election
    assert election is not None
    term = election.term
    status, body, _ = http("DELETE", "/marathon/v2/leader")
    assert status == 200 and body["message"] == "Leadership abdicated"
    # Sole master: it is re-elected (a new term), and Marathon comes back with the same
    # framework id.
    wait_for(lambda: election.term > term, what="a new term")
    wait_for(lambda: http("GET", "/marathon/v2/info")[0] == 200, what="re-elected")
    again = wait_for(lambda: http.get("/marathon/v2/info")["frameworkId"], what="re-subscribed")
    assert again == info["frameworkId"]


def test_a_corrupt_root_group_in_zookeeper_is_skipped_and_apps_come_back_from_versions(
    zk_hosts: str, zk_chroot: str, zk_client: Any
) -> None:
    """Corrupt or foreign data in ZooKeeper is reported and skipped, never fatal: a new
    leader whose stored root group is garbage rebuilds it from each app's versions."""
    first = Cluster(f"{zk_hosts}{zk_chroot}", agents=1)
    try:
        status, body, _ = first.http(
            "POST", APPS, {"id": "/keep", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32}
        )
        assert status == 201, body
        wait_for(lambda: first.running("/keep", 1), what="running")
    finally:
        first.stop()
    root_path = "/marathon/docs/root"
    assert zk_client.exists(root_path), "layout changed: where is the root group stored?"
    zk_client.set(root_path, b"\x00\xffnot a pydcos document")
    zk_client.create("/marathon/docs/versions/foreign", b'{"not": "ours"}', makepath=True)
    second = Cluster(f"{zk_hosts}{zk_chroot}", agents=1)
    try:
        app = wait_for(lambda: second.app("/keep"), what="the app after the reload")
        assert app["cmd"] == "sleep 1000"
        assert second.http.get("/marathon/ping") is not None
    finally:
        second.stop()
