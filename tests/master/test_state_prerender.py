"""``/master/state``'s idle-time pre-render (``_state_json.prerender`` fed by
``_render_feed``, issue 29: the first GET after 90,000 tasks started rendered each of
their texts in the request). Pre-rendering only computes earlier what a render would:
whatever happens between renders and pre-renders, the bytes stay those of a render from
scratch; and after the idle calls the request renders no task text at all."""

from __future__ import annotations

import json
import operator
import random
from typing import Any

import pytest

from actors import protocol as p
from actors.framework import SchedulerDriver
from actors.master import (
    MasterActor,
    MasterConfig,
    MasterCore,
    MemoryRegistryStore,
    _render_feed,
    _state_json,
)
from actors.master._state_json import (
    QUIET,
    WARM_EVERY,
    WARM_QUIET,
    WARM_RESET,
    prerender,
    state_json,
    state_json_bytes,
)
from actors.protocol import GetState
from actors.resources import Attributes, Resources
from runtime import Node
from runtime.testing import wait_for
from tests.master.test_inprocess_cluster import Runner, resolver, start_cluster
from tests.master.test_master_core import AGENT, AGENT2, Cluster
from tests.master.test_state_cache import KW
from tests.master.test_state_json_incremental import _check

AGENT3 = "tcp://127.0.0.1:7003/agent"


def _launch(c: Cluster, offer: p.Offer, task_ids: list[str], app: str, labels: Any) -> None:
    infos = [
        p.TaskInfo(
            task_id=task_id,
            name=app,
            agent_id=offer.agent_id,
            resources=Resources.parse("cpus:0.1;mem:8").to_dict(),
            command=p.CommandSpec("sleep 100"),
            labels=labels,
            container=p.ContainerInfo(type="MESOS") if app.endswith("c") else None,
        )
        for task_id in task_ids
    ]
    c.handle(p.Accept(c.fid, [offer.offer_id], [p.Operation("LAUNCH", infos)], 0))


def _drain(core: MasterCore, now: float) -> int:
    calls = 0
    while prerender(core, now, budget=7):
        calls += 1
    return calls


def _pongs(c: Cluster, rng: random.Random) -> None:
    """Every agent answers its pings but AGENT2, which sometimes does not."""
    for address, agent_id in c.agent_ids.items():
        if address != AGENT2 or rng.random() < 0.6:
            c.handle(p.Pong(agent_id, 0))


@pytest.mark.parametrize("seed", range(8))
def test_renders_stay_exact_whatever_is_prerendered_between_them(seed: int) -> None:
    """Random launches (apps sharing labels, some with a container), updates (state,
    health, message), terminal updates, kills, agents coming and becoming unreachable,
    pre-renders of any budget at any time: every render equals one from scratch."""
    rng = random.Random(seed)
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1.0, max_missed_pings=3), now=1000.0))
    c.add_agent(AGENT, "cpus:64;mem:65536")
    c.add_agent(AGENT2, "cpus:64;mem:65536")
    fid = c.subscribe()
    labels = {app: {"MARATHON_APP_ID": "/" + app, "n": str(i)} for i, app in enumerate("abc")}
    live: dict[str, str] = {}
    counter = 0
    for _ in range(80):
        roll = rng.random()
        if roll < 0.3:
            offers = c.offers(advance=0.05)
            _pongs(c, rng)
            for offer in offers:
                app = rng.choice("abc")
                ids = [f"{app}.{counter + i:05d}" for i in range(rng.randrange(1, 6))]
                counter += len(ids)
                _launch(c, offer, ids, app, labels[app] if rng.random() < 0.8 else {})
                live.update(dict.fromkeys(ids, offer.agent_id))
        elif 0.3 <= roll < 0.6 and live:
            task_id = rng.choice(sorted(live))
            state = rng.choice(["TASK_RUNNING"] * 4 + ["TASK_FINISHED", "TASK_KILLED"])
            healthy = rng.choice([None, True, False])
            c.handle(
                p.StatusUpdate(
                    fid,
                    task_id,
                    live[task_id],
                    state,
                    f"u{rng.randrange(10**9)}",
                    c.now,
                    message=rng.choice(["", "up", "ünïcode"]),
                    healthy=healthy,
                )
            )
            if state != "TASK_RUNNING":
                del live[task_id]
        elif 0.6 <= roll < 0.65 and live:
            c.handle(p.Kill(fid, rng.choice(sorted(live))))
        elif 0.65 <= roll < 0.7:
            if AGENT3 not in c.agent_ids:
                c.add_agent(AGENT3, "cpus:8;mem:8192")
        elif 0.7 <= roll < 0.75:
            c.tick(advance=1.0)  # pings: an agent that does not answer becomes unreachable
            _pongs(c, rng)
        else:
            c.now += rng.choice([0.0, QUIET / 2, QUIET, 1.0])
            _pongs(c, rng)
            if rng.random() < 0.5:
                prerender(c.core, c.now, budget=rng.randrange(1, 20))
            else:
                _drain(c.core, c.now)
        if rng.random() < 0.3:  # else the next changes pile up before a render
            _check(c.core)
    _check(c.core)
    assert counter, "the run launched tasks"


