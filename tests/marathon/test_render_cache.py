"""List answers encoded from the instances' cached texts (``ApiReply.encode``) are byte
for byte ``json.dumps(body)``, and a changed instance is never shown from a stale text."""

from __future__ import annotations

import orjson

from actors.marathon import ApiReply
from tests.marathon._core_kit import Sim, app


def encoded(reply: ApiReply) -> bytes:
    assert reply.status == 200 and reply.encode is not None
    data = reply.encode()
    assert data == orjson.dumps(reply.body, option=orjson.OPT_NON_STR_KEYS)
    return data


def running_sim() -> Sim:
    sim = Sim()
    sim.subscribe()
    checks = [{"protocol": "COMMAND", "command": {"value": "true"}}]
    sim.api("create_app", body=app("/prod/web", instances=2, healthChecks=checks))
    sim.api("create_app", body=app("/prod/db", instances=1, labels={"tier": "caf\u00e9"}))
    for _ in range(3):
        sim.offers(sim.offer("agent1"), sim.offer("agent2"))
    sim.run_all("/prod/web", healthy=True)
    sim.run_all("/prod/db")
    return sim


def test_list_answers_are_json_dumps_of_their_bodies() -> None:
    sim = running_sim()
    for _ in range(2):  # cold texts, then cached ones
        assert b'"tasks":[{' in encoded(sim.api("list_tasks"))
        encoded(sim.api("list_tasks", status=["running"]))
        encoded(sim.api("list_apps", embed=["apps.tasks", "apps.lastTaskFailure"]))
        encoded(sim.api("list_apps", embed=[]))
        encoded(sim.api("get_app", "/prod/web"))
        encoded(sim.api("app_tasks", "/prod/db"))
        encoded(sim.api("get_group", "/", embed=["group.apps", "group.apps.tasks"]))


def test_a_changed_instance_is_encoded_anew() -> None:
    sim = running_sim()
    before = encoded(sim.api("app_tasks", "/prod/web"))
    task_id = sim.tasks("/prod/web")[0]
    sim.update(task_id, "TASK_RUNNING", healthy=False)
    after = encoded(sim.api("app_tasks", "/prod/web"))
    assert after != before and b'"alive":false' in after
    sim.update(task_id, "TASK_FAILED")
    assert task_id.encode() not in encoded(sim.api("list_tasks", status=["running"]))


def test_a_reconciliation_answer_keeps_the_cached_json() -> None:
    sim = running_sim()
    task_id = sim.tasks("/prod/db")[0]
    inst = sim.core.instances[task_id]
    shown = inst.to_json(False)
    sim.update(task_id, "TASK_RUNNING")  # the periodic reconciliation: nothing changed
    assert inst.to_json(False) is shown
    sim.update(task_id, "TASK_KILLING")
    assert inst.to_json(False)["state"] == "TASK_KILLING"
