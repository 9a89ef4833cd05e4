"""``package uninstall`` of an SDK service: the operator calls that destroy its volumes
and unreserve its reservations, from ``/mesos/master/slaves`` (pure)."""

from __future__ import annotations

from actors.resources import Resources, resources_v1
from actors.sdk import cleanup_calls


def reserved(service: str, volume: bool) -> list[dict[str, object]]:
    labels = {"sdk_service": service, "sdk_rid": f"{service}-0__x"}
    r = Resources.from_scalars({"cpus": 0.1, "mem": 32}).reserve_dynamic("r", "p", labels)
    if volume:
        r = r + Resources.from_scalars({"disk": 16}).reserve_dynamic(
            "r", "p", labels
        ).create_volume("pid", "data", "RW")
    return resources_v1(r)


def test_volumes_destroyed_then_everything_unreserved_only_for_that_service() -> None:
    slaves = {
        "slaves": [
            {"id": "S1", "reserved_resources_full": {"r": reserved("hello", True)}},
            {"id": "S2", "reserved_resources_full": {"r": reserved("other", True)}},
            {"id": "S3", "reserved_resources_full": {}},
        ]
    }
    calls = cleanup_calls(slaves, "hello")
    assert [c["type"] for c in calls] == ["DESTROY_VOLUMES", "UNRESERVE_RESOURCES"]
    destroy = calls[0]["destroy_volumes"]
    assert destroy["agent_id"] == {"value": "S1"}
    assert [v["disk"]["persistence"]["id"] for v in destroy["volumes"]] == ["pid"]
    unreserve = calls[1]["unreserve_resources"]["resources"]
    assert sorted(r["name"] for r in unreserve) == ["cpus", "disk", "mem"]
    assert all("disk" not in r for r in unreserve)  # the volume is plain reserved disk then
    assert cleanup_calls(slaves, "nope") == []
    assert cleanup_calls({}, "hello") == []
