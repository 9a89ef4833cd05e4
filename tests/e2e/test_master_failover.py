"""Master failover with real processes: the leader is SIGKILLed while tasks run."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest

from tests.e2e._tasks import Launcher
from tests.e2e.conftest import (
    E2ECluster,
    HttpReply,
    http_get,
    http_request,
    native_checkpoints,
    task_alive,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.zk]

TASKS = ["web-0", "web-1", "web-2", "web-3"]


def test_sigkill_of_the_leading_master_loses_restarts_and_duplicates_no_task(
    cluster: E2ECluster,
) -> None:
    """3 masters, 2 agents (native containerizer), 4 running tasks; SIGKILL the leader.

    Mesos' failover rules (ARCHITECTURE.md, flow 6): the new leader learns the running
    tasks from the re-registering agents, the framework re-subscribes with the same
    framework id, and the task processes themselves never notice."""
    cluster.start(masters=3, agents=2, containerizers="mesos")
    old = cluster.leader()
    old_id = cluster.get("state", old)["id"]
    launcher = Launcher(TASKS, per_offer=2)
    fw = cluster.framework("svc", failover_timeout=300, on_offers=launcher)
    fid = fw.framework_id
    assert fid is not None

    wait_for(
        lambda: all(fw.sched.latest(t) == "TASK_RUNNING" for t in TASKS), 30, "4 tasks RUNNING"
    )
    assert len(set(launcher.placed.values())) == 2, f"tasks not on both agents: {launcher.placed}"
    # The real processes behind the tasks (checkpointed by the agents' native containerizer).
    pids = {}
    for agent in cluster.agents:
        assert agent.work_dir is not None
        for tid, cp in native_checkpoints(agent.work_dir).items():
            assert task_alive(cp), f"{tid} (pid {cp['pid']}) is not running"
            pids[tid] = (agent.name, cp["pid"], cp["start_time"])
    assert sorted(pids) == TASKS
    seen_before = len(fw.sched.updates)

    old.kill9()

    new = cluster.leader(timeout=30)
    assert new is not old
    # Agents re-register with the new leader, and it knows every task as RUNNING.
    state = cluster.wait_agents(2, timeout=30)
    assert state["id"] != old_id and state["hostname"] == new.name
    tasks = wait_for(lambda: (t := cluster.tasks(new)) and len(t) == 4 and t, 20, "4 tasks")
    assert {tid: t["state"] for tid, t in tasks.items()} == dict.fromkeys(TASKS, "TASK_RUNNING")
    assert {tid: t["slave_id"] for tid, t in tasks.items()} == launcher.placed
    assert all(t["framework_id"] == fid for t in tasks.values())

    # The framework re-subscribed to the new leader under the same id.
    wait_for(lambda: fw.driver.master_id == state["id"], 20, "framework re-subscription")
    assert fw.framework_id == fid
    assert ("reregistered", fid, state["id"]) in fw.sched.registrations
    frameworks = [f for f in cluster.get("frameworks", new)["frameworks"] if f["id"] == fid]
    assert [(f["id"], f["active"]) for f in frameworks] == [(fid, True)]

    # Nothing was lost, restarted or duplicated: no new state for any task, same pids.
    after = fw.sched.updates[seen_before:]
    assert [u for u in after if u.state != "TASK_RUNNING"] == [], after
    assert launcher.pending == [], "a task was launched again"
    for agent in cluster.agents:
        assert agent.work_dir is not None
        for tid, cp in native_checkpoints(agent.work_dir).items():
            assert (agent.name, cp["pid"], cp["start_time"]) == pids[tid]
            assert task_alive(cp), f"{tid} (pid {cp['pid']}) died during the failover"
    assert fw.sched.errors == []


# ------------------------------------------------------------------- the failover view


def _post(url: str, body: Any) -> HttpReply:
    return http_request(url, "POST", json.dumps(body).encode(), timeout=10)


def _get(base: str, path: str) -> tuple[int, Any]:
    try:
        r = http_get(base + path, timeout=3.0)
    except OSError:
        return 0, None  # the killed leader, or a master a redirect pointed at
    try:
        return r.status, (r.json() if r.status == 200 else r.headers)
    except ValueError:
        return r.status, None


def _bad_views(status: int, body: Any, path: str, app_id: str, want: int) -> list[str]:
    """What is wrong with one answer of a poller: anything but a 503, a redirect, a
    connection refused, or a full view of ``want`` running tasks of ``app_id``."""
    if status in (0, 307):
        return []
    if status == 503:
        return [] if isinstance(body, dict) else [f"{path}: 503 without headers"]
    if status != 200:
        return [f"{path}: {status}"]
    if path.startswith("/marathon/v2/apps"):
        apps = [a for a in body["apps"] if a["id"] == app_id]
        if len(apps) != 1:
            return [f"{path}: {app_id} missing"]
        app = apps[0]
        states = Counter(t["state"] for t in app["tasks"])
        if app["tasksRunning"] != want or states["TASK_RUNNING"] != want:
            return [f"{path}: tasksRunning {app['tasksRunning']}, task states {dict(states)}"]
        return []
    states = Counter(t["state"] for t in body["tasks"] if t["appId"] == app_id)
    return [] if states["TASK_RUNNING"] == want else [f"{path}: task states {dict(states)}"]


def test_readers_never_see_running_tasks_as_staging_through_a_leader_sigkill(
    cluster: E2ECluster,
) -> None:
    """Issue 30, failover view: a client polling Marathon through a leader SIGKILL sees
    503s (with Retry-After) or full views, never a running app with fewer running
    tasks: the new leader answers only once it has loaded its state and adopted the
    tasks, and tasks known to be running stay TASK_RUNNING through the adoption."""
    cluster.start(masters=3, agents=2)
    base = cluster.leader().http_url
    app = {"id": "/steady", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 4}
    r = _post(base + "/marathon/v2/apps", app)
    assert r.status == 201, r.body[:300]

    def running() -> int:
        status, body = _get(base, "/marathon/v2/apps/steady")
        return int(body["app"]["tasksRunning"]) if status == 200 else -1

    wait_for(lambda: running() == 4, 30, "4 running tasks")
    bad: list[str] = []
    answered: Counter[str] = Counter()
    stop = threading.Event()
    paths = ("/marathon/v2/apps?embed=apps.tasks", "/marathon/v2/tasks")

    def poll() -> None:
        while not stop.is_set():
            for m in [m for m in cluster.masters if m.alive]:
                for path in paths:
                    status, body = _get(m.http_url, path)
                    answered[f"{m.name} {status}"] += 1
                    problems = _bad_views(status, body, path, "/steady", 4)
                    if status == 503 and "retry-after" not in body:
                        problems.append(f"{m.name} {path}: 503 without Retry-After")
                    bad.extend(f"{m.name} {p}" for p in problems)

    poller = threading.Thread(target=poll, name="failover-view-poller", daemon=True)
    poller.start()
    try:
        wait_for(lambda: sum(n for k, n in answered.items() if k.endswith(" 200")) >= 20, 10)
        old = cluster.leader()
        old.kill9()
        new = cluster.leader(timeout=30)
        assert new is not old
        wait_for(lambda: answered[f"{new.name} 200"] >= 40, 30, "40 full views from the new leader")
    finally:
        stop.set()
        poller.join(10)
    assert bad == [], (bad[:20], dict(answered))
