"""A new leader's re-registration storm: decisions only (no I/O, manual time).

After a failover every agent re-registers with every task it runs. Agents retry an
unanswered re-registration, so a busy leader gets some twice: the repeat is answered and
never applied again; the end of the recovery window is found without scanning every
agent per re-registration.
"""

from __future__ import annotations

from typing import Any

from actors import protocol as p
from actors.master import _agents
from actors.master._master_core import MasterCore, Send
from actors.resources import Resources
from tests.master._storm_kit import FID, RES, new_leader
from tests.master._storm_kit import agent_address as _addr

TRES = Resources.parse("cpus:1;mem:64").to_dict()


def _new_leader(agents: int) -> MasterCore:
    return new_leader(agents, reregister_timeout=30.0)


def _task(i: int, tid: str, state: str = "TASK_RUNNING") -> p.AgentTask:
    info = p.TaskInfo(tid, tid, f"a{i}", TRES, p.CommandSpec("sleep 1"))
    return p.AgentTask(info, FID, state)


def _rereg(i: int, *tasks: p.AgentTask) -> p.ReregisterAgent:
    return p.ReregisterAgent(f"a{i}", f"h{i}", _addr(i), RES, tasks=list(tasks))


def _sent(out: list[Any], kind: type) -> list[Any]:
    return [e.message for e in out if isinstance(e, Send) and isinstance(e.message, kind)]


def test_a_repeated_reregistration_is_answered_without_being_applied_again() -> None:
    core = _new_leader(2)
    first = core.handle(_rereg(0, _task(0, "t1")), 1.0)
    assert len(_sent(first, p.AgentRegistered)) == 1
    assert (FID, "t1") in core.tasks
    used = core.agents["a0"].used
    # Meanwhile the books change (a watcher subscribes): a repeat is still a repeat.
    core.handle(p.WatchMaster("tcp://127.0.0.1:9/dns"), 1.5)
    again = core.handle(_rereg(0, _task(0, "t1")), 2.0)
    assert [type(e.message) for e in again if isinstance(e, Send)] == [p.AgentRegistered]
    assert core.agents["a0"].used == used  # not added twice
    assert core.tasks[(FID, "t1")].state.value == "TASK_RUNNING"


def test_a_reregistration_with_other_facts_is_applied() -> None:
    core = _new_leader(1)
    core.handle(_rereg(0, _task(0, "t1"), _task(0, "t2")), 1.0)
    # t2 is gone from the agent when it re-registers again: other facts, applied.
    out = core.handle(_rereg(0, _task(0, "t1")), 2.0)
    assert _sent(out, p.AgentRegistered)
    assert (FID, "t2") not in core.tasks  # not reported: LOST, off the books
    assert core.agents["a0"].used == Resources.from_dict(TRES)
    # A state the agent reports differently is taken in too.
    core.handle(_rereg(0, _task(0, "t1", "TASK_STAGING")), 3.0)
    assert core.tasks[(FID, "t1")].state.value == "TASK_STAGING"


def test_digest_tells_task_states_health_and_resources_apart() -> None:
    base = _rereg(0, _task(0, "t1"))
    same = _rereg(0, _task(0, "t1"))
    assert _agents.reregistration_digest(base) == _agents.reregistration_digest(same)
    healthy = _rereg(0, p.AgentTask(_task(0, "t1").task, FID, "TASK_RUNNING", True))
    other_state = _rereg(0, _task(0, "t1", "TASK_STAGING"))
    other_res = p.ReregisterAgent("a0", "h0", _addr(0), TRES, tasks=[_task(0, "t1")])
    digests = {_agents.reregistration_digest(m) for m in (base, healthy, other_state, other_res)}
    assert len(digests) == 4


def test_an_agent_that_was_unreachable_is_applied_again() -> None:
    core = _new_leader(1)
    core.handle(_rereg(0, _task(0, "t1")), 1.0)
    _agents.mark_unreachable(core, core.agents["a0"], 2.0, [], "test")
    assert not _agents.is_repeat(core.agents["a0"], _agents.reregistration_digest(_rereg(0)))
    out = core.handle(_rereg(0, _task(0, "t1")), 3.0)
    assert core.agents["a0"].reachable
    assert _sent(out, p.AgentRegistered)


def test_recovery_ends_when_the_last_recovered_agent_is_back_in_any_order() -> None:
    core = _new_leader(4)
    for n, i in enumerate((2, 0, 3)):
        core.handle(_rereg(i), 1.0 + n)
        assert core.recovery_deadline is not None
    assert not _agents.recovery_done(core)
    core.handle(_rereg(1), 5.0)
    assert core.recovery_deadline is None
    assert _agents.recovery_done(core)
    assert all(a.reachable and not a.recovering for a in core.agents.values())


def test_recovery_window_still_ends_agents_that_never_came_back() -> None:
    core = _new_leader(3)
    core.handle(_rereg(1), 1.0)
    core.tick(40.0)
    assert core.recovery_deadline is None
    assert [a.agent_id for a in core.agents.values() if not a.reachable] == ["a0", "a2"]


def test_a_new_leader_announces_itself_to_the_agents_it_got_nothing_from() -> None:
    """The master actor announces once the re-registrations queued while it read the
    registry are handled: those agents are not asked for a second copy of their tasks;
    the others (theirs was sent before its actor ran) are, with its master id."""
    core = _new_leader(3)
    core.address = "tcp://127.0.0.1:5050/master"
    core.handle(_rereg(1, _task(1, "t1")), 1.0)
    told = [e for e in core.announce() if isinstance(e, Send)]
    assert sorted(e.to for e in told) == [_addr(0), _addr(2)]
    assert {(e.message.address, e.message.master_id) for e in told} == {(core.address, "m2")}
