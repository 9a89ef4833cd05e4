"""MarathonCore with readiness checks, on a manual clock: a new instance counts for its
deployment step only once RUNNING, healthy (with health checks) AND ready; a rolling
upgrade kills an old instance only for a ready new one; checks are serial (the next
``intervalSeconds`` after an answer), stop once ready, and start again from scratch
on a new leader (nothing about readiness is stored, as Marathon)."""

from __future__ import annotations

from typing import Any

from actors.marathon._messages import CheckReadiness, ReadinessResult
from tests.marathon._core_kit import FID, Sim, app, events, killed, launched, of

CHECK = {"path": "/ready", "intervalSeconds": 5, "timeoutSeconds": 2}
PORTS = [{"port": 0, "name": "http-api"}]
HEALTH = [{"protocol": "COMMAND", "command": {"value": "true"}}]


def ready_app(**over: Any) -> dict[str, Any]:
    doc = app(portDefinitions=PORTS, readinessChecks=[dict(CHECK)])
    doc.update(over)
    return doc


def checks(effects: list[Any]) -> list[CheckReadiness]:
    return of(CheckReadiness, effects)


def answer(sim: Sim, check: CheckReadiness, status: int, **kw: Any) -> list[Any]:
    return sim.feed(ReadinessResult(check.task_id, check.seq, status, **kw))


def deployment_action(sim: Sim) -> dict[str, Any]:
    deployments = sim.api("deployments", embed=["waitingFor"]).body
    assert len(deployments) == 1, deployments
    actions: list[dict[str, Any]] = deployments[0]["currentActions"]
    assert len(actions) == 1
    return actions[0]


def started(sim: Sim, **over: Any) -> tuple[Sim, list[str]]:
    """An app of ``instances`` whose first deployment finished (every task ready)."""
    sim.subscribe()
    sim.api("create_app", body=ready_app(**over))
    tasks = [t.task_id for t in launched(sim.offers(sim.offer()))]
    for task_id in tasks:
        healthy = True if over.get("healthChecks") else None
        for check in checks(sim.update(task_id, "TASK_RUNNING", healthy)):
            answer(sim, check, 200)
    assert sim.core.runs == {}, "the start deployment is over"
    return sim, tasks


# ------------------------------------------------------------------ start / scale


def test_a_start_waits_for_readiness_and_checks_serially() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=ready_app())
    [task] = launched(sim.offers(sim.offer()))
    port = sim.core.instances[task.task_id].ports[0]
    [first] = checks(sim.update(task.task_id, "TASK_RUNNING"))
    assert first.url == f"http://agent1:{port}/ready" and first.timeout == 2.0
    assert checks(sim.tick(1.0)) == [], "one request at a time"
    answer(sim, first, 503, content_type="text/plain", body="warming up")
    action = deployment_action(sim)
    assert action["readinessCheckResults"] == [
        {"name": "readinessCheck", "taskId": task.task_id, "ready": False}
    ], "no lastResponse unless preserveLastResponse"
    assert "1 instance(s) waiting for readiness check 'readinessCheck'" in action["waitingFor"]
    assert "503" in action["waitingFor"]
    assert checks(sim.tick(4.0)) == [], "the next check comes intervalSeconds after the answer"
    [second] = checks(sim.tick(1.0))
    assert second.seq > first.seq
    out = answer(sim, second, 200)
    assert "deployment_success" in events(out) and sim.core.runs == {}
    assert checks(sim.tick(30.0)) == [], "a ready instance is never checked again"


def test_any_listed_status_is_ready_and_the_last_response_is_kept_on_request() -> None:
    sim = Sim()
    sim.subscribe()
    check = dict(CHECK, httpStatusCodesForReady=[204, 200], preserveLastResponse=True)
    sim.api("create_app", body=ready_app(instances=2, readinessChecks=[check]))
    tasks = [t.task_id for t in launched(sim.offers(sim.offer()))]
    first = checks(sim.update(tasks[0], "TASK_RUNNING"))[0]
    second = checks(sim.update(tasks[1], "TASK_RUNNING"))[0]
    answer(sim, first, 204, content_type="text/plain", body="")
    answer(sim, second, 0, error="ConnectionRefusedError: [Errno 111] Connection refused")
    results = {r["taskId"]: r for r in deployment_action(sim)["readinessCheckResults"]}
    assert results[tasks[0]]["ready"] is True
    assert results[tasks[0]]["lastResponse"] == {
        "status": 204,
        "contentType": "text/plain",
        "body": "",
    }
    failed = results[tasks[1]]
    assert failed["ready"] is False and failed["lastResponse"]["status"] == 504
    assert failed["lastResponse"]["body"].startswith(f"Marathon could not query {second.url}")
    assert sim.core.runs, "one instance is not ready yet"
    embedded = sim.api("get_app", "/web", embed=["app.readiness"]).body["app"]
    assert len(embedded["readinessCheckResults"]) == 2
    [again] = checks(sim.tick(5.0))
    assert "deployment_success" in events(answer(sim, again, 200))


