"""Failover benchmark: how fast a new leader is published, with a real ZooKeeper.

Contenders are real OS processes (``python -m zk._contender``); an independent observer
in this process watches the published leader and timestamps every change. Measured:

(a) clean abdication of the leader -> a new leader published;
(b) SIGKILL of the leader process  -> a new leader published (bounded below by the
    session timeout: ZooKeeper deletes the dead leader's node only when its session
    expires);
baseline: bare kazoo ``Election`` recipe, SIGKILL, same server and session timeout,
interleaved round by round with (b) so drift hits both alike.

Ends with one JSON line. Latency = observer's timestamp - timestamp taken just before
the abdicate command was written / the SIGKILL was sent (``time.monotonic``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kazoo.client import KazooClient  # noqa: E402

from zk import LeaderWatch, ZooKeeperServer, close_quietly, connect  # noqa: E402

SESSION_TIMEOUT = 2.0
ROUNDS = 10
ABDICATE_ROUNDS = 20
CONTENDERS = 3
TARGETS = {"abdicate_p50_s": 0.5, "kill_p50_s": 2.5, "kill_p99_s": 3.0}


class Proc:
    def __init__(self, hosts: str, chroot: str, name: str, kazoo: bool) -> None:
        cmd = [sys.executable, "-m", "zk._contender", hosts, chroot, name]
        cmd += ["--session-timeout", str(SESSION_TIMEOUT)]
        if kazoo:
            cmd.append("--kazoo")
        self.name = name
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ready"):
                self.ready.set()

    def send(self, cmd: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
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


class Observer:
    """Records (monotonic time, leader address) at every change of the published leader."""

    def __init__(self) -> None:
        self.changes: list[tuple[float, str | None]] = []
        self.cond = threading.Condition()

    def record(self, address: str | None) -> None:
        with self.cond:
            self.changes.append((time.monotonic(), address))
            self.cond.notify_all()

    @property
    def current(self) -> str | None:
        with self.cond:
            return self.changes[-1][1] if self.changes else None

    def wait_change(self, old: str | None, timeout: float = 30.0) -> tuple[float, str]:
        """The first change after now to a leader other than ``old`` (None doesn't count)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            start = len(self.changes)
            while True:
                for t, addr in self.changes[start:]:
                    if addr is not None and addr != old:
                        return t, addr
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no new leader within {timeout} s (old {old})")
                self.cond.wait(left)

    def wait_leader(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not (self.changes and self.changes[-1][1]):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no leader")
                self.cond.wait(left)
            addr = self.changes[-1][1]
            assert addr is not None
            return addr


def kazoo_observer(client: KazooClient, path: str, obs: Observer) -> None:
    """Baseline observer: lowest ``__lock__`` child of kazoo's Election is the leader."""
    client.ensure_path(path)
    last: list[str | None] = [None, None]

    def on_children(children: list[str]) -> None:
        locks = sorted((c for c in children if "__lock__" in c), key=lambda c: c[-10:])
        if not locks:
            if last[0] is not None:
                last[0] = None
                obs.record(None)
            return
        if locks[0] == last[0]:
            return
        try:
            data, _ = client.get(f"{path}/{locks[0]}")
        except Exception:
            return
        last[0] = locks[0]
        obs.record(json.loads(data)["address"])

    client.ChildrenWatch(path, on_children)


class Cluster:
    """CONTENDERS contender processes plus an observer, under their own chroot."""

    def __init__(self, hosts: str, chroot: str, kazoo: bool) -> None:
        self.hosts, self.chroot, self.kazoo = hosts, chroot, kazoo
        self.client = connect(hosts, chroot=chroot, session_timeout=SESSION_TIMEOUT)
        self.obs = Observer()
        if kazoo:
            kazoo_observer(self.client, "/election", self.obs)
        else:
            LeaderWatch(self.client, lambda li: self.obs.record(li.address if li else None))
        self.procs: dict[str, Proc] = {}
        self.serial = 0
        self.fill()

    def spawn(self) -> None:
        self.serial += 1
        name = f"{'k' if self.kazoo else 'p'}{self.serial}"
        p = Proc(self.hosts, self.chroot, name, self.kazoo)
        self.procs[f"tcp://{name}"] = p
        if not p.ready.wait(30):
            raise RuntimeError(f"contender {name} did not start")

    def fill(self) -> None:
        while len(self.procs) < CONTENDERS:
            self.spawn()
        # Wait until every contender is in line (kazoo queues after the lock call).
        path = "/election"
        deadline = time.monotonic() + 30
        while len(self.client.get_children(path)) < CONTENDERS:
            if time.monotonic() > deadline:
                raise RuntimeError("contenders did not queue up")
            time.sleep(0.01)
        self.obs.wait_leader()

    def kill_round(self) -> float:
        leader = self.obs.wait_leader()
        proc = self.procs.pop(leader)
        t0 = time.monotonic()
        proc.kill9()
        t1, _ = self.obs.wait_change(leader)
        self.fill()
        return t1 - t0

    def abdicate_round(self) -> float:
        leader = self.obs.wait_leader()
        t0 = time.monotonic()
        self.procs[leader].send("abdicate")
        t1, _ = self.obs.wait_change(leader)
        self.fill()
        return t1 - t0

    def close(self) -> None:
        for p in self.procs.values():
            p.close()
        close_quietly(self.client)


def pct(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 10 samples is the maximum)."""
    s = sorted(xs)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def row(name: str, xs: list[float]) -> str:
    return (
        f"{name:<34} {len(xs):>3} {statistics.median(xs):>8.3f} {pct(xs, 90):>8.3f} "
        f"{pct(xs, 99):>8.3f} {min(xs):>8.3f}"
    )


def run_rounds(n: int, fn: Callable[[], float], label: str) -> list[float]:
    out = []
    for i in range(n):
        out.append(fn())
        print(f"  {label} round {i + 1}: {out[-1]:.3f} s", file=sys.stderr)
    return out


def main() -> int:
    started = time.monotonic()
    with ZooKeeperServer() as server:
        ours = Cluster(server.hosts, "/bench-pydcos", kazoo=False)
        base = Cluster(server.hosts, "/bench-kazoo", kazoo=True)
        try:
            abdicate = run_rounds(ABDICATE_ROUNDS, ours.abdicate_round, "abdicate")
            kill: list[float] = []
            baseline: list[float] = []
            for i in range(ROUNDS):  # interleaved: drift hits both alike
                kill.append(ours.kill_round())
                baseline.append(base.kill_round())
                print(
                    f"  kill round {i + 1}: pydcos {kill[-1]:.3f} s, kazoo {baseline[-1]:.3f} s",
                    file=sys.stderr,
                )
        finally:
            ours.close()
            base.close()
    result = {
        "bench": "failover",
        "abdicate_p50_s": round(statistics.median(abdicate), 3),
        "kill_p50_s": round(statistics.median(kill), 3),
        "kill_p99_s": round(pct(kill, 99), 3),
        "baseline_kill_p50_s": round(statistics.median(baseline), 3),
        "kill_ratio_vs_kazoo": round(statistics.median(kill) / statistics.median(baseline), 3),
    }
    met = all(result[k] <= v for k, v in TARGETS.items())  # type: ignore[operator]
    result["targets_met"] = met
    print(f"session timeout {SESSION_TIMEOUT} s, tickTime {server.tick_ms} ms, seconds:")
    print(f"{'case':<34} {'n':>3} {'p50':>8} {'p90':>8} {'p99':>8} {'min':>8}")
    print(row("(a) abdicate -> new leader", abdicate))
    print(row("(b) SIGKILL -> new leader", kill))
    print(row("baseline kazoo Election, SIGKILL", baseline))
    print(
        f"targets: abdicate p50 <= {TARGETS['abdicate_p50_s']}, kill p50 <= "
        f"{TARGETS['kill_p50_s']}, kill p99 <= {TARGETS['kill_p99_s']}: "
        f"{'met' if met else 'MISSED'}; total {time.monotonic() - started:.0f} s"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
