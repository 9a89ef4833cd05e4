"""A new leader's re-registration storm through the DNS table (``LiveTable``) and the
VIP table (``VipTable``), with the agents the new leader lists as ``recovered_agents``:
their tasks are carried until each agent re-registers (then what it did not re-send goes
``carry_for`` later) or is removed (its tasks go at once), however long the storm lasts.
Random storms (unchanged and changed re-registrations, lost tasks, agents removed, kills,
resubscriptions, time passing) must give, table by table, ``build_table`` over the view,
and at the end the table of a fresh state of what the leader knows."""

from __future__ import annotations

import copy
import functools
import random
from typing import Any

import pytest

from actors.dns import ClusterView, LiveTable, apply_event, build_table, set_leader
from actors.dns._records import RecordTable, expire_carried
from actors.dns._vips import vip_records
from actors.l4lb import VipTable
from tests.dns._events import subscribed, task_added, task_updated, v1_agent, v1_framework, v1_task
from tests.dns.test_incremental import CONFIG, SALT, agent_added, agent_removed

CARRY = 15.0
LEADER = "tcp://127.0.0.1:5050/master"


def _same(got: RecordTable, want: RecordTable) -> None:
    assert dict(got.a) == dict(want.a)
    assert dict(got.srv) == dict(want.srv)
    assert set(got.names) == set(want.names)  # type: ignore[call-overload]
    assert got.enumerate == want.enumerate


def state_of(
    tasks: dict[int, dict[str, Any]], agents: dict[int, str], recovering: list[int]
) -> dict[str, Any]:
    """SUBSCRIBED of a leader that took in ``agents`` (with ``tasks``) and lists
    ``recovering`` as recovered_agents."""
    ev = subscribed(
        [copy.deepcopy(t) for t in tasks.values()],
        [v1_agent(f"ag-S{a}", ip) for a, ip in agents.items()],
        [v1_framework()],
    )
    infos = [v1_agent(f"ag-S{a}")["agent_info"] for a in recovering]
    ev["subscribed"]["get_state"]["get_agents"]["recovered_agents"] = infos
    return ev


def _task(i: int, agent: int, *, ip: str | None = None, state: str = "TASK_RUNNING") -> Any:
    return v1_task(
        f"t{i}",
        name=f"app{i % 4}.shop",
        agent=f"ag-S{agent}",
        ports=(31000 + i,),
        discovery=f"app{i % 4}" if i % 3 else None,
        vip=f"/vip{i % 2}:80" if i % 5 == 0 else None,
        container_ip=ip,
        state=state,
    )


def waiting_tasks(events: list[Any], upto: int, agents: int = 8) -> set[str]:
    """The old leader's tasks on the agents the new leader still waits for after
    ``events[:upto]`` (not registered in its first state, neither added nor removed
    since: listed as recovered or not)."""
    waiting: set[str] = set()
    for n, (ev, _, _) in enumerate(events[:upto]):
        kind = ev["type"]
        if kind == "SUBSCRIBED" and n == 2:  # the new leader's first state
            registered = {a["agent_info"]["id"]["value"] for a in _agents_of(ev)}
            waiting = {f"ag-S{a}" for a in range(agents)} - registered
        elif kind == "AGENT_ADDED":
            waiting.discard(ev["agent_added"]["agent"]["agent_info"]["id"]["value"])
        elif kind == "AGENT_REMOVED":
            waiting.discard(ev["agent_removed"]["agent_id"]["value"])
    old = events[0][0]["subscribed"]["get_state"]["get_tasks"]["tasks"]
    return {
        t["task_id"]["value"]
        for t in old
        if t["agent_id"]["value"] in waiting and t["task_id"]["value"] != "t3"
    }


def _agents_of(ev: dict[str, Any]) -> list[dict[str, Any]]:
    return ev["subscribed"]["get_state"]["get_agents"]["agents"]  # type: ignore[no-any-return]


