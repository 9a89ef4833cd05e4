"""``task_text`` writes ``json.dumps(task_json(t, wall))`` directly: byte for byte the
same on random task records (odd strings, labels, containers, health, messages,
reasons, port ranges, non-finite and integral timestamps)."""

from __future__ import annotations

import json
import math
import random

from actors import protocol as p
from actors.master import _state_json as sj
from actors.master._master_core import TaskRecord
from actors.resources import Resources
from actors.task_states import TaskState

ODD = ["", "a", 'qu"ote', "back\\slash", "tab\tnl\n", "é-ü", "日本", "\x00\x1f", "emoji \U0001f600"]


def _record(rng: random.Random) -> TaskRecord:
    def word() -> str:
        return rng.choice(ODD) + str(rng.randrange(1000))

    spec = "cpus:0.1;mem:32"
    if rng.random() < 0.5:
        lo = rng.randrange(31000, 32000)
        spec += f";ports:[{lo}-{lo + rng.randrange(3)}]"
    if rng.random() < 0.2:
        spec += ";disk:" + str(rng.choice([1, 2.5, 1e-7, 123456789.125]))
    labels = {word(): word() for _ in range(rng.choice([0, 0, 1, 3]))}
    container = p.ContainerInfo(type="MESOS") if rng.random() < 0.3 else None
    task = p.TaskInfo(
        word(), word(), word(), Resources.parse(spec).to_dict(),
        p.CommandSpec("true"), container=container, labels=labels,
        group_id=rng.choice(["", word()]),
    )  # fmt: skip
    updated = rng.choice(
        [0.0, 1.5, 1.7e9 + rng.random(), 3, math.inf, -math.inf, math.nan, 1e-300, 12345678901.0]
    )
    return TaskRecord(
        task=task,
        framework_id=word(),
        agent_id=word(),
        resources=Resources.parse(spec),
        role=rng.choice(["*", "marathon", word()]),
        state=rng.choice(list(TaskState)),
        updated_at=updated,
        reason=rng.choice([None, "", word()]),
        message=rng.choice(["", word()]),
        healthy=rng.choice([None, True, False]),
    )


def test_task_text_is_json_dumps_of_task_json() -> None:
    rng = random.Random(29)
    for _ in range(3000):
        t = _record(rng)
        for wall in (0.0, 1.7e9, 0):
            assert sj.task_text(t, wall) == json.dumps(sj.task_json(t, wall))


def test_equal_resources_share_one_text_and_the_cache_is_bounded() -> None:
    a, b = Resources.parse("cpus:0.5;mem:64"), Resources.parse("cpus:0.5;mem:64")
    assert sj._resources_text(a) is sj._resources_text(b)
    for n in range(sj._RESOURCES_KEPT + 10):
        sj._resources_text(Resources.parse(f"cpus:{n + 1}"))
    assert len(sj._RESOURCES_TEXT) <= sj._RESOURCES_KEPT


def test_agent_text_is_json_dumps_of_agent_json() -> None:
    from actors.master import MasterConfig, MasterCore

    rng = random.Random(3)
    core = MasterCore("t", MasterConfig(ping_interval=1e9), now=0.0)
    specs = [
        "cpus:4;mem:4096",
        "cpus:4;mem:4096;ports:[31000-32000]",
        "cpus:2;mem:1024;disk(db):100;cpus(db):1;ports:[1-2,5-9]",
        "cpus:1.5;mem:512;gpus:1;disk:0.001",
    ]
    for i in range(60):
        attrs = {"rack": f"r{i % 3}", "zone": rng.choice(ODD) or "z"} if i % 2 else {}
        core.handle(
            p.RegisterAgent(
                rng.choice(ODD) + f"h{i}",
                f"tcp://127.0.0.1:{1000 + i}/agent",
                Resources.parse(rng.choice(specs)).to_dict(),
                attributes=attrs,
                version=rng.choice(["", "1.11.0"]),
            ),
            float(i),
        )
    for a in core.agents.values():
        if rng.random() < 0.5:
            a.used = Resources.parse("cpus:0.5;mem:32")
        if rng.random() < 0.3:
            a.offered = Resources.parse("cpus:1;mem:64")
        a.reachable = rng.random() < 0.8
        for wall in (0.0, 1.7e9):
            assert sj.agent_text(a, wall) == json.dumps(sj.agent_json(a, wall))