def test_a_lost_or_stale_answer_changes_nothing_and_the_check_is_retried() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=ready_app())
    [task] = launched(sim.offers(sim.offer()))
    [first] = checks(sim.update(task.task_id, "TASK_RUNNING"))
    assert checks(sim.tick(6.0)) == [], "still awaited within timeout + grace"
    [retry] = checks(sim.tick(1.5))
    assert retry.seq != first.seq
    answer(sim, first, 200)  # the late answer to the lost request
    assert sim.core.runs, "a stale answer does not make the instance ready"
    assert "deployment_success" in events(answer(sim, retry, 200))


def test_a_scale_checks_only_the_new_instances() -> None:
    sim, old = started(Sim(), instances=1)
    sim.request("put_app", "/web", {"instances": 2}, partial=True)
    [new] = [t.task_id for t in launched(sim.offers(sim.offer()))]
    effects = sim.update(new, "TASK_RUNNING")
    assert [c.task_id for c in checks(effects)] == [new]
    assert sim.core.runs
    assert "deployment_success" in events(answer(sim, checks(effects)[0], 200))
    assert old[0] in sim.core.instances


def test_checks_wait_for_running_and_a_killed_instance_is_forgotten() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=ready_app())
    [task] = launched(sim.offers(sim.offer()))
    assert checks(sim.update(task.task_id, "TASK_STARTING")) == []
    [check] = checks(sim.update(task.task_id, "TASK_RUNNING"))
    sim.update(task.task_id, "TASK_FAILED")
    assert task.task_id not in sim.core.readiness.probes
    answer(sim, check, 200)
    assert sim.core.runs, "the answer for a dead task counts for nothing"
    sim.tick(5.0)  # the launch backoff after a failure
    [replacement] = launched(sim.offers(sim.offer()))
    [check] = checks(sim.update(replacement.task_id, "TASK_RUNNING"))
    assert check.task_id == replacement.task_id


# ------------------------------------------------------------------ rolling upgrade


def test_an_old_instance_is_killed_only_when_a_new_one_is_ready() -> None:
    sim, old = started(Sim(), instances=1)
    effects = sim.request("put_app", "/web", {"cmd": "sleep 2000"}, partial=True)
    assert killed(effects) == []
    [new] = [t.task_id for t in launched(sim.offers(sim.offer()))]
    [check] = checks(sim.update(new, "TASK_RUNNING"))
    assert killed(answer(sim, check, 503)) == [], "running but not ready: the old one stays"
    waiting = deployment_action(sim)["waitingFor"]
    assert "waiting for 1 new instance(s) to become ready" in waiting
    assert "readiness check 'readinessCheck' (last answer: 503)" in waiting
    [check] = checks(sim.tick(5.0))
    assert killed(answer(sim, check, 200)) == old
    out = sim.update(old[0], "TASK_KILLED")
    assert "deployment_success" in events(out)
    assert sim.tasks() == [new]


def test_with_health_checks_an_instance_must_be_healthy_and_ready() -> None:
    sim, old = started(Sim(), instances=1, healthChecks=HEALTH)
    sim.request("put_app", "/web", {"cmd": "sleep 2000"}, partial=True)
    [new] = [t.task_id for t in launched(sim.offers(sim.offer()))]
    [check] = checks(sim.update(new, "TASK_RUNNING"))  # checked once RUNNING, as Marathon
    assert killed(answer(sim, check, 200)) == [], "ready but not healthy yet"
    assert killed(sim.update(new, "TASK_RUNNING", True)) == old


def test_ready_before_healthy_or_healthy_before_ready_both_end_the_same() -> None:
    sim, old = started(Sim(), instances=1, healthChecks=HEALTH)
    sim.request("put_app", "/web", {"cmd": "sleep 2000"}, partial=True)
    [new] = [t.task_id for t in launched(sim.offers(sim.offer()))]
    [check] = checks(sim.update(new, "TASK_RUNNING", True))
    assert killed(sim.update(new, "TASK_RUNNING", True)) == [], "healthy but not ready"
    assert killed(answer(sim, check, 200)) == old


def test_a_new_leader_checks_readiness_again_before_killing_an_old_instance() -> None:
    sim, old = started(Sim(), instances=1)
    sim.request("put_app", "/web", {"cmd": "sleep 2000"}, partial=True)
    [new] = [t.task_id for t in launched(sim.offers(sim.offer()))]
    [check] = checks(sim.update(new, "TASK_RUNNING"))
    answer(sim, check, 503)
    sim.tick(1.0)
    stored = {
        "framework_id": FID,
        "root": sim.core.root.to_json(),
        "versions": dict(sim.core.versions),
        "deployments": [run.doc() for run in sim.core.runs.values()],
        "instances": dict(sim.instances),
    }
    again = Sim(data=stored)
    assert again.core.readiness.probes == {}, "readiness is never stored"
    again.subscribe()
    again.update(old[0], "TASK_RUNNING")  # the reconciliation answers
    [check] = checks(again.update(new, "TASK_RUNNING"))
    assert check.task_id == new
    assert killed(answer(again, check, 503)) == []
    [check] = checks(again.tick(5.0))
    assert killed(answer(again, check, 200)) == old


