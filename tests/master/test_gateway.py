"""The HTTP gateway over real loopback sockets: Mesos paths, redirects, errors.

The leader's gateway talks to a real ``MasterActor``; agents and a framework are played
by a recording actor the master sends to, so task counts come from real bookkeeping.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from actors import protocol as p
from actors.gateway import HttpGateway, LeaderInfo, MasterAbout
from actors.master import MasterActor, MemoryRegistryStore, master_metrics
from actors.resources import Resources
from runtime import Actor, ActorRef, Node
from runtime.testing import wait_for

AGENT = "tcp://127.0.0.1:7001/agent"
FW = "tcp://127.0.0.1:7100/sched"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def request(url: str, method: str = "GET") -> tuple[int, dict[str, str], Any]:
    try:
        with _opener.open(urllib.request.Request(url, method=method), timeout=5) as resp:
            body = resp.read()
            return resp.status, dict(resp.headers), json.loads(body) if body else None
    except urllib.error.HTTPError as err:
        body = err.read()
        ctype = err.headers.get("Content-Type", "")
        parsed = json.loads(body) if body and "json" in ctype else body
        return err.code, dict(err.headers), parsed


def get(url: str) -> tuple[int, dict[str, str], Any]:
    return request(url)


class Peers(Actor):
    """Plays every agent and framework the master talks to: records what it is told."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[Any] = []

    def receive(self, message: Any) -> Any:
        if message == "got":
            return list(self.got)
        self.got.append(message)
        return None


async def _echo(request: web.Request) -> web.StreamResponse:
    """A service route that shows which path and method reached it."""
    return web.json_response({"path": request.path, "method": request.method})


SERVICE_ROUTES = [
    web.get("/marathon/v2/groups", _echo),
    web.put("/marathon/v2/groups", _echo),
    web.get("/marathon/v2/groups/{id:.+}", _echo),
]


@dataclass
class Gateways:
    leader: HttpGateway
    standby: HttpGateway
    master: ActorRef
    peers: ActorRef
    about: MasterAbout
    state: dict[str, Any] = field(default_factory=dict)

    def tell(self, message: Any) -> None:
        self.master.tell(message)

    def told(self, kind: type) -> list[Any]:
        return [m for m in self.peers.ask("got", timeout=5) if isinstance(m, kind)]


def idle_metrics(elected: bool, uptime: float) -> dict[str, float]:
    """What the master process hands its gateway: a standby's ``master/*`` metrics."""
    return master_metrics(None, elected=elected, uptime_secs=uptime)


@pytest.fixture
def cluster() -> Iterator[Gateways]:
    node = Node("gw", on_fatal=lambda reason: None)
    state: dict[str, Any] = {"leader": None, "master": None}
    leader_gw = HttpGateway(
        leader=lambda: state["leader"],
        is_leader=lambda: True,
        master=lambda: state["master"],
        idle_metrics=idle_metrics,
    )
    standby_gw = HttpGateway(
        leader=lambda: state["leader"],
        is_leader=lambda: False,
        master=lambda: None,
        idle_metrics=idle_metrics,
    )
    for gw in (leader_gw, standby_gw):
        gw.add_leader_routes(("/marathon/",), SERVICE_ROUTES)
        gw.start()
    about = MasterAbout(
        hostname="m1.example",
        started_at=time.time() - 30.0,
        cluster="prod",
        log_dir="/var/log/pydcos",
        flags={"hostname": "m1.example", "port": str(leader_gw.port), "cluster": "prod"},
        http_url=leader_gw.url,
    )
    leader_gw.about = about
    peers = node.spawn(Peers, name="peers")
    state["master"] = node.spawn(
        MasterActor,
        "m1",
        MemoryRegistryStore(),
        address="tcp://127.0.0.1:5050/master",
        hostname="m1.example",
        resolve=lambda address: peers,
        about=about,
        name="master",
    )
    state["leader"] = LeaderInfo(leader_gw.url, "tcp://127.0.0.1:5050/master")
    yield Gateways(leader_gw, standby_gw, state["master"], peers, about, state)
    leader_gw.stop()
    standby_gw.stop()
    node.shutdown(5)


