"""The operator API on real processes: two `pydcos master`s (Marathon on the leader) and
one simulated agent. Clients: curl (SUBSCRIBE's RecordIO stream), http.client, and the
`pydcos` CLI. The last test SIGKILLs the leader: weights set through the API survive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import E2ECluster, HttpReply, Proc, http_request, wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    c = E2ECluster(zk_hosts, f"/t-{uuid.uuid4().hex[:12]}", Path(tmp_path_factory.mktemp("op")))
    try:
        c.start(masters=2, agents=1)
        c.serving_leader()
        yield c
    finally:
        c.stop_all()


def call(master: Proc, doc: dict[str, Any], path: str = "/api/v1", **kw: Any) -> HttpReply:
    return http_request(f"{master.http_url}{path}", "POST", json.dumps(doc).encode(), **kw)


class Subscriber:
    """``curl -N`` holding a SUBSCRIBE stream open; records decoded as they come."""

    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen(
            [
                "curl",
                "-sN",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                '{"type": "SUBSCRIBE"}',
                url,
            ],
            stdout=subprocess.PIPE,
        )
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            head = b""
            while not head.endswith(b"\n"):
                c = out.read(1)
                if not c:
                    return
                head += c
            record = out.read(int(head))
            with self.lock:
                self.events.append(json.loads(record))

    def seen(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.events)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


def test_reads_on_the_leader_and_a_standby_redirect(cluster: E2ECluster) -> None:
    leader = cluster.leader()
    (standby,) = cluster.standbys()
    r = call(standby, {"type": "GET_HEALTH"})
    assert r.status == 307 and r.headers["location"] == f"{leader.http_url}/api/v1"
    assert call(leader, {"type": "GET_HEALTH"}).json() == {
        "type": "GET_HEALTH",
        "get_health": {"healthy": True},
    }
    state = call(leader, {"type": "GET_STATE"}, path="/mesos/api/v1").json()["get_state"]
    (agent,) = state["get_agents"]["agents"]
    assert agent["agent_info"]["hostname"] == "agent-1" and agent["active"] is True
    names = {f["framework_info"]["name"] for f in state["get_frameworks"]["frameworks"]}
    assert "marathon" in names
    master = call(leader, {"type": "GET_MASTER"}).json()["get_master"]["master_info"]
    assert master["address"]["port"] == int(leader.http_url.rsplit(":", 1)[1])
    flags = call(leader, {"type": "GET_FLAGS"}).json()["get_flags"]["flags"]
    assert any(f["name"] == "hostname" and f["value"] == leader.name for f in flags)
    assert "version" in call(leader, {"type": "GET_VERSION"}).json()["get_version"]["version_info"]
    bad = http_request(f"{leader.http_url}/api/v1", "POST", b"{")
    assert bad.status == 400 and b"not JSON" in bad.body
    assert call(leader, {"type": "GET_LOGGING_LEVEL"}).status == 501


def test_subscribe_streams_marathons_tasks(cluster: E2ECluster) -> None:
    leader = cluster.leader()
    sub = Subscriber(f"{leader.http_url}/api/v1")
    try:
        wait_for(lambda: sub.seen(), 20, "SUBSCRIBED")
        assert sub.seen()[0]["type"] == "SUBSCRIBED"
        app = {"id": "/opweb", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1}
        r = http_request(f"{leader.http_url}/marathon/v2/apps", "POST", json.dumps(app).encode())
        assert r.status == 201, r.body

        def running_id() -> str | None:
            added = [
                e["task_added"]["task"]["task_id"]["value"]
                for e in sub.seen()
                if e["type"] == "TASK_ADDED" and e["task_added"]["task"]["name"] == "opweb"
            ]
            for e in sub.seen():
                if e["type"] == "TASK_UPDATED" and e["task_updated"]["state"] == "TASK_RUNNING":
                    tid = e["task_updated"]["status"]["task_id"]["value"]
                    if tid in added:
                        return tid
            return None

        wait_for(running_id, 30, "TASK_ADDED then TASK_UPDATED TASK_RUNNING for Marathon's task")
    finally:
        sub.close()


def test_agent_state_from_a_standby(cluster: E2ECluster) -> None:
    (standby,) = cluster.standbys()
    agent_id = cluster.get("slaves")["slaves"][0]["id"]

    def state() -> dict[str, Any] | None:
        r = http_request(f"{standby.http_url}/agent/{agent_id}/slave(1)/state")
        assert r.status == 200, r.body
        doc: dict[str, Any] = r.json()
        running = [
            t
            for f in doc["frameworks"]
            for e in f["executors"]
            for t in e["tasks"]
            if t["name"] == "opweb"
        ]
        return doc if running else None

    doc = wait_for(state, 20, "the agent's state listing Marathon's task")
    assert doc["id"] == agent_id and doc["hostname"] == "agent-1"
    (fw,) = [f for f in doc["frameworks"] if f["name"] == "marathon"]
    assert fw["executors"][0]["directory"].endswith(fw["executors"][0]["id"])
    assert http_request(f"{standby.http_url}/agent/nope/state").status == 404


def _cli(cluster: E2ECluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args, "--zk", cluster.zk, "--insecure-dev"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )


def test_service_list_and_shutdown(cluster: E2ECluster) -> None:
    r = _cli(cluster, "service", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "HOST", "ACTIVE", "TASKS", "CPU", "MEM", "DISK", "ID"]
    marathon = next(line.split() for line in lines if line.startswith("marathon"))
    assert marathon[2] == "True" and int(marathon[3]) >= 1
    listed = json.loads(_cli(cluster, "service", "list", "--json").stdout)
    assert {"marathon", "metronome"} <= {f["name"] for f in listed}

    fw = cluster.framework("doomed")
    r = _cli(cluster, "service", "shutdown", str(fw.framework_id))
    assert r.returncode == 0, r.stderr
    names = {f["name"] for f in json.loads(_cli(cluster, "service", "list", "--json").stdout)}
    assert "doomed" not in names
    r = _cli(cluster, "service", "list", "--completed")
    doomed = next(line.split() for line in r.stdout.splitlines() if line.startswith("doomed"))
    assert doomed[2] == "False" and doomed[-1] == fw.framework_id
    bad = _cli(cluster, "service", "shutdown", "no-such-framework")
    assert bad.returncode != 0 and "no-such-framework" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_v0_teardown_as_dcos_service_shutdown_sends_it(cluster: E2ECluster) -> None:
    (standby,) = cluster.standbys()
    fw = cluster.framework("doomed-v0")
    curl = ["curl", "-sL", "-o", "/dev/null", "-w", "%{http_code}", "--post301", "--post302"]
    url = f"{standby.http_url}/mesos/master/teardown"
    r = subprocess.run([*curl, "-d", f"frameworkId={fw.framework_id}", url], capture_output=True)
    assert r.stdout == b"200"
    assert "doomed-v0" not in {f["name"] for f in cluster.get("frameworks")["frameworks"]}
    r = subprocess.run([*curl, "-d", "frameworkId=nope", url], capture_output=True)
    assert r.stdout == b"400"


DCOS_LIBRARY_CLIENT = """
import json, os, sys, tempfile
url, doomed = sys.argv[1].rstrip("/"), sys.argv[2]
cfg = os.path.join(tempfile.mkdtemp(), "dcos.toml")
with open(cfg, "w") as f:
    f.write('[core]\\ndcos_url = "{}"\\nssl_verify = "false"\\n'.format(url))
