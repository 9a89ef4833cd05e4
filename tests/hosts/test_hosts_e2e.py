"""``pydcos cluster up --hosts`` end to end (issue 26): three masters and three agents, each
in its own network namespace with its own address, a three-member ZooKeeper ensemble (one
per master host), checked with real clients: dnspython against each master's DNS on port
53, curl from one host to a task on another, a TCP connect across a partition, the HTTP
API while ZooKeeper members are killed. One cluster for the module; the tests run in
order (the ZooKeeper faults last, then ``cluster down`` must leave nothing behind). A test
needing an app that outlives it asks for its fixture (``across``) instead of counting on
an earlier test; changes are POSTed as a DC/OS client does (``create_app``: a 503 while
no master leads, or while the leader stops leading under a ZooKeeper fault, is retried).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest

from console._hosts import Hosts, netns_unsupported
from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, pydcos, started_cluster
from zk import four_letter_word

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(netns_unsupported() is not None, reason=str(netns_unsupported())),
]


def _auth_off() -> list[str]:
    """``--no-auth`` once ``cluster up`` has it (IAM, issue 24), else nothing."""
    helptext = pydcos("cluster", "up", "--help").stdout
    return ["--no-auth"] if "--no-auth" in helptext else []


@pytest.fixture(scope="module")
def hc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("hosts")
    up = ["--hosts", "--insecure-dev", "--masters", "3", "--agents", "3", *_auth_off()]
    with started_cluster(state, *up) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def hosts(hc: LocalCluster) -> Hosts:
    return Hosts.load(hc.state_dir)


def request(
    url: str, method: str = "GET", body: Any = None, timeout: float = 5.0
) -> tuple[int, Any]:
    """(status, decoded body) of one HTTP request; errors, refusals and timeouts included
    (status 0 when nothing answered)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, None


def leader_url(hc: LocalCluster) -> str:
    """The HTTP URL of the master that says it leads."""

    def find() -> str | None:
        for p in hc.record()["processes"]:
            if p["kind"] == "master":
                code, body = request(p["http_url"] + "/metrics/snapshot", timeout=2)
                if code == 200 and body.get("master/elected") == 1:
                    return str(p["http_url"])
        return None

    return str(wait_for(find, 30, "a leading master"))


def running_tasks(hc: LocalCluster, app: str, n: int) -> list[dict[str, Any]]:
    def tasks() -> list[dict[str, Any]] | None:
        code, body = request(f"{leader_url(hc)}/marathon/v2/apps{app}/tasks", timeout=3)
        if code != 200:
            return None
        ts = [t for t in body["tasks"] if t.get("state") == "TASK_RUNNING"]
        return ts if len(ts) >= n else None

    return list(wait_for(tasks, 40, f"{n} running task(s) of {app}"))


def create_app(hc: LocalCluster, app: dict[str, Any], timeout: float = 60) -> None:
    """POST ``app`` to the leader as the dcos CLI and marathon-python do: retry a 503
    (no leader; or the leader stopped leading mid-write, its write refused as fenced:
    Marathon answers 503 with ``Retry-After``), a 307 from a master that just stopped
    leading, or no answer, each time at the master that leads then, once per second
    (the ``Retry-After`` the gateway gives). A 409 after such a retry is a success (the
    unanswered attempt landed); a 409 on the first attempt, or any other status, fails.
    Then the stored app must be whole: its definition as POSTed."""
    tries: list[int] = []

    def attempt() -> bool:
        code, body = request(f"{leader_url(hc)}/marathon/v2/apps", "POST", app)
        tries.append(code)
        if code == 201 or (code == 409 and len(tries) > 1):
            return True
        if code in (0, 307, 503):
            return False
        raise AssertionError(f"POST {app['id']} answered {code} after {tries[:-1]}: {body!r}")

    wait_for(attempt, timeout, f"{app['id']} accepted", interval=1.0, retry_errors=False)
    print(f"POST {app['id']}: answers {tries}")  # shown with a failure (or -s)
    code, got = request(f"{leader_url(hc)}/marathon/v2/apps{app['id']}", timeout=5)
    assert code == 200, (tries, got)
    stored = got["app"]
    for field in ("cmd", "cpus", "mem", "instances"):
        assert stored[field] == app[field], (field, stored, tries)


def app_ids(hc: LocalCluster) -> set[str]:
    """The leader's app ids, once it serves them (a master just re-elected after a
    ZooKeeper fault answers 503 while it adopts its tasks). Callers hold ``across``:
    an empty list reads as "not yet"."""

    def listed() -> set[str] | None:
        code, body = request(f"{leader_url(hc)}/marathon/v2/apps", timeout=3)
        return {a["id"] for a in body["apps"]} if code == 200 else None

    return set(wait_for(listed, 30, "the leader's app list"))


