"""The HTTP gateway across real master processes: standbys redirect to the leader."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2ECluster, http_get, wait_for

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
        assert r.headers["location"].startswith(leader.http_url)

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