def run_a_task(c: Gateways, role: str = "web") -> tuple[str, str]:
    """Register an agent and a framework, launch one task and report it running."""
    res = Resources.parse("cpus:4;mem:4096;disk:100").to_dict()
    c.tell(p.RegisterAgent("agent-1.example", AGENT, res))
    aid = wait_for_one(c, p.AgentRegistered).agent_id
    c.tell(p.Subscribe(p.FrameworkInfo("marathon", [role], 60.0), FW))
    fid = wait_for_one(c, p.Subscribed).framework_id
    offer = wait_for_one(c, p.Offers).offers[0]
    task = p.TaskInfo(
        task_id="web.1",
        name="web",
        agent_id=aid,
        resources=Resources.parse("cpus:1;mem:128").to_dict(),
        command=p.CommandSpec("sleep 100"),
    )
    c.tell(p.Accept(fid, [offer.offer_id], [p.Operation("LAUNCH", [task])]))
    wait_for_one(c, p.RunTask)
    c.tell(p.StatusUpdate(fid, "web.1", aid, "TASK_RUNNING", "u-1", time.time()))
    wait_for(
        lambda: get(c.leader.url + "/mesos/master/tasks")[2]["tasks"][0]["state"] == "TASK_RUNNING",
        what="the task to be running",
    )
    return aid, fid


def wait_for_one(c: Gateways, kind: type) -> Any:
    wait_for(lambda: c.told(kind), what=f"a {kind.__name__}")
    return c.told(kind)[-1]


# ------------------------------------------------------------------------- existing paths


def test_leader_serves_mesos_state(cluster: Gateways) -> None:
    status, _, doc = get(cluster.leader.url + "/mesos/master/state")
    assert status == 200
    assert doc["id"] == "m1" and doc["slaves"] == [] and doc["frameworks"] == []
    for what in ("slaves", "frameworks", "tasks"):
        status, _, doc = get(f"{cluster.leader.url}/mesos/master/{what}")
        assert status == 200 and what in doc


def test_standby_redirects_to_the_leader(cluster: Gateways) -> None:
    status, headers, _ = get(cluster.standby.url + "/mesos/master/state?x=1")
    assert status == 307
    assert headers["Location"] == cluster.leader.url + "/mesos/master/state?x=1"


def test_no_leader_means_503_with_a_message(cluster: Gateways) -> None:
    cluster.state["leader"] = None
    status, _, doc = get(cluster.standby.url + "/mesos/master/state")
    assert status == 503 and "election" in doc["message"]
    status, _, doc = get(cluster.standby.url + "/master/redirect")
    assert status == 503 and "election" in doc["message"]


@pytest.mark.parametrize(
    ("query", "needle"),
    [("limit=ten", "'ten'"), ("limit=-1", "-1"), ("order=sideways", "'sideways'")],
)
def test_bad_query_values_get_400_naming_the_value(
    cluster: Gateways, query: str, needle: str
) -> None:
    status, _, doc = get(f"{cluster.leader.url}/mesos/master/tasks?{query}")
    assert status == 400 and needle in doc["message"]


def test_unknown_path_is_404_json(cluster: Gateways) -> None:
    status, _, doc = get(cluster.leader.url + "/mesos/master/nope")
    assert status == 404 and "message" in doc


# ------------------------------------------------------------------------- redirect


@pytest.mark.parametrize("path", ["/mesos/master/redirect", "/master/redirect", "/redirect"])
def test_redirect_is_protocol_relative_to_the_leader_from_every_master(
    cluster: Gateways, path: str
) -> None:
    """Mesos answers ``Location: //host:port`` (the browser keeps its scheme), from the
    leader too, so a client can always find the leader's base URL."""
    for gw in (cluster.leader, cluster.standby):
        status, headers, _ = get(gw.url + path)
        assert status == 307, (gw.url, path, status)
        assert headers["Location"] == f"//127.0.0.1:{cluster.leader.port}"


