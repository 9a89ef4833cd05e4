"""DNS on a real cluster (``pydcos cluster up``), through real clients: dnspython, dig
and ``pydcos node dns``. One cluster for the module: deploy /shop/web x3, resolve it,
kill an instance, SIGKILL the leader while resolving."""

from __future__ import annotations

import contextlib
import glob
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, leader, started_cluster
from tests.console.conftest import http_json as http

pytestmark = [pytest.mark.slow]

APP = {
    "id": "/shop/web",
    "cmd": 'echo "$PYDCOS_DNS" > dns.txt; exec /bin/busybox httpd -f -p $PORT0 -h /bin',
    "cpus": 0.1,
    "mem": 32,
    "instances": 3,
    "portDefinitions": [{"port": 0, "name": "http", "labels": {"VIP_0": "/web:80"}}],
}


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, upstream: tuple[str, int]
) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("dns-cluster")
    args = ("--insecure-dev", "--no-docker", "--masters", "2", "--agents", "2")
    # names outside the cluster's zones go to a local dnslib server, never off the machine
    args += ("--dns-upstream", f"{upstream[0]}:{upstream[1]}")
    with started_cluster(state, *args) as c:
        yield c


def masters(c: LocalCluster) -> list[dict[str, Any]]:
    return [p for p in c.record()["processes"] if p["kind"] == "master"]


def dns_of(p: dict[str, Any]) -> tuple[str, int]:
    """The master's DNS server, as its ready line reported the free port it bound."""
    host, _, port = p["dns"].rpartition(":")
    return host, int(port)


def srv_ports(server: tuple[str, int], name: str = "_web-shop._tcp.marathon.mesos") -> list[int]:
    q = dns.message.make_query(name, "SRV")
    reply = dns.query.udp(q, server[0], port=server[1], timeout=2)
    return sorted(rd.port for rrset in reply.answer for rd in rrset)


def task_ports(c: LocalCluster) -> dict[str, int]:
    doc = http(leader(c)["http_url"] + "/marathon/v2/apps/shop/web/tasks")
    return {t["id"]: t["ports"][0] for t in doc["tasks"] if t.get("state") == "TASK_RUNNING"}


def test_cluster_up_prints_every_masters_dns_address(cluster: LocalCluster) -> None:
    for p in masters(cluster):
        host, port = dns_of(p)
        assert f"{host}:{port}" in cluster.up.stdout


def test_other_names_are_forwarded_to_the_upstream_by_every_master(cluster: LocalCluster) -> None:
    for p in masters(cluster):
        host, port = dns_of(p)
        q = dns.message.make_query("www.example.test", "A")
        reply = dns.query.udp(q, host, port=port, timeout=3)
        assert [rd.address for rrset in reply.answer for rd in rrset] == ["192.0.2.7"]


