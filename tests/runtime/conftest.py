"""Shared fixtures: a node on a manual clock, a polling helper, a scriptable worker."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from runtime import Actor, Down, ManualClock, Node
from runtime.testing import wait_for as _shared_wait_for

wait_until = functools.partial(_shared_wait_for, interval=0.001, retry_errors=False)
"""The suite's one wait_for (runtime.testing), polled fast for in-process actors."""


class Events:
    """Thread-safe log of lifecycle events, shared by the actors of one test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[tuple[str, str]] = []

    def add(self, kind: str, who: str) -> None:
        with self._lock:
            self.items.append((kind, who))

    def of(self, kind: str) -> list[str]:
        with self._lock:
            return [who for k, who in self.items if k == kind]


class Worker(Actor):
    """Does what the test tells it: crash, stop (normally or not), block, answer."""

    def __init__(
        self, tag: str = "w", events: Events | None = None, fail_start: bool = False
    ) -> None:
        super().__init__()
        self.tag = tag
        self.events = events
        self.fail_start = fail_start
        self.seen: list[Any] = []

    def started(self) -> None:
        if self.fail_start:
            raise RuntimeError(f"{self.tag} cannot start")
        if self.events:
            self.events.add("start", self.tag)

    def stopped(self) -> None:
        if self.events:
            self.events.add("stop", self.tag)

    def receive(self, message: Any) -> Any:
        if message == "ping":
            return "pong"
        if message == "whoami":
            return self.ref
        if message == "crash":
            raise RuntimeError(f"{self.tag} crashed")
        if message == "stop_normal":
            self.stop()
            return None
        if message == "stop_abnormal":
            self.stop(reason="disk_full")
            return None
        if message == "seen":
            return list(self.seen)
        if isinstance(message, threading.Event):
            message.wait(10)  # hold the thread until the test lets go
            return None
        self.seen.append(message)
        return None


class Watcher(Actor):
    """Monitors whatever it is told to and keeps every Down it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.downs: list[Down] = []

    def receive(self, message: Any) -> Any:
        if isinstance(message, Down):
            self.downs.append(message)
        elif isinstance(message, tuple) and message[0] == "monitor":
            self.monitor(message[1])
        elif isinstance(message, tuple) and message[0] == "demonitor":
            self.demonitor(message[1])
        elif message == "downs":
            return list(self.downs)
        else:
            return super().receive(message)
        return None


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fatal() -> list[Any]:
    return []


@pytest.fixture
def node(clock: ManualClock, fatal: list[Any]) -> Iterator[Node]:
    n = Node("test", clock=clock, on_fatal=fatal.append)
    yield n
    n.shutdown(timeout=5.0)
