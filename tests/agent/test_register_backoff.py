"""The agent's registration retry schedule (pure): doubling, capped, jittered, reset."""

from __future__ import annotations

from actors.agent._register_backoff import CAP_FACTOR, RegisterBackoff, on_announcement


def test_first_attempt_is_due_at_once_then_the_wait_doubles_up_to_the_cap() -> None:
    b = RegisterBackoff(1.0, "agent-1")
    assert b.due(0.0)
    waits = []
    now = 0.0
    for _ in range(8):
        b.sent(now)
        d = b.delay()
        waits.append(d)
        assert not b.due(now + d * 0.99)
        assert b.due(now + d * 1.0001)
        now += d
    # Each wait is base * 2^k (capped) stretched by a factor in [1, 1.5).
    for k, d in enumerate(waits):
        nominal = min(CAP_FACTOR, 2.0**k)
        assert nominal <= d < nominal * 1.5
    assert max(waits) < CAP_FACTOR * 1.5


def test_an_answer_or_a_new_master_starts_over() -> None:
    b = RegisterBackoff(2.0, "agent-1")
    for t in (0.0, 2.0, 6.0, 14.0):
        b.sent(t)
    assert b.delay() >= 16.0
    b.reset()
    assert b.due(14.1)
    b.sent(14.1)
    assert 2.0 <= b.delay() < 3.0


def test_agents_started_together_do_not_retry_in_lockstep() -> None:
    delays = set()
    for i in range(50):
        b = RegisterBackoff(1.0, f"sim-{i:05d} tcp://127.0.0.1:1/agent{i}")
        b.sent(0.0)
        delays.add(round(b.delay(), 6))
    assert len(delays) > 40
    # ...and one agent's schedule is the same every time (seeded by who it is).
    a, b2 = RegisterBackoff(1.0, "x"), RegisterBackoff(1.0, "x")
    a.sent(0.0)
    b2.sent(0.0)
    assert a.delay() == b2.delay()


def test_explicit_cap() -> None:
    b = RegisterBackoff(1.0, "a", cap=3.0)
    for t in range(10):
        b.sent(float(t))
    assert 3.0 <= b.delay() < 4.5


def _act(**kw: object) -> str:
    args: dict[str, object] = {
        "changed": False,
        "master_id": "",
        "registered": False,
        "our_master_id": None,
        "announced": None,
    }
    args.update(kw)
    return on_announcement(**args)  # type: ignore[arg-type]


def test_a_failover_costs_one_reregistration_per_agent() -> None:
    # The leader watch sees the election: send at once (the new leader's actor queues
    # it while it reads its registry).
    assert _act(changed=True, our_master_id="m1", registered=True) == "register"
    # The new leader announces itself to the agents it got nothing from: send once...
    assert _act(master_id="m2", our_master_id="m1") == "register"
    # ...and not again while waiting for its answer (the backoff resends).
    assert _act(master_id="m2", our_master_id="m1", announced="m2") == "ignore"
    # The watch arriving after the announcement sends nothing more.
    assert _act(our_master_id="m1", announced="m2") == "ignore"
    # Registered with m2: its announcement again is nothing new.
    assert _act(master_id="m2", registered=True, our_master_id="m2") == "ignore"


def test_announcements_that_still_register_at_once() -> None:
    # An agent that just started (never registered in this life) follows the watch.
    assert _act(changed=True) == "register"
    # Our master asks us back (a healed partition): we think we are registered.
    assert _act(registered=True, our_master_id="m1") == "register"
    # A restarted master actor (new id, same address) announces itself.
    assert _act(master_id="m3", registered=True, our_master_id="m2") == "register"
    # A leader that announces itself before our watch noticed the election.
    assert _act(changed=True, master_id="m2", our_master_id="m1") == "register"