def storm(
    rng: random.Random, agents: int = 8, per_agent: int = 6, listed: bool = True
) -> tuple[list[Any], Any]:
    """(events as (event, master id, now)), the final truth's SUBSCRIBED). ``listed``:
    the new leader lists the agents it waits for as recovered (False: a leader that
    had not read its registry yet lists none)."""
    ips = {a: f"127.0.1.{a + 1}" for a in range(agents)}
    tasks = {i: _task(i, i % agents) for i in range(agents * per_agent)}
    events: list[tuple[dict[str, Any], str, float]] = [
        (state_of(tasks, ips, []), "m1", 0.0),
        (task_updated("t3", "TASK_KILLED"), "m1", 0.1),
    ]
    del tasks[3]
    early = set(rng.sample(range(agents), 2))
    truth_agents = {a: ips[a] for a in early}
    truth = {i: t for i, t in tasks.items() if i % agents in early}
    pending = [a for a in range(agents) if a not in early]
    rng.shuffle(pending)
    events.append((state_of(truth, truth_agents, pending if listed else []), "m2", 1.0))
    now = 1.0
    while pending:
        a = pending.pop()
        now += rng.choice([0.5, 3.0, 9.0])  # the storm outlasts CARRY
        roll = rng.random()
        if roll < 0.15:
            events.append((agent_removed(f"ag-S{a}"), "m2", now))
        else:
            ip = ips[a] if rng.random() < 0.85 else f"127.0.2.{a + 1}"
            truth_agents[a] = ip
            events.append((agent_added(f"ag-S{a}", ip), "m2", now))
            for i in [i for i in tasks if i % agents == a]:
                r = rng.random()
                if r < 0.08:
                    continue  # the agent no longer runs it: not re-sent
                if r < 0.16:
                    t = _task(i, a, ip=f"10.9.9.{i}")
                elif r < 0.2:
                    t = _task(i, a, state="TASK_STAGING")
                else:
                    t = _task(i, a)  # unchanged (a fresh dict)
                truth[i] = t
                events.append((task_added(t), "m2", now))
        if rng.random() < 0.15 and truth:
            i = rng.choice(sorted(truth))
            del truth[i]
            events.append((task_updated(f"t{i}", "TASK_KILLED"), "m2", now))
        if rng.random() < 0.08:  # a resubscription to the same leader mid-storm
            events.append((state_of(truth, truth_agents, pending if listed else []), "m2", now))
    events.append(({"type": "HEARTBEAT"}, "m2", now + 700.0))
    return events, state_of(truth, truth_agents, [])


