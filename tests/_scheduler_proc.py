"""What the pymesos e2e tests share (tests/master/test_offer_timeout_e2e.py,
tests/storage/test_master_reservations_e2e.py): an unmodified pymesos scheduler in its
own process speaking JSON lines, and a module's cluster of real masters and agents."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import E2ECluster, _die_with_parent


class SchedulerProcess:
    """``python script *args``: each stdout line is a JSON event (``events``), ``send``
    writes a JSON command line; the script ends when its stdin closes (``stop``)."""

    def __init__(self, script: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=_die_with_parent,
        )
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def module_cluster(
    zk_hosts: str,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    masters: int,
    agents: int,
    master_args: tuple[str, ...] = (),
) -> Iterator[E2ECluster]:
    """A cluster under its own ZooKeeper chroot, up with its agents registered, stopped
    after (``yield from`` it in a module-scoped fixture)."""
    c = E2ECluster(zk_hosts, f"/t-{uuid.uuid4().hex[:12]}", tmp_path_factory.mktemp(name))
    try:
        c.start(masters=masters, agents=agents, master_args=master_args)
        yield c
    finally:
        c.stop_all()
