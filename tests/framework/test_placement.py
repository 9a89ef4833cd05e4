"""Shared placement: constraints (one row per rule of Marathon's constraints
documentation), resources and ports with reasons, the containerizer check, the chain."""

from __future__ import annotations

from typing import Any

import pytest

from actors.framework import (
    Agent,
    Constraint,
    Demand,
    agent_of,
    containerizer_ok,
    fit,
    match,
    place,
    port_list,
)
from actors.resources import Resources


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


def test_a_constraint_explains_its_malformation() -> None:
    assert Constraint("rack", "NEAR").problems()[0].startswith("unknown constraint operator")
    assert Constraint("rack", "MAX_PER", "0").problems() == [
        "MAX_PER value must be a positive integer, got '0'"
    ]
    assert Constraint("hostname", "UNIQUE").problems() == []


# ------------------------------------------------------------------------------- fit

OFFER = Resources.from_dict({"cpus": 2, "mem": 1024, "disk": 100, "ports": [[31000, 31002]]})

FIT_ROWS: list[tuple[str, Demand, bool, str, str, list[int]]] = [
    # (case, demand, fits, reason code, detail fragment, ports chosen)
    ("scalars fit", Demand(cpus=1, mem=512), True, "", "", []),
    ("exactly all of it", Demand(cpus=2, mem=1024, disk=100), True, "", "", []),
    (
        "cpus first",
        Demand(cpus=3, mem=4096),
        False,
        "InsufficientCpus",
        "cpus: need 3, offer has 2",
        [],
    ),
    ("memory", Demand(cpus=1, mem=2048), False, "InsufficientMemory", "mem: need 2048", []),
    ("disk", Demand(cpus=1, mem=1, disk=101), False, "InsufficientDisk", "disk: need 101", []),
    (
        "gpus are never offered here",
        Demand(cpus=1, mem=1, gpus=1),
        False,
        "InsufficientGpus",
        "gpus: need 1, offer has 0",
        [],
    ),
    ("zero asks nothing", Demand(cpus=0, mem=0), True, "", "", []),
    (
        "dynamic ports take the lowest",
        Demand(cpus=1, mem=1, ports=(0, 0)),
        True,
        "",
        "",
        [31000, 31001],
    ),
    (
        "a fixed port keeps its index",
        Demand(cpus=1, mem=1, ports=(0, 31000, 0)),
        True,
        "",
        "",
        [31001, 31000, 31002],
    ),
    (
        "a fixed port not offered",
        Demand(cpus=1, mem=1, ports=(8080,)),
        False,
        "InsufficientPorts",
        "host port 8080 is not offered",
        [],
    ),
    (
        "too many dynamic ports",
        Demand(cpus=1, mem=1, ports=(0, 0, 0, 0)),
        False,
        "InsufficientPorts",
        "need 4 port(s), offer has 3",
        [],
    ),
]


@pytest.mark.parametrize(
    ("case", "demand", "fits", "reason", "detail", "ports"), FIT_ROWS, ids=[r[0] for r in FIT_ROWS]
)
def test_fit(
    case: str, demand: Demand, fits: bool, reason: str, detail: str, ports: list[int]
) -> None:
    got = fit(demand, OFFER)
    assert got.ok is fits, got
    assert got.reason == reason
    assert detail in got.detail
    assert got.ports == ports
    if fits:
        assert got.resources is not None and OFFER.contains(got.resources)
        offered = {x for begin, end in got.resources.ranges("ports") for x in range(begin, end + 1)}
        assert offered == set(ports)


def test_fit_takes_the_chosen_ports_and_scalars() -> None:
    got = fit(Demand(cpus=0.5, mem=64, ports=(0,)), OFFER)
    assert got.resources == Resources.from_dict({"cpus": 0.5, "mem": 64, "ports": [[31000, 31000]]})


def test_fit_honours_ports_already_taken_from_the_offer() -> None:
    free = port_list(OFFER)
    first = fit(Demand(cpus=0.1, mem=1, ports=(0,)), OFFER, free)
    free.remove(first.ports[0])
    second = fit(Demand(cpus=0.1, mem=1, ports=(0,)), OFFER, free)
    assert (first.ports, second.ports) == ([31000], [31001])


