"""Actor classes the cluster e2e tests spawn (shipped as the working dir by the script API)."""

from __future__ import annotations

import os
import socket

from runtime import remote


@remote(cpus=0.1, mem=64, max_restarts=5)
class Counter:
    def __init__(self, start: int = 0) -> None:
        self.n = start

    def incr(self, k: int = 1) -> int:
        self.n += k
        return self.n

    def value(self) -> int:
        return self.n

    def pid(self) -> int:
        return os.getpid()

    def where(self) -> str:
        return os.environ.get("MESOS_AGENT_ID", "") or socket.gethostname()

    def __checkpoint__(self) -> int:
        return self.n

    def __restore__(self, state: int) -> None:
        self.n = state


class Hog:
    """Allocates past its memory limit on request (the OOM test)."""

    def __init__(self) -> None:
        self.blocks: list[bytearray] = []

    def ping(self) -> str:
        return "pong"

    def eat(self, mb: int) -> int:
        for _ in range(mb):
            self.blocks.append(bytearray(b"x" * (1 << 20)))
        return len(self.blocks)
