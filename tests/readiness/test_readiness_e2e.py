"""Readiness checks end to end (issue 19): real masters and a real agent running native
tasks, real ZooKeeper, driven with the public Marathon client library (``marathon``
from PyPI, unmodified), which parses ``readinessChecks``, ``readinessCheckResults`` and
deployments' ``currentActions`` itself.

The app's tiny HTTP server answers its readiness path 503 until it is "warmed" (env
``WARM=1`` at start, or a ``GET /warm``), then 200. In order: a start deployment
finishes once its instance is ready; a rolling upgrade to a cold version launches the
new instance and keeps the old one while ``/v2/deployments`` shows the new one not
ready (last response 503); the leading master is SIGKILLed and the new leader checks
readiness again (nothing of it is stored) and still keeps the old instance; once the
new instance is warmed, the old one is killed and the deployment ends. No timing is
asserted: every wait is a condition.
"""

from __future__ import annotations

import collections
import collections.abc
import json
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.testing import wait_for
from tests.e2e.conftest import E2ECluster, http_request, module_cluster

# marathon 0.13.0 (the newest release) still names collections.Iterable, which Python 3.10
# moved to collections.abc: the old alias, as tests/compat/conftest.py gives it.
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

marathon = pytest.importorskip("marathon", reason="the public Marathon client (dev extra)")

from marathon import MarathonApp, MarathonClient  # noqa: E402
from marathon.models.app import PortDefinition, ReadinessCheck  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.zk,
    # The 2020 library calls logging's warn() and friends: its deprecations, not ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

APP = "/readiness-e2e/web"

SERVER = """
import http.server, os
warm = [os.environ.get("WARM") == "1"]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        if self.path == "/warm":
            warm[0] = True
        ok = warm[0] or self.path != "/ready"
        body = b"ready" if ok else b"warming up"
        self.send_response(200 if ok else 503)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT0"])), H).serve_forever()
"""


@pytest.fixture(scope="module")
def cluster(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    scratch = tmp_path_factory.mktemp("ready")
    resources = "cpus:2;mem:1024;disk:100;ports:[31000-31100]"
    with module_cluster(zk_hosts, scratch, ("--node-services", ""), resources) as c:
        yield c


def _client(c: E2ECluster) -> MarathonClient:
    """The library pointed at every live master, as its README shows."""
    return MarathonClient([f"{m.http_url}/marathon" for m in c.masters if m.alive], timeout=10)


def _app(warm: bool) -> MarathonApp:
    return MarathonApp(
        cmd=f"exec python3 -c '{SERVER}'",
        cpus=0.1,
        mem=32,
        instances=1,
        env={"WARM": "1" if warm else "0"},
        port_definitions=[PortDefinition(port=0, name="http-api")],
        readiness_checks=[
            ReadinessCheck(
                path="/ready",
                port_name="http-api",
                interval_seconds=2,
                timeout_seconds=1,
                preserve_last_response=True,
            )
        ],
    )


def _tasks(client: MarathonClient) -> dict[str, Any]:
    return {t.id: t for t in client.list_tasks(app_id=APP) if t.state == "TASK_RUNNING"}


def _deployments(c: E2ECluster) -> list[dict[str, Any]]:
    """``GET /v2/deployments`` as plain JSON: the library's ``list_deployments`` refuses
    pydcos' ``waitingFor`` extension on each current action (it maps every field)."""
    reply = http_request(f"{c.leader().http_url}/marathon/v2/deployments")
    assert reply.status == 200, reply.body
    deployments: list[dict[str, Any]] = reply.json()
    return deployments


def _not_ready(c: E2ECluster, task_id: str) -> dict[str, Any] | None:
    """The new instance's result in the deployment, once it says "not ready: 503"."""
    for deployment in _deployments(c):
        for action in deployment["currentActions"]:
            for result in action["readinessCheckResults"]:
                last = result.get("lastResponse") or {}
                if result["taskId"] == task_id and not result["ready"]:
                    return result if last.get("status") == 503 else None
    return None


def test_a_rolling_upgrade_waits_for_readiness_across_a_leader_failover(
    cluster: E2ECluster,
) -> None:
    leader = cluster.serving_leader()
    client = _client(cluster)

    # Marathon's validation: an unknown port name is a 422 naming the field.
    bad = http_request(
        f"{leader.http_url}/marathon/v2/apps",
        "POST",
        json.dumps(
            {
                "id": "/readiness-e2e/bad",
                "cmd": "sleep 100",
                "portDefinitions": [{"port": 0, "name": "admin"}],
                "readinessChecks": [{"portName": "http-api"}],
            }
        ).encode(),
    )
    assert bad.status == 422, bad.body
    assert "/readinessChecks/0/portName" in bad.body.decode()

    # v1 starts warm: its start deployment ends once the instance is ready.
    client.create_app(APP, _app(warm=True))
    shown = client.get_app(APP)
    assert shown.readiness_checks[0].path == "/ready"
    assert shown.readiness_checks[0].port_name == "http-api"
    wait_for(lambda: not _deployments(cluster), 60, "the start deployment to finish")
    [old] = list(_tasks(client))

    # v2 starts cold: launched, RUNNING, checked, not ready; the old instance stays.
    client.update_app(APP, _app(warm=False))

    def cold_new_task() -> str | None:
        new = [t for t in _tasks(client) if t != old]
        return new[0] if new and _not_ready(cluster, new[0]) else None

    new = wait_for(cold_new_task, 60, "the new instance running and not ready (503)")
    assert old in _tasks(client), "the old instance is killed only for a ready new one"
    embedded = client.get_app(APP, embed_readiness=True).readiness_check_results
    assert [r["ready"] for r in embedded if r["taskId"] == new] == [False]

    # The leader dies: the next one re-checks readiness (never stored) and still waits.
    os.kill(leader.pid, signal.SIGKILL)
    leader = cluster.serving_leader(timeout=60)
    client = _client(cluster)
    result = wait_for(lambda: _not_ready(cluster, new), 60, "the new leader's own check (503)")
    assert result["lastResponse"]["body"] == "warming up"
    assert set(_tasks(client)) == {old, new}

    # Warm the new instance: it turns ready, the old one is killed, the deployment ends.
    task = _tasks(client)[new]
    warmed = http_request(f"http://{task.ip_addresses[0].ip_address}:{task.ports[0]}/warm")
    assert warmed.status == 200
    wait_for(lambda: not _deployments(cluster), 60, "the upgrade to finish")
    wait_for(lambda: list(_tasks(client)) == [new], 30, "only the new instance left")
    client.delete_app(APP, force=True)