def test_three_instances_resolve_by_a_and_srv_through_every_master(cluster: LocalCluster) -> None:
    http(leader(cluster)["http_url"] + "/marathon/v2/apps", "POST", APP)
    ports = wait_for(lambda: len(task_ports(cluster)) == 3 and task_ports(cluster), 60, "3 tasks")
    for p in masters(cluster):
        server = dns_of(p)
        wait_for(lambda s=server: srv_ports(s) == sorted(ports.values()), 10, "SRV records")
        q = dns.message.make_query("web-shop.marathon.mesos", "A")
        reply = dns.query.tcp(q, server[0], port=server[1], timeout=2)
        assert reply.rcode() == dns.rcode.NOERROR
        assert [rd.address for rrset in reply.answer for rd in rrset] == ["127.0.0.1"]
    host, port = dns_of(masters(cluster)[0])
    if shutil.which("dig"):
        out = subprocess.run(
            ["dig", "+short", "-p", str(port), f"@{host}", "_web-shop._tcp.marathon.mesos", "SRV"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert sorted(int(line.split()[2]) for line in out.stdout.splitlines()) == sorted(
            ports.values()
        )
    r = cluster.cli("node", "dns", "/shop/web", "--type", "SRV", "--json")
    assert r.returncode == 0, r.stderr
    assert sorted(int(row["value"].split()[2]) for row in json.loads(r.stdout)) == sorted(
        ports.values()
    )
    # Mesos-DNS' HTTP API on a master that may not lead
    rows = http(
        masters(cluster)[-1]["http_url"] + "/mesos_dns/v1/services/_web-shop._tcp.marathon.mesos"
    )
    assert sorted(int(row["port"]) for row in rows) == sorted(ports.values())
    base = masters(cluster)[-1]["http_url"] + "/mesos_dns/v1"
    assert http(f"{base}/hosts/nope.marathon.mesos") == [{"host": "", "ip": ""}]  # as Mesos-DNS
    assert http(f"{base}/version")["Service"] == "Mesos-DNS"
    enum = http(f"{base}/enumerate")["frameworks"]
    assert {t["id"] for f in enum if f["name"] == "marathon" for t in f["tasks"]} == set(ports)
    try:
        http(f"{base}/hosts/{'a' * 300}.mesos")
        raise AssertionError("a 300-character name was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 400 and "host" in json.loads(exc.read())["message"]
    # the VIP name (the load balancer's address for /web:80), the same on every master
    vips = set()
    for p in masters(cluster):
        q = dns.message.make_query("web.marathon.l4lb.thisdcos.directory", "A")
        reply = dns.query.udp(q, *dns_of(p)[:1], port=dns_of(p)[1], timeout=2)
        vips |= {rd.address for rrset in reply.answer for rd in rrset}
    assert len(vips) == 1 and ipaddress.IPv4Address(vips.pop()) in ipaddress.ip_network(
        "127.128.0.0/9"
    )
    # the DNS figures on /metrics, read back by the Prometheus parser
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(masters(cluster)[0]["http_url"] + "/metrics", timeout=10) as r:
        families = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    udp = [
        s.value for s in families["pydcos_dns_queries"].samples if s.labels == {"transport": "udp"}
    ]
    assert udp and udp[0] > 0 and families["pydcos_dns_ready"].samples[0].value == 1
    # every task was told where the cluster's DNS is
    expected = ",".join(f"{h}:{p}" for h, p in (dns_of(m) for m in masters(cluster)))
    files = glob.glob(
        str(Path(cluster.state_dir) / "agents" / "*" / "**" / "dns.txt"), recursive=True
    )
    assert files and {Path(f).read_text().strip() for f in files} == {expected}


def test_a_killed_instance_leaves_dns_and_failover_keeps_names_resolving(
    cluster: LocalCluster,
) -> None:
    ports = task_ports(cluster)
    victim, gone = next(iter(ports.items()))
    url = leader(cluster)["http_url"] + f"/marathon/v2/apps/shop/web/tasks/{victim}?scale=true"
    http(url, "DELETE")
    left = sorted(p for t, p in ports.items() if t != victim)
    for server in [dns_of(p) for p in masters(cluster)]:
        wait_for(lambda s=server: srv_ports(s) == left, 10, f"port {gone} gone from SRV")

    old = leader(cluster)
    survivor = dns_of(next(p for p in masters(cluster) if p["pid"] != old["pid"]))
    answers: list[tuple[str, int]] = []
    stop = threading.Event()

    def resolve_all_along() -> None:
        while not stop.is_set():
            q = dns.message.make_query("_web-shop._tcp.marathon.mesos", "SRV")
            # A resolver retries a datagram that got no answer (the machine is shared and
            # may starve a process for a moment); what must never come is a wrong answer.
            reply = None
            for _ in range(3):
                with contextlib.suppress(dns.exception.Timeout):
                    reply = dns.query.udp(q, survivor[0], port=survivor[1], timeout=2)
                    break
            if reply is None:
                answers.append(("no answer in 3 tries", 0))
            else:
                rcode = dns.rcode.to_text(reply.rcode())
                answers.append((rcode, sum(len(r) for r in reply.answer)))
            stop.wait(0.02)

    t = threading.Thread(target=resolve_all_along, daemon=True)
    t.start()
    os.kill(old["pid"], signal.SIGKILL)
    try:
        new = wait_for(
            lambda: leader(cluster)["pid"] != old["pid"] and leader(cluster), 30, "a new leader"
        )
        wait_for(lambda: len(answers) > 50, 10, "queries during the failover")
        # the new leader's state reaches DNS (its port in _leader._tcp), names unchanged
        new_port = int(new["address"].rsplit(":", 1)[1])
        wait_for(
            lambda: srv_ports(survivor, "_leader._tcp.mesos") == [new_port], 30, "new leader in DNS"
        )
    finally:
        stop.set()
        t.join(5)
    assert srv_ports(survivor) == left
    assert set(answers) == {("NOERROR", 2)}, {a: answers.count(a) for a in set(answers)}
