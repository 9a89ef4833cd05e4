"""The testing kit (`runtime.testing`): wait_for, ManualClock's two readings, settle."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from runtime import Actor, Node
from runtime.testing import ManualClock, settle, wait_for


class Relay(Actor):
    """Forwards every message to the next actor in a chain, then records it."""

    def __init__(self, nxt: Any = None) -> None:
        super().__init__()
        self.nxt = nxt
        self.seen: list[Any] = []

    def receive(self, message: Any) -> Any:
        if message == "seen":
            return list(self.seen)
        if isinstance(message, tuple) and message[0] == "later":
            self.send_after(message[1], message[2])
            return None
        if isinstance(message, threading.Event):
            message.wait(10)
            return None
        self.seen.append(message)
        if self.nxt is not None:
            self.nxt.tell(message)
        return None


# --- wait_for ---------------------------------------------------------------------
def test_wait_for_returns_the_first_truthy_value() -> None:
    calls = iter([0, None, "", 7])
    assert wait_for(lambda: next(calls), timeout=5, interval=0.001) == 7


def test_wait_for_fails_at_the_deadline_naming_what_and_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"waiting for the answer \(last: 0\)"):
        wait_for(lambda: 0, timeout=0.05, what="the answer", interval=0.001)


def test_wait_for_polls_again_after_an_error_unless_told_not_to() -> None:
    state = {"n": 0}

    def flaky() -> int:
        state["n"] += 1
        if state["n"] < 3:
            raise ConnectionError("restarting")
        return state["n"]

    assert wait_for(flaky, timeout=5, interval=0.001) == 3
    state["n"] = 0
    with pytest.raises(ConnectionError):
        wait_for(flaky, timeout=5, interval=0.001, retry_errors=False)


def test_tests_wait_still_exports_the_same_function() -> None:
    from tests._wait import wait_for as old

    assert old is wait_for


# --- ManualClock ------------------------------------------------------------------
def test_manual_clock_moves_now_and_wall_together() -> None:
    clock = ManualClock(start=5.0, wall_start=1_800_000_000.0)
    assert (clock.now(), clock.wall()) == (5.0, 1_800_000_000.0)
    clock.advance(2.5)
    assert (clock.now(), clock.wall()) == (7.5, 1_800_000_002.5)
    assert ManualClock().wall() == 1_700_000_000.0


def test_manual_clock_fires_due_callbacks_in_order_at_their_due_time() -> None:
    clock = ManualClock()
    fired: list[tuple[str, float]] = []
    clock.call_later(3.0, lambda: fired.append(("b", clock.now())))
    clock.call_later(1.0, lambda: fired.append(("a", clock.now())))
    clock.call_later(9.0, lambda: fired.append(("c", clock.now())))
    clock.advance(5.0)
    assert fired == [("a", 1.0), ("b", 3.0)] and clock.now() == 5.0
    assert clock.pending() == 1


def test_manual_clock_refuses_to_go_back() -> None:
    with pytest.raises(ValueError, match="-1"):
        ManualClock().advance(-1)


# --- settle -----------------------------------------------------------------------
@pytest.fixture
def mnode() -> Any:
    clock = ManualClock()
    n = Node("kit", clock=clock, on_fatal=lambda reason: None)
    yield n, clock
    n.shutdown(timeout=5.0)


def test_settle_waits_for_messages_passed_along_a_chain(mnode: Any) -> None:
    node, _clock = mnode
    last = node.spawn(Relay)
    ref = last
    for _ in range(5):
        ref = node.spawn(Relay, ref)
    for i in range(50):
        ref.tell(i)
    settle(node)
    # Read the actor's state directly: an ask would itself wait for the mailbox.
    assert last._actor is not None and last._actor.seen == list(range(50))  # type: ignore[attr-defined]


def test_settle_delivers_timers_due_after_advance_and_not_later_ones(mnode: Any) -> None:
    node, clock = mnode
    sink = node.spawn(Relay)
    timer_owner = node.spawn(Relay, sink)
    timer_owner.ask(("later", 10.0, "ten"))
    timer_owner.ask(("later", 30.0, "thirty"))
    clock.advance(10.0)
    settle(node)
    assert sink.ask("seen") == ["ten"]  # and "thirty" did NOT fire
    clock.advance(20.0)
    settle(node)
    assert sink.ask("seen") == ["ten", "thirty"]


def test_settle_fires_a_zero_delay_timer_set_by_a_handler(mnode: Any) -> None:
    node, _clock = mnode
    ref = node.spawn(Relay)
    ref.tell(("later", 0.0, "now"))
    settle(node)
    assert ref.ask("seen") == ["now"]


def test_settle_fails_naming_an_actor_stuck_in_a_handler(mnode: Any) -> None:
    node, _clock = mnode
    ref = node.spawn(Relay)
    gate = threading.Event()
    ref.tell(gate)
    try:
        with pytest.raises(AssertionError, match=r"still busy: Relay\["):
            settle(node, timeout=0.1)
    finally:
        gate.set()
    settle(node)


def test_settle_covers_supervised_actors_and_several_nodes() -> None:
    from runtime import ChildSpec

    a, b = Node("a", on_fatal=lambda r: None), Node("b", on_fatal=lambda r: None)
    try:
        child = a.root.start_child(ChildSpec("relay", Relay))
        other = b.spawn(Relay)
        for i in range(20):
            child.tell(i)
            other.tell(i)
        settle(a, b)
        assert len(child.ask("seen")) == 20 and len(other.ask("seen")) == 20
        assert any(isinstance(x, Relay) for x in a.actors())
    finally:
        a.shutdown()
        b.shutdown()


def test_settle_needs_a_node() -> None:
    with pytest.raises(ValueError, match="Node"):
        settle()


def test_node_actors_drops_dead_ones(mnode: Any) -> None:
    node, _clock = mnode
    ref = node.spawn(Relay)
    actor = ref._actor
    assert actor in node.actors()
    node.stop(ref)
    assert actor not in node.actors()
