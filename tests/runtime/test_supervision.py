"""Supervision beyond the single restart rules: escalation, ordering, shutdown."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from runtime import (
    ActorNotFound,
    ChildSpec,
    InvalidChildSpec,
    ManualClock,
    Node,
    RestartIntensityExceeded,
    Shutdown,
    StartFailed,
    Supervisor,
    SupervisorError,
    SupervisorRef,
    UnknownMessage,
)

from .conftest import Events, Watcher, Worker, wait_until

REPO = Path(__file__).resolve().parents[2]


def crash_named(node: Node, name: str) -> None:
    """Crash the actor registered as `name` and wait until its death is handled."""
    pid = node.lookup(name).ask("whoami")
    pid.tell("crash")
    assert pid.join(5.0)


def wait_for_name(node: Node, name: str) -> None:
    wait_until(lambda: name in node.registered(), what=f"{name} to be registered again")


def test_intensity_escalates_through_two_supervisor_levels(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    fatal: list[Any] = []
    node = Node("esc", clock=clock, on_fatal=fatal.append, root_intensity=1)
    try:
        mid = ChildSpec(
            "mid",
            Supervisor,
            kind="supervisor",
            name="mid",
            kwargs={"children": [ChildSpec("w", Worker, name="w")], "intensity": 1},
        )
        node.root.start_child(mid)
        with caplog.at_level(logging.WARNING):
            crash_named(node, "w")  # mid restarts w: 1 restart of 1 allowed
            wait_for_name(node, "w")
            crash_named(node, "w")  # mid gives up; root restarts mid: 1 of 1
            wait_for_name(node, "w")
            crash_named(node, "w")  # the new mid restarts w
            wait_for_name(node, "w")
            crash_named(node, "w")  # mid gives up again; now the root gives up too
            wait_until(lambda: fatal, what="the node's fatal callback")
        reason = fatal[0]
        assert isinstance(reason, Shutdown)
        assert isinstance(reason.detail, RestartIntensityExceeded)
        assert reason.detail.child_id == "mid"
        assert not node.root.is_alive()
        text = caplog.text
        assert "restarted child 'w'" in text and "w crashed" in text
        assert "restarted child 'mid'" in text
        assert "reached max restart intensity" in text
    finally:
        node.shutdown()


def test_root_escalation_exits_the_process_with_status_1_by_default() -> None:
    script = textwrap.dedent(
        """
        import sys; sys.path.insert(0, sys.argv[1])
        from runtime import ChildSpec, Node
        from tests.runtime.conftest import Worker
        node = Node("doomed", root_intensity=0)
        ref = node.root.start_child(ChildSpec("w", Worker))
        ref.tell("crash")
        import time; time.sleep(10)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(REPO)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 1
    assert "root supervisor exited" in proc.stderr


def test_children_start_in_order_and_stop_in_reverse(clock: ManualClock) -> None:
    events = Events()
    node = Node("order", clock=clock)
    inner = [ChildSpec(t, Worker, kwargs={"tag": t, "events": events}) for t in ("x", "y")]
    node.root.start_child(ChildSpec("a", Worker, kwargs={"tag": "a", "events": events}))
    node.root.start_child(ChildSpec("sub", Supervisor, kind="supervisor", args=(inner,)))
    node.root.start_child(ChildSpec("c", Worker, kwargs={"tag": "c", "events": events}))
    node.spawn(Worker, tag="top", events=events)
    assert events.of("start") == ["a", "x", "y", "c", "top"]
    node.shutdown()
    assert events.of("stop") == ["top", "c", "y", "x", "a"]


def test_one_for_all_stops_in_reverse_then_starts_in_order(node: Node) -> None:
    events = Events()
    specs = [ChildSpec(t, Worker, kwargs={"tag": t, "events": events}) for t in "abc"]
    sup = SupervisorRef(node.spawn(Supervisor, specs, strategy="one_for_all"))
    b = sup.which_children()[1].ref
    assert b is not None
    b.tell("crash")
    assert b.join()
    sup.which_children()  # the restart has been handled once this returns
    assert events.of("start") == ["a", "b", "c", "a", "b", "c"]
    assert events.of("stop") == ["b", "c", "a"]  # b crashed (its hook still runs), then c, a


def test_shutdown_timeout_is_followed_by_a_kill(node: Node) -> None:
    hold = threading.Event()
    sup = SupervisorRef(node.spawn(Supervisor))
    ref = sup.start_child(ChildSpec("stuck", Worker, name="stuck", shutdown=0.2))
    ref.tell(hold)  # its thread is now busy until we set `hold`
    watcher = node.spawn(Watcher)
    watcher.ask(("monitor", ref))
    sup.terminate_child("stuck")  # returns after the 0.2 s timeout and the kill
    assert not ref.is_alive()
    with pytest.raises(ActorNotFound):
        node.lookup("stuck")
    assert sup.which_children()[0].ref is None
    before = node.dead_letters
    ref.tell("after the kill")
    assert node.dead_letters == before + 1
    downs = wait_until(lambda: watcher.ask("downs"), what="Down")
    assert downs[0].reason == "killed"
    hold.set()  # the abandoned thread finishes its handler and exits quietly
    assert ref.join()
    assert watcher.ask("downs") == downs  # exactly one Down


def test_brutal_kill_does_not_wait(node: Node) -> None:
    hold = threading.Event()
    sup = SupervisorRef(node.spawn(Supervisor))
    ref = sup.start_child(ChildSpec("stuck", Worker, shutdown="brutal_kill"))
    ref.tell(hold)
    sup.terminate_child("stuck", timeout=1.0)
    assert not ref.is_alive()
    hold.set()


