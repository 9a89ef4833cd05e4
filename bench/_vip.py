"""VIP figures for bench/networking.py (issue 20), on a cluster it already runs.

``measure(state_dir, leader_url) -> dict``:

- ``vip_ratio``: HTTP requests/s through the VIP / requests/s straight to the backend.
  One app instance (so both paths reach the SAME backend), the same load generator (an
  asyncio client in this process: ``CONCURRENCY`` connections in flight, one request per
  connection, as a service-to-service call without keep-alive), alternating rounds of
  ``ROUND_S`` seconds, best round of each.
- ``vip_update_p99_ms``: an instance killed (``DELETE /v2/apps/{id}/tasks/{task}``) to
  its backend gone from HAProxy, every master's (the l4lb publishes its table at
  ``/networking/api/v1/vips`` right after HAProxy acknowledged the change, polled every
  2 ms), over ``KILLS`` kills; Marathon replaces each instance before the next kill.

The app is removed before returning. Run it alone: ``python bench/networking.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

APP = "/bench/vip"
VIP_NAME = "/bench-vip:80"
CONCURRENCY = 16
ROUND_S = 2.0
ROUNDS = 3
KILLS = 12

SERVER = """
import http.server, os, signal, threading
me = os.environ["MESOS_TASK_ID"].encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(me)))
        self.end_headers()
        self.wfile.write(me)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer.request_queue_size = 1024
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT0"])), H)
signal.signal(signal.SIGTERM, lambda *a: threading.Timer(0.5, srv.shutdown).start())
srv.serve_forever()
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _http(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def _wait(cond: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            got = cond()
            if got:
                return got
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


async def _one(host: str, port: int) -> bool:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
        await writer.drain()
        data = await reader.read()
        return data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200")
    finally:
        writer.close()


async def _load(host: str, port: int, seconds: float) -> tuple[float, int]:
    """(requests/s, failures) with CONCURRENCY requests in flight for ``seconds``."""
    done = failed = 0
    errors: dict[str, int] = {}
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done, failed
        while time.monotonic() < stop:
            try:
                ok = await _one(host, port)
            except OSError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                ok = False
            if ok:
                done += 1
            else:
                failed += 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    if errors:
        log(f"vip: {host}:{port}: failed requests {errors}")
    return done / (time.monotonic() - start), failed


def _vip_entry(url: str) -> dict[str, Any] | None:
    status, body = _http(f"{url}/networking/api/v1/vips?app={APP}")
    if status != 200 or not body:
        return None
    return dict(body[0])


def measure(state_dir: str, leader_url: str) -> dict[str, Any]:
    """See the module docstring. ``state_dir``: the cluster's (for the masters' URLs)."""
    masters = _master_urls(state_dir) or [leader_url]
    log(f"vip: {len(masters)} master(s): {', '.join(masters)}")
    marathon = f"{leader_url.rstrip('/')}/marathon/v2/apps"
    app = {
        "id": APP,
        "cmd": f"exec python3 -c '{SERVER}'",
        "cpus": 0.5,  # the agent enforces CPU limits: a backend throttled hard measures noise
        "mem": 64,
        "instances": 1,
        "portDefinitions": [{"port": 0, "labels": {"VIP_0": VIP_NAME}}],
    }
    status, body = _http(marathon, "POST", app)
    if status != 201:
        raise RuntimeError(f"creating {APP}: {status} {body}")
    try:
        entry = _wait(
            lambda: (e := _vip_entry(leader_url)) is not None and len(e["backend"]) == 1 and e,
            60,
            "the VIP with its backend",
        )
        vip_host, vip_port = entry["address"].rsplit(":", 1)
        backend = entry["backend"][0]
        # RUNNING comes a moment before the server listens (this app has no health check)
        _wait(lambda: asyncio.run(_one(backend["ip"], int(backend["port"]))), 20, "the backend")
        # the same backend both ways: straight, then through the VIP, alternating
        direct: list[float] = []
        via: list[float] = []
        failures = 0
        for _ in range(ROUNDS):
            rps, bad = asyncio.run(_load(backend["ip"], int(backend["port"]), ROUND_S))
            direct.append(rps)
            failures += bad
            rps, bad = asyncio.run(_load(vip_host, int(vip_port), ROUND_S))
            via.append(rps)
            failures += bad
        log(f"vip: direct {max(direct):.0f} req/s, through the VIP {max(via):.0f} req/s")

        # kill -> gone from every master's HAProxy
        status, _ = _http(f"{marathon}{APP}", "PATCH", {"instances": 2})
        _wait(
            lambda: all(
                (e := _vip_entry(m)) is not None and len(e["backend"]) == 2 for m in masters
            ),
            60,
            "two backends",
        )
        latencies: list[float] = []
        for _ in range(KILLS):
            entry = _vip_entry(leader_url)
            assert entry is not None
            victim = entry["backend"][0]
            gone = (victim["ip"], victim["port"])
            t0 = time.monotonic()
            status, _ = _http(f"{marathon}{APP}/tasks/{victim['task_id']}", "DELETE")
            if status != 200:
                raise RuntimeError(f"killing {victim['task_id']}: {status}")
            for m in masters:
                _wait(
                    lambda m=m, gone=gone: (
                        (e := _vip_entry(m)) is not None
                        and gone not in {(b["ip"], b["port"]) for b in e["backend"]}
                    ),
                    10,
                    "the backend gone",
                    interval=0.002,
                )
            latencies.append((time.monotonic() - t0) * 1000)
            _wait(
                lambda: all(
                    (e := _vip_entry(m)) is not None and len(e["backend"]) == 2 for m in masters
                ),
                60,
                "the replacement backend",
            )
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        log(f"vip: kill -> removed p50 {latencies[len(latencies) // 2]:.0f} ms, p99 {p99:.0f} ms")
        return {
            "vip_ratio": round(max(via) / max(direct), 3) if max(direct) else None,
            "vip_rps": round(max(via)),
            "vip_direct_rps": round(max(direct)),
            "vip_failed_requests": failures,
            "vip_update_p50_ms": round(latencies[len(latencies) // 2], 1),
            "vip_update_p99_ms": round(p99, 1),
        }
    finally:
        _http(f"{marathon}{APP}?force=true", "DELETE")


def _master_urls(state_dir: str) -> list[str]:
    """Every master's gateway URL, from ``pydcos cluster status --json``."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console.cli",
            "cluster",
            "status",
            "--json",
            "--state-dir",
            state_dir,
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=30,
        check=False,
    )
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        return []
    out = []
    for proc in doc.get("processes", []) if isinstance(doc, dict) else []:
        if proc.get("kind") == "master" and proc.get("up") and proc.get("http_url"):
            out.append(str(proc["http_url"]).rstrip("/"))
    return out
