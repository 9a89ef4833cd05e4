"""The scale bench's bad inputs, run on the full-size cluster after the last step.

1. ``flood``: one more agent host's agents (2,500) register at once on the loaded leader
   (beside the growth steps' own floods and the failover storm, where every agent
   re-registers within about a second);
2. ``silent_framework``: a framework that subscribes and never answers its offers
   (no accept, no decline), while Marathon must still launch a probe app: within the
   leader's offer timeout (its ``/flags``; DC/OS' default 2 min) plus a margin, once the
   master rescinded the held offers;
3. ``hammer``: two clients GET /marathon/v2/tasks in a tight loop (no pause) while a
   third client reads /marathon/v2/apps and Marathon launches a probe app.

Each reports whether the leader stayed responsive (allocation cycles counted, the other
client's latencies, the probe app's launch time), its memory (RSS before, peak, after),
and at the end whether anything acknowledged was dropped: every agent registered, no
status update left unacknowledged, every task still running, none killed or relaunched.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench._scale_cluster import Http, pct

PROBE = 100


class RssSampler:
    def __init__(self, proc: Any) -> None:
        self.proc = proc
        self.samples: list[float] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            try:
                self.samples.append(self.proc.rss_mb())
            except (OSError, RuntimeError):  # the process is gone (the bench is stopping)
                return
            self.done.wait(0.5)

    def stop(self) -> float:
        self.done.set()
        self.thread.join(10)
        return max(self.samples) if self.samples else self.proc.rss_mb()


def probe_launch(bench: Any, name: str, timeout: float = 120.0) -> dict[str, Any]:
    """POST a probe app of PROBE instances; seconds until the agents run them (or how many
    ran by ``timeout``); the app is removed again."""
    http = bench.leader["http"]
    base = bench.host_stats()
    app_id = f"/probe/{name}"
    body = {"id": app_id, "cmd": "sleep 3600", "instances": PROBE, "cpus": 0.05, "mem": 32}
    body["portDefinitions"] = []
    t0 = time.monotonic()
    status, raw, _ = http.request("POST", "/marathon/v2/apps", body)
    if status != 201:
        raise RuntimeError(f"POST {app_id}: {status} {raw[:200]!r}")
    seconds = None
    while time.monotonic() - t0 < timeout:
        got = bench.host_stats()["launches"] - base["launches"]
        if got >= PROBE:
            seconds = time.monotonic() - t0
            break
        time.sleep(0.05)
    launched = bench.host_stats()["launches"] - base["launches"]
    # force: a probe still deploying (starved of offers) is locked by its deployment.
    status, raw, _ = http.request("DELETE", f"/marathon/v2/apps{app_id}?force=true")
    if status not in (200, 202):
        raise RuntimeError(f"DELETE {app_id}: {status} {raw[:200]!r}")
    deadline = time.monotonic() + 120
    while bench.host_stats()["running"] > base["running"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{app_id}'s tasks were not killed")
        time.sleep(0.1)
    return {"probe_s": seconds, "probe_launched": launched}


def flood(bench: Any, extra: int = 2500) -> dict[str, Any]:
    rss0 = bench.leader["proc"].rss_mb()
    sampler = RssSampler(bench.leader["proc"])
    out: dict[str, Any] = bench.grow_agents(bench.agents + extra)
    out["rss_before_mb"], out["rss_peak_mb"] = rss0, sampler.stop()
    out["rss_after_mb"] = bench.leader["proc"].rss_mb()
    out["ok"] = bool((out["alloc_cycles_during"] or 0) > 0 and out["probe_n"] > 0)
    return out


OFFER_TIMEOUT_MARGIN = 30.0
"""Seconds past the leader's offer timeout the probe may take: the rescind, the next cycles
(DRF hands the silent framework's rescinded agents to Marathon once its share passes
Marathon's) and the probe's launch."""


def leader_offer_timeout(bench: Any) -> float | None:
    """The leader's ``--offer-timeout`` as its ``/mesos/master/flags`` shows it (Mesos'
    ``offer_timeout``, e.g. ``120secs``; absent: none)."""
    status, raw, _ = bench.leader["http"].request("GET", "/mesos/master/flags")
    if status != 200:
        raise RuntimeError(f"GET /mesos/master/flags: {status} {raw[:200]!r}")
    value = json.loads(raw)["flags"].get("offer_timeout")
    return float(value.removesuffix("secs")) if value else None


def silent_framework(bench: Any, hold: float = 15.0) -> dict[str, Any]:
    """A framework that takes every offer and never answers. The master rescinds offers
    older than its offer timeout (DC/OS: 2 min): the probe app may take that long plus
    OFFER_TIMEOUT_MARGIN; with no timeout it has ``hold * 4`` and starves (not ok)."""
    from actors import protocol as p
    from actors.framework import Scheduler, SchedulerDriver

    class Silent(Scheduler):  # type: ignore[misc]
        """Takes every offer and never answers."""

        def __init__(self) -> None:
            self.offers = 0
            self.rescinded = 0

        def resource_offers(self, driver: Any, offers: list[Any]) -> None:
            self.offers += len(offers)

        def offer_rescinded(self, driver: Any, offer_id: str) -> None:
            self.rescinded += 1

    silent = Silent()
    offer_timeout = leader_offer_timeout(bench)
    rss0 = bench.leader["proc"].rss_mb()
    sampler = RssSampler(bench.leader["proc"])
    snap0 = bench.snapshot()
    driver = SchedulerDriver(
        silent,
        p.FrameworkInfo("silent"),
        bench.cluster.node,
        master=f"{bench.leader['address']}/master",
    ).start()
    try:
        t0 = time.monotonic()
        while silent.offers == 0 and time.monotonic() - t0 < 30:
            time.sleep(0.05)
        first_offer = time.monotonic() - t0 if silent.offers else None
        outstanding = [bench.snapshot()["master/outstanding_offers"]]
        allowed = hold * 4 if offer_timeout is None else offer_timeout + OFFER_TIMEOUT_MARGIN
        probe = probe_launch(bench, "silent", timeout=allowed)
        while time.monotonic() - t0 < hold:
            outstanding.append(bench.snapshot()["master/outstanding_offers"])
            time.sleep(0.5)
        snap1 = bench.snapshot()
        outstanding.append(snap1["master/outstanding_offers"])
    finally:
        driver.stop(failover=False)
    peak = sampler.stop()
    cycles = snap1["allocator/mesos/allocation_runs"] - snap0["allocator/mesos/allocation_runs"]
    return {
        "first_offer_s": first_offer,
        "offer_timeout_s": offer_timeout,
        "probe_allowed_s": allowed,
        "offers_taken": silent.offers,
        "offers_rescinded": silent.rescinded,
        "outstanding_offers_max": max(outstanding) if outstanding else None,
        "alloc_cycles_during": cycles,
        **probe,
        "rss_before_mb": rss0,
        "rss_peak_mb": peak,
        "ok": probe["probe_s"] is not None and cycles > 0,
    }


def _other_client(other: Any, t0: float, seconds: float) -> tuple[list[float], int]:
    """Another client's ``GET /v2/apps`` every 0.1 s until ``seconds`` after ``t0``:
    its times (ms) and errors."""
    times: list[float] = []
    errors = 0
    while time.monotonic() - t0 < seconds:
        try:
            status, _, dt = other.request("GET", "/marathon/v2/apps")
            if status == 200:
                times.append(dt * 1000)
            else:
                errors += 1
        except OSError:
            errors += 1
        time.sleep(0.1)
    return times, errors


def hammer(bench: Any, seconds: float = 15.0, clients: int = 2) -> dict[str, Any]:
    leader = bench.leader
    url = f"http://{leader['http'].host}:{leader['http'].port}"
    stop = threading.Event()
    counts = [0] * clients
    errors = [0] * clients

    def loop(i: int) -> None:
        http = Http(url)
        while not stop.is_set():
            try:
                status, _, _ = http.request("GET", "/marathon/v2/tasks")
                counts[i] += 1
                errors[i] += status != 200
            except OSError:
                errors[i] += 1
        http.close()

    rss0 = leader["proc"].rss_mb()
    sampler = RssSampler(leader["proc"])
    snap0 = bench.snapshot()
    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    other = Http(url)
    t0 = time.monotonic()
    # The probe app launches (and goes) beside the other client's GETs: in turn, a probe
    # that took the whole 15 s window (POST, launch, DELETE, kills; 2026-12-07, 100,000
    # tasks under the hammer) left the other client no time to ask anything.
    with ThreadPoolExecutor(1) as pool:
        probing = pool.submit(probe_launch, bench, "hammer", seconds * 4)
        times, other_errors = _other_client(other, t0, seconds)
        probe = probing.result()
    snap1 = bench.snapshot()
    stop.set()
    for t in threads:
        t.join(120)
    elapsed = time.monotonic() - t0
    other.close()
    peak = sampler.stop()
    cycles = snap1["allocator/mesos/allocation_runs"] - snap0["allocator/mesos/allocation_runs"]
    return {
        "hammer_requests": sum(counts),
        "hammer_per_s": sum(counts) / elapsed,
        "hammer_errors": sum(errors),
        "other_apps_p50_ms": pct(times, 50) if times else None,
        "other_apps_p99_ms": pct(times, 99) if times else None,
        "other_errors": other_errors,
        "alloc_cycles_during": cycles,
        **probe,
        "rss_before_mb": rss0,
        "rss_peak_mb": peak,
        "rss_after_mb": leader["proc"].rss_mb(),
        "ok": bool(times) and other_errors == 0 and cycles > 0 and probe["probe_s"] is not None,
    }


def nothing_dropped(bench: Any, timeout: float = 120.0) -> dict[str, Any]:
    """Every agent registered and no update left unacknowledged (waits for the drain),
    every task still running, Marathon counting every instance."""
    deadline = time.monotonic() + timeout
    while True:
        full = bench.host_stats("full")
        if full["pending_updates"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    expected = bench.expected_tasks()
    apps = bench.leader["http"].get_json("/marathon/v2/apps")["apps"]
    marathon = sum(a["tasksRunning"] for a in apps if a["id"].startswith("/scale/app-"))
    return {
        "registered": full["registered"],
        "agents": bench.agents,
        "pending_updates": full["pending_updates"],
        "running": full["running"],
        "expected": expected,
        "marathon_running": marathon,
        "marathon_expected": sum(bench.apps.values()),
        "ok": full["registered"] == bench.agents
        and full["pending_updates"] == 0
        and full["running"] == expected
        and marathon == sum(bench.apps.values()),
    }


def run_bad_inputs(bench: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["hammer"] = hammer(bench)
    out["silent_framework"] = silent_framework(bench)
    out["flood"] = flood(bench)
    out["dropped"] = nothing_dropped(bench)
    out["ok"] = all(v["ok"] for v in out.values())
    return out
