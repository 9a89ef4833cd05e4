"""Reservations, volumes and quota on real processes (issue 23, the master's side).

One cluster for the module (2 masters, 1 agent, real ZooKeeper); the frameworks are
UNMODIFIED pymesos schedulers in their own processes (tests/storage/role_app.py); the
operator endpoints are called the way ``curl -d`` calls them (form-encoded, Mesos' v0
shapes). The leader SIGKILL runs last.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.testing import wait_for
from tests._scheduler_proc import SchedulerProcess, module_cluster
from tests.e2e.conftest import E2ECluster

pytestmark = [pytest.mark.slow, pytest.mark.zk]

APP = Path(__file__).with_name("role_app.py")


def scalar(name: str, value: float, role: str = "web", **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"name": name, "type": "SCALAR", "scalar": {"value": value}}
    r["reservations"] = [{"type": "DYNAMIC", "role": role, "principal": "ops"}]
    r.update(extra)
    return r


VOLUME = scalar(
    "disk",
    100,
    disk={"persistence": {"id": "pgdata"}, "volume": {"container_path": "data", "mode": "RW"}},
)


class RoleApp(SchedulerProcess):
    """One pymesos scheduler process in one role."""

    def __init__(self, master: str, name: str, role: str) -> None:
        super().__init__(APP, master, name, role, "ops")

    def offers_after(self, mark: int) -> list[dict[str, Any]]:
        return [e for e in self.events[mark:] if e.get("event") == "offer"]

    def wait(self, pred: Callable[[dict[str, Any]], bool], what: str, mark: int = 0) -> Any:
        def found() -> Any:
            return next((e for e in list(self.events[mark:]) if pred(e)), None)

        return wait_for(found, 30.0, what)


def post_form(url: str, **fields: Any) -> tuple[int, str]:
    """What ``curl -d slaveId=...&resources=<json>`` sends."""
    data = urllib.parse.urlencode(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    ).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def request(url: str, method: str, body: Any = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture(scope="module")
def cluster(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    yield from module_cluster(zk_hosts, tmp_path_factory, "storage", masters=2, agents=1)


def cli(c: E2ECluster, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``pydcos`` CLI against the test's cluster."""
    argv = [sys.executable, "-m", "console.cli", *args, "--zk", c.zk, "--insecure-dev"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def slave(c: E2ECluster) -> dict[str, Any]:
    (s,) = c.get("slaves")["slaves"]
    return dict(s)


def test_reserve_volumes_quota_and_failover(cluster: E2ECluster) -> None:
    c = cluster
    lead = c.serving_leader()
    base = f"{lead.http_url}/mesos/master"
    agent_id = slave(c)["id"]

    # Bad input first: nothing changes, the answer names the resource.
    status, body = post_form(f"{base}/reserve", slaveId=agent_id, resources=[scalar("cpus", 99)])
    assert status == 409 and "cannot reserve cpus(web,ops):99" in body
    status, body = post_form(f"{base}/create-volumes", slaveId=agent_id, volumes=[VOLUME])
    assert status == 409 and "reserve it first" in body
    status, body = post_form(f"{base}/reserve", slaveId=agent_id)
    assert status == 400 and "resources: missing" in body
    assert slave(c)["reserved_resources"] == {}

    # RESERVE through the operator endpoint: state shows it, in Mesos' field names.
    reserve = [scalar("cpus", 1), scalar("disk", 200)]
    assert post_form(f"{base}/reserve", slaveId=agent_id, resources=reserve)[0] == 202
    s = slave(c)
    assert s["reserved_resources"]["web"]["cpus"] == 1.0
    assert s["unreserved_resources"]["cpus"] == 3.0
    full = s["reserved_resources_full"]["web"]
    assert {"type": "DYNAMIC", "role": "web", "principal": "ops"} in full[0]["reservations"]

    # Offered only to the role's framework (unmodified pymesos, v1 scheduler API).
    master = f"zk://{c.zk}/mesos"
    web, db = RoleApp(master, "web-fw", "web"), RoleApp(master, "db-fw", "db")
    try:
        web.wait(lambda e: e.get("event") == "offer" and e["reserved"], "web offered its cpus")
        mark = len(db.events)
        db.wait(lambda e: e.get("event") == "offer", "db offers", mark)
        assert all(not o["reserved"] for o in db.offers_after(0))

        # The framework reserves too (ACCEPT with RESERVE), with its own principal.
        web.send(reserve=[scalar("mem", 128)])
        web.wait(lambda e: e.get("event") == "accepted", "RESERVE accepted")
        wait_for(
            lambda: slave(c)["reserved_resources"]["web"]["mem"] == 128.0, 20.0, "mem reserved"
        )

        # Volumes: create, a reused id refused, shown in state, destroyed.
        assert post_form(f"{base}/create-volumes", slaveId=agent_id, volumes=[VOLUME])[0] == 202
        status, body = post_form(f"{base}/create-volumes", slaveId=agent_id, volumes=[VOLUME])
        assert status == 409 and "persistence id 'pgdata' is already used" in body
        disks = [r for r in slave(c)["reserved_resources_full"]["web"] if r["name"] == "disk"]
        assert any(r.get("disk", {}).get("persistence", {}).get("id") == "pgdata" for r in disks)
        web.wait(lambda e: e.get("event") == "offer" and e["volumes"], "the volume offered")
        assert post_form(f"{base}/destroy-volumes", slaveId=agent_id, volumes=[VOLUME])[0] == 202

        # Quota stops the db framework at its limit (Mesos' v0 /quota).
        assert request(f"{base}/quota", "POST", {"role": "db", "guarantee": []})[0] == 400
        bad = cli(c, "quota", "set", "db")
        assert bad.returncode != 0 and "at least one of --cpus" in bad.stderr
        status, _ = request(
            f"{base}/quota",
            "POST",
            {
                "role": "db",
                "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}],
            },
        )
        assert status == 200
        mark = len(db.events)
        db.wait(lambda e: e.get("event") == "offer", "db offers under quota", mark)
        db.wait(lambda e: e.get("event") == "offer", "more db offers", len(db.events))
        assert [o["cpus"] for o in db.offers_after(mark)][-1] <= 1.0
        infos = json.loads(request(f"{base}/quota", "GET")[1])["infos"]
        assert infos[0]["role"] == "db"
    finally:
        web.stop()
        db.stop()

    # The leader dies: the new one has the reservations and the quota from ZooKeeper.
    lead.kill9()
    new = c.serving_leader()
    assert new is not lead

    def recovered() -> dict[str, Any] | None:
        s = slave(c)
        return s if s.get("active") and s["reserved_resources"].get("web") else None

    s = wait_for(recovered, 30.0, "the agent back with its reservations")
    assert s["reserved_resources"]["web"]["cpus"] == 1.0
    assert s["reserved_resources"]["web"]["mem"] == 128.0
    base = f"{new.http_url}/mesos/master"
    assert json.loads(request(f"{base}/quota", "GET")[1])["infos"][0]["role"] == "db"
    listed = json.loads(cli(c, "quota", "list", "--json").stdout)
    assert listed[0]["role"] == "db" and listed[0]["limits"]["cpus"]["value"] == 1.0
    nodes = cli(c, "node", "list").stdout
    assert "web(cpus:1,mem:128,disk:200)" in nodes, nodes
    assert request(f"{base}/quota/db", "DELETE")[0] == 200
    gone = cli(c, "quota", "remove", "db")
    assert gone.returncode != 0 and "has no quota" in gone.stderr
    assert cli(c, "quota", "set", "db", "--cpus", "2", "--mem", "512").returncode == 0
    assert "cpus:2 mem:512" in cli(c, "quota", "list").stdout
    # The v1 operator API through pymesos' unmodified operator driver.
    from pymesos import MesosOperatorMasterDriver, OperatorMaster

    driver = MesosOperatorMasterDriver(new.http_url.removeprefix("http://"), OperatorMaster())
    driver.start()
    try:
        driver.createVolumes(agent_id, [VOLUME])
        assert any(r.get("disk") for r in slave(c)["reserved_resources_full"]["web"])
        driver.destroyVolumes(agent_id, [VOLUME])
        driver.unreserveResources(agent_id, [scalar("cpus", 1), scalar("disk", 200)])
        with pytest.raises(RuntimeError, match="is not reserved on the agent"):
            driver.unreserveResources(agent_id, [scalar("cpus", 1)])
        cpus = {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}
        driver.setQuota({"role": "batch", "guarantee": [cpus]})
        roles = [i["role"] for i in driver.getQuota()["get_quota"]["status"]["infos"]]
        assert "batch" in roles
        driver.removeQuota("batch")
    finally:
        driver.stop()
    s = slave(c)
    assert s["reserved_resources"]["web"]["cpus"] == 0.0
    assert s["unreserved_resources"]["cpus"] == 4.0
