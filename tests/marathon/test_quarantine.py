"""The pure half of Marathon's quarantine (issue 30: nothing stored can crash a leader).

Which stored records are refused, how the root group is salvaged around a bad app, and
that a quarantined record is written back around the leader's own writes so that it
stays stored until a user replaces or deletes it.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from actors.marathon._quarantine import (
    BadRecord,
    Quarantine,
    Quarantined,
    QuarantineKeepingStore,
    check_app,
    check_group,
    instance_problem,
    non_finite,
    salvage_root,
)
from actors.marathon._store import MemoryMarathonStore

GOOD = {"id": "/good", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1}
POISON = {**GOOD, "id": "/poison", "cpus": math.nan}


def test_non_finite_names_the_first_nan_or_infinity_and_survives_deep_nesting() -> None:
    assert non_finite({"a": [1, 2.5, {"b": "x"}], "c": None}) is None
    assert non_finite({"a": [1, {"b": math.inf}]}) == "/a/1/b"
    assert non_finite(math.nan) == "/"
    deep: Any = -math.inf
    for _ in range(100_000):
        deep = [deep]
    assert non_finite(deep) == "/0" * 100_000


def test_check_app_accepts_a_valid_app_and_refuses_a_poison_one_naming_the_field() -> None:
    assert check_app(GOOD).id == "/good"
    with pytest.raises(BadRecord, match="/cpus: not a finite number"):
        check_app(POISON)
    with pytest.raises(BadRecord, match="JSON object, not list"):
        check_app([GOOD])
    with pytest.raises(BadRecord, match="instances"):
        check_app({**GOOD, "instances": "many"})


def test_salvage_root_keeps_the_valid_apps_and_takes_out_each_bad_one() -> None:
    root = {
        "id": "/",
        "apps": [GOOD, POISON],
        "groups": [
            {"id": "/prod", "apps": [{**GOOD, "id": "/prod/web"}, {"id": "/prod/bad", "x": 1}]}
        ],
    }
    group, bad = salvage_root(root)
    assert sorted(group.transitive_apps()) == ["/good", "/prod/web"]
    assert sorted((b.app_id, b.group_id) for b in bad) == [("/poison", "/"), ("/prod/bad", "/prod")]
    assert "cpus" in next(b.reason for b in bad if b.app_id == "/poison")
    assert root["apps"] == [GOOD, POISON], "the stored document itself is left as it was"


def test_a_group_level_problem_makes_the_whole_root_unusable() -> None:
    with pytest.raises(BadRecord, match="garbage"):
        salvage_root({"id": "/", "apps": [GOOD], "garbage": True})
    with pytest.raises(BadRecord, match="JSON object"):
        salvage_root("not a group")
    with pytest.raises(BadRecord, match="not a finite number"):
        check_group({"id": "/", "apps": [GOOD], "version": math.inf})


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"taskId": "t", "appId": "/a"}, "/configVersion"),
        ("junk", "JSON object"),
        (
            {
                "taskId": "t",
                "appId": "/a",
                "configVersion": "v",
                "version": "v",
                "agentId": "s",
                "host": "h",
                "stagedAt": math.nan,
            },
            "/stagedAt: not a finite number",
        ),
    ],
)
def test_instance_problem_names_the_field(record: Any, problem: str) -> None:
    found = instance_problem(record)
    assert found is not None and problem in found


def test_a_valid_instance_record_has_no_problem_and_a_bad_state_or_port_has() -> None:
    record = {
        "taskId": "a.1",
        "appId": "/a",
        "configVersion": "v1",
        "version": "v1",
        "agentId": "S1",
        "host": "agent-1",
        "ports": [31000],
        "stagedAt": 1.5,
        "startedAt": None,
        "state": "TASK_RUNNING",
    }
    assert instance_problem(record) is None
    assert "/state" in (instance_problem({**record, "state": "TASK_DANCING"}) or "")
    assert "/ports" in (instance_problem({**record, "ports": [70000]}) or "")


def _kept(q: Quarantine, root: dict[str, Any]) -> None:
    _, bad = salvage_root(root)
    for b in bad:
        assert b.app_id is not None
        q.kept_apps[b.app_id] = b
        q.quarantine_app(b.app_id, "/marathon/docs/root", b.reason)


def test_the_store_writes_a_quarantined_app_back_into_every_root_it_saves() -> None:
    q = Quarantine()
    _kept(q, {"id": "/", "apps": [GOOD, POISON]})
    inner = MemoryMarathonStore()
    store = QuarantineKeepingStore(inner, q)
    store.save_root({"id": "/", "apps": [GOOD, {**GOOD, "id": "/new"}], "groups": []})
    assert inner.root is not None
    assert [a["id"] for a in inner.root["apps"]] == ["/good", "/new", "/poison"]
    assert math.isnan(inner.root["apps"][-1]["cpus"])
    assert [e["id"] for e in q.to_json()] == ["/poison"]


def test_a_valid_definition_with_the_same_id_replaces_the_quarantined_app() -> None:
    q = Quarantine()
    _kept(q, {"id": "/", "apps": [GOOD, POISON]})
    inner = MemoryMarathonStore()
    QuarantineKeepingStore(inner, q).save_root(
        {"id": "/", "apps": [GOOD, {**GOOD, "id": "/poison"}]}
    )
    assert inner.root is not None
    assert [a["cpus"] for a in inner.root["apps"]] == [0.1, 0.1]
    assert q.to_json() == [] and q.apps == {} and q.kept_apps == {}


def test_a_quarantined_app_goes_with_its_group() -> None:
    q = Quarantine()
    _kept(q, {"id": "/", "groups": [{"id": "/prod", "apps": [{**POISON, "id": "/prod/p"}]}]})
    inner = MemoryMarathonStore()
    QuarantineKeepingStore(inner, q).save_root({"id": "/", "apps": [GOOD], "groups": []})
    assert inner.root == {"id": "/", "apps": [GOOD], "groups": []}
    assert q.kept_apps == {}


def test_bad_versions_and_instance_records_are_written_back_until_the_app_is_deleted() -> None:
    q = Quarantine()
    q.kept_versions["/a"] = [POISON]
    q.kept_instances["/a"] = [{"taskId": "junk"}]
    q.add("versions:/a", Quarantined("/marathon/docs/versions/_a", "versions", "bad", "/a"))
    inner = MemoryMarathonStore()
    store = QuarantineKeepingStore(inner, q)
    store.save_versions("/a", [GOOD])
    assert inner.versions["/a"] == [POISON, GOOD]
    store.save_instances("/a", [])
    assert inner.instances["/a"] == [{"taskId": "junk"}], "never dropped by an empty write"
    store.delete_versions("/a")
    assert "/a" not in inner.versions and q.to_json() == []
