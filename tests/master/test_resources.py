"""Resources and attributes: Mesos' text syntax, fixed-point scalars, arithmetic laws."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.resources import (
    Attributes,
    ResourceError,
    Resources,
    parse_attributes,
    parse_resources,
    reserved_resources_json,
    to_mesos_json,
)

R = Resources.parse


# --------------------------------------------------------------------------- parsing


def test_parses_mesos_agent_resources_flag() -> None:
    r = R("cpus:4;mem:8192;disk:20000;ports:[31000-32000]")
    assert r.scalars() == {"cpus": 4.0, "mem": 8192.0, "disk": 20000.0}
    assert r.ranges("ports") == ((31000, 32000),)


def test_parses_several_port_spans_and_merges_adjacent_ones() -> None:
    r = R("ports:[31000-31005,32000-32100]")
    assert r.ranges("ports") == ((31000, 31005), (32000, 32100))
    assert R("ports:[1-5,6-9]").ranges("ports") == ((1, 9),)


def test_role_reserved_form_keeps_the_role_apart_from_unreserved() -> None:
    r = R("cpus:2;cpus(web):2;mem(web):1024")
    assert r.scalar("cpus") == 4.0
    assert r.scalar("cpus", "web") == 2.0
    assert r.reserved() == R("cpus(web):2;mem(web):1024")
    assert r.unreserved() == R("cpus:2")
    assert r.allocatable_to("batch") == R("cpus:2")
    assert r.allocatable_to("web") == r


def test_repeated_entries_add_up_like_mesos() -> None:
    assert R("cpus:1;cpus:2.5").scalar("cpus") == 3.5


def test_sets_parse_and_subtract() -> None:
    r = R("disks:{sda,sdb,sdc}")
    assert r.set("disks") == frozenset({"sda", "sdb", "sdc"})
    assert (r - R("disks:{sdb}")).set("disks") == frozenset({"sda", "sdc"})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("cpus:-1", "cpus"),
        ("cpus:nan", "nan"),
        ("mem:inf", "inf"),
        ("mem:1e300", "exceeds"),
        ("cpus:abc", "abc"),
        ("cpus", "cpus"),
        ("ports:[5-1]", "5-1"),
        ("ports:[1-10,5-20]", "overlapping"),
        ("ports:[1-10];ports:[5-6]", "overlapping"),
        ("ports:[1-]", "1-"),
        ("ports:[]", "empty"),
        ("ports:[0-70000]", "70000"),
        ("ports:4", "ranges"),
        ("cpus:[1-2]", "scalar"),
        ("gpus:0.5", "whole"),
        ("cpus(bad role):1", "bad role"),
        ("cp us:1", "cp us"),
        ("disks:{a,,b}", "disks"),
        ("cpus:1_000", "1_000"),
    ],
)
def test_bad_input_raises_resource_error_naming_field_and_value(text: str, fragment: str) -> None:
    with pytest.raises(ResourceError) as err:
        parse_resources(text)
    assert fragment in str(err.value)
    assert isinstance(err.value, ValueError)


def test_text_form_round_trips() -> None:
    r = R("cpus:0.5;mem:128;cpus(web):2;ports:[31000-31005,32000-32100];disks:{a,b}")
    assert R(str(r)) == r


# --------------------------------------------------------------------------- fixed point


def test_fixed_point_scalars_never_drift() -> None:
    """Mesos keeps 3 decimals in fixed point, so 0.1 + 0.2 is exactly 0.3."""
    a = Resources.from_scalars({"cpus": 0.1}) + Resources.from_scalars({"cpus": 0.2})
    assert a == Resources.from_scalars({"cpus": 0.3})
    assert a.contains(Resources.from_scalars({"cpus": 0.3}))
    total = Resources()
    for _ in range(10):
        total = total + R("cpus:0.1")
    assert total - R("cpus:1") == Resources()


def test_scalars_round_to_three_decimals() -> None:
    assert R("cpus:0.0004") == Resources()
    assert R("cpus:0.0006").scalar("cpus") == 0.001


# --------------------------------------------------------------------------- arithmetic


def test_subtracting_what_is_not_there_raises() -> None:
    with pytest.raises(ResourceError, match="not contained"):
        R("cpus:1") - R("cpus:2")
    with pytest.raises(ResourceError):
        R("ports:[1-10]") - R("ports:[5-15]")
    with pytest.raises(ResourceError):  # reserved for another role is not the same resource
        R("cpus(web):2") - R("cpus:1")


def test_port_range_subtraction_splits_spans() -> None:
    assert (R("ports:[1-10]") - R("ports:[4-5]")).ranges("ports") == ((1, 3), (6, 10))


def test_saturating_sub_clamps_at_zero() -> None:
    assert R("cpus:1;mem:10").saturating_sub(R("cpus:2")) == R("mem:10")


def test_resources_are_hashable_values() -> None:
    assert {R("cpus:1;mem:2"), R("mem:2;cpus:1")} == {R("cpus:1;mem:2")}


def test_shrink_scalars_caps_and_rounds_gpus_down() -> None:
    r = R("cpus:8;gpus:4;mem:100")
    assert r.shrink_scalars({"cpus": 2500, "gpus": 1500}) == R("cpus:2.5;gpus:1;mem:100")
    assert r.shrink_scalars({"mem": 0}) == R("cpus:8;gpus:4")


def test_reserve_moves_everything_to_the_role() -> None:
    assert R("cpus:1;ports:[1-2]").reserve("web") == R("cpus(web):1;ports(web):[1-2]")


# --------------------------------------------------------------------------- serialization


def test_plain_dict_round_trip_is_msgpack_friendly() -> None:
    msgpack = pytest.importorskip("msgpack")
    r = R("cpus:4;cpus(web):1.5;ports:[1-3,7-9];disks:{a,b}")
    data = r.to_dict()
    assert data == {"cpus": 4.0, "cpus(web)": 1.5, "ports": [[1, 3], [7, 9]], "disks": ["a", "b"]}
    assert Resources.from_dict(msgpack.unpackb(msgpack.packb(data))) == r


def test_from_dict_validates_like_parse() -> None:
    with pytest.raises(ResourceError, match="cpus"):
        Resources.from_dict({"cpus": -1})
    with pytest.raises(ResourceError, match="overlapping"):
        Resources.from_dict({"ports": [[1, 5], [3, 8]]})
    with pytest.raises(ResourceError, match="finite"):
        Resources.from_dict({"mem": math.nan})


def test_mesos_state_json_shape() -> None:
    r = R("cpus:4;mem:8192;disk:20000;ports:[31000-32000];cpus(web):1")
    assert to_mesos_json(r) == {
        "cpus": 5.0,
        "mem": 8192.0,
        "disk": 20000.0,
        "gpus": 0.0,
        "ports": "[31000-32000]",
    }
    assert reserved_resources_json(r) == {
        "web": {"cpus": 1.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
    }


# --------------------------------------------------------------------------- attributes


def test_attributes_take_mesos_types_from_their_shape() -> None:
    a = parse_attributes("zone:a;rack:r1;ssd:true;level:3.5;ports:[1-4];tags:{x,y}")
    assert a["zone"] == "a"
    assert a["ssd"] == "true"  # Mesos: "true" is TEXT, there is no boolean type
    assert a["level"] == 3.5
    assert a["ports"] == ((1, 4),)
    assert a["tags"] == frozenset({"x", "y"})
    assert Attributes.from_dict(a.to_dict()) == a
    assert parse_attributes(a.to_text()) == a
    assert a.to_dict()["ports"] == "[1-4]"


@pytest.mark.parametrize("text", ["zone", "zone:a;zone:b", "zone:a b", "level:[3-1]", ":x"])
def test_bad_attributes_raise(text: str) -> None:
    with pytest.raises(ResourceError):
        parse_attributes(text)


# --------------------------------------------------------------------------- properties

names = st.sampled_from(["cpus", "mem", "disk"])
roles = st.sampled_from(["*", "web"])


@st.composite
def resources(draw: st.DrawFn) -> Resources:
    """Scalars in two roles plus a few (possibly overlapping, hence merged) port spans."""
    out = Resources()
    for name, role, milli in draw(st.lists(st.tuples(names, roles, st.integers(0, 50_000)))):
        out = out + Resources.from_scalars({name: milli / 1000}, role)
    for begin, width in draw(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20)))):
        out = out + R(f"ports:[{begin}-{begin + width}]")
    return out


def _ports(r: Resources) -> set[int]:
    return {p for lo, hi in r.ranges("ports") for p in range(lo, hi + 1)}


@settings(max_examples=200, deadline=None)
@given(resources(), resources())
def test_add_then_subtract_round_trips(a: Resources, b: Resources) -> None:
    assert (a + b).contains(a)
    assert (a + b).contains(b)
    if not _ports(a) & _ports(b):  # ranges are sets: a shared port is only counted once
        assert (a + b) - b == a
        assert (a + b) - a == b


@settings(max_examples=200, deadline=None)
@given(resources(), resources())
def test_contains_is_consistent_with_subtract(a: Resources, b: Resources) -> None:
    if a.contains(b):
        rest = a - b
        assert rest + b == a
    else:
        with pytest.raises(ResourceError):
            a - b


@settings(max_examples=200, deadline=None)
@given(resources(), resources())
def test_subtraction_never_goes_negative(a: Resources, b: Resources) -> None:
    for r in (a.saturating_sub(b), a - b if a.contains(b) else Resources()):
        assert all(v > 0 for v in r.to_dict().values() if isinstance(v, float))
        assert a.contains(r)
