"""The DNS packet handler: bytes in, bytes out (or "forward", or drop). No sockets.

```
 datagram ──> Answerer.answer(data, tcp)
               fast path: (data[2:], tcp) in the cache -> id + pre-encoded answer
               slow path: dnslib parse -> checks -> our zone?  -> answer from the table
                                                   other zone -> FORWARD (upstream)
                          malformed -> FORMERR, opcode != QUERY -> NOTIMP, a response -> drop
```

The fast path: an answer depends only on the query's bytes after its id (flags, the
question in its original case, an EDNS OPT) and on the table, so an Answerer (one per
table: a new table brings a new, empty cache) keeps the encoded reply of each query it
answered and patches only the id. Names with several records keep several encodings,
each in a different random order, served in turn (Mesos-DNS shuffles every answer).
Encoding is dnslib's; nothing here writes DNS wire format by hand.
"""

from __future__ import annotations

import random
import struct

from dnslib import (
    EDNS0,
    NS,
    QTYPE,
    RCODE,
    RR,
    SOA,
    SRV,
    A,
    DNSHeader,
    DNSLabel,
    DNSQuestion,
    DNSRecord,
)

from actors.dns._records import RecordTable, zone_of

UDP_PLAIN = 512
"""Largest UDP answer without EDNS (RFC 1035)."""
UDP_EDNS_MAX = 1232
"""Largest UDP answer we send even when a client offers more (DNS flag day 2020)."""
MAX_NAME = 255
VARIANTS = 6
"""Encodings (orders) kept per multi-record answer."""
CACHE_MAX = 50_000

IN, ANY_CLASS = 1, 255
QTYPE_A, QTYPE_NS, QTYPE_SOA, QTYPE_AAAA, QTYPE_SRV = 1, 2, 6, 28, 33
QTYPE_ANY, QTYPE_AXFR, QTYPE_IXFR, QTYPE_MAILB, QTYPE_MAILA = 255, 252, 251, 253, 254
UNSUPPORTED_QTYPES = frozenset({QTYPE_AXFR, QTYPE_IXFR, QTYPE_MAILB, QTYPE_MAILA, 0})
"""Zone transfers and obsolete meta types: NOTIMP."""


