"""Each master binds its own DNS port (no pick-then-release race in ``cluster up``).

``cluster up`` used to pick a free UDP+TCP port, release it and pass ``--dns-port N``
to each master; under load another socket took it first and the master died with
"Address already in use". Now the launcher passes ``--dns-port 0``, the master binds a
free pair itself before anything else (``DnsService.reserve``), prints ``dns IP:PORT``
and the DNS actor serves on those very sockets; the record keeps the reported address.
The real-cluster side (dig/dnspython through every master's recorded address, tasks'
$PYDCOS_DNS, a standby's DNS after a leader SIGKILL) is tests/dns/test_dns_e2e.py."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from actors.dns import ClusterView, DnsConfig, DnsServer, DnsService, build_table, set_leader
from console._launcher import Launcher, dns_address, dns_addresses, dns_bindings, read_banner
from console._state import ClusterRecord, ProcRecord


def _master(argv: list[str], dns: str = "") -> ProcRecord:
    return ProcRecord("master-1", "master", 1, 0.0, "/dev/null", argv=argv, dns=dns)


def test_port_0_is_left_to_each_master_and_a_fixed_port_is_still_checked() -> None:
    assert dns_bindings(3, 0) == [("127.0.0.1", 0)] * 3
    with pytest.raises(Exception, match="not a port"):
        dns_bindings(1, 70000)


def test_the_record_gives_the_reported_address_else_a_fixed_flag_else_nothing() -> None:
    argv0 = ["--dns-host", "127.0.0.1", "--dns-port", "0"]
    reported = _master(argv0, "127.0.0.1:40976")
    fixed = _master(["--dns-host", "127.0.0.2", "--dns-port", "5353"])
    unknown = _master(argv0)
    assert [dns_address(p) for p in (reported, fixed, unknown)] == [
        "127.0.0.1:40976",
        "127.0.0.2:5353",
        "",
    ]
    rec = ClusterRecord(state_dir="/x", zk_hosts="", processes=[reported, fixed, unknown])
    assert dns_addresses(rec) == ["127.0.0.1:40976", "127.0.0.2:5353"]
    assert ProcRecord.from_dict(reported.__dict__).dns == "127.0.0.1:40976"


def test_the_launcher_reads_the_early_dns_line_and_the_ready_line(tmp_path: Path) -> None:
    log = tmp_path / "master-1.log"
    log.write_text(
        "2026-12-06 14:25:56,513 INFO kazoo.client: Connecting\n"
        "dns 127.0.0.1:41234\n"
        "master tcp://127.0.0.1:5050 http http://127.0.0.1:8080 dns 127.0.0.1:41234\n"
    )
    assert read_banner(log, 0, "dns") == ["dns", "127.0.0.1:41234"]
    rec = _master(["--dns-port", "0"])
    words = read_banner(log, 0, "master")
    assert words is not None
    Launcher._take_banner(rec, words)
    assert (rec.address, rec.http_url, rec.dns) == (
        "tcp://127.0.0.1:5050",
        "http://127.0.0.1:8080",
        "127.0.0.1:41234",
    )


def test_reserved_sockets_hold_the_port_until_the_server_serves_on_them() -> None:
    service = DnsService(host="127.0.0.1", port=0, upstreams=[])
    host, _, port_text = service.reserve().rpartition(":")
    port = int(port_text)
    assert host == "127.0.0.1" and port > 0 and service.port == port
    # nobody else can take it meanwhile, over UDP or TCP
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as other:
            with pytest.raises(OSError) as taken:
                other.bind(("127.0.0.1", port))
            assert taken.value.errno == errno.EADDRINUSE
    view = ClusterView()
    set_leader(view, "tcp://127.0.0.1:5050/master", "127.0.0.1")
    server = DnsServer(build_table(view, DnsConfig(), 1), "127.0.0.1", port).start()
    try:
        assert server.port == port
        q = dns.message.make_query("leader.mesos", "A")
        for reply in (
            dns.query.udp(q, "127.0.0.1", port=port, timeout=2),
            dns.query.tcp(q, "127.0.0.1", port=port, timeout=2),
        ):
            assert reply.rcode() == dns.rcode.NOERROR
            assert [rd.address for rrset in reply.answer for rd in rrset] == ["127.0.0.1"]
    finally:
        server.stop()
