"""``/master/state`` rendered from cached per-record texts (``state_json_bytes``) is
byte for byte ``json.dumps(state_json(...))``, before and after every kind of change,
and the core's ``generation`` moves with every change a view shows (the actor caches
the encoded document under it)."""

from __future__ import annotations

import json
from typing import Any

from actors import protocol as p
from actors.master import MasterConfig, MasterCore
from actors.master._offers import snapshot
from actors.master._state_json import state_json, state_json_bytes
from actors.resources import Resources
from tests.master.test_master_core import AGENT, AGENT2, FW, Cluster, sends

KW: dict[str, Any] = {
    "hostname": "m1",
    "address": "tcp://127.0.0.1:5050/master",
    "leader_address": "tcp://127.0.0.1:5050/master",
    "elected_time": 1000.0,
    "http_url": "http://127.0.0.1:5050",
}


def same_bytes(core: MasterCore) -> bytes:
    encoded = state_json_bytes(core, **KW)
    assert encoded == json.dumps(state_json(core, **KW)).encode()
    return encoded


def test_state_bytes_match_the_dict_through_every_kind_of_change() -> None:
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1.0, max_missed_pings=2), now=1000.0))
    first = same_bytes(c.core)  # no agent, no framework
    aid = c.add_agent(AGENT, "cpus:4;mem:4096;ports:[31000-31009]")
    c.add_agent(AGENT2, "cpus:2;mem:1024")
    fid = c.subscribe()
    assert same_bytes(c.core) != first
    offer = next(o for o in c.offers() if o.agent_id == aid)
    same_bytes(c.core)  # outstanding offers
    task = p.TaskInfo(
        task_id="t1",
        name="caf\u00e9 \u2603",  # non-ASCII: escaped as json.dumps does
        agent_id=aid,
        resources=Resources.parse("cpus:1;mem:256;ports:[31000-31000]").to_dict(),
        command=p.CommandSpec("sleep 100"),
        labels={"b": "2", "a": "1"},
    )
    c.handle(p.Accept(fid, [offer.offer_id], [p.Operation("LAUNCH", [task])]))
    c.launch(next(o for o in c.offers(10.0) if o.agent_id == aid), "t2", "cpus:1;mem:64")
    before = same_bytes(c.core)
    c.handle(p.StatusUpdate(fid, "t1", aid, "TASK_RUNNING", "u-1", c.now, healthy=True))
    after = same_bytes(c.core)
    assert after != before and b'"healthy": true' in after
    c.handle(p.StatusUpdate(fid, "t2", aid, "TASK_FAILED", "u-2", c.now, message="boom"))
    assert b'"completed_tasks": [{' in same_bytes(c.core)
    for _ in range(4):  # the agent stops answering: unreachable, its task too
        c.tick(1.0)
        c.handle(p.Pong(c.agent_ids[AGENT2], 0))
    doc = same_bytes(c.core)
    assert b'"unreachable_tasks": [{' in doc and b'"TASK_UNREACHABLE"' in doc


def test_generation_moves_with_changes_and_not_with_pongs() -> None:
    c = Cluster()
    aid = c.add_agent()
    g = c.core.generation
    c.handle(p.Pong(aid, 0))
    assert c.core.generation == g  # a pong changes nothing a view shows
    c.subscribe()
    assert c.core.generation > g
    g = c.core.generation
    out = c.tick()  # an allocation cycle makes an offer
    assert sends(out, FW, p.Offers) and c.core.generation > g
    g = c.core.generation
    c.core.tick(c.now)  # nothing due, nothing changed
    assert c.core.generation == g


def fresh_views(core: MasterCore) -> list[tuple[Any, ...]]:
    out = []
    for a in core.agents.values():
        allocated = a.used + a.offered
        free = a.total.saturating_sub(allocated)
        reachable = a.reachable and not a.recovering
        out.append((a.agent_id, a.hostname, a.total, allocated, free, a.attributes, reachable))
    return out


def cached_views(core: MasterCore) -> list[tuple[Any, ...]]:
    snap = snapshot(core, 0.0)
    return [
        (v.agent_id, v.hostname, v.total, v.allocated, v.free, v.attributes, v.reachable)
        for v in snap.agents
    ]


def test_the_allocators_agent_views_are_reused_only_while_unchanged() -> None:
    c = Cluster(MasterCore("m1", MasterConfig(ping_interval=1.0, max_missed_pings=2), now=1000.0))
    aid = c.add_agent(AGENT, "cpus:4;mem:4096")
    c.add_agent(AGENT2, "cpus:2;mem:1024")
    fid = c.subscribe()
    assert cached_views(c.core) == fresh_views(c.core)
    offer = next(o for o in c.offers() if o.agent_id == aid)  # offered: views change
    assert cached_views(c.core) == fresh_views(c.core)
    c.launch(offer, "t1", "cpus:1;mem:256")  # used changes, the rest is filtered
    assert cached_views(c.core) == fresh_views(c.core)
    c.handle(p.StatusUpdate(fid, "t1", aid, "TASK_FINISHED", "u-1", c.now))
    assert cached_views(c.core) == fresh_views(c.core)
    for _ in range(4):  # AGENT2 stops answering: unreachable
        c.tick(1.0)
        c.handle(p.Pong(aid, 0))
    assert cached_views(c.core) == fresh_views(c.core)
    assert [v[-1] for v in cached_views(c.core)] == [True, False]
