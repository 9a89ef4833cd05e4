"""Fixtures for the transport conformance suite: the same harness over real ZeroMQ
(peer in another OS process) and over the FakeNetwork (peer in this process)."""

from __future__ import annotations

import functools
import os
import queue
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.testing import wait_for as _shared_wait_for
from tests.transport._peer import Echo
from transport import (
    Envelope,
    FakeNetwork,
    Kind,
    Security,
    ZmqTransport,
    generate_keys,
)

ROOT = Path(__file__).resolve().parents[2]
MAX = 1 << 20  # max_message_size in the conformance suite
HB = {"heartbeat_interval": 0.1, "heartbeat_timeout": 0.6}


wait_for = functools.partial(_shared_wait_for, retry_errors=False)
"""The suite's one wait_for (runtime.testing); a poll that raises fails at once here."""


def tell_from(src: Any, body: object) -> Envelope:
    """A TELL from the transport ``src`` to the actor "x"."""
    return Envelope(sender_node=src.address, target="x", kind=Kind.TELL, body=body)


class Harness:
    """A local transport under test plus an echo peer (see tests/transport/_peer.py)."""

    kind = ""

    def __init__(self) -> None:
        self.inbox: queue.Queue[Envelope] = queue.Queue()
        self.others: list[Envelope] = []
        self.downs: list[str] = []
        self.local: Any = None
        self.peer = ""

    def on_envelope(self, env: Envelope) -> None:
        self.inbox.put(env)

    def envelope(self, kind: Kind, body: Any, target: str = "echo") -> Envelope:
        return Envelope(
            sender_node=self.local.address, sender_actor="me", target=target, kind=kind, body=body
        )

    def tell(self, body: Any, target: str = "echo") -> None:
        self.local.send(self.peer, self.envelope(Kind.TELL, body, target))

    def ask(self, body: Any, target: str = "echo", timeout: float = 5.0) -> Envelope:
        env = self.envelope(Kind.ASK, body, target)
        self.local.send(self.peer, env)
        return self.recv(lambda e: e.corr_id == env.msg_id, timeout)

    def recv(self, pred: Callable[[Envelope], bool], timeout: float = 5.0) -> Envelope:
        for i, e in enumerate(self.others):
            if pred(e):
                return self.others.pop(i)

        def matching() -> Envelope | None:
            try:
                e = self.inbox.get(timeout=0.05)  # blocks: no sleep between polls
            except queue.Empty:
                return None
            if pred(e):
                return e
            self.others.append(e)
            return None

        found: Envelope = wait_for(matching, timeout, "a matching envelope", interval=0.0)
        return found

    def ask_until_answered(self, body: Any, timeout: float = 15.0) -> Envelope:
        """Asks are at-most-once: while a peer restarts, retry until one is answered."""

        def answered() -> Envelope | None:
            try:
                return self.ask(body, timeout=0.5)
            except AssertionError:
                return None

        reply: Envelope = wait_for(answered, timeout, f"an answer to {body!r}", interval=0.0)
        return reply

    def kill_peer(self) -> None:
        raise NotImplementedError

    def restart_peer(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def spawn_peer(mode: str, keydir: Path, port: int = 0, max_size: int = MAX) -> tuple[Any, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.transport._peer",
            mode,
            str(keydir),
            str(port),
            str(max_size),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert p.stdout is not None
    line = p.stdout.readline().strip()
    if not line.startswith("tcp://"):
        p.kill()
        raise RuntimeError(f"peer did not start: {line!r}")
    return p, line


def stop_process(p: Any) -> None:
    if p.poll() is None:
        p.kill()
    p.wait(10)


class ZmqHarness(Harness):
    kind = "zmq"

    def __init__(self, keydir: Path) -> None:
        super().__init__()
        self.keydir = keydir
        self.proc, self.peer = spawn_peer("plain", keydir)
        self.local = ZmqTransport(
            security=Security.plain(),
            on_envelope=self.on_envelope,
            on_peer_down=self.downs.append,
            max_message_size=MAX,
            **HB,
        ).start()

    def kill_peer(self) -> None:
        stop_process(self.proc)

    def restart_peer(self) -> None:
        port = int(self.peer.rsplit(":", 1)[1])

        def respawned() -> tuple[Any, str] | None:
            try:
                return spawn_peer("plain", self.keydir, port)
            except RuntimeError:
                return None  # the old socket may linger for a moment

        self.proc, addr = wait_for(respawned, 10, f"the peer back on port {port}", interval=0.1)
        assert addr == self.peer

    def close(self) -> None:
        self.local.stop()
        stop_process(self.proc)


class FakeHarness(Harness):
    kind = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.net = FakeNetwork()
        self.peer = "fake://peer"
        self._start_peer()
        self.local = self.net.transport(
            "fake://local",
            on_envelope=self.on_envelope,
            on_peer_down=self.downs.append,
            max_message_size=MAX,
            **HB,
        ).start()

    def _start_peer(self) -> None:
        echo = Echo()
        self.peer_t = self.net.transport(self.peer, on_envelope=echo, max_message_size=MAX, **HB)
        echo.transport = self.peer_t
        self.peer_t.start()

    def kill_peer(self) -> None:
        self.peer_t.stop()

    def restart_peer(self) -> None:
        self._start_peer()

    def close(self) -> None:
        self.net.close()


@pytest.fixture(scope="session")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    generate_keys(d)
    return d


@pytest.fixture(params=["zmq", "fake"])
def harness(request: pytest.FixtureRequest, keydir: Path) -> Iterator[Harness]:
    h: Harness = ZmqHarness(keydir) if request.param == "zmq" else FakeHarness()
    try:
        yield h
    finally:
        h.close()
