"""Warm standby (issue 29): a standby master keeps a copy of Marathon's store and of the
agent registry, and after a SIGKILL of the leader the new leader loads both from it; an
unmodified HTTP client sees the same apps and tasks before and after, and the new leader
launches.

Real processes (two masters with Marathon, a simulated agent), the real ZooKeeper.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.marathon._harness import wait_for
from tests.marathon.test_marathon_e2e import APPS, E2E, e2e  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.zk]


def _view(http: Any) -> tuple[list[Any], list[Any]]:
    apps = sorted(
        (a["id"], a["instances"], a["version"], a["tasksRunning"]) for a in http.get(APPS)["apps"]
    )
    tasks = sorted(
        (t["id"], t["appId"], t["state"]) for t in http.get("/marathon/v2/tasks")["tasks"]
    )
    return apps, tasks


def test_new_leader_loads_from_its_warm_copy_and_serves_the_same_state(
    e2e: E2E,  # noqa: F811
) -> None:
    e2e.master()
    e2e.master()
    e2e.agent("cpus:64;mem:8192;ports:[31000-32000]")
    http = e2e.http()
    wait_for(lambda: http.get("/marathon/v2/info")["frameworkId"], what="Marathon up")
    for app_id, n in (("/warm/big", 120), ("/warm/small", 2)):  # big: two shards
        app = {"id": app_id, "cmd": "sleep 1000", "cpus": 0.01, "mem": 32, "instances": n}
        status, body, _ = http("POST", APPS, app)
        assert status == 201, body
    wait_for(lambda: http.get("/marathon/v2/deployments") == [], timeout=60, what="deployed")
    before = wait_for(
        lambda: (v := _view(http)) and len(v[1]) == 122 and v, timeout=30, what="122 tasks"
    )
    leader = next(p for p in e2e.procs if p.http_url == e2e.leader_url())
    standby = next(p for p in e2e.procs if p.name.startswith("master") and p is not leader)
    wait_for(
        lambda: "zk mirror of /marathon/docs: warm" in standby.log.read_text(errors="replace"),
        what="the standby's copy warm",
    )
    # A change after the copy was complete: the standby learns it by a watch.
    status, body, _ = http("PUT", f"{APPS}/warm/small", {"instances": 3})
    assert status == 200, body
    wait_for(lambda: http.get("/marathon/v2/deployments") == [], timeout=60, what="scaled")
    before = wait_for(
        lambda: (v := _view(http)) and len(v[1]) == 123 and v, timeout=30, what="123 tasks"
    )

    leader.kill9()
    wait_for(lambda: e2e.leader_url() == standby.http_url, timeout=20, what="new leader")
    http = e2e.http()

    def handed_over(who: str) -> bool:
        return f"{who}: warm standby hand-over" in standby.log.read_text()

    wait_for(lambda: handed_over("registry"), what="the registry's hand-over")
    wait_for(lambda: handed_over("marathon"), what="Marathon's hand-over")
    after = wait_for(lambda: (v := _view(http)) == before and v, timeout=60, what="same view")
    assert after == before
    # It launches again.
    status, body, _ = http("PUT", f"{APPS}/warm/small", {"instances": 4})
    assert status == 200, body
    wait_for(
        lambda: next(a for a in _view(http)[0] if a[0] == "/warm/small")[3] == 4,
        timeout=60,
        what="a fourth instance running",
    )
