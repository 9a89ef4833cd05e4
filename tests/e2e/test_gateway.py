"""The HTTP gateway across real master processes: standbys redirect to the leader."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from tests.e2e.conftest import E2ECluster, Proc, http_get, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]


def test_standby_masters_answer_307_to_the_leader_and_redirect_names_it(
    cluster: E2ECluster,
) -> None:
    """DC/OS clients may hit any master: a standby answers 307 with the leader's URL for
    leader-only paths (Mesos' behaviour for /master/state), and /master/redirect sends
    everyone, leader included, to the leader."""
    cluster.start(masters=3, agents=1)
    leader = cluster.leader()
    standbys = cluster.standbys()
    assert len(standbys) == 2

    direct = http_get(f"{leader.http_url}/mesos/master/state")
    assert direct.status == 200
    assert direct.json()["hostname"] == leader.name
    assert direct.json()["activated_slaves"] == 1

    for standby in standbys:
        r = http_get(f"{standby.http_url}/mesos/master/state?jsonp=x")
        assert r.status == 307, (standby.name, r.status, r.body[:200])
        assert r.headers["location"] == f"{leader.http_url}/mesos/master/state?jsonp=x"
        # Following the redirect lands on the leader's document.
        followed = http_get(r.headers["location"])
        assert followed.status == 200 and followed.json()["hostname"] == leader.name
        # Not leader-only: a standby answers itself.
        assert http_get(f"{standby.http_url}/ping").status == 200

    for master in [leader, *standbys]:
        r = http_get(f"{master.http_url}/mesos/master/redirect")
        assert r.status == 307, (master.name, r.status)
        assert r.headers["location"] == "//" + leader.http_url.removeprefix("http://")

    # After the leader dies, the standbys redirect to the new one.
    leader.kill9()
    new = cluster.leader()
    assert new is not leader
    other = next(m for m in standbys if m is not new)

    def redirects_to_new() -> bool:
        r = http_get(f"{other.http_url}/mesos/master/state")
        return r.status == 307 and r.headers["location"].startswith(new.http_url)

    wait_for(redirects_to_new, 20, "the surviving standby to redirect to the new leader")

    # ZooKeeper publishes the new leader a moment before its leader-only work starts;
    # meanwhile it answers 503 (never a redirect to itself).
    def serving() -> bool:
        r = http_get(f"{new.http_url}/mesos/master/state")
        assert r.status in (200, 503), r.status
        return r.status == 200

    wait_for(serving, 20, "the new leader to serve its state")
    assert cluster.get("state", new)["hostname"] == new.name


def _metrics(master: Proc, path: str = "/mesos/metrics/snapshot") -> dict[str, Any]:
    """``/metrics/snapshot`` read as a metrics client does: flat, numeric, Mesos names."""
    r = http_get(master.http_url + path)
    assert r.status == 200, (master.name, path, r.status, r.body[:200])
    doc = r.json()
    assert isinstance(doc, dict) and doc
    for key, value in doc.items():
        assert "/" in key and type(value) in (int, float) and math.isfinite(value), (key, value)
    return doc


def _terms(master: Proc) -> list[int]:
    text = master.log_path.read_text(errors="replace")
    return [int(t) for t in re.findall(r"elected \(term (\d+)\)", text)]


def test_everyday_mesos_and_dcos_endpoints_on_leader_and_standby(cluster: E2ECluster) -> None:
    """What a DC/OS user's tools ask a master for: Mesos' summary, metrics, roles, flags
    and version at Admin Router's and Mesos' own paths, Marathon at /service/marathon."""
    cluster.start(masters=2, agents=1)
    leader = cluster.leader()
    (standby,) = cluster.standbys()
    base = leader.http_url

    state = cluster.get("state")
    port = int(base.rsplit(":", 1)[1])
    assert state["leader_info"]["hostname"] == leader.name
    assert state["leader_info"]["port"] == port
    assert state["leader_info"]["address"] == {
        "hostname": leader.name,
        "ip": "127.0.0.1",
        "port": port,
    }
    assert state["leader_info"]["id"] == state["id"]
    assert state["cluster"] == cluster.chroot.strip("/").replace("/", "-")
    assert state["log_dir"] == str(cluster.logs)
    assert isinstance(state["build_time"], float) and state["build_time"] > 1e9
    assert state["flags"]["hostname"] == leader.name and state["flags"]["port"] == str(port)
    assert state["flags"]["ping_interval"] == "0.25"

    summary = wait_for(
        lambda: (s := cluster.get("state-summary"))["frameworks"] and s,
        20,
        "Marathon to subscribe",
    )
    (agent,) = summary["slaves"]
    assert agent["hostname"] == "agent-1" and agent["TASK_RUNNING"] == 0
    assert summary["hostname"] == leader.name and summary["cluster"] == state["cluster"]
    assert {f["name"] for f in summary["frameworks"]} >= {"marathon"}
    roles = cluster.get("roles")["roles"]
    assert all({"name", "weight", "frameworks", "allocated"} <= set(r) for r in roles)

    # Metrics: each master answers its own; only the leader is elected and counts.
    lead_m = _metrics(leader)
    assert lead_m["master/elected"] == 1 and lead_m["master/slaves_active"] == 1
    assert lead_m["master/cpus_total"] == 4 and lead_m["master/mem_total"] == 2048
    assert lead_m["master/frameworks_active"] >= 1 and lead_m["master/uptime_secs"] > 0
    stand_m = _metrics(standby)
    assert stand_m["master/elected"] == 0 and stand_m["master/slaves_active"] == 0
    assert _metrics(leader, "/metrics/snapshot")["master/elected"] == 1

    # Every master's own flags and version.
    for master in (leader, standby):
        flags = http_get(master.http_url + "/mesos/master/flags").json()["flags"]
        assert flags["hostname"] == master.name and flags["zk"].endswith(cluster.chroot)
        version = http_get(master.http_url + "/mesos/version").json()
        assert version["version"] == "1.11.0" and "build_time" in version

    # The bare Mesos paths on the master's own port.
    for path, key in [
        ("/master/state", "leader_info"),
        ("/master/state.json", "leader_info"),
        ("/state", "leader_info"),
        ("/state.json", "leader_info"),
        ("/state-summary", "slaves"),
        ("/master/state-summary", "slaves"),
        ("/master/roles", "roles"),
        ("/master/flags", "flags"),
        ("/version", "version"),
    ]:
        r = http_get(base + path)
        assert r.status == 200 and key in r.json(), (path, r.status, r.body[:200])
    for path in ("/master/state", "/state", "/state-summary", "/master/roles"):
        r = http_get(standby.http_url + path)
        assert r.status == 307 and r.headers["location"] == base + path, path
    for path in ("/redirect", "/master/redirect"):
        r = http_get(standby.http_url + path)
        assert r.status == 307 and r.headers["location"] == "//" + base.removeprefix("http://")

    # Marathon at DC/OS' path, and with a trailing slash.
    for path in ("/service/marathon/v2/info", "/marathon/v2/groups/"):
        url = base + path
        wait_for(lambda: http_get(url).status == 200, 20, f"{path} on the leader")  # noqa: B023
    group = http_get(base + "/service/marathon/v2/groups/").json()
    assert group["id"] == "/"
    assert http_get(base + "/service/marathon/v2/apps").json() == {"apps": []}
    r = http_get(standby.http_url + "/service/marathon/v2/info")
    assert r.status == 307 and r.headers["location"] == base + "/service/marathon/v2/info"


def test_each_leadership_logs_a_new_higher_term(cluster: E2ECluster) -> None:
    """After a failover the new leader's term is above the old one's (no two leaders'
    logs say the same term)."""
    cluster.start(masters=2, agents=0)
    first = cluster.leader()
    wait_for(lambda: _terms(first), 20, "the first leader to log its term")
    old = max(_terms(first))
    first.kill9()
    second = cluster.leader()
    assert second is not first
    wait_for(lambda: _terms(second), 20, "the new leader to log its term")
    new = max(_terms(second))
    assert new > old >= 1
