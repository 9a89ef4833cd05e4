"""A public Marathon client library (``marathon`` 0.13.0 from PyPI, unmodified) and a
generic SSE client (``sseclient-py``) against a real ``pydcos cluster up`` cluster.

The library maps every JSON field to a constructor argument, so one field that Marathon
does not send (an ``agentId`` on a task, say) fails the whole call: these tests are the
check that our shapes are Marathon's, not our reading of them. Each test reads like what
a user of that library does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, services_available

marathon = pytest.importorskip("marathon", reason="the public Marathon client (dev extra)")
sseclient = pytest.importorskip("sseclient", reason="sseclient-py (dev extra)")

from marathon import MarathonApp, MarathonClient  # noqa: E402
from marathon.models.app import MarathonHealthCheck  # noqa: E402
from marathon.models.task import MarathonTask  # noqa: E402

_why = services_available()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_why is not None, reason=_why or ""),
    # The 2020 library calls logging's warn() and friends: its deprecations, not ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def _masters(cluster: LocalCluster) -> list[dict[str, Any]]:
    return [p for p in cluster.record()["processes"] if p["kind"] == "master"]


def _leader_url(cluster: LocalCluster) -> str:
    """The leader's base URL, found as a client does: /mesos/master/redirect on any master."""

    def ask() -> str | None:
        for m in _masters(cluster):
            try:
                r = requests.get(
                    f"{m['http_url']}/mesos/master/redirect", allow_redirects=False, timeout=3
                )
            except requests.RequestException:
                continue
            loc = urlsplit(r.headers.get("Location", ""))
            if r.status_code in (307, 302) and loc.netloc:
                return f"http://{loc.netloc}"  # Mesos answers //host:port
        return None

    return str(wait_for(ask, timeout=60, what="a leading master"))


@pytest.fixture(scope="module")
def client(local_cluster: LocalCluster) -> MarathonClient:
    """The library pointed at every master, as its README shows (standbys redirect)."""
    urls = [f"{m['http_url']}/marathon" for m in _masters(local_cluster)]
    return MarathonClient(urls, timeout=15)


@pytest.fixture
def app_id() -> Iterator[str]:
    yield f"/compat-{uuid.uuid4().hex[:8]}"


def _running(client: MarathonClient, app_id: str, n: int) -> list[MarathonTask]:
    tasks = client.list_tasks(app_id=app_id)
    running = [t for t in tasks if t.state == "TASK_RUNNING"]
    return running if len(running) == n else []


def _healthy_count(client: MarathonClient, app_id: str) -> int:
    return int(client.get_app(app_id, embed_counts=True).tasks_healthy or 0)


def _no_deployments(client: MarathonClient, app_id: str) -> bool:
    return not [d for d in client.list_deployments() if app_id in d.affected_apps]


def test_app_lifecycle_through_the_marathon_library(client: MarathonClient, app_id: str) -> None:
    app = MarathonApp(
        cmd="sleep 1000",
        cpus=0.1,
        mem=32,
        instances=1,
        health_checks=[
            MarathonHealthCheck(
                protocol="COMMAND",
                command="true",
                grace_period_seconds=30,
                interval_seconds=2,
                timeout_seconds=1,
                max_consecutive_failures=3,
            )
        ],
    )
    created = client.create_app(app_id, app)
    assert created.id == app_id and created.instances == 1
    assert any(a.id == app_id for a in client.list_apps())

    tasks = wait_for(lambda: _running(client, app_id, 1), timeout=60, what="1 running task")
    task = tasks[0]
    assert task.app_id == app_id and task.slave_id and task.staged_at and task.started_at
    assert task.ip_addresses and task.ip_addresses[0].ip_address

    def healthy() -> bool:
        t = client.list_tasks(app_id=app_id)
        return bool(t) and all(r.alive for x in t for r in x.health_check_results)

    wait_for(healthy, timeout=60, what="health check results")
    wait_for(lambda: _no_deployments(client, app_id), timeout=60, what="the first deployment")

    # scale_app sends PUT /v2/apps/{id} with {"instances": 3}: Marathon's partial update.
    deployment = client.scale_app(app_id, instances=3)
    assert deployment  # the library returns the deployment id/version document
    wait_for(lambda: _running(client, app_id, 3), timeout=60, what="3 running tasks")
    wait_for(lambda: _no_deployments(client, app_id), timeout=60, what="the deployment done")
    got = client.get_app(app_id, embed_tasks=True, embed_counts=True)
    assert got.instances == 3 and got.tasks_running == 3 and len(got.tasks) == 3

    # Kill one task with scale=false: Marathon replaces it.
    victim = client.list_tasks(app_id=app_id)[0]
    client.kill_task(app_id, victim.id)

    def replaced() -> bool:
        # 3 running and the victim no longer listed at all: while its kill is under
        # way it is still listed (TASK_KILLING), and the two listings below would race
        # its last update (seen once in CI, 2026-12-07)
        ids = {t.id for t in _running(client, app_id, 3)}
        return bool(ids) and victim.id not in {t.id for t in client.list_tasks(app_id=app_id)}

    wait_for(replaced, timeout=60, what="the killed task replaced and gone")

    # Every task listing the library has: all tasks, and per app.
    assert {t.id for t in client.list_tasks() if t.app_id == app_id} == {
        t.id for t in client.list_tasks(app_id=app_id)
    }
    assert client.list_versions(app_id)
    info = client.get_info()
    assert info.name and info.version
    client.list_queue()
    client.get_group("/")

    client.delete_app(app_id, force=True)

    def gone() -> bool:
        return all(a.id != app_id for a in client.list_apps())

    wait_for(gone, timeout=60, what="the app gone")


