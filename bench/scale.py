"""Datacenter scale: 10,000 agents and 100,000 tasks on one leader, grown in steps.

    .venv/bin/python bench/scale.py [--agents 1000,5000,10000] [--tasks 10000,50000,100000]
        [--quick] [--profile DIR [--profile-steps last|all]] [--session-timeout S]
        [--failover-steps all|last] [--no-failover] [--no-bad-input] [--json-out FILE]
        [--keep-logs]

What runs, all real OS processes on loopback with the real ZooKeeper (Debian package):

* two ``pydcos master`` processes (leader + standby; a fresh standby replaces every
  killed leader), started as ``cluster up`` starts them, with their default services
  (Marathon, Metronome, Mesos APIs, DNS, L4LB, metrics, logs), ``--insecure-dev``
  transport and ``--no-auth`` when the master has that flag;
* agent hosts (bench/_scale_agents.py): up to 2,500 simulated agents per process, each a
  real ``AgentActor`` (registration, pings, acknowledged status updates) with
  ``SimulatedRunner`` tasks (no process), the containerizer bench/scheduling.py uses;
* this script: an HTTP client of the Marathon, Metronome and Mesos APIs only (4 clients
  posting the apps, then 16 posting the jobs and their runs), plus a ``runtime.connect``
  handle to read the leader's allocation metrics.

Each step (agents[i], tasks[i]) adds agents (all of a host's at once: the registration
flood), then tasks: 95% as Marathon apps of up to 1,000 instances, 5% as Metronome job
runs (one long-running task per run), and measures: allocation cycle p50/p99 (the
leader's last 1,000 cycles), offers/s, tasks launched/s (first POST until the agents run
them all), leader RSS and marginal bytes per agent and per task, ZooKeeper data size
(``mntr``), p50/p99 of GET /marathon/v2/apps, /marathon/v2/tasks, /mesos/master/state,
/metronome/v1/jobs (20 requests each, the first after a change uncached), then a leader
SIGKILL: time until the new leader is elected, until every agent has re-registered (the
storm), until it serves the full state (every task in /mesos/master/state and
/marathon/v2/apps, every job in /metronome/v1/jobs), and until it launches again (a probe app's
tasks RUNNING: ``failover_s``), with tasks lost or restarted counted.

After the last step, the issue's bad inputs at full size (bench/_scale_bad.py): a
framework that never answers offers, a client hammering /v2/tasks, and the registration
flood figures collected above.

A busy leader is treated as a patient client would: a 503 on a POST is retried, a failed
GET counts at its full time and as an error, a leadership lost without a kill (ZooKeeper
session expired) is followed and counted (``flaps``), and a step that cannot finish ends
the growth with the table of the steps done. Every row has the machine's load average:
the figures of a shared 2-core machine are only comparable at comparable load.

matplotlib is not a dependency of pydcos, so no PNG: the curves are drawn with plotext in
the terminal. Growth exponent of a figure = log(f2/f1) / log(n2/n1) between the first and
the last step's task counts (10k and 100k). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._scale_cluster import (  # noqa: E402
    SESSION_TIMEOUT,
    Http,
    Proc,
    _status_kb,
    _supports,
    companion_pids,
    cpu_seconds,
    machine_busy_seconds,
    pct,
    start_agent_host,
    start_master,
)
from bench._scale_profile import Profile, top_frames  # noqa: E402

AGENTS_PER_HOST = 2500
APP_INSTANCES = 1000
METRONOME_SHARE = 0.05
TASK = {"cpus": 0.05, "mem": 32}
PROBE_INSTANCES = 10
PROBE_POST_TIMEOUT = 20.0
"""Seconds the failover's probe POST waits for an answer before it is sent again (the
gateway's ask of Marathon times out after 10 s)."""
POSTERS = 4
"""Clients creating apps at once."""
JOB_POSTERS = 16
"""Clients creating jobs and their runs at once, from when the last app's POST went out.
A job run costs two POSTs one after the other, each answered after its ZooKeeper write
(~6 ms on the loaded machine): with the apps' 4 clients the jobs came at ~330 runs/s,
and the last 10-12 s of a 100k step launched nothing but them while the leader sat at
half a core (per-second launch times, 2026-12-07). 16 clients keep several writes in
each of Metronome's multis."""
POST_PATIENCE = 300.0
FAILOVER_TIMEOUT = 300.0
"""Past this, a failover is reported incomplete (its figures so far) and growth stops."""
GET_SAMPLES = 20
ENDPOINTS = {
    "apps": "/marathon/v2/apps",
    "tasks": "/marathon/v2/tasks",
    "state": "/mesos/master/state",
    "jobs": "/metronome/v1/jobs",
}
TARGETS = {
    "alloc_p50_ms": 200.0,
    "launch_per_s": 2000.0,
    "leader_rss_mb": 2048.0,
    "get_p50_ms": 250.0,
    "get_p99_ms": 1000.0,
    "failover_s": 10.0,
    "growth": 1.1,
}


def launch_cycles(m0: dict[str, Any], m1: dict[str, Any]) -> dict[str, Any]:
    """The allocation cycles of one launch phase (between metrics ``m0`` and ``m1``):
    p50, p99 and mean ms, from the leader's last cycle times (it keeps 1,000; a phase
    with more gives its last 1,000). The leader's own p50 covers every cycle since it
    started: a step's figure mixed in the earlier steps' cycles."""
    n = m1["alloc_cycles"] - m0["alloc_cycles"]
    times = sorted(m1.get("alloc_cycle_ms_last", [])[-n:] if n > 0 else [])
    if not times:
        return {"alloc_p50_ms": None, "alloc_p99_ms": None, "alloc_mean_ms": None}
    return {
        "alloc_p50_ms": pct(times, 50),
        "alloc_p99_ms": pct(times, 99),
        "alloc_mean_ms": sum(times) / len(times),
        "alloc_total_s": sum(times) / 1000.0,
    }


def rss_mb_of(pid: int) -> float:
    """Resident MB of ``pid`` (0 once it is gone)."""
    try:
        return _status_kb(pid, "VmRSS") / 1024
    except (OSError, RuntimeError):
        return 0.0


def cpu_share(c0: dict[str, float], c1: dict[str, float], wall: float) -> dict[str, float]:
    """Cores each role used on average over ``wall`` seconds (``cpu_{role}_cores``), from
    two ``Bench.cpu`` readings; ``cpu_busy_cores`` is the whole machine's."""
    return {f"cpu_{k}_cores": (c1[k] - c0[k]) / wall for k in c0 if wall > 0}


