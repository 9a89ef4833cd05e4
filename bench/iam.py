"""IAM's cost: auth on vs off on Marathon's app list, login latency, permission checks.

    .venv/bin/python bench/iam.py [--apps 100] [--samples 300] [--logins 30]

Two real ``pydcos master`` processes on one real ZooKeeper (separate chroots), started
identically (``--services iam,marathon --node-services iam``) except for auth: master A
with ``--iam-key``/``--iam-bootstrap`` (the gateway verifies every token and checks
every permission), master B with ``--no-auth``. Each gets the same 100 Marathon apps.

1. ``GET /marathon/v2/apps`` p50 on A and on B, requests INTERLEAVED (A, B, A, B...)
   so that load from other processes on the machine hits both alike. On A twice: as the
   superuser, and as a team user with ``dcos:adminrouter:service:marathon`` full and
   ``read`` on ``services:/bench`` only (Marathon then checks every app against the
   user's permissions). ``auth_overhead_pct`` is the larger of the two overheads
   (target <= 10 %: token verification is cached by the token).
2. ``POST /acs/api/v1/auth/login`` p50 with the right password over HTTP (argon2id with
   the parameters printed; target <= 50 ms). Wall time: on a loaded machine it stretches,
   so the CPU cost of one verification (``argon2_cpu_ms``) and the load average are
   printed beside it.
3. ``GatewayAuth.allowed`` x 1,000 in this process against a policy of 200 users, 50
   groups and 500 ACLs, hierarchical rids: microseconds per batch of 1,000 checks, cold
   (``authz_us``: a fresh policy, as after every IAM change) and memoised (no target in
   the issue: reported).

Last line: ``{"bench": "iam", "auth_overhead_pct", "login_p50_ms", "authz_us",
"targets_met", ...}``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-bootstrap-Pa55"
TEAM_PW = "bench-team-Pa55"
MARATHON_RID = "dcos:service:marathon:marathon:services"


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_master(zk: str, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """A ``pydcos master`` child; returns it and its gateway URL (from its banner)."""
    argv = [sys.executable, "-m", "console.cli", "master", "--zk", zk, "--insecure-dev"]
    argv += ["--services", "iam,marathon", "--node-services", "iam", "--log-file", str(log)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYDCOS_LOG="WARNING", PYTHONUNBUFFERED="1")
    out = open(log, "ab")  # noqa: SIM115 - the child's stdout, closed below
    proc = subprocess.Popen(
        [*argv, *extra],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
        preexec_fn=_die_with_parent,
    )
    out.close()
    from runtime.testing import wait_for

    def banner() -> str | None:
        if proc.poll() is not None:
            raise RuntimeError(f"master exited ({proc.returncode}); see {log}")
        for line in log.read_text(errors="replace").splitlines():
            w = line.split()
            if len(w) >= 4 and w[0] == "master" and w[1].startswith("tcp://"):
                return w[3]
        return None

    url: str = wait_for(banner, 60, "the master's banner", interval=0.05, retry_errors=False)
    return proc, url


def request(
    base: str, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"token={token}"
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def ok(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    status, raw = request(base, method, path, body, token)
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {raw[:200]!r}")
    return json.loads(raw) if raw else None


def wait_ready(base: str, token: str | None) -> None:
    from runtime.testing import wait_for

    def ready() -> bool:
        return request(base, "GET", "/marathon/v2/info", token=token)[0] == 200

    wait_for(ready, 60, f"Marathon at {base}", interval=0.1)


def login(base: str, uid: str, password: str) -> str:
    token: str = ok(base, "POST", "/acs/api/v1/auth/login", {"uid": uid, "password": password})[
        "token"
    ]
    return token


def add_apps(base: str, n: int, token: str | None) -> None:
    for i in range(n):
        app = {"id": f"/bench/app-{i:03d}", "cmd": "sleep 1000", "instances": 0}
        app.update({"cpus": 0.05, "mem": 32, "portDefinitions": []})
        ok(base, "POST", "/marathon/v2/apps", app, token)


def timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def authz_batch_us(rounds: int = 50) -> tuple[float, float, int]:
    """Median microseconds for 1,000 ``GatewayAuth.allowed`` checks: cold (a fresh
    policy, as after every IAM change) and warm (the policy's memo filled by the same
    checks, as for a list view asked again), and how many of a batch were allowed (so the
    work cannot be optimised away)."""
    from actors.iam import SUPERUSER_RID, AuditLog, GatewayAuth, IamView, Principal

    # The state document as the leader stores it (docs/iam.md's shape).
    users: dict[str, Any] = {"root": {"kind": "user", "password_hash": "$argon2id$x"}}
    groups: dict[str, Any] = {f"g{g}": {"members": []} for g in range(50)}
    for u in range(200):
        users[f"u{u}"] = {"kind": "user", "password_hash": "$argon2id$x"}
        groups[f"g{u % 50}"]["members"].append(f"u{u}")
    acls: dict[str, Any] = {SUPERUSER_RID: {"users": {"root": ["full"]}, "groups": {}}}
    for a in range(500):
        acls[f"{MARATHON_RID}:/team-{a % 50}/svc-{a}"] = {
            "users": {},
            "groups": {f"g{a % 50}": ["read"]},
        }
    acls["dcos:adminrouter:service:marathon"] = {"users": {}, "groups": {"g7": ["full"]}}
    s = {"users": users, "groups": groups, "acls": acls}
    auth = GatewayAuth({}, IamView(s, 1), AuditLog(None, time.time), time.time)
    who = Principal("u7", "user", False)
    rids = [f"{MARATHON_RID}:/team-{i % 60}/svc-{i}/web/{i % 3}" for i in range(999)]
    rids.append("dcos:adminrouter:service:marathon")
    cold: list[float] = []
    warm: list[float] = []
    allowed = 0
    for i in range(rounds):
        auth.view.update(s, i + 2)  # a new Policy: an empty memo
        for out in (cold, warm):
            t0 = time.perf_counter()
            allowed = sum(auth.allowed(who, r, "read") for r in rids)
            out.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(cold), statistics.median(warm), allowed


def argon2_cpu_ms(n: int = 10) -> float:
    """CPU milliseconds of one argon2id verification in this process (``process_time``:
    what the hash costs, whatever else the machine runs; the login p50 is wall time)."""
    from actors.iam import hash_password, verify_password

    h = hash_password(TEAM_PW)
    samples = []
    for _ in range(n):
        t0 = time.process_time()
        verify_password(h, TEAM_PW)
        samples.append((time.process_time() - t0) * 1000)
    return statistics.median(samples)


def run(apps: int, samples: int, logins: int) -> dict[str, Any]:
    from actors.iam import PARAMETERS, generate_cluster_key, write_bootstrap
    from zk import ZooKeeperServer

    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="pydcos-bench-iam-"))
    procs: list[subprocess.Popen[bytes]] = []
    good = False
    try:
        with ZooKeeperServer() as zk_server:
            key, boot = tmp / "cluster.key", tmp / "bootstrap.json"
            generate_cluster_key(key)
            write_bootstrap(boot, "bootstrapuser", PASSWORD)
            pa, a = start_master(
                f"{zk_server.hosts}/bench-iam-on",
                tmp / "master-on.log",
                "--iam-key",
                str(key),
                "--iam-bootstrap",
                str(boot),
            )
            procs.append(pa)
            pb, b = start_master(
                f"{zk_server.hosts}/bench-iam-off", tmp / "master-off.log", "--no-auth"
            )
            procs.append(pb)
            from runtime.testing import wait_for

            root = wait_for(
                lambda: login(a, "bootstrapuser", PASSWORD), 60, "the bootstrap login", 0.2
            )
            wait_ready(a, root)
            wait_ready(b, None)
            ok(a, "PUT", "/acs/api/v1/users/team", {"password": TEAM_PW}, root)
            for rid, action in (
                ("dcos:adminrouter:service:marathon", "full"),
                (f"{MARATHON_RID}:/bench", "read"),
            ):
                path = f"/acs/api/v1/acls/{rid.replace('/', '%2F')}/users/team/{action}"
                ok(a, "PUT", path, None, root)
            team = login(a, "team", TEAM_PW)
            add_apps(a, apps, root)
            add_apps(b, apps, None)
            for base, tok in ((a, root), (a, team), (b, None)):
                listed = ok(base, "GET", "/marathon/v2/apps", token=tok)["apps"]
                if len(listed) != apps:
                    raise RuntimeError(f"{base}: {len(listed)} apps listed, not {apps}")
            off, on_root, on_team = [], [], []
            for _ in range(10):  # warm-up: first verification, caches, connections
                for base, tok in ((a, root), (a, team), (b, None)):
                    request(base, "GET", "/marathon/v2/apps", token=tok)
            for _ in range(samples):
                on_root.append(timed(lambda: request(a, "GET", "/marathon/v2/apps", token=root)))
                off.append(timed(lambda: request(b, "GET", "/marathon/v2/apps")))
                on_team.append(timed(lambda: request(a, "GET", "/marathon/v2/apps", token=team)))
                off.append(timed(lambda: request(b, "GET", "/marathon/v2/apps")))
            p_off = statistics.median(off)
            p_root, p_team = statistics.median(on_root), statistics.median(on_team)
            login_ms = [timed(lambda: login(a, "team", TEAM_PW)) for _ in range(logins)]
            argon2_cpu = argon2_cpu_ms()
            authz, authz_warm, allowed = authz_batch_us()
            good = True
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        if good:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}", file=sys.stderr)
    over_root = (p_root - p_off) / p_off * 100
    over_team = (p_team - p_off) / p_off * 100
    login_p50 = statistics.median(login_ms)
    overhead = max(over_root, over_team)
    return {
        "apps": apps,
        "samples": samples,
        "apps_p50_ms_auth_off": round(p_off, 3),
        "apps_p50_ms_superuser": round(p_root, 3),
        "apps_p50_ms_team_user": round(p_team, 3),
        "overhead_pct_superuser": round(over_root, 1),
        "overhead_pct_team_user": round(over_team, 1),
        "login_samples": logins,
        "argon2_cpu_ms": round(argon2_cpu, 1),
        "load_avg_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "argon2": PARAMETERS,
        "authz_allowed_of_1000": allowed,
        "authz_us_warm": round(authz_warm, 1),
        "auth_overhead_pct": round(overhead, 1),
        "login_p50_ms": round(login_p50, 1),
        "authz_us": round(authz, 1),
        "targets_met": overhead <= 10 and login_p50 <= 50,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--apps", type=int, default=100)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--logins", type=int, default=30)
    args = ap.parse_args()
    if not (1 <= args.apps <= 1000 and 10 <= args.samples <= 100000 and args.logins >= 1):
        ap.error("--apps 1..1000, --samples >= 10, --logins >= 1")
    r = run(args.apps, args.samples, args.logins)
    print(
        f"GET /marathon/v2/apps ({r['apps']} apps) p50: auth off {r['apps_p50_ms_auth_off']} ms,"
        f" superuser {r['apps_p50_ms_superuser']} ms ({r['overhead_pct_superuser']:+} %),"
        f" team user {r['apps_p50_ms_team_user']} ms ({r['overhead_pct_team_user']:+} %)"
    )
    a = r["argon2"]
    print(
        f"login p50 {r['login_p50_ms']} ms over HTTP (argon2id m={a['memory_cost_kib']} KiB,"
        f" t={a['time_cost']}, p={a['parallelism']}; one verification {r['argon2_cpu_ms']} ms"
        f" of CPU; machine load average {r['load_avg_1m'][0]} -> {r['load_avg_1m'][1]})"
    )
    print(
        f"1,000 permission checks: {r['authz_us']} us cold, {r['authz_us_warm']} us memoised"
        f" ({r['authz_allowed_of_1000']} allowed)"
    )
    print(
        json.dumps(
            {
                "bench": "iam",
                **{
                    k: r[k]
                    for k in ("auth_overhead_pct", "login_p50_ms", "authz_us", "targets_met")
                },
            }
        )
    )


if __name__ == "__main__":
    main()