class Forward:
    """Answer: send this query to the upstream resolvers."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FORWARD"


FORWARD = Forward()


def header_reply(data: bytes, rcode: int) -> bytes | None:
    """An error reply (question-less) for a query we cannot or will not read; None for
    anything without a full header, or that is itself a response (never answered: no
    reflection loops)."""
    if len(data) < 12:
        return None
    qid, flags = struct.unpack("!HH", data[:4])
    if flags & 0x8000:
        return None
    opcode = (flags >> 11) & 0xF
    rd = (flags >> 8) & 1
    return bytes(DNSRecord(DNSHeader(id=qid, qr=1, opcode=opcode, rd=rd, ra=1, rcode=rcode)).pack())


class Answerer:
    """Answers queries from one RecordTable. Not thread-safe: one per event loop."""

    def __init__(self, table: RecordTable, rng: random.Random | None = None) -> None:
        self.table = table
        self._rng = rng or random.Random()
        self._cache: dict[bytes, tuple[bytes, ...] | Forward] = {}
        self._tcp_cache: dict[bytes, tuple[bytes, ...] | Forward] = {}
        self._origin: dict[tuple[bool, bytes], str] = {}
        """(tcp, key) -> the name of a cached positive answer (what ``inherit`` checks)."""
        self._last_origin: str | None = None
        self._turn = 0
        self.hits = 0
        self.misses = 0

    def inherit(self, old: Answerer) -> int:
        """Keep ``old``'s encoded answers that this table answers alike: forwarding
        decisions, and positive answers whose records (and SRV targets' addresses) did
        not change. A busy cluster swaps tables often; without this every swap would
        send every hot name through the slow path again. Returns how many were kept.
        Safe while ``old`` serves on another thread (the copies are taken under the GIL)."""
        if old.table.config != self.table.config or not self.table.ready:
            return 0
        kept = 0
        for tcp, src, dst in (
            (False, old._cache, self._cache),
            (True, old._tcp_cache, self._tcp_cache),
        ):
            try:
                items = list(src.items())
                origins = dict(old._origin)
            except RuntimeError:
                continue
            for key, value in items:
                if isinstance(value, Forward):
                    dst[key] = value
                    continue
                name = origins.get((tcp, key))
                if name is not None and same_records(old.table, self.table, name):
                    dst[key] = value
                    self._origin[(tcp, key)] = name
                    kept += 1
        return kept

    def answer(self, data: bytes, tcp: bool = False) -> bytes | Forward | None:
        """The reply to ``data`` (bytes), ``FORWARD``, or None (drop). Never raises."""
        cache = self._tcp_cache if tcp else self._cache
        key = data[2:]
        hit = cache.get(key)
        if hit is not None:
            self.hits += 1
            if isinstance(hit, Forward):
                return hit
            self._turn += 1
            return data[:2] + hit[self._turn % len(hit)]
        self.misses += 1
        try:
            result, cacheable = self._slow(data, tcp)
        except Exception:
            return header_reply(data, RCODE.SERVFAIL)
        if result is None or isinstance(result, bytes):
            return result
        if cacheable and len(cache) >= CACHE_MAX:
            cache.clear()
            self._origin = {k: v for k, v in self._origin.items() if k[0] != tcp}
        if isinstance(result, Forward):
            if cacheable:
                cache[key] = result
            return result
        if cacheable:
            cache[key] = tuple(v[2:] for v in result)
            if self._last_origin is not None:
                self._origin[(tcp, key)] = self._last_origin
        return result[0]

    # -- slow path ----------------------------------------------------------------

    def _slow(
        self, data: bytes, tcp: bool
    ) -> tuple[tuple[bytes, ...] | Forward | bytes | None, bool]:
        self._last_origin = None
        if len(data) < 12:
            return None, False
        _, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
        if flags & 0x8000:
            return None, False  # a response: never answered
        if (flags >> 11) & 0xF != 0:
            return header_reply(data, RCODE.NOTIMP), False
        if qd != 1 or an or ns or ar > 1:
            return header_reply(data, RCODE.FORMERR), False
        try:
            req = DNSRecord.parse(data)
        except Exception:
            return header_reply(data, RCODE.FORMERR), False
        q = req.questions[0]
        qname = str(q.qname).lower()
        if not qname.endswith("."):
            qname += "."
        if len(qname) > MAX_NAME or len(data) > 12 + MAX_NAME + 4 + 512:
            return header_reply(data, RCODE.FORMERR), False
        if q.qclass not in (IN, ANY_CLASS):
            return header_reply(data, RCODE.NOTIMP), False
        zone = zone_of(qname)
        if zone is None:
            return FORWARD, True
        if q.qtype in UNSUPPORTED_QTYPES:
            return header_reply(data, RCODE.NOTIMP), False
        edns = next((rr for rr in req.ar if rr.rtype == QTYPE.OPT), None)
        if not self.table.ready:
            # No state yet: SERVFAIL (with the question), never NXDOMAIN, not cached.
            return self._pack(self._reply(req, RCODE.SERVFAIL, edns is not None), 512), False
        if edns is not None and (edns.ttl >> 16) & 0xFF != 0:
            # EDNS version other than 0: BADVERS (RFC 6891), header only.
            return header_reply(data, RCODE.FORMERR), False
        limit = UDP_PLAIN
        if tcp:
            limit = 65535
        elif edns is not None:
            limit = max(UDP_PLAIN, min(edns.rclass, UDP_EDNS_MAX))
        return self._zone_answer(req, q, qname, zone, edns is not None, limit), True

    def _zone_answer(
        self,
        req: DNSRecord,
        q: DNSQuestion,
        qname: str,
        zone: str,
        edns: bool,
        limit: int,
    ) -> tuple[bytes, ...]:
        t = self.table
        ttl = t.config.ttl
        qtype = q.qtype
        a_ips = t.a.get(qname, ()) if qtype in (QTYPE_A, QTYPE_ANY) else ()
        srvs = t.srv.get(qname, ()) if qtype in (QTYPE_SRV, QTYPE_ANY) else ()
        fixed: list[RR] = []
        extra: list[RR] = []
        if qname == zone and qtype in (QTYPE_SOA, QTYPE_ANY):
            fixed.append(self._soa(q.qname, zone))
        if qname == zone and qtype in (QTYPE_NS, QTYPE_ANY):
            ns_name = "ns1." + zone
            fixed.append(RR(q.qname, QTYPE_NS, ttl=ttl, rdata=NS(ns_name)))
            for ip in t.a.get(ns_name, ()):
                extra.append(RR(ns_name, QTYPE_A, ttl=ttl, rdata=A(ip)))
        a_rrs = [RR(q.qname, QTYPE_A, ttl=ttl, rdata=A(ip)) for ip in a_ips]
        srv_rrs = [
            RR(q.qname, QTYPE_SRV, ttl=ttl, rdata=SRV(s.priority, s.weight, s.port, s.target))
            for s in srvs
        ]
        for target in dict.fromkeys(s.target for s in srvs):
            extra.extend(RR(target, QTYPE_A, ttl=ttl, rdata=A(ip)) for ip in t.a.get(target, ()))
        shuffled = a_rrs + srv_rrs
        if not fixed and not shuffled:
            rcode = RCODE.NOERROR if t.exists(qname) else RCODE.NXDOMAIN
            reply = self._reply(req, rcode, edns)
            reply.add_auth(self._soa(zone, zone))
            return (self._pack(reply, limit),)
        if not fixed:
            self._last_origin = qname  # a plain positive answer: ``inherit`` may keep it
        orders = self._orders(a_rrs, srv_rrs)
        out = []
        for order in orders:
            reply = self._reply(req, RCODE.NOERROR, edns)
            for rr in fixed + order:
                reply.add_answer(rr)
            for rr in extra:
                reply.add_ar(rr)
            out.append(self._pack(reply, limit))
        return tuple(out)

    def _orders(self, a_rrs: list[RR], srv_rrs: list[RR]) -> list[list[RR]]:
        if len(a_rrs) <= 1 and len(srv_rrs) <= 1:
            return [a_rrs + srv_rrs]
        seen: set[tuple[int, ...]] = set()
        out: list[list[RR]] = []
        idx_a, idx_s = list(range(len(a_rrs))), list(range(len(srv_rrs)))
        for _ in range(VARIANTS * 3):
            self._rng.shuffle(idx_a)
            self._rng.shuffle(idx_s)
            sig = (*idx_a, -1, *idx_s)
            if sig in seen:
                continue
            seen.add(sig)
            out.append([a_rrs[i] for i in idx_a] + [srv_rrs[i] for i in idx_s])
            if len(out) == VARIANTS:
                break
        return out

    def _reply(self, req: DNSRecord, rcode: int, edns: bool) -> DNSRecord:
        h = req.header
        reply = DNSRecord(
            DNSHeader(id=h.id, qr=1, aa=1, ra=1, rd=h.rd, rcode=rcode),
            q=req.questions[0],
        )
        if edns:
            reply.add_ar(EDNS0(udp_len=UDP_EDNS_MAX))
        return reply

    def _soa(self, name: str | DNSLabel, zone: str) -> RR:
        c = self.table.config
        soa = SOA(
            "ns1." + zone,
            "root.ns1." + zone,
            (self.table.serial & 0xFFFFFFFF, c.soa_refresh, c.soa_retry, c.soa_expire, c.ttl),
        )
        return RR(name, QTYPE_SOA, ttl=c.ttl, rdata=soa)

    @staticmethod
    def _pack(reply: DNSRecord, limit: int) -> bytes:
        packed = bytes(reply.pack())
        if len(packed) <= limit:
            return packed
        if reply.ar:
            # Drop the additional section first (glue the client can ask for).
            opt = [rr for rr in reply.ar if rr.rtype == QTYPE.OPT]
            reply.ar = opt
            reply.header.ar = len(opt)
            packed = bytes(reply.pack())
            if len(packed) <= limit:
                return packed
        h = reply.header
        short = DNSRecord(
            DNSHeader(id=h.id, qr=1, aa=1, ra=1, rd=h.rd, tc=1, rcode=h.rcode),
            q=reply.questions[0],
        )
        return bytes(short.pack())


def same_records(old: RecordTable, new: RecordTable, name: str) -> bool:
    """Would ``name``'s positive answer be the same from both tables?"""
    if old.a.get(name) != new.a.get(name) or old.srv.get(name) != new.srv.get(name):
        return False
    return all(old.a.get(s.target) == new.a.get(s.target) for s in new.srv.get(name, ()))


def parse_reply(data: bytes) -> DNSRecord:
    """dnslib's parse, for tests and the CLI (one import site)."""
    return DNSRecord.parse(data)


def make_query(name: str, qtype: str = "A", qid: int | None = None) -> bytes:
    """A query's bytes (dnslib), for the bench's load generator and tests."""
    q = DNSRecord.question(name, qtype)
    if qid is not None:
        q.header.id = qid
    return bytes(q.pack())


__all__ = [
    "FORWARD",
    "Answerer",
    "Forward",
    "header_reply",
    "make_query",
    "parse_reply",
]