@pytest.mark.parametrize("listed", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_dns_table_through_a_long_storm_equals_the_leaders_fresh_state(
    seed: int, listed: bool
) -> None:
    rng = random.Random(seed)
    events, final = storm(rng, listed=listed)
    live = LiveTable(CONFIG, functools.partial(vip_records, salt=SALT), CARRY)
    set_leader(live.view, LEADER, "127.0.0.1")
    serial = 0
    asked = quiet = 0
    for n, (ev, master_id, now) in enumerate(events):
        if live.carried_due(now) and live.expire(now):
            asked += 1
        if live.apply(ev, master_id, now):
            asked += 1
        elif ev["type"] in ("TASK_ADDED", "AGENT_ADDED"):
            quiet += 1
        # the tasks of the agents the leader still waits for keep answering
        assert {f"fw-1/{t}" for t in waiting_tasks(events, n + 1)} <= set(live.view.tasks)
        if rng.random() < 0.3:  # the actor tables when paced: any moment
            serial += 1
            ref = build_table(live.view, CONFIG, serial, vip_records(live.view, SALT))
            _same(live.table(serial), ref)
    fresh = ClusterView()
    set_leader(fresh, LEADER, "127.0.0.1")
    fresh = apply_event(fresh, final, "m3", 0.0, CARRY)
    assert not (live.view.carried or live.view.carried_agents or live.view.recovering)
    _same(live.table(serial + 1), build_table(fresh, CONFIG, 0, vip_records(fresh, SALT)))
    assert quiet > asked  # most re-registrations ask for no table


def test_recovering_agents_keep_their_tasks_until_they_come_back_or_go() -> None:
    tasks = {i: _task(i, i % 3) for i in range(6)}  # t0,t3 on ag-S0; t1,t4; t2,t5
    ips = {a: f"127.0.1.{a + 1}" for a in range(4)}  # ag-S3 runs nothing
    view = apply_event(ClusterView(), state_of(tasks, ips, []), "m1", 0.0, CARRY)
    # ag-S0, ag-S1, ag-S3 are recovering; ag-S2 the new leader neither has nor lists
    view = apply_event(view, state_of({}, {}, [0, 1, 3]), "m2", 10.0, CARRY)
    assert set(view.recovering) == {"ag-S0", "ag-S1", "ag-S3"}
    assert view.agents["ag-S3"] == ("127.0.1.4", 5051)  # its slave.mesos record stays
    assert not expire_carried(view, 10.0 + CARRY - 0.1)
    assert expire_carried(view, 10.0 + CARRY)  # the unlisted agent's tasks: carry_for
    assert set(view.tasks) == {"fw-1/t0", "fw-1/t3", "fw-1/t1", "fw-1/t4"}
    assert not expire_carried(view, 100.0)  # the recovering ones: long past carry_for
    # ag-S0 comes back with t0 only: t3 goes carry_for later
    view = apply_event(view, agent_added("ag-S0", ips[0]), "m2", 100.0, CARRY)
    view = apply_event(view, task_added(tasks[0]), "m2", 100.0, CARRY)
    assert "fw-1/t0" not in view.carried and view.carried["fw-1/t3"] == 100.0 + CARRY
    # the leader gives up on ag-S1: its tasks go at once
    view = apply_event(view, agent_removed("ag-S1"), "m2", 101.0, CARRY)
    view = apply_event(view, agent_removed("ag-S3"), "m2", 101.0, CARRY)
    assert set(view.tasks) == {"fw-1/t0", "fw-1/t3"} and not view.recovering
    assert "ag-S3" not in view.agents and "ag-S1" not in view.agents
    # a resubscription to the same leader keeps what is still carried (not only its state)
    view = apply_event(view, state_of({0: tasks[0]}, {0: ips[0]}, []), "m2", 102.0, CARRY)
    assert set(view.tasks) == {"fw-1/t0", "fw-1/t3"}
    assert expire_carried(view, 100.0 + CARRY) and set(view.tasks) == {"fw-1/t0"}


def test_live_table_expires_an_agents_unsent_tasks_carry_for_after_it_came_back() -> None:
    tasks = {i: _task(i, 0) for i in range(2)}
    live = LiveTable(CONFIG, functools.partial(vip_records, salt=SALT), CARRY)
    live.apply(state_of(tasks, {0: "127.0.1.1"}, []), "m1", 0.0)
    live.apply(state_of({}, {}, [0]), "m2", 1.0)
    assert not live.carried_due(500.0)
    live.apply(agent_added("ag-S0", "127.0.1.1"), "m2", 500.0)
    live.apply(task_added(tasks[0]), "m2", 500.0)
    assert not live.carried_due(500.0 + CARRY - 0.1)
    assert live.carried_due(500.0 + CARRY) and live.expire(500.0 + CARRY)
    assert set(live.view.tasks) == {"fw-1/t0"}


@pytest.mark.parametrize("listed", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_vip_table_through_a_long_storm_equals_the_leaders_fresh_state(
    seed: int, listed: bool
) -> None:
    rng = random.Random(seed)
    events, final = storm(rng, listed=listed)
    table = VipTable(salt=SALT)
    previous = ""
    for n, (ev, master_id, now) in enumerate(events):
        table.expire(now)
        before = table.vips()
        if ev["type"] == "SUBSCRIBED":
            new_leader = bool(previous) and master_id != previous
            table.apply(
                ev, carry_until=now + CARRY if new_leader else None, recover_until=now + 600.0
            )
            previous = master_id
        elif not table.apply(ev, back_until=now + CARRY):
            assert table.vips() == before  # "nothing changed" is true
        assert waiting_tasks(events, n + 1) <= set(table.tasks)
    fresh = VipTable(salt=SALT)
    fresh.apply(final)
    assert not table.carried and not table.recovering
    assert table.vips() == fresh.vips()
    assert any(vip.backends for vip in fresh.vips().values())


def test_a_re_sent_task_whose_resources_differ_only_off_its_ports_is_unchanged() -> None:
    """A new leader renders a re-registered task's resources from the agent's report
    (another role, allocation info): the DNS reads only their host ports."""
    from actors.dns._quiet import unchanged_task
    from actors.dns._records import task_view

    raw = _task(5, 0)
    held = task_view(raw)
    assert held is not None
    again = copy.deepcopy(raw)
    for r in again["resources"]:
        r["role"] = "slave_public"
        r["allocation_info"] = {"role": "slave_public"}
    assert unchanged_task(held, again)
    moved = copy.deepcopy(again)
    moved["resources"][1]["ranges"]["range"] = [{"begin": 31999, "end": 31999}]
    assert not unchanged_task(held, moved)
