"""Actor semantics: failure paths, monitors, dead letters, timers, names, deliver."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from runtime import (
    NOPROC,
    Actor,
    ActorDead,
    ActorNotFound,
    AskTimeout,
    ChildSpec,
    DuplicateName,
    ManualClock,
    Node,
    TimerHandle,
)

from .conftest import Watcher, Worker, wait_until


class Halt(BaseException):
    """A BaseException that is not one of Python's own."""


class Fragile(Worker):
    def receive(self, message: Any) -> Any:
        if message == "kbi":
            raise KeyboardInterrupt
        if message == "halt":
            raise Halt("halt")
        if message == "value_error":
            raise ValueError("bad request")
        return super().receive(message)


def test_ask_and_ask_future(node: Node) -> None:
    ref = node.spawn(Worker)
    assert ref.ask("ping") == "pong"
    future = ref.ask_future("ping", timeout=5.0)
    assert future.get() == "pong" and future.done()


def test_exception_in_ask_handler_fails_the_caller_not_the_actor(node: Node) -> None:
    ref = node.spawn(Fragile)
    with pytest.raises(ValueError, match="bad request"):
        ref.ask("value_error")
    assert ref.is_alive() and ref.ask("ping") == "pong"


def test_exception_in_tell_handler_crashes_the_actor(node: Node) -> None:
    watcher = node.spawn(Watcher)
    ref = node.spawn(Worker, tag="t")
    watcher.ask(("monitor", ref))
    ref.tell("crash")
    assert ref.join()
    down = wait_until(lambda: watcher.ask("downs"), what="Down")[0]
    assert down.ref == ref and isinstance(down.reason, RuntimeError)


@pytest.mark.parametrize("message", ["kbi", "halt"])
def test_base_exception_in_tell_handler_kills_only_that_actor(
    node: Node, fatal: list[Any], message: str
) -> None:
    victim = node.spawn(Fragile)
    bystander = node.spawn(Worker)
    supervised = node.root.start_child(ChildSpec("s", Worker))
    victim.tell(message)
    assert victim.join()
    assert not victim.is_alive()
    assert bystander.ask("ping") == "pong" and supervised.ask("ping") == "pong"
    assert node.root.is_alive() and fatal == []


def test_base_exception_in_ask_handler_is_actor_dead_for_the_caller(node: Node) -> None:
    victim = node.spawn(Fragile)
    with pytest.raises(ActorDead, match="KeyboardInterrupt"):
        victim.ask("kbi")
    assert victim.join()
    assert node.spawn(Worker).ask("ping") == "pong"


def test_abnormal_stop_reason_reaches_monitors(node: Node) -> None:
    watcher = node.spawn(Watcher)
    ref = node.spawn(Worker, name="named")
    watcher.ask(("monitor", ref))
    ref.tell("stop_abnormal")
    assert ref.join()
    down = wait_until(lambda: watcher.ask("downs"), what="Down")[0]
    assert (down.ref, down.name, down.reason) == (ref, "named", "disk_full")


def test_monitor_of_a_dead_actor_gets_noproc(node: Node) -> None:
    watcher = node.spawn(Watcher)
    ref = node.spawn(Worker)
    node.stop(ref)
    watcher.ask(("monitor", ref))
    assert [d.reason for d in watcher.ask("downs")] == [NOPROC]
    watcher.ask(("monitor", node.ref("nobody")))
    assert [d.reason for d in watcher.ask("downs")] == [NOPROC, NOPROC]


def test_demonitor_stops_down_messages(node: Node) -> None:
    watcher = node.spawn(Watcher)
    ref = node.spawn(Worker)
    watcher.ask(("monitor", ref))
    watcher.ask(("demonitor", ref))
    node.stop(ref)
    assert ref.join()
    assert watcher.ask("downs") == []


def test_tell_to_dead_or_unknown_actor_is_a_counted_dead_letter(node: Node) -> None:
    ref = node.spawn(Worker)
    node.stop(ref)
    ref.tell("hello")  # never raises
    node.ref("ghost").tell("hello")
    assert node.dead_letters == 2


def test_ask_to_dead_or_unknown_actor_raises_at_once(node: Node) -> None:
    ref = node.spawn(Worker)
    node.stop(ref)
    # Typed errors, not AskTimeout after the 30 s timeouts.
    with pytest.raises(ActorDead):
        ref.ask("ping", timeout=30)
    with pytest.raises(ActorNotFound):
        node.ref("ghost").ask("ping", timeout=30)
    with pytest.raises(ActorNotFound):
        node.lookup("ghost")
    with pytest.raises(ActorDead):
        ref.ask_future("ping", timeout=30).get()


