"""Constraint matching, one row per rule of Marathon's constraints documentation."""

from __future__ import annotations

import pytest

from actors.marathon import Agent, Constraint, match


def agent(host: str, **attrs: str) -> Agent:
    return Agent(host, attrs)


A = agent("a.example", rack="r1", zone="z1")
B = agent("b.example", rack="r2", zone="z1")
C = agent("c.example", rack="r3", zone="z2")
NO_RACK = agent("d.example")

ROWS = [
    # (rule cited, constraint, offer agent, placed agents, ok, reason fragment)
    ("UNIQUE: one instance per host", ["hostname", "UNIQUE"], A, [B], True, ""),
    (
        "UNIQUE refuses a host that runs one",
        ["hostname", "UNIQUE"],
        A,
        [A],
        False,
        "hostname:UNIQUE: host a.example already runs an instance",
    ),
    ("UNIQUE on an attribute", ["rack", "UNIQUE"], agent("x", rack="r1"), [A], False, "rack=r1"),
    ("CLUSTER with value: only that value", ["rack", "CLUSTER", "r2"], B, [], True, ""),
    ("CLUSTER with value refuses others", ["rack", "CLUSTER", "r2"], A, [], False, "rack=r2"),
    ("CLUSTER without value: first placement is free", ["zone", "CLUSTER"], C, [], True, ""),
    ("CLUSTER without value: follow the first", ["zone", "CLUSTER"], B, [A], True, ""),
    ("CLUSTER without value: refuse another", ["zone", "CLUSTER"], C, [A], False, "zone=z1"),
    ("GROUP_BY: a new value is always fine", ["rack", "GROUP_BY"], B, [A], True, ""),
    ("GROUP_BY: least loaded value is fine", ["rack", "GROUP_BY"], A, [A, B], True, ""),
    ("GROUP_BY: refuse the more loaded value", ["rack", "GROUP_BY"], A, [A, B, A], False, "runs 2"),
    (
        "GROUP_BY value: wait for enough distinct values",
        ["rack", "GROUP_BY", "3"],
        A,
        [A, B],
        False,
        "only 2 of 3",
    ),
    ("GROUP_BY value: a new value is fine", ["rack", "GROUP_BY", "3"], C, [A, B], True, ""),
    ("LIKE: full regex match", ["rack", "LIKE", "r[12]"], B, [], True, ""),
    ("LIKE: partial match is not a match", ["rack", "LIKE", "r"], A, [], False, "does not match"),
    ("LIKE: missing attribute fails", ["rack", "LIKE", ".*"], NO_RACK, [], False, "no attribute"),
    ("UNLIKE: refuse a match", ["rack", "UNLIKE", "r[12]"], A, [], False, "matches r[12]"),
    ("UNLIKE: accept a non-match", ["rack", "UNLIKE", "r[12]"], C, [], True, ""),
    ("UNLIKE: missing attribute passes", ["rack", "UNLIKE", "r1"], NO_RACK, [], True, ""),
    ("MAX_PER: below the limit", ["rack", "MAX_PER", "2"], A, [A], True, ""),
    ("MAX_PER: at the limit", ["rack", "MAX_PER", "2"], A, [A, A], False, "(max 2)"),
    ("IS: exact match", ["zone", "IS", "z2"], C, [], True, ""),
    ("IS: no partial match", ["zone", "IS", "z"], C, [], False, "needs exactly z"),
    ("hostname LIKE", ["hostname", "LIKE", "[ab]\\.example"], B, [], True, ""),
]


@pytest.mark.parametrize(
    ("rule", "raw", "offer", "placed", "ok", "fragment"), ROWS, ids=[r[0] for r in ROWS]
)
def test_constraint_rule(
    rule: str,
    raw: list[str],
    offer: Agent,
    placed: list[Agent],
    ok: bool,
    fragment: str,
) -> None:
    result = match([Constraint.from_json(raw)], offer, placed)
    assert result.ok is ok, result.reason
    if not ok:
        assert fragment in result.reason
    else:
        assert result.reason == "ok"


def test_all_refusals_are_explained_together() -> None:
    """Placement explains itself: every failing constraint is named."""
    constraints = [Constraint("hostname", "UNIQUE"), Constraint("zone", "IS", "z2")]
    ok, reason = match(constraints, A, [A])
    assert not ok
    assert "hostname:UNIQUE" in reason and "zone:IS:z2" in reason


def test_no_constraints_always_match() -> None:
    assert match([], A, [A, A]) == (True, "ok")
