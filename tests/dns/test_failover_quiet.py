"""After a failover the DnsActor rebuilds its table only for the TASK_ADDED /
AGENT_ADDED events that change it (``LiveTable.apply``): the table it serves after
every event of a random re-registration stream equals the table of a DnsActor that
rebuilt after every event (``build_table`` from scratch), and most re-registrations
(the same task, the same agent) cost no rebuild."""

from __future__ import annotations

import functools
import random
from typing import Any

import pytest

from actors.dns import ClusterView, LiveTable, apply_event, build_table, set_leader
from actors.dns._quiet import upsert_target
from actors.dns._records import RecordTable
from actors.dns._vips import vip_records
from tests.dns._events import subscribed, task_added, task_updated, v1_agent, v1_framework, v1_task
from tests.dns.test_incremental import CONFIG, SALT, agent_added, update

CARRY = 15.0


def _same(got: RecordTable, want: RecordTable) -> None:
    assert dict(got.a) == dict(want.a)
    assert dict(got.srv) == dict(want.srv)
    assert set(got.names) == set(want.names)  # type: ignore[call-overload]
    assert got.enumerate == want.enumerate


class Quiet:
    """The DnsActor's path (``LiveTable``): a new table only when ``apply`` asks."""

    def __init__(self) -> None:
        self.live = LiveTable(CONFIG, functools.partial(vip_records, salt=SALT), CARRY)
        set_leader(self.live.view, "tcp://127.0.0.1:5050/master", "127.0.0.1")
        self.serial = 0
        self.table: RecordTable | None = None
        self.rebuilds = 0
        self.skipped = 0

    def event(self, ev: dict[str, Any], master_id: str, now: float) -> None:
        if self.live.apply(ev, master_id, now):
            self.serial += 1
            self.rebuilds += 1
            self.table = self.live.table(self.serial)
        else:
            self.skipped += 1


def _task(rng: random.Random, i: int, agents: int) -> dict[str, Any]:
    vip = f"/vip{i % 3}:80" if i % 7 == 0 else None
    return v1_task(
        f"t{i}",
        name=f"app{i % 5}.shop",
        agent=f"ag-S{i % agents}",
        ports=(31000 + i,),
        discovery=f"app{i % 5}" if i % 4 else None,
        vip=vip,
        container_ip=f"10.0.0.{i % 200 + 1}" if i % 3 == 0 else None,
    )


def _variant(rng: random.Random, task: dict[str, Any], i: int, agents: int) -> dict[str, Any]:
    """The same task as re-registered: mostly identical, sometimes changed."""
    roll = rng.random()
    if roll < 0.45:
        return _task(rng, i, agents)  # a fresh dict, equal content
    if roll < 0.65:  # as a new leader makes its status: no uuid, another source and time
        again = _task(rng, i, agents)
        status = dict(again["statuses"][-1]) if again["statuses"] else {"state": again["state"]}
        status.update(source="SOURCE_MASTER", timestamp=rng.random())
        if roll < 0.5:
            status["healthy"] = rng.random() < 0.5  # ... with a health result
        again["statuses"] = [status]
        return again
    if roll < 0.7:
        return v1_task(f"t{i}", name=f"app{i % 5}.shop", agent=f"ag-S{(i + 1) % agents}")
    if roll < 0.8:
        return {**task, "state": "TASK_STAGING"}
    if roll < 0.9:
        return v1_task(f"t{i}", name=f"app{i % 5}.shop", container_ip="10.9.9.9")
    return v1_task(f"t{i}", name=f"app{i % 5}.shop", vip="/moved:81")


@pytest.mark.parametrize("seed", range(5))
def test_a_quiet_stream_serves_the_table_of_a_rebuild_per_event(seed: int) -> None:
    rng = random.Random(seed)
    agents = 6
    n = 60
    tasks = {i: _task(rng, i, agents) for i in range(n)}
    agent_list = [v1_agent(f"ag-S{a}", f"127.0.1.{a + 1}") for a in range(agents)]
    quiet = Quiet()
    reference = ClusterView()
    set_leader(reference, "tcp://127.0.0.1:5050/master", "127.0.0.1")
    events: list[tuple[dict[str, Any], str, float]] = [
        (subscribed(list(tasks.values()), agent_list, [v1_framework()]), "m1", 0.0),
        # the new leader knows a few tasks and agents yet: the rest is carried
        (
            subscribed([tasks[i] for i in range(0, n, 5)], agent_list[:2], [v1_framework()]),
            "m2",
            1.0,
        ),
    ]
    for i in rng.sample(range(n + 10), n + 10):
        now = 1.0 + len(events) * 0.01
        if rng.random() < 0.15:
            a = rng.randrange(agents)
            ip = f"127.0.1.{a + 1}" if rng.random() < 0.8 else "127.0.2.9"
            events.append((agent_added(f"ag-S{a}", ip), "m2", now))
        if i >= n:
            events.append((task_added(_task(rng, i, agents)), "m2", now))  # a new task
        elif rng.random() < 0.1:
            events.append((task_updated(f"t{i}", "TASK_KILLED"), "m2", now))
        elif rng.random() < 0.2:  # a status changes the held task: then it is re-sent
            agent = rng.choice([None, f"ag-S{rng.randrange(agents)}"])
            healthy = rng.choice([None, True, False])
            ip = rng.choice([None, "10.8.8.8"])
            events.append(
                (update(f"t{i}", "TASK_RUNNING", agent=agent, ip=ip, healthy=healthy), "m2", now)
            )
            events.append((task_added(_variant(rng, tasks[i], i, agents)), "m2", now))
        else:
            events.append((task_added(_variant(rng, tasks[i], i, agents)), "m2", now))
        events.append((task_added(_variant(rng, tasks[i % n], i % n, agents)), "m2", now))
    for ev, master_id, now in events:
        quiet.event(ev, master_id, now)
        reference = apply_event(reference, ev, master_id, now, CARRY)
        want = build_table(reference, CONFIG, 1, vip_records(reference, SALT))
        assert quiet.table is not None
        _same(quiet.table, want)
        assert quiet.live.view.tasks == reference.tasks  # TaskView equality: all but raw
    assert quiet.skipped > len(events) // 4, (quiet.skipped, quiet.rebuilds)
    assert quiet.rebuilds > 10


def test_upsert_target_reads_the_key_as_the_view_does() -> None:
    ev = task_added(v1_task("t1", framework="fw-9"))
    assert upsert_target(ev) == ("task", "fw-9/t1")
    assert upsert_target(agent_added("ag-1", "127.0.0.5")) == ("agent", "ag-1")
    assert upsert_target(task_updated("t1", "TASK_RUNNING")) is None
    assert upsert_target({"type": "SUBSCRIBED"}) is None
    assert upsert_target("junk") is None
