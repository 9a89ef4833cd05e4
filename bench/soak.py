"""Soak with fault injection (issue 26): a ``--hosts`` cluster under a steady workload
while random faults hit it, with invariants checked after each fault and at the end.

    .venv/bin/python bench/soak.py                # 30 faults, seed 26 (~20 min)
    .venv/bin/python bench/soak.py --faults 3     # a quick look (~3 min)

Cluster: ``pydcos cluster up --hosts --no-auth --no-docker`` (3 masters, each with a
ZooKeeper member, 3 agents; every one in its own network namespace).

Workload (all through the public HTTP APIs, plus a framework on the transport):
* Marathon: apps ``/soak/a``, ``/soak/b``, ``/soak/c`` that a driver scales (1..3) and
  upgrades (a new env value: a rolling restart) every few seconds; every change that
  was acknowledged (HTTP 2xx) is remembered;
* Metronome: ``soak.forbid`` every minute, ``concurrencyPolicy`` FORBID, each run
  sleeping 70 s (so every next slot finds the previous run active), and ``soak.allow``
  every minute (5 s runs);
* a framework (``actors.framework``'s driver, connected like examples/run_tasks.py)
  launching 1-second tasks all along.

Faults (seeded): SIGKILL of the leader, of a standby, of an agent, of one ZooKeeper
member; partition of the leader's host (its ZooKeeper member with it: members live on
the master hosts), of an agent's host, of one ZooKeeper member alone (its ports only);
then heal / restart.

One fault at a time: after each heal/restart the soak waits until the cluster has
really recovered before the next fault (``recovery`` below): every ZooKeeper member
serving in the quorum (``srvr``: one leader, the others followers), every process up,
one master leading and the others back in the election, every agent active, every app
settled. Without that wait two faults overlap: a ZooKeeper member that was partitioned
rejoins the quorum only when its election backoff lets it (it was seen 14 s and more
after the heal), and killing another member meanwhile leaves one member of three. That
is two members out at once, which a 3-member ensemble does not promise to survive, and
the Debian ZooKeeper (3.8.0) then lost committed transactions (ZOOKEEPER-4643/4646/4785,
fixed in 3.9: a member with a bumped epoch but a short log won the election and
truncated the others; 2 acknowledged app changes were lost in a 30-fault run). The
ensemble's election settings (``zk._server``) now bound that backoff to 1.6 s.

After each fault (once healed) and at the end:
* ``lost_changes``: an acknowledged app change (instances, env) not in Marathon;
* ``restore``: seconds from the moment the fault is undone (the killed process
  restarted 2-5 s after the SIGKILL, the partition healed) until every agent is active
  and every app runs exactly its ``instances`` tasks with no deployment left (p99
  target 10 s);
* ``needless_restarts``: a task that was running before the fault, on a host the fault
  did not touch, and is gone after it (its id changed: restarted or killed);
* ``duplicate_runs``: two runs of the FORBID job active at once (polled every second,
  and from the agents' own task lists);
* ``unknown_tasks``: a task live on an agent (asked over the transport) that no
  framework knows (Marathon's tasks, Metronome's active runs, the soak framework's);
* ``partition_failover``: seconds from partitioning the leader's host until another
  master leads (p50 target 3 s); the log says whether that host also held the
  ZooKeeper leader (then the other members must notice and re-elect first);
* ``recovery``: seconds from the undoing of the fault until recovered as above (no
  target: it is the time the soak waits between faults, reported rather than hidden).

The last line is the JSON summary.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actors import protocol as p  # noqa: E402
from actors.agent import GetAgentState  # noqa: E402
from actors.framework import Scheduler, SchedulerDriver  # noqa: E402
from actors.resources import Resources  # noqa: E402
from console import Launcher  # noqa: E402
from runtime import connect  # noqa: E402
from tests.partition._harness import (  # noqa: E402
    HostsCluster,
    netns_unsupported,
    pydcos_env,
    restart,
)
from zk import four_letter_word  # noqa: E402

TARGETS = {"restore_p99_s": 10.0, "partition_failover_p50_s": 3.0}
APPS = ("/soak/a", "/soak/b", "/soak/c")
FAULTS = (
    "kill_leader",
    "kill_standby",
    "kill_agent",
    "kill_zk",
    "partition_leader",
    "partition_agent",
    "partition_zk",
)
PARTITION_HOLD = 16.0
"""Seconds a partition lasts: past the agents' ping timeout (~6-7 s) plus the apps'
``inactiveAfterSeconds`` (5 s), so replacements start and their surplus must die."""
LIVE = ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE")


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def pydcos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "pydcos"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait(cond: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            got = cond()
            if got:
                return got
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


# -- workload ----------------------------------------------------------------------------


class Changes:
    """The Marathon driver: scales and upgrades apps; remembers what was acknowledged."""

    def __init__(self, hc: HostsCluster, rng: random.Random) -> None:
        self.hc, self.rng = hc, rng
        self.expected: dict[str, dict[str, Any]] = {}
        self.uncertain: set[str] = set()
        """Apps whose last change got no answer: it may or may not have happened."""
        self.acked = 0
        self.paused = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.busy = threading.Lock()
        """Held while a change is in flight: ``pause`` waits for it, so no change lands
        after the pre-fault snapshot."""

    def pause(self) -> None:
        self.paused.set()
        with self.busy:
            pass

    def app_json(self, app_id: str, instances: int, version: int) -> dict[str, Any]:
        return {
            "id": app_id,
            "cmd": "sleep 100000",
            "cpus": 0.05,
            "mem": 32,
            "instances": instances,
            "env": {"SOAK_VERSION": str(version)},
            "constraints": [["hostname", "GROUP_BY"]],  # spread: every agent fault counts
            "unreachableStrategy": {"inactiveAfterSeconds": 5, "expungeAfterSeconds": 3600},
        }

    def put(self, app_id: str, instances: int, version: int) -> bool:
        body = self.app_json(app_id, instances, version)
        code, _ = self.hc.api("PUT", f"/marathon/v2/apps{app_id}", body, timeout=10)
        with self.lock:
            if 200 <= code < 300:
                self.expected[app_id] = {"instances": instances, "version": version}
                self.uncertain.discard(app_id)
                self.acked += 1
                return True
            if code == 0:
                self.uncertain.add(app_id)
        return False

    def run(self) -> None:
        while not self.stop.wait(self.rng.uniform(2.0, 4.0)):
            with self.busy:
                if self.paused.is_set():
                    continue
                app = self.rng.choice(APPS)
                cur = self.expected.get(app, {"instances": 2, "version": 0})
                if self.rng.random() < 0.5:
                    self.put(app, self.rng.randint(1, 3), cur["version"])
                else:
                    self.put(app, cur["instances"], cur["version"] + 1)


class ShortTasks(Scheduler):
    """A framework launching 1-second tasks, one per offer, all along."""

    TASK = Resources.parse("cpus:0.05;mem:32")

    def __init__(self) -> None:
        self.n = 0
        self.live: set[str] = set()
        self.finished = 0
        self.lock = threading.Lock()

    def resource_offers(self, driver: SchedulerDriver, offers: list[p.Offer]) -> None:
        for offer in offers:
            with self.lock:
                busy = len(self.live) >= 3
                if not busy:
                    self.n += 1
                    task_id = f"short-{self.n}"
                    self.live.add(task_id)
            if busy:
                driver.decline([offer.offer_id], refuse_seconds=1.0)
                continue
            task = p.TaskInfo(
                task_id, task_id, offer.agent_id, self.TASK.to_dict(), p.CommandSpec("sleep 1")
            )
            driver.launch([offer.offer_id], [task])

    def status_update(self, driver: SchedulerDriver, update: p.StatusUpdate) -> None:
        if update.state in LIVE:
            return
        with self.lock:
            if update.task_id in self.live:
                self.live.discard(update.task_id)
                self.finished += update.state == "TASK_FINISHED"

    def known(self) -> set[str]:
        with self.lock:
            return set(self.live)


class ForbidWatch:
    """Polls the FORBID job's active runs every second: two at once is a duplicate."""

    def __init__(self, hc: HostsCluster) -> None:
        self.hc = hc
        self.duplicates: set[tuple[str, ...]] = set()
        self.runs_seen: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            code, runs = self.hc.api("GET", "/metronome/v1/jobs/soak.forbid/runs", timeout=3)
            if code != 200 or not isinstance(runs, list):
                continue
            active = tuple(
                sorted(
                    r["id"] for r in runs if r.get("status") in ("INITIAL", "STARTING", "ACTIVE")
                )
            )
            self.runs_seen.update(active)
            if len(active) > 1:
                self.duplicates.add(active)


