"""The leader's stop-acting timer (``zk.LeaderLease``), on a manual clock: table-driven.

Failure shapes it prevents: a leader cut off from ZooKeeper that goes on acting until
the client notices (two leaders at once), one that never abdicates on connection loss
(Marathon #2509), and one that stays stuck after a ZooKeeper timeout (#1043, #4000)."""

from __future__ import annotations

import pytest

from zk import Acting, LeaderLease

T = 2.0  # session timeout


@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        ([], 0.0, Acting.STOP),  # never renewed: not held
        ([("renew", 0.0)], 0.1, Acting.ACT),
        ([("renew", 0.0)], 1.49, Acting.ACT),  # lease = T * 0.75 after the send
        ([("renew", 0.0)], 1.5, Acting.STOP),  # no newer answer: stop before expiry
        ([("renew", 0.0), ("renew", 1.0)], 2.4, Acting.ACT),
        ([("renew", 1.0), ("renew", 0.5)], 2.4, Acting.ACT),  # late old answer: no rollback
        ([("renew", 0.0), ("suspended", 0.2)], 0.2, Acting.STOP),  # at once
        ([("renew", 0.0), ("suspended", 0.2)], 1.99, Acting.STOP),
        ([("renew", 0.0), ("suspended", 0.2)], 2.0, Acting.ABDICATE),  # may be expired
        ([("suspended", 0.0)], 2.0, Acting.ABDICATE),  # a whole timeout suspended
        ([("renew", 0.0), ("suspended", 0.5), ("renew", 0.6)], 1.0, Acting.ACT),
        ([("renew", 0.0), ("lost", 0.5)], 0.5, Acting.ABDICATE),
        ([("renew", 0.0), ("lost", 0.5), ("renew", 0.7)], 0.8, Acting.ACT),  # new session
        ([("renew", 0.0), ("suspended", 0.1), ("suspended", 1.5)], 2.05, Acting.ABDICATE),
    ],
)
def test_lease_verdicts(events: list[tuple[str, float]], now: float, expected: Acting) -> None:
    lease = LeaderLease(T)
    for kind, at in events:
        if kind == "renew":
            lease.renew(at)
        elif kind == "suspended":
            lease.suspended(at)
        else:
            lease.session_lost()
    assert lease.decide(now) is expected
    assert lease.may_act(now) is (expected is Acting.ACT)


def test_lease_ends_before_the_server_can_expire_the_session() -> None:
    lease = LeaderLease(T, margin=0.25)
    lease.renew(10.0)
    end = lease.expires_at()
    assert end is not None and end < 10.0 + T
    assert lease.heartbeat_interval * 4 < end - 10.0  # several beats per lease


@pytest.mark.parametrize(("timeout", "margin"), [(0.0, 0.25), (-1.0, 0.1), (2.0, 1.0)])
def test_bad_settings_are_refused(timeout: float, margin: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        LeaderLease(timeout, margin=margin)
