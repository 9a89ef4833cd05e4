"""DNS apart from the master (``pydcos master --node-services-apart dns``, the default),
on a real cluster: the server runs in a child of each master, on the port the master
bound and reported; the master's own routes and /metrics still show it; a companion
that dies is started again on the same port; a SIGKILLed master takes it along."""

from __future__ import annotations

import os
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench._scale_cluster import companion_pids
from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, started_cluster
from tests.console.conftest import http_json as http

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("dns-companion")
    args = ("--insecure-dev", "--no-docker", "--masters", "1", "--agents", "0")
    with started_cluster(state, *args) as c:
        yield c


def master(c: LocalCluster) -> dict[str, Any]:
    return next(p for p in c.record()["processes"] if p["kind"] == "master")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def leader_a(server: tuple[str, int]) -> list[str]:
    q = dns.message.make_query("leader.mesos", "A")
    try:
        reply = dns.query.udp(q, server[0], port=server[1], timeout=1)
    except (dns.exception.Timeout, OSError):
        return []
    return [rd.address for rrset in reply.answer for rd in rrset]


def test_dns_is_served_by_a_child_of_the_master_on_the_port_it_reported(
    cluster: LocalCluster,
) -> None:
    m = master(cluster)
    host, _, port = m["dns"].rpartition(":")
    assert f"{host}:{port}" in cluster.up.stdout
    kids = companion_pids(m["pid"])
    assert len(kids) == 1
    assert wait_for(lambda: leader_a((host, int(port))), timeout=30, what="leader.mesos")
    # the master's own HTTP still answers Mesos-DNS' API and shows the DNS figures
    doc = http(m["http_url"] + "/mesos_dns/v1/config")
    assert doc["Port"] == int(port)
    with urllib.request.urlopen(m["http_url"] + "/metrics", timeout=10) as r:
        families = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    assert families["pydcos_dns_ready"].samples[0].value == 1
    assert "pydcos_master_elected" in families  # the master's own, once


def test_a_companion_that_dies_is_started_again_on_the_same_port(cluster: LocalCluster) -> None:
    m = master(cluster)
    host, _, port = m["dns"].rpartition(":")
    (old,) = companion_pids(m["pid"])
    os.kill(old, signal.SIGKILL)
    new = wait_for(
        lambda: [k for k in companion_pids(m["pid"]) if k != old and alive(k)],
        timeout=60,
        what="a new companion",
    )
    assert len(new) == 1
    assert wait_for(lambda: leader_a((host, int(port))), timeout=60, what="DNS answering again")


def test_a_sigkilled_master_takes_its_companion_along(cluster: LocalCluster) -> None:
    m = master(cluster)
    kids = companion_pids(m["pid"])
    assert kids
    os.kill(m["pid"], signal.SIGKILL)
    wait_for(lambda: not any(alive(k) for k in kids), timeout=60, what="the companion gone")
    # At once, without the orderly stop (its output goes to the master's log).
    assert "the master is gone: exiting at once" in Path(m["log"]).read_text()