os.chmod(cfg, 0o600)
os.environ["DCOS_CONFIG"] = cfg
from dcos import mesos
client = mesos.DCOSClient()
master = mesos.get_master(client)
out = {"services": sorted([f["name"], f["active"], len(f["tasks"])]
                          for f in master.frameworks(inactive=True))}
task = master.task("opweb")
out["directory"] = task.directory()
out["agent_host"] = task.slave()["hostname"]
client.shutdown_framework(doomed)
out["after"] = sorted(f["name"] for f in mesos.get_master(client).frameworks(inactive=True))
print(json.dumps(out))
"""
"""What ``dcos service``, ``dcos service shutdown`` and ``dcos task`` do, with the DC/OS
CLI's own library (dcos 0.6.1, unmodified), run by its own Python <= 3.9."""


@pytest.mark.skipif(
    not os.environ.get("PYDCOS_DCOS_PYTHON"),
    reason="the dcos 0.6.1 library needs its own Python <= 3.9 venv: set PYDCOS_DCOS_PYTHON",
)
def test_the_dcos_cli_library_lists_services_finds_sandboxes_and_shuts_down(
    cluster: E2ECluster, tmp_path: Path
) -> None:
    script = tmp_path / "dcos_mesos_client.py"
    script.write_text(DCOS_LIBRARY_CLIENT)
    fw = cluster.framework("doomed-dcos")
    (standby,) = cluster.standbys()
    run = subprocess.run(
        [os.environ["PYDCOS_DCOS_PYTHON"], str(script), standby.http_url, str(fw.framework_id)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert ["marathon", True, 1] in seen["services"]
    assert ["doomed-dcos", True, 0] in seen["services"]
    assert "/sandboxes/opweb." in seen["directory"]
    assert seen["agent_host"] == "agent-1"
    assert "doomed-dcos" not in seen["after"] and "marathon" in seen["after"]


class PymesosOperator:
    """pymesos' ``OperatorMaster``: records the callbacks its driver makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def _record(self, name: str, arg: Any) -> None:
        with self.lock:
            self.calls.append((name, arg))

    # pymesos' callback names
    def taskAdded(self, task_info: Any) -> None:
        self._record("taskAdded", task_info)

    def taskUpdated(self, task_info: Any) -> None:
        self._record("taskUpdated", task_info)

    def frameworkAdded(self, framework_info: Any) -> None:
        self._record("frameworkAdded", framework_info)

    def frameworkUpdated(self, framework_info: Any) -> None:
        self._record("frameworkUpdated", framework_info)

    def frameworkRemoved(self, framework_info: Any) -> None:
        self._record("frameworkRemoved", framework_info)

    def agentAdded(self, agent_info: Any) -> None:
        self._record("agentAdded", agent_info)

    def agentRemoved(self, agent_id: Any) -> None:
        self._record("agentRemoved", agent_id)

    def seen(self, name: str) -> list[Any]:
        with self.lock:
            return [arg for n, arg in self.calls if n == name]


def test_pymesos_operator_driver_through_a_standby(cluster: E2ECluster) -> None:
    from pymesos import MesosOperatorMasterDriver

    (standby,) = cluster.standbys()
    operator = PymesosOperator()
    driver = MesosOperatorMasterDriver(standby.http_url.removeprefix("http://"), operator)
    driver.start()
    try:
        assert driver.getHealth() == {"type": "GET_HEALTH", "get_health": {"healthy": True}}
        driver.updateWeights([{"role": "pm", "weight": 1.5}])
        infos = driver.getWeights()["get_weights"]["weight_infos"]
        assert {"role": "pm", "weight": 1.5} in infos
        fw = cluster.framework("pm-watched")
        wait_for(
            lambda: [
                f
                for f in operator.seen("frameworkAdded")
                if f["framework_info"]["name"] == "pm-watched"
            ],
            20,
            "pymesos' frameworkAdded callback",
        )
        fw.close(teardown=True)
        wait_for(
            lambda: [f for f in operator.seen("frameworkRemoved") if f["name"] == "pm-watched"],
            20,
            "pymesos' frameworkRemoved callback",
        )
    finally:
        driver.stop()


def test_weights_survive_a_leader_sigkill(cluster: E2ECluster) -> None:
    leader = cluster.leader()
    update = {
        "type": "UPDATE_WEIGHTS",
        "update_weights": {"weight_infos": [{"role": "ops", "weight": 2.5}]},
    }
    assert call(leader, update).status == 200
    bad = {
        "type": "UPDATE_WEIGHTS",
        "update_weights": {"weight_infos": [{"role": "ops", "weight": -1}]},
    }
    r = call(leader, bad)
    assert r.status == 400 and b"weight_infos[0].weight" in r.body
    leader.kill9()
    new = cluster.serving_leader()
    assert new is not leader

    def weights() -> Any:
        r = call(new, {"type": "GET_WEIGHTS"})
        return r.json()["get_weights"]["weight_infos"] if r.status == 200 else None

    assert {"weight": 2.5, "role": "ops"} in wait_for(weights, 30, "GET_WEIGHTS on the new leader")
    roles = {r["name"]: r for r in cluster.get("roles", new)["roles"]}
    assert roles["ops"]["weight"] == 2.5
    # and the stream works on the new leader too
    sub = Subscriber(f"{new.http_url}/api/v1")
    try:
        wait_for(lambda: sub.seen(), 20, "SUBSCRIBED from the new leader")
        assert sub.seen()[0]["subscribed"]["heartbeat_interval_seconds"] == 15.0
    finally:
        sub.close()


def test_agent_state_of_a_dead_agent_is_a_503_naming_it(cluster: E2ECluster) -> None:
    agent_id = cluster.get("slaves", cluster.serving_leader())["slaves"][0]["id"]
    cluster.agents[0].kill9()
    (master, *_) = [m for m in cluster.masters if m.alive]
    r = http_request(f"{master.http_url}/agent/{agent_id}/state", timeout=30)
    assert r.status in (503, 404), r.body  # 404 once the leader dropped it
    assert agent_id in r.json()["message"]
