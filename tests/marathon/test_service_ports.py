"""Pure pieces behind issue 17 items 2 and 5: service port assignment (Marathon's
``AssignDynamicServiceLogic``), the agent IP in offers, and the clock's two readings."""

from __future__ import annotations

import time

import pytest

from actors.marathon._app import AppDefinition
from actors.marathon._errors import ValidationFailed
from actors.marathon._ports import assign_service_ports, service_ports, taken_ports
from actors.master import address_ip
from runtime import ManualClock, SystemClock


def _app(app_id: str, ports: list[int] | None = None, **extra: object) -> AppDefinition:
    doc: dict[str, object] = {"id": app_id, "cmd": "x", "cpus": 0.1, "mem": 32, **extra}
    if ports is not None:
        doc["portDefinitions"] = [{"port": p} for p in ports]
    return AppDefinition.from_json(doc)


def test_zero_ports_get_the_lowest_free_ports_of_the_range() -> None:
    app = assign_service_ports(_app("/a", [0, 0]), None, {10000, 10002})
    assert service_ports(app) == [10001, 10003]


def test_given_ports_are_kept_and_not_handed_out_again() -> None:
    app = assign_service_ports(_app("/a", [10000, 0]), None, set())
    assert service_ports(app) == [10000, 10001]


def test_a_new_version_asking_for_zero_keeps_the_previous_ports_by_index() -> None:
    previous = assign_service_ports(_app("/a", [0, 0]), None, {10000})
    assert service_ports(previous) == [10001, 10002]
    again = assign_service_ports(_app("/a", [0, 0, 0], cmd="y"), previous, {10000})
    assert service_ports(again) == [10001, 10002, 10003]


def test_a_previous_port_now_held_by_another_app_is_not_reused() -> None:
    previous = assign_service_ports(_app("/a", [0]), None, set())
    again = assign_service_ports(_app("/a", [0]), previous, {10000})
    assert service_ports(again) == [10001]


def test_docker_port_mappings_get_service_ports() -> None:
    app = _app(
        "/d",
        container={
            "type": "DOCKER",
            "docker": {"image": "nginx"},
            "portMappings": [{"containerPort": 80}, {"containerPort": 443, "servicePort": 10005}],
        },
    )
    assert service_ports(assign_service_ports(app, None, set())) == [10000, 10005]


def test_taken_ports_leave_out_the_app_itself() -> None:
    apps = [assign_service_ports(_app("/a", [0]), None, set()), _app("/b", [10007])]
    assert taken_ports(apps) == {10000, 10007}
    assert taken_ports(apps, besides="/a") == {10007}


def test_an_exhausted_range_is_a_422_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as err:
        assign_service_ports(_app("/a", [0, 0]), None, set(), (10000, 10000))
    assert err.value.paths == ["/portDefinitions"]
    assert "10000-10000" in str(err.value.body)


@pytest.mark.parametrize(
    ("address", "ip"),
    [
        ("tcp://127.0.0.1:4242/agent", "127.0.0.1"),
        ("tcp://10.0.0.5:5051", "10.0.0.5"),
        ("tcp://[::1]:5051/agent", "::1"),
        ("tcp://agent-1:5051/agent", ""),
        ("", ""),
    ],
)
def test_the_agent_ip_comes_from_its_advertised_address(address: str, ip: str) -> None:
    assert address_ip(address) == ip


def test_manual_clock_wall_time_moves_with_the_monotonic_reading() -> None:
    clock = ManualClock(start=5.0, wall_start=1_800_000_000.0)
    assert (clock.now(), clock.wall()) == (5.0, 1_800_000_000.0)
    clock.advance(2.5)
    assert (clock.now(), clock.wall()) == (7.5, 1_800_000_002.5)


def test_system_clock_wall_is_epoch_time_and_now_is_monotonic() -> None:
    clock = SystemClock()
    try:
        assert abs(clock.wall() - time.time()) < 1.0
        assert abs(clock.now() - time.monotonic()) < 1.0
    finally:
        clock.close()