def test_messages_queued_at_death_become_dead_letters_or_actor_dead(node: Node) -> None:
    hold = threading.Event()
    ref = node.spawn(Worker)
    ref.tell(hold)
    ref.tell("crash")
    ref.tell("queued tell")
    pending = ref.ask_future("ping", timeout=30)
    hold.set()
    with pytest.raises(ActorDead):
        pending.get()
    assert ref.join() and node.dead_letters == 1


def test_ask_timeout_then_late_reply_is_dropped(node: Node) -> None:
    hold = threading.Event()
    ref = node.spawn(Worker)
    with pytest.raises(AskTimeout):
        ref.ask(hold, timeout=0.05)
    hold.set()
    assert ref.ask("ping") == "pong"


def test_names_are_unique_and_follow_restarts(node: Node) -> None:
    node.root.start_child(ChildSpec("svc", Worker, name="svc"))
    with pytest.raises(DuplicateName):
        node.spawn(Worker, name="svc")
    by_name = node.lookup("svc")
    first = by_name.ask("whoami")
    first.tell("crash")
    assert first.join()
    second = wait_until(lambda: _try(by_name, "whoami"), what="the restarted svc")
    assert second != first and by_name.ask("ping") == "pong"
    other = node.spawn(Worker)
    with pytest.raises(DuplicateName):
        node.register("svc", other)
    node.register("other", other)
    assert node.lookup("other").ask("ping") == "pong" and other.name == "other"
    node.unregister("other")
    with pytest.raises(ActorNotFound):
        node.lookup("other")


def _try(ref: Any, message: Any) -> Any:
    try:
        return ref.ask(message, timeout=1.0)
    except (ActorDead, ActorNotFound):
        return None


def test_deliver_replies_through_the_callback(node: Node) -> None:
    node.spawn(Worker, name="w")
    node.spawn(Fragile, name="f")
    replies: list[tuple[Any, BaseException | None]] = []
    done = threading.Event()

    def reply(value: Any, error: BaseException | None) -> None:
        replies.append((value, error))
        if len(replies) == 3:
            done.set()

    node.deliver("ghost", "ping", reply)  # answered at once, on this thread
    assert isinstance(replies[0][1], ActorNotFound)
    node.deliver("w", "ping", reply)
    node.deliver("f", "value_error", reply)
    assert done.wait(5)
    answers = sorted(replies[1:], key=lambda r: r[1] is not None)  # two actors, any order
    assert answers[0] == ("pong", None)
    assert isinstance(answers[1][1], ValueError)
    node.deliver("ghost", "tell", None)
    assert node.dead_letters == 1
    node.deliver("w", "note", None)
    assert node.lookup("w").ask("seen") == ["note"]


