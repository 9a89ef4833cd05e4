"""``/master/state`` re-renders only the task records marked since the last render
(``_render_feed.touched``): every write of a field the task's JSON shows must mark its
record, or the cached answer would show a stale text. Two safety nets: a scan of
``actors/master`` for functions that assign a shown field without calling ``touched``,
and random sequences through every path that writes a task (launches, status updates,
health, kills, unreachable agents and their re-registration, framework teardowns,
offers, declines, rescinds) with the cached bytes compared to a render from scratch
after each step."""

from __future__ import annotations

import ast
import json
import pathlib
import random
from typing import Any

import pytest

from actors import protocol as p
from actors.master import MasterConfig, MasterCore, _render_feed, _state_json
from actors.master._render_feed import TASK_SHOWN
from actors.master._state_json import state_json, state_json_bytes
from actors.resources import Resources
from tests.master.test_master_core import AGENT, AGENT2, FW, Cluster, one, sends
from tests.master.test_state_cache import KW
from tests.master.test_state_json_incremental import _check

AGENT3 = "tcp://127.0.0.1:7003/agent"
FW2 = "tcp://127.0.0.1:7101/sched"
MASTER = pathlib.Path(__file__).resolve().parents[2] / "actors" / "master"


def _shown_writes(fn: ast.AST) -> list[str]:
    """``name.field = ...`` (plain, augmented, in a tuple) of a shown field in ``fn``."""
    found = []
    for node in ast.walk(fn):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for t in target.elts if isinstance(target, ast.Tuple) else [target]:
                if (
                    isinstance(t, ast.Attribute)
                    and t.attr in TASK_SHOWN
                    and isinstance(t.value, ast.Name)
                    and t.value.id != "self"
                ):
                    found.append(f"{t.value.id}.{t.attr}")
    return found


def _calls(fn: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return names


def test_every_function_that_writes_a_shown_task_field_marks_the_record() -> None:
    writers = {}
    for path in sorted(MASTER.glob("*.py")):
        if path.name == "_state_json.py":  # the renderer's own bookkeeping (_Tasks)
            continue
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and _shown_writes(fn):
                writers[f"{path.name}:{fn.name}"] = "touched" in _calls(fn)
    assert "_tasks.py:on_status_update" in writers, "the scan finds the status path"
    assert "_agents.py:adopt_task" in writers, "and the re-registration path"
    assert [w for w, marked in writers.items() if not marked] == []


def _tasks_changes(fn: ast.AST) -> list[str]:
    """``x.tasks[k] = ...``, ``del x.tasks[k]``, ``x.tasks.add/discard/pop/...(...)``."""
    found = []
    for node in ast.walk(fn):
        if isinstance(node, (ast.Assign, ast.Delete)):
            for t in node.targets:
                if (
                    isinstance(t, ast.Subscript)
                    and isinstance(t.value, ast.Attribute)
                    and t.value.attr == "tasks"
                ):
                    found.append(ast.unparse(t))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr
            in {"add", "discard", "pop", "remove", "clear", "update", "setdefault"}
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "tasks"
        ):
            found.append(ast.unparse(node))
    return found


def test_every_function_that_changes_a_tasks_key_or_set_says_so() -> None:
    """``core.tasks``' keys and each framework's ``tasks`` set change only where
    ``_render_feed.moved`` is called: the render skips listing 100,000 keys else."""
    changers = {}
    for path in sorted(MASTER.glob("*.py")):
        if path.name == "_state_json.py":
            continue
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and _tasks_changes(fn):
                changers[f"{path.name}:{fn.name}"] = "moved" in _calls(fn)
    assert {"_tasks.py:launch", "_tasks.py:finish_task", "_agents.py:adopt_task"} <= set(changers)
    assert [w for w, said in changers.items() if not said] == []