# -- checks ------------------------------------------------------------------------------


def unstable(hc: HostsCluster) -> str | None:
    """Why the cluster is not settled (None: every agent is active, and every app runs
    exactly its instances, all RUNNING, with no deployment left)."""
    state = hc.mesos_state()
    if state is None:
        return "no leader answers"
    # An unreachable agent is not listed among the slaves at all (Mesos' shape).
    active = [a["hostname"] for a in state.get("slaves", []) if a.get("active")]
    if len(active) < len(hc.procs("agent")):
        return f"agents active: {sorted(active)}"
    code, body = hc.api("GET", "/marathon/v2/apps?embed=apps.tasks", timeout=5)
    if code != 200:
        return f"Marathon answers {code}"
    apps = {a["id"]: a for a in body["apps"]}
    for app_id in APPS:
        a = apps.get(app_id)
        if a is None:
            return f"{app_id} missing"
        if a.get("deployments"):
            return f"{app_id} deploying"
        states = sorted(t["state"] for t in a.get("tasks", []))
        if len(states) != a["instances"] or any(st != "TASK_RUNNING" for st in states):
            return f"{app_id}: {a['instances']} instances, tasks {states}"
    return None


def stable(hc: HostsCluster, changes: Changes) -> bool:
    return unstable(hc) is None