def test_after_the_idle_calls_the_request_renders_no_task_or_agent_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:64;mem:65536")
    c.add_agent(AGENT2, "cpus:64;mem:65536")
    fid = c.subscribe()
    state_json_bytes(c.core, **KW)
    placed: dict[str, str] = {}
    for offer in c.offers():
        ids = [f"t{offer.agent_id[-4:]}.{i:03d}" for i in range(40)]
        _launch(c, offer, ids, "web", {"app": "web"})
        placed.update(dict.fromkeys(ids, offer.agent_id))
    for task_id, agent_id in placed.items():
        c.handle(p.StatusUpdate(fid, task_id, agent_id, "TASK_RUNNING", "u" + task_id, c.now))
    assert not prerender(c.core, c.now), "notes younger than QUIET wait"
    assert all(t.json_cache is None for t in c.core.tasks.values())
    assert _drain(c.core, c.now + QUIET) > 1, "bounded batches"
    assert fid not in _state_json._TASKS[c.core].fws, "the lists are joined once it is quiet"
    assert not prerender(c.core, c.now + QUIET + WARM_QUIET / 2)
    assert fid not in _state_json._TASKS[c.core].fws, "a launch may still go on"
    assert not prerender(c.core, c.now + QUIET + WARM_QUIET)
    expected = json.dumps(state_json(c.core, **KW)).encode()

    def no_render(*args: Any) -> str:
        raise AssertionError("the request rendered a text the idle calls should have")

    monkeypatch.setattr(_state_json, "task_text", no_render)
    monkeypatch.setattr(_state_json, "agent_text", no_render)
    blocks = list(_state_json._TASKS[c.core].fws[fid].blocks)
    assert blocks and all(b.joined for b in blocks), "the task list was joined while idle (_warm)"
    assert state_json_bytes(c.core, **KW) == expected
    again = _state_json._TASKS[c.core].fws[fid].blocks
    assert all(map(operator.is_, again, blocks)), "and not again in the GET"
    assert len(placed) == 80


