"""``VipTable.vips()`` reads only the tasks with a VIP label; it must equal ``build_vips``
over every task (the full build) after every event, balance and backends included."""

from __future__ import annotations

import random
from typing import Any

import pytest

from actors.l4lb import VipTable
from actors.l4lb._table import build_vips

VIPS = [None, None, "/web:80", "/db:5432", "10.1.2.3:80", "bad", "/web:81"]
BALANCES = [None, "roundrobin", "leastconn", "source"]
STATES = ["TASK_STAGING", "TASK_RUNNING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"]
STATES += ["TASK_FINISHED", "TASK_KILLED", "TASK_LOST"]


def v1_task(rng: random.Random, task_id: str) -> dict[str, Any]:
    labels = []
    vip = rng.choice(VIPS)
    if vip:
        labels.append({"key": rng.choice(["VIP_0", "VIP_1"]), "value": vip})
    balance = rng.choice(BALANCES)
    if balance:
        labels.append({"key": "L4LB_BALANCE", "value": balance})
    state = rng.choice(STATES[:5])
    status: dict[str, Any] = {"task_id": {"value": task_id}, "state": state}
    if rng.random() < 0.3:
        status["healthy"] = rng.random() < 0.5
    return {
        "name": "web",
        "task_id": {"value": task_id},
        "framework_id": {"value": rng.choice(["fw", "fw2"])},
        "agent_id": {"value": rng.choice(["a1", "a2", "a3"])},
        "state": state,
        "statuses": [status],
        "labels": {"labels": [{"key": "MARATHON_APP_ID", "value": rng.choice(["/a", "/b"])}]},
        "discovery": {
            "name": "web",
            "ports": {
                "ports": [
                    {
                        "number": rng.choice([0, 31000, 31001]),
                        "protocol": rng.choice(["tcp", "udp", "tcp,udp"]),
                        "labels": {"labels": labels},
                    }
                ]
            },
        },
    }


def event(rng: random.Random, ids: list[str]) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.4:
        return {"type": "TASK_ADDED", "task_added": {"task": v1_task(rng, rng.choice(ids))}}
    if roll < 0.8:
        state = rng.choice(STATES)
        status: dict[str, Any] = {"task_id": {"value": rng.choice(ids)}, "state": state}
        if rng.random() < 0.4:
            status["healthy"] = rng.random() < 0.5
        return {"type": "TASK_UPDATED", "task_updated": {"status": status, "state": state}}
    if roll < 0.9:
        agent = rng.choice(["a1", "a2", "a3"])
        ip = rng.choice(["127.0.0.2", "127.0.0.3"])
        return {
            "type": "AGENT_ADDED",
            "agent_added": {"agent": {"agent_info": {"id": {"value": agent}}, "pid": f"s@{ip}:1"}},
        }
    name = rng.choice(["marathon", "other"])
    info = {"id": {"value": rng.choice(["fw", "fw2"])}, "name": name}
    return {"type": "FRAMEWORK_ADDED", "framework_added": {"framework": {"framework_info": info}}}


@pytest.mark.parametrize("seed", range(10))
def test_vips_equal_the_full_build_after_every_event(seed: int) -> None:
    rng = random.Random(seed)
    ids = [f"t{i}" for i in range(15)]
    table = VipTable(salt="s")
    now = 0.0
    for _ in range(300):
        now += 1.0
        roll = rng.random()
        if roll < 0.03:  # a new leader's state: the missing tasks are carried
            tasks = [v1_task(rng, i) for i in rng.sample(ids, rng.randrange(len(ids)))]
            state = {"get_tasks": {"tasks": tasks}}
            table.apply({"type": "SUBSCRIBED", "subscribed": {"get_state": state}}, carry_until=now)
        elif roll < 0.06:
            table.expire(now + rng.choice([0.0, 5.0]))
        else:
            table.apply(event(rng, ids))
        want = build_vips(table.tasks.values(), table.agents, table.framework_name, table.salt)
        assert table.vips() == want