@pytest.fixture(scope="module")
def across(hc: LocalCluster) -> str:
    """The app ``/across`` (VIP ``/across:80``), one running task: created once for the
    tests that use it (and the outage test, that checks it survives)."""
    create_app(hc, web_app("/across", vip="/across:80"))
    running_tasks(hc, "/across", 1)
    return "/across"


def tcp_connect(hosts: Hosts, source: str, ip: str, port: int) -> bool:
    return hosts.tcp_connect(source, ip, port)


def web_app(app_id: str, vip: str = "") -> dict[str, Any]:
    labels = {"VIP_0": vip} if vip else {}
    return {
        "id": app_id,
        "cmd": "mkdir -p www && echo served-by-$HOST > www/index.html && "
        "exec /bin/busybox httpd -f -p $PORT0 -h www",
        "cpus": 0.1,
        "mem": 32,
        "instances": 1,
        "portDefinitions": [{"port": 0, "name": "http", "labels": labels}],
    }


# -- addresses ---------------------------------------------------------------------------


def test_every_node_has_its_own_address(hc: LocalCluster, hosts: Hosts) -> None:
    rec = hc.record()
    agent_ips = sorted(h["ip"] for h in rec["network"]["hosts"] if h["role"] == "agent")
    assert len(set(agent_ips)) == 3
    nodes = json.loads(hc.cli("node", "list", "--json").stdout)
    rows = nodes if isinstance(nodes, list) else nodes.get("slaves", nodes.get("nodes", []))
    assert sorted(n["hostname"] for n in rows) == agent_ips
    for p in rec["processes"]:
        if p["kind"] in ("master", "agent"):
            assert hosts.ip(p["host"]) in p["address"], p
    # Each ZooKeeper member serves on its master's address.
    assert [m["ip"] for m in rec["zk_members"]] == [hosts.ip(f"master-{i}") for i in (1, 2, 3)]


def test_dns_on_each_master_answers_distinct_agent_ips(hc: LocalCluster, hosts: Hosts) -> None:
    agent_ips = {hosts.ip(f"agent-{j}") for j in (1, 2, 3)}
    master_ips = {hosts.ip(f"master-{i}") for i in (1, 2, 3)}

    def answer(ip: str, name: str) -> set[str]:
        q = dns.message.make_query(name, dns.rdatatype.A)
        reply = dns.query.udp(q, ip, port=53, timeout=2)
        return {r.address for rrset in reply.answer for r in rrset}

    for ip in sorted(master_ips):
        assert wait_for(lambda: answer(ip, "agent.mesos.") == agent_ips, 20, "agent.mesos")  # noqa: B023
        leader = answer(ip, "leader.mesos.")
        assert leader <= master_ips and len(leader) == 1
        # Contenders are re-read every few ticks: every master's address, in time.
        assert wait_for(lambda: answer(ip, "master.mesos.") == master_ips, 30, "master.mesos")  # noqa: B023


def test_an_app_is_reachable_from_another_host(hc: LocalCluster, hosts: Hosts, across: str) -> None:
    task = running_tasks(hc, across, 1)[0]
    host, port = task["host"], task["ports"][0]
    on = hosts.name_of(host)
    assert on is not None and on.startswith("agent-"), task
    other = next(n for n in ("agent-1", "agent-2", "agent-3") if n != on)
    url = f"http://{host}:{port}/index.html"

    def fetch() -> str | None:
        res = hosts.run_on(other, ["curl", "-s", "--max-time", "3", url])
        return res.stdout.strip() if res.returncode == 0 else None

    assert wait_for(fetch, 20, f"curl {url} from {other}") == f"served-by-{host}"
    # DNS names the task's host too.
    q = dns.message.make_query("across.marathon.mesos.", dns.rdatatype.A)

    def task_ips() -> set[str]:  # the DNS table follows task events, paced
        reply = dns.query.udp(q, hosts.ip("master-1"), port=53, timeout=2)
        return {r.address for rrset in reply.answer for r in rrset}

    wait_for(lambda: task_ips() == {host}, 20, "across.marathon.mesos naming the task's host")