def test_redirect_below_redirect_is_404_as_mesos_prevents_loops(cluster: Gateways) -> None:
    status, _, doc = get(cluster.standby.url + "/master/redirect/state")
    assert status == 404 and "message" in doc


# ------------------------------------------------------------------------- state


def test_state_names_the_leader_build_cluster_and_log_dir(cluster: Gateways) -> None:
    status, _, doc = get(cluster.leader.url + "/mesos/master/state")
    assert status == 200
    assert doc["leader_info"] == {
        "id": "m1",
        "pid": "master@127.0.0.1:5050",
        "port": cluster.leader.port,
        "hostname": "m1.example",
        "address": {"hostname": "m1.example", "ip": "127.0.0.1", "port": cluster.leader.port},
    }
    assert doc["leader"] == doc["leader_info"]["pid"] == doc["pid"]
    assert doc["cluster"] == "prod" and doc["log_dir"] == "/var/log/pydcos"
    assert doc["flags"] == cluster.about.flags
    assert isinstance(doc["build_time"], float) and doc["build_time"] > 1e9
    assert time.strptime(doc["build_date"], "%Y-%m-%d %H:%M:%S")
    assert doc["version"] == "1.11.0" and doc["build_user"]
    assert doc["elected_time"] >= doc["start_time"] > 1e9


def test_state_summary_counts_tasks_per_agent_and_framework(cluster: Gateways) -> None:
    aid, fid = run_a_task(cluster)
    status, _, doc = get(cluster.leader.url + "/mesos/master/state-summary")
    assert status == 200
    assert doc["hostname"] == "m1.example" and doc["cluster"] == "prod"
    (slave,) = doc["slaves"]
    assert slave["id"] == aid and slave["hostname"] == "agent-1.example"
    assert slave["pid"] == "slave(1)@127.0.0.1:7001"
    assert slave["resources"]["cpus"] == 4.0 and slave["used_resources"]["cpus"] == 1.0
    assert slave["TASK_RUNNING"] == 1 and slave["TASK_STAGING"] == 0
    assert slave["framework_ids"] == [fid]
    (fw,) = doc["frameworks"]
    assert fw["id"] == fid and fw["name"] == "marathon" and fw["slave_ids"] == [aid]
    assert fw["TASK_RUNNING"] == 1 and fw["TASK_FINISHED"] == 0
    assert "tasks" not in fw and "tasks" not in slave  # a summary: no task lists


def test_roles_show_weight_allocation_and_frameworks(cluster: Gateways) -> None:
    _, fid = run_a_task(cluster, role="web")
    status, _, doc = get(cluster.leader.url + "/mesos/master/roles")
    assert status == 200
    (web_role,) = [r for r in doc["roles"] if r["name"] == "web"]
    assert web_role["weight"] == 1.0 and web_role["frameworks"] == [fid]
    assert web_role["allocated"] == {"cpus": 1.0, "mem": 128.0}
    assert web_role["quota"] == {
        "role": "web",
        "guarantee": {},
        "limit": {},
        "consumed": {"cpus": 1.0, "mem": 128.0},
    }


# ------------------------------------------------------------------------- metrics

MESOS_METRICS = (
    "master/elected",
    "master/uptime_secs",
    "master/slaves_active",
    "master/slaves_connected",
    "master/slaves_disconnected",
    "master/slaves_inactive",
    "master/slaves_unreachable",
    "master/tasks_staging",
    "master/tasks_starting",
    "master/tasks_running",
    "master/tasks_killing",
    "master/tasks_finished",
    "master/tasks_failed",
    "master/tasks_killed",
    "master/tasks_lost",
    "master/tasks_error",
    "master/cpus_total",
    "master/cpus_used",
    "master/cpus_percent",
    "master/mem_total",
    "master/mem_used",
    "master/disk_total",
    "master/disk_used",
    "master/gpus_total",
    "master/frameworks_active",
    "master/frameworks_connected",
    "master/outstanding_offers",
    "system/cpus_total",
)