def zk_modes(hc: HostsCluster) -> dict[str, str]:
    """``zk-N`` -> its ``srvr`` mode (``leader``, ``follower``; ``not serving`` when it
    runs outside a quorum, ``down`` when it does not answer)."""
    out = {}
    for m in hc.record().get("zk_members", []):
        mode = "down"
        with contextlib.suppress(OSError):
            srvr = four_letter_word(m["ip"], int(m["client_port"]), "srvr", 1.0)
            mode = "not serving"
            for line in srvr.splitlines():
                if line.startswith("Mode:"):
                    mode = line.split(":", 1)[1].strip()
        out[f"zk-{m['server_id']}"] = mode
    return out


def zk_leader_host(hc: HostsCluster) -> str | None:
    """The host whose ZooKeeper member leads the ensemble now."""
    modes = zk_modes(hc)
    for m in hc.record().get("zk_members", []):
        if modes.get(f"zk-{m['server_id']}") == "leader":
            return str(m.get("host", "")) or None
    return None


def unrecovered(hc: HostsCluster) -> str | None:
    """Why the cluster has not recovered from the last fault (None: it has): every
    ZooKeeper member serving in the quorum (one leader, the others followers), every
    process up, one master leading and every other one back in the election, and
    settled (``unstable``). Only then may the next fault come: one at a time."""
    modes = zk_modes(hc)
    if sorted(modes.values()) != ["follower"] * (len(modes) - 1) + ["leader"]:
        return "ZooKeeper " + ", ".join(f"{n} {m}" for n, m in sorted(modes.items()))
    launcher = Launcher(hc.state_dir)
    rec = launcher.record()
    if rec is None:
        return "no cluster record"
    status = launcher.status(rec)
    down = [r["name"] for r in status["processes"] if not r["up"]]
    if down:
        return f"down: {down}"
    roles = {r["name"]: r["role"] for r in status["processes"] if r["kind"] == "master"}
    if sorted(roles.values()) != ["leader", *["standby"] * (len(roles) - 1)]:
        return "masters " + ", ".join(f"{n} {r or '?'}" for n, r in sorted(roles.items()))
    return unstable(hc)


