"""Pure parts of zk: member naming and ordering, the election decision, the retry policy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kazoo.exceptions import ConnectionLoss

from zk import LeaderInfo, RetryPolicy, ZkUnavailable
from zk._errors import CorruptData
from zk._members import decide, find_token, member_prefix, order_members, parse_member

T1 = "a" * 32
T2 = "b" * 32


def name(token: str, seq: int) -> str:
    return f"{member_prefix(token)}{seq:010d}"


def test_order_is_by_sequence_not_by_token_and_foreign_names_are_dropped() -> None:
    names = [name(T1, 7), "lock", name(T2, 3), "member_x_0000000001"]
    assert order_members(names) == [name(T2, 3), name(T1, 7)]
    assert parse_member("lock") is None
    assert find_token(names, T1) == name(T1, 7)


def test_first_in_line_leads_others_watch_their_predecessor() -> None:
    ordered = [name(T2, 3), name(T1, 7), name("c" * 32, 9)]
    assert decide(ordered, name(T2, 3)).leader
    d = decide(ordered, name("c" * 32, 9))
    assert not d.leader and d.predecessor == name(T1, 7)
    assert not decide(ordered, None).present
    assert not decide(ordered, name(T1, 99)).present


@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=20, unique=True))
def test_exactly_one_member_leads_and_predecessors_form_a_chain(seqs: list[int]) -> None:
    names = [name(f"{i:032x}", s) for i, s in enumerate(seqs)]
    ordered = order_members(names)
    decisions = [decide(ordered, n) for n in names]
    assert sum(d.leader for d in decisions) == 1
    preds = [d.predecessor for d in decisions if not d.leader]
    assert len(set(preds)) == len(preds)  # nobody is watched twice: no herd


def test_leader_info_round_trips_and_keeps_unknown_fields() -> None:
    info = LeaderInfo(address="tcp://m1:5050", http_url="http://m1:5050", version="0.1")
    back = LeaderInfo.decode("/election/x", info.encode())
    assert back == info
    raw = b'{"address":"tcp://m2:1","future_field":3}'
    assert LeaderInfo.decode("/e/y", raw).extra == {"future_field": 3}


@pytest.mark.parametrize(
    "raw", [b"\xff\x00", b"not json", b"[1,2]", b'{"http_url":"x"}', b'{"address":"a","pid":"x"}']
)
def test_foreign_member_data_is_reported_with_its_path(raw: bytes) -> None:
    with pytest.raises(CorruptData, match="/pydcos/election/member_x"):
        LeaderInfo.decode("/pydcos/election/member_x", raw)


def test_retry_policy_retries_connection_loss_then_gives_up_with_a_named_error() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    policy = RetryPolicy(max_tries=4, delay=0.1, jitter=0.0, clock=lambda: now[0], sleep=sleep)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionLoss()
        return "ok"

    assert policy(flaky) == "ok"
    assert slept == [0.1, 0.2]

    def down() -> None:
        raise ConnectionLoss()

    with pytest.raises(ZkUnavailable, match="failed 4 times"):
        policy(down)


def test_retry_policy_respects_its_deadline() -> None:
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    policy = RetryPolicy(
        max_tries=-1,
        delay=1.0,
        backoff=1.0,
        jitter=0.0,
        deadline=3.5,
        clock=lambda: now[0],
        sleep=sleep,
    )

    def down() -> None:
        raise ConnectionLoss()

    with pytest.raises(ZkUnavailable, match=r"after 3\.5 s"):
        policy(down)
    assert now[0] <= 3.5
