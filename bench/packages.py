"""Packages (Cosmos): search over a 500-package repository; install to first RUNNING.

    .venv/bin/python bench/packages.py [--packages 500] [--searches 200] [--installs 7]

One real local cluster (``pydcos cluster up``: ZooKeeper, 1 master, 1 agent, native
runtime), this script as the HTTP client.

1. ``search_500_p50_ms``: a generated Universe repository of ``--packages`` packages
   (each with a config schema and a base64 template, as Universe's files) is added at
   index 0 with ``POST /package/repository/add``; then ``POST /package/search`` with a
   mix of queries (empty: every package; a word; a tag; a glob), p50 over
   ``--searches`` requests. Target <= 50 ms.
2. ``install_to_running_p50_s``: ``POST /package/install`` of the bundled ``hello-world``
   (native busybox httpd) under a new service name, until Marathon lists its first task
   TASK_RUNNING (polled every 10 ms); then uninstall. p50 over ``--installs``. Target
   <= 2 s.

Baseline, measured in the same run: the same rendered app POSTed straight to Marathon
(``/marathon/v2/apps``) to first RUNNING, so ``install_overhead_ratio`` shows what the
package layer (catalog, options, render, labels) adds. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
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

TEMPLATE = base64.b64encode(
    b'{"id": "/{{service.name}}", "cmd": "sleep 1000", "cpus": {{service.cpus}}, '
    b'"mem": 32, "instances": 1}'
).decode()
CONFIG = {
    "type": "object",
    "properties": {
        "service": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "default": "svc"},
                "cpus": {"type": "number", "default": 0.1, "minimum": 0.01},
            },
        }
    },
}
WORDS = ["web", "database", "queue", "cache", "metrics", "search", "storage", "proxy"]


def generated_repo(n: int) -> dict[str, Any]:
    """``n`` packages in Universe's format, with several versions for some."""
    packages = []
    for i in range(n):
        word = WORDS[i % len(WORDS)]
        packages.append(
            {
                "packagingVersion": "4.0" if i % 2 else "3.0",
                "name": f"bench-{word}-{i:04d}",
                "version": f"1.{i % 5}.0",
                "releaseVersion": i % 5,
                "maintainer": "bench@example.invalid",
                "description": f"Generated {word} package number {i} for the search benchmark",
                "tags": [word, f"group-{i % 20}", "bench"],
                "selected": i % 50 == 0,
                "framework": False,
                "postInstallNotes": "generated",
                "config": CONFIG,
                "resource": {"assets": {"uris": {"bin": f"assets/{i}/bin"}}},
                "marathon": {"v2AppMustacheTemplate": TEMPLATE},
            }
        )
    return {"packages": packages}


def post(base: str, path: str, body: dict[str, Any], timeout: float = 30.0) -> tuple[int, Any]:
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.load(r)


def delete(base: str, path: str) -> None:
    req = urllib.request.Request(base + path, method="DELETE")
    with urllib.request.urlopen(req, timeout=10):
        pass


