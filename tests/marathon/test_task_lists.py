"""``/v2/tasks`` and ``/v2/apps/{id}/tasks`` serve the bytes of the last answer while
its tasks are the very same dicts (issue 29), and are otherwise encoded anew: always
byte for byte ``orjson.dumps(body)`` (compact JSON)."""

from __future__ import annotations

import dataclasses
import random

import orjson

from actors.marathon import ApiReply
from actors.marathon._task_lists import TaskLists
from tests.marathon._core_kit import Sim, app, launched
from tests.marathon.test_render_cache import running_sim


def body(reply: ApiReply) -> bytes:
    assert reply.status == 200 and reply.encode is not None
    data = reply.encode()
    assert data == orjson.dumps(reply.body, option=orjson.OPT_NON_STR_KEYS)
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
    assert second != first and b'"alive":false' in second
    sim.update(task_id, "TASK_FAILED")  # one fewer
    third = body(sim.api("list_tasks"))
    assert task_id.encode() not in third
    sim.api("put_app", "/prod/db", {"instances": 2}, partial=True)
    assert launched(sim.offers(sim.offer("agent3")))  # one more
    assert body(sim.api("list_tasks")) != third


def test_empty_lists_and_the_bound_on_kept_answers() -> None:
    sim = Sim()
    sim.subscribe()
    assert body(sim.api("list_tasks")) == b'{"tasks":[]}'
    sim.api("create_app", body=app("/web", instances=1))
    assert body(sim.api("app_tasks", "/web")) == b'{"tasks":[]}'
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


def _fresh(sim: Sim, op: str, *args: str) -> bytes:
    """The answer rendered from nothing: every instance's cached dict and text dropped."""
    for inst in sim.core.instances.values():
        inst._json = None
        inst._text = None
    sim.core.task_lists.entries.clear()
    data = body(sim.api(op, *args))
    for inst in sim.core.instances.values():
        sim.core.task_lists.note(inst)  # dropped here: rendered again by the next tick
    return data


def test_ticks_render_changed_tasks_ahead_and_answers_stay_the_same() -> None:
    rng = random.Random(11)
    sim = running_sim()
    core = sim.core
    sim.tick(0.25)
    assert core.task_lists.unrendered, "not in the first adoption_timeout (a new leader's)"
    sim.tick(core.config.adoption_timeout)
    for _ in range(40):
        tasks = sim.tasks("/prod/web") + sim.tasks("/prod/db")
        for _ in range(rng.randrange(4)):
            roll = rng.random()
            if roll < 0.5 and tasks:
                state = rng.choice(["TASK_RUNNING", "TASK_FAILED", "TASK_KILLING", "TASK_STARTING"])
                sim.update(rng.choice(tasks), state, healthy=rng.choice([True, False, None]))
            elif roll < 0.8:
                sim.offers(sim.offer(f"agent{rng.randrange(5)}"))
            elif tasks:
                sim.request("delete_tasks", body={"ids": [rng.choice(tasks)]})
        if rng.random() < 0.7:
            sim.tick(0.25)
            listed = [
                i for i in core.instances.values() if core._listed_checks(i.app_id) is not None
            ]
            assert not core.task_lists.unrendered
            assert all(
                i._json is not None and i._text is not None
                for i in listed
                if i.state != "TASK_STAGING"
            ), "a tick renders every changed task's dict and text (past STAGING)"
        served = body(sim.api("list_tasks"))
        app_id = rng.choice(["/prod/web", "/prod/db"])
        one = body(sim.api("app_tasks", app_id))
        assert served == _fresh(sim, "list_tasks")
        assert one == _fresh(sim, "app_tasks", app_id)


def test_prerender_is_bounded_and_skips_what_is_gone_or_rendered() -> None:
    sim = running_sim()
    core = sim.core
    lists = core.task_lists
    insts = list(core.instances.values())
    for inst in insts:
        inst._json = None
        inst._text = None
        lists.note(inst)
    gone = insts[0]
    core.remove_instance(gone)
    assert lists.prerender(core.instances, core._listed_checks, limit=1) == 1
    left = len(lists.unrendered)
    assert left == len(insts) - 1
    done = lists.prerender(core.instances, core._listed_checks)
    assert done == len(insts) - 2 and not lists.unrendered
    assert gone._json is None, "an instance no longer listed is not rendered"
    for inst in insts[1:]:
        lists.note(inst)  # noted again, already rendered: nothing to do
    assert lists.prerender(core.instances, core._listed_checks) == 0


