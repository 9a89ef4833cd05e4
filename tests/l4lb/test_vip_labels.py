"""VIP port labels: parsing, the per-app rules, the rules across apps, and Marathon's
422 for each (issue 20: "bad VIP labels, a VIP name used by two apps with different
ports, ports out of range: 422 naming the field, nothing stored"). Pure."""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.framework import discovery_info
from actors.l4lb import (
    InvalidVip,
    PortLabels,
    VipSpec,
    dns_label,
    parse_vip,
    port_vips,
    vip_conflicts,
    vip_hostname,
)
from actors.marathon import AppDefinition, ValidationFailed
from actors.marathon._messages import PersistRoot
from tests.marathon._core_kit import Sim, app, of


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("/web:80", VipSpec("/web", None, 80)),
        ("web:8080", VipSpec("/web", None, 8080)),
        ("/shop/web:1", VipSpec("/shop/web", None, 1)),
        ("127.0.0.9:5432", VipSpec(None, "127.0.0.9", 5432)),
        ("/my_svc.v2:65535", VipSpec("/my_svc.v2", None, 65535)),
    ],
)
def test_valid_vip_values_parse(value: str, spec: VipSpec) -> None:
    assert parse_vip(value) == spec


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("/web", "expected /name:port"),
        ("/web:0", "not in 1..65535"),
        ("/web:65536", "not in 1..65535"),
        ("/web:-1", "not in 1..65535"),
        ("/web:http", "not in 1..65535"),
        ("10.0.0.1:80", "127.0.0.0/8"),
        ("127.200.0.1:80", "reserved for named VIPs"),
        ("/we b:80", "the name"),
        ("//web:80", "the name"),
        ("/:80", "the name"),
        ("/---:80", "the name"),
        (":80", "the name"),
        (5, "is not a VIP"),
    ],
)
def test_invalid_vip_values_say_what_is_wrong(value: Any, says: str) -> None:
    with pytest.raises(InvalidVip, match=says):
        parse_vip(value)


def test_vip_names_become_dcos_net_dns_labels() -> None:
    assert dns_label("/web") == "web"
    assert dns_label("/shop/web") == "shopweb"
    assert dns_label("/My_Svc") == "my-svc"
    assert vip_hostname("/web") == "web.marathon.l4lb.thisdcos.directory"


def test_port_vips_collect_every_problem_by_json_pointer() -> None:
    uses, problems = port_vips(
        [
            PortLabels("/portDefinitions/0", {"VIP_0": "/web:80", "L4LB_BALANCE": "leastconn"}),
            PortLabels("/portDefinitions/1", {"VIP_0": "/web:99999", "L4LB_BALANCE": "random"}),
            PortLabels("/portDefinitions/2", {"VIP_0": "/dns:53"}, protocol="udp"),
            PortLabels("/portDefinitions/3", {"L4LB_BALANCE": "leastconn"}),
        ]
    )
    assert [(u.spec, u.balance, u.port_index) for u in uses] == [
        (VipSpec("/web", None, 80), "leastconn", 0)
    ]
    paths = [path for path, _ in problems]
    assert paths == [
        "/portDefinitions/1/labels/L4LB_BALANCE",
        "/portDefinitions/1/labels/VIP_0",
        "/portDefinitions/2/labels/VIP_0",
        "/portDefinitions/3/labels/L4LB_BALANCE",
    ]


def test_one_vip_shared_by_two_apps_needs_the_same_port_and_balance() -> None:
    web, _ = port_vips([PortLabels("/portDefinitions/0", {"VIP_0": "/web:80"})])
    same, _ = port_vips([PortLabels("/portDefinitions/0", {"VIP_0": "/web:80"})])
    other_port, _ = port_vips([PortLabels("/portDefinitions/0", {"VIP_0": "/web:81"})])
    lc, _ = port_vips(
        [PortLabels("/portDefinitions/0", {"VIP_0": "/web:80", "L4LB_BALANCE": "leastconn"})]
    )
    assert vip_conflicts("/b", same, {"/a": web, "/b": same}) == []
    [(path, message)] = vip_conflicts("/b", other_port, {"/a": web})
    assert path == "/portDefinitions/0/labels/VIP_0"
    assert "used by /a with port 80" in message
    [(_, message)] = vip_conflicts("/b", lc, {"/a": web})
    assert "balanced roundrobin by /a" in message


def _vip_app(app_id: str, vip: str, **extra: Any) -> dict[str, Any]:
    return app(app_id, portDefinitions=[{"port": 0, "labels": {"VIP_0": vip}}], **extra)


def test_marathon_refuses_a_bad_vip_label_with_a_422_naming_it() -> None:
    with pytest.raises(ValidationFailed) as caught:
        AppDefinition.from_json(_vip_app("/web", "/web:70000"))
    assert caught.value.paths == ["/portDefinitions/0/labels/VIP_0"]
    doc = app(
        "/web",
        container={
            "type": "DOCKER",
            "docker": {"image": "nginx"},
            "portMappings": [{"containerPort": 80, "labels": {"VIP_1": "nope"}}],
        },
    )
    with pytest.raises(ValidationFailed) as caught:
        AppDefinition.from_json(doc)
    assert caught.value.paths == ["/container/portMappings/0/labels/VIP_1"]


def test_a_vip_name_taken_with_another_port_is_refused_and_nothing_is_stored() -> None:
    sim = Sim()
    sim.subscribe()
    assert sim.api("create_app", body=_vip_app("/a", "/web:80")).status == 201
    stored = len(sim.stored)
    effects = sim.request("create_app", body=_vip_app("/b", "/web:81"))
    reply = sim.api("get_app", "/b")
    assert reply.status == 404
    assert len(sim.stored) == stored and not of(PersistRoot, effects)
    details = _reply_of(sim, _vip_app("/b", "/web:81"))
    assert [d["path"] for d in details] == ["/portDefinitions/0/labels/VIP_0"]
    assert "used by /a with port 80" in details[0]["errors"][0]
    # same port: both apps back the one VIP; updating /a to another port is refused too
    assert sim.api("create_app", body=_vip_app("/c", "/web:80")).status == 201
    put = sim.api("put_app", "/a", body=_vip_app("/a", "/web:82"), partial=True, force=True)
    assert put.status == 422 and put.body["details"][0]["path"].endswith("labels/VIP_0")


def _reply_of(sim: Sim, body: dict[str, Any]) -> list[dict[str, Any]]:
    reply = sim.api("create_app", body=body)
    assert reply.status == 422, reply
    return list(reply.body["details"])


def test_marathon_tasks_carry_their_port_labels_and_mesos_dns_name() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=_vip_app("/shop/web", "/web:80", instances=1))
    effects = sim.offers(sim.offer())
    from tests.marathon._core_kit import launched

    [task] = launched(effects)
    assert task.discovery is not None
    assert task.discovery.name == "web-shop"
    assert task.discovery.ports[0].labels == {"VIP_0": "/web:80"}


def test_discovery_info_carries_each_ports_labels() -> None:
    got = discovery_info("web", [31000, 31001], ["http"], [], [{"VIP_0": "/web:80"}])
    assert got.ports == [
        p.DiscoveryPort(31000, "http", "tcp", {"VIP_0": "/web:80"}),
        p.DiscoveryPort(31001, None, "tcp", {}),
    ]


def test_a_discovery_port_label_must_be_text() -> None:
    with pytest.raises(p.TaskDescriptionError, match=r"DiscoveryPort\.labels"):
        p.DiscoveryPort(31000, labels={"VIP_0": 80})  # type: ignore[dict-item]
