"""The pure packet handler: answers, errors, the cache, and a 10,000-case fuzz test."""

from __future__ import annotations

import random
import struct

from dnslib import QTYPE, RCODE, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.dns import (
    FORWARD,
    Answerer,
    ClusterView,
    DnsConfig,
    apply_event,
    build_table,
    set_leader,
)
from actors.dns import make_query as q
from tests.dns._events import subscribed, task_added, task_updated, v1_task

CONFIG = DnsConfig(ttl=7, ns_ip="127.0.0.1")


def answerer(n: int = 3, ready: bool = True, seed: int = 1) -> Answerer:
    view = ClusterView()
    set_leader(view, "tcp://127.0.0.1:5050/master", "127.0.0.1")
    tasks = [v1_task(f"w.{i}", ports=(31000 + i,)) for i in range(n)]
    tasks += [
        v1_task(f"big.{i}", agent=f"ag-S{i}", name="big", discovery="big", ports=(32000 + i,))
        for i in range(60)
    ]
    from tests.dns._events import v1_agent

    agents = [v1_agent("ag-S0", "127.0.0.2")] + [
        v1_agent(f"ag-S{i}", f"127.0.3.{i}") for i in range(1, 60)
    ]
    view = apply_event(view, subscribed(tasks, agents=agents), "m1")
    return Answerer(build_table(view, CONFIG, 42, ready=ready), random.Random(seed))


def ask(a: Answerer, data: bytes, tcp: bool = False) -> DNSRecord:
    out = a.answer(data, tcp)
    assert isinstance(out, bytes), out
    reply = DNSRecord.parse(out)
    assert reply.header.id == struct.unpack("!H", data[:2])[0]
    assert reply.header.qr == 1
    return reply


def test_a_and_srv_answers_are_authoritative_with_the_ttl() -> None:
    a = answerer()
    r = ask(a, q("web-shop.marathon.mesos", "A"))
    assert r.header.aa == 1 and r.header.rcode == RCODE.NOERROR
    assert [str(rr.rdata) for rr in r.rr] == ["127.0.0.2"] and r.rr[0].ttl == 7
    r = ask(a, q("_web-shop._tcp.marathon.mesos", "SRV"))
    assert sorted(rr.rdata.port for rr in r.rr) == [31000, 31001, 31002]
    assert {str(rr.rname) for rr in r.ar} == {str(rr.rdata.target) for rr in r.rr}


def test_question_case_is_echoed_and_names_match_case_insensitively() -> None:
    r = ask(answerer(), q("WeB-ShOp.MARATHON.mesos", "A"))
    assert str(r.q.qname) == "WeB-ShOp.MARATHON.mesos." and r.rr


def test_unknown_name_is_nxdomain_with_the_soa_and_known_name_other_type_is_nodata() -> None:
    a = answerer()
    r = ask(a, q("nope.marathon.mesos", "A"))
    assert r.header.rcode == RCODE.NXDOMAIN and r.auth[0].rtype == QTYPE.SOA
    assert r.auth[0].rdata.times[0] == 42  # the table's serial
    r = ask(a, q("web-shop.marathon.mesos", "AAAA"))
    assert r.header.rcode == RCODE.NOERROR and not r.rr and r.auth[0].rtype == QTYPE.SOA
    r = ask(a, q("web-shop.marathon.mesos", "TXT"))
    assert r.header.rcode == RCODE.NOERROR and not r.rr


def test_soa_and_ns_of_both_zones() -> None:
    a = answerer()
    for zone in ("mesos", "thisdcos.directory"):
        r = ask(a, q(zone, "SOA"))
        assert r.rr[0].rtype == QTYPE.SOA and str(r.rr[0].rdata.mname) == f"ns1.{zone}."
        r = ask(a, q(zone, "NS"))
        assert str(r.rr[0].rdata) == f"ns1.{zone}." and str(r.ar[0].rdata) == "127.0.0.1"


def test_other_zones_are_forwarded() -> None:
    a = answerer()
    assert a.answer(q("example.com", "A")) is FORWARD
    assert a.answer(q("mesos.example.com", "A")) is FORWARD
    assert a.answer(q("example.com", "A")) is FORWARD  # cached decision, same answer


def test_cached_answers_get_each_querys_own_id() -> None:
    a = answerer()
    for qid in (1, 2, 65535, 0):
        assert ask(a, q("web-shop.marathon.mesos", "A", qid=qid)).header.id == qid
    assert a.hits >= 3


def test_several_records_are_served_in_varying_orders() -> None:
    a = answerer()
    firsts = {ask(a, q("_web-shop._tcp.marathon.mesos", "SRV")).rr[0].rdata.port for _ in range(30)}
    assert len(firsts) >= 2


def test_large_answers_set_tc_over_udp_and_come_whole_over_tcp() -> None:
    a = answerer()
    udp = ask(a, q("_big._tcp.marathon.mesos", "SRV"))
    assert udp.header.tc == 1 and not udp.rr and str(udp.q.qname) == "_big._tcp.marathon.mesos."
    tcp = ask(a, q("_big._tcp.marathon.mesos", "SRV"), tcp=True)
    assert tcp.header.tc == 0 and len(tcp.rr) == 60


def test_edns_clients_get_an_opt_record_and_a_larger_udp_budget() -> None:
    a = answerer()
    query = DNSRecord.question("big.marathon.mesos", "A")
    from dnslib import EDNS0

    query.add_ar(EDNS0(udp_len=4096))
    r = ask(a, bytes(query.pack()))
    assert any(rr.rtype == QTYPE.OPT for rr in r.ar)
    assert r.header.tc == 0 and len(r.rr) == 60  # 60 A records > 512 bytes, < 1232


