"""py-spy around a phase of the scale bench, and a text top-N of what it recorded.

``Profile(pid, path).start()`` runs ``py-spy record --format raw`` (collapsed stacks, one
``frame;frame;... count`` line per distinct stack: speedscope and flamegraph.pl open it
as is) on the process until ``stop()``; ``top_frames(path)`` ranks functions by the
samples they were on the CPU themselves (self) and anywhere on the stack (inclusive),
the text summary the notes quote. py-spy samples from outside the process (no
instrumentation), ``--nonblocking`` so the leader is never paused.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

RATE = 67
"""Samples per second: py-spy's default is 100; a little lower costs the 2 cores less."""


def py_spy() -> str | None:
    """The py-spy binary of this venv (or on PATH), None when it is not installed."""
    here = Path(sys.executable).with_name("py-spy")
    if here.exists():
        return str(here)
    return shutil.which("py-spy")


class Profile:
    def __init__(self, pid: int, path: Path, *, idle: bool = False) -> None:
        self.pid, self.path, self.idle = pid, path, idle
        self.proc: subprocess.Popen[bytes] | None = None
        self.error = ""

    def start(self) -> Profile:
        exe = py_spy()
        if exe is None:
            self.error = "py-spy is not installed"
            return self
        argv = [exe, "record", "-p", str(self.pid), "-o", str(self.path), "--format", "raw"]
        argv += ["-r", str(RATE), "--nonblocking"]
        if self.idle:
            argv.append("--idle")
        self.log = self.path.with_suffix(".log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def stop(self) -> Path | None:
        """SIGINT makes py-spy write what it has; returns the file (None if it failed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.error = self.log.read_text(errors="replace")[-400:]
            return None
        return self.path


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    """Collapsed stacks -> {(outermost, ..., innermost frame): samples}."""
    out: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        out[tuple(stack.split(";"))] += int(count)
    return out


def _short(frame: str) -> str:
    """``func (/work/main/actors/x.py:12)`` -> ``func (actors/x.py)``: one row per
    function, whatever line it was on; site-packages and stdlib paths keep only their
    last two parts."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rpartition(":")[0] or where.rstrip(")")
    roots = [r for r in ("/work/main/", "/tmp/h7-before/") if r in where]
    if roots:
        where = where.split(roots[0], 1)[1]
    elif "/" in where:
        where = "/".join(where.split("/")[-2:])
    return f"{name} ({where})" if where else name


_ACTOR = re.compile(r"^(\w+Actor)\.(receive|_rt_run|started)")
_LOOPS = (
    ("HttpGateway", "http gateway (aiohttp loop)"),
    ("aiohttp", "http gateway (aiohttp loop)"),
    ("ZmqTransport", "transport io thread"),
    ("kazoo", "zookeeper client (kazoo)"),
    ("zk/_", "zookeeper client (zk)"),
    ("SystemClock", "clock/timers"),
    ("DnsServer", "dns server"),
)


_WAITS = {"Condition.wait", "EpollSelector.select", "_hand_off", "Queue.get"}
"""Frames where a thread sleeps (py-spy may still count it on CPU around the syscall)."""
_GENERIC = ("(threading.py)", "Actor._rt_", "Actor._actor_loop", "<module>", "_run_code")
"""Frames on every stack of their thread: no information in an inclusive ranking."""


def component(frames: list[str]) -> str:
    """Who a stack belongs to: the innermost ``XxxActor.receive`` on it, else the first
    known loop (gateway, transport, ZooKeeper client), else ``other``."""
    for f in reversed(frames):
        m = _ACTOR.match(f)
        if m and m.group(1) != "Actor":
            return m.group(1)
    for f in frames:
        for key, label in _LOOPS:
            if key in f:
                return label
    return "other"


def top_frames(path: Path, n: int = 20) -> str:
    """A text table of the top ``n`` functions by self and by inclusive samples (threads
    merged: the first frame py-spy writes is the thread's name, which is skipped)."""
    stacks = read_stacks(path)
    total = sum(stacks.values())
    if not total:
        return f"{path.name}: no samples\n"
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = [f for f in stack if " (" in f] or list(stack)
        threads[component(frames)] += count
        self_c[_short(frames[-1])] += count
        for f in {_short(f) for f in frames}:
            incl[f] += count
    lines = [f"{path.name}: {total} samples at {RATE}/s (~{total / RATE:.1f} CPU-s)"]
    waiting = sum(c for f, c in self_c.items() if f.split(" (")[0] in _WAITS)
    lines.append(
        f"top {n} by SELF samples ({100 * waiting / total:.1f}% were threads waiting in "
        f"{', '.join(sorted(_WAITS))}: not listed):"
    )
    for f, c in [x for x in self_c.most_common() if x[0].split(" (")[0] not in _WAITS][:n]:
        lines.append(f"  {100 * c / total:5.1f}%  {f}")
    lines.append(f"top {n} by INCLUSIVE samples (function anywhere on the stack; loops left out):")
    ranked = [x for x in incl.most_common() if not any(g in x[0] for g in _GENERIC)]
    for f, c in ranked[:n]:
        lines.append(f"  {100 * c / total:5.1f}%  {f}")
    lines.append("samples by component (actor receive() on the stack, else the thread loop):")
    for t, c in threads.most_common(12):
        lines.append(f"  {100 * c / total:5.1f}%  {t}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(top_frames(Path(arg)))