def test_node_shutdown_kills_an_actor_that_misses_the_deadline(clock: ManualClock) -> None:
    hold = threading.Event()
    node = Node("slow", clock=clock)
    stuck = node.spawn(Worker)
    ok = node.spawn(Worker)
    stuck.tell(hold)
    node.shutdown(timeout=0.3)
    assert not stuck.is_alive() and not ok.is_alive() and not node.root.is_alive()
    hold.set()


def test_failure_in_started_makes_spawn_raise(node: Node) -> None:
    with pytest.raises(StartFailed) as info:
        node.spawn(Worker, name="nope", fail_start=True)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "nope" not in node.registered()


def test_failure_in_started_of_a_dynamic_child_is_an_error_reply(node: Node) -> None:
    with pytest.raises(StartFailed):
        node.root.start_child(ChildSpec("bad", Worker, kwargs={"fail_start": True}))
    assert node.root.which_children() == []


def test_supervisor_whose_child_cannot_start_fails_to_start(node: Node) -> None:
    events = Events()
    specs = [
        ChildSpec("a", Worker, kwargs={"tag": "a", "events": events}),
        ChildSpec("b", Worker, kwargs={"tag": "b", "fail_start": True}),
    ]
    with pytest.raises(StartFailed):
        node.spawn(Supervisor, specs)
    assert events.of("start") == ["a"] and events.of("stop") == ["a"]


class Gated(Worker):
    """Starts only while its gate is open; lets a test make restarts fail."""

    def __init__(self, gate: dict[str, bool]) -> None:
        super().__init__(tag="gated")
        self.gate = gate

    def started(self) -> None:
        if not self.gate["open"]:
            raise RuntimeError("gate closed")


def test_restart_that_fails_in_started_is_retried_against_intensity(node: Node) -> None:
    gate = {"open": True}
    watcher = node.spawn(Watcher)
    sup = SupervisorRef(
        node.spawn(Supervisor, [ChildSpec("g", Gated, kwargs={"gate": gate})], intensity=2)
    )
    watcher.ask(("monitor", sup.ref))
    child = sup.which_children()[0].ref
    assert child is not None
    gate["open"] = False
    child.tell("crash")
    downs = wait_until(lambda: watcher.ask("downs"), what="the supervisor's Down")
    assert isinstance(downs[0].reason, Shutdown)
    assert downs[0].reason.detail.child_id == "g"


def test_dynamic_children(node: Node) -> None:
    sup = SupervisorRef(node.spawn(Supervisor))
    spec = ChildSpec("d", Worker, name="d")
    ref = sup.start_child(spec)
    assert ref.ask("ping") == "pong"
    with pytest.raises(SupervisorError, match="already started"):
        sup.start_child(spec)
    with pytest.raises(SupervisorError, match="running"):
        sup.delete_child("d")
    sup.terminate_child("d")
    assert not ref.is_alive()
    assert [(c.id, c.ref) for c in sup.which_children()] == [("d", None)]
    with pytest.raises(SupervisorError, match="already present"):
        sup.start_child(spec)
    again = sup.restart_child("d")
    assert again.ask("ping") == "pong" and again != ref
    assert sup.count_children() == {"specs": 1, "active": 1, "supervisors": 0, "workers": 1}
    sup.terminate_child("d")
    sup.delete_child("d")
    assert sup.which_children() == []
    with pytest.raises(SupervisorError, match="no child"):
        sup.terminate_child("d")


def test_terminating_a_temporary_child_forgets_it(node: Node) -> None:
    node.root.start_child(ChildSpec("t", Worker, restart="temporary"))
    node.root.terminate_child("t")
    assert node.root.which_children() == []


def test_unknown_message_to_a_supervisor_never_stops_it(node: Node) -> None:
    with pytest.raises(UnknownMessage, match="does not handle"):
        node.root.ask({"what": "is this"})
    node.root.tell(42)
    wait_until(lambda: node.unhandled == 1, what="the unhandled tell to be counted")
    assert node.root.which_children() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"restart": "forever"}, "ChildSpec.restart: 'forever' is not one of permanent, "),
        ({"kind": "daemon"}, "ChildSpec.kind: 'daemon' is not one of worker, supervisor"),
        ({"shutdown": -1}, "ChildSpec.shutdown: -1 is not seconds >= 0"),
        ({"shutdown": "never"}, "ChildSpec.shutdown: 'never' is not seconds"),
        ({"shutdown": True}, "ChildSpec.shutdown: True is not seconds"),
        ({"id": ""}, "ChildSpec.id: '' is not a non-empty string"),
        ({"start": 42}, "ChildSpec.start: 42 is neither"),
        ({"start": dict}, "ChildSpec.start: <class 'dict'> is not a runtime.Actor"),
        ({"args": [1]}, "ChildSpec.args: [1] is not a tuple"),
        ({"name": ""}, "ChildSpec.name: '' is not a non-empty string"),
        ({"start": lambda n: None, "name": "x"}, "args/kwargs/name only apply"),
    ],
)
def test_invalid_child_spec_is_refused_when_built(kwargs: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"id": "c", "start": Worker, **kwargs}
    with pytest.raises(InvalidChildSpec, match=re.escape(message)) as info:
        ChildSpec(**fields)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "one_for_some"}, "Supervisor.strategy: 'one_for_some' is not one of"),
        ({"intensity": -1}, "Supervisor.intensity: -1 is not an integer >= 0"),
        ({"period": 0}, "Supervisor.period: 0 is not a number of seconds > 0"),
    ],
)
def test_invalid_supervisor_flags_are_refused(
    node: Node, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidChildSpec, match=message):
        node.spawn(Supervisor, **kwargs)