def test_a_deployment_in_progress_parses_in_the_library(
    client: MarathonClient, app_id: str
) -> None:
    """A deployment that waits (no agent matches the constraint) is listed while it runs:
    the library maps every field of a deployment and of its current actions, so any
    pydcos extension there (``waitingFor``) must stay opt-in."""
    app = MarathonApp(
        cmd="sleep 1000",
        cpus=0.1,
        mem=32,
        instances=1,
        constraints=[("hostname", "LIKE", "no-such-host")],
    )
    client.create_app(app_id, app)

    def listed() -> list[Any]:
        return [d for d in client.list_deployments() if app_id in d.affected_apps]

    deployments = wait_for(listed, timeout=30, what="the waiting deployment listed")
    actions = deployments[0].current_actions
    assert actions and actions[0].app == app_id and actions[0].action == "StartApplication"
    client.delete_app(app_id, force=True)
    wait_for(lambda: all(a.id != app_id for a in client.list_apps()), what="the app gone")


def _collect_events(url: str, sink: list[dict[str, Any]], stop: threading.Event) -> None:
    with contextlib.suppress(Exception):
        resp = requests.get(url, stream=True, headers={"Accept": "text/event-stream"}, timeout=60)
        for event in sseclient.SSEClient(resp).events():
            sink.append({"event": event.event, "data": json.loads(event.data)})
            if stop.is_set():
                resp.close()
                return


def test_event_stream_read_by_a_generic_sse_client(
    local_cluster: LocalCluster, client: MarathonClient, app_id: str
) -> None:
    leader = _leader_url(local_cluster)
    events: list[dict[str, Any]] = []
    stop = threading.Event()
    reader = threading.Thread(
        target=_collect_events, args=(f"{leader}/marathon/v2/events", events, stop), daemon=True
    )
    reader.start()
    wait_for(
        lambda: any(e["event"] == "event_stream_attached" for e in events),
        timeout=30,
        what="event_stream_attached",
    )
    client.create_app(app_id, MarathonApp(cmd="sleep 1000", cpus=0.1, mem=32, instances=1))

    def seen(kind: str) -> bool:
        return any(
            e["event"] == kind and e["data"].get("appId") == app_id
            for e in events
            if isinstance(e["data"], dict)
        )

    wait_for(lambda: seen("status_update_event"), timeout=60, what="a status_update_event")
    stop.set()
    for e in events:
        # SSE's event name and the JSON's eventType agree, as Marathon sends them.
        assert e["data"]["eventType"] == e["event"]
        assert "timestamp" in e["data"]
    client.delete_app(app_id, force=True)
    wait_for(lambda: all(a.id != app_id for a in client.list_apps()), timeout=60, what="gone")


def test_the_librarys_own_event_stream_parses_every_event(
    local_cluster: LocalCluster, client: MarathonClient, app_id: str
) -> None:
    """MarathonClient.event_stream() raises on an event type or field it does not know."""
    got: list[Any] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            for ev in client.event_stream(
                event_types=["status_update_event", "deployment_success", "api_post_event"]
            ):
                got.append(ev)
                if stop.is_set():
                    return
        except Exception as exc:  # the library raises on what it cannot parse
            errors.append(exc)

    threading.Thread(target=read, daemon=True).start()
    client.create_app(app_id, MarathonApp(cmd="sleep 1000", cpus=0.1, mem=32, instances=1))

    def running_event() -> bool:
        assert not errors, f"the library's event reader failed: {errors[0]!r}"
        return any(
            type(e).__name__ == "MarathonStatusUpdateEvent"
            and e.app_id == app_id
            and e.task_status == "TASK_RUNNING"
            for e in got
        )

    wait_for(running_event, timeout=60, what="TASK_RUNNING parsed by the library")
    stop.set()
    assert not errors
    client.delete_app(app_id, force=True)
    wait_for(lambda: all(a.id != app_id for a in client.list_apps()), timeout=60, what="gone")


