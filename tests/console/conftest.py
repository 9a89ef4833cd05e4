"""A real local cluster per test module, started with the real ``pydcos cluster up``.

```
 local_cluster (module) ── python -m console.cli cluster up --insecure-dev --no-auth ...
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
import urllib.error
import urllib.request
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
    down: subprocess.CompletedProcess[str] | None = None

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


@contextlib.contextmanager
def started_cluster(
    state: Path,
    *up_args: str,
    check_down: bool = False,
    check_left: bool = False,
    auth: bool = False,
    env: dict[str, str] | None = None,
) -> Iterator[LocalCluster]:
    """``pydcos cluster up *up_args --state-dir state`` (asserted to succeed) for a test
    module's own cluster; on exit ``cluster down`` (its result in ``.down``) and every
    recorded PID still alive SIGKILLed, so a failed test leaks nothing. ``check_down``:
    assert down succeeded; ``check_left``: assert it left no recorded process running.
    ``auth``: login required (issue 24); off by default (``--no-auth``) so that tests
    about other things need no token. ``env``: the ``up`` process' environment (give an
    auth cluster its own ``PYDCOS_HOME``: ``up`` stores the CLI's token there)."""
    no_auth = () if auth or "--no-auth" in up_args else ("--no-auth",)
    up = pydcos("cluster", "up", *up_args, *no_auth, "--state-dir", str(state), env=env)
    cluster = LocalCluster(state, up)
    pids: list[int] = []
    with contextlib.suppress(Exception):
        pids = cluster.pids()
    try:
        assert up.returncode == 0, f"cluster up failed: {up.stdout}\n{up.stderr}"
        yield cluster
    finally:
        cluster.down = pydcos("cluster", "down", "--state-dir", str(state), env=env)
        left = [p for p in pids if pid_alive(p)]
        for pid in left:  # never leak, even when down is broken
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if check_down:
        assert cluster.down.returncode == 0, cluster.down.stderr
    if check_left:
        assert not left, f"cluster down left processes running: {left}"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """(status, body) of a GET, an HTTP error's included."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_json(url: str, method: str = "GET", body: Any = None) -> Any:
    """A JSON request's decoded answer (None when empty); an HTTP error raises."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


def leader(c: LocalCluster) -> dict[str, Any]:
    """The process record of the live master that says it leads (no waiting)."""
    for p in c.record()["processes"]:
        if p["kind"] == "master" and pid_alive(p["pid"]):
            with contextlib.suppress(OSError):
                if http_json(p["http_url"] + "/metrics/snapshot").get("master/elected") == 1:
                    return dict(p)
    raise AssertionError("no master leads")


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
        "--no-auth",
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
