"""Pods in the core on a manual clock: deployments, task groups, member updates, kills,
rolling upgrades, the queue's reasons, failover (no ZooKeeper, HTTP or threads)."""

from __future__ import annotations

from typing import Any

from actors import protocol as p
from actors.marathon._messages import Launch, Reconcile

from ._core_kit import Sim, killed, launched, of


def pod(pod_id: str = "/duo", instances: int = 1, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": pod_id,
        "scaling": {"kind": "fixed", "instances": instances},
        "volumes": [{"name": "shared"}],
        "containers": [
            {
                "name": "writer",
                "resources": {"cpus": 0.25, "mem": 32},
                "exec": {"command": {"shell": "echo hi > data/x; sleep 1000"}},
                "volumeMounts": [{"name": "shared", "mountPath": "data"}],
            },
            {
                "name": "web",
                "resources": {"cpus": 0.5, "mem": 64},
                "exec": {"command": {"shell": "sleep 1000"}},
                "endpoints": [{"name": "http", "hostPort": 0}],
                "volumeMounts": [{"name": "shared", "mountPath": "data", "readOnly": True}],
            },
        ],
    }
    doc.update(over)
    return doc


def started(sim: Sim, body: dict[str, Any] | None = None) -> tuple[Sim, list[p.TaskInfo]]:
    sim.subscribe()
    reply = sim.api("create_pod", body=body or pod())
    assert reply.status == 201, reply.body
    tasks = launched(sim.offers(sim.offer()))
    return sim, tasks


def run(sim: Sim, tasks: list[p.TaskInfo], healthy: bool | None = None) -> None:
    for t in tasks:
        sim.update(t.task_id, "TASK_RUNNING", healthy)


def test_create_launches_one_task_group_with_split_resources() -> None:
    sim, tasks = started(Sim())
    assert [t.task_id.rsplit(".", 1)[1] for t in tasks] == ["writer", "web"]
    group = {t.group_id for t in tasks}
    assert len(group) == 1 and next(iter(group)).startswith("duo.instance-")
    assert all(t.task_id.startswith(t.group_id + ".") for t in tasks)
    assert tasks[0].resources["cpus"] == 0.25 and tasks[1].resources["cpus"] == 0.5
    assert "ports" not in tasks[0].resources and len(tasks[1].resources["ports"]) == 1
    port = tasks[1].resources["ports"][0][0]
    assert tasks[0].command is not None and tasks[0].command.env["ENDPOINT_HTTP"] == str(port)
    assert tasks[1].discovery is not None and tasks[1].discovery.ports[0].name == "http"
    vols = [(v.container_path, v.host_path, v.mode) for t in tasks for v in t.container.volumes]  # type: ignore[union-attr]
    assert vols == [("data", "volumes/shared", "RW"), ("data", "volumes/shared", "RO")]
    # One instance record for the whole group, keyed by the group (instance) id.
    assert sim.tasks("/duo") == [tasks[0].group_id]


def test_member_updates_make_the_instance_running_then_stable() -> None:
    sim, tasks = started(Sim())
    sim.update(tasks[0].task_id, "TASK_RUNNING")
    inst = sim.core.instances[tasks[0].group_id]
    assert inst.state == "TASK_STAGING"  # one member still staging
    status = sim.api("pod_status", "/duo").body
    assert status["status"] == "DEGRADED"
    assert status["instances"][0]["status"] == "STAGING"
    sim.update(tasks[1].task_id, "TASK_RUNNING")
    assert inst.state == "TASK_RUNNING"
    status = sim.api("pod_status", "/duo").body
    assert status["status"] == "STABLE" and status["id"] == "/duo"
    doc = status["instances"][0]
    assert doc["status"] == "STABLE" and doc["id"] == tasks[0].group_id
    assert [c["status"] for c in doc["containers"]] == ["TASK_RUNNING", "TASK_RUNNING"]
    assert [c["containerId"] for c in doc["containers"]] == [t.task_id for t in tasks]
    assert doc["containers"][1]["endpoints"][0]["name"] == "http"
    assert doc["resources"]["cpus"] == 0.75 and status["spec"]["id"] == "/duo"
    assert not sim.core.runs  # the deployment finished


