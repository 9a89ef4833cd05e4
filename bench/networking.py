"""Networking benchmark (issue 20): DNS throughput and latency against dnsmasq, DNS
freshness on a real cluster, and the VIP figures (bench/_vip.py, H2).

1. Throughput: pydcos' DNS server (the master's code: ``DnsServer`` over a table built
   by ``apply_event``/``build_table`` from 1,000 RUNNING tasks) and ``dnsmasq`` serving
   the same 1,000 A names (a hosts file) and 1,000 SRV names (``srv-host``), each asked
   by the same load generator in another process (bench/_dnsload.py: raw UDP, 128
   queries in flight, half A, half SRV), in interleaved rounds (medians reported). Then
   p50/p99 latency at 5,000 queries/s (half the target rate), open loop.
2. Freshness on ``pydcos cluster up``: a new instance's TASK_RUNNING (seen in the
   leader's /mesos/master/tasks) to its port in the SRV answer of a standby's DNS, and
   a killed instance's end to its port gone; both polled every few ms.
3. VIP: ``from _vip import measure`` (H2) on the same cluster, when present.

Targets: >= 10,000 queries/s, p99 <= 2 ms at half that rate, freshness p99 <= 1 s,
VIP ratio >= 0.7, VIP update p99 <= 500 ms. Last line: one JSON object.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # bench helpers (_vip); after ROOT: bench/actors.py

from actors.dns import (  # noqa: E402
    ClusterView,
    DnsConfig,
    DnsServer,
    apply_event,
    build_table,
    make_query,
    set_leader,
)

RECORDS = 1000
SECONDS = 2.0
ROUNDS = 3
WINDOW = 128
TARGETS = {"dns_qps": 10_000, "dns_p99_ms": 2.0, "dns_fresh_p99_s": 1.0}
VIP_TARGETS = {"vip_ratio": 0.7, "vip_update_p99_ms": 500.0}
FRESH_ROUNDS = 8


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ 1. throughput


def synthetic_state(n: int) -> dict[str, Any]:
    """GET_STATE with ``n`` RUNNING tasks ``app-<i>`` (one port each) on 10 agents."""
    agents = [
        {"agent_info": {"id": {"value": f"ag-S{j}"}}, "pid": f"slave(1)@10.0.0.{j + 1}:5051"}
        for j in range(10)
    ]
    tasks = []
    for i in range(n):
        port = 20000 + i
        tasks.append(
            {
                "name": f"app-{i}",
                "task_id": {"value": f"app-{i}.{i:08x}"},
                "framework_id": {"value": "fw"},
                "agent_id": {"value": f"ag-S{i % 10}"},
                "state": "TASK_RUNNING",
                "resources": [
                    {
                        "name": "ports",
                        "type": "RANGES",
                        "ranges": {"range": [{"begin": port, "end": port}]},
                    }
                ],
                "discovery": {
                    "name": f"app-{i}",
                    "ports": {"ports": [{"number": port, "protocol": "tcp"}]},
                },
            }
        )
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "get_state": {
                "get_tasks": {"tasks": tasks},
                "get_agents": {"agents": agents},
                "get_frameworks": {
                    "frameworks": [{"framework_info": {"id": {"value": "fw"}, "name": "marathon"}}]
                },
            }
        },
    }


def query_file(tmp: Path, n: int) -> Path:
    queries = []
    for i in range(n):
        queries.append(make_query(f"app-{i}.marathon.mesos", "A").hex())
        queries.append(make_query(f"_app-{i}._tcp.marathon.mesos", "SRV").hex())
    path = tmp / "queries.json"
    path.write_text(json.dumps(queries))
    return path


def loadgen(
    mode: str, port: int, knob: float, queries: Path, seconds: float = SECONDS
) -> dict[str, Any]:
    cmd = [sys.executable, str(ROOT / "bench" / "_dnsload.py"), mode, "127.0.0.1", str(port)]
    cmd += [str(seconds), str(knob), str(queries)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr[-500:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def free_port() -> int:
    """A port free for both UDP and TCP (dnsmasq listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for UDP and TCP")


def start_dnsmasq(tmp: Path, n: int) -> tuple[subprocess.Popen[bytes], int]:
    hosts = tmp / "hosts"
    hosts.write_text("".join(f"10.0.0.{i % 10 + 1} app-{i}.marathon.mesos\n" for i in range(n)))
    port = free_port()
    conf = tmp / "dnsmasq.conf"
    lines = [
        f"port={port}",
        "listen-address=127.0.0.1",
        "bind-interfaces",
        "no-resolv",
        "no-hosts",
        "no-negcache",
        f"addn-hosts={hosts}",
        "cache-size=10000",
        "local=/mesos/",
        "user=root" if os.geteuid() == 0 else "",
        "pid-file=",
    ]
    lines += [
        f"srv-host=_app-{i}._tcp.marathon.mesos,app-{i}.marathon.mesos,{20000 + i}"
        for i in range(n)
    ]
    conf.write_text("\n".join(x for x in lines if x) + "\n")
    proc = subprocess.Popen(
        ["dnsmasq", "--keep-in-foreground", f"--conf-file={conf}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    probe = make_query("app-1.marathon.mesos", "A")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"dnsmasq exited: {proc.stderr.read().decode()[-300:] if proc.stderr else ''}"
            )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(probe, ("127.0.0.1", port))
                if s.recv(512):
                    return proc, port
            except OSError:
                time.sleep(0.05)
    stop_pid(proc)
    raise RuntimeError("dnsmasq did not answer within 10 s")


def stop_pid(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


def throughput(tmp: Path) -> dict[str, Any]:
    view = ClusterView()
    set_leader(view, "tcp://127.0.0.1:5050/master", "127.0.0.1")
    t0 = time.perf_counter()
    view = apply_event(view, synthetic_state(RECORDS), "bench")
    table = build_table(view, DnsConfig(), 1)
    build_ms = (time.perf_counter() - t0) * 1000
    queries = query_file(tmp, RECORDS)
    server = DnsServer(table, "127.0.0.1", 0).start()
    masq: subprocess.Popen[bytes] | None = None
    masq_port = 0
    if shutil.which("dnsmasq") is None:
        log("dnsmasq is not installed (Debian package dnsmasq): no baseline")
    else:
        masq, masq_port = start_dnsmasq(tmp, RECORDS)
    nothing = {"qps": 0.0, "p50_ms": float("nan"), "p99_ms": float("nan"), "lost": 0}
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    ours_lat: list[dict[str, Any]] = []
    theirs_lat: list[dict[str, Any]] = []
    # "p99 <= 2 ms at half that rate": half the 10,000/s target, open loop. (At half our
    # own maximum the Python load generator itself falls behind: that measures it, not us.)
    half = TARGETS["dns_qps"] / 2
    try:
        # Interleaved rounds, so the other load on the machine hits both servers alike;
        # each figure is the median over the rounds.
        for _ in range(ROUNDS):
            ours.append(loadgen("max", server.port, WINDOW, queries))
            theirs.append(loadgen("max", masq_port, WINDOW, queries) if masq else nothing)
        for _ in range(ROUNDS):
            ours_lat.append(loadgen("rate", server.port, half, queries))
            theirs_lat.append(loadgen("rate", masq_port, half, queries) if masq else nothing)
    finally:
        server.stop()
        if masq is not None:
            stop_pid(masq)
    log(f"table of {RECORDS} tasks built in {build_ms:.1f} ms")
    for name, runs in (("pydcos  max", ours), ("dnsmasq max", theirs)):
        log(f"{name}: qps {[round(r['qps']) for r in runs]}, lost {[r['lost'] for r in runs]}")
    for name, runs in (("pydcos ", ours_lat), ("dnsmasq", theirs_lat)):
        p50 = [round(r["p50_ms"], 3) for r in runs]
        p99 = [round(r["p99_ms"], 3) for r in runs]
        log(f"{name} at {half:.0f}/s: p50 {p50} ms, p99 {p99} ms")
    return {
        "dns_qps": round(med(ours, "qps")),
        "dnsmasq_qps": round(med(theirs, "qps")) if masq else None,
        "dns_vs_dnsmasq": round(med(ours, "qps") / med(theirs, "qps"), 2) if masq else None,
        "dns_p50_ms": round(med(ours_lat, "p50_ms"), 3),
        "dns_p99_ms": round(med(ours_lat, "p99_ms"), 3),
        "dnsmasq_p99_ms": round(med(theirs_lat, "p99_ms"), 3) if masq else None,
        "dns_lost": sum(r["lost"] for r in ours + ours_lat),
        "table_build_ms": round(build_ms, 1),
    }


def med(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


# ------------------------------------------------------------------ 2. freshness


def pydcos(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYDCOS_ZK", None)
    cmd = [sys.executable, "-m", "console.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def http(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {url}: {exc.code} {exc.read()[:300]!r}") from None
    return json.loads(raw) if raw else None


class Cluster:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.rec = json.loads((state / "cluster.json").read_text())

    def masters(self) -> list[dict[str, Any]]:
        return [p for p in self.rec["processes"] if p["kind"] == "master"]

    def leader(self) -> dict[str, Any]:
        for p in self.masters():
            with contextlib.suppress(OSError):
                if http(p["http_url"] + "/metrics/snapshot").get("master/elected") == 1:
                    return p
        raise RuntimeError("no master leads")

    @staticmethod
    def dns(p: dict[str, Any]) -> tuple[str, int]:
        host, _, port = p["dns"].rpartition(":")  # as the master's ready line reported it
        return host, int(port)


def srv_ports(server: tuple[str, int], name: str) -> set[int]:
    import dns.message
    import dns.query

    q = dns.message.make_query(name, "SRV")
    reply = dns.query.udp(q, server[0], port=server[1], timeout=1)
    return {rd.port for rrset in reply.answer for rd in rrset}


def running_task(leader_url: str, port: int) -> tuple[str, float] | None:
    """The live task on host ``port`` once the master has it RUNNING: (id, timestamp).
    Only live tasks: a port is reused by later tasks, completed ones keep it."""
    doc = http(leader_url + "/mesos/master/state")
    for fw in doc.get("frameworks", []):
        for t in fw.get("tasks", []):
            if t.get("resources", {}).get("ports") == f"[{port}-{port}]":
                for st in t.get("statuses", []):
                    if st.get("state") == "TASK_RUNNING":
                        return str(t["id"]), float(st["timestamp"])
    return None


def ended_at(leader_url: str, task_id: str) -> float | None:
    """The master's timestamp of task ``task_id`` leaving RUNNING (killing or ended)."""
    doc = http(leader_url + "/mesos/master/state")
    for fw in doc.get("frameworks", []):
        for t in fw.get("tasks", []) + fw.get("completed_tasks", []):
            if t.get("id") != task_id:
                continue
            for st in t.get("statuses", []):
                if st.get("state") in ENDED:
                    return float(st["timestamp"])
    return None


def wait(cond: Any, timeout: float, what: str, interval: float = 0.002) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            v = cond()
            if v:
                return v
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


ENDED = ("TASK_KILLED", "TASK_KILLING", "TASK_FINISHED", "TASK_FAILED")


def freshness(c: Cluster) -> dict[str, Any]:
    """Scale a one-port app up by one instance, then kill one, FRESH_ROUNDS times; each
    time the standby's DNS is polled until the SRV set changes."""
    leader = c.leader()
    url = leader["http_url"]
    standby = next((p for p in c.masters() if p["pid"] != leader["pid"]), leader)
    server = c.dns(standby)
    name = "_fresh-bench._tcp.marathon.mesos"
    app = {
        "id": "/bench/fresh",
        "cmd": "/bin/busybox httpd -f -p $PORT0 -h /bin",
        "cpus": 0.1,
        "mem": 32,
        "instances": 1,
        "portDefinitions": [{"port": 0}],
    }
    http(url + "/marathon/v2/apps", "POST", app)
    ports = wait(lambda: srv_ports(server, name), 60, "the first instance in DNS", 0.05)
    up: list[float] = []
    down: list[float] = []
    try:
        for _ in range(FRESH_ROUNDS):
            before = set(ports)
            http(
                url + "/marathon/v2/apps/bench/fresh?force=true",
                "PUT",
                {"instances": len(before) + 1},
            )
            ports = wait(
                lambda b=before: (p := srv_ports(server, name)) - b and p, 30, "a new port"
            )
            seen = time.time()
            (new,) = ports - before
            task_id, ts = wait(lambda n=new: running_task(url, n), 10, "RUNNING", 0.05)
            up.append(max(0.0, seen - ts))  # <0 only within the clocks' resolution
            http(
                url + f"/marathon/v2/apps/bench/fresh/tasks/{task_id}?scale=true&force=true",
                "DELETE",
            )
            ports = wait(
                lambda n=new: n not in (p := srv_ports(server, name)) and p, 30, "port gone"
            )
            gone = time.time()
            ts = wait(lambda t=task_id: ended_at(url, t), 10, "killed", 0.05)
            down.append(max(0.0, gone - ts))
    finally:
        with contextlib.suppress(Exception):
            http(url + "/marathon/v2/apps/bench/fresh?force=true", "DELETE")
    log(f"fresh up (s): {[round(x, 4) for x in up]}")
    log(f"fresh down (s): {[round(x, 4) for x in down]}")
    both = up + down
    return {
        "dns_fresh_p99_s": round(pct(both, 0.99), 4),
        "dns_fresh_up_p50_s": round(pct(up, 0.5), 4),
        "dns_fresh_down_p50_s": round(pct(down, 0.5), 4),
    }


def vip_figures(c: Cluster) -> dict[str, Any]:
    if not (ROOT / "bench" / "_vip.py").exists():
        log("bench/_vip.py is not there: no VIP figures")
        return {"vip_ratio": None, "vip_update_p99_ms": None}
    from _vip import measure  # type: ignore[import-not-found]

    return dict(measure(str(c.state), c.leader()["http_url"]))


def main() -> int:
    results: dict[str, Any] = {"bench": "networking"}
    with tempfile.TemporaryDirectory(prefix="bench-net-") as tmp:
        results.update(throughput(Path(tmp)))
        state = Path(tmp) / "cluster"
        args = ("--insecure-dev", "--no-docker", "--no-auth", "--masters", "2", "--agents", "2")
        up = pydcos("cluster", "up", *args, "--state-dir", str(state))
        try:
            if up.returncode != 0:
                raise RuntimeError(f"cluster up failed: {up.stdout[-500:]} {up.stderr[-500:]}")
            c = Cluster(state)
            results.update(freshness(c))
            results.update(vip_figures(c))
        finally:
            pydcos("cluster", "down", "--state-dir", str(state))
    met = all(results.get(k) is not None for k in (*TARGETS, *VIP_TARGETS))
    met = met and results["dns_qps"] >= TARGETS["dns_qps"]
    met = met and results["dns_p99_ms"] <= TARGETS["dns_p99_ms"]
    met = met and results["dns_fresh_p99_s"] <= TARGETS["dns_fresh_p99_s"]
    if results.get("vip_ratio") is not None:
        met = met and results["vip_ratio"] >= VIP_TARGETS["vip_ratio"]
        met = met and results["vip_update_p99_ms"] <= VIP_TARGETS["vip_update_p99_ms"]
    results["targets_met"] = bool(met)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
