"""Reserved-resource arithmetic (issue 23): dynamic reservations with principal and
labels, persistent volumes, scalars and ranges per role. Pure, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from actors.resources import (
    ResourceError,
    Resources,
    apply_checkpointed,
    apply_operation,
    resources_from_v1,
    resources_v1,
)

R = Resources.parse
BASE = R("cpus:4;mem:4096;disk:1000;ports:[31000-31009]")


def web(text: str, principal: str = "ops", **labels: str) -> Resources:
    return R(text).reserve_dynamic("web", principal, labels)


@pytest.mark.parametrize(
    ("text", "label", "role"),
    [
        ("cpus(web,ops):1", "cpus(web,ops)", "web"),
        ("cpus(web,):1", "cpus(web,)", "web"),
        ("cpus(web):1", "cpus(web)", "web"),
        ("cpus(web,ops,{b:2,a:1}):1", "cpus(web,ops,{a:1,b:2})", "web"),  # labels sorted
        ("disk(web,ops)[v1:data]:100", "disk(web,ops)[v1:data]", "web"),
        ("disk(db)[v2:/var/lib:RO]:5", "disk(db)[v2:/var/lib:RO]", "db"),
        ("ports(web,ops):[31000-31001]", "ports(web,ops)", "web"),
        ("cpus(web,a%20b,{k:v%3Aw}):1", "cpus(web,a%20b,{k:v%3Aw})", "web"),
    ],
)
def test_text_labels_round_trip_and_name_their_role(text: str, label: str, role: str) -> None:
    r = R(text)
    assert list(r.to_dict()) == [label]
    assert Resources.from_dict(r.to_dict()) == r == R(str(r))
    assert r.roles() == {role}
    assert resources_from_v1(resources_v1(r)) == r


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("cpus(web,ops)[v1:data]:1", "only disk"),
        ("disk[v1:data]:1", "reserved disk"),
        ("disk(web,ops)[v1:../up]:1", "escapes"),
        ("disk(web,ops)[v1]:1", "persistence_id:container_path"),
        ("disk(web,ops)[v1:d:XX]:1", "RW or RO"),
        ("cpus(*,ops):1", "role '*'"),
        ("cpus(web,ops,{a}):1", "key:value"),
        ("cpus(web,ops,{a:1,a:2}):1", "twice"),
        ("cpus(we b,ops):1", "invalid role"),
    ],
)
def test_malformed_reservations_are_refused_by_name(text: str, needle: str) -> None:
    with pytest.raises(ResourceError, match=needle.replace("(", r"\(").replace("*", r"\*")):
        R(text)


def test_different_principals_or_labels_are_different_resources() -> None:
    a, b, c = web("cpus:1"), web("cpus:1", "other"), web("cpus:1", owner="m")
    assert len((a + b + c).to_dict()) == 3
    assert not (a + b).contains(c)
    assert (a + a).scalar("cpus") == 2.0


def test_dynamic_reservations_are_offered_only_to_their_role() -> None:
    total = apply_checkpointed(BASE, web("cpus:1;ports:[31000-31001]"))
    assert total.allocatable_to("web").contains(web("cpus:1;ports:[31000-31001]"))
    other = total.allocatable_to("db")
    assert other == R("cpus:3;mem:4096;disk:1000;ports:[31002-31009]")
    assert total.scalars() == BASE.scalars()  # quantities are conserved


def test_a_volume_is_atomic() -> None:
    vol = web("disk:100").create_volume("v1", "data")
    half = Resources.from_dict({next(iter(vol.to_dict())): 50})
    assert vol.contains(vol) and not vol.contains(half)
    assert (vol + web("cpus:1")).contains(vol)


Op = tuple[str, Resources]


@pytest.mark.parametrize(
    ("ops", "left"),
    [
        ([("RESERVE", web("cpus:1;mem:512"))], "cpus:3;mem:3584;disk:1000;ports:[31000-31009]"),
        (
            [("RESERVE", web("disk:100")), ("CREATE", web("disk:100").create_volume("v", "d"))],
            "cpus:4;mem:4096;disk:900;ports:[31000-31009]",
        ),
        (
            [
                ("RESERVE", web("disk:100")),
                ("CREATE", web("disk:100").create_volume("v", "d")),
                ("DESTROY", web("disk:100").create_volume("v", "d")),
                ("UNRESERVE", web("disk:100")),
            ],
            str(BASE),
        ),
    ],
)
def test_operations_chain_on_an_offer(ops: list[Op], left: str) -> None:
    avail = BASE
    for kind, res in ops:
        avail = apply_operation(kind, res, avail)
    assert avail.unreserved() == R(left)
    assert avail.scalars() == BASE.scalars()


@pytest.mark.parametrize(
    ("kind", "res", "needle"),
    [
        ("RESERVE", web("cpus:5"), "exceed"),
        ("RESERVE", R("cpus:1"), "dynamic reservation"),
        ("UNRESERVE", web("cpus:1"), "not in the offers"),
        ("UNRESERVE", R("cpus:1"), "not dynamically reserved"),
        ("CREATE", web("disk:10").create_volume("v", "d"), "needs reserved disk"),
        ("CREATE", web("disk:10"), "must be persistent volumes"),
        ("DESTROY", web("disk:10").create_volume("v", "d"), "not in the offers"),
        ("GROW", web("disk:10"), "not RESERVE"),
    ],
)
def test_bad_operations_name_the_resource(kind: str, res: Resources, needle: str) -> None:
    with pytest.raises(ResourceError, match=needle):
        apply_operation(kind, res, BASE)


def test_unreserve_of_a_volume_needs_destroy_first() -> None:
    vol = web("disk:10").create_volume("v", "d")
    with pytest.raises(ResourceError, match="destroy it before"):
        vol.unreserve_dynamic()


@pytest.mark.parametrize(
    ("base", "ckpt", "ok"),
    [
        ("cpus:4;disk:1000", "", True),
        ("cpus:4;disk:1000", "cpus(web,ops):2;disk(web,ops)[v:d]:500", True),
        ("cpus:1;disk:1000", "cpus(web,ops):2", False),
        ("cpus:4;disk:100", "disk(web,ops)[v:d]:500", False),
    ],
)
def test_an_agent_must_still_hold_its_reservations(base: str, ckpt: str, ok: bool) -> None:
    if ok:
        total = apply_checkpointed(R(base), R(ckpt))
        assert total.dynamic() == R(ckpt) and total.scalars() == R(base).scalars()
    else:
        with pytest.raises(ResourceError, match="no longer hold its reservations"):
            apply_checkpointed(R(base), R(ckpt))


def test_v1_json_has_mesos_reservation_and_disk_fields() -> None:
    vol = R("disk:100").reserve_dynamic("web", "ops", {"owner": "m"}).create_volume("v1", "data")
    (entry,) = resources_v1(vol, allocated_to="web")
    assert entry["reservations"] == [
        {
            "type": "DYNAMIC",
            "role": "web",
            "principal": "ops",
            "labels": {"labels": [{"key": "owner", "value": "m"}]},
        }
    ]
    assert entry["disk"] == {
        "persistence": {"id": "v1", "principal": "ops"},
        "volume": {"container_path": "data", "mode": "RW"},
    }
    assert entry["allocation_info"] == {"role": "web"}


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        (
            [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "reservations": [{}]}],
            "role",
        ),
        ([{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}], "negative"),
        (
            [
                {
                    "name": "disk",
                    "type": "SCALAR",
                    "scalar": {"value": 1},
                    "disk": {"persistence": {"id": "v"}},
                }
            ],
            "reserved disk",
        ),
        ("nope", "must be a list"),
    ],
)
def test_bad_v1_resources_are_refused(doc: Any, needle: str) -> None:
    with pytest.raises(ResourceError, match=needle):
        resources_from_v1(doc)


def test_volumes_list_their_mount_facts() -> None:
    vol = web("disk:100").create_volume("pg", "pgdata", "RO")
    (e,) = vol.volumes()
    assert (e.role, e.volume.persistence_id, e.volume.container_path, e.volume.mode, e.value) == (
        "web",
        "pg",
        "pgdata",
        "RO",
        100.0,
    )
    assert e.reservation is not None and e.reservation.principal == "ops"
