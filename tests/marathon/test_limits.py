"""Issue 30, pure part: poison input is refused at the edge, naming the field.

Each row is one bad value (or its accepted neighbour) for one field; the e2e twin of this
table is tests/e2e/test_bad_input.py. The limits themselves live in actors/_validation.py
and are listed in actors/marathon/README.md ("Limits").
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from actors import _validation as limits
from actors._validation import BadJson, json_problems, parse_json_body
from actors.agent import TaskSpec
from actors.agent import validate_spec as agent_validate
from actors.marathon import AppDefinition, Group, ValidationFailed, patch_app
from actors.metronome import JobSpec
from actors.metronome import ValidationFailed as JobInvalid

V1 = "2024-01-01T00:00:00.000Z"


def app(**fields: Any) -> dict[str, Any]:
    return {"id": "/web", "cmd": "sleep 100", **fields}


def refused(data: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as info:
        AppDefinition.from_json(data)
    assert info.value.body["message"] == "Object is not valid"
    return {d["path"]: d["errors"] for d in info.value.details}


# ------------------------------------------------------------------------- JSON bodies


@pytest.mark.parametrize(
    ("body", "path", "literal"),
    [
        (b'{"id": "/a", "cpus": NaN}', "/cpus", "NaN"),
        (b'{"id": "/a", "mem": Infinity}', "/mem", "Infinity"),
        (b'{"id": "/a", "disk": -Infinity}', "/disk", "-Infinity"),
        (b'{"id": "/a", "cpus": 1e309}', "/cpus", "1e309"),
        (b'{"id": "/a", "mem": -1e309}', "/mem", "-1e309"),
        (b'{"apps": [{"id": "a", "instances": 1, "cpus": NaN}]}', "/apps/0/cpus", "NaN"),
        (b'{"run": {"env": {"a/b": 1}, "mem": NaN}}', "/run/mem", "NaN"),
        (b'[1, 2, {"x": [NaN]}]', "/2/x/0", "NaN"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_field(
    body: bytes, path: str, literal: str
) -> None:
    """Python's json reads NaN/Infinity literals and turns 1e309 into inf; a NaN cpus once
    killed every master (issue 30). The parser refuses them, saying where."""
    with pytest.raises(BadJson) as info:
        parse_json_body(body)
    assert info.value.path == path
    assert literal in info.value.reason and "finite" in info.value.reason


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"cpus": -0.0}', {"cpus": 0.0}),
        (b'{"cpus": -0}', {"cpus": 0}),
        (b'{"cpus": 1.7976931348623157e308}', {"cpus": 1.7976931348623157e308}),
        (b'{"n": 1000000000000000000000000000000}', {"n": 10**30}),  # the model's business
        (b'{"s": "NaN"}', {"s": "NaN"}),
        ('{"s": "é"}', {"s": "é"}),
    ],
)
def test_the_neighbours_of_refused_numbers_parse(body: bytes | str, expected: Any) -> None:
    doc = parse_json_body(body)
    assert doc == expected
    value = next(iter(doc.values()))
    if isinstance(value, float):
        assert math.copysign(1.0, value) == 1.0  # -0.0 reads as 0.0


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [limits.MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_deep_nesting_is_a_400_not_a_recursion_error(depth: int) -> None:
    """1,000 and 100,000 levels answered 500 (RecursionError); now a BadJson (400)."""
    with pytest.raises(BadJson) as info:
        parse_json_body(nested(depth))
    assert "nested deeper than 64 levels" in info.value.reason
    with pytest.raises(BadJson):
        parse_json_body(b'{"id": "/a", "labels": ' + nested(depth) + b"}")


def test_nesting_up_to_the_limit_parses() -> None:
    assert parse_json_body(nested(limits.MAX_JSON_DEPTH)) is not None
    brackets_in_strings = json.dumps({"cmd": "[" * 10_000}).encode()
    assert parse_json_body(brackets_in_strings) == {"cmd": "[" * 10_000}


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"a": 1,}', b"\xff\xfe", b'{"a": 1} 2', b"1" * 5000, b"'single'"],
)
def test_malformed_bodies_are_bad_json(body: bytes) -> None:
    with pytest.raises(BadJson) as info:
        parse_json_body(body)
    assert info.value.path == "/"
    assert info.value.reason.startswith("malformed JSON")


def test_json_problems_walks_python_documents_without_recursing() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    problems = json_problems({"a": [1.5, float("nan")], "b": {"c": -(2**60)}, "d": deep})
    paths = [p for p, _ in problems]
    assert paths[:2] == ["/a/1", "/b/c"]
    assert paths[2].startswith("/d/0/0")
    assert json_problems({"ok": [True, 2**53, -(2**53), 1e308, "x"]}) == []


# --------------------------------------------------------------------------- apps


@pytest.mark.parametrize(
    ("fields", "path", "says"),
    [
        ({"cpus": float("nan")}, "/cpus", "nan"),
        ({"mem": float("inf")}, "/mem", "inf"),
        ({"disk": float("-inf")}, "/disk", "-inf"),
        ({"instances": 10**30}, "/instances", "1000000000000000000000000000000"),
        ({"instances": 10**12}, "/instances", "10000"),
        ({"instances": limits.MAX_INSTANCES + 1}, "/instances", "10001"),
        ({"instances": -1}, "/instances", "-1"),
        ({"cpus": 0}, "/cpus", "0.01"),
        ({"cpus": -0.5}, "/cpus", "-0.5"),
        ({"cpus": 1024.5}, "/cpus", "1024"),
        ({"mem": 16}, "/mem", "32"),
        ({"mem": 31.99}, "/mem", "31.99"),
        ({"mem": 0}, "/mem", "32"),
        ({"mem": 5 * 1024 * 1024}, "/mem", "maximum"),
        ({"disk": -1}, "/disk", "-1"),
        ({"disk": 10**9}, "/disk", "maximum"),
        ({"gpus": 65}, "/gpus", "64"),
        ({"gpus": 1.5}, "/gpus", "integer"),
        ({"ports": list(range(1000, 1101))}, "/ports", "101 items"),
        ({"ports": [65536]}, "/ports/0", "65535"),
        ({"ports": [-1]}, "/ports/0", "-1"),
        ({"portDefinitions": [{"port": 70000}]}, "/portDefinitions/0/port", "70000"),
        ({"labels": {"k": "v" * 8193}}, "/labels/k", "8193 characters"),
        ({"labels": {"k" * 256: "v"}}, "/labels", "256 characters"),
        ({"labels": {f"k{i}": "v" for i in range(257)}}, "/labels", "257 entries"),
        ({"env": {"A": "v" * 32_769}}, "/env/A", "32769 characters"),
        ({"env": {"A=B": "v"}}, "/env", "'A=B'"),
        ({"env": {"A": "a\x00b"}}, "/env/A", "NUL"),
        ({"env": {f"E{i}": "v" for i in range(1001)}}, "/env", "1001 entries"),
        ({"cmd": "x" * 32_769}, "/cmd", "32769 characters"),
        ({"cmd": "echo \x00"}, "/cmd", "NUL"),
        ({"healthChecks": [{"protocol": "TCP"}] * 17}, "/healthChecks", "17 items"),
        ({"healthChecks": [{"intervalSeconds": 10**12}]}, "/healthChecks/0/intervalSeconds", ""),
        ({"backoffSeconds": 1e300}, "/backoffSeconds", "maximum"),
        ({"backoffFactor": float("nan")}, "/backoffFactor", "nan"),
        ({"upgradeStrategy": {"minimumHealthCapacity": float("nan")}}, "/upgradeStrategy", ""),
        ({"taskKillGracePeriodSeconds": 10**9}, "/taskKillGracePeriodSeconds", "maximum"),
    ],
)
def test_every_bad_app_field_is_a_422_naming_it(
    fields: dict[str, Any], path: str, says: str
) -> None:
    errors = refused(app(**fields))
    matching = [p for p in errors if p.startswith(path)]
    assert matching, errors
    text = " ".join(m for p in matching for m in errors[p])
    assert says in text, errors
    assert all(len(m) < 400 for p in errors for m in errors[p]), "messages never quote a huge value"


@pytest.mark.parametrize(
    "fields",
    [
        {"cpus": limits.MIN_CPUS, "mem": limits.MIN_MEM_MB},
        {"cpus": limits.MAX_CPUS, "mem": limits.MAX_MEM_MB, "disk": limits.MAX_DISK_MB},
        {"instances": limits.MAX_INSTANCES},
        {"instances": 0},
        {"disk": -0.0, "gpus": limits.MAX_GPUS},
        {"ports": list(range(1000, 1000 + limits.MAX_PORTS))},
        {"ports": [0, 65535]},
        {"labels": {"k" * 255: "v" * 8192}},
        {"env": {"A": "v" * 32_768, "B": "new\nline\ttab"}},
        {"cmd": "x" * 32_768},
        {"healthChecks": [{"protocol": "TCP"}] * limits.MAX_HEALTH_CHECKS},
    ],
)
def test_values_at_the_limits_are_accepted(fields: dict[str, Any]) -> None:
    built = AppDefinition.from_json(app(**fields))
    assert built.to_json()["id"] == "/web"
    assert AppDefinition.from_json(built.to_json()) == built  # a stored app reloads


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("/a/../b", "'..'"),
        ("/a/./b", "'.'"),
        ("/a//b", "empty segment"),
        ("/Web", "'Web'"),
        ("/web\x00", "control character"),
        ("/web\n", "control character"),
        ("/we\x1bb", "control character"),
        ("/web\x7f", "control character"),
        ("/" + "a" * 5000, "5001 characters"),
        ("/" + "a" * limits.MAX_ID_LENGTH, "256 characters"),
        ("/a_b", "'a_b'"),
        ("/-a", "'-a'"),
        ("/a-", "'a-'"),
        ("/..", "'..'"),
        ("/", "root"),
        ("", "empty"),
    ],
)
def test_bad_ids_are_refused_naming_the_id(raw: str, says: str) -> None:
    errors = refused(app(id=raw))
    assert list(errors) == ["/id"], errors
    assert says in errors["/id"][0], errors


def test_an_id_of_the_maximum_length_is_accepted() -> None:
    raw = "/" + "/".join(["a" * 50] * 5)  # 255 characters
    assert len(raw) == limits.MAX_ID_LENGTH
    assert AppDefinition.from_json(app(id=raw)).id == raw


def test_dependencies_may_still_climb_with_dot_dot() -> None:
    """Only ids are never normalised; a dependency points at another app (`../db`)."""
    built = AppDefinition.from_json(app(id="/prod/web", dependencies=["../db", "/x/../y"]))
    assert built.dependencies == ("/db", "/y")


def test_a_patch_cannot_smuggle_a_bad_value_in() -> None:
    existing = AppDefinition.from_json(app())
    cases: list[tuple[dict[str, Any], str]] = [
        ({"instances": 10**6}, "/instances"),
        ({"mem": 16}, "/mem"),
        ({"cpus": float("nan")}, "/cpus"),
        ({"id": "/web/../web"}, "/id"),
    ]
    for patch, path in cases:
        with pytest.raises(ValidationFailed) as info:
            patch_app(existing, patch, version=V1)
        assert path in info.value.paths, (patch, info.value.details)


# -------------------------------------------------------------------------- groups


def test_a_group_document_holds_at_most_max_apps() -> None:
    def doc(n: int) -> dict[str, Any]:
        half = n // 2
        return {
            "id": "/g",
            "apps": [{"id": f"a{i}", "cmd": "x"} for i in range(half)],
            "groups": [
                {"id": "sub", "apps": [{"id": f"b{i}", "cmd": "x"} for i in range(n - half)]}
            ],
        }

    assert len(Group.from_json(doc(4), max_apps=4).transitive_apps()) == 4
    with pytest.raises(ValidationFailed) as info:
        Group.from_json(doc(5), max_apps=4)
    assert info.value.details == [
        {"path": "/apps", "errors": ["the group holds 5 apps: at most 4 are allowed"]}
    ]
    with pytest.raises(ValidationFailed):
        Group.from_json(doc(limits.MAX_GROUP_APPS + 1), max_apps=limits.MAX_GROUP_APPS)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"id": "/a/../b"}, "/id"),
        ({"id": "/G"}, "/id"),
        ({"id": 5}, "/id"),
        ({"id": "/g", "apps": {"id": "x"}}, "/apps"),
        ({"id": "/g", "apps": [{"id": "a", "cmd": "x", "cpus": float("nan")}]}, "/apps/0/cpus"),
        ({"id": "/g", "groups": [{"id": "/g/sub/../x"}]}, "/groups/0/id"),
        ({"id": "/g", "apps": [{"id": "a", "cmd": "x", "instances": 10**12}]}, "/apps/0/instances"),
    ],
)
def test_bad_groups_are_refused_naming_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        Group.from_json(data)
    assert path in info.value.paths, info.value.details


def test_a_group_nested_past_the_json_depth_is_refused_without_recursing() -> None:
    doc: dict[str, Any] = {"id": "/g0"}
    for depth in range(1, 2000):
        doc = {"id": "/" + "/".join(f"g{i}" for i in range(depth, -1, -1)), "groups": [doc]}
    with pytest.raises(ValidationFailed) as info:
        Group.from_json(doc)
    assert "nested deeper than 64 levels" in info.value.details[0]["errors"][0]


# --------------------------------------------------------- the same minimums everywhere


@pytest.mark.parametrize(
    ("cpus", "mem", "ok"),
    [
        (limits.MIN_CPUS, limits.MIN_MEM_MB, True),
        (1.0, 31.0, False),
        (0.0, 128.0, False),
        (0.005, 128.0, False),
        (float("nan"), 128.0, False),
        (1.0, float("nan"), False),
    ],
)
def test_marathon_metronome_and_the_agent_share_their_minimums(
    cpus: float, mem: float, ok: bool
) -> None:
    """Issue 30: Marathon accepted mem 16 and every launch then failed (TASK_ERROR) while
    Metronome refused it. One constant decides for all three now."""
    marathon_ok = metronome_ok = True
    try:
        AppDefinition.from_json(app(cpus=cpus, mem=mem))
    except ValidationFailed:
        marathon_ok = False
    try:
        JobSpec.from_json({"id": "j", "run": {"cmd": "x", "cpus": cpus, "mem": mem}})
    except JobInvalid:
        metronome_ok = False
    agent_ok = agent_validate(TaskSpec(task_id="t", command="x", cpus=cpus, mem=mem)) is None
    assert (marathon_ok, metronome_ok, agent_ok) == (ok, ok, ok)