def test_the_scan_sees_an_unmarked_write() -> None:
    code = "def f(s, t, now):\n    t.state, t.updated_at = 1, now\n"
    [fn] = ast.parse(code).body
    assert _shown_writes(fn) == ["t.state", "t.updated_at"]
    assert "touched" not in _calls(fn)


def _one_running(name: str) -> tuple[Cluster, str, p.Offer]:
    """A master with one agent and task "a" RUNNING, its state checked once."""
    c = Cluster(MasterCore(name, MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:8;mem:8192")
    fid = c.subscribe()
    [offer] = c.offers()
    c.launch(offer, "a", "cpus:1;mem:64", refuse_seconds=0)
    c.handle(p.StatusUpdate(fid, "a", offer.agent_id, "TASK_RUNNING", "u1", c.now))
    _check(c.core)
    return c, fid, offer


def test_a_write_without_a_mark_is_what_the_comparison_catches() -> None:
    """The incremental render trusts the marks: a field written behind its back (as an
    unhooked writer would) is not shown, and the comparison with a render from
    scratch fails; the same write with its mark is shown."""
    c, fid, _ = _one_running("m-unmarked")
    t = c.core.tasks[(fid, "a")]
    t.message = "written without a mark"
    c.core.generation += 1
    stale = state_json_bytes(c.core, **KW)
    assert stale != json.dumps(state_json(c.core, **KW)).encode()
    _render_feed.touched(c.core, t, c.now)
    assert b"written without a mark" in _check(c.core)


def _offers(out: list[Any]) -> list[p.Offer]:
    return [o for to in (FW, FW2) for batch in sends(out, to, p.Offers) for o in batch.offers]


@pytest.mark.parametrize("seed", range(8))
def test_cached_bytes_equal_a_fresh_render_after_each_write_path(seed: int) -> None:
    rng = random.Random(seed)
    c = Cluster(MasterCore("m-marks", MasterConfig(ping_interval=1.0), now=1000.0))
    for address in (AGENT, AGENT2, AGENT3):
        c.add_agent(address, "cpus:64;mem:65536")
    fids = {FW: c.subscribe()}
    live: dict[tuple[str, str], str] = {}  # (framework, task) -> agent id
    offers: list[p.Offer] = []
    silent: str | None = None  # the agent that stopped answering pings
    n = 0

    def tick(advance: float = 0.3) -> None:
        offers.extend(_offers(c.tick(advance)))
        for address, aid in c.agent_ids.items():
            if address != silent:
                c.handle(p.Pong(aid, 0))

    for step in range(70):
        roll = rng.random()
        if roll < 0.25:
            tick()
            by_fw = {v: k for k, v in fids.items()}
            for offer in list(offers):
                offers.remove(offer)
                fid = offer.framework_id
                if fid not in by_fw or rng.random() < 0.3:
                    if fid in by_fw:
                        c.handle(p.Decline(fid, [offer.offer_id], rng.choice([0.0, 5.0])))
                    continue
                tasks = []
                for _ in range(rng.randrange(1, 4)):
                    n += 1
                    tid = f"{rng.choice('bkz')}{n:04d}"
                    tasks.append(
                        p.TaskInfo(
                            tid,
                            tid,
                            offer.agent_id,
                            Resources.parse(f"cpus:0.{rng.randrange(1, 5)};mem:16").to_dict(),
                            p.CommandSpec("sleep 100"),
                            labels={"app": rng.choice(["x", "y"])},
                        )
                    )
                    live[(fid, tid)] = offer.agent_id
                c.handle(p.Accept(fid, [offer.offer_id], [p.Operation("LAUNCH", tasks)]))
        elif roll < 0.55 and live:
            fid, tid = rng.choice(sorted(live))
            state = rng.choice(["TASK_RUNNING"] * 4 + ["TASK_FINISHED", "TASK_FAILED"])
            healthy = rng.choice([None, True, False])
            c.handle(
                p.StatusUpdate(
                    fid, tid, live[(fid, tid)], state, f"u{step}", c.now,
                    message=rng.choice(["", "ok", f"m{step}"]), healthy=healthy,
                )
            )  # fmt: skip
            if state != "TASK_RUNNING":
                del live[(fid, tid)]
        elif roll < 0.62 and live:
            fid, tid = rng.choice(sorted(live))
            c.handle(p.Kill(fid, tid))
        elif roll < 0.70 and silent is None:
            silent = rng.choice(sorted(c.agent_ids))
            for _ in range(5):  # missed pings: unreachable, its tasks TASK_UNREACHABLE
                tick(1.0)
        elif roll < 0.80 and silent is not None:
            aid = c.agent_ids[silent]
            mine = [t for t in c.core.tasks.values() if t.agent_id == aid]
            reported = [
                p.AgentTask(t.task, t.framework_id, "TASK_RUNNING", rng.choice([None, True]))
                for t in mine
            ]
            res = c.core.agents[aid].total.to_dict()
            c.handle(p.ReregisterAgent(aid, "host", silent, res, {"zone": "a"}, reported))
            silent = None
        elif roll < 0.86:
            if FW2 in fids and rng.random() < 0.6:
                fid = fids.pop(FW2)
                c.handle(p.Teardown(fid))
                live = {k: v for k, v in live.items() if k[0] != fid}
            elif FW2 not in fids:
                out = c.handle(p.Subscribe(p.FrameworkInfo("two", ["*"], 60.0), FW2))
                fids[FW2] = one(sends(out, FW2, p.Subscribed)).framework_id
        elif roll < 0.92:
            for offer in list(offers)[: rng.randrange(0, 3)]:  # an offer taken back
                offers.remove(offer)
                c.handle(p.Decline(offer.framework_id, [offer.offer_id], 0.0))
        else:
            _state_json.prerender(c.core, c.now + 10.0)  # the idle calls in between
        _check(c.core)
    assert c.core.tasks, "the run kept tasks"
    assert c.core.completed, "and ended some"


def test_a_task_ended_and_another_launched_between_two_renders_are_both_shown() -> None:
    """As many live tasks as at the last render, not the same ones: only ``moved``
    (no count, no mark on the new record) tells the render to list the keys again."""
    c, fid, offer = _one_running("m-swap")
    c.handle(p.StatusUpdate(fid, "a", offer.agent_id, "TASK_FINISHED", "u2", c.now))
    [offer] = c.offers()
    c.launch(offer, "b", "cpus:1;mem:64", refuse_seconds=0)
    data = _check(c.core)
    doc = json.loads(data)
    [fw] = doc["frameworks"]
    assert [t["id"] for t in fw["tasks"]] == ["b"]
    assert [t["id"] for t in fw["completed_tasks"]] == ["a"]


def test_past_the_kept_marks_the_next_render_checks_every_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No render for a long time: the marks stop at ``KEPT`` (bounded memory) and the
    next render walks every record instead of trusting the marks it has."""
    monkeypatch.setattr(_render_feed, "KEPT", 3)
    c = Cluster(MasterCore("m-overflow", MasterConfig(ping_interval=1e9), now=1000.0))
    c.add_agent(AGENT, "cpus:8;mem:8192")
    fid = c.subscribe()
    [offer] = c.offers()
    ids = [f"t{i}" for i in range(6)]
    tasks = [
        p.TaskInfo(i, i, offer.agent_id, Resources.parse("cpus:0.1;mem:8").to_dict(),
                   p.CommandSpec("sleep 100"))
        for i in ids
    ]  # fmt: skip
    c.handle(p.Accept(fid, [offer.offer_id], [p.Operation("LAUNCH", tasks)]))
    _check(c.core)
    for i in ids:
        c.handle(p.StatusUpdate(fid, i, offer.agent_id, "TASK_RUNNING", "u" + i, c.now))
    doc = json.loads(_check(c.core))
    [fw] = doc["frameworks"]
    assert [t["state"] for t in fw["tasks"]] == ["TASK_RUNNING"] * 6