def _from_nothing(sim: Sim, app_id: str | None = None) -> bytes:
    """The list rendered from the instances' fields, no cache read or written."""
    core = sim.core
    out = []
    for aid, tasks in core.by_app.items():
        checks = core._listed_checks(aid)
        if checks is None or (app_id is not None and aid != app_id):
            continue
        out += [
            dataclasses.replace(i, _json=None, _text=None).to_json(checks) for i in tasks.values()
        ]
    return orjson.dumps({"tasks": out})


def test_an_unchanged_list_is_not_walked_again_and_changes_are_seen() -> None:
    rng = random.Random(5)
    sim = running_sim()
    core = sim.core
    first = body(sim.api("list_tasks"))
    walked = core.tasks_json

    def no_walk(*args: object, **kw: object) -> object:
        raise AssertionError("listed again although nothing changed")

    core.tasks_json = no_walk  # type: ignore[method-assign]
    assert body(sim.api("list_tasks")) is first
    core.tasks_json = walked  # type: ignore[method-assign]
    hits = 0
    for _ in range(80):
        tasks = sim.tasks("/prod/web") + sim.tasks("/prod/db")
        roll = rng.random()
        if roll < 0.3 and tasks:
            state = rng.choice(["TASK_RUNNING", "TASK_FAILED", "TASK_KILLING", "TASK_STARTING"])
            sim.update(rng.choice(tasks), state, healthy=rng.choice([True, False, None]))
        elif roll < 0.45:
            sim.offers(sim.offer(f"agent{rng.randrange(5)}"))
        elif roll < 0.55 and tasks:
            sim.request("delete_tasks", body={"ids": [rng.choice(tasks)]})
        elif roll < 0.6:
            sim.api("put_app", "/prod/db", {"instances": rng.randrange(1, 4)}, partial=True)
        elif roll < 0.7:
            sim.tick(0.25)
        key = ("all", frozenset())
        stamp = core.task_lists.stamp(core.root)
        hits += core.task_lists.unchanged(key, stamp) is not None
        assert body(sim.api("list_tasks")) == _from_nothing(sim)
        app_id = rng.choice(["/prod/web", "/prod/db"])
        assert body(sim.api("app_tasks", app_id)) == _from_nothing(sim, app_id)
    assert hits, "some requests found nothing changed"


def test_a_staging_task_is_rendered_ahead_once_it_runs() -> None:
    """A tick skips a just-launched (STAGING) instance: its RUNNING notes it again, and
    a staging render would be thrown away; a list asked meanwhile is still exact."""
    sim = Sim()
    sim.subscribe()
    core = sim.core
    sim.tick(core.config.adoption_timeout)
    sim.api("create_app", body=app("/prod/web", instances=2))
    sim.offers(sim.offer("agent1"), sim.offer("agent2"))
    staging = [core.instances[t] for t in sim.tasks("/prod/web")]
    assert staging and all(i.state == "TASK_STAGING" for i in staging)
    sim.tick(0.25)
    assert all(i._text is None for i in staging), "staging: not rendered ahead"
    assert body(sim.api("list_tasks")) == _from_nothing(sim)
    for task_id in sim.tasks("/prod/web"):
        sim.update(task_id, "TASK_RUNNING")
    sim.tick(0.25)
    running = [core.instances[t] for t in sim.tasks("/prod/web")]
    assert all(i._json is not None and i._text is not None for i in running)
    assert body(sim.api("list_tasks")) == _from_nothing(sim)


def test_a_late_tick_renders_ahead_for_every_period_it_stood_for() -> None:
    sim = running_sim()
    core = sim.core
    sim.tick(core.config.adoption_timeout)  # past a new leader's first adoption_timeout
    lists = core.task_lists
    lists.PRERENDER = 1  # type: ignore[misc]  # an instance attribute, this test only
    for task_id in sim.tasks("/prod/web") + sim.tasks("/prod/db"):
        core.instances[task_id]._text = None
        lists.note(core.instances[task_id])
    assert len(lists.unrendered) == 3
    sim.tick(core.config.tick_interval)  # on time: one period's worth
    assert len(lists.unrendered) == 2
    sim.tick(core.config.tick_interval)
    assert len(lists.unrendered) == 1
    for task_id in sim.tasks("/prod/web") + sim.tasks("/prod/db"):
        core.instances[task_id]._text = None
        lists.note(core.instances[task_id])
    sim.tick(2 * core.config.tick_interval)  # a busy actor's one tick for two periods
    assert len(lists.unrendered) == 1