def settle(
    hc: HostsCluster,
    since: float,
    timeout: float,
    check: Any = unstable,
    what: str = "settled",
) -> float:
    """Seconds from ``since`` until ``check`` finds nothing wrong (by default: settled);
    logs each reason it waited for, with when it was last seen (where a slow restore or
    recovery spends its time). TimeoutError if never."""
    reasons: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            why = check(hc)
        except Exception as exc:  # a leader going away mid-request
            why = f"error {type(exc).__name__}"
        if why is None:
            if reasons:
                shown = "; ".join(f"{r} (until {t:.1f} s)" for r, t in reasons.items())
                log(f"  {what}: waited for: {shown[:600]}")
            return time.monotonic() - since
        whole = "tasks" in why or why.startswith(("ZooKeeper", "masters"))
        reasons[why if whole else why.split(":")[0]] = time.monotonic() - since
        time.sleep(0.2)
    raise TimeoutError(f"not {what} within {timeout:g} s: {check(hc)}")


def lost_changes(hc: HostsCluster, changes: Changes) -> list[str]:
    lost = []
    with changes.lock:
        expected = dict(changes.expected)
        uncertain = set(changes.uncertain)
    for app_id, want in expected.items():
        if app_id in uncertain:
            continue
        code, body = hc.api("GET", f"/marathon/v2/apps{app_id}", timeout=5)
        if code != 200:
            lost.append(f"{app_id}: HTTP {code}")
            continue
        app = body["app"]
        got = (app["instances"], app.get("env", {}).get("SOAK_VERSION"))
        if got != (want["instances"], str(want["version"])):
            lost.append(f"{app_id}: {got} != {want}")
    return lost


def snapshot(hc: HostsCluster) -> dict[str, str]:
    """Marathon's RUNNING task ids -> the host they run on."""
    code, body = hc.api("GET", "/marathon/v2/tasks", timeout=5)
    if code != 200:
        return {}
    return {
        t["id"]: hc.hosts.name_of(t["host"]) or t["host"]
        for t in body["tasks"]
        if t["state"] == "TASK_RUNNING"
    }


def agent_tasks(hc: HostsCluster, node: Any) -> dict[str, str] | None:
    """Every live task on every agent, asked of the agents themselves: id -> agent."""
    out: dict[str, str] = {}
    for a in hc.procs("agent"):
        address = next(x["address"] for x in hc.record()["processes"] if x["name"] == a.name)
        try:
            state = node.ref(f"{address}/agent").ask(GetAgentState(), timeout=5)
        except Exception:
            return None
        for task_id, st in state["tasks"].items():
            if st in LIVE:
                out[task_id] = a.name
    return out


def known_tasks(hc: HostsCluster, short: ShortTasks) -> set[str] | None:
    code, body = hc.api("GET", "/marathon/v2/tasks", timeout=5)
    if code != 200:
        return None
    known = {t["id"] for t in body["tasks"]}
    code, jobs = hc.api("GET", "/metronome/v1/jobs?embed=activeRuns", timeout=5)
    if code != 200:
        return None
    for job in jobs:
        for run in job.get("activeRuns", []):
            known.update(t["id"] for t in run.get("tasks", []))
    return known | short.known()


def unknown_tasks(hc: HostsCluster, node: Any, short: ShortTasks) -> list[str]:
    """Tasks live on agents that no framework knows, after a grace for launches and
    kills in flight (seen unknown in several consecutive looks)."""
    strikes: dict[str, int] = {}
    for _ in range(20):
        live, known = agent_tasks(hc, node), known_tasks(hc, short)
        if live is None or known is None:
            time.sleep(1.0)
            continue
        now = {t for t in live if t not in known and not t.startswith("short-")}
        now |= {t for t in live if t.startswith("short-") and t not in known}
        strikes = {t: strikes.get(t, 0) + 1 for t in now}
        if not strikes:
            return []
        time.sleep(1.0)
    return sorted(t for t, n in strikes.items() if n >= 5)


