"""A new leader reads its agents' registry while it already takes re-registrations in.

10,000 agent records take a new leader seconds to read; it used to read them before
serving anything. Now the read runs beside the master actor, and its records are merged
(``MasterCore.merge_agents``) into whatever came back meanwhile. Random storms split at
a random point end with the same books, the same registry content and the same recovery
outcome as reading the registry first. Decisions only (no I/O, manual time).
"""

from __future__ import annotations

import random
from typing import Any

from actors import protocol as p
from actors.master._master_core import MasterConfig, MasterCore, Persist, Send
from actors.master._state_json import slaves_json, tasks_json
from actors.resources import Resources

RES = Resources.parse("cpus:4;mem:4096").to_dict()
TRES = Resources.parse("cpus:0.5;mem:64").to_dict()
FWS = [{"framework_id": "fw", "name": "marathon", "failover_timeout": 600.0}]
CONFIG = MasterConfig(agent_reregister_timeout=30.0, ping_interval=600.0)


def _addr(i: int) -> str:
    return f"tcp://127.0.0.1:{7000 + i}/agent"


def _doc(i: int) -> dict[str, Any]:
    return {
        "agent_id": f"a{i}",
        "hostname": f"h{i}",
        "address": _addr(i),
        "resources": RES,
        "registered_at": 100.0 + i,
    }


def _rereg(i: int, tasks: int, moved: bool) -> p.ReregisterAgent:
    ts = [
        p.AgentTask(
            p.TaskInfo(f"t{i}.{k}", f"t{i}.{k}", f"a{i}", TRES, p.CommandSpec("x")),
            "fw",
            "TASK_RUNNING",
        )
        for k in range(tasks)
    ]
    address = _addr(i + 1000) if moved else _addr(i)
    return p.ReregisterAgent(f"a{i}", f"h{i}", address, RES, tasks=ts, copy_id=f"c{i}")


def _apply(registry: dict[str, dict[str, Any]], out: list[Any]) -> None:
    for e in out:
        if isinstance(e, Persist) and e.kind == "agents":
            registry[e.key] = e.value


def _view(core: MasterCore, registry: dict[str, Any]) -> Any:
    agents = sorted(
        (s["id"], s["active"], s["hostname"], s["pid"], s["registered_time"])
        for s in slaves_json(core)["slaves"]
    )
    tasks = sorted(
        (t["id"], t["slave_id"], t["state"]) for t in tasks_json(core, limit=10**6)["tasks"]
    )
    recovering = sorted(a.agent_id for a in core.agents.values() if a.recovering)
    return agents, tasks, recovering, registry, core.recovery_deadline is None


def _run(
    docs: list[dict[str, Any]], msgs: list[Any], split: int | None, end: float
) -> tuple[Any, list[Any]]:
    """``split`` None: the registry is read first (the old way); else merged after
    ``msgs[:split]``. Then the rest, then a tick at ``end``."""
    registry = {d["agent_id"]: dict(d) for d in docs}
    sent: list[Any] = []
    if split is None:
        core = MasterCore("m2", CONFIG, now=0.0, recovered_agents=docs, recovered_frameworks=FWS)
    else:
        core = MasterCore("m2", CONFIG, now=0.0, recovered_frameworks=FWS, agents_pending=True)
    now = 0.0
    for n, m in enumerate(msgs):
        if n == split:
            _apply(registry, core.merge_agents(docs, now))
        now += 0.01
        out = core.handle(m, now)
        _apply(registry, out)
        sent += [type(e.message).__name__ for e in out if isinstance(e, Send)]
    if split is not None and split >= len(msgs):
        _apply(registry, core.merge_agents(docs, now))
    _apply(registry, core.tick(end))
    return _view(core, registry), sent


def test_random_storms_merged_at_any_point_end_as_if_the_registry_was_read_first() -> None:
    for seed in range(30):
        rng = random.Random(seed)
        n = rng.randint(1, 25)
        docs = [_doc(i) for i in range(n)]
        back = rng.sample(range(n), rng.randint(0, n))
        msgs: list[Any] = []
        for i in back:
            msgs.append(_rereg(i, rng.randint(0, 3), moved=rng.random() < 0.2))
            if rng.random() < 0.3:  # a resend naming its copy, or a repeat
                msgs.append(p.ReregisterAgentAgain(f"a{i}", msgs[-1].address, f"c{i}"))
        if rng.random() < 0.3:
            msgs.append(p.Reconcile("fw", []))
        split = rng.randint(0, len(msgs))
        # Before the window ends, and after it (the ones not back are unreachable).
        for end in (1.0, 31.0):
            old, old_sent = _run(docs, msgs, None, end)
            new, new_sent = _run(docs, msgs, split, end)
            assert new == old, (seed, split, end)
            assert sorted(new_sent) == sorted(old_sent), (seed, split, end)


def test_the_window_stays_open_until_the_registry_is_read() -> None:
    core = MasterCore("m2", CONFIG, now=0.0, recovered_frameworks=FWS, agents_pending=True)
    assert core.recovery_deadline == 30.0
    core.handle(_rereg(0, 1, moved=False), 1.0)
    # A reconciliation waits for the window (the registry may know more agents).
    out = core.handle(p.Reconcile("fw", []), 2.0)
    assert not [e for e in out if isinstance(e, Send) and isinstance(e.message, p.StatusUpdate)]
    core.tick(40.0)  # past the deadline, but the registry is not read yet: still open
    assert core.recovery_deadline is not None
    out = core.merge_agents([_doc(0)], 41.0)  # a0 is back: the window closes now
    assert core.recovery_deadline is None
    assert [
        e.message.task_id
        for e in out
        if isinstance(e, Send) and isinstance(e.message, p.StatusUpdate)
    ] == ["t0.0"]
