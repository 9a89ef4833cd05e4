"""``console._waiting``: Marathon's queue and the master's last allocation joined per agent
(pure: JSON in, JSON out; the live check is test_cli's app-show test)."""

from __future__ import annotations

from typing import Any

import pytest

from console._waiting import (
    explain,
    free_text,
    marathon_reasons,
    master_reasons,
    queue_entry,
    render,
)

FW = "fw-marathon"


def entry(app_id: str = "/web", count: int = 2, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "app": {"id": app_id},
        "count": count,
        "since": "2026-12-06T07:00:00.000Z",
        "delay": {"timeLeftSeconds": 0, "overdue": True},
        "waitingReason": "waiting for offers: no offer matches: cpus: need 8, offer has 2",
        "processedOffersSummary": {
            "rejectSummaryLastOffers": [
                {"reason": "InsufficientCpus", "declined": 3, "processed": 3},
                {"reason": "UnfulfilledConstraint", "declined": 0, "processed": 3},
            ]
        },
        "lastUnusedOffers": [
            unused("a1", "host-1", "cpus: need 8, offer has 1"),
            unused("a2", "host-2", "cpus: need 8, offer has 2"),
            unused("a1", "host-1", "cpus: need 8, offer has 2"),
        ],
    }
    doc.update(extra)
    return doc


def unused(agent_id: str, hostname: str, reason: str) -> dict[str, Any]:
    return {
        "offer": {"id": f"o-{agent_id}", "agentId": agent_id, "hostname": hostname},
        "timestamp": "2026-12-06T07:00:01.000Z",
        "reason": [reason],
    }


def rejection(fid: str, agent_id: str, message: str, detail: str = "") -> dict[str, Any]:
    return {
        "framework_id": fid,
        "agent_id": agent_id,
        "reason": message.upper().replace(" ", "_"),
        "message": message,
        "detail": detail,
    }


SLAVES = [{"id": "a1", "hostname": "host-1"}, {"id": "a2", "hostname": "host-2"}]


@pytest.mark.parametrize(
    ("queue", "found"),
    [
        ([], False),
        ([entry("/other")], False),
        ([entry("/web", count=0)], False),
        ([entry("/other"), entry("/web")], True),
        (["not an object", {"app": "nope"}, entry("/web")], True),
    ],
)
def test_queue_entry_is_the_apps_row_with_instances_to_launch(
    queue: list[Any], found: bool
) -> None:
    got = queue_entry(queue, "/web")
    assert (got is not None) == found
    if found:
        assert got is not None and got["app"]["id"] == "/web"


def test_marathon_reasons_keep_each_agents_latest_unused_offer() -> None:
    assert marathon_reasons(entry()) == {
        "a1": "cpus: need 8, offer has 2",
        "a2": "cpus: need 8, offer has 2",
    }
    assert marathon_reasons({"lastUnusedOffers": [{"offer": "bad"}, "bad"]}) == {}


@pytest.mark.parametrize(
    ("rows", "offers", "want", "offered"),
    [
        ([], [], [], False),
        (
            [rejection(FW, "a1", "filtered", "declined earlier; filtered for 4.0 s more")],
            [],
            ["filtered: declined earlier; filtered for 4.0 s more"],
            False,
        ),
        ([rejection("other-fw", "a1", "filtered")], [], [], False),
        ([rejection(FW, "a2", "filtered")], [], [], False),
        (
            [rejection("*", "a1", "no free resources", "cpus 0"), rejection(FW, "*", "x")],
            [],
            ["no free resources: cpus 0", "x"],
            False,
        ),
        ([rejection(FW, "a1", "filtered")] * 2, [], ["filtered"], False),
        ([], [{"framework_id": FW, "agent_id": "a1"}], [], True),
        (
            [],
            [
                {"framework_id": "fw-2", "agent_id": "a1"},
                {"framework_id": "fw-3", "agent_id": "a1"},
            ],
            ["offered to fw-3, metronome instead (fair share)"],
            False,
        ),
        ([], [{"framework_id": "fw-2", "agent_id": "a2"}], [], False),
    ],
)
def test_master_reasons_concern_this_framework_and_agent_wildcards_included(
    rows: list[dict[str, Any]], offers: list[dict[str, Any]], want: list[str], offered: bool
) -> None:
    frameworks = [{"framework_id": "fw-2", "name": "metronome"}, {"framework_id": "fw-3"}]
    allocation = {"offers": offers, "rejections": rows, "frameworks": frameworks}
    assert master_reasons(allocation, FW, "a1") == (want, offered)


