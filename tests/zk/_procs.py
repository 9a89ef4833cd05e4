"""Contender subprocesses (``python -m zk._contender``) and their event lines."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from runtime.testing import wait_for

ROOT = Path(__file__).resolve().parents[2]


class ContenderProc:
    """One contender in its own OS process; events are read on a thread."""

    def __init__(
        self, hosts: str, chroot: str, name: str, session_timeout: float = 2.0, kazoo: bool = False
    ) -> None:
        self.name = name
        cmd = [
            sys.executable,
            "-m",
            "zk._contender",
            hosts,
            chroot,
            name,
            "--session-timeout",
            str(session_timeout),
        ]
        if kazoo:
            cmd.append("--kazoo")
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.history: list[list[str]] = []
        self._taken = 0  # history lines wait_event has looked at
        self.leading = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "elected":
                self.leading = True
            elif parts[0] == "revoked":
                self.leading = False
            self.history.append(parts)

    def wait_event(self, kind: str, timeout: float = 15.0) -> list[str]:
        """The next event line of ``kind`` not yet returned (earlier ones of other kinds
        are passed over, as they are read)."""

        def next_of_kind() -> list[str] | None:
            while self._taken < len(self.history):
                ev = self.history[self._taken]
                self._taken += 1
                if ev[0] == kind:
                    return ev
            return None

        event: list[str] = wait_for(
            next_of_kind, timeout, f"{self.name}: a {kind!r} line", interval=0.005
        )
        return event

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.send("quit")
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill9()
