"""Issue 17, item 1: "2 masters, an app with a health check, kill -9 the leader: its
tasks stay healthy on the new leader and the next deployment completes".

Real processes (masters with Marathon, an agent with the native containerizer running
real COMMAND health checks), the real ZooKeeper. Before the fix the new leader never
learned the health of tasks already running (agents report health on a change only,
re-registration carried no health, so reconciliation answered ``healthy: None``):
``healthCheckResults`` stayed ``[]`` and a scale hung at "0 of N running and healthy".
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.marathon._harness import wait_for
from tests.marathon.test_marathon_e2e import APPS, E2E, e2e  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.zk]


def _tasks(http: Any, app_id: str) -> list[dict[str, Any]]:
    return list(http.get(f"{APPS}{app_id}")["app"]["tasks"])


def _healthy(task: dict[str, Any]) -> bool:
    results = task.get("healthCheckResults") or []
    return task["state"] == "TASK_RUNNING" and bool(results) and results[0]["alive"] is True


def test_leader_killed_running_tasks_keep_their_health_and_a_scale_completes(
    e2e: E2E,  # noqa: F811
) -> None:
    e2e.master()
    e2e.master()
    e2e.agent("cpus:2;mem:1024;ports:[31000-31050]", containerizers="mesos")
    http = e2e.http()
    wait_for(lambda: http.get("/marathon/v2/info")["frameworkId"], what="Marathon up")
    fid = http.get("/marathon/v2/info")["frameworkId"]
    app = {
        "id": "checked",
        "cmd": "sleep 1000",
        "cpus": 0.1,
        "mem": 32,
        "instances": 2,
        "healthChecks": [
            {
                "protocol": "COMMAND",
                "command": {"value": "true"},
                "gracePeriodSeconds": 30,
                "intervalSeconds": 2,
                "timeoutSeconds": 1,
                "maxConsecutiveFailures": 3,
            }
        ],
    }
    status, body, _ = http("POST", APPS, app)
    assert status == 201, body
    before = wait_for(
        lambda: (t := _tasks(http, "/checked")) and len(t) == 2 and all(map(_healthy, t)) and t,
        timeout=40,
        what="2 healthy instances",
    )
    wait_for(lambda: http.get("/marathon/v2/deployments") == [], what="deployed")

    leader = next(p for p in e2e.procs if p.http_url == e2e.leader_url())
    leader.kill9()
    wait_for(lambda: e2e.leader_url() != leader.http_url, timeout=20, what="new leader")
    http = e2e.http()
    wait_for(
        lambda: http.get("/marathon/v2/info")["frameworkId"] == fid,
        timeout=20,
        what="Marathon re-registered",
    )

    # The same tasks, adopted with their health (no health change happens meanwhile).
    after = wait_for(
        lambda: (t := _tasks(http, "/checked")) and len(t) == 2 and all(map(_healthy, t)) and t,
        timeout=20,
        what="the running tasks healthy on the new leader",
    )
    assert {t["id"] for t in after} == {t["id"] for t in before}
    assert http.get(f"{APPS}/checked")["app"]["tasksHealthy"] == 2

    # Marathon's default PUT is a partial update: this scales, and the deployment
    # completes only if the adopted tasks count as healthy.
    status, body, _ = http("PUT", f"{APPS}/checked?force=false", {"instances": 3})
    assert status == 200, body
    wait_for(
        lambda: http.get("/marathon/v2/deployments") == [],
        timeout=40,
        what="the scale deployment after the failover completes",
    )
    final = _tasks(http, "/checked")
    assert len(final) == 3 and all(map(_healthy, final)), final
    assert {t["id"] for t in before} <= {t["id"] for t in final}


def test_task_host_of_a_local_cluster_agent_resolves_to_its_ip(e2e: E2E) -> None:  # noqa: F811
    """Issue 17 item 5: an agent started as ``pydcos cluster up`` starts it registers
    with a hostname that resolves; a task's ``host`` resolves to its ``ipAddresses``."""
    import socket
    import sys

    from console._launcher import AGENT_HOSTNAME
    from tests.marathon.test_marathon_e2e import Proc

    e2e.master()
    work = e2e.tmp / "local-agent"
    e2e.work_dirs.append(work)
    argv = [sys.executable, "-m", "console.cli", "agent", "--zk", e2e.zk, "--insecure-dev"]
    argv += ["--hostname", AGENT_HOSTNAME, "--containerizers", "simulated"]
    argv += ["--resources", "cpus:2;mem:512;ports:[31000-31010]", "--work-dir", str(work)]
    proc = Proc("agent-local", argv, e2e.tmp / "agent-local.log")
    e2e.procs.append(proc)
    proc.wait_up("agent")
    http = e2e.http()
    wait_for(lambda: http.get("/marathon/v2/info")["frameworkId"], what="Marathon up")
    app = {"id": "reach", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1}
    assert http("POST", APPS, app)[0] == 201
    (task,) = wait_for(lambda: _tasks(http, "/reach"), timeout=30, what="a task")
    (address,) = task["ipAddresses"]
    assert address["ipAddress"] == "127.0.0.1"
    assert socket.gethostbyname(task["host"]) == address["ipAddress"]
    assert task["servicePorts"] and 10000 <= task["servicePorts"][0] <= 20000