def test_before_the_first_state_our_zones_answer_servfail_never_nxdomain() -> None:
    a = answerer(ready=False)
    assert ask(a, q("web-shop.marathon.mesos", "A")).header.rcode == RCODE.SERVFAIL
    assert a.answer(q("example.com", "A")) is FORWARD


def _header(
    qid: int = 7, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0
) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def test_malformed_and_unsupported_queries() -> None:
    a = answerer()
    good = q("web-shop.marathon.mesos", "A", qid=7)
    assert a.answer(b"") is None and a.answer(b"\x00" * 11) is None
    # a response is never answered (no reflection)
    assert a.answer(_header(flags=0x8100) + good[12:]) is None
    # truncated question
    assert ask(a, good[:20]).header.rcode == RCODE.FORMERR
    # wrong counts
    assert ask(a, _header(qd=2) + good[12:]).header.rcode == RCODE.FORMERR
    assert ask(a, _header(qd=0)).header.rcode == RCODE.FORMERR
    assert ask(a, _header(an=1) + good[12:]).header.rcode == RCODE.FORMERR
    assert ask(a, _header(qd=65535) + good[12:]).header.rcode == RCODE.FORMERR
    # a compression pointer to itself, and one pointing forward
    assert ask(a, _header() + b"\xc0\x0c\x00\x01\x00\x01").header.rcode == RCODE.FORMERR
    assert ask(a, _header() + b"\xc0\x20\x00\x01\x00\x01").header.rcode == RCODE.FORMERR
    # a name longer than 255 characters
    long_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\x05mesos\x00\x00\x01\x00\x01"
    assert ask(a, _header() + long_name).header.rcode == RCODE.FORMERR
    # opcode NOTIFY / UPDATE, zone transfer, class CHAOS
    assert ask(a, _header(flags=4 << 11) + good[12:]).header.rcode == RCODE.NOTIMP
    assert ask(a, q("mesos", "AXFR")).header.rcode == RCODE.NOTIMP
    chaos = DNSRecord.question("version.bind", "TXT", "CH")
    assert ask(a, bytes(chaos.pack())).header.rcode == RCODE.NOTIMP
    # an unknown type number in our zone: NODATA (the name exists), not a crash
    unknown = _header() + b"\x08web-shop\x08marathon\x05mesos\x00" + struct.pack("!HH", 65000, 1)
    assert ask(a, unknown).header.rcode == RCODE.NOERROR
    # the server still answers
    assert ask(a, good).rr


_valid = [
    q(name, qtype)
    for name, qtype in [
        ("web-shop.marathon.mesos", "A"),
        ("_web-shop._tcp.marathon.mesos", "SRV"),
        ("mesos", "SOA"),
        ("example.com", "A"),
        ("x" * 60 + ".mesos", "ANY"),
    ]
]


@st.composite
def packets(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=600))
    base = bytearray(draw(st.sampled_from(_valid)))
    if kind == 1:  # flip bytes
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(base) - 1))
            base[i] = draw(st.integers(0, 255))
        return bytes(base)
    if kind == 2:  # cut or extend
        cut = draw(st.integers(0, len(base)))
        return bytes(base[:cut]) + draw(st.binary(max_size=64))
    header = struct.pack(
        "!HHHHHH", *(draw(st.integers(0, 65535)) for _ in range(6))
    )  # any header on a valid body
    return header + bytes(base[12:])


_FUZZ = answerer()


@settings(
    max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
@given(packets(), st.booleans())
def test_fuzz_any_packet_gets_a_valid_reply_forward_or_nothing(data: bytes, tcp: bool) -> None:
    out = _FUZZ.answer(data, tcp)
    if out is None or out is FORWARD:
        return
    assert isinstance(out, bytes) and len(out) >= 12
    reply = DNSRecord.parse(out)
    assert reply.header.qr == 1 and out[:2] == data[:2]
    assert len(out) <= (65535 if tcp else 1232)


def test_a_new_table_keeps_the_encoded_answers_it_would_give_alike() -> None:
    view = ClusterView()
    set_leader(view, "tcp://127.0.0.1:5050/master", "127.0.0.1")
    tasks = [v1_task("w.0"), v1_task("o.0", name="other", discovery="other", ports=(32000,))]
    view = apply_event(view, subscribed(tasks), "m1")
    old = Answerer(build_table(view, CONFIG, 1))
    for name, qtype in (("web-shop.marathon.mesos", "A"), ("_other._tcp.marathon.mesos", "SRV")):
        ask(old, q(name, qtype))
    old.answer(q("example.com", "A"))
    ask(old, q("nope.marathon.mesos", "A"))  # negative: carries the serial, never kept
    # other.* changes port; web-shop does not
    view = apply_event(view, task_updated("o.0", "TASK_KILLED"), "m1")
    view = apply_event(
        view, task_added(v1_task("o.1", name="other", discovery="other", ports=(32001,))), "m1"
    )
    new = Answerer(build_table(view, CONFIG, 2))
    assert new.inherit(old) == 1
    ask(new, q("web-shop.marathon.mesos", "A"))
    assert new.answer(q("example.com", "A")) is FORWARD
    assert new.hits == 2 and new.misses == 0
    assert [rr.rdata.port for rr in ask(new, q("_other._tcp.marathon.mesos", "SRV")).rr] == [32001]
    assert ask(new, q("nope.marathon.mesos", "A")).auth[0].rdata.times[0] == 2
    assert new.misses == 2