def scrape(url: str) -> dict[str, float]:
    """Read ``/metrics/snapshot`` as a metrics client does: a flat JSON object of
    numbers, every key a Mesos metric name."""
    status, headers, body = get(url)
    assert status == 200, (url, status, body)
    assert headers["Content-Type"].startswith("application/json")
    assert isinstance(body, dict)
    for key, value in body.items():
        assert isinstance(key, str) and "/" in key, key
        assert type(value) in (int, float) and math.isfinite(value), (key, value)
    missing = [k for k in MESOS_METRICS if k not in body]
    assert not missing, missing
    return body


def test_metrics_snapshot_counts_the_cluster_on_the_leader(cluster: Gateways) -> None:
    run_a_task(cluster)
    m = scrape(cluster.leader.url + "/mesos/metrics/snapshot")
    assert m["master/elected"] == 1
    assert 30 <= m["master/uptime_secs"] < 3600
    assert m["master/slaves_active"] == m["master/slaves_connected"] == 1
    assert m["master/tasks_running"] == 1 and m["master/tasks_finished"] == 0
    assert m["master/cpus_total"] == 4 and m["master/cpus_used"] == 1
    assert m["master/cpus_percent"] == 0.25
    assert m["master/mem_total"] == 4096 and m["master/mem_used"] == 128
    assert m["master/disk_total"] == 100 and m["master/frameworks_active"] == 1
    # The bare path on the master's port answers the same document.
    assert scrape(cluster.leader.url + "/metrics/snapshot")["master/tasks_running"] == 1


def test_finished_tasks_are_counted_once(cluster: Gateways) -> None:
    aid, fid = run_a_task(cluster)
    cluster.tell(p.StatusUpdate(fid, "web.1", aid, "TASK_FINISHED", "u-2", time.time()))
    cluster.tell(p.StatusUpdate(fid, "web.1", aid, "TASK_FINISHED", "u-2", time.time()))
    url = cluster.leader.url + "/metrics/snapshot"
    wait_for(lambda: scrape(url)["master/tasks_finished"] == 1, what="a finished task")
    m = scrape(url)
    assert m["master/tasks_running"] == 0 and m["master/cpus_used"] == 0
    assert scrape(url)["master/tasks_finished"] == 1


def test_standby_answers_its_own_metrics_not_elected(cluster: Gateways) -> None:
    """A Mesos standby serves /metrics/snapshot itself (no redirect): master/elected 0
    and no cluster counts, so a scraper can tell which master leads."""
    run_a_task(cluster)
    for path in ("/mesos/metrics/snapshot", "/metrics/snapshot"):
        m = scrape(cluster.standby.url + path)
        assert m["master/elected"] == 0
        assert m["master/slaves_active"] == 0 and m["master/tasks_running"] == 0
        assert m["master/uptime_secs"] >= 0


# ------------------------------------------------------------------------- flags, version


@pytest.mark.parametrize("path", ["/mesos/master/flags", "/master/flags", "/flags"])
def test_flags_are_this_masters_own_as_strings(cluster: Gateways, path: str) -> None:
    status, _, doc = get(cluster.leader.url + path)
    assert status == 200 and doc == {"flags": cluster.about.flags}
    assert all(isinstance(v, str) for v in doc["flags"].values())
    status, _, doc = get(cluster.standby.url + path)  # every master answers its own
    assert status == 200 and doc == {"flags": {}}


@pytest.mark.parametrize("path", ["/mesos/version", "/version"])
def test_version_has_mesos_build_fields(cluster: Gateways, path: str) -> None:
    for gw in (cluster.leader, cluster.standby):
        status, _, doc = get(gw.url + path)
        assert status == 200
        assert doc["version"] == "1.11.0"
        assert isinstance(doc["build_time"], float) and isinstance(doc["build_date"], str)
        assert isinstance(doc["build_user"], str)
        if "git_sha" in doc:
            assert len(doc["git_sha"]) == 40 and int(doc["git_sha"], 16) >= 0


