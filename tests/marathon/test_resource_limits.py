"""Marathon 1.10 ``resourceLimits`` (apps, and pods per container): validation naming the
field and the value, the JSON round trip, and the launched TaskInfo's ``limits``."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from actors.marathon._app import AppDefinition
from actors.marathon._errors import ValidationFailed
from actors.marathon._pods import PodDefinition
from tests.marathon._core_kit import Sim, launched
from tests.marathon._core_kit import app as kit_app

APP: dict[str, Any] = {"id": "/big", "cmd": "sleep 1000", "cpus": 1, "mem": 128}


def app_with(limits: Any) -> AppDefinition:
    return AppDefinition.from_json({**APP, "resourceLimits": limits})


def test_an_app_round_trips_its_limits_as_marathon_renders_them() -> None:
    app = app_with({"cpus": "unlimited", "mem": 256})
    assert app.resource_limits == (("cpus", math.inf), ("mem", 256.0))
    out = app.to_json()
    assert out["resourceLimits"] == {"cpus": "unlimited", "mem": 256.0}
    assert AppDefinition.from_json(out) == app  # what GET answers is valid PUT input
    assert "resourceLimits" not in AppDefinition.from_json(APP).to_json()  # none: omitted


def test_limits_equal_to_the_request_are_fine() -> None:
    assert app_with({"cpus": 1, "mem": 128}).resource_limits == (("cpus", 1.0), ("mem", 128.0))


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (
            {"cpus": 0.5},
            "/resourceLimits/cpus: 0.5 is below the requested cpus 1: a limit must be "
            "'unlimited' or >= the request",
        ),
        ({"mem": 64}, "/resourceLimits/mem: 64 is below the requested mem 128"),
        ({"disk": 10}, "/resourceLimits/disk: unknown field 'disk'"),
        ({"cpus": "lots"}, "/resourceLimits/cpus: 'lots' does not match '^unlimited$'"),
        ({"cpus": -1}, "/resourceLimits/cpus: -1 is less than the minimum of 0"),
        ({"cpus": True}, "/resourceLimits/cpus: True is not of type 'number', 'string'"),
        ("unlimited", "/resourceLimits: 'unlimited' is not of type 'object'"),
    ],
)
def test_bad_limits_are_a_422_naming_the_field_and_value(limits: Any, message: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        app_with(limits)
    assert message in str(err.value)


POD: dict[str, Any] = {
    "id": "/pod",
    "containers": [
        {
            "name": "sleep1",
            "exec": {"command": {"shell": "sleep 1000"}},
            "resources": {"cpus": 0.1, "mem": 32},
        }
    ],
}


def pod_with(limits: Any) -> dict[str, Any]:
    doc = copy.deepcopy(POD)
    doc["containers"][0]["resourceLimits"] = limits
    return doc


def test_a_pod_container_carries_its_own_limits() -> None:
    pod = PodDefinition.from_json(pod_with({"cpus": "unlimited"}))
    assert pod.to_json()["containers"][0]["resourceLimits"] == {"cpus": "unlimited"}
    plain = PodDefinition.from_json(POD).to_json()["containers"][0]
    assert "resourceLimits" not in plain


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"cpus": 0.05}, "/containers/0/resourceLimits/cpus: 0.05 is below the requested cpus"),
        ({"gpus": 1}, "/containers/0/resourceLimits/gpus: unknown field 'gpus'"),
        ({"mem": "lots"}, "/containers/0/resourceLimits/mem: 'lots' must be 'unlimited' or a"),
    ],
)
def test_bad_pod_limits_name_the_container_field(limits: Any, message: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        PodDefinition.from_json(pod_with(limits))
    assert message in str(err.value)


# -- through the core: the launched task and partial updates ---------------------------


def test_the_launched_task_carries_the_limits_and_reserves_the_request() -> None:
    sim = Sim()
    sim.subscribe()
    reply = sim.api("create_app", body=kit_app(resourceLimits={"cpus": "unlimited", "mem": 128}))
    assert reply.status == 201, reply.body
    (task,) = launched(sim.offers(sim.offer()))
    assert task.limits == {"cpus": math.inf, "mem": 128.0}
    assert task.resources["cpus"] == 0.5 and task.resources["mem"] == 64


def test_a_partial_update_keeps_the_limits_and_a_bad_one_changes_nothing() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=kit_app(resourceLimits={"cpus": "unlimited"}))
    assert sim.api("put_app", "/web", body={"instances": 2}, partial=True, force=True).status == 200
    assert sim.api("get_app", "/web").body["app"]["resourceLimits"] == {"cpus": "unlimited"}
    more = sim.api("put_app", "/web", body={"cpus": 2}, partial=True, patch_only=True, force=True)
    assert more.status == 200  # unlimited stays >= any request
    low = sim.api("put_app", "/web", body={"resourceLimits": {"cpus": 1}}, partial=True, force=True)
    assert low.status == 422, low.body
    assert low.body["details"] == [
        {
            "path": "/resourceLimits/cpus",
            "errors": [
                "1 is below the requested cpus 2: a limit must be 'unlimited' or >= the request"
            ],
        }
    ]
    assert sim.api("get_app", "/web").body["app"]["resourceLimits"] == {"cpus": "unlimited"}


def test_a_pod_member_task_carries_its_containers_limits() -> None:
    sim = Sim()
    sim.subscribe()
    doc = pod_with({"cpus": "unlimited", "mem": 64})
    doc["containers"].append({**POD["containers"][0], "name": "plain"})
    assert sim.api("create_pod", body=doc).status == 201
    tasks = {t.task_id.rsplit(".", 1)[1]: t for t in launched(sim.offers(sim.offer()))}
    assert tasks["sleep1"].limits == {"cpus": math.inf, "mem": 64.0}
    assert tasks["plain"].limits == {}
