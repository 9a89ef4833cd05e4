"""The scale bench's processes and clients: real masters, agent hosts, keep-alive HTTP.

Every process here is a real OS process on loopback, stopped by PID (and SIGKILLed by
the kernel if this script dies: PDEATHSIG):

* ``pydcos master`` (``python -m console.cli master --insecure-dev``), two of them
  (leader + standby), with the real ZooKeeper, their default leader and node services
  (Marathon, Metronome, the Mesos APIs, DNS, ...) exactly as ``cluster up`` runs them;
* agent hosts (bench/_scale_agents.py), each thousands of simulated ``AgentActor``s.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]

SESSION_TIMEOUT = 4.0
"""ZooKeeper session of the masters (s): a SIGKILLed leader is replaced after about this.
``pydcos master``'s default is 2 s; a leader busy with 100,000 tasks on a 2-core machine
shared with 10,000 agents must not miss its heartbeats, so the bench gives it 4 s (the
figure counts against failover time, honestly)."""
PING_INTERVAL = 15.0
"""Seconds between agent pings: Mesos' default (``--agent_ping_timeout`` 15 s)."""
AGENT_NICE = 10
"""The agent hosts' niceness. They stand for 10,000 other machines; here they share the
leader's 2 cores, and in a re-registration storm the 5 hosts' threads starved the leader
of CPU (load average 19-55: a 2 s garbage collection pause in wall time, a lapsed lease,
the bench's own heartbeats missed). At nice 10 they still get every cycle the masters,
ZooKeeper and the clients leave, so nothing they do is skipped, only queued."""
REREGISTER_TIMEOUT = 120.0
"""After a failover, seconds agents have to re-register before their tasks are LOST
(Mesos' default is 10 minutes; pydcos' 10 s is for small clusters)."""


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def _niced_child() -> None:
    _die_with_parent()
    os.nice(AGENT_NICE)


def _supports(flag: str) -> bool:
    """Whether ``pydcos master`` knows ``flag`` (``--no-auth`` arrives with IAM)."""
    out = subprocess.run(
        [sys.executable, "-m", "console.cli", "master", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=False,
    )
    return flag in out.stdout


@dataclass
class Proc:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    banner: list[str] = field(default_factory=list)

    def start(self, stdin_pipe: bool = False, niced: bool = False) -> Proc:
        # The masters log at WARNING unless the bench's caller set PYDCOS_LOG (INFO gives a
        # failover's timeline in --keep-logs).
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        env.setdefault("PYDCOS_LOG", "WARNING")
        env.pop("PYDCOS_ZK", None)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
                preexec_fn=_niced_child if niced else _die_with_parent,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def wait_banner(self, word: str, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}): {self.tail()}")
            for line in self.log_path.read_text(errors="replace").splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] == word and words[1].startswith("tcp://"):
                    self.banner = words
                    return words
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not up within {timeout} s: {self.tail()}")

    def tail(self, n: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def rss_mb(self) -> float:
        return _status_kb(self.pid, "VmRSS") / 1024

    def kill9(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()


def companion_pids(pid: int) -> list[int]:
    """A master's children that run its node services apart (``--companion-of``: DNS by
    default): their CPU and memory are not in the master's own /proc figures."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--companion-of" in cmd:
                out.append(int(child))
    return out


def cpu_seconds(pid: int | None) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far; 0 once it is gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (every core, ``/proc/stat``)."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / _CLK_TCK


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} for pid {pid}")


def start_master(
    zk: str, log_dir: Path, serial: int, no_auth: bool, session_timeout: float = SESSION_TIMEOUT
) -> Proc:
    argv = [sys.executable, "-m", "console.cli", "master", "--zk", zk, "--insecure-dev"]
    argv += ["--session-timeout", str(session_timeout), "--ping-interval", str(PING_INTERVAL)]
    argv += ["--agent-reregister-timeout", str(REREGISTER_TIMEOUT), "--min-leader-tenure", "0"]
    if no_auth:
        argv.append("--no-auth")
    name = f"master-{serial}"
    return Proc(name, argv, log_dir / f"{name}.log").start()


def start_agent_host(zk: str, log_dir: Path, first: int, count: int) -> Proc:
    argv = [sys.executable, str(ROOT / "bench" / "_scale_agents.py"), "--zk", zk]
    argv += ["--count", str(count), "--first", str(first)]
    name = f"agents-{first}"
    return Proc(name, argv, log_dir / f"{name}.log").start(stdin_pipe=True, niced=True)


T = TypeVar("T")


class Http:
    """A keep-alive HTTP/1.1 client per thread on one base URL (like any API client
    that polls). ``get`` returns (status, body, seconds)."""

    def __init__(self, base: str, timeout: float = 120.0) -> None:
        u = urlsplit(base)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.timeout = timeout
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = conn
        return conn

    def _twice(self, call: Callable[[http.client.HTTPConnection], T]) -> T:
        """``call`` on this thread's connection; once more on a new one if it broke
        (a keep-alive connection the server closed meanwhile)."""
        for attempt in (0, 1):
            conn = self._conn()
            try:
                return call(conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, float]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}

        def call(conn: http.client.HTTPConnection) -> tuple[int, bytes, float]:
            t0 = time.perf_counter()
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            raw = r.read()
            return r.status, raw, time.perf_counter() - t0

        return self._twice(call)

    def get_into(self, path: str) -> tuple[int, int, float, bytes]:
        """GET ``path`` as a poller that keeps one read buffer (per thread) and reads each
        answer into it: (status, body length, seconds, the body's first 200 bytes).

        ``request`` reads with http.client's ``read()``, which makes a fresh ``bytes`` per
        answer; past glibc's largest mmap threshold (32 MB) that is a fresh mapping
        whose every page the kernel faults in and zeroes while the body arrives. On this
        machine that is two thirds of reading 61 MB (12 ms read into a kept buffer vs
        33 ms), and it makes the client's own cost grow faster than the bytes (6 -> 61 MB
        from a static server: exponent 1.28-1.45 with ``read()``, 0.96-1.04 into a kept
        buffer). The timed GETs use this reader so that a view's growth is the server's;
        the ``read()`` figures are measured beside them."""

        def call(conn: http.client.HTTPConnection) -> tuple[int, int, float, bytes]:
            t0 = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            n = r.length
            if n is None:  # chunked or until close: nothing to size a buffer by
                raw = r.read()
                return r.status, len(raw), time.perf_counter() - t0, raw[:200]
            buf = getattr(self.local, "buf", None)
            if buf is None or len(buf) < n:
                # Grown by half again, so a view growing between steps regrows rarely;
                # bytearray() writes every page now, as a kept buffer has.
                buf = self.local.buf = bytearray(max(n + n // 2, 1 << 20))
            view, got = memoryview(buf), 0
            while got < n:
                k = r.readinto(view[got:n])
                if not k:
                    raise http.client.IncompleteRead(bytes(view[:got]), n - got)
                got += k
            dt = time.perf_counter() - t0
            return r.status, got, dt, bytes(view[: min(got, 200)])

        return self._twice(call)

    def get_json(self, path: str) -> Any:
        status, raw, _ = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {raw[:200]!r}")
        return json.loads(raw)

    def close(self) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()
            self.local.conn = None


def pct(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 20 samples is the largest)."""
    import math

    s = sorted(xs)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]