# ------------------------------------------------------------------------- bare paths


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/master/state", "leader_info"),
        ("/master/state.json", "leader_info"),
        ("/state", "leader_info"),
        ("/state.json", "leader_info"),
        ("/master/state-summary", "slaves"),
        ("/state-summary", "slaves"),
        ("/master/roles", "roles"),
        ("/master/slaves", "slaves"),
        ("/master/frameworks", "frameworks"),
        ("/master/tasks", "tasks"),
        ("/mesos/master/state-summary", "slaves"),
        ("/mesos/master/roles", "roles"),
    ],
)
def test_bare_mesos_paths_leader_answers_standby_redirects(
    cluster: Gateways, path: str, key: str
) -> None:
    status, _, doc = get(cluster.leader.url + path)
    assert status == 200 and key in doc
    status, headers, _ = get(cluster.standby.url + path)
    assert status == 307 and headers["Location"] == cluster.leader.url + path


@pytest.mark.parametrize("path", ["/health", "/master/health", "/mesos/master/health"])
def test_health_answers_on_every_master(cluster: Gateways, path: str) -> None:
    for gw in (cluster.leader, cluster.standby):
        assert get(gw.url + path)[0] == 200


# ------------------------------------------------------------------------- services


def test_service_path_aliases_a_service_and_standbys_redirect_it(cluster: Gateways) -> None:
    """DC/OS serves Marathon at /service/marathon as well as /marathon."""
    status, _, doc = get(cluster.leader.url + "/service/marathon/v2/groups/prod")
    assert status == 200 and doc["path"] == "/service/marathon/v2/groups/prod"
    status, _, doc = request(cluster.leader.url + "/service/marathon/v2/groups", "PUT")
    assert status == 200 and doc["method"] == "PUT"
    status, headers, _ = get(cluster.standby.url + "/service/marathon/v2/groups")
    assert status == 307
    assert headers["Location"] == cluster.leader.url + "/service/marathon/v2/groups"
    assert get(cluster.leader.url + "/service/nothing/v2/groups")[0] == 404


@pytest.mark.parametrize("base", ["/marathon", "/service/marathon"])
def test_a_trailing_slash_is_accepted_as_marathon_does(cluster: Gateways, base: str) -> None:
    status, _, doc = get(cluster.leader.url + base + "/v2/groups/")
    assert status == 200 and doc["path"] == base + "/v2/groups/"
    status, _, doc = request(cluster.leader.url + base + "/v2/groups/", "PUT")
    assert status == 200 and doc["method"] == "PUT"


# ------------------------------------------------------------------------- allocation


@pytest.mark.parametrize("base", ["/mesos/master", "/master"])
def test_allocation_explains_why_a_framework_waits(cluster: Gateways, base: str) -> None:
    """pydcos' own path beside Mesos' (whose shapes stay Mesos'): the last allocation
    cycle, with the reason every framework/agent pair got nothing."""
    aid, fid = run_a_task(cluster)
    # run_a_task accepted without refuse_seconds: the rest of the agent is filtered 5 s.
    url = f"{cluster.leader.url}{base}/allocation?framework_id={fid}"

    def filtered() -> list[dict[str, Any]]:
        return [r for r in get(url)[2]["rejections"] if r["reason"] == "FILTERED"]

    wait_for(filtered, what="a cycle that shows the decline filter")
    doc = get(url)[2]
    row = next(r for r in doc["rejections"] if r["reason"] == "FILTERED")
    assert (row["framework_id"], row["agent_id"], row["hostname"]) == (fid, aid, "agent-1.example")
    assert row["role"] == "web" and row["until"] > doc["time"]
    assert doc["frameworks"][0]["name"] == "marathon"
    status, headers, _ = get(f"{cluster.standby.url}{base}/allocation?framework_id={fid}")
    assert status == 307 and headers["Location"].endswith(f"{base}/allocation?framework_id={fid}")
