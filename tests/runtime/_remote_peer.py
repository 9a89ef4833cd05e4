"""A peer node for the remote-ref tests: run as a script, prints its address, serves
until its stdin closes (or it is killed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from runtime import Actor, Node
from tests.runtime._remote_messages import Bump, Count
from transport import Security


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom requested")
        return message


class Counter(Actor):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def receive(self, message: Any) -> Any:
        if isinstance(message, Bump):
            self.total += message.by
            return None
        if isinstance(message, Count):
            return self.total
        return super().receive(message)


def main() -> None:
    node = Node("peer", on_fatal=lambda reason: None)
    address = node.listen(security=Security.plain(), heartbeat_interval=0.2, heartbeat_timeout=1.0)
    node.spawn(Echo, name="echo")
    node.spawn(Counter, name="counter")
    print(address, flush=True)
    sys.stdin.read()
    node.shutdown(5)


if __name__ == "__main__":
    main()
