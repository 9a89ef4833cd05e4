"""A supervision tree in action: restart, rest_for_one, and escalation to the node.

Runs in a second or two, no network. Time for restart intensity comes from a
ManualClock, so "three crashes within five seconds" happens without waiting.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console

from runtime import (
    Actor,
    ActorDead,
    ActorNotFound,
    ChildSpec,
    ManualClock,
    Node,
    Supervisor,
)

console = Console(highlight=False)


class Service(Actor):
    """A named worker that counts the requests it served since it (re)started."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label
        self.served = 0

    def started(self) -> None:
        console.print(f"    [green]start[/]  {self.label}")

    def stopped(self) -> None:
        console.print(f"    [yellow]stop[/]   {self.label}  (reason: {self.exit_reason!r})")

    def receive(self, message: Any) -> Any:
        if message == "whoami":
            return self.ref  # a ref pinned to this instance, unlike the by-name one
        if message == "crash":
            raise RuntimeError(f"{self.label} hit a bug")
        self.served += 1
        return f"{self.label} served #{self.served}"


def ask_when_up(node: Node, name: str) -> Any:
    """Ask by name, riding out the moment between a crash and the restart."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return node.lookup(name).ask("hello")
        except (ActorDead, ActorNotFound):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)


def crash(node: Node, name: str) -> None:
    console.print(f"  [red]crash[/]  {name}")
    pid = node.lookup(name).ask("whoami")
    pid.tell("crash")
    pid.join()


def main() -> None:
    logging.disable(logging.CRITICAL)  # the demo narrates; keep tracebacks out
    clock = ManualClock()
    exit_cause: list[Any] = []
    node = Node("demo", clock=clock, on_fatal=exit_cause.append, root_intensity=1)

    console.rule("1. one_for_one: a crashed worker is restarted, its name keeps working")
    node.root.start_child(
        ChildSpec("api", Service, name="api", kwargs={"label": "api"}, restart="transient")
    )
    console.print("   ", ask_when_up(node, "api"))
    crash(node, "api")
    console.print("   ", ask_when_up(node, "api"), "  <- same name, fresh actor")

    console.rule("2. rest_for_one: db crashes, so everything started after it restarts")
    stack = [
        ChildSpec(n, Service, name=n, kwargs={"label": n}) for n in ("config", "db", "cache", "web")
    ]
    node.root.start_child(
        ChildSpec(
            "storage",
            Supervisor,
            kind="supervisor",
            restart="transient",
            kwargs={"children": stack, "strategy": "rest_for_one", "intensity": 2, "period": 5},
        )
    )
    crash(node, "db")
    ask_when_up(node, "web")
    console.print("    config kept running:", ask_when_up(node, "config"))

    console.rule("3. intensity 2 in 5 s: db + cache + cache = 3 restarts; storage gives up")
    crash(node, "cache")
    ask_when_up(node, "cache")
    clock.advance(1.0)
    crash(node, "cache")
    deadline = time.monotonic() + 5

    def storage_running() -> bool:
        return any(c.id == "storage" and c.ref for c in node.root.which_children())

    while storage_running() and time.monotonic() < deadline:
        time.sleep(0.005)
    console.print("   storage exited with reason shutdown; it is transient, so the root lets it go")
    console.print(
        "   root children:",
        {c.id: ("running" if c.ref else "stopped") for c in node.root.which_children()},
    )

    console.rule("4. escalation: the root (1 restart in 5 s, already used by api) gives up")
    node.root.start_child(ChildSpec("core", Service, name="core", kwargs={"label": "core"}))
    crash(node, "core")
    while not exit_cause and time.monotonic() < deadline + 5:
        time.sleep(0.005)
    console.print(
        "   node's fatal callback got:", repr(exit_cause[0]), markup=False, soft_wrap=True
    )
    console.print("   (by default the process now exits with status 1 for its launcher to restart)")
    node.shutdown()


if __name__ == "__main__":
    main()