POST_HOPS = ("queue", "wait", "write", "answer")
"""Metronome's timed hops of a POST (``/v1/metrics``, microseconds summed): gateway to
its inbox, inbox to the write's issue (group commit), the ZooKeeper write, the answer's
way back; ``http`` is the whole request as the gateway saw it."""


def job_post_hops(row: dict[str, Any]) -> str | None:
    """One line: where a step's job POSTs spent their time, from the step's deltas of
    Metronome's POST counters (``metronome_post_*``); None when the step timed none."""
    n = row.get("metronome_post_timed") or 0
    if n <= 0 or "metronome_post_http_us" not in row:
        return None
    mean = {h: row.get(f"metronome_post_{h}_us", 0) / n / 1000.0 for h in (*POST_HOPS, "http")}
    hops = ", ".join(f"{h} {mean[h]:.1f}" for h in POST_HOPS)
    return (
        f"job POSTs while {row['tasks']} tasks launched: {n} timed, mean {mean['http']:.1f} ms "
        f"({hops} ms; the write is ZooKeeper's answer)"
    )


def reference_loop_s() -> float:
    """Seconds a fixed pure-Python loop takes in this process (best of 3), run when the
    cluster is down: how fast this machine runs Python today, so that absolute figures
    from different machines can be compared (0.70 s on the VM of 2026-12-07's third
    session, whose bench/scheduling.py gave 4,700-7,180 tasks/s where the README's earlier
    runs had 10,300-11,700)."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        acc = 0
        for i in range(10_000_000):
            acc += i * i
        best = min(best, time.perf_counter() - t)
    return best


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _timed_get(http: Http, path: str, read: bool) -> tuple[int, int, float, bytes]:
    """(status, body length, seconds, the body's first bytes) of one GET: into the
    client's kept buffer, or with http.client's ``read()`` when ``read``."""
    if read:
        status, raw, dt = http.request("GET", path)
        return status, len(raw), dt, raw[:200]
    return http.get_into(path)


class Bench:
    def __init__(
        self, tmp: Path, profile_dir: Path | None, session_timeout: float = SESSION_TIMEOUT
    ) -> None:
        from zk import ZooKeeperServer

        self.tmp = tmp
        self.session_timeout = session_timeout
        self.profile_dir = profile_dir
        self.zk_server = ZooKeeperServer().start()
        self.zk = f"{self.zk_server.hosts}/pydcos-scale"
        self.no_auth = _supports("--no-auth")
        self.masters: list[Proc] = []
        self.hosts: list[Proc] = []
        self.host_refs: list[Any] = []
        self.serial = 0
        self.agents = 0
        self.apps: dict[str, int] = {}
        self.jobs = 0
        self.profiles: list[str] = []
        self.leader_changes = 0
        """Leaderships lost without a SIGKILL from this bench (ZooKeeper session expired)."""
        from runtime import connect
        from zk import connect as zk_connect

        self.zkc = zk_connect(self.zk_server.hosts, chroot="/pydcos-scale")
        for _ in range(2):
            self.add_master()
        self.cluster = connect("zk://" + self.zk, insecure_dev=True)
        self.leader = self.wait_leader(None, 60)
        self.baseline: Proc | None = None
        self.baseline_http: Http | None = None

    def baseline_p50(self, size: int, read: bool = False) -> float:
        """p50 ms of GETting ``size`` bytes from a static server in its own process
        (bench/_scale_baseline.py) with the same client (into its kept buffer, or with
        ``read()`` when ``read``): the machine's cost of moving that many bytes,
        measured in the same run as the view that sends them."""
        if self.baseline_http is None:
            proc = Proc(
                "baseline",
                [sys.executable, str(ROOT / "bench" / "_scale_baseline.py")],
                self.tmp / "baseline.log",
            ).start(stdin_pipe=True)
            self.baseline = proc
            port = int(proc.wait_banner("baseline", 30)[1].rsplit(":", 1)[1])
            self.baseline_http = Http(f"http://127.0.0.1:{port}")
        times = []
        for _ in range(GET_SAMPLES):
            status, n, dt = _timed_get(self.baseline_http, f"/{size}", read)[:3]
            if status != 200 or n != size:
                raise RuntimeError(f"baseline GET /{size}: {status}, {n} bytes")
            times.append(dt * 1000)
        return pct(times, 50)

    # ------------------------------------------------------------------ processes

    def add_master(self) -> Proc:
        self.serial += 1
        m = start_master(self.zk, self.tmp, self.serial, self.no_auth, self.session_timeout)
        self.masters.append(m)
        m.wait_banner("master", 60)
        return m

    def wait_leader(self, old: str | None, timeout: float) -> dict[str, Any]:
        """The published leader (another than ``old``) with its process and clients."""
        from zk import read_leader

        deadline = time.monotonic() + timeout
        while True:
            info = read_leader(self.zkc)
            if info is not None and info.address != old and info.http_url:
                for m in self.masters:
                    if m.banner and m.banner[1] == info.address:
                        http = Http(info.http_url)
                        ref = self.cluster.node.ref(f"{info.address}/master")
                        return {"address": info.address, "proc": m, "http": http, "ref": ref}
            if time.monotonic() > deadline:
                raise RuntimeError(f"no new leader within {timeout} s")
            time.sleep(0.02)

    def _follow_leader(self) -> None:
        """After an unexpected failure: if another master leads now (the leader lost its
        ZooKeeper session), follow it and count the change."""
        from zk import read_leader

        try:
            info = read_leader(self.zkc)
        except Exception:
            return
        if info is not None and info.address != self.leader["address"]:
            log(f"  leadership moved on its own to {info.address}")
            self.leader_changes += 1
            self.leader = self.wait_leader(self.leader["address"], 60)

    def metrics(self) -> dict[str, Any]:
        from actors.protocol import GetState

        out: dict[str, Any] = self.leader["ref"].ask(
            GetState("metrics", {"cycle_times": True}), timeout=60
        )
        return out

    def snapshot(self) -> dict[str, float]:
        from actors.protocol import GetState

        out: dict[str, float] = self.leader["ref"].ask(GetState("snapshot"), timeout=60)
        return out

    def host_ask(self, ref: Any, what: str) -> Any:
        """Ask an agent host's stats actor, again while its node is marked down: the
        hosts are the harness (10,000 simulated machines on the leader's 2 cores), and
        in a re-registration storm one may answer no heartbeat for 5 s (load 50), which
        fails the pending ask (runtime: "node ... is unreachable") although the host
        is alive and answers again moments later."""
        from runtime import ActorDead

        deadline = time.monotonic() + 120
        while True:
            try:
                return ref.ask(what, timeout=120)
            except ActorDead as exc:
                if time.monotonic() > deadline:
                    raise
                log(f"  agent host busy ({exc}): asking again")
                time.sleep(0.5)

    def host_stats(self, what: str = "stats") -> dict[str, int]:
        total: dict[str, int] = {}
        for ref in self.host_refs:
            for k, v in self.host_ask(ref, what).items():
                total[k] = total.get(k, 0) + v
        return total

    def probe_launched_at(self, t0: float) -> float:
        """When the agents launched the probe's last task (``time.monotonic``, one clock
        for the machine's processes): the hosts keep their launch times, so the figure
        does not include how long this loop took to notice (a busy new leader's
        /metrics/snapshot and the hosts' answers take up to seconds during the storm)."""
        times: list[float] = []
        for ref in self.host_refs:
            times.extend(self.host_ask(ref, f"launched_since:{t0!r}"))
        times.sort()
        return times[PROBE_INSTANCES - 1] if len(times) >= PROBE_INSTANCES else time.monotonic()

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by role (the leader, the standby masters, the agent
        hosts, ZooKeeper, this bench) and by the whole machine (``busy``): where the 2
        cores went during a phase, the harness's share included."""
        leader = self.leader["proc"]
        return {
            "leader": cpu_seconds(leader.pid),
            "standby": sum(cpu_seconds(m.pid) for m in self.masters if m is not leader),
            # every master's DNS companion (a process apart: not in the master's figure)
            "companions": sum(cpu_seconds(c) for m in self.masters for c in companion_pids(m.pid)),
            "agents": sum(cpu_seconds(h.pid) for h in self.hosts),
            "zk": cpu_seconds(self.zk_server.pid),
            "bench": cpu_seconds(os.getpid()),
            "busy": machine_busy_seconds(),
        }

    def zk_size(self) -> dict[str, int]:
        from zk import four_letter_word

        host, port = self.zk_server.hosts.split(":")
        out = {}
        for line in four_letter_word(host, int(port), "mntr", timeout=5).splitlines():
            k, _, v = line.partition("\t")
            if k in ("zk_approximate_data_size", "zk_znode_count"):
                out[k] = int(v)
        return out

    # ------------------------------------------------------------------ agents

    def grow_agents(self, target: int) -> dict[str, Any]:
        """Start hosts for the missing agents, all at once; time until the leader counts
        them all, while another client keeps asking for /marathon/v2/apps."""
        if target <= self.agents:
            return {"added": 0}
        rss0 = self.leader["proc"].rss_mb()
        cycles0 = self.snapshot()["allocator/mesos/allocation_runs"]
        probe = Prober(self.leader["http"], ENDPOINTS["apps"]).start()
        t0 = time.monotonic()
        new = []
        first = self.agents
        while first < target:
            count = min(AGENTS_PER_HOST, target - first)
            new.append(start_agent_host(self.zk, self.tmp, first, count))
            first += count
        self.hosts += new
        for h in new:
            words = h.wait_banner("AGENTS", 600)
            self.host_refs.append(self.cluster.node.ref(f"{words[1]}/stats"))
        spawned = time.monotonic() - t0
        active = 0.0
        while active < target:
            if time.monotonic() - t0 > 900:
                raise RuntimeError(f"agents did not all register: {active}/{target}")
            try:
                active = self.snapshot()["master/slaves_active"]
            except Exception as exc:  # a leader too busy to answer, or gone
                log(f"  asking the leader for its agents: {exc!r}")
                self._follow_leader()
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
        probe.stop()
        try:
            cycles = self.snapshot()["allocator/mesos/allocation_runs"] - cycles0
        except Exception:
            cycles = None
        added = target - self.agents
        self.agents = target
        rss1 = self.leader["proc"].rss_mb()
        return {
            "added": added,
            "register_s": elapsed,
            "spawn_s": spawned,
            "register_per_s": added / elapsed,
            "alloc_cycles_during": cycles,
            "probe_max_ms": probe.max_ms(),
            "probe_n": len(probe.times),
            "bytes_per_agent": max(0.0, (rss1 - rss0) * 1024 * 1024 / added),
        }

    # ------------------------------------------------------------------ tasks

    def grow_tasks(self, target: int, profile_name: str | None) -> dict[str, Any]:
        """POST apps (POSTERS clients) and job runs (JOB_POSTERS) for the missing tasks;
        time until the agents run them all and Marathon reports them running."""
        have = self.expected_tasks()
        if target <= have:
            return {"added": 0}
        want_jobs = round(target * METRONOME_SHARE)
        new_jobs = range(self.jobs, max(self.jobs, want_jobs))
        want_apps = target - max(want_jobs, self.jobs) - sum(self.apps.values())
        new_apps: list[tuple[str, int]] = []
        k = len(self.apps)
        while want_apps > 0:
            n = min(APP_INSTANCES, want_apps)
            new_apps.append((f"/scale/app-{k:04d}", n))
            want_apps -= n
            k += 1
        http = self.leader["http"]
        rss0 = self.leader["proc"].rss_mb()
        m0 = self.metrics()
        stats0 = self.host_stats()
        jobs0 = self.metronome_counters()
        prof = self._profile(profile_name)
        cpu0 = self.cpu()
        t0 = time.monotonic()

        def post_app(app: tuple[str, int]) -> None:
            body = {"id": app[0], "cmd": "sleep 3600", "instances": app[1], **TASK}
            body["portDefinitions"] = []
            post(http, "/marathon/v2/apps", body, f"app {app[0]}")

        def post_job(i: int) -> None:
            jid = f"scale-j{i:05d}"
            body = {"id": jid, "run": {"cmd": "sleep 3600", **TASK}}
            post(http, "/metronome/v1/jobs", body, f"job {jid}")
            # A run is not idempotent: a 503 may have started it, so look before a retry.
            deadline = time.monotonic() + POST_PATIENCE
            while True:
                try:
                    post(http, f"/metronome/v1/jobs/{jid}/runs", {}, f"run of {jid}", False)
                    return
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(1.0)
                with contextlib.suppress(OSError, RuntimeError, ValueError):
                    if http.get_json(f"/metronome/v1/jobs/{jid}/runs"):
                        return

        # POSTERS clients post the apps; JOB_POSTERS clients the jobs, from when the last
        # app's POST went out. (Tried: Marathon's and Metronome's clients as two teams
        # at once, 2026-12-07: 1,420-1,914/s against 1,695-2,071/s apps first; a job
        # costs two POSTs, each a ZooKeeper write, and those slowed the apps' launches
        # more than the job tail they took away.)
        apps_out = threading.Event()
        taken = iter(range(1, len(new_apps) + 1))
        taking = threading.Lock()
        if not new_apps:
            apps_out.set()

        def next_app(app: tuple[str, int]) -> None:
            with taking:
                if next(taken) == len(new_apps):
                    apps_out.set()
            post_app(app)

        def next_job(i: int) -> None:
            apps_out.wait()
            post_job(i)

        posted_at: dict[str, float] = {}
        with ThreadPoolExecutor(POSTERS) as pool, ThreadPoolExecutor(JOB_POSTERS) as job_pool:
            futs = [pool.submit(next_app, a) for a in new_apps]
            jobs = [job_pool.submit(next_job, i) for i in new_jobs]
            for f in futs:
                f.result()
            posted_at["apps"] = time.monotonic() - t0
            for f in jobs:
                f.result()
            posted_at["jobs"] = time.monotonic() - t0
        posted = time.monotonic() - t0
        for app_id, n in new_apps:
            self.apps[app_id] = n
        self.jobs = max(self.jobs, want_jobs)
        expected = self.expected_tasks()
        timeout = max(300.0, (expected - have) / 40)  # >= 40 tasks/s on a loaded machine
        while (running := self.host_stats()["running"]) < expected:
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"only {running}/{expected} tasks running after {timeout} s")
            time.sleep(0.1)
        agents_done = time.monotonic() - t0
        cpu1 = self.cpu()
        curve = self.launch_curve(t0)
        self.wait_marathon_running(sum(self.apps.values()), 300)
        elapsed = time.monotonic() - t0
        self._stop_profile(prof)
        m1 = self.metrics()
        stats1 = self.host_stats()
        jobs1 = self.metronome_counters()
        rss1 = self.leader["proc"].rss_mb()
        offers = None
        if "offers_made" in m1 and "offers_made" in m0:
            offers = (m1["offers_made"] - m0["offers_made"]) / agents_done
        return {
            "added": expected - have,
            "post_s": posted,
            "apps_post_s": posted_at["apps"],
            "jobs_post_s": posted_at["jobs"],
            "launch_s": agents_done,
            "marathon_s": elapsed,
            "launch_per_s": (expected - have) / agents_done,
            "launches": stats1["launches"] - stats0["launches"],
            "offers_per_s": offers,
            **launch_cycles(m0, m1),
            # the whole master turn that ran a cycle (pings, expiries, watch flush beside)
            "alloc_turn_p50_ms": m1.get("alloc_turn_ms_p50"),
            # the turns that ran a cycle: wall seconds, and the CPU the master thread
            # spent in them (the rest of the wall time it waited for the GIL)
            **{
                f"{k}_during": m1[k] - m0[k]
                for k in ("alloc_turn_wall_s", "alloc_turn_cpu_s")
                if k in m1 and k in m0
            },
            "alloc_cycles": m1["alloc_cycles"] - m0["alloc_cycles"],
            # (a maximum's difference means nothing: left out)
            **{
                f"metronome_{k}": jobs1[k] - jobs0[k]
                for k in jobs1
                if k in jobs0 and "max" not in k
            },
            "bytes_per_task": max(0.0, (rss1 - rss0) * 1024 * 1024 / (expected - have)),
            **cpu_share(cpu0, cpu1, agents_done),
            "leader_cpu_ms_per_task": (cpu1["leader"] - cpu0["leader"]) * 1000 / (expected - have),
            **curve,
        }

    def launch_curve(self, t0: float) -> dict[str, float]:
        """Seconds from ``t0`` until half, 90%, 95% and 99% of the tasks launched since
        then had launched (the hosts' launch times): where a step's launch time went."""
        times: list[float] = []
        for ref in self.host_refs:
            times.extend(self.host_ask(ref, f"launched_since:{t0!r}"))
        times.sort()
        if not times:
            return {}
        return {
            f"launched_p{q}_s": times[min(len(times) - 1, len(times) * q // 100)] - t0
            for q in (50, 90, 95, 99)
        }

    def metronome_counters(self) -> dict[str, int]:
        """Metronome's counters so far (``/v1/metrics``): what the job runs cost the
        allocator (a revive brings every agent's offer to Metronome), and where its POSTs
        spent their time."""
        try:
            counters = self.leader["http"].get_json("/metronome/v1/metrics")["counters"]
        except (OSError, RuntimeError, ValueError, KeyError):
            return {}
        # Every counter (revives, offers, launched, the POST hops: ``job_post_hops``).
        return {
            name[len("metronome.") : -len(".counter")]: c["count"]
            for name, c in counters.items()
            if name.startswith("metronome.") and name.endswith(".counter")
        }

    def expected_tasks(self) -> int:
        return sum(self.apps.values()) + self.jobs

    def wait_marathon_running(self, n: int, timeout: float) -> None:
        http = self.leader["http"]
        t0 = time.monotonic()
        while True:
            try:
                apps = http.get_json(ENDPOINTS["apps"])["apps"]
                got = sum(a["tasksRunning"] for a in apps if a["id"].startswith("/scale/app-"))
            except (OSError, RuntimeError):
                got = -1
            if got >= n:
                return
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"Marathon counts {got}/{n} running after {timeout} s")
            time.sleep(0.2)

    # ------------------------------------------------------------------ reads

    def measure_gets(self, profile_name: str | None) -> dict[str, Any]:
        """The four GETs, GET_SAMPLES each, read into the client's kept buffer (the
        targets' figures, ``{key}_p50_ms``...), then GET_SAMPLES more with http.client's
        ``read()`` (``{key}_read_p50_ms``...: what a client that allocates every answer
        sees), and the static-server baseline of the same bytes both ways."""
        prof = self._profile(profile_name)
        out: dict[str, Any] = {}
        http = self.leader["http"]
        for key, path in ENDPOINTS.items():
            for read in (False, True):
                times, size, errors, last_error = [], 0, 0, ""
                t_end = time.monotonic() + 60
                for _ in range(GET_SAMPLES):
                    try:
                        status, n, dt, head = _timed_get(http, path, read)
                    except OSError as exc:
                        status, n, dt, head = 0, 0, 60.0, str(exc).encode()
                    # A failed request counts at its full time (a 503 after the
                    # gateway's timeout is a slow answer to the client), and as an error.
                    times.append(dt * 1000)
                    if status != 200:
                        errors += 1
                        last_error = f"{status} {head[:160]!r}"
                    else:
                        size = n
                    if time.monotonic() > t_end:
                        break
                if errors == len(times):
                    raise RuntimeError(f"GET {path}: every request failed, last {last_error}")
                if errors:
                    log(f"  GET {path}: {errors}/{len(times)} failed, last {last_error}")
                k = f"{key}_read" if read else key
                out[f"{k}_errors"] = errors
                out[f"{k}_p50_ms"] = pct(times, 50)
                out[f"{k}_p99_ms"] = pct(times, 99)
                if not read:
                    out[f"{key}_first_ms"] = times[0]
                    out[f"{key}_bytes"] = size
        self._stop_profile(prof)
        for key in ENDPOINTS:
            if out[f"{key}_bytes"]:
                out[f"{key}_baseline_p50_ms"] = self.baseline_p50(out[f"{key}_bytes"])
                out[f"{key}_baseline_read_p50_ms"] = self.baseline_p50(
                    out[f"{key}_bytes"], read=True
                )
        return out

    # ------------------------------------------------------------------ failover

    def failover(self, profile_name: str | None) -> dict[str, Any]:
        """SIGKILL the leader; time the new leader's election, the agents' re-registration
        storm, the full state served, and a probe app's tasks RUNNING."""
        old = self.leader
        http_old = old["http"]
        ids_before = {t["id"] for t in http_old.get_json(ENDPOINTS["tasks"])["tasks"]}
        stats0 = self.host_stats()
        expected = self.expected_tasks()
        standby = next(m for m in self.masters if m is not old["proc"])
        prof = self._profile(profile_name, pid=standby.pid)
        changes0 = self.leader_changes
        t0 = time.monotonic()
        old["proc"].kill9()
        self.masters.remove(old["proc"])
        self.leader = self.wait_leader(old["address"], 120)
        elected = time.monotonic() - t0
        http = self.leader["http"]
        probe_id = f"/probe/p{self.serial}"
        body = {"id": probe_id, "cmd": "sleep 3600", "instances": PROBE_INSTANCES, **TASK}
        body["portDefinitions"] = []
        probe_err = ""
        tried = False
        # Its own connection with a short timeout: an answer lost by a busy new leader
        # must cost a retry, not the client's 120 s.
        probe_http = Http(f"http://{http.host}:{http.port}", timeout=PROBE_POST_TIMEOUT)
        while True:
            try:
                status, raw, _ = probe_http.request("POST", "/marathon/v2/apps", body)
                if status == 201:
                    break
                if status == 409 and tried:
                    # An earlier attempt created it but its answer was lost to us (the
                    # busy new leader's ask timed out after Marathon had queued it): the
                    # probe id is this step's own, as a DC/OS client's retry would see.
                    break
                probe_err = f"{status} {raw[:200]!r}"
            except OSError as exc:
                probe_err = str(exc)
            tried = True
            if time.monotonic() - t0 > 300:
                probe_http.close()
                raise RuntimeError(f"the new leader did not take the probe app: {probe_err}")
            time.sleep(0.05)
        probe_http.close()
        accepted = time.monotonic() - t0
        storm = full_state = launching = None
        total_agents = self.agents
        log(f"  new leader elected in {elected:.1f} s, took the probe app at {accepted:.1f} s")
        incomplete = False
        while storm is None or full_state is None or launching is None:
            now = time.monotonic() - t0
            if now > FAILOVER_TIMEOUT:
                log(
                    f"  failover incomplete after {FAILOVER_TIMEOUT} s: storm={storm} "
                    f"state={full_state} launching={launching}"
                )
                incomplete = True
                break
            if launching is None:
                s = self.host_stats()
                if s["launches"] >= stats0["launches"] + PROBE_INSTANCES:
                    launching = self.probe_launched_at(t0) - t0
                    log(
                        f"  launching again at {launching:.1f} s (seen at "
                        f"{time.monotonic() - t0:.1f} s)"
                    )
            try:
                snap = self.snapshot()
            except Exception:
                self._follow_leader()
                time.sleep(0.1)
                continue
            if storm is None and snap["master/slaves_active"] >= total_agents:
                storm = time.monotonic() - t0
                log(f"  every agent re-registered at {storm:.1f} s")
            if full_state is None and snap["master/tasks_running"] >= expected:
                # The leader counts every task; now the full documents must serve them.
                try:
                    state = http.get_json(ENDPOINTS["state"])
                    n = sum(len(f["tasks"]) for f in state["frameworks"])
                    apps = http.get_json(ENDPOINTS["apps"])["apps"]
                    mara = sum(a["tasksRunning"] for a in apps if a["id"].startswith("/scale/app-"))
                    # Metronome too (503 while its new actor loads the jobs).
                    status, raw, _ = http.request("GET", ENDPOINTS["jobs"])
                    jobs = len(json.loads(raw)) if status == 200 else -1
                except (OSError, RuntimeError, ValueError) as exc:
                    log(f"  reading the full state: {exc}")
                    self._follow_leader()
                    http = self.leader["http"]
                    n = mara = jobs = -1
                if n >= expected and mara >= sum(self.apps.values()) and jobs >= self.jobs:
                    full_state = time.monotonic() - t0
                    log(f"  full state served at {full_state:.1f} s")
            time.sleep(0.1)
        self._stop_profile(prof)
        rss = self.leader["proc"].rss_mb()
        if incomplete:
            return {
                "elected_s": elected,
                "probe_accepted_s": accepted,
                "storm_s": storm,
                "full_state_s": full_state,
                "failover_s": launching,
                "failover_incomplete": True,
                "leader_changes": self.leader_changes - changes0,
                "new_leader_rss_mb": rss,
            }
        ids_after = {t["id"] for t in http.get_json(ENDPOINTS["tasks"])["tasks"]}
        stats1 = self.host_stats()
        lost = len(ids_before - ids_after)
        restarted = stats1["launches"] - stats0["launches"] - PROBE_INSTANCES
        killed = stats1["kills"] - stats0["kills"]
        # Remove the probe and bring back a standby for the next step.
        status, raw, _ = http.request("DELETE", f"/marathon/v2/apps{probe_id}")
        if status not in (200, 202):
            raise RuntimeError(f"DELETE probe: {status} {raw[:200]!r}")
        self.add_master()
        deadline = time.monotonic() + 120
        while self.host_stats()["running"] > expected:
            if time.monotonic() > deadline:
                raise RuntimeError("the probe app's tasks were not killed")
            time.sleep(0.1)
        return {
            "elected_s": elected,
            "probe_accepted_s": accepted,
            "storm_s": storm,
            "full_state_s": full_state,
            "failover_s": launching,
            "leader_changes": self.leader_changes - changes0,
            "lost": lost,
            "restarted": max(0, restarted),
            "killed": killed,
            "new_leader_rss_mb": rss,
        }

    # ------------------------------------------------------------------ profiles

    def _profile(self, name: str | None, pid: int | None = None) -> Profile | None:
        if name is None or self.profile_dir is None:
            return None
        pid = pid if pid is not None else self.leader["proc"].pid
        return Profile(pid, self.profile_dir / f"{name}.txt").start()

    def _stop_profile(self, prof: Profile | None) -> None:
        if prof is None:
            return
        path = prof.stop()
        if path is None:
            log(f"py-spy failed: {prof.error}")
            return
        summary = top_frames(path)
        path.with_suffix(".top.txt").write_text(summary)
        self.profiles.append(str(path))
        log(f"profile {path} ({path.with_suffix('.top.txt').name})")

    def close(self) -> None:
        if self.baseline is not None:
            self.baseline.stop()
        for h in self.hosts:
            h.stop()
        for m in self.masters:
            m.stop()
        from zk import close_quietly

        close_quietly(self.zkc)
        self.cluster.close()
        self.zk_server.close()


def post(http: Http, path: str, body: Any, what: str, retry: bool = True) -> None:
    """POST that must give 201, retried like a patient client on a busy leader: a 503
    (the leader did not answer the gateway in time) or a broken connection is retried for
    up to POST_PATIENCE s; a 409 after such a retry means the first try did create it."""
    deadline = time.monotonic() + POST_PATIENCE
    retried = False
    while True:
        try:
            status, raw, _ = http.request("POST", path, body)
        except OSError as exc:
            status, raw = 0, str(exc).encode()
        if status == 201 or (status == 409 and retried):
            return
        if not retry or status not in (0, 502, 503, 504) or time.monotonic() > deadline:
            raise RuntimeError(f"POST {what}: {status} {raw[:300]!r}")
        retried = True
        time.sleep(1.0)


class Prober:
    """Another client: GETs ``path`` in a loop (one at a time) while something else
    happens; its latencies show whether the leader kept answering."""

    def __init__(self, http: Http, path: str) -> None:
        self.http, self.path = Http(f"http://{http.host}:{http.port}"), path
        self.times: list[float] = []
        self.errors = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Prober:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.done.is_set():
            try:
                status, _, dt = self.http.request("GET", self.path)
                if status == 200:
                    self.times.append(dt * 1000)
                else:
                    self.errors += 1
            except OSError:
                self.errors += 1
            self.done.wait(0.1)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(120)
        self.http.close()

    def max_ms(self) -> float | None:
        return max(self.times) if self.times else None

    def p50_ms(self) -> float | None:
        return pct(self.times, 50) if self.times else None


# ---------------------------------------------------------------------- report


def exponent(f1: float | None, f2: float | None, n1: int, n2: int, floor: float) -> float | None:
    if f1 is None or f2 is None or n1 == n2:
        return None
    return math.log(max(f2, floor) / max(f1, floor)) / math.log(n2 / n1)


GROWTH_FIGURES: dict[str, float] = {
    # figure -> floor (below it, a difference is noise, not growth)
    "alloc_p50_ms": 1.0,
    "launch_ms_per_task": 0.01,
    "leader_rss_mb": 50.0,
    "apps_p50_ms": 2.0,
    "tasks_p50_ms": 2.0,
    "state_p50_ms": 2.0,
    "jobs_p50_ms": 2.0,
    "failover_s": 0.5,
}


def run_step(bench: Bench, a: int, t: int, prof: str | None, failover: bool) -> dict[str, Any]:
    """One growth step: agents, then tasks, then the reads, ZooKeeper, the failover."""
    row: dict[str, Any] = {"agents": a, "tasks": t}
    log(f"step: growing to {a} agents")
    ga = bench.grow_agents(a)
    row.update({k: ga.get(k) for k in ("register_s", "register_per_s", "bytes_per_agent")})
    row["flood"] = ga
    log(f"  agents in {ga.get('register_s', 0):.1f} s; growing to {t} tasks")
    gt = bench.grow_tasks(t, f"launch-{prof}" if prof else None)
    row.update(gt)
    log(f"  tasks: {gt.get('launch_per_s', 0):.0f}/s; reading the APIs")
    row.update(bench.measure_gets(f"gets-{prof}" if prof else None))
    row["leader_rss_mb"] = bench.leader["proc"].rss_mb()
    row["leader_companion_rss_mb"] = sum(
        rss_mb_of(c) for c in companion_pids(bench.leader["proc"].pid)
    )
    z = bench.zk_size()
    row["zk_mb"] = z.get("zk_approximate_data_size", 0) / 1e6
    row["zk_znodes"] = z.get("zk_znode_count", 0)
    if failover:
        log("  leader SIGKILL")
        try:
            fo = bench.failover(f"recovery-{prof}" if prof else None)
        except Exception as exc:  # the figures before the kill stand; growth stops
            log(f"  the failover FAILED: {exc!r}")
            fo = {"failover_incomplete": True, "failover_error": str(exc)[:300]}
        row.update(fo)
        row["leader_rss_mb"] = max(row["leader_rss_mb"], fo.get("new_leader_rss_mb", 0.0))
    row["launch_ms_per_task"] = 1000.0 / row["launch_per_s"]
    row["stamp"] = time.strftime("%H:%M:%S")
    row["load1"] = os.getloadavg()[0]
    log(f"  step done: {json.dumps({k: v for k, v in row.items() if k != 'flood'})}")
    return row


def growth(
    rows: list[dict[str, Any]], figures: dict[str, float] = GROWTH_FIGURES
) -> dict[str, float | None]:
    """Growth exponent of every figure between the first and the last step."""
    first, final = rows[0], rows[-1]
    return {
        k: exponent(first.get(k), final.get(k), first["tasks"], final["tasks"], floor)
        for k, floor in figures.items()
    }


def table(rows: list[dict[str, Any]]) -> str:
    cols = [
        ("agents", "agents", "{:d}"),
        ("tasks", "tasks", "{:d}"),
        ("alloc p50", "alloc_p50_ms", "{:.1f}"),
        ("alloc p99", "alloc_p99_ms", "{:.1f}"),
        ("alloc mean", "alloc_mean_ms", "{:.1f}"),
        ("offers/s", "offers_per_s", "{:.0f}"),
        ("launch/s", "launch_per_s", "{:.0f}"),
        ("RSS MB", "leader_rss_mb", "{:.0f}"),
        ("B/agent", "bytes_per_agent", "{:.0f}"),
        ("B/task", "bytes_per_task", "{:.0f}"),
        ("ZK MB", "zk_mb", "{:.1f}"),
        ("apps p50/p99", ("apps_p50_ms", "apps_p99_ms"), "{:.0f}/{:.0f}"),
        ("tasks p50/p99", ("tasks_p50_ms", "tasks_p99_ms"), "{:.0f}/{:.0f}"),
        ("state p50/p99", ("state_p50_ms", "state_p99_ms"), "{:.0f}/{:.0f}"),
        ("jobs p50/p99", ("jobs_p50_ms", "jobs_p99_ms"), "{:.0f}/{:.0f}"),
        ("reg s", "register_s", "{:.1f}"),
        ("storm s", "storm_s", "{:.1f}"),
        ("state s", "full_state_s", "{:.1f}"),
        ("failover s", "failover_s", "{:.1f}"),
        ("lost/restart", ("lost", "restarted"), "{:d}/{:d}"),
        ("flaps", "leader_changes", "{:d}"),
        ("load", "load1", "{:.1f}"),
    ]
    head = [c[0] for c in cols]
    body = []
    for r in rows:
        cells = []
        for _, key, fmt in cols:
            vals = [r.get(k) for k in key] if isinstance(key, tuple) else [r.get(key)]
            cells.append("-" if any(v is None for v in vals) else fmt.format(*vals))
        body.append(cells)
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]]) -> str:
    import plotext as plt

    xs = [r["tasks"] / 1000 for r in rows]
    plt.clear_figure()
    plt.plotsize(78, 22)
    plt.theme("clear")
    # One letter per curve: the terminal may have no colours (and a README has none).
    for key, label, mark in (
        ("alloc_p50_ms", "alloc cycle p50", "*"),
        ("apps_p50_ms", "/v2/apps p50", "a"),
        ("tasks_p50_ms", "/v2/tasks p50", "t"),
        ("state_p50_ms", "/master/state p50", "s"),
        ("jobs_p50_ms", "/v1/jobs p50", "j"),
    ):
        ys = [r.get(key) or 0.0 for r in rows]
        plt.plot(xs, ys, label=f"{mark} {label}", marker=mark)
    plt.title("leader latency (ms) vs tasks (thousands)")
    plt.xlabel("tasks (k)")
    out = re.sub(r"\x1b\[[0-9;]*m", "", str(plt.build()))
    plt.clear_figure()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agents", default="1000,5000,10000")
    ap.add_argument("--tasks", default="10000,50000,100000")
    ap.add_argument("--quick", action="store_true", help="200,500 agents; 2000,5000 tasks")
    ap.add_argument("--profile", default=None, metavar="DIR", help="py-spy the leader")
    ap.add_argument(
        "--profile-steps", default="last", help="which steps to profile: last | all (last)"
    )
    ap.add_argument(
        "--session-timeout",
        type=float,
        default=SESSION_TIMEOUT,
        help=f"the masters' ZooKeeper session, s ({SESSION_TIMEOUT}; Mesos' default is 10)",
    )
    ap.add_argument("--no-failover", action="store_true")
    ap.add_argument(
        "--keep-logs", action="store_true", help="keep the masters' and agent hosts' logs"
    )
    ap.add_argument(
        "--failover-steps", default="all", help="steps that end with a SIGKILL: all | last"
    )
    ap.add_argument("--no-bad-input", action="store_true")
    ap.add_argument("--json-out", default=None, help="also write every step's figures here")
    args = ap.parse_args()
    if args.quick:
        args.agents, args.tasks = "200,500", "2000,5000"
    try:
        agents = [int(x) for x in args.agents.split(",")]
        tasks = [int(x) for x in args.tasks.split(",")]
    except ValueError:
        print(f"--agents/--tasks: {args.agents!r}/{args.tasks!r} must be integers", file=sys.stderr)
        return 2
    if len(agents) != len(tasks) or not agents or min(agents + tasks) < 1:
        print("--agents and --tasks need the same number of positive steps", file=sys.stderr)
        return 2
    if agents != sorted(agents) or tasks != sorted(tasks):
        print("--agents and --tasks must grow step by step", file=sys.stderr)
        return 2
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="pydcos-bench-scale-"))
    rows: list[dict[str, Any]] = []
    bad: dict[str, Any] = {}
    failed = ""
    ok = False
    bench = None
    started = time.monotonic()
    try:
        if not 0.4 <= args.session_timeout <= 60:
            print(f"--session-timeout: {args.session_timeout!r} is not 0.4..60 s", file=sys.stderr)
            return 2
        bench = Bench(tmp, profile_dir, args.session_timeout)
        log(
            f"masters up (--no-auth: {bench.no_auth}, session {args.session_timeout} s); "
            f"logs in {tmp}"
        )
        for i, (a, t) in enumerate(zip(agents, tasks, strict=True)):
            last = i == len(agents) - 1
            tag = f"{a // 1000}k-{t // 1000}k" if a >= 1000 else f"{a}-{t}"
            prof = tag if (last or args.profile_steps == "all") else None
            fo = not args.no_failover and (last or args.failover_steps == "all")
            try:
                row = run_step(bench, a, t, prof, failover=fo)
            except Exception as exc:
                log(f"step {a} agents / {t} tasks FAILED: {exc!r}: growth stops here")
                failed = f"{a} agents / {t} tasks: {exc}"
                break
            rows.append(row)
            if row.get("failover_incomplete"):
                log("the failover did not complete: growth stops here")
                break
        if (
            rows
            and not failed
            and not args.no_bad_input
            and not rows[-1].get("failover_incomplete")
        ):
            from bench._scale_bad import run_bad_inputs

            log("bad inputs at full size")
            bad = run_bad_inputs(bench)
        ok = not failed
    finally:
        if bench is not None:
            bench.close()
        if ok and not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}", file=sys.stderr)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"steps": rows, "bad": bad}, indent=1))
    if not rows:
        print(f"no step completed: {failed}")
        print(json.dumps({"bench": "scale", "error": failed, "targets_met": False}))
        return 1
    print(table(rows))
    if failed:
        print(f"FAILED at {failed}")
    for row in rows:
        if row.get("failover_incomplete"):
            why = row.get("failover_error") or f"not done within {FAILOVER_TIMEOUT:.0f} s"
            print(f"failover at {row['agents']} agents / {row['tasks']} tasks INCOMPLETE: {why}")
    if len(rows) > 1:
        print(plot(rows))
    first, final = rows[0], rows[-1]
    exps_by = growth(rows)
    exps = [v for v in exps_by.values() if v is not None]
    max_growth = max(exps) if exps else None
    print(
        "growth exponents "
        f"({first['tasks']} -> {final['tasks']} tasks): "
        + ", ".join(f"{k} {v:.2f}" for k, v in exps_by.items() if v is not None)
    )

    def exps_of(fmt: str) -> dict[str, float | None]:
        return {
            k: exponent(
                first.get(fmt.format(k)),
                final.get(fmt.format(k)),
                first["tasks"],
                final["tasks"],
                GROWTH_FIGURES[f"{k}_p50_ms"],
            )
            for k in ENDPOINTS
        }

    for title, fmt in (
        (
            "transfer baseline (the same bytes from a static server, same client, this run)",
            "{}_baseline_p50_ms",
        ),
        (
            "read with http.client's read(), a fresh buffer per answer (not a target figure)",
            "{}_read_p50_ms",
        ),
        ("transfer baseline with read()", "{}_baseline_read_p50_ms"),
    ):
        base = exps_of(fmt)
        if any(v is not None for v in base.values()):
            print(
                f"{title}: "
                + ", ".join(
                    f"{k} {first.get(fmt.format(k), 0):.1f} -> "
                    f"{final.get(fmt.format(k), 0):.1f} ms (exponent {v:.2f})"
                    for k, v in base.items()
                    if v is not None
                )
            )
    for row in rows:
        if "cpu_busy_cores" in row:
            print(
                f"cores used while {row['tasks']} tasks launched (machine "
                f"{os.cpu_count()}): leader {row['cpu_leader_cores']:.2f}, standby "
                f"{row['cpu_standby_cores']:.2f}, the masters' DNS companions "
                f"{row.get('cpu_companions_cores', 0.0):.2f}, agent hosts "
                f"{row['cpu_agents_cores']:.2f}, "
                f"ZooKeeper {row['cpu_zk_cores']:.2f}, bench {row['cpu_bench_cores']:.2f}; "
                f"machine busy {row['cpu_busy_cores']:.2f}; the leader's CPU per task "
                f"{row['leader_cpu_ms_per_task']:.2f} ms"
            )
    for row in rows:
        line = job_post_hops(row)
        if line is not None:
            print(line)
    for key, value in bad.items():
        print(f"bad input {key}: {json.dumps(value)}")
    print("plot: plotext in the terminal (matplotlib is not a dependency: no PNG)")
    machine_loop_s = reference_loop_s()
    print(f"machine: a fixed pure-Python loop (10^7 multiply-adds) took {machine_loop_s:.2f} s")
    profiles = ", ".join(bench.profiles) if bench is not None else ""
    print(f"total {time.monotonic() - started:.0f} s; profiles: {profiles or '-'}")
    gets_ok = all(
        final[f"{k}_p50_ms"] <= TARGETS["get_p50_ms"]
        and final[f"{k}_p99_ms"] <= TARGETS["get_p99_ms"]
        for k in ENDPOINTS
    )
    full_size = final["agents"] >= 10000 and final["tasks"] >= 100000
    met = bool(
        full_size
        and final["alloc_p50_ms"] is not None
        and final["alloc_p50_ms"] <= TARGETS["alloc_p50_ms"]
        and final["launch_per_s"] >= TARGETS["launch_per_s"]
        and final["leader_rss_mb"] <= TARGETS["leader_rss_mb"]
        and gets_ok
        and final.get("failover_s") is not None
        and final["failover_s"] <= TARGETS["failover_s"]
        and all(r.get("lost", 0) == 0 and r.get("restarted", 0) == 0 for r in rows)
        and max_growth is not None
        and max_growth <= TARGETS["growth"]
        and bad.get("ok", args.no_bad_input)
        and not failed
    )

    def r(v: Any, nd: int = 1) -> Any:
        return None if v is None else round(v, nd)

    print(
        json.dumps(
            {
                "bench": "scale",
                "agents": final["agents"],
                "tasks": final["tasks"],
                "alloc_p50_ms": r(final["alloc_p50_ms"], 2),
                "launch_per_s": r(final["launch_per_s"]),
                "leader_rss_mb": r(final["leader_rss_mb"]),
                # the leader's DNS, a process apart (--node-services-apart): not in the above
                "leader_dns_rss_mb": r(final.get("leader_companion_rss_mb")),
                "bytes_per_task": r(final["bytes_per_task"], 0),
                "apps_p50_ms": r(final["apps_p50_ms"]),
                "tasks_p50_ms": r(final["tasks_p50_ms"]),
                "state_p50_ms": r(final["state_p50_ms"]),
                "jobs_p50_ms": r(final["jobs_p50_ms"]),
                "failover_s": r(final.get("failover_s"), 2),
                "max_growth_exponent": r(max_growth, 3),
                "machine_loop_s": r(machine_loop_s, 2),
                "targets_met": met,
            }
        )
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYDCOS_LOG", "WARNING")
    sys.exit(main())
