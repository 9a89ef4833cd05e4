"""Shared DNS test fixtures: a real upstream resolver (dnslib's server) on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dnslib import QTYPE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger
from dnslib.server import DNSServer as UpstreamServer


class ExampleResolver(BaseResolver):  # type: ignore[misc]
    """The upstream: ``*.example.test`` -> 192.0.2.7, else NXDOMAIN."""

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname)
        if name.endswith("example.test."):
            reply.add_answer(RR(name, QTYPE.A, ttl=30, rdata=A("192.0.2.7")))
        else:
            reply.header.rcode = 3
        return reply


QUIET = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data")


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, int]]:
    """dnslib's server on UDP and TCP, one port (a free UDP port whose TCP twin is free)."""
    for _ in range(20):
        udp = UpstreamServer(ExampleResolver(), address="127.0.0.1", port=0, logger=QUIET)
        port = udp.server.server_address[1]
        try:
            tcp = UpstreamServer(
                ExampleResolver(), address="127.0.0.1", port=port, tcp=True, logger=QUIET
            )
        except OSError:
            udp.server.server_close()
            continue
        break
    else:
        pytest.fail("no port free for UDP and TCP")
    udp.start_thread()
    tcp.start_thread()
    yield ("127.0.0.1", port)
    udp.stop()
    tcp.stop()
