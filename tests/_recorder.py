"""An actor that keeps every message it is told; asked ``"seen"``, it answers them in
order (a stand-in master, framework or agent in actor tests)."""

from __future__ import annotations

from typing import Any

from runtime import Actor


class Recorder(Actor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []

    def receive(self, message: Any) -> Any:
        if message == "seen":
            return list(self.seen)
        self.seen.append(message)
        return None
