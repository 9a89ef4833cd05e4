"""``MarathonState.add_instances`` (a warm load's bulk add, in C) leaves exactly the state
that ``add_instance`` of each instance in turn leaves: instances and their order and
``seq``, per-app maps, the tick's indexes (unreachable, not live, kill timers), the task
lists' notes, touched apps. Random batches: new tasks of one app (the bulk path), and
batches the bulk path must refuse (task ids already there or twice, several apps)."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from actors.marathon._instances import Instance
from actors.marathon._state import MarathonState


def _inst(rng: random.Random, app: str, n: int) -> Instance:
    inst = Instance(
        task_id=f"{app.strip('/')}.t{n}",
        app_id=app,
        config_version="v1",
        version="v1",
        agent_id=f"a{n % 3}",
        host=f"h{n % 3}",
        ports=[n],
        staged_at=1.7e9 + n,
        state=rng.choice(["TASK_RUNNING", "TASK_STAGING", "TASK_FAILED"]),
    )
    roll = rng.random()
    if roll < 0.1:
        inst.killing = True
        inst.kill_sent_at = rng.choice([0.0, 5.0, 7.5])
    elif roll < 0.2:
        inst.inactive = True
    elif roll < 0.3:
        inst.unreachable_since = rng.choice([0.0, 3.0])
    return inst


def _view(s: MarathonState) -> dict[str, Any]:
    return {
        "instances": [(k, v, v.seq) for k, v in s.instances.items()],
        "by_app": {a: [(k, v.seq) for k, v in t.items()] for a, t in s.by_app.items()},
        "added": s.added,
        "touched": set(s.touched),
        "unreachable": list(s.unreachable),
        "not_live": {a: set(t) for a, t in s.not_live.items()},
        "kill_timers": sorted(s.kill_timers),
        "unrendered": list(s.task_lists.unrendered),
        "generation": s.task_lists.generation,
    }


@pytest.mark.parametrize("seed", range(8))
def test_add_instances_equals_add_instance_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    one, bulk = MarathonState(), MarathonState()
    apps = ["/a", "/b", "/c/d"]
    n = 0
    for _ in range(30):
        roll = rng.random()
        app = rng.choice(apps)
        if roll < 0.6:  # new tasks of one app: the bulk path
            batch = [_inst(rng, app, n + i) for i in range(rng.randrange(0, 40))]
            n += len(batch)
        elif roll < 0.75:  # some task ids again (a replaced record), maybe twice
            known = list(one.instances.values())
            batch = [_inst(rng, i.app_id, int(i.task_id.rpartition("t")[2])) for i in known[:5]]
            batch += batch[:1]
        else:  # several apps in one batch
            batch = [_inst(rng, rng.choice(apps), n + i) for i in range(10)]
            n += len(batch)
        twin = copy.deepcopy(batch)
        for inst in batch:
            one.add_instance(inst)
        bulk.add_instances(twin)
        assert _view(bulk) == _view(one)
        if rng.random() < 0.3 and one.instances:  # remove some, on both
            for task_id in rng.sample(sorted(one.instances), 3 if len(one.instances) > 3 else 1):
                one.remove_instance(one.instances[task_id])
                bulk.remove_instance(bulk.instances[task_id])
            assert _view(bulk) == _view(one)
        if rng.random() < 0.2 and one.instances:  # being killed (a kill timer, not live)
            task_id = rng.choice(sorted(one.instances))
            one.kill(one.instances[task_id], "test")
            bulk.kill(bulk.instances[task_id], "test")
            assert _view(bulk) == _view(one)
