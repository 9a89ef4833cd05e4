"""The incremental table (``TableIndex`` + ``VipNames``, what the DnsActor serves) equals
``build_table`` + ``vip_records`` (the full build) after every event: every name's
records in the same order, the same existing names, the same ``/v1/enumerate``."""

from __future__ import annotations

import functools
import random
from typing import Any

import pytest

from actors.dns import ClusterView, DnsConfig, LiveTable, build_table, set_leader
from actors.dns._index import COMPACT_MIN, Layered, Published
from actors.dns._records import RecordTable
from actors.dns._vips import vip_records, vip_salt
from tests.dns._events import subscribed, task_added, task_updated, v1_agent, v1_task

CONFIG = DnsConfig(ttl=5, ns_ip="127.0.0.1")
SALT = "127.0.0.1:2181"


class Mirror:
    """The DnsActor's table path (``LiveTable``, what the actor serves) beside the full
    build over the same view."""

    def __init__(self) -> None:
        self.live = LiveTable(CONFIG, functools.partial(vip_records, salt=SALT), 15.0)
        set_leader(self.live.view, "tcp://127.0.0.1:5050/master", "127.0.0.1")
        self.serial = 0
        self.quiet = 0
        """Events after which ``apply`` said the table stays (checked all the same)."""

    @property
    def view(self) -> ClusterView:
        return self.live.view

    def event(self, ev: dict[str, Any], master_id: str = "m1", now: float = 0.0) -> None:
        if not self.live.apply(ev, master_id, now):
            self.quiet += 1

    def expire(self, now: float) -> None:
        self.live.expire(now)

    def tables(self) -> tuple[RecordTable, RecordTable]:
        self.serial += 1
        got = self.live.table(self.serial)
        want = build_table(self.view, CONFIG, self.serial, vip_records(self.view, SALT))
        return got, want

    def check(self) -> RecordTable:
        got, want = self.tables()
        assert_same(got, want)
        return got


def assert_same(got: RecordTable, want: RecordTable) -> None:
    assert dict(got.a) == dict(want.a)
    assert dict(got.srv) == dict(want.srv)
    assert len(got.a) == len(want.a) and len(got.srv) == len(want.srv)
    assert set(got.names) == set(want.names)  # type: ignore[call-overload]
    for name in want.names:  # type: ignore[attr-defined]
        assert got.exists(name)
    assert got.enumerate == want.enumerate
    assert (got.serial, got.ready, got.config) == (want.serial, want.ready, want.config)


def fw_event(kind: str, fid: str, name: str, host: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"id": {"value": fid}, "name": name}
    if host:
        info["hostname"] = host
    if kind == "FRAMEWORK_REMOVED":
        return {"type": kind, "framework_removed": {"framework_info": info}}
    key = "framework_added" if kind == "FRAMEWORK_ADDED" else "framework_updated"
    return {"type": kind, key: {"framework": {"framework_info": info, "active": True}}}


def agent_added(agent_id: str, ip: str, port: int = 5051) -> dict[str, Any]:
    return {"type": "AGENT_ADDED", "agent_added": {"agent": v1_agent(agent_id, ip, port)}}


def agent_removed(agent_id: str) -> dict[str, Any]:
    return {"type": "AGENT_REMOVED", "agent_removed": {"agent_id": {"value": agent_id}}}


def update(
    task_id: str,
    state: str,
    framework: str = "fw-1",
    *,
    agent: str | None = None,
    ip: str | None = None,
    healthy: bool | None = None,
) -> dict[str, Any]:
    ev = task_updated(task_id, state, framework)
    status = ev["task_updated"]["status"]
    if agent:
        status["agent_id"] = {"value": agent}
    if ip:
        status["container_status"] = {"network_infos": [{"ip_addresses": [{"ip_address": ip}]}]}
    if healthy is not None:
        status["healthy"] = healthy
    return ev


# ---------------------------------------------------------------- table-driven

BASE = subscribed(
    [
        v1_task("web.1", agent="ag-S0", vip="/web:80"),
        v1_task("web.2", agent="ag-S1", vip="/web:80"),
        v1_task("db.1", name="db", discovery=None, agent="ag-S1", ports=(31005, 31006)),
    ],
    agents=[v1_agent("ag-S0", "127.0.0.2"), v1_agent("ag-S1", "127.0.0.3", 5052)],
    frameworks=[{"framework_info": {"id": {"value": "fw-1"}, "name": "marathon"}}],
)