def test_a_named_vip_is_reachable_from_every_agent_host(
    hc: LocalCluster, hosts: Hosts, across: str
) -> None:
    """The VIP resolves (master DNS) and answers from each agent host: its VIP range is
    routed to a master, whose HAProxy balances over the task on (maybe) a third host."""
    q = dns.message.make_query("across.marathon.l4lb.thisdcos.directory.", dns.rdatatype.A)

    def vip() -> str | None:
        reply = dns.query.udp(q, hosts.ip("master-2"), port=53, timeout=2)
        ips = [r.address for rrset in reply.answer for r in rrset]
        return ips[0] if ips else None

    ip = wait_for(vip, 20, "the VIP's DNS name")
    task = running_tasks(hc, across, 1)[0]
    for agent in ("agent-1", "agent-2", "agent-3"):

        def fetch(a: str = agent) -> str | None:
            res = hosts.run_on(a, ["curl", "-s", "--max-time", "3", f"http://{ip}:80/index.html"])
            return res.stdout.strip() if res.returncode == 0 else None

        assert wait_for(fetch, 30, f"the VIP from {agent}") == f"served-by-{task['host']}"


# -- partitions ----------------------------------------------------------------------------


def test_partition_cuts_both_ways_and_heal_restores(
    hc: LocalCluster, hosts: Hosts, across: str
) -> None:
    task = running_tasks(hc, across, 1)[0]
    host, port = task["host"], task["ports"][0]
    on = hosts.name_of(host)
    assert on is not None
    other = next(n for n in ("agent-1", "agent-2", "agent-3") if n != on)
    assert tcp_connect(hosts, other, host, port)
    cut = hc.cli("cluster", "partition", on, "--from", other)
    assert cut.returncode == 0, cut.stderr
    assert f"partitioned {on}" in cut.stdout
    assert not tcp_connect(hosts, other, host, port)  # other -> task's host
    assert not tcp_connect(hosts, on, hosts.ip(other), 9)  # and back: no SYN leaves
    third = next(n for n in ("master-1", "master-2") if n not in (on, other))
    assert tcp_connect(hosts, third, host, port)  # only the named pair is cut
    assert hosts.partitioned()[on] == [hosts.ip(other)]
    healed = hc.cli("cluster", "heal")
    assert healed.returncode == 0, healed.stderr
    assert tcp_connect(hosts, other, host, port)
    assert hosts.applied() == []


def test_partition_and_heal_refuse_clearly(hc: LocalCluster) -> None:
    res = hc.cli("cluster", "partition", "agent-9")
    assert res.returncode != 0
    assert res.stderr.strip().count("\n") == 0 and "no host 'agent-9'" in res.stderr
    res = hc.cli("cluster", "heal")
    assert res.returncode != 0 and "nothing to heal" in res.stderr
    res = hc.cli("cluster", "zk", "stop", "7")
    assert res.returncode != 0 and "no ZooKeeper member 7" in res.stderr


# -- ZooKeeper ensemble ----------------------------------------------------------------


def zk_modes(hc: LocalCluster) -> list[str]:
    status = json.loads(hc.cli("cluster", "status", "--json").stdout)
    return [m["mode"] for m in status["zk_members"]]


def leaders_zk_member(hc: LocalCluster, hosts: Hosts) -> int:
    """The ZooKeeper member (1-based) the leading master's session is connected to,
    read from each member's ``cons`` (the clients it serves, by address)."""
    url = leader_url(hc)
    leader = next(p for p in hc.record()["processes"] if p.get("http_url") == url)
    ip = hosts.ip(leader["host"])
    on = [
        i
        for i, m in enumerate(hc.record()["zk_members"], 1)
        if f"/{ip}:" in four_letter_word(m["ip"], int(m["client_port"]), "cons", 2.0)
    ]
    assert len(on) == 1, (ip, on)
    return on[0]


def test_one_zk_member_partitioned_the_cluster_still_launches(
    hc: LocalCluster, hosts: Hosts
) -> None:
    # Cut the member the leader's session sits on (the hard case, every run) and POST
    # at once: the write waits on a member that never answers, the leader's lease runs
    # out (no quorum sync answered) and the write is refused as fenced: 503 with
    # ``Retry-After``, nothing stored. kazoo moves the session to a live member within
    # the session timeout and the master leads again in a new term (or another does):
    # the retried POST is accepted. Real Marathon answers 503 while it has no leader.
    n = leaders_zk_member(hc, hosts)
    cut = hosts.partition(f"zk-{n}")  # the member only: the master beside it keeps working
    try:
        assert cut and {r.host for r in cut} == {f"zk-{n}"}
        create_app(hc, web_app("/zk-cut"))
        running_tasks(hc, "/zk-cut", 1)
        wait_for(lambda: zk_modes(hc)[n - 1] == "down", 20, f"zk-{n} unreachable")
        wait_for(  # a cut quorum leader makes the other two elect one: not at once
            lambda: (
                sorted(m for i, m in enumerate(zk_modes(hc), 1) if i != n) == ["follower", "leader"]
            ),
            30,
            "the two other members serving",
        )
    finally:
        hosts.heal()
    wait_for(lambda: sorted(zk_modes(hc)) == ["follower", "follower", "leader"], 30, "quorum")


