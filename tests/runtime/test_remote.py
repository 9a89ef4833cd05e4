"""ActorRefs across two OS processes over real ZeroMQ (plain mode, loopback)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime import (
    NOCONNECTION,
    Actor,
    ActorDead,
    ActorNotFound,
    Down,
    Node,
    RemoteActorRef,
    RemoteError,
)
from tests.runtime._remote_messages import Bump, Count
from tests.runtime.conftest import wait_until
from transport import Security

PEER = Path(__file__).with_name("_remote_peer.py")


@pytest.fixture
def peer() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, str(PEER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    assert address.startswith("tcp://"), address
    yield proc, address
    if proc.poll() is None:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("local", on_fatal=lambda reason: None)
    n.listen(security=Security.plain(), heartbeat_interval=0.2, heartbeat_timeout=1.0)
    yield n
    n.shutdown(5)


def test_tell_and_ask_cross_processes_with_registered_records(node: Node, peer: Any) -> None:
    _, address = peer
    counter = node.ref(f"{address}/counter")
    assert isinstance(counter, RemoteActorRef)
    for _ in range(100):
        counter.tell(Bump(2))
    assert wait_until(lambda: counter.ask(Count(), timeout=5) == 200, what="200 bumps")
    echo = node.ref(f"{address}/echo")
    assert echo.ask({"nested": [1, "two", None]}) == {"nested": [1, "two", None]}
    futures = [echo.ask_future(i, timeout=5) for i in range(500)]
    assert [f.get() for f in futures] == list(range(500))


def test_ask_to_a_missing_actor_fails_at_once(node: Node, peer: Any) -> None:
    _, address = peer
    # ActorNotFound (an error reply), not AskTimeout after the 30 s timeout.
    with pytest.raises(ActorNotFound, match="nobody"):
        node.ref(f"{address}/nobody").ask("hi", timeout=30)


def test_remote_handler_exception_comes_back_typed(node: Node, peer: Any) -> None:
    _, address = peer
    echo = node.ref(f"{address}/echo")
    with pytest.raises(RemoteError) as info:
        echo.ask("boom")
    assert info.value.type_name == "ValueError" and "boom requested" in info.value.message
    assert echo.ask("still alive") == "still alive"  # an ask failure never kills the actor


def test_own_address_resolves_to_a_local_ref(node: Node) -> None:
    class Local(Actor):
        def receive(self, message: Any) -> Any:
            return ("local", message)

    node.spawn(Local, name="here")
    ref = node.ref(node.actor_address("here"))
    assert not isinstance(ref, RemoteActorRef)
    assert ref.ask(1) == ("local", 1)


def test_bad_addresses_are_refused_by_name(node: Node) -> None:
    for bad in ("tcp://host:1/", "udp://h:1/x", "tcp:///x"):
        with pytest.raises(ValueError, match="actor address"):
            node.ref(bad)


def test_killed_peer_fails_pending_asks_and_monitors_see_down(node: Node, peer: Any) -> None:
    proc, address = peer
    downs: list[Down] = []

    class Watcher(Actor):
        def started(self) -> None:
            self.monitor(node.ref(f"{address}/echo"))

        def receive(self, message: Any) -> Any:
            if isinstance(message, Down):
                downs.append(message)

    node.spawn(Watcher, name="watcher")
    echo = node.ref(f"{address}/echo")
    assert echo.ask("up") == "up"
    proc.kill()
    proc.wait(5)
    pending = echo.ask_future("never answered", timeout=30)
    # ActorDead "unreachable" (the peer was declared down), not AskTimeout.
    with pytest.raises(ActorDead, match="unreachable"):
        pending.get()
    wait_until(lambda: downs, timeout=10, what="Down from the monitor")
    assert downs[0].reason == NOCONNECTION and downs[0].name == "echo"
    assert not echo.is_alive()


def test_listen_without_keys_refuses_instead_of_going_plain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime import RuntimeSystemError

    monkeypatch.setenv("PYDCOS_KEYS", str(tmp_path / "nokeys"))
    n = Node("nokeys", on_fatal=lambda reason: None)
    try:
        with pytest.raises(RuntimeSystemError, match="pydcos cluster keys"):
            n.listen()
        assert n.address is None
    finally:
        n.shutdown(2)


def test_listen_defaults_to_curve_with_the_cluster_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transport import generate_keys

    generate_keys(tmp_path)
    monkeypatch.setenv("PYDCOS_KEYS", str(tmp_path))
    a = Node("a", on_fatal=lambda reason: None)
    b = Node("b", on_fatal=lambda reason: None)
    try:

        class Echo(Actor):
            def receive(self, message: Any) -> Any:
                return message

        a.listen()
        b.listen()
        a.spawn(Echo, name="echo")
        assert b.ref(a.actor_address("echo")).ask("secret", timeout=5) == "secret"
        assert a._remoting is not None and a._remoting.transport.security.mode == "curve"
    finally:
        a.shutdown(5)
        b.shutdown(5)


def test_actor_that_asks_remotely_in_its_handler_replies_to_a_remote_caller() -> None:
    """Both wake-ups an actor thread may owe an I/O thread (its own synchronous remote
    ask, then its reply to a remote ask) are paid. Heartbeats come every 30 s here, so
    a lost wake-up would leave an ask waiting past its 5 s timeout."""
    nodes = [Node(n, on_fatal=lambda reason: None) for n in ("echoer", "relay", "client")]
    for n in nodes:
        n.listen(security=Security.plain(), heartbeat_interval=30.0, heartbeat_timeout=60.0)
    echoer, middle, client = nodes

    class Echo(Actor):
        def receive(self, message: Any) -> Any:
            return message

    class Relay(Actor):
        def receive(self, message: Any) -> Any:
            return ("relayed", middle.ref(echoer.actor_address("echo")).ask(message, timeout=5))

    try:
        echoer.spawn(Echo, name="echo")
        middle.spawn(Relay, name="relay")
        relay = client.ref(middle.actor_address("relay"))
        assert isinstance(relay, RemoteActorRef)
        for i in range(200):
            assert relay.ask(i, timeout=5) == ["relayed", i]
        futures = [relay.ask_future(i, timeout=5) for i in range(200)]
        assert [f.get() for f in futures] == [["relayed", i] for i in range(200)]
    finally:
        for n in nodes:
            n.shutdown(5)


def test_asks_from_many_threads_at_once_all_come_back(node: Node, peer: Any) -> None:
    _, address = peer
    echo = node.ref(f"{address}/echo")
    results: dict[int, list[Any]] = {}

    def worker(t: int) -> None:
        results[t] = [echo.ask((t, i), timeout=10) for i in range(100)]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {t: r for t, r in results.items()} == {t: [[t, i] for i in range(100)] for t in range(8)}