CASES: dict[str, list[dict[str, Any]]] = {
    "a task launches: staging, running": [
        task_added(v1_task("web.3", agent="ag-S0", state="TASK_STAGING", vip="/web:80")),
        update("web.3", "TASK_RUNNING"),
    ],
    "a task is killed, then its sibling": [
        update("web.1", "TASK_KILLING"),
        update("web.1", "TASK_KILLED"),
        update("web.2", "TASK_FINISHED"),
    ],
    "the first task listing a shared record goes: the next lists it": [
        task_added(v1_task("web.0", agent="ag-S0")),
        update("web.0", "TASK_FAILED"),
        update("web.1", "TASK_LOST"),
    ],
    "a health result alone, then a container IP": [
        update("web.1", "TASK_RUNNING", healthy=False),
        update("web.1", "TASK_RUNNING", ip="10.0.0.7"),
    ],
    "an agent changes IP, goes away and comes back": [
        agent_added("ag-S0", "127.0.0.9"),
        agent_removed("ag-S1"),
        agent_added("ag-S1", "127.0.0.3", 5060),
    ],
    "a task moves agent in a status update": [update("db.1", "TASK_RUNNING", agent="ag-S0")],
    "a framework is renamed, removed, added with a host": [
        fw_event("FRAMEWORK_UPDATED", "fw-1", "Marathon_Prod"),
        fw_event("FRAMEWORK_REMOVED", "fw-1", "Marathon_Prod"),
        fw_event("FRAMEWORK_ADDED", "fw-1", "jobs.prod", "127.0.0.5"),
        fw_event("FRAMEWORK_ADDED", "fw-2", "web", "127.0.0.5"),
    ],
    "a second framework with the same name": [
        fw_event("FRAMEWORK_ADDED", "fw-2", "marathon"),
        task_added(v1_task("web.1", framework="fw-2", agent="ag-S1")),
        fw_event("FRAMEWORK_REMOVED", "fw-1", "marathon"),
    ],
    "VIP names come and go with their tasks": [
        task_added(v1_task("api.1", name="api", discovery="api", vip="/api:8080")),
        task_added(v1_task("ip.1", name="ip", discovery="ip", vip="10.1.2.3:80")),
        update("api.1", "TASK_KILLED"),
        update("web.1", "TASK_KILLED"),
        update("web.2", "TASK_KILLED"),
    ],
    "malformed events change nothing": [
        {"type": "TASK_UPDATED", "task_updated": "x"},
        {"type": "AGENT_ADDED", "agent_added": {"agent": {"pid": "nope"}}},
        {"type": "FRAMEWORK_ADDED"},
        {"type": "HEARTBEAT"},
    ],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_change_gives_the_full_build(case: str) -> None:
    m = Mirror()
    m.event(BASE)
    m.check()
    for ev in CASES[case]:
        m.event(ev)
        m.check()


def test_failover_carries_tasks_then_expires_them() -> None:
    m = Mirror()
    m.event(BASE, "m1", now=0.0)
    m.check()
    m.event(subscribed([v1_task("web.1", agent="ag-S0", vip="/web:80")]), "m2", now=1.0)
    m.check()
    assert m.view.carried
    m.event(task_added(v1_task("web.2", agent="ag-S1", vip="/web:80")), "m2", now=2.0)
    m.check()
    m.expire(20.0)
    m.check()
    assert not m.view.carried


def test_a_fresh_state_with_changed_vip_labels_the_dns_view_does_not_read() -> None:
    """A port numbered 0 (a container port) is not a DNS port, but its VIP label
    counts: a fresh state changing only that label changes only the VIP names."""
    m = Mirror()
    task = v1_task("api.1", name="api", discovery="api", vip="/api:80")
    task["discovery"]["ports"]["ports"][0]["number"] = 0
    m.event(subscribed([task]))
    assert "api.marathon.l4lb.thisdcos.directory." in m.check().a
    again = v1_task("api.1", name="api", discovery="api", vip="/api2:80")
    again["discovery"]["ports"]["ports"][0]["number"] = 0
    m.event(subscribed([again]))
    assert "api2.marathon.l4lb.thisdcos.directory." in m.check().a


def test_the_leader_and_masters_change() -> None:
    m = Mirror()
    m.event(BASE)
    m.check()
    set_leader(m.view, "tcp://127.0.0.4:5055/master", "127.0.0.1", ("127.0.0.6",))
    m.check()
    set_leader(m.view, None, "127.0.0.1")
    m.check()


def test_an_old_table_stays_as_it_was_after_later_changes() -> None:
    m = Mirror()
    m.event(BASE)
    first = m.check()
    a, srv, names, enum = dict(first.a), dict(first.srv), set(first.names), first.enumerate  # type: ignore[call-overload]
    for i in range(50):
        m.event(task_added(v1_task(f"more.{i}", name=f"more{i}", agent="ag-S1")))
        m.check()
    m.event(update("web.1", "TASK_KILLED"))
    m.check()
    assert (dict(first.a), dict(first.srv), set(first.names)) == (a, srv, names)  # type: ignore[call-overload]
    assert first.enumerate == enum


def test_published_snapshots_compact_and_keep_their_contents() -> None:
    store: Published[int] = Published()
    snaps: list[tuple[Layered[int], dict[str, int]]] = []
    truth: dict[str, int] = {}
    rng = random.Random(7)
    for step in range(3 * COMPACT_MIN):
        key = f"k{rng.randrange(2 * COMPACT_MIN)}"
        if rng.random() < 0.3:
            store.delete(key)
            truth.pop(key, None)
        else:
            store.set(key, step)
            truth[key] = step
        if step % 997 == 0:
            snaps.append((store.snapshot(), dict(truth)))
    snaps.append((store.snapshot(), dict(truth)))
    for snap, want in snaps:
        assert dict(snap) == want and len(snap) == len(want)
        assert all(k in snap for k in want) and "nope" not in snap
    assert len(store.pending) <= COMPACT_MIN + 1


def test_only_vip_records_itself_is_kept_incrementally() -> None:
    assert vip_salt(vip_records) == ""
    assert vip_salt(functools.partial(vip_records, salt="s")) == "s"
    assert vip_salt(lambda view: {}) is None
    assert vip_salt(functools.partial(vip_records, ClusterView())) is None


# ---------------------------------------------------------------- randomized

AGENTS = ["ag-S0", "ag-S1", "ag-S2", "ag-S3"]
AGENT_IPS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
FWS = ["fw-1", "fw-2", "fw-3"]
FW_NAMES = ["marathon", "metronome", "jobs.prod", "Web_Fw", "web.marathon", "marathon", "-"]
TASK_NAMES = ["web.shop", "db", "Web_Server.01", "cache", "9lives", "web"]
DISCOVERY = [None, "web-shop", "db", "web"]
VIPS = [None, "/web:80", "/db:5432", "10.1.2.3:80", "bad", "/Web:80"]
STATES = ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_RUNNING", "TASK_KILLING"]
STATES += ["TASK_UNREACHABLE", "TASK_FINISHED", "TASK_KILLED", "TASK_LOST"]


def random_task(rng: random.Random, task_id: str) -> dict[str, Any]:
    ports = tuple(rng.sample([31000, 31001, 31002, 31003], rng.randrange(3)))
    return v1_task(
        task_id,
        name=rng.choice(TASK_NAMES),
        framework=rng.choice(FWS),
        agent=rng.choice(AGENTS),
        state=rng.choice(STATES[:5]),
        ports=ports,
        discovery=rng.choice(DISCOVERY),
        vip=rng.choice(VIPS),
        container_ip=rng.choice([None, None, "10.0.0.5", "10.0.0.6"]),
    )


def random_event(rng: random.Random, ids: list[str]) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.3:
        return task_added(random_task(rng, rng.choice(ids)))
    if roll < 0.65:
        return update(
            rng.choice(ids),
            rng.choice(STATES),
            rng.choice(FWS),
            agent=rng.choice([None, None, None, *AGENTS]),
            ip=rng.choice([None, None, "10.0.0.8"]),
            healthy=rng.choice([None, True, False]),
        )
    if roll < 0.75:
        return agent_added(rng.choice(AGENTS), rng.choice(AGENT_IPS), rng.choice([5051, 5052]))
    if roll < 0.8:
        return agent_removed(rng.choice(AGENTS))
    if roll < 0.9:
        kind = rng.choice(["FRAMEWORK_ADDED", "FRAMEWORK_UPDATED"])
        host = rng.choice([None, "127.0.0.7", "127.0.0.8"])
        return fw_event(kind, rng.choice(FWS), rng.choice(FW_NAMES), host)
    if roll < 0.93:
        return fw_event("FRAMEWORK_REMOVED", rng.choice(FWS), "")
    return {"type": "HEARTBEAT"}


def random_state(rng: random.Random, ids: list[str]) -> dict[str, Any]:
    tasks = [random_task(rng, i) for i in rng.sample(ids, rng.randrange(len(ids)))]
    agents = [v1_agent(a, rng.choice(AGENT_IPS)) for a in AGENTS if rng.random() < 0.8]
    fws = [
        {"framework_info": {"id": {"value": f}, "name": rng.choice(FW_NAMES)}}
        for f in FWS
        if rng.random() < 0.8
    ]
    return subscribed(tasks, agents, fws)


@pytest.mark.parametrize("seed", range(12))
def test_random_event_sequences_give_the_full_build_after_every_event(seed: int) -> None:
    rng = random.Random(seed)
    ids = [f"t{i}" for i in range(25)]
    m = Mirror()
    master, now = "m1", 0.0
    m.event(random_state(rng, ids), master, now)
    m.check()
    for _ in range(300):
        now += 0.5
        roll = rng.random()
        if roll < 0.02:  # a failover: the new leader's state lacks some tasks
            master = "m2" if master == "m1" else "m1"
            m.event(random_state(rng, ids), master, now)
        elif roll < 0.04:
            m.expire(now + rng.choice([0.0, 20.0]))
        elif roll < 0.05:
            set_leader(m.view, f"tcp://127.0.0.{rng.randrange(2, 5)}:5050/master", "127.0.0.1")
        else:
            # several events may come between two tables (the actor coalesces them),
            # a fresh state among them
            for _ in range(rng.choice([1, 1, 1, 2, 5])):
                if rng.random() < 0.03:
                    m.event(random_state(rng, ids), rng.choice(["m1", "m2"]), now)
                else:
                    m.event(random_event(rng, ids), master, now)
        m.check()
