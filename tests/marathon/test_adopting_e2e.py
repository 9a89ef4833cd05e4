"""Issue 29: a new leader's Marathon takes and launches a new app while tasks it loaded
are still being adopted, and replaces none of them.

Real processes (two masters with Marathon, two agents with the native containerizer),
the real ZooKeeper. ``/held``'s task stays STAGING on agent-2 (its fetch waits on a
local HTTP server this test answers later); agent-2 is SIGSTOPped and the leader
SIGKILLed, so the new leader loads that task as staging and cannot hear of it until
agent-2 comes back (its masters give agents 30 s to re-register). Meanwhile the probe
app is POSTed (201, before: 503 until every task was heard of) and its task runs on
agent-1; then agent-2 resumes, ``/held``'s task runs: the same task, never replaced, and
``/old``'s running tasks are the same ones.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from actors.marathon._store import ZkMarathonStore
from tests.marathon._harness import Http, wait_for
from tests.marathon.test_marathon_e2e import APPS, E2E, e2e  # noqa: F401  (fixture)
from zk import StateStore

pytestmark = [pytest.mark.slow, pytest.mark.zk]

DEPLOYMENTS = "/marathon/v2/deployments"


@pytest.fixture
def held_fetch() -> Iterator[tuple[str, threading.Event]]:
    """A URI whose fetch waits until the event is set."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            release.wait(60)
            body = b"fetched\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/payload.txt", release
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def _tasks(http: Http, app_id: str) -> list[dict[str, Any]]:
    return list(http.get(f"{APPS}{app_id}")["app"]["tasks"])


def _adopting(http: Http) -> int:
    gauges = http.get("/marathon/metrics")["gauges"]
    return int(gauges["marathon.adopting.gauge"]["value"])


def test_new_leader_launches_a_new_app_while_old_tasks_are_adopting(
    e2e: E2E,  # noqa: F811
    held_fetch: tuple[str, threading.Event],
) -> None:
    uri, release = held_fetch
    e2e.master("--reregister-timeout", "30")
    e2e.master("--reregister-timeout", "30")
    e2e.agent("cpus:2;mem:1024;ports:[31000-31050]", containerizers="mesos")
    agent2 = e2e.agent("cpus:2;mem:1024;ports:[31000-31050]", containerizers="mesos")
    http = e2e.http()
    wait_for(lambda: http.get("/marathon/v2/info")["frameworkId"], what="Marathon up")
    on = {
        "agent-1": [["hostname", "LIKE", "agent-1"]],
        "agent-2": [["hostname", "LIKE", "agent-2"]],
    }
    common = {"cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "portDefinitions": []}
    old = {"id": "old", "instances": 2, "constraints": on["agent-1"], **common}
    held = {"id": "held", "instances": 1, "constraints": on["agent-2"], "fetch": [{"uri": uri}]}
    assert http("POST", APPS, old)[0] == 201
    assert http("POST", APPS, {**common, **held})[0] == 201
    old_ids = wait_for(
        lambda: (
            (t := _tasks(http, "/old"))
            and all(x["state"] == "TASK_RUNNING" for x in t)
            and len(t) == 2
            and sorted(x["id"] for x in t)
        ),
        timeout=30,
        what="/old running",
    )
    held_ids = wait_for(
        lambda: (t := _tasks(http, "/held")) and [x["id"] for x in t], what="/held staged"
    )
    assert _tasks(http, "/held")[0]["state"] != "TASK_RUNNING", "its fetch is held"
    store = ZkMarathonStore(StateStore(e2e.client, "/marathon"))
    wait_for(
        lambda: {r["state"] for r in store.load()["instances"].get("/old", [])} == {"TASK_RUNNING"},
        what="/old stored as running (only /held's task is left to adopt)",
    )

    os.kill(agent2.popen.pid, signal.SIGSTOP)
    try:
        leader = next(p for p in e2e.procs if p.http_url == e2e.leader_url())
        leader.kill9()
        wait_for(lambda: e2e.leader_url() != leader.http_url, timeout=20, what="new leader")
        http = e2e.http()
        wait_for(lambda: _adopting(http) == 1, timeout=20, what="/held's task adopting")

        probe = {"id": "probe", "instances": 1, "constraints": on["agent-1"], **common}

        def posted() -> bool:
            status, body, _ = http("POST", APPS, probe)
            assert status in (201, 503), (status, body)
            return status == 201

        wait_for(posted, timeout=20, what="the probe app accepted")
        assert _adopting(http) == 1, "accepted while /held's task was not heard of"
        assert http("GET", APPS)[0] == 503, "a view with task states still waits"
        wait_for(
            lambda: all("/probe" not in d["affectedApps"] for d in http.get(DEPLOYMENTS)),
            timeout=20,
            what="probe deployed (its task running)",
        )
        assert _adopting(http) == 1, "the probe's task runs while /held's is still adopting"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(agent2.popen.pid, signal.SIGCONT)
    release.set()
    wait_for(
        lambda: [x["state"] for x in _tasks(http, "/held")] == ["TASK_RUNNING"],
        timeout=40,
        what="/held's task running",
    )
    assert [x["id"] for x in _tasks(http, "/held")] == held_ids, "never replaced"
    assert sorted(x["id"] for x in _tasks(http, "/old")) == old_ids, "none restarted"
    probe_tasks = _tasks(http, "/probe")
    assert len(probe_tasks) == 1 and probe_tasks[0]["state"] == "TASK_RUNNING"
    assert _adopting(http) == 0