def wait_running(base: str, app_id: str, deadline_s: float = 30.0) -> float:
    """Seconds (monotonic clock) at which the app's first task was seen RUNNING."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            tasks = get(base, f"/marathon/v2/apps{app_id}/tasks").get("tasks", [])
        except urllib.error.HTTPError:
            tasks = []
        if any(t.get("state") == "TASK_RUNNING" for t in tasks):
            return time.monotonic()
        time.sleep(0.01)
    raise SystemExit(f"bench: {app_id} never reached TASK_RUNNING in {deadline_s} s")


def wait_gone(base: str, app_id: str) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        ids = [a["id"] for a in get(base, "/marathon/v2/apps")["apps"]]
        tasks = get(base, "/marathon/v2/tasks")["tasks"]
        if app_id not in ids and not any(t.get("appId") == app_id for t in tasks):
            return
        time.sleep(0.05)
    raise SystemExit(f"bench: {app_id} was not removed")


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYDCOS_ZK", None)
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def leader_url(state: Path) -> str:
    record = json.loads((state / "cluster.json").read_text())
    for p in record["processes"]:
        if p["kind"] == "master":
            return str(p["http_url"]).rstrip("/")
    raise SystemExit("bench: no master in cluster.json")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=500)
    ap.add_argument("--searches", type=int, default=200)
    ap.add_argument("--installs", type=int, default=7)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pydcos-bench-packages-"))
    state = work / "cluster"
    up = cli(state, "cluster", "up", "--insecure-dev", "--no-docker", "--no-auth", "--masters", "1",
             "--agents", "1")  # fmt: skip
    try:
        if up.returncode != 0:
            raise SystemExit(f"bench: cluster up failed: {up.stdout}\n{up.stderr}")
        base = leader_url(state)

        # 1. search over a generated repository
        repo = work / "repo.json"
        repo.write_text(json.dumps(generated_repo(args.packages)))
        status, doc = post(
            base, "/package/repository/add", {"name": "bench", "uri": repo.as_uri(), "index": 0}
        )
        if status != 200:
            raise SystemExit(f"bench: repository/add: {status} {doc}")
        queries = ["", "database", "group-7", "bench-web-*", "number 42"]
        status, doc = post(base, "/package/search", {"query": ""})
        total = len(doc["packages"])
        times = []
        for i in range(args.searches):
            t0 = time.perf_counter()
            status, doc = post(base, "/package/search", {"query": queries[i % len(queries)]})
            times.append(time.perf_counter() - t0)
            assert status == 200, doc
        search_p50 = statistics.median(times) * 1000
        search_p99 = sorted(times)[int(len(times) * 0.99) - 1] * 1000
        post(base, "/package/repository/delete", {"name": "bench"})

        # 2. install -> first RUNNING, and the same app straight to Marathon (baseline)
        installs, direct = [], []
        for i in range(args.installs):
            name = f"hello-{i}"
            t0 = time.monotonic()
            status, doc = post(
                base,
                "/package/install",
                {"packageName": "hello-world", "options": {"service": {"name": name}}},
            )
            if status != 200:
                raise SystemExit(f"bench: install: {status} {doc}")
            installs.append(wait_running(base, f"/{name}") - t0)
            status, rendered = post(
                base,
                "/package/render",
                {"packageName": "hello-world", "options": {"service": {"name": f"direct-{i}"}}},
            )
            post(base, "/package/uninstall", {"packageName": "hello-world", "appId": name})
            wait_gone(base, f"/{name}")
            t0 = time.monotonic()
            status, doc = post(base, "/marathon/v2/apps", rendered["marathonJson"])
            if status != 201:
                raise SystemExit(f"bench: marathon create: {status} {doc}")
            direct.append(wait_running(base, f"/direct-{i}") - t0)
            delete(base, f"/marathon/v2/apps/direct-{i}?force=true")
            wait_gone(base, f"/direct-{i}")
        install_p50 = statistics.median(installs)
        direct_p50 = statistics.median(direct)
    finally:
        cli(state, "cluster", "down")

    targets = search_p50 <= 50.0 and install_p50 <= 2.0
    print(f"search over {total} packages: p50 {search_p50:.1f} ms, p99 {search_p99:.1f} ms")
    print(
        f"install -> first RUNNING: p50 {install_p50:.2f} s "
        f"(Marathon directly: p50 {direct_p50:.2f} s) over {args.installs} installs"
    )
    print(
        json.dumps(
            {
                "bench": "packages",
                "search_500_p50_ms": round(search_p50, 2),
                "search_500_p99_ms": round(search_p99, 2),
                "packages_in_catalog": total,
                "install_to_running_p50_s": round(install_p50, 3),
                "marathon_direct_to_running_p50_s": round(direct_p50, 3),
                "install_overhead_ratio": round(install_p50 / direct_p50, 3)
                if direct_p50
                else None,
                "targets_met": targets,
            }
        )
    )


if __name__ == "__main__":
    main()