def forbid_on_agents(hc: HostsCluster, node: Any) -> int:
    """Live tasks of the FORBID job on the agents (more than one: a duplicate run)."""
    live = agent_tasks(hc, node) or {}
    runs = {t.split("_", 1)[1].rsplit(".", 1)[0] for t in live if t.startswith("soak.forbid_")}
    return len(runs)


# -- faults ------------------------------------------------------------------------------


def inject(hc: HostsCluster, fault: str, rng: random.Random) -> tuple[set[str], dict[str, Any]]:
    """Do the fault and undo it. Returns (hosts touched, facts)."""
    leader = wait(hc.leader, 60, "a leader")
    masters = hc.procs("master")
    facts: dict[str, Any] = {}
    if fault in ("kill_leader", "kill_standby"):
        victim = (
            leader
            if fault == "kill_leader"
            else rng.choice([m for m in masters if m.name != leader.name])
        )
        env = pydcos_env(victim.pid)
        facts["since"] = time.monotonic()
        os.kill(victim.pid, signal.SIGKILL)
        if fault == "kill_leader":
            wait(lambda: hc.leader(exclude=victim.name), 60, "a new leader")
        time.sleep(2.0)
        restart(hc.state_dir, victim.name, env)
        return {victim.host}, facts
    if fault == "kill_agent":
        victim = rng.choice(hc.procs("agent"))
        env = pydcos_env(victim.pid)
        facts["since"] = time.monotonic()
        os.kill(victim.pid, signal.SIGKILL)
        time.sleep(3.0)
        restart(hc.state_dir, victim.name, env)
        return {victim.host}, facts
    if fault == "kill_zk":
        n = rng.randint(1, 3)
        launcher = Launcher(hc.state_dir)
        facts["since"] = time.monotonic()
        launcher.zk_stop(n)
        time.sleep(5.0)
        launcher.zk_start(n)
        return {f"zk-{n}"}, facts
    if fault == "partition_leader":
        facts["zk_leader_cut"] = zk_leader_host(hc) == leader.host
        t0 = time.monotonic()
        hc.partition(leader.host)
        wait(lambda: hc.leader(exclude=leader.name), 60, "a new leader", interval=0.05)
        facts["failover_s"] = time.monotonic() - t0
        time.sleep(max(0.0, PARTITION_HOLD - facts["failover_s"]))
        hc.heal()
        return {leader.host}, facts
    if fault == "partition_agent":
        victim = rng.choice(hc.procs("agent"))
        hc.partition(victim.host)
        time.sleep(PARTITION_HOLD)
        hc.heal()
        return {victim.host}, facts
    # One ZooKeeper member cut off (its client and quorum ports), the master beside it
    # untouched: no task host is touched.
    n = rng.randint(1, 3)
    hc.partition(f"zk-{n}")
    time.sleep(PARTITION_HOLD)
    hc.heal()
    return {f"zk-{n}"}, facts


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faults", type=int, default=30, help="how many faults (default 30)")
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--state-dir", default=None, help="default: a fresh temporary dir")
    ap.add_argument("--keep", action="store_true", help="leave the cluster up at the end")
    ap.add_argument(
        "--kinds",
        default=",".join(FAULTS),
        help=f"comma-separated faults to draw from (default: all of {', '.join(FAULTS)})",
    )
    args = ap.parse_args()
    if args.faults < 0:
        ap.error(f"--faults: {args.faults} is negative")
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in FAULTS]
    if bad or not kinds:
        ap.error(f"--kinds: {', '.join(bad) or 'empty'}: not among {', '.join(FAULTS)}")
    why = netns_unsupported()
    if why is not None:
        print(f"soak needs network namespaces (--hosts): {why}", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="pydcos-soak-"))
    up = ["--hosts", "--insecure-dev", "--no-auth", "--no-docker"]
    t_up = time.monotonic()
    r = pydcos("cluster", "up", *up, "--masters", "3", "--agents", "3", "--state-dir", str(state))
    if r.returncode != 0:
        print(f"cluster up failed: {r.stdout}\n{r.stderr}", file=sys.stderr)
        return 1
    log(f"cluster up in {time.monotonic() - t_up:.1f} s ({state})")
    hc = HostsCluster(state)
    changes = Changes(hc, rng)
    watch = ForbidWatch(hc)
    results: dict[str, Any] = {}
    cluster = None
    driver = None
    try:
        for app_id in APPS:
            wait(lambda a=app_id: changes.put(a, 2, 0), 60, f"create {app_id}")
        for job, cmd in (("soak.forbid", "sleep 70"), ("soak.allow", "sleep 5")):
            policy = "FORBID" if job == "soak.forbid" else "ALLOW"
            body = {"id": job, "run": {"cmd": cmd, "cpus": 0.05, "mem": 32}}
            wait(lambda b=body: hc.api("POST", "/metronome/v1/jobs", b)[0] == 201, 60, job)
            sched = {"id": "every-minute", "cron": "* * * * *", "concurrencyPolicy": policy}
            wait(
                lambda j=job, s=sched: (
                    hc.api("POST", f"/metronome/v1/jobs/{j}/schedules", s)[0] == 201
                ),
                60,
                f"{job} schedule",
            )
        rec = hc.record()
        cluster = connect(
            f"zk://{rec['zk_hosts']}{rec['chroot']}",
            insecure_dev=True,
            zk_credentials=state / "keys" / "zk.credentials",
        )
        short = ShortTasks()
        info = p.FrameworkInfo("soak-short", ["*"], 60.0)
        driver = SchedulerDriver(short, info, cluster.node)
        cluster.on_leader_change(lambda a: driver.master_changed(a and f"{a}/master"))
        driver.start()
        threads = [threading.Thread(target=t, daemon=True) for t in (changes.run, watch.run)]
        for t in threads:
            t.start()
        wait(lambda: stable(hc, changes), 120, "the apps deployed")
        restores: list[float] = []
        recoveries: list[float] = []
        failovers: list[float] = []
        failovers_zkl: list[float] = []
        """Failovers where the partitioned host held the ZooKeeper leader..."""
        failovers_zkf: list[float] = []
        """...and where it held a follower."""
        lost: list[str] = []
        needless: list[str] = []
        unknown: list[str] = []
        forbid_twice = 0
        for i in range(args.faults):
            fault = kinds[rng.randrange(len(kinds))]
            changes.pause()
            try:
                wait(lambda: unrecovered(hc) is None, 120, "recovered before the fault")
            except TimeoutError:
                log(f"  not recovered before fault {i + 1}: {unrecovered(hc)}")
                restores.append(math.inf)
                continue
            before = snapshot(hc)
            log(f"fault {i + 1}/{args.faults}: {fault}")
            touched, facts = inject(hc, fault, rng)
            # Restore time: from the moment the fault is undone (the killed process
            # restarted, the partition healed) until settled.
            t_heal = time.monotonic()
            if "failover_s" in facts:
                failovers.append(facts["failover_s"])
                (failovers_zkl if facts["zk_leader_cut"] else failovers_zkf).append(
                    facts["failover_s"]
                )
            try:
                restores.append(settle(hc, t_heal, 180))
            except TimeoutError as exc:
                log(f"  NOT restored: {exc}")
                restores.append(math.inf)
            # Then until recovered (the ZooKeeper quorum whole again, every master back
            # in the election), measured from the same moment: the next fault waits.
            try:
                recoveries.append(settle(hc, t_heal, 180, unrecovered, "recovered"))
            except TimeoutError as exc:
                log(f"  NOT recovered: {exc}")
                recoveries.append(math.inf)
            after = snapshot(hc)
            gone = [t for t, h in before.items() if h not in touched and t not in after]
            needless += gone
            lost_now = lost_changes(hc, changes)
            lost += lost_now
            unknown_now = unknown_tasks(hc, cluster.node, short)
            unknown += unknown_now
            if forbid_on_agents(hc, cluster.node) > 1:
                forbid_twice += 1
            log(
                f"  restored in {restores[-1]:.1f} s, recovered in {recoveries[-1]:.1f} s; "
                f"touched {sorted(touched)}; "
                f"needless {len(gone)} lost {len(lost_now)} unknown {len(unknown_now)}"
                + (
                    f"; failover {facts['failover_s']:.2f} s (ZooKeeper "
                    f"{'LEADER' if facts['zk_leader_cut'] else 'follower'} on the cut host)"
                    if "failover_s" in facts
                    else ""
                )
            )
            changes.paused.clear()
            time.sleep(rng.uniform(3.0, 6.0))  # changes flow between faults
        changes.pause()
        try:
            wait(lambda: unrecovered(hc) is None, 120, "recovered at the end")
        except TimeoutError:
            log(f"  not recovered at the end: {unrecovered(hc)}")
            restores.append(math.inf)
        lost += lost_changes(hc, changes)
        unknown += unknown_tasks(hc, cluster.node, short)
        restore_p99 = percentile(restores, 99)
        failover_p50 = statistics.median(failovers) if failovers else None
        recovery_p50 = statistics.median(recoveries) if recoveries else None
        recovery_p99 = percentile(recoveries, 99)
        duplicates = len(watch.duplicates) + forbid_twice
        results = {
            "bench": "soak",
            "faults": args.faults,
            "lost_changes": len(set(lost)),
            "duplicate_runs": duplicates,
            "unknown_tasks": len(set(unknown)),
            "needless_restarts": len(set(needless)),
            "restore_p99_s": None if restore_p99 is None else round(restore_p99, 2),
            "partition_failover_p50_s": None if failover_p50 is None else round(failover_p50, 2),
            "recovery_p50_s": None if recovery_p50 is None else round(recovery_p50, 2),
            "recovery_p99_s": None if recovery_p99 is None else round(recovery_p99, 2),
        }
        results["targets_met"] = (
            results["lost_changes"] == 0
            and duplicates == 0
            and results["unknown_tasks"] == 0
            and results["needless_restarts"] == 0
            and (restore_p99 is None or restore_p99 <= TARGETS["restore_p99_s"])
            and (failover_p50 is None or failover_p50 <= TARGETS["partition_failover_p50_s"])
        )
        log(
            f"acknowledged changes {changes.acked}, FORBID runs seen {len(watch.runs_seen)}, "
            f"short tasks finished {short.finished}; lost {sorted(set(lost))[:5]} "
            f"needless {sorted(set(needless))[:5]} unknown {sorted(set(unknown))[:5]} "
            f"duplicates {sorted(watch.duplicates)[:3]}"
        )
        if failovers:
            log(
                "partition failovers (s): ZooKeeper leader on the cut host "
                f"{[round(f, 2) for f in failovers_zkl]}, a follower "
                f"{[round(f, 2) for f in failovers_zkf]}; recoveries (s) "
                f"{[round(r, 1) for r in recoveries]}"
            )
        elif recoveries:
            log(f"recoveries (s) {[round(r, 1) for r in recoveries]}")
    finally:
        changes.stop.set()
        watch.stop.set()
        with contextlib.suppress(Exception):
            hc.heal()
        if driver is not None:
            with contextlib.suppress(Exception), contextlib.redirect_stderr(None):
                driver.stop()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
        if not args.keep:
            pydcos("cluster", "down", "--state-dir", str(state))
    print(json.dumps(results))
    return 0 if results.get("targets_met") else 1


if __name__ == "__main__":
    sys.exit(main())
