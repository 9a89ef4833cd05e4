"""``/master/state`` reuses the last render's task order, resource sums and joined task
texts (issue 29: re-sorting 100,000 task ids per request made it grow faster than the
cluster). The bytes must stay ``json.dumps(state_json(...))`` whatever changed between
two renders: tasks launched with ids sorting anywhere, finished, relaunched under the
same id (a new record), updated in place, and renders of the dict view in between."""

from __future__ import annotations

import json
import random

import pytest

from actors import protocol as p
from actors.master import MasterConfig, MasterCore, _state_json
from actors.master._state_json import state_json, state_json_bytes
from tests.master.test_master_core import AGENT, AGENT2, Cluster
from tests.master.test_state_cache import KW


def _check(core: MasterCore) -> bytes:
    """The incremental render against one from scratch (no reuse: the reference must
    not share the caches it checks), the caches left as the render left them."""
    encoded = state_json_bytes(core, **KW)
    kept = _state_json._TASKS.pop(core)
    answer = _state_json._ANSWERS.pop(core)
    offers = _state_json._OFFERS.pop(core, None)
    assert encoded == json.dumps(state_json(core, **KW)).encode()
    _state_json._TASKS[core] = kept
    _state_json._ANSWERS[core] = answer
    if offers is not None:
        _state_json._OFFERS[core] = offers
    return encoded


@pytest.mark.parametrize("seed", range(6))
def test_state_bytes_stay_exact_across_random_task_churn(seed: int) -> None:
    rng = random.Random(seed)
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:64;mem:65536")
    c.add_agent(AGENT2, "cpus:64;mem:65536")
    fid = c.subscribe()
    live: dict[str, str] = {}  # task id -> agent id
    ended: list[str] = []
    for _ in range(60):
        roll = rng.random()
        if roll < 0.45:
            offers = c.offers()
            for offer in offers:
                name = f"{rng.choice('abcxyz')}{rng.randrange(1000):03d}"
                if rng.random() < 0.3 and ended:
                    name = rng.choice(ended)  # relaunched under an id seen before
                if name in live:
                    continue
                c.launch(offer, name, "cpus:0.1;mem:8", refuse_seconds=0)
                live[name] = offer.agent_id
        elif roll < 0.75 and live:
            task_id = rng.choice(sorted(live))
            state = rng.choice(["TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED"])
            u = f"u{rng.randrange(10**9)}"
            c.handle(p.StatusUpdate(fid, task_id, live[task_id], state, u, c.now))
            if state != "TASK_RUNNING":
                del live[task_id]
                ended.append(task_id)
        elif roll < 0.85:
            state_json(c.core, **KW)  # the dict view renders from the same caches
            continue
        first = _check(c.core)
        assert _check(c.core) == first, "a render with nothing changed gives the same bytes"
    assert live, "the run launched tasks"


def test_a_task_replaced_by_another_of_other_resources_changes_the_sums() -> None:
    """As many tasks as before but not the same ones: the framework's used resources
    are summed again (the last sum is reused only for the very same resources)."""
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:8;mem:8192")
    fid = c.subscribe()
    [offer] = c.offers()
    c.launch(offer, "a", "cpus:1;mem:64", refuse_seconds=0)
    before = _check(c.core)
    c.handle(p.StatusUpdate(fid, "a", offer.agent_id, "TASK_FINISHED", "u1", c.now))
    [offer] = c.offers()
    c.launch(offer, "b", "cpus:2;mem:128", refuse_seconds=0)
    after = _check(c.core)
    assert b'"used_resources": {"cpus": 2.0' in after and after != before


def test_many_tasks_at_once_are_merged_into_the_kept_order() -> None:
    """More new tasks than are inserted one by one: merged with the kept order."""
    rng = random.Random(3)
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:512;mem:524288")
    fid = c.subscribe()

    def launch(count: int) -> list[str]:
        [offer] = c.offers()
        names = [f"{rng.choice('amz')}{rng.randrange(10**6):06d}" for _ in range(count)]
        names = sorted(set(names) - set(c.core.frameworks[fid].tasks))
        infos = [
            p.TaskInfo(n, n, offer.agent_id, {"cpus": 0.1, "mem": 8}, p.CommandSpec("true"))
            for n in names
        ]
        c.handle(p.Accept(fid, [offer.offer_id], [p.Operation("LAUNCH", infos)], 0))
        return names

    first = launch(150)
    _check(c.core)
    for name in rng.sample(first, 10):
        c.handle(p.StatusUpdate(fid, name, c.agent_ids[AGENT], "TASK_FINISHED", name, c.now))
    launch(100)
    launch(5)
    assert b'"TASK_STAGING"' in _check(c.core)


def test_only_the_tasks_the_framework_lists_are_shown() -> None:
    """As the render from scratch: a record ``core.tasks`` holds under the framework's
    id but the framework does not list is left out (and back once listed again)."""
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:8;mem:8192")
    fid = c.subscribe()
    [offer] = c.offers()
    c.launch(offer, "a", "cpus:1;mem:64", refuse_seconds=0)
    [offer] = c.offers()
    c.launch(offer, "b", "cpus:1;mem:64", refuse_seconds=0)
    _check(c.core)
    c.core.frameworks[fid].tasks.discard("a")
    assert b'"id": "a"' not in _check(c.core)
    c.core.frameworks[fid].tasks.add("a")
    assert b'"id": "a"' in _check(c.core)


def test_an_unchanged_state_is_the_same_bytes_object() -> None:
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1e9), now=1000.0))
    aid = c.add_agent(AGENT, "cpus:8;mem:8192")
    c.subscribe()
    first = _check(c.core)
    assert state_json_bytes(c.core, **KW) is first, "nothing changed: no new join"
    [offer] = c.offers()
    c.launch(offer, "a", "cpus:1;mem:64", refuse_seconds=0)
    assert aid.encode() in _check(c.core) and state_json_bytes(c.core, **KW) != first
