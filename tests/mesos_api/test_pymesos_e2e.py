"""An UNMODIFIED pymesos framework against real pydcos masters and an agent (issue 22).

One cluster for the module (2 masters, 1 native agent, real ZooKeeper); each pymesos
framework is its own process (tests/mesos_api/pymesos_app.py), so "the framework
restarts" and "the leader is SIGKILLed" are what they say. The failover test runs last.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from actors.mesos_api import Decoder
from runtime.testing import wait_for
from tests.e2e.conftest import REPO, E2ECluster, _die_with_parent

pytestmark = [pytest.mark.slow, pytest.mark.zk]

APP = Path(__file__).with_name("pymesos_app.py")
DOCS = REPO / "docs" / "frameworks.md"


class PyMesosApp:
    """One pymesos scheduler process; its events are collected as they arrive."""

    def __init__(self, master: str, name: str, framework_id: str | None = None) -> None:
        argv = [sys.executable, str(APP), master, name] + ([framework_id] if framework_id else [])
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_die_with_parent,
        )
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def wait(
        self, pred: Callable[[dict[str, Any]], bool], what: str, timeout: float = 30.0
    ) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"pymesos app exited: {''.join(self.stderr)[-2000:]}")
            return next((e for e in list(self.events) if pred(e)), None)

        try:
            return wait_for(found, timeout, what, retry_errors=False)
        except Exception as exc:
            raise AssertionError(
                f"{exc}; events {self.events[-10:]}; stderr {''.join(self.stderr)[-1500:]}"
            ) from None

    def state(
        self, task_id: str, state: str, timeout: float = 30.0, after: int = 0
    ) -> dict[str, Any]:
        return self.wait(
            lambda e: (
                e in self.events[after:]
                and e.get("event") == "update"
                and e["task_id"] == task_id
                and e["state"] == state
            ),
            f"{task_id} {state}",
            timeout,
        )

    def registered(self) -> str:
        e = self.wait(lambda e: e.get("event") in ("registered", "reregistered"), "subscription")
        return str(e["framework_id"])

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.send(stop=True)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def call(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST ``body`` with exactly ``headers``; the status and the body's text."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "", u.port or 80, timeout=10)
    try:
        conn.request("POST", u.path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def hostport(url: str) -> str:
    return urlsplit(url).netloc


@pytest.fixture(scope="module")
def cluster(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    c = E2ECluster(zk_hosts, f"/t-{uuid.uuid4().hex[:12]}", tmp_path_factory.mktemp("mesos-api"))
    try:
        c.start(masters=2, agents=1, containerizers="mesos")
        yield c
    finally:
        c.stop_all()


@pytest.fixture
def apps(request: pytest.FixtureRequest, cluster: E2ECluster) -> Iterator[list[PyMesosApp]]:
    request.node._e2e_cluster = cluster  # failed tests get the process logs
    made: list[PyMesosApp] = []
    yield made
    for app in made:
        app.stop()


def test_pymesos_follows_a_standby_redirect_and_runs_ten_tasks_to_finished(
    cluster: E2ECluster, apps: list[PyMesosApp]
) -> None:
    standby = cluster.standbys()[0]
    app = PyMesosApp(hostport(standby.http_url), "ten")  # 307 -> the leader
    apps.append(app)
    fid = app.registered()
    ids = [f"echo-{i}" for i in range(10)]
    app.send(launch=[{"id": t, "cmd": f"echo {t}"} for t in ids])
    for t in ids:
        app.state(t, "TASK_FINISHED", timeout=60)
    actor_fw = cluster.framework("actor-driven")  # pydcos' own driver, same allocator
    state = cluster.get("state")
    mine = [f for f in state["frameworks"] if f["id"] == fid]
    assert mine and mine[0]["name"] == "ten"
    assert actor_fw.framework_id in {f["id"] for f in state["frameworks"]}
    actor_fw.close(teardown=True)  # give back the offers it holds
    done = [
        t
        for f in state["completed_frameworks"] + state["frameworks"]
        for t in f.get("completed_tasks", [])
    ]
    assert {t["id"] for t in done if t["framework_id"] == fid} >= set(ids)


def test_a_task_killed_through_kill_ends_killed(
    cluster: E2ECluster, apps: list[PyMesosApp]
) -> None:
    app = PyMesosApp(hostport(cluster.serving_leader().http_url), "killer")
    apps.append(app)
    app.registered()
    app.send(launch=[{"id": "sleeper", "cmd": "sleep 300"}])
    app.state("sleeper", "TASK_RUNNING")
    app.send(kill="sleeper")
    app.state("sleeper", "TASK_KILLED")


def test_a_restarted_framework_reconciles_its_running_task(
    cluster: E2ECluster, apps: list[PyMesosApp]
) -> None:
    leader = hostport(cluster.serving_leader().http_url)
    first = PyMesosApp(leader, "phoenix")
    apps.append(first)
    fid = first.registered()
    first.send(launch=[{"id": "long", "cmd": "sleep 300"}])
    first.state("long", "TASK_RUNNING")
    first.stop()  # failover: the task lives on

    second = PyMesosApp(leader, "phoenix", framework_id=fid)
    apps.append(second)
    second.wait(lambda e: e.get("event") == "reregistered", "re-subscription with the same id")
    second.send(reconcile=["long", "never-launched"])
    got = second.state("long", "TASK_RUNNING")
    assert got["source"] == "SOURCE_MASTER" and got["reason"] == "REASON_RECONCILIATION"
    assert not got["has_uuid"]  # master-made answers need no acknowledgement
    second.state("never-launched", "TASK_UNKNOWN")
    mark = len(second.events)
    second.send(reconcile=[])  # implicit: every task the master knows of this framework
    second.state("long", "TASK_RUNNING", after=mark)
    second.send(kill="long")
    second.state("long", "TASK_KILLED")


def test_the_frameworks_md_example_runs_as_written(cluster: E2ECluster, tmp_path: Path) -> None:
    text = DOCS.read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None, "docs/frameworks.md has no python block"
    script = tmp_path / "framework.py"
    script.write_text(code.group(1))
    leader = hostport(cluster.serving_leader().http_url)
    run = subprocess.run(
        [sys.executable, str(script), leader],
        capture_output=True,
        text=True,
        timeout=90,
        preexec_fn=_die_with_parent,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("TASK_FINISHED") == 3, run.stdout


def test_bad_calls_get_4xx_naming_the_field(cluster: E2ECluster) -> None:
    url = cluster.serving_leader().http_url + "/api/v1/scheduler"
    json_h = {"Content-Type": "application/json"}

    def post(body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        return call(url, body, headers)

    status, text = post(b"\x00garbage", {"Content-Type": "application/x-protobuf"})
    assert status == 415 and "application/json" in text
    status, text = post(b"17\n{garbage", json_h)
    assert status == 400 and "body" in text
    status, text = post(b"[" * 100_000, json_h)  # nesting too deep to parse: still a 400
    assert status == 400 and "body" in text
    revive = json.dumps({"type": "REVIVE", "framework_id": {"value": "nope"}}).encode()
    status, text = post(revive, json_h)
    assert status == 400 and "Mesos-Stream-Id" in text
    status, text = post(revive, {**json_h, "Mesos-Stream-Id": "forged"})
    assert status == 403 and "Mesos-Stream-Id" in text
    # A 10 MB body is refused from its Content-Length, before the master reads it.
    u = urlsplit(url)
    with socket.create_connection((u.hostname or "", u.port or 80), timeout=10) as s:
        s.sendall(
            f"POST {u.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10 * 1024 * 1024}\r\n\r\n{{".encode()
        )
        head = s.recv(4096).decode(errors="replace")
    assert head.startswith("HTTP/1.1 413") and "limit" in head, head
    sub = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "x"}}}
    status, text = post(json.dumps(sub).encode(), json_h)
    assert status == 400 and "framework_info.name" in text
    # Counted on the leader's /metrics (read with Prometheus' own parser).
    from prometheus_client.parser import text_string_to_metric_families

    leader_metrics = urlsplit(url)._replace(path="/metrics").geturl()
    with urllib.request.urlopen(leader_metrics, timeout=10) as r:
        families = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    counted = {
        (s.labels["call"], s.labels["code"]): s.value
        for s in families["pydcos_mesos_api_calls"].samples
        if s.name.endswith("_total")
    }
    assert counted[("REVIVE", "400")] >= 1 and counted[("REVIVE", "403")] >= 1
    assert counted[("SUBSCRIBE", "400")] >= 1
    assert "pydcos_mesos_api_streams" in families


class RawScheduler:
    """A bare v1 client (http.client + RecordIO), for what pymesos never sends."""

    def __init__(self, url: str, info: dict[str, Any]) -> None:
        self.url = url
        u = urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname or "", u.port or 80, timeout=30)
        body = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}})
        self.conn.request("POST", u.path, body=body, headers={"Content-Type": "application/json"})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.read()
        self.stream_id = self.resp.getheader("Mesos-Stream-Id") or ""
        self.events: list[dict[str, Any]] = []
        self.framework_id = ""
        self.ended = False
        threading.Thread(target=self._read, daemon=True).start()
        sub = self.wait("SUBSCRIBED")
        self.framework_id = sub["subscribed"]["framework_id"]["value"]

    def _read(self) -> None:
        decoder = Decoder()
        self.ended = False
        with contextlib.suppress(Exception):
            while chunk := self.resp.read1(65536):
                for record in decoder.feed(chunk):
                    event = json.loads(record)
                    self.events.append(event)
                    status = event.get("update", {}).get("status", {})
                    if "uuid" in status:  # the agent sends the next update after this one's ack
                        ack = {k: status[k] for k in ("agent_id", "task_id", "uuid")}
                        self.call("ACKNOWLEDGE", acknowledge=ack)
        self.ended = True

    def wait(
        self, kind: str, pred: Callable[[dict[str, Any]], bool] = lambda e: True
    ) -> dict[str, Any]:
        return wait_for(
            lambda: next((e for e in list(self.events) if e["type"] == kind and pred(e)), None),
            30,
            f"a {kind} event",
        )

    def offer(self) -> dict[str, Any]:
        event = self.wait("OFFERS")
        self.events.remove(event)
        offer: dict[str, Any] = event["offers"]["offers"][0]
        return offer

    def call(self, kind: str, **payload: Any) -> tuple[int, str]:
        doc = {"type": kind, "framework_id": {"value": self.framework_id}, **payload}
        headers = {"Content-Type": "application/json", "Mesos-Stream-Id": self.stream_id}
        return call(self.url, json.dumps(doc).encode(), headers)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.conn.sock is not None:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


def task(task_id: str | None, agent_id: str, cpus: float = 0.1, **extra: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "name": "raw",
        "agent_id": {"value": agent_id},
        "command": {"value": "sleep 300"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
        **extra,
    }
    if task_id is not None:
        t["task_id"] = {"value": task_id}
    return t


def launch(offer: dict[str, Any], *tasks: dict[str, Any], op: str = "LAUNCH") -> dict[str, Any]:
    key = "launch" if op == "LAUNCH" else "launch_group"
    body = {"task_infos": list(tasks)} if op == "LAUNCH" else {"task_group": {"tasks": list(tasks)}}
    return {"accept": {"offer_ids": [offer["id"]], "operations": [{"type": op, key: body}]}}


def test_launch_group_runs_a_task_group_and_kills_it_as_a_whole(cluster: E2ECluster) -> None:
    """Mesos' LAUNCH_GROUP (default executor): both members run; killing one kills the
    group (the other member ends too), each member reported as a task."""
    url = cluster.serving_leader().http_url + "/api/v1/scheduler"
    a = RawScheduler(url, {"name": "raw-group", "user": "root", "failover_timeout": 0})
    try:
        offer = a.offer()
        agent = offer["agent_id"]["value"]
        payload = launch(offer, task("g1.a", agent), task("g1.b", agent), op="LAUNCH_GROUP")
        payload["accept"]["operations"][0]["launch_group"]["executor"] = {
            "executor_id": {"value": "g1"},
            "framework_id": {"value": a.framework_id},
            "type": "DEFAULT",
        }
        assert a.call("ACCEPT", **payload) == (202, "")
        for tid in ("g1.a", "g1.b"):
            a.wait(
                "UPDATE",
                lambda e, t=tid: (
                    e["update"]["status"]["task_id"]["value"] == t
                    and e["update"]["status"]["state"] == "TASK_RUNNING"
                ),
            )
        assert a.call("KILL", kill={"task_id": {"value": "g1.a"}}) == (202, "")
        for tid in ("g1.a", "g1.b"):
            a.wait(
                "UPDATE",
                lambda e, t=tid: (
                    e["update"]["status"]["task_id"]["value"] == t
                    and e["update"]["status"]["state"] == "TASK_KILLED"
                ),
            )
        assert a.call("TEARDOWN") == (202, "")
    finally:
        a.close()


def test_invalid_accepts_get_400_naming_the_field_and_launch_nothing(cluster: E2ECluster) -> None:
    url = cluster.serving_leader().http_url + "/api/v1/scheduler"
    a = RawScheduler(url, {"name": "raw-a", "user": "root", "failover_timeout": 0})
    offer = a.offer()  # before b subscribes: the agent's free resources are a's
    b = RawScheduler(url, {"name": "raw-b", "user": "root", "failover_timeout": 0})
    try:
        agent = offer["agent_id"]["value"]
        assert {r["name"] for r in offer["resources"]} >= {"cpus", "mem", "ports"}
        ports = next(r for r in offer["resources"] if r["name"] == "ports")
        assert ports["type"] == "RANGES" and ports["ranges"]["range"][0]["begin"] >= 31000
        cases = [
            (b, launch(offer, task("x1", agent)), "is not outstanding for framework"),
            (a, launch(offer, task(None, agent)), "task_infos[0].task_id"),
            (a, launch(offer, task("x2", agent, cpus=-1)), "resources[0].scalar.value"),
            (a, launch(offer, task("x3", agent, cpus=1000)), "exceed what is left of the offers"),
            (a, launch(offer, task("x4", "no-such-agent")), "task_infos[0].agent_id"),
            (
                a,
                launch(offer, task("x5", agent, container={"type": "RKT"})),
                "container.type",
            ),
            (a, launch(offer, task("x6", agent), op="LAUNCH_GROUP"), "launch_group.executor"),
            (a, {"accept": {"offer_ids": [{"value": "made-up"}], "operations": []}}, "made-up"),
        ]
        for who, payload, field in cases:
            status, text = who.call("ACCEPT", **payload)
            assert status == 400 and field in text, (field, status, text)
        # The stream lives on, and the offer is still good for a valid launch.
        assert a.call("ACCEPT", **launch(offer, task("good", agent))) == (202, "")
        up = a.wait("UPDATE", lambda e: e["update"]["status"]["state"] == "TASK_RUNNING")
        assert up["update"]["status"]["task_id"]["value"] == "good"
        status, text = a.call("ACCEPT", **launch(offer, task("again", agent)))
        assert status == 400 and "already used" in text  # the offer was consumed
        launched = {
            t["id"] for t in cluster.tasks().values() if t["framework_id"] == a.framework_id
        }
        assert launched == {"good"}
        assert b.call("REVIVE") == (202, "")  # the other framework was never disturbed
        assert a.call("TEARDOWN") == (202, "")
    finally:
        a.close()
        b.close()


def test_a_broken_stream_disconnects_the_framework_and_rescinds_its_offers(
    cluster: E2ECluster,
) -> None:
    url = cluster.serving_leader().http_url + "/mesos/api/v1/scheduler"
    info = {"name": "breaker", "user": "root", "failover_timeout": 60}
    first = RawScheduler(url, info)
    first.offer()
    fid = first.framework_id
    first.close()

    def disconnected() -> dict[str, Any] | None:
        fws = {f["id"]: f for f in cluster.get("frameworks")["frameworks"]}
        fw = fws.get(fid)
        return fw if fw is not None and not fw["active"] and not fw["offers"] else None

    wait_for(disconnected, 20, "the framework disconnected with no offers")
    again = RawScheduler(url, {**info, "id": {"value": fid}})
    try:
        assert again.framework_id == fid
        again.offer()  # offers flow to the re-subscribed framework
        assert again.call("TEARDOWN") == (202, "")
    finally:
        again.close()


def test_shutdown_update_framework_message_and_request_calls(cluster: E2ECluster) -> None:
    url = cluster.serving_leader().http_url + "/api/v1/scheduler"
    fw = RawScheduler(url, {"name": "caller", "user": "root", "roles": ["*"]})
    try:
        offer = fw.offer()
        agent = offer["agent_id"]["value"]
        assert fw.call("ACCEPT", **launch(offer, task("svc", agent))) == (202, "")
        fw.wait("UPDATE", lambda e: e["update"]["status"]["state"] == "TASK_RUNNING")
        data = {"agent_id": {"value": agent}, "executor_id": {"value": "svc"}, "data": "aGk="}
        assert fw.call("MESSAGE", message=data) == (202, "")
        status, text = fw.call("MESSAGE", message={**data, "data": "not base64!"})
        assert status == 400 and "message.data" in text
        assert fw.call("REQUEST", request={"requests": []}) == (202, "")
        status, text = fw.call("LAUNCH_EVERYTHING")
        assert status == 400 and "type" in text
        # UPDATE_FRAMEWORK: a new name, seen by the master; the held offers are rescinded.
        assert fw.call("REVIVE") == (202, "")
        held = fw.offer()
        info = {"name": "caller-renamed", "user": "root", "id": {"value": fw.framework_id}}
        assert fw.call("UPDATE_FRAMEWORK", update_framework={"framework_info": info}) == (202, "")
        fw.wait("RESCIND", lambda e: e["rescind"]["offer_id"] == held["id"])
        wait_for(
            lambda: any(
                f["name"] == "caller-renamed" for f in cluster.get("frameworks")["frameworks"]
            ),
            20,
            "the new name in /mesos/master/frameworks",
        )
        # SHUTDOWN of the task's executor (pydcos: the task is its own executor) kills it.
        shutdown = {"agent_id": {"value": agent}, "executor_id": {"value": "svc"}}
        assert fw.call("SHUTDOWN", shutdown=shutdown) == (202, "")
        fw.wait("UPDATE", lambda e: e["update"]["status"]["state"] == "TASK_KILLED")
        assert fw.call("TEARDOWN") == (202, "")
    finally:
        fw.close()


def test_an_operator_teardown_ends_the_framework_with_an_error_event(cluster: E2ECluster) -> None:
    leader = cluster.serving_leader().http_url
    fw = RawScheduler(leader + "/api/v1/scheduler", {"name": "doomed", "user": "root"})
    try:
        teardown = {"type": "TEARDOWN", "teardown": {"framework_id": {"value": fw.framework_id}}}
        status, text = call(
            leader + "/api/v1", json.dumps(teardown).encode(), {"Content-Type": "application/json"}
        )
        assert status in (200, 202), text
        error = fw.wait("ERROR")
        assert "has been removed" in error["error"]["message"]
        wait_for(lambda: fw.ended, 10, "the stream to end")
    finally:
        fw.close()


def test_pymesos_follows_a_master_failover_and_keeps_its_tasks(
    cluster: E2ECluster, apps: list[PyMesosApp]
) -> None:
    app = PyMesosApp(f"zk://{cluster.zk}/mesos", "survivor")
    apps.append(app)
    fid = app.registered()
    app.send(launch=[{"id": "keeper", "cmd": "sleep 300"}])
    app.state("keeper", "TASK_RUNNING")
    old = cluster.serving_leader()
    old.kill9()
    new = cluster.serving_leader(timeout=60)
    assert new is not old
    app.wait(lambda e: e.get("event") == "reregistered", "re-subscription to the new leader", 60)
    mark = len(app.events)
    app.send(reconcile=["keeper"])
    app.state("keeper", "TASK_RUNNING", after=mark)
    app.send(launch=[{"id": "after", "cmd": "echo after"}])
    app.state("after", "TASK_FINISHED", timeout=60)
    assert fid in {f["id"] for f in cluster.get("frameworks", new)["frameworks"]}


def _cgroup_file(cluster: E2ECluster, task_id: str, v2: str, v1: tuple[str, str]) -> str:
    """A limit file of a native task's cgroup, read from the kernel (v2 or v1 layout)."""
    from actors.agent import CGROUP_ROOT

    if (CGROUP_ROOT / "cgroup.controllers").exists():
        path = CGROUP_ROOT / cluster.cgroup_root / task_id / v2
    else:
        path = CGROUP_ROOT / v1[0] / cluster.cgroup_root / task_id / v1[1]
    return path.read_text().strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="task cgroups need root")
def test_task_limits_from_pymesos_set_the_tasks_cgroup(
    cluster: E2ECluster, apps: list[PyMesosApp]
) -> None:
    """Mesos 1.9+ ``TaskInfo.limits`` through pymesos: an unlimited cpus limit leaves the
    task without a CFS quota, a numeric mem limit is its memory limit; the request (0.1
    cpus, 32 MB) is what the offer is charged."""
    app = PyMesosApp(hostport(cluster.serving_leader().http_url), "bursty")
    apps.append(app)
    app.registered()
    limits = {"cpus": {"value": "Infinity"}, "mem": {"value": 64}}
    app.send(launch=[{"id": "burst", "cmd": "sleep 300", "limits": limits}])
    app.state("burst", "TASK_RUNNING")
    quota = _cgroup_file(cluster, "burst", "cpu.max", ("cpu", "cpu.cfs_quota_us"))
    mem = _cgroup_file(cluster, "burst", "memory.max", ("memory", "memory.limit_in_bytes"))
    assert quota in ("-1", "max 100000"), quota
    assert int(mem) == 64 * 1024 * 1024
    app.send(kill="burst")
    app.state("burst", "TASK_KILLED")