def test_the_library_keeps_working_after_a_leader_sigkill(
    local_cluster: LocalCluster, client: MarathonClient, app_id: str
) -> None:
    check = MarathonHealthCheck(
        protocol="COMMAND", command="true", interval_seconds=2, timeout_seconds=1
    )
    client.create_app(
        app_id,
        MarathonApp(cmd="sleep 1000", cpus=0.1, mem=32, instances=2, health_checks=[check]),
    )
    before = {t.id for t in wait_for(lambda: _running(client, app_id, 2), timeout=60, what="2")}
    wait_for(lambda: _healthy_count(client, app_id) == 2, timeout=60, what="2 healthy")
    wait_for(lambda: _no_deployments(client, app_id), timeout=60, what="the deployment done")
    leader = _leader_url(local_cluster)
    pid = next(m["pid"] for m in _masters(local_cluster) if m["http_url"].rstrip("/") == leader)
    os.kill(pid, signal.SIGKILL)

    def same_tasks() -> bool:
        return {t.id for t in _running(client, app_id, 2)} == before

    wait_for(same_tasks, timeout=90, what="the same 2 tasks listed by the new leader")
    # Health is adopted with the tasks (it was lost for good on failover once).
    wait_for(lambda: _healthy_count(client, app_id) == 2, timeout=60, what="health adopted")
    client.scale_app(app_id, instances=1)
    wait_for(lambda: _running(client, app_id, 1), timeout=60, what="scaled to 1 after failover")
    client.delete_app(app_id, force=True)
    wait_for(lambda: all(a.id != app_id for a in client.list_apps()), timeout=60, what="gone")


def test_resource_limits_round_trip_through_the_library(
    client: MarathonClient, local_cluster: LocalCluster, app_id: str
) -> None:
    """Marathon 1.10's ``resourceLimits`` as the library writes it (every attribute,
    camelCased), kept by its partial update (update_app), launched without a CFS quota.
    The library (0.13) predates Marathon 1.10: its MarathonApp has no resource_limits
    argument, so it cannot parse an app answer that carries the field (create_app's and
    get_app's reply), as against Marathon 1.10 itself; the raw answers are read here."""
    app = MarathonApp(cmd="sleep 1000", cpus=0.1, mem=32, instances=1)
    app.resource_limits = {"cpus": "unlimited", "mem": 64}
    with pytest.raises(TypeError, match="resource_limits"):
        client.create_app(app_id, app)  # POSTed; the reply does not parse in 0.13
    url = f"{_leader_url(local_cluster)}/marathon/v2/apps{app_id}"
    got = requests.get(url, timeout=10).json()["app"]
    assert got["resourceLimits"] == {"cpus": "unlimited", "mem": 64}
    assert (got["cpus"], got["mem"]) == (0.1, 32)  # what is reserved

    # update_app PUTs the minimal JSON {"instances": 2}: Marathon's partial update (its
    # scale_app reads the app first, which 0.13 cannot parse).
    assert client.update_app(app_id, MarathonApp(instances=2), force=True)
    tasks = wait_for(lambda: _running(client, app_id, 2), timeout=60, what="2 running tasks")
    assert requests.get(url, timeout=10).json()["app"]["resourceLimits"]["cpus"] == "unlimited"

    bad = requests.put(url, json={"resourceLimits": {"cpus": 0.05}}, timeout=10)
    assert bad.status_code == 422, bad.text
    assert bad.json()["details"][0]["path"] == "/resourceLimits/cpus"

    if os.geteuid() == 0:  # each task's cgroup, from the kernel: no quota, mem limit 64 MB
        for t in tasks:
            v1 = list(Path("/sys/fs/cgroup/cpu").glob(f"*/{t.id}/cpu.cfs_quota_us"))
            v2 = list(Path("/sys/fs/cgroup").glob(f"*/{t.id}/cpu.max"))
            assert [f.read_text().split()[0] for f in v1 + v2] in (["-1"], ["max"]), t.id
    client.delete_app(app_id, force=True)
