"""A real local cluster per test module, started with the real ``pydcos cluster up``.

```
 local_cluster (module) ── python -m console.cli cluster up --insecure-dev --state-dir tmp
                        └─ teardown: cluster down, then every recorded PID checked gone
                           (and SIGKILLed if not, so a failed test leaks nothing)
```
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def pydcos(
    *args: str, env: dict[str, str] | None = None, timeout: float = 90.0, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a user runs it."""
    e = dict(os.environ if env is None else env)
    e["PYTHONPATH"] = str(REPO)
    e.pop("PYDCOS_ZK", None) if env is None else None
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=e,
        input=stdin,
    )


def pid_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@dataclass
class LocalCluster:
    state_dir: Path
    up: subprocess.CompletedProcess[str]

    def record(self) -> dict[str, Any]:
        return json.loads((self.state_dir / "cluster.json").read_text())

    @property
    def zk(self) -> str:
        r = self.record()
        return f"{r['zk_hosts']}{r['chroot']}"

    def cli(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return pydcos(*args, "--state-dir", str(self.state_dir), **kw)

    def pids(self) -> list[int]:
        r = self.record()
        out = [p["pid"] for p in r["processes"]]
        out += [p["child_pid"] for p in r["processes"] if p.get("child_pid", 0) > 0]
        return out


def services_available() -> str | None:
    """Why Marathon/Metronome verbs can't be tested, or None when they can (kept for
    tests/compat; the masters always run both now)."""
    try:
        from actors.marathon import MarathonService  # noqa: F401
        from actors.metronome import MetronomeService  # noqa: F401
    except ImportError as exc:
        return f"the Marathon/Metronome services are not importable: {exc}"
    return None


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("cluster")
    up = pydcos(
        "cluster",
        "up",
        "--insecure-dev",
        "--no-docker",
        "--masters",
        "3",
        "--agents",
        "2",
        "--state-dir",
        str(state),
    )
    cluster = LocalCluster(state, up)
    pids: list[int] = []
    with contextlib.suppress(Exception):
        pids = cluster.pids()
    try:
        assert up.returncode == 0, f"cluster up failed: {up.stdout}\n{up.stderr}"
        yield cluster
    finally:
        down = pydcos("cluster", "down", "--state-dir", str(state))
        left = [p for p in pids if pid_alive(p)]
        for pid in left:  # never leak, even when down is broken
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert down.returncode == 0, down.stderr
        assert not left, f"cluster down left processes running: {left}"
