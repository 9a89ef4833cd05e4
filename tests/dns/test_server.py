"""The server on real sockets: answers over UDP and TCP, forwarding to a real upstream
(dnslib's DNS server), bad input on the wire, and real clients (dig, dnspython)."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
from collections.abc import Iterator

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from dnslib import DNSRecord

from actors.dns import ClusterView, DnsConfig, DnsServer, apply_event, build_table, set_leader
from tests.dns._events import subscribed, v1_task


def _table(n: int = 3):  # type: ignore[no-untyped-def]
    view = ClusterView()
    set_leader(view, "tcp://127.0.0.1:5050/master", "127.0.0.1")
    view = apply_event(
        view, subscribed([v1_task(f"w.{i}", ports=(31000 + i,)) for i in range(n)]), "m1"
    )
    return build_table(view, DnsConfig(), 1)


@pytest.fixture(scope="module")
def server(upstream: tuple[str, int]) -> Iterator[DnsServer]:
    s = DnsServer(_table(), "127.0.0.1", 0, [upstream], forward_timeout=1.0).start()
    yield s
    s.stop()


def test_dnspython_over_udp_and_tcp(server: DnsServer) -> None:
    q = dns.message.make_query("_web-shop._tcp.marathon.mesos", "SRV")
    for reply in (
        dns.query.udp(q, "127.0.0.1", port=server.port, timeout=2),
        dns.query.tcp(q, "127.0.0.1", port=server.port, timeout=2),
    ):
        assert reply.rcode() == dns.rcode.NOERROR
        ports = sorted(rd.port for rrset in reply.answer for rd in rrset)
        assert ports == [31000, 31001, 31002]


def test_names_outside_our_zones_are_forwarded_to_the_upstream(server: DnsServer) -> None:
    q = dns.message.make_query("www.example.test", "A")
    for reply in (
        dns.query.udp(q, "127.0.0.1", port=server.port, timeout=3),
        dns.query.tcp(q, "127.0.0.1", port=server.port, timeout=3),
    ):
        assert [rd.address for rrset in reply.answer for rd in rrset] == ["192.0.2.7"]
    q = dns.message.make_query("nothing.invalid", "A")
    assert dns.query.udp(q, "127.0.0.1", port=server.port, timeout=3).rcode() == dns.rcode.NXDOMAIN


def test_a_dead_upstream_gives_servfail_not_silence() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))  # nobody ever answers here
        s = DnsServer(_table(), "127.0.0.1", 0, [hole.getsockname()], forward_timeout=0.3).start()
        try:
            q = dns.message.make_query("www.example.test", "A")
            reply = dns.query.udp(q, "127.0.0.1", port=s.port, timeout=3)
            assert reply.rcode() == dns.rcode.SERVFAIL
        finally:
            s.stop()


def test_table_swap_is_seen_by_the_next_query(server: DnsServer) -> None:
    old = server.table
    try:
        server.set_table(_table(1))
        q = dns.message.make_query("_web-shop._tcp.marathon.mesos", "SRV")
        reply = dns.query.udp(q, "127.0.0.1", port=server.port, timeout=2)
        assert [rd.port for rrset in reply.answer for rd in rrset] == [31000]
    finally:
        server.set_table(old)


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig (bind9-dnsutils) is not installed")
def test_dig(server: DnsServer) -> None:
    out = subprocess.run(
        [
            "dig",
            "+short",
            "+tries=1",
            "-p",
            str(server.port),
            "@127.0.0.1",
            "web-shop.marathon.mesos",
        ],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert out.stdout.split() == ["127.0.0.2"]
    out = subprocess.run(
        [
            "dig",
            "+tcp",
            "+short",
            "-p",
            str(server.port),
            "@127.0.0.1",
            "_web-shop._tcp.marathon.mesos",
            "SRV",
        ],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert sorted(line.split()[2] for line in out.stdout.splitlines()) == [
        "31000",
        "31001",
        "31002",
    ]


def test_garbage_on_the_wire_leaves_the_server_serving(server: DnsServer) -> None:
    """Malformed datagrams, a compression loop, a 64 KB TCP frame, a half frame and a
    flood of junk: the server answers FORMERR or drops, and keeps serving."""
    addr = ("127.0.0.1", server.port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(2)
        for junk in (
            b"",
            b"\x01",
            b"\x00" * 11,
            struct.pack("!HHHHHH", 9, 0x100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",
        ):
            u.sendto(junk, addr)
        reply = u.recvfrom(4096)[0]  # only the last one has a header to answer
        assert DNSRecord.parse(reply).header.rcode == 1  # FORMERR
        for i in range(2000):
            u.sendto(bytes([i % 256]) * (i % 600), addr)
    with socket.create_connection(addr, timeout=5) as t:
        # 64 KB of junk that claims to be a response: dropped, the connection lives on
        t.sendall(struct.pack("!H", 65535) + b"\xff" * 65535)
        # 64 KB with a query's header and a garbage body: FORMERR
        body = struct.pack("!HHHHHH", 7, 0x100, 1, 0, 0, 0) + b"\xff" * (65535 - 12)
        t.sendall(struct.pack("!H", 65535) + body)
        (size,) = struct.unpack("!H", _read(t, 2))
        assert DNSRecord.parse(_read(t, size)).header.rcode == 1
        good = dns.message.make_query("web-shop.marathon.mesos", "A").to_wire()
        t.sendall(struct.pack("!H", len(good)) + good)
        (size,) = struct.unpack("!H", _read(t, 2))
        assert DNSRecord.parse(_read(t, size)).rr
    with socket.create_connection(addr, timeout=5) as t:
        t.sendall(struct.pack("!H", 400) + b"\x00" * 10)  # a frame that never completes
    q = dns.message.make_query("web-shop.marathon.mesos", "A")
    reply = dns.query.udp(q, "127.0.0.1", port=server.port, timeout=2)
    assert [rd.address for rrset in reply.answer for rd in rrset] == ["127.0.0.2"]
    reply = dns.query.tcp(q, "127.0.0.1", port=server.port, timeout=2)
    assert reply.answer


def _read(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk, "connection closed"
        buf += chunk
    return buf


def test_a_server_on_inherited_sockets_serves_again_after_a_restart() -> None:
    """The companion process (``--dns-fds``) serves on its master's sockets; a restarted
    DNS actor there must find them again (its parent keeps them bound)."""
    from actors.dns import _server

    udp, tcp, port = _server.bind_pair("127.0.0.1", 0)  # the master's, at its start-up
    try:
        _server.adopt("127.0.0.1", port, os.dup(udp.fileno()), os.dup(tcp.fileno()))
        q = dns.message.make_query("_web-shop._tcp.marathon.mesos", "SRV")
        for _ in range(2):
            s = DnsServer(_table(), "127.0.0.1", port).start()
            try:
                assert s.port == port
                for reply in (
                    dns.query.udp(q, "127.0.0.1", port=port, timeout=2),
                    dns.query.tcp(q, "127.0.0.1", port=port, timeout=2),
                ):
                    assert sorted(rd.port for rrset in reply.answer for rd in rrset) == [
                        31000,
                        31001,
                        31002,
                    ]
            finally:
                s.stop()
    finally:
        for sock in _server._INHERITED.pop(("127.0.0.1", port), ()):
            sock.close()
        udp.close()
        tcp.close()
