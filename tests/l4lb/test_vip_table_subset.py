"""``VipTable.vips()`` reads only the tasks with a VIP label; it must equal ``build_vips``
over every task (the full build) after every event, balance and backends included."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from actors.l4lb import VipTable, _table
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
            before = table.vips()
            if not table.apply(event(rng, ids)):  # "nothing changed": the same VIPs
                assert table.vips() == before
        want = build_vips(table.tasks.values(), table.agents, table.framework_name, table.salt)
        assert table.vips() == want


class Reference(VipTable):
    """A table that reads every TASK_ADDED whole (never ``same_task``'s shortcut)."""

    def _put_task(self, task: Any) -> bool:
        shortcut = _table.same_task
        _table.same_task = lambda view, task: False
        try:
            return super()._put_task(task)
        finally:
            _table.same_task = shortcut


def resent(rng: random.Random, raw: dict[str, Any]) -> dict[str, Any]:
    """A held task as a new leader re-sends it: a copy, its status made anew (no uuid,
    another source and time), sometimes with another health or state in it."""
    task = copy.deepcopy(raw)
    status = dict(task["statuses"][-1]) if task.get("statuses") else {}
    status.pop("uuid", None)
    status["source"] = rng.choice(["SOURCE_MASTER", "SOURCE_EXECUTOR"])
    status["timestamp"] = rng.random()
    roll = rng.random()
    if roll < 0.15:
        status["healthy"] = rng.random() < 0.5
    elif roll < 0.25:
        task["state"] = status["state"] = rng.choice(STATES)
    elif roll < 0.3:
        ips = [{"ip_addresses": [{"ip_address": "9.9.9.9"}]}]
        status["container_status"] = {"network_infos": ips}
    elif roll < 0.35:
        task["agent_id"] = {"value": rng.choice(["a1", "a2", "a3"])}
    task["statuses"] = [status]
    return task


@pytest.mark.parametrize("seed", range(10))
def test_a_re_registration_storm_gives_the_table_of_whole_reads(seed: int) -> None:
    """A TASK_ADDED / AGENT_ADDED re-sending what the table holds says "nothing changed"
    (no sync) and leaves ``vips()`` as it was; the table after every event equals one
    that reads every task whole; carried tasks expire alike."""
    rng = random.Random(seed)
    ids = [f"t{i}" for i in range(15)]
    table, reference = VipTable(salt="s"), Reference(salt="s")
    raws: dict[str, dict[str, Any]] = {}
    quiet, now = 0, 0.0
    for _ in range(400):
        now += 1.0
        roll = rng.random()
        ev: dict[str, Any] | None = None
        if roll < 0.03:
            tasks = [v1_task(rng, i) for i in rng.sample(ids, rng.randrange(len(ids)))]
            raws.update((t["task_id"]["value"], t) for t in tasks)
            state = {"get_tasks": {"tasks": tasks}}
            ev = {"type": "SUBSCRIBED", "subscribed": {"get_state": state}}
            until = now + rng.choice([1.0, 3.0])
            for t in (table, reference):
                t.apply(copy.deepcopy(ev), carry_until=until)
        elif roll < 0.1:
            when = now + rng.choice([0.0, 2.0])
            assert table.expire(when) == reference.expire(when)
        elif roll < 0.6 and table.tasks:
            raw = raws.get(rng.choice(list(table.tasks)))
            if raw is None:
                continue
            ev = {"type": "TASK_ADDED", "task_added": {"task": resent(rng, raw)}}
        else:
            ev = event(rng, ids)
        if ev is not None and ev["type"] != "SUBSCRIBED":
            if ev["type"] == "TASK_ADDED":
                task = ev["task_added"]["task"]
                raws[task["task_id"]["value"]] = task
            before = table.vips()
            changed = table.apply(copy.deepcopy(ev))
            reference.apply(copy.deepcopy(ev))
            if not changed:
                quiet += ev["type"] == "TASK_ADDED"
                assert table.vips() == before
        assert table.vips() == reference.vips()
        assert set(table.carried) == set(reference.carried)
    assert quiet > 40  # re-sent tasks told unchanged without a whole read