def test_resources_reserved_for_a_role_are_not_taken_as_unreserved() -> None:
    reserved = Resources.from_scalars({"cpus": 2, "mem": 1024}, role="ops")
    got = fit(Demand(cpus=1, mem=64), reserved)
    assert (got.ok, got.reason) == (False, "UnfulfilledRole")
    assert "reserved for a role" in got.detail


def test_port_list_caps_a_huge_range() -> None:
    ports = port_list(Resources.from_dict({"ports": [[1000, 65000], [65100, 65101]]}))
    assert ports[0] == 1000 and ports[2000] == 3000 and ports[-2:] == [65100, 65101]
    assert len(ports) == 2003


@pytest.mark.parametrize(
    ("field", "value"), [("cpus", -1), ("mem", "1"), ("disk", True), ("ports", (70000,))]
)
def test_a_bad_demand_names_the_field(field: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"cpus": 1, "mem": 1, field: value}
    with pytest.raises(ValueError, match=f"Demand.{field}"):
        Demand(**kwargs)


# ------------------------------------------------------------------- containerizer

CONTAINERIZER_ROWS = [
    # (case, agent attributes, kind, ok, reason fragment)
    ("an agent that does not say is trusted", {}, "docker", True, ""),
    ("a mesos agent runs a mesos task", {"containerizers": "mesos"}, "mesos", True, ""),
    (
        "a mesos agent refuses docker",
        {"containerizers": "mesos"},
        "docker",
        False,
        "agent h runs mesos, the task needs docker",
    ),
    ("a list with spaces", {"containerizers": "mesos, docker"}, "docker", True, ""),
    ("the real agent's 'mesos/docker'", {"containerizers": "mesos/docker"}, "docker", True, ""),
    ("simulated runs anything", {"containerizers": "simulated"}, "docker", True, ""),
    ("docker only refuses mesos", {"containerizers": "docker"}, "mesos", False, "needs mesos"),
]


@pytest.mark.parametrize(
    ("case", "attrs", "kind", "ok", "fragment"),
    CONTAINERIZER_ROWS,
    ids=[r[0] for r in CONTAINERIZER_ROWS],
)
def test_containerizer(
    case: str, attrs: dict[str, str], kind: str, ok: bool, fragment: str
) -> None:
    got = containerizer_ok(kind, Agent("h", attrs))
    assert got.ok is ok
    assert fragment in got.reason


def test_an_unknown_containerizer_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'rkt'"):
        containerizer_ok("rkt", Agent("h"))


# -------------------------------------------------------------------------- chain


def test_agent_of_an_offer_reads_attributes_as_text() -> None:
    from actors import protocol as p

    offer = p.Offer("o1", "f", "a1", "h1", {}, attributes={"rack": 1.0, "zone": "z"})
    agent = agent_of(offer)
    assert (agent.hostname, dict(agent.attributes)) == ("h1", {"rack": "1", "zone": "z"})


PLACE_ROWS: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, place() keywords, reason code, detail fragment): resources come first,
    # then the containerizer, then the constraints
    ("fits", {}, "", ""),
    (
        "resources first",
        {"demand": Demand(cpus=9, mem=1), "containerizer": "docker"},
        "InsufficientCpus",
        "cpus",
    ),
    (
        "containerizer next",
        {
            "containerizer": "docker",
            "constraints": [Constraint("hostname", "UNIQUE")],
            "placed": [Agent("a.example")],
        },
        "UnsupportedContainerizer",
        "needs docker",
    ),
    (
        "constraints last",
        {
            "containerizer": "mesos",
            "constraints": [Constraint("hostname", "UNIQUE")],
            "placed": [Agent("a.example")],
        },
        "UnfulfilledConstraint",
        "constraint hostname:UNIQUE: host a.example",
    ),
]


@pytest.mark.parametrize(
    ("case", "kwargs", "reason", "detail"), PLACE_ROWS, ids=[r[0] for r in PLACE_ROWS]
)
def test_place_chain(case: str, kwargs: dict[str, Any], reason: str, detail: str) -> None:
    demand = kwargs.pop("demand", Demand(cpus=1, mem=1))
    agent = Agent("a.example", {"containerizers": "mesos"})
    got = place(demand, OFFER, agent, **kwargs)
    assert (got.ok, got.reason) == (not reason, reason)
    assert detail in got.detail