def test_a_failed_member_replaces_the_whole_instance() -> None:
    sim, tasks = started(Sim())
    run(sim, tasks)
    old = tasks[0].group_id
    sim.update(tasks[1].task_id, "TASK_FAILED")
    assert old not in sim.core.instances
    assert sim.core.last_failure["/duo"]["state"] == "TASK_FAILED"
    history = sim.api("pod_status", "/duo").body["terminationHistory"]
    assert [h["instanceID"] for h in history] == [old]
    assert "TASK_FAILED" in history[0]["message"] and history[0]["terminatedAt"]
    # The sibling's own KILLED (the agent kills the group) is acknowledged, not a new failure.
    effects = sim.update(tasks[0].task_id, "TASK_KILLED")
    assert not killed(effects)
    sim.tick(5)  # backoff (1 s) over
    again = launched(sim.offers(sim.offer()))
    assert len(again) == 2 and again[0].group_id != old


def test_kill_of_a_pod_instance_kills_every_member_and_it_is_replaced() -> None:
    sim, tasks = started(Sim())
    run(sim, tasks)
    instance = tasks[0].group_id
    effects = sim.request("kill_pod_instances", "/duo", instance_id=instance)
    assert sorted(killed(effects)) == sorted(t.task_id for t in tasks)
    for t in tasks:
        sim.update(t.task_id, "TASK_KILLED")
    assert instance not in sim.core.instances
    assert len(launched(sim.offers(sim.offer()))) == 2


def test_scale_is_not_an_upgrade_and_update_rolls() -> None:
    sim, tasks = started(Sim())
    run(sim, tasks)
    first = sim.api("get_pod", "/duo").body
    scaled = dict(first, scaling={"kind": "fixed", "instances": 2})
    assert sim.api("put_pod", "/duo", scaled).status == 200
    more = launched(sim.offers(sim.offer()))
    assert len(more) == 2
    run(sim, more)
    assert len(sim.tasks("/duo")) == 2 and not sim.core.runs
    kept = set(sim.tasks("/duo"))
    # A config change restarts every instance (rolling: new first, then old killed).
    changed = dict(scaled, labels={"tier": "web"})
    assert sim.api("put_pod", "/duo", changed).status == 200
    new = launched(sim.offers(sim.offer(res="cpus:8;mem:8192;ports:[31000-31009]")))
    assert len(new) == 4 and all(t.labels["tier"] == "web" for t in new)
    gone: list[str] = []
    for t in new:
        gone.extend(killed(sim.update(t.task_id, "TASK_RUNNING")))
    # Each old instance is killed as a whole: every member of it.
    assert sorted({g.rsplit(".", 1)[0] for g in gone}) == sorted(kept)
    assert len(gone) == 2 * len(kept)
    for task_id in gone:
        sim.update(task_id, "TASK_KILLED")
    assert not (set(sim.tasks("/duo")) & kept) and len(sim.tasks("/duo")) == 2
    assert not sim.core.runs
    versions = sim.api("pod_versions", "/duo").body
    assert len(versions) == 3


def test_delete_kills_and_removes_the_pod() -> None:
    sim, tasks = started(Sim())
    run(sim, tasks)
    effects = sim.request("delete_pod", "/duo")
    reply = next(e.reply for e in effects if hasattr(e, "reply"))
    assert reply.status == 202 and reply.headers["Marathon-Deployment-Id"]
    assert sorted(killed(effects)) == sorted(t.task_id for t in tasks)
    for t in tasks:
        sim.update(t.task_id, "TASK_KILLED")
    assert sim.api("get_pod", "/duo").status == 404
    assert sim.api("list_pods").body == []
    assert not sim.core.runs


def test_groups_list_pods_and_apps_do_not() -> None:
    sim, _ = started(Sim())
    group = sim.api("get_group", "/").body
    assert [x["id"] for x in group["pods"]] == ["/duo"] and group["apps"] == []
    assert sim.api("list_apps").body == {"apps": []}
    assert sim.api("get_app", "/duo").status == 404
    assert sim.api("list_tasks").body == {"tasks": []}  # pod instances are not app tasks


