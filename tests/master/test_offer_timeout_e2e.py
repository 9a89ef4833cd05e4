"""A framework that never answers its offers cannot starve Marathon once the master has an
offer timeout (issue 29's bad input; DC/OS runs its masters with 2mins, here 2 s).

Real processes: two ``pydcos master --offer-timeout 2`` (Marathon in the leader), two
simulated agents, real ZooKeeper; the silent framework is an UNMODIFIED pymesos scheduler
in its own process (tests/master/pymesos_silent.py, master found through ZooKeeper) that
takes every offer and never answers. Then once more after a leader SIGKILL.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.testing import wait_for
from tests._scheduler_proc import SchedulerProcess, module_cluster
from tests.e2e.conftest import E2ECluster

pytestmark = [pytest.mark.slow, pytest.mark.zk]

SILENT = Path(__file__).with_name("pymesos_silent.py")


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class SilentFramework(SchedulerProcess):
    def __init__(self, master: str) -> None:
        super().__init__(SILENT, master)

    def offered(self) -> set[str]:
        return {i for e in list(self.events) if e["event"] == "offers" for i in e["ids"]}

    def rescinded(self) -> set[str]:
        return {e["id"] for e in list(self.events) if e["event"] == "rescinded"}


@pytest.fixture(scope="module")
def cluster(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    yield from module_cluster(
        zk_hosts, tmp_path_factory, "offer-to", 2, 2, ("--offer-timeout", "2")
    )


def launches_beside(silent: SilentFramework, url: str, app_id: str) -> None:
    """Marathon runs one task of ``app_id`` while the silent framework holds offers, and
    the silent one is told some held offer was rescinded."""
    held = wait_for(lambda: silent.offered() or None, 60, "offers to the silent framework")
    body = {"id": app_id, "cmd": "sleep 600", "cpus": 0.1, "mem": 32, "instances": 1}
    status, doc = http("POST", url + "/marathon/v2/apps", body)
    assert status == 201, doc

    def running() -> Any:
        code, app = http("GET", url + "/marathon/v2/apps" + app_id)
        return (code == 200 and app["app"]["tasksRunning"] == 1) or None

    wait_for(running, 60, f"Marathon's {app_id} running beside the silent framework")
    # Its offers were taken back (RESCIND reached the unmodified pymesos client).
    wait_for(lambda: held & silent.rescinded() or None, 30, "a RESCIND of a held offer")
    status, state = http("GET", url + "/mesos/master/state")
    silent_fw = next(f for f in state["frameworks"] if f["name"] == "silent")
    assert silent_fw["tasks"] == []


def test_marathon_launches_beside_a_framework_that_never_answers_offers(
    cluster: E2ECluster,
) -> None:
    leader = cluster.serving_leader()
    status, doc = http("GET", leader.http_url + "/mesos/master/flags")
    assert status == 200 and doc["flags"]["offer_timeout"] == "2secs"
    silent = SilentFramework(f"zk://{cluster.zk}/mesos")
    try:
        launches_beside(silent, leader.http_url, "/beside-silent")
        # Once more after a leader SIGKILL: the new leader has the same timeout.
        leader.kill9()
        new = cluster.serving_leader(timeout=60)
        assert new is not leader
        status, doc = http("GET", new.http_url + "/mesos/master/flags")
        assert status == 200 and doc["flags"]["offer_timeout"] == "2secs"
        silent.events.clear()
        launches_beside(silent, new.http_url, "/beside-silent-2")
    finally:
        silent.stop()
