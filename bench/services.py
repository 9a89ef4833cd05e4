"""Stateful SDK services: zookeeper install and member recovery; redis backup+restore.

    .venv/bin/python bench/services.py [--kills 5] [--keys 100000] [--value-bytes 200]
        [--redis-runs 3] [--only zookeeper|redis]

One real local cluster (``pydcos cluster up --no-auth --insecure-dev --no-docker
--agents 3``), this script as the client (HTTP to the master, ZooKeeper's four-letter
words, kazoo, redis-cli).

1. ``zk_install_s``: ``POST /package/install`` of the bundled ``zookeeper`` until all 3
   members serve in one quorum as voters (``srvr`` Mode leader/follower and ``conf``
   membership of 3 on every member's client port, polled every 50 ms). One run: an
   ensemble is deployed one member at a time, each waiting for the previous to be a
   voter.
2. ``zk_recover_p50_s``: ``--kills`` times, one member's task is killed with SIGKILL (the
   task's process, found listening on the member's client port); the time until that
   member serves again as a voter of a 3-member quorum; a znode written before the first
   kill is read back from each recovered member. Target p50 <= 5 s.
3. ``redis_backup_restore_ratio``: the bundled ``redis`` (primary + 2 replicas) loaded
   with ``--keys`` keys (``redis-cli --pipe``); ``backup`` plan then, after FLUSHALL,
   ``restore`` plan, each timed from ``plans/<plan>/start`` to the plan COMPLETE, polled
   every 10 ms as the by-hand side polls its server (the restore's plan completes once
   the primary AND both replicas hold every key again).
   Baseline, same run, same data: by hand on a plain ``redis-server``: ``redis-cli --rdb``
   to a file, then SHUTDOWN NOSAVE, the file copied in as dump.rdb, redis-server started
   again and waited for until it answers with the keys loaded. Ratio = SDK / by hand.
   Target <= 1.5. Medians over ``--redis-runs`` cycles on each side, each SDK cycle
   followed by a by-hand one (the machine's load drifts; a pair sees the same).

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
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

from zk import four_letter_word  # noqa: E402

ZK_TARGET_RECOVER_S = 5.0
REDIS_TARGET_RATIO = 1.5


# ----------------------------------------------------------------------------- plumbing


def cli(state: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYDCOS_ZK", None)
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def leader_url(state: Path) -> str:
    """The leading master's URL (a standby answers a POST with a 307)."""
    record = json.loads((state / "cluster.json").read_text())

    def elected() -> str | None:
        for p in record["processes"]:
            if p["kind"] != "master":
                continue
            url = str(p["http_url"]).rstrip("/")
            status, doc = http(url, "/metrics/snapshot")
            if status == 200 and isinstance(doc, dict) and doc.get("master/elected") == 1:
                return url
        return None

    return str(wait("a leading master", elected, 60, 0.2))


