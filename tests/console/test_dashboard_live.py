"""The dashboard on a real local cluster (2 masters, 2 agents), through Textual's pilot:
what a user saw go wrong, played for real.

```
 cluster up (own state dir) ── DashboardApp(LiveSource) in App.run_test()
   1. /web 2 instances, rack:UNIQUE (one agent per rack); scale to 3: the 3rd can't be placed
      -> Apps shows 2/3 deploying; DELETE the deployment (rollback)
      -> Apps converges to the API: 2/2, no deployment
   2. SIGKILL the leading master -> "electing a leader" (header and Masters panel)
      -> the standby leads, the killed master stays listed as down
```
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from console._client import resolve_target
from console._dashboard import DashboardApp, screen_text
from console._feed import LiveSource
from tests.console.conftest import pid_alive, pydcos

pytestmark = [pytest.mark.slow, pytest.mark.zk, pytest.mark.timeout(300)]

WEB = {
    "id": "/web",
    "cmd": "sleep 600",
    "cpus": 0.1,
    "mem": 32,
    "instances": 2,
    "constraints": [["rack", "UNIQUE"]],
}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "cluster"
    up = pydcos(
        "cluster",
        "up",
        "--insecure-dev",
        "--no-docker",
        "--no-auth",
        "--masters",
        "2",
        "--agents",
        "2",
        "--state-dir",
        str(state),
    )
    rec = state / "cluster.json"
    pids: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        pids = [p["pid"] for p in json.loads(rec.read_text())["processes"]]
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield state
    finally:
        pydcos("cluster", "down", "--state-dir", str(state))
        for pid in [p for p in pids if pid_alive(p)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def http(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {url}: {exc.code} {exc.read()!r}") from None
    return json.loads(raw) if raw else None


async def until(
    app: DashboardApp, pilot: Any, cond: Callable[[], Any], what: str, timeout: float = 60.0
) -> None:
    """Let the app run (events, 100 ms flushes) until ``cond`` holds.

    Not ``runtime.testing.wait_for``: that one blocks the thread, and the app runs on this
    test's event loop only while the test awaits (``pilot.pause``) between polls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        if cond():
            return
    raise AssertionError(f"timed out waiting for {what}:\n{screen_text(app)}")


def app_cells(app: DashboardApp, app_id: str) -> tuple[str, ...]:
    row = app.syncs["apps"].rows.get(app_id)
    return () if row is None else tuple(str(c) for c in row)


def roles(app: DashboardApp) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for r in app.syncs["masters"].rows.values()}


def test_dashboard_on_a_real_cluster_rollback_then_failover(cluster: Path) -> None:
    target = resolve_target(None, cluster)
    rec = json.loads((cluster / "cluster.json").read_text())

    async def main() -> None:
        app = DashboardApp(LiveSource(target))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(app, pilot, lambda: app.model.leader is not None, "a leader")
            base = str(app.model.leader.http_url).rstrip("/")  # type: ignore[union-attr]
            marathon = base + "/marathon/v2"
            http("POST", f"{marathon}/apps", WEB)
            await until(app, pilot, lambda: app_cells(app, "/web")[1:2] == ("2/2",), "/web 2/2")
            await until(app, pilot, lambda: not http("GET", f"{marathon}/deployments"), "deployed")

            # 1. a stuck scale-up, rolled back: the panel follows the API, not stale events
            doc = http(
                "PUT", f"{marathon}/apps/web?force=true&partialUpdate=true", {"instances": 3}
            )
            dep = doc["deploymentId"]
            await until(
                app,
                pilot,
                lambda: (
                    app_cells(app, "/web")[1:2] == ("2/3",)
                    and app_cells(app, "/web")[4] == "deploying"
                ),
                "2/3 deploying",
            )
            http("DELETE", f"{marathon}/deployments/{dep}")
            await until(app, pilot, lambda: not http("GET", f"{marathon}/deployments"), "rollback")
            truth = http("GET", f"{marathon}/apps/web")["app"]["instances"]
            assert truth == 2
            await until(
                app,
                pilot,
                lambda: (
                    app_cells(app, "/web")[1:2] == ("2/2",) and app_cells(app, "/web")[4] == "-"
                ),
                "the Apps panel to converge to 2/2, no deployment",
                timeout=15.0,
            )

            # 2. SIGKILL the leader: electing, then the standby leads, the dead one is down
            leader = app.model.leader
            assert leader is not None
            dead = next(p for p in rec["processes"] if p["address"] == leader.address)
            os.kill(dead["pid"], signal.SIGKILL)
            await until(
                app,
                pilot,
                lambda: "electing a leader" in screen_text(app).splitlines()[0],
                "the header to say electing",
                timeout=10.0,
            )
            assert "Masters: electing a leader" in screen_text(app)
            assert roles(app)[dead["name"]] == "down"
            other = next(n for n in roles(app) if n != dead["name"])
            await until(
                app,
                pilot,
                lambda: roles(app) == {dead["name"]: "down", other: "leader"},
                "the standby to lead, the killed master down",
            )
            assert "electing" not in screen_text(app).splitlines()[0]
            await until(
                app,
                pilot,
                lambda: len(app.model.masters_up) == 1,
                "ZooKeeper to drop the dead master",
            )
            assert roles(app) == {dead["name"]: "down", other: "leader"}

    asyncio.run(main())