def test_a_pod_too_big_for_every_agent_says_why_it_waits() -> None:
    sim = Sim()
    sim.subscribe()
    big = pod()
    big["containers"][1]["resources"]["cpus"] = 8
    assert sim.api("create_pod", body=big).status == 201
    assert launched(sim.offers(sim.offer())) == []
    queue = sim.api("queue").body["queue"]
    assert queue[0]["pod"]["id"] == "/duo"
    assert "cpus" in queue[0]["waitingReason"]
    deployment = sim.api("deployments", embed=["waitingFor"]).body[0]
    assert deployment["affectedPods"] == ["/duo"] and deployment["affectedApps"] == []
    action = deployment["currentActions"][0]
    assert (action["action"], action["pod"]) == ("StartPod", "/duo")
    waiting = action["waitingFor"]
    assert "cpus" in waiting


def test_health_aggregates_over_checked_members() -> None:
    body = pod()
    body["containers"][1]["healthCheck"] = {"http": {"endpoint": "http", "path": "/"}}
    sim, tasks = started(Sim(), body)
    assert (
        tasks[1].health_checks
        and tasks[1].health_checks[0].port == (tasks[1].resources["ports"][0][0])
    )
    run(sim, tasks)
    inst = sim.core.instances[tasks[0].group_id]
    assert inst.healthy is None and sim.core.runs  # waits for health
    sim.update(tasks[1].task_id, "TASK_RUNNING", healthy=True)
    assert inst.healthy is True and not sim.core.runs
    assert sim.api("pod_status", "/duo").body["status"] == "STABLE"


def test_failover_reloads_pods_and_reconciles_members() -> None:
    sim, tasks = started(Sim())
    run(sim, tasks)
    stored: dict[str, Any] = {}
    from actors.marathon._messages import PersistRoot, PersistVersions

    for e in sim.stored:
        if isinstance(e, PersistRoot):
            stored["root"] = e.root
        elif isinstance(e, PersistVersions):
            stored.setdefault("versions", {})[e.app_id] = e.versions
    stored["instances"] = dict(sim.instances)
    stored["framework_id"] = "fw-1"
    new = Sim(data=stored)
    assert new.api("get_pod", "/duo").status in (200, 503)
    effects = new.subscribe()
    asked = [e.task_ids for e in of(Reconcile, effects) if e.task_ids]
    assert sorted(asked[0]) == sorted(t.task_id for t in tasks)
    for t in tasks:
        new.update(t.task_id, "TASK_RUNNING")
    assert new.api("pod_status", "/duo").body["status"] == "STABLE"
    assert not of(Launch, new.offers(new.offer()))


def test_placement_constraints_apply_to_whole_instances() -> None:
    sim = Sim()
    sim.subscribe()
    body = pod(instances=2)
    body["scheduling"] = {"placement": {"constraints": [["hostname", "UNIQUE"]]}}
    assert sim.api("create_pod", body=body).status == 201
    first = launched(sim.offers(sim.offer("agent1", "cpus:8;mem:8192;ports:[31000-31009]")))
    assert len(first) == 2  # one instance (two members): UNIQUE keeps the 2nd off agent1
    assert len(launched(sim.offers(sim.offer("agent1")))) == 0
    second = launched(sim.offers(sim.offer("agent2")))
    assert len(second) == 2 and {t.agent_id for t in second} == {"id-agent2"}
    assert first[0].group_id != second[0].group_id


def test_backoff_delays_the_replacement_of_a_failing_pod() -> None:
    sim, tasks = started(Sim())
    run(sim, tasks)
    sim.update(tasks[0].task_id, "TASK_FAILED")
    assert launched(sim.offers(sim.offer())) == []  # within the backoff (1 s)
    assert "backoff" in sim.api("queue").body["queue"][0]["waitingReason"]
    sim.tick(2)
    assert len(launched(sim.offers(sim.offer()))) == 2