def http(base: str, path: str, body: Any = None, method: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base + path,
        data=data,
        method=method or ("POST" if data is not None else "GET"),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def wait(what: str, cond: Any, timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except (OSError, ValueError, KeyError) as exc:
            last = exc
            value = None
        else:
            value = last
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"bench: {what}: not done in {timeout:.0f} s (last: {last!r})")


def install(base: str, package: str, options: dict[str, Any]) -> None:
    status, answer = http(base, "/package/install", {"packageName": package, "options": options})
    if status != 200:
        raise SystemExit(f"bench: install {package}: {status} {answer}")


def plan_status(base: str, service: str, plan: str) -> str:
    status, doc = http(base, f"/service/{service}/v1/plans/{plan}")
    if status not in (200, 202) or not isinstance(doc, dict):
        return f"HTTP {status}"
    return str(doc.get("status"))


def endpoint(base: str, service: str, name: str) -> list[str]:
    status, doc = http(base, f"/service/{service}/v1/endpoints/{name}")
    if status != 200 or not isinstance(doc, dict):
        return []
    return [str(a) for a in doc.get("address", [])]


def listener_pid(port: int) -> int | None:
    """The process listening on a loopback TCP port (the task's server)."""
    import psutil

    for c in psutil.net_connections(kind="tcp"):
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return int(c.pid)
    return None


# ---------------------------------------------------------------------------- zookeeper


def zk_member(address: str) -> tuple[int, str, int] | None:
    """(server id, mode, voters) of a member serving in a quorum, else None."""
    host, port = address.rsplit(":", 1)
    srvr = four_letter_word(host, int(port), "srvr", 1.0)
    mode = next(
        (ln.split(":", 1)[1].strip() for ln in srvr.splitlines() if ln.startswith("Mode:")), ""
    )
    if mode not in ("leader", "follower"):
        return None
    conf = four_letter_word(host, int(port), "conf", 1.0)
    sid = next(int(ln.split("=", 1)[1]) for ln in conf.splitlines() if ln.startswith("serverId="))
    members = conf.partition("membership:")[2]
    voters = sum(
        1 for ln in members.splitlines() if ln.startswith("server.") and "participant" in ln
    )
    return sid, mode, voters


def zk_quorum(addresses: list[str], size: int) -> bool:
    if len(addresses) != size:
        return False
    seen = [zk_member(a) for a in addresses]
    return all(s is not None and s[2] == size for s in seen)


def bench_zookeeper(base: str, kills: int) -> tuple[float, list[float]]:
    from kazoo.client import KazooClient

    t0 = time.monotonic()
    install(base, "zookeeper", {"zookeeper": {"tick_time": 500}})
    addresses = wait(
        "zookeeper endpoints",
        lambda: (a := endpoint(base, "zookeeper", "client")) and len(a) == 3 and a,
        120,
    )
    wait("3-member quorum", lambda: zk_quorum(addresses, 3), 180)
    install_s = time.monotonic() - t0
    print(f"zookeeper: installed to a serving 3-member ensemble in {install_s:.2f} s", flush=True)

    client = KazooClient(hosts=",".join(addresses))
    client.start(timeout=30)
    client.create("/bench-kept", b"written before the kills")
    client.stop()
    client.close()
    recover: list[float] = []
    for k in range(kills):
        address = addresses[k % len(addresses)]
        port = int(address.rsplit(":", 1)[1])
        java = listener_pid(port)
        if java is None:
            raise SystemExit(f"bench: nothing listens on {address}")
        import psutil

        launcher = psutil.Process(java).parent()
        victim = launcher.pid if launcher is not None else java
        t = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait(f"{address} gone", lambda p=port, j=java: listener_pid(p) != j, 30, 0.01)
        wait(
            f"{address} back as a voter",
            lambda a=address: (m := zk_member(a)) is not None and m[2] == 3,
            120,
            0.02,
        )
        recover.append(time.monotonic() - t)
        alone = KazooClient(hosts=address)
        alone.start(timeout=30)
        data = alone.get("/bench-kept")[0]
        alone.stop()
        alone.close()
        if data != b"written before the kills":
            raise SystemExit(f"bench: {address} lost the znode: {data!r}")
        print(
            f"zookeeper: kill -9 of {address}: back in the ensemble in {recover[-1]:.2f} s",
            flush=True,
        )
    return install_s, recover


# -------------------------------------------------------------------------------- redis


def resp_stream(keys: int, value_bytes: int, seed: int = 7) -> bytes:
    """SET commands in RESP for ``redis-cli --pipe``: the same bytes for both sides."""
    rng = random.Random(seed)
    out = bytearray()
    for i in range(keys):
        k = b"key:%d" % i
        v = rng.randbytes(value_bytes // 2).hex().encode()[:value_bytes]
        out += b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
    return bytes(out)


def redis_cli(address: str, *args: str, stdin: bytes | None = None, timeout: float = 120) -> str:
    host, port = address.rsplit(":", 1)
    proc = subprocess.run(
        ["redis-cli", "-h", host, "-p", port, *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )
    return proc.stdout.decode(errors="replace").strip()


def dbsize(address: str) -> int:
    out = redis_cli(address, "DBSIZE", timeout=5)
    return int(out) if out.isdigit() else -1


def run_plan(base: str, service: str, plan: str, params: dict[str, str]) -> float:
    t = time.monotonic()
    status, answer = http(base, f"/service/{service}/v1/plans/{plan}/start", params)
    if status not in (200, 202):
        raise SystemExit(f"bench: start {plan}: {status} {answer}")
    wait(f"{plan} COMPLETE", lambda: plan_status(base, service, plan) == "COMPLETE", 300, 0.01)
    return time.monotonic() - t


def bench_redis(
    base: str, keys: int, value_bytes: int, backups: Path, runs: int
) -> dict[str, float]:
    data = resp_stream(keys, value_bytes)
    install(base, "redis", {"backup": {"dir": str(backups / "sdk")}})
    wait("redis deploy", lambda: plan_status(base, "redis", "deploy") == "COMPLETE", 180)
    servers = endpoint(base, "redis", "redis")
    primary = wait(
        "redis primary",
        lambda: next(
            (
                a
                for a in endpoint(base, "redis", "redis")
                if "role:master" in redis_cli(a, "INFO", "replication", timeout=5)
            ),
            None,
        ),
        30,
    )
    redis_cli(primary, "--pipe", stdin=data)
    wait("keys replicated", lambda: all(dbsize(a) == keys for a in servers), 120)
    sdk_runs: list[tuple[float, float]] = []
    hand_runs: list[dict[str, float]] = []
    for run in range(runs):
        name = f"bench-{run}"
        backup_s = run_plan(base, "redis", "backup", {"BACKUP_NAME": name})
        redis_cli(primary, "FLUSHALL")
        wait("flush replicated", lambda: all(dbsize(a) == 0 for a in servers), 60)
        restore_s = run_plan(base, "redis", "restore", {"BACKUP_NAME": name})
        counts = [dbsize(a) for a in servers]
        if counts != [keys] * len(servers):
            raise SystemExit(f"bench: after the restore the servers hold {counts} keys, not {keys}")
        sdk_runs.append((backup_s, restore_s))
        print(
            f"redis (SDK): backup {backup_s:.2f} s, restore {restore_s:.2f} s of {keys} keys "
            f"on {len(servers)} servers",
            flush=True,
        )
        # Each SDK cycle is paired with a by-hand cycle right after it: on a shared
        # machine the load drifts, and both sides of a pair see the same.
        hand_runs.append(by_hand(data, keys, backups / f"hand-{run}"))
    return {
        "sdk_s": statistics.median(b + r for b, r in sdk_runs),
        "hand_s": statistics.median(h["hand_backup_s"] + h["hand_restore_s"] for h in hand_runs),
        "sdk_backup_s": statistics.median(b for b, _ in sdk_runs),
        "sdk_restore_s": statistics.median(r for _, r in sdk_runs),
        "hand_backup_s": statistics.median(h["hand_backup_s"] for h in hand_runs),
        "hand_restore_s": statistics.median(h["hand_restore_s"] for h in hand_runs),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def by_hand(data: bytes, keys: int, work: Path) -> dict[str, float]:
    """The baseline: one plain redis-server, the same data, backup and restore by hand."""
    work.mkdir(parents=True)
    port = free_port()
    address = f"127.0.0.1:{port}"
    argv = [
        "redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(work),
        "--save",
        "",
        "--appendonly",
        "no",
        "--repl-diskless-sync-delay",
        "0",
        "--maxmemory",
        "1024mb",
    ]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        wait("plain redis", lambda: redis_cli(address, "PING", timeout=2) == "PONG", 20)
        redis_cli(address, "--pipe", stdin=data)
        assert dbsize(address) == keys
        backup = work / "backup.rdb"
        t = time.monotonic()
        redis_cli(address, "--rdb", str(backup))
        backup_s = time.monotonic() - t
        redis_cli(address, "FLUSHALL")
        t = time.monotonic()
        redis_cli(address, "SHUTDOWN", "NOSAVE")
        server.wait(30)
        shutil.copyfile(backup, work / "dump.rdb")
        server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, start_new_session=True)
        wait("plain redis loaded", lambda: dbsize(address) == keys, 60, 0.01)
        restore_s = time.monotonic() - t
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(10)
    print(f"redis (by hand): backup {backup_s:.2f} s, restore {restore_s:.2f} s", flush=True)
    return {"hand_backup_s": backup_s, "hand_restore_s": restore_s}


# --------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--value-bytes", type=int, default=200)
    ap.add_argument("--redis-runs", type=int, default=3)
    ap.add_argument(
        "--only",
        choices=("zookeeper", "redis"),
        help="measure one service (a quick run; its JSON line has null for the other)",
    )
    args = ap.parse_args()
    if args.kills < 1 or args.keys < 1 or args.value_bytes < 1 or args.redis_runs < 1:
        raise SystemExit("bench: --kills, --keys, --value-bytes and --redis-runs must be >= 1")
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise SystemExit(
            "bench: needs redis-server and redis-cli (apt-get install redis-server redis-tools)"
        )
    work = Path(tempfile.mkdtemp(prefix="bench-services-"))
    # Backups must be outside /tmp: every task sees /tmp as its own private tmpfs.
    backups = Path(tempfile.mkdtemp(prefix="bench-services-backups-", dir="/var/tmp"))
    os.chmod(backups, 0o1777)
    state = work / "cluster"
    up = cli(state, "cluster", "up", "--no-auth", "--no-docker", "--agents", "3")
    try:
        if up.returncode != 0:
            raise SystemExit(f"bench: cluster up failed: {up.stdout}\n{up.stderr}")
        base = leader_url(state)
        zk = None if args.only == "redis" else bench_zookeeper(base, args.kills)
        redis = (
            None
            if args.only == "zookeeper"
            else bench_redis(base, args.keys, args.value_bytes, backups, args.redis_runs)
        )
    finally:
        cli(state, "cluster", "down")
        shutil.rmtree(backups, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {
        "bench": "services",
        "zk_install_s": None,
        "zk_recover_p50_s": None,
        "redis_backup_restore_ratio": None,
    }
    met = True
    if zk is not None:
        install_s, recover = zk
        recover_p50 = statistics.median(recover)
        print(
            f"zookeeper recovery over {len(recover)} kills: p50 {recover_p50:.2f} s, "
            f"max {max(recover):.2f} s (target p50 <= {ZK_TARGET_RECOVER_S:.0f} s)"
        )
        result["zk_install_s"] = round(install_s, 2)
        result["zk_recover_p50_s"] = round(recover_p50, 2)
        met = met and recover_p50 <= ZK_TARGET_RECOVER_S
    if redis is not None:
        sdk, hand = redis["sdk_s"], redis["hand_s"]
        ratio = sdk / hand
        print(
            f"redis backup+restore of {args.keys} keys, median of {args.redis_runs}: "
            f"SDK {sdk:.2f} s (backup {redis['sdk_backup_s']:.2f} + restore "
            f"{redis['sdk_restore_s']:.2f}), by hand {hand:.2f} s (backup "
            f"{redis['hand_backup_s']:.2f} + restore {redis['hand_restore_s']:.2f}), "
            f"ratio {ratio:.2f} (target <= {REDIS_TARGET_RATIO})"
        )
        result["redis_backup_restore_ratio"] = round(ratio, 2)
        met = met and ratio <= REDIS_TARGET_RATIO
    result["targets_met"] = met
    print(json.dumps(result))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