def test_the_feed_is_bounded_and_a_dropped_note_only_costs_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_render_feed, "KEPT", 5)
    c = Cluster(MasterCore("m-bounded", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:64;mem:65536")
    fid = c.subscribe()
    [offer] = c.offers()
    ids = [f"x{i:02d}" for i in range(12)]
    _launch(c, offer, ids, "x", {})
    for task_id in ids:
        c.handle(p.StatusUpdate(fid, task_id, offer.agent_id, "TASK_RUNNING", task_id, c.now))
    feed = _render_feed.feed(c.core)
    assert feed is not None and [t.task_id for _, t in feed] == ids[-5:], "the newest kept"
    _drain(c.core, c.now + QUIET)
    assert not feed
    _check(c.core)


def test_the_master_actor_prerenders_on_its_idle_ticks() -> None:
    """Real actors in one process: once the tasks run and the master is idle, its
    ``Tick`` has rendered their texts before anyone asked for ``/master/state``."""
    node = Node("prerender", on_fatal=lambda reason: None)
    try:
        start_cluster(node, MemoryRegistryStore())
        sched = Runner(4, exit_state="")  # the tasks keep running
        SchedulerDriver(
            sched,
            p.FrameworkInfo("runner"),
            node,
            master="tcp://h:1/master",
            address="tcp://h:1/fw",
            resolve=resolver(node),
            name="fw",
        ).start()
        master = next(a for a in node.actors() if isinstance(a, MasterActor))

        def prerendered() -> bool:
            core = master.core
            records = list(core.tasks.values()) if core is not None else []
            running = [t for t in records if t.state.value == "TASK_RUNNING"]
            return len(running) == 4 and all(t.json_cache is not None for t in running)

        wait_for(prerendered, timeout=15, what="the running tasks' texts rendered while idle")
        body = node.ref("master").ask(GetState("state", {"encoded": True}))
        [fw] = json.loads(b"".join(body))["frameworks"]
        assert sorted(t["state"] for t in fw["tasks"]) == ["TASK_RUNNING"] * 4
    finally:
        node.shutdown(timeout=5)


def test_an_agent_text_follows_every_field_it_shows() -> None:
    """``agent_text`` keeps the text around the two ``offered`` maps per agent: any
    field it shows changing, one at a time and in any order, gives ``agent_json``'s."""
    rng = random.Random(7)
    c = Cluster(MasterCore("m-agent", MasterConfig(ping_interval=1e9), now=1000.0))
    aid = c.add_agent(AGENT, "cpus:8;mem:8192;ports:[31000-31009]")
    a = c.core.agents[aid]
    changes: list[Any] = [
        lambda: setattr(a, "offered", Resources.parse(f"cpus:{rng.randrange(1, 8)};mem:64")),
        lambda: setattr(a, "offered", Resources()),
        lambda: setattr(a, "used", Resources.parse(f"cpus:{rng.randrange(1, 8)};mem:32")),
        lambda: setattr(a, "total", Resources.parse(f"cpus:{rng.randrange(8, 16)};mem:8192")),
        lambda: setattr(a, "address", f"tcp://127.0.0.{rng.randrange(1, 9)}:7001/agent"),
        lambda: setattr(a, "hostname", rng.choice(["h1", "h2", "ünï"])),
        lambda: setattr(a, "registered_at", a.registered_at + 1.5),
        lambda: setattr(a, "attributes", Attributes({"rack": rng.choice("abc")})),
        lambda: setattr(a, "reachable", not a.reachable),
        lambda: setattr(a, "recovering", not a.recovering),
        lambda: setattr(a, "version", rng.choice(["", "1.11.0"])),
        lambda: a.tasks.add((c.fid, f"t{rng.randrange(10**6)}")),
    ]
    for wall in (0.0, 1.7e9):
        for _ in range(150):
            rng.choice(changes)()
            assert _state_json.agent_text(a, wall) == json.dumps(_state_json.agent_json(a, wall))


def test_the_state_pieces_join_to_the_bytes_and_an_unchanged_state_gives_the_same() -> None:
    """``state_json_chunks`` (what the gateway writes without joining) joins to what a
    render from scratch gives; nothing changed: the same tuple, its big pieces kept."""
    c = Cluster(MasterCore("m-chunks", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:8;mem:8192")
    fid = c.subscribe()
    [offer] = c.offers()
    _launch(c, offer, ["a.1", "a.2"], "a", {"x": "y"})
    first = _state_json.state_json_chunks(c.core, **KW)
    assert b"".join(first) == json.dumps(state_json(c.core, **KW)).encode()
    assert _state_json.state_json_chunks(c.core, **KW) is first
    c.handle(p.StatusUpdate(fid, "a.1", offer.agent_id, "TASK_RUNNING", "u1", c.now))
    second = _state_json.state_json_chunks(c.core, **KW)
    assert b"".join(second) == json.dumps(state_json(c.core, **KW)).encode()
    assert second[2] is first[2], "the agents' piece is kept (their texts did not change)"


def test_warm_ups_wait_for_a_quiet_wave_end_and_are_spaced() -> None:
    """A pause in a launch's status stream may look like the end of a wave: warm-ups
    (a pass over every task) are at least ``WARM_EVERY`` apart."""
    c = Cluster(MasterCore("m-spaced", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:64;mem:65536")
    fid = c.subscribe()
    [offer] = c.offers()
    ids = [f"w{i:02d}" for i in range(20)]
    _launch(c, offer, ids, "w", {})

    def wave(at: float, state: str) -> None:
        c.now = at
        for task_id in ids:
            c.handle(p.StatusUpdate(fid, task_id, offer.agent_id, state, task_id + state, at))
        _drain(c.core, at + QUIET)

    def passes() -> int:
        kept = _state_json._TASKS.get(c.core)
        return kept.passes if kept is not None else 0

    wave(c.now, "TASK_STARTING")
    first = c.now + QUIET + WARM_QUIET
    prerender(c.core, first)
    assert passes() == 1, "the wave's end: one warm-up"
    wave(first + 0.1, "TASK_RUNNING")
    prerender(c.core, first + 0.1 + QUIET + WARM_QUIET)
    assert passes() == 1, "another wave ended too soon after: it waits"
    prerender(c.core, first + WARM_EVERY)
    assert passes() == 2
    prerender(c.core, first + 2 * WARM_EVERY)
    assert passes() == 2, "nothing new: no warm-up"
    # The wave outlived both warm-ups: the next waits for twice the quiet each time.
    second = first + WARM_EVERY
    last = second + WARM_EVERY  # the notes' time: the wave outlived the second warm-up
    wave(last, "TASK_RUNNING")
    prerender(c.core, last + 2 * WARM_QUIET)
    assert passes() == 2, "a pause as long as the last one is no longer the end"
    prerender(c.core, last + 4 * WARM_QUIET)
    assert passes() == 3
    # A wave long after the last one starts over with WARM_QUIET.
    third = last + 4 * WARM_QUIET
    wave(third + WARM_RESET, "TASK_RUNNING")
    prerender(c.core, third + WARM_RESET + WARM_QUIET)
    assert passes() == 4
    _check(c.core)