class Ticker(Actor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []
        self.handles: dict[str, TimerHandle] = {}

    def started(self) -> None:
        self.handles["boot"] = self.send_interval(10.0, "boot-tick")

    def receive(self, message: Any) -> Any:
        match message:
            case ("after", delay, msg):
                self.handles[msg] = self.send_after(delay, msg)
            case ("every", period, msg):
                self.handles[msg] = self.send_interval(period, msg)
            case ("cancel", msg):
                self.handles[msg].cancel()
            case ("block_then_cancel", event, msg):
                event.wait(10)
                self.handles[msg].cancel()
            case "seen":
                return list(self.seen)
            case "crash":
                raise RuntimeError("ticker crashed")
            case _:
                self.seen.append(message)
        return None


def test_timers_run_on_the_manual_clock(node: Node, clock: ManualClock) -> None:
    ref = node.spawn(Ticker)
    ref.ask(("after", 5.0, "once"))
    ref.ask(("every", 1.0, "tick"))
    for _ in range(4):
        clock.advance(1.0)
        assert ref.ask("seen")[-1] == "tick"  # each taken before the next is due
    clock.advance(0.9)
    assert ref.ask("seen") == ["tick"] * 4
    clock.advance(0.1)
    assert ref.ask("seen") == ["tick"] * 4 + ["once", "tick"]  # due together: set-up order
    ref.ask(("cancel", "tick"))
    clock.advance(3)
    assert ref.ask("seen") == ["tick"] * 4 + ["once", "tick"]


def test_cancel_drops_a_timer_message_already_queued(node: Node, clock: ManualClock) -> None:
    hold = threading.Event()
    ref = node.spawn(Ticker)
    ref.ask(("after", 1.0, "late"))
    ref.tell(("block_then_cancel", hold, "late"))
    clock.advance(1.0)  # the timer's message is now queued behind the blocked handler
    hold.set()
    assert "late" not in ref.ask("seen")


def test_a_periodic_timer_has_one_message_queued_at_most(node: Node, clock: ManualClock) -> None:
    hold = threading.Event()
    ref = node.spawn(Ticker)
    ref.ask(("every", 1.0, "tick"))
    ref.tell(("block_then_cancel", hold, "boot"))  # busy: the ticks wait behind it
    clock.advance(5.0)  # five periods end while the actor is busy
    hold.set()
    assert ref.ask("seen") == ["tick"], "one tick for the busy stretch, not five"
    clock.advance(1.0)
    assert ref.ask("seen") == ["tick"] * 2, "then one per period again"
    clock.advance(1.0)
    assert ref.ask("seen") == ["tick"] * 3


class Batcher(Actor):
    """Takes the strings queued right behind a string as one batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Any]] = []

    def receive(self, message: Any) -> Any:
        if isinstance(message, tuple):  # ("hold", inside, release)
            message[1].set()
            message[2].wait(10)
        elif message == "batches":
            return list(self.batches)
        elif message == "off-thread":
            return self
        elif isinstance(message, str):
            self.batches.append([message, *self.take_queued(str, 3)])
        else:
            self.batches.append([message])
        return None


def test_take_queued_takes_the_tells_of_its_kind_right_behind_in_order(node: Node) -> None:
    inside, hold = threading.Event(), threading.Event()
    ref = node.spawn(Batcher)
    ref.tell(("hold", inside, hold))  # busy while the rest queues up
    assert inside.wait(5)
    for m in ["a", "b", "c", "d", "e", 1, "f"]:
        ref.tell(m)
    asked = ref.ask_future("g")  # an ask of the kind is never taken: its caller waits
    ref.tell("h")
    hold.set()
    assert asked.get() is None
    assert ref.ask("batches") == [["a", "b", "c", "d"], ["e"], [1], ["f"], ["g", "h"]]
    actor = ref.ask("off-thread")
    with pytest.raises(RuntimeError, match="not on the actor's thread"):
        actor.take_queued(str, 1)


class Urgent(Batcher):
    urgent = frozenset({int})


def test_an_actors_urgent_types_overtake_the_queue(node: Node) -> None:
    inside, hold = threading.Event(), threading.Event()
    ref = node.spawn(Urgent)
    ref.tell(("hold", inside, hold))
    assert inside.wait(5)
    for m in ["a", "b", 1, 2, "c"]:
        ref.tell(m)
    hold.set()
    assert ref.ask("batches") == [[1], ["a", "b", "c"], [2]]


def test_timers_are_cancelled_when_the_actor_stops_or_restarts(
    node: Node, clock: ManualClock
) -> None:
    ref = node.spawn(Ticker)
    assert clock.pending() == 1
    ref.ask(("every", 1.0, "tick"))
    node.stop(ref)
    assert clock.pending() == 0
    child = node.root.start_child(ChildSpec("ticker", Ticker))
    assert clock.pending() == 1
    child.tell("crash")
    assert child.join()
    node.root.which_children()  # restart handled
    assert clock.pending() == 1  # only the new instance's boot timer
    clock.advance(30)
    assert node.dead_letters == 0


def test_actors_are_created_only_by_a_node() -> None:
    with pytest.raises(TypeError, match=r"node\.spawn"):
        Worker.start()
    with pytest.raises(TypeError, match=r"node\.spawn"):
        Worker()


def test_monitoring_is_the_refs_business_a_wrapper_is_reported_as_itself(node: Node) -> None:
    """`Actor.monitor` asks the ref to watch (no isinstance on ref kinds): a wrapper
    such as SupervisorRef delegates to what it wraps, and Down names the wrapper."""
    from runtime import Supervisor, SupervisorRef

    watcher = node.spawn(Watcher)
    wrapped = SupervisorRef(node.spawn(Supervisor))
    watcher.ask(("monitor", wrapped))
    node.stop(wrapped)
    assert wrapped._local() is not None and wrapped._local().join()  # type: ignore[union-attr]
    downs = watcher.ask("downs")
    assert [(d.ref, d.reason) for d in downs] == [(wrapped, "shutdown")]
    watcher.ask(("demonitor", wrapped))  # nothing left to undo: a no-op


def test_a_ref_kind_that_cannot_be_watched_says_so(node: Node) -> None:
    from runtime import ActorRef

    class Opaque(ActorRef):
        name = "opaque"

        def tell(self, message: Any) -> None: ...
        def ask(self, message: Any, timeout: float = 5.0) -> Any: ...
        def ask_future(self, message: Any, timeout: float = 5.0) -> Any: ...
        def is_alive(self) -> bool:
            return True

    watcher = node.spawn(Watcher)
    with pytest.raises(TypeError, match="cannot monitor"):
        watcher.ask(("monitor", Opaque()))
    watcher.ask(("demonitor", Opaque()))  # never monitored: nothing to undo
    assert watcher.is_alive()