@pytest.mark.parametrize(
    ("free", "text"),
    [
        (None, "-"),
        ({}, "-"),
        ({"ports": "[31000-31099]"}, "-"),
        ({"cpus": 1.5, "mem": 2048.0, "disk": 0.0, "ports": "[1-2]"}, "cpus 1.5, mem 2048, disk 0"),
        ({"cpus": True, "gpus": 1}, "gpus 1"),
        ({"cpus": 0.0, "gpus": 0}, "cpus 0"),
    ],
)
def test_free_text_shows_the_scalars(free: dict[str, Any] | None, text: str) -> None:
    assert free_text(free) == text


def test_explain_is_none_when_nothing_waits() -> None:
    assert explain("/web", [entry("/other")], SLAVES, FW, {}) is None


def test_explain_joins_both_sides_per_agent() -> None:
    allocation = {
        "time": 1796539403.5,
        "agents": [{"agent_id": "a1", "free": {"cpus": 2.0}}, {"agent_id": "a2", "free": {}}],
        "offers": [{"framework_id": FW, "agent_id": "a2"}],
        "rejections": [rejection(FW, "a1", "filtered", "declined earlier")],
    }
    slaves = [*SLAVES, {"id": "a3", "hostname": "host-3"}]
    doc = explain("/web", [entry()], slaves, FW, allocation)
    assert doc is not None
    assert doc["count"] == 2 and doc["appId"] == "/web" and doc["frameworkId"] == FW
    assert doc["declined"] == [{"reason": "InsufficientCpus", "declined": 3}]
    assert doc["allocationTime"] == 1796539403.5 and doc["allocationError"] is None
    assert doc["agents"] == [
        {
            "agentId": "a1",
            "hostname": "host-1",
            "free": {"cpus": 2.0},
            "marathon": "cpus: need 8, offer has 2",
            "master": ["filtered: declined earlier"],
            "offered": False,
        },
        {
            "agentId": "a2",
            "hostname": "host-2",
            "free": {},
            "marathon": "cpus: need 8, offer has 2",
            "master": [],
            "offered": True,
        },
        {
            "agentId": "a3",
            "hostname": "host-3",
            "free": None,
            "marathon": None,
            "master": [],
            "offered": False,
        },
    ]


def test_explain_without_the_master_keeps_marathons_side_and_says_why() -> None:
    doc = explain("/web", [entry()], [], FW, None, "no transport keys")
    assert doc is not None
    assert doc["allocationError"] == "no transport keys"
    # agents Marathon saw offers from are listed even when the agent list is empty
    assert [(a["agentId"], a["hostname"], a["master"]) for a in doc["agents"]] == [
        ("a1", "host-1", None),
        ("a2", "host-2", None),
    ]


def test_render_for_people() -> None:
    allocation = {
        "agents": [{"agent_id": "a1", "free": {"cpus": 2.0, "mem": 512.0}}],
        "offers": [{"framework_id": FW, "agent_id": "a2"}],
        "rejections": [rejection(FW, "a1", "filtered", "declined earlier")],
    }
    slaves = [*SLAVES, {"id": "a3", "hostname": "host-3"}]
    delayed = entry(delay={"timeLeftSeconds": 12.5, "overdue": False})
    doc = explain("/web", [delayed], slaves, FW, allocation)
    assert doc is not None
    shown = render(doc)
    assert shown.lines == [
        "waiting: 2 instance(s) of /web to launch (queued since 2026-12-06T07:00:00.000Z)",
        "  marathon: waiting for offers: no offer matches: cpus: need 8, offer has 2",
        "  offers declined for: InsufficientCpus x3",
        "  launch backoff: next attempt in 12.5 s",
    ]
    assert shown.rows == [
        (
            "a1",
            "host-1",
            "cpus 2, mem 512",
            "cpus: need 8, offer has 2",
            "filtered: declined earlier",
        ),
        ("a2", "host-2", "-", "cpus: need 8, offer has 2", "offered to Marathon"),
        ("a3", "host-3", "-", "no offer seen", "no reason recorded"),
    ]
    no_master = render(explain("/web", [entry()], SLAVES, FW, None, "timed out") or {})
    assert no_master.lines[-1] == "  master: last allocation not available (timed out)"
    assert {row[4] for row in no_master.rows} == {"-"}