def test_without_readiness_checks_nothing_is_checked() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(portDefinitions=PORTS))
    [task] = launched(sim.offers(sim.offer()))
    out = sim.update(task.task_id, "TASK_RUNNING")
    assert checks(out) == [] and "deployment_success" in events(out)


# ---------------------------------------------------------------------- validation


def _problems(sim: Sim, body: dict[str, Any]) -> dict[str, str]:
    reply = sim.api("create_app", body=body)
    assert reply.status == 422, reply.body
    return {d["path"]: " ".join(d["errors"]) for d in reply.body["details"]}


def test_readiness_checks_are_validated_as_marathon_does() -> None:
    sim = Sim()
    got = _problems(sim, ready_app(portDefinitions=[{"port": 0, "name": "admin"}]))
    assert "portName 'http-api'" in got["/readinessChecks/0/portName"]
    assert "'admin'" in got["/readinessChecks/0/portName"]
    got = _problems(sim, ready_app(readinessChecks=[{"intervalSeconds": 10, "timeoutSeconds": 10}]))
    assert "smaller than intervalSeconds" in got["/readinessChecks/0/timeoutSeconds"]
    got = _problems(sim, ready_app(readinessChecks=[{}, {"name": "other"}]))
    assert "at most 1" in got["/readinessChecks"]
    got = _problems(sim, ready_app(readinessChecks=[{"protocol": "TCP"}]))
    assert "/readinessChecks/0/protocol" in got
    got = _problems(sim, ready_app(readinessChecks=[{"httpStatusCodesForReady": []}]))
    assert "/readinessChecks/0/httpStatusCodesForReady" in got
    got = _problems(sim, ready_app(readinessChecks=[{"colour": "red"}]))
    assert "/readinessChecks/0/colour" in got
    assert sim.core.apps == {}, "nothing was stored"


def test_readiness_checks_render_back_with_marathon_defaults() -> None:
    sim = Sim()
    mapping = {"containerPort": 80, "hostPort": 0, "name": "web"}
    body = app(
        container={"type": "MESOS", "portMappings": [mapping]},
        readinessChecks=[{"portName": "web", "protocol": "HTTPS"}],
    )
    assert sim.api("create_app", body=body).status == 201
    shown = sim.api("get_app", "/web").body["app"]["readinessChecks"]
    assert shown == [
        {
            "name": "readinessCheck",
            "protocol": "HTTPS",
            "path": "/",
            "portName": "web",
            "intervalSeconds": 30,
            "timeoutSeconds": 10,
            "httpStatusCodesForReady": [200],
            "preserveLastResponse": False,
        }
    ]
    assert "readinessChecks" not in sim.api("get_app", "/web").body["app"] or shown
    plain = Sim()
    plain.api("create_app", body=app())
    assert "readinessChecks" not in plain.api("get_app", "/web").body["app"], "omitEmpty"


def test_the_upgrade_strategy_bounds_apply_to_ready_instances() -> None:
    strategy = {"minimumHealthCapacity": 1, "maximumOverCapacity": 0.5}  # floor 2, at most 3
    sim, old = started(Sim(), instances=2, upgradeStrategy=strategy)
    sim.request("put_app", "/web", {"cmd": "sleep 2000"}, partial=True)
    new = [t.task_id for t in launched(sim.offers(sim.offer()))]
    assert len(new) == 1, "2 old + 1 new = the capacity bound"
    [check] = checks(sim.update(new[0], "TASK_RUNNING"))
    answer(sim, check, 503)
    assert launched(sim.offers(sim.offer())) == [], "no room until an old one goes"
    [check] = checks(sim.tick(5.0))
    [victim] = killed(answer(sim, check, 200))
    assert victim in old
    sim.update(victim, "TASK_KILLED")
    [second] = [t.task_id for t in launched(sim.offers(sim.offer()))]
    [check] = checks(sim.update(second, "TASK_RUNNING"))
    [last] = killed(answer(sim, check, 200))
    assert {victim, last} == set(old)
    assert "deployment_success" in events(sim.update(last, "TASK_KILLED"))


def test_an_instance_without_the_named_port_waits_and_says_why() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=ready_app())
    [task] = launched(sim.offers(sim.offer()))
    sim.core.instances[task.task_id].ports = []  # as if the agent gave it no host port
    assert checks(sim.update(task.task_id, "TASK_RUNNING")) == []
    assert "1 without port 'http-api'" in deployment_action(sim)["waitingFor"]