def test_one_zk_member_down_the_cluster_still_launches(hc: LocalCluster) -> None:
    res = hc.cli("cluster", "zk", "stop", "1")
    assert res.returncode == 0, res.stderr
    assert zk_modes(hc)[0] == "down"
    try:
        create_app(hc, web_app("/one-zk-down"))
        running_tasks(hc, "/one-zk-down", 1)
    finally:
        assert hc.cli("cluster", "zk", "start", "1").returncode == 0


def test_two_zk_members_down_no_change_is_accepted_then_all_recovers(
    hc: LocalCluster, across: str
) -> None:
    wait_for(lambda: sorted(zk_modes(hc)) == ["follower", "follower", "leader"], 30, "quorum")
    before = app_ids(hc)
    assert across in before  # and whatever the tests before made: none may be lost
    masters = [p["http_url"] for p in hc.record()["processes"] if p["kind"] == "master"]
    for n in ("1", "2"):
        assert hc.cli("cluster", "zk", "stop", n).returncode == 0
    try:
        refused = web_app("/no-quorum")

        def nobody_accepts() -> bool:
            codes = [request(f"{m}/marathon/v2/apps", "POST", refused, 4)[0] for m in masters]
            assert not any(200 <= c < 300 for c in codes), codes  # never acknowledged
            return all(c in (0, 503, 307) for c in codes)

        wait_for(nobody_accepts, 30, "every master refusing changes", retry_errors=False)
    finally:
        for n in ("2", "1"):
            hc.cli("cluster", "zk", "start", n)
    wait_for(lambda: sorted(zk_modes(hc)) == ["follower", "follower", "leader"], 30, "quorum")
    ids = app_ids(hc)
    assert before <= ids  # nothing lost
    if "/no-quorum" in ids:
        # A POST that timed out (never answered) was in flight in the leader's ZooKeeper
        # client when the quorum went, and the leader's session outlived the outage: its
        # app write may land when the quorum returns, as any unanswered request may. It
        # must not be half-made: the leader of the restored quorum runs it.
        running_tasks(hc, "/no-quorum", 1)
    create_app(hc, web_app("/after-quorum"))
    running_tasks(hc, "/after-quorum", 1)


def test_after_a_leader_sigkill_dns_and_apps_follow_the_new_leader(
    hc: LocalCluster, hosts: Hosts, across: str
) -> None:
    import os
    import signal

    old = leader_url(hc)
    proc = next(p for p in hc.record()["processes"] if p.get("http_url") == old)
    os.kill(proc["pid"], signal.SIGKILL)
    new = wait_for(lambda: (u := leader_url(hc)) != old and u, 40, "a new leader")
    new_ip = new.split("//", 1)[1].rsplit(":", 1)[0]
    assert new_ip != hosts.ip(proc["host"])
    survivor = next(h for h in ("master-1", "master-2", "master-3") if h != proc["host"])

    def leader_dns() -> set[str]:
        q = dns.message.make_query("leader.mesos.", dns.rdatatype.A)
        reply = dns.query.udp(q, hosts.ip(survivor), port=53, timeout=2)
        return {r.address for rrset in reply.answer for r in rrset}

    wait_for(lambda: leader_dns() == {new_ip}, 30, "leader.mesos naming the new leader")
    task = running_tasks(hc, across, 1)[0]  # the app survived, on its own host
    assert hosts.tcp_connect(survivor, task["host"], task["ports"][0])


def test_down_leaves_no_namespace_link_or_rule(hc: LocalCluster, hosts: Hosts) -> None:
    hc.cli("cluster", "partition", "agent-1")  # a rule in force must go too
    pids = hc.pids()
    down = hc.cli("cluster", "down")
    assert down.returncode == 0, down.stderr
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    tag = hosts.plan.tag
    assert tag not in listed and f" {tag}:" not in links and f" {tag}@" not in links
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    assert hosts.plan.subnet not in routes
    assert not (Path(hc.state_dir) / "partitions.json").exists()
    with contextlib.suppress(ImportError):
        import psutil

        assert not [
            p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
        ]
