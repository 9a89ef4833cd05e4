"""``/v2/tasks`` and ``/v2/apps/{id}/tasks`` serve the bytes of the last answer while
its tasks are the very same dicts (issue 29), and are otherwise encoded anew: always
byte for byte ``json.dumps(body)``."""

from __future__ import annotations

import json
import random

from actors.marathon import ApiReply
from actors.marathon._task_lists import TaskLists
from tests.marathon._core_kit import Sim, app, launched
from tests.marathon.test_render_cache import running_sim


def body(reply: ApiReply) -> bytes:
    assert reply.status == 200 and reply.encode is not None
    data = reply.encode()
    assert data == json.dumps(reply.body).encode()
    return data


def test_an_unchanged_list_is_served_the_same_bytes() -> None:
    sim = running_sim()
    first = body(sim.api("list_tasks"))
    assert body(sim.api("list_tasks")) is first, "nothing changed: the cached bytes"
    one = body(sim.api("app_tasks", "/prod/db"))
    assert body(sim.api("app_tasks", "/prod/db")) is one
    running = body(sim.api("list_tasks", status=["running"]))
    assert running == first and body(sim.api("list_tasks")) is first


def test_any_change_is_encoded_anew() -> None:
    sim = running_sim()
    first = body(sim.api("list_tasks"))
    task_id = sim.tasks("/prod/web")[0]
    sim.update(task_id, "TASK_RUNNING", healthy=False)  # the same tasks, one changed
    second = body(sim.api("list_tasks"))
    assert second != first and b'"alive": false' in second
    sim.update(task_id, "TASK_FAILED")  # one fewer
    third = body(sim.api("list_tasks"))
    assert task_id.encode() not in third
    sim.api("put_app", "/prod/db", {"instances": 2}, partial=True)
    assert launched(sim.offers(sim.offer("agent3")))  # one more
    assert body(sim.api("list_tasks")) != third


def test_empty_lists_and_the_bound_on_kept_answers() -> None:
    sim = Sim()
    sim.subscribe()
    assert body(sim.api("list_tasks")) == b'{"tasks": []}'
    sim.api("create_app", body=app("/web", instances=1))
    assert body(sim.api("app_tasks", "/web")) == b'{"tasks": []}'
    for n in range(TaskLists.KEPT * 2):
        body(sim.api("list_tasks", status=[f"s{n}"]))
    assert len(sim.core.task_lists.entries) == TaskLists.KEPT


def test_random_changes_between_requests() -> None:
    rng = random.Random(7)
    sim = running_sim()
    for _ in range(60):
        tasks = sim.tasks("/prod/web") + sim.tasks("/prod/db")
        roll = rng.random()
        if roll < 0.3 and tasks:
            state = rng.choice(["TASK_RUNNING", "TASK_FAILED", "TASK_KILLING"])
            sim.update(rng.choice(tasks), state, healthy=rng.choice([True, False, None]))
        elif roll < 0.5:
            sim.offers(sim.offer(f"agent{rng.randrange(5)}"))
        elif roll < 0.6 and tasks:
            sim.request("delete_tasks", body={"ids": [rng.choice(tasks)]})
        body(sim.api("list_tasks"))
        body(sim.api("list_tasks", status=["running", "staging"]))
        body(sim.api("app_tasks", rng.choice(["/prod/web", "/prod/db"])))
