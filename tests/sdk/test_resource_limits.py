"""svc.yml task ``resource-limits`` (dcos-commons' shape: ``cpus``, ``memory``, each a
number >= the request or ``unlimited``) through the core's TaskInfo, and the redis
package's ``node.cpus_limit`` option (pure: no cluster)."""

from __future__ import annotations

import math

import pytest

from actors.sdk import Context, ServiceCore, SpecError, load_spec
from actors.sdk.services import service_dir
from tests.sdk.test_core import SPEC, Sim
from tests.sdk.test_services_pure import app_for

LIMITED = SPEC.replace(
    "        cmd: serve\n",
    "        cmd: serve\n"
    "        resource-limits:\n"
    "          cpus: {{CPUS}}\n"
    "          memory: {{MEM}}\n",
)


def limited(cpus: object = "unlimited", mem: object = "unlimited"):  # type: ignore[no-untyped-def]
    return load_spec(LIMITED, {"COUNT": 1, "MODE": "a", "CPUS": cpus, "MEM": mem})


def test_limits_parse_as_mesos_task_limits() -> None:
    server = limited().pods["node"].tasks["server"]
    assert server.limits == (("cpus", math.inf), ("mem", math.inf))
    assert limited(1.5, 128).pods["node"].tasks["server"].limits == (
        ("cpus", 1.5),
        ("mem", 128.0),
    )
    assert limited().pods["node"].tasks["backup"].limits == ()  # none given: none


@pytest.mark.parametrize(
    ("cpus", "mem", "path", "words"),
    [
        (0.25, "unlimited", "resource-limits.cpus", "0.25 is below the task's cpus 0.5"),
        ("unlimited", 32, "resource-limits.memory", "32 is below the task's memory 64"),
        ("lots", "unlimited", "resource-limits.cpus", "'lots' does not match"),
        (-1, "unlimited", "resource-limits.cpus", "-1 is less than the minimum of 0"),
    ],
)
def test_bad_limits_are_refused_naming_the_yaml_path(
    cpus: object, mem: object, path: str, words: str
) -> None:
    with pytest.raises(SpecError) as err:
        limited(cpus, mem)
    assert err.value.path == f"pods.node.tasks.server.{path}", err.value
    assert words in err.value.message


def test_an_unknown_limit_key_is_refused() -> None:
    text = LIMITED.replace("memory: {{MEM}}", "disk: 10")
    with pytest.raises(SpecError) as err:
        load_spec(text, {"COUNT": 1, "MODE": "a", "CPUS": 1})
    assert err.value.path == "pods.node.tasks.server.resource-limits.disk", err.value


def test_the_launched_task_reserves_the_request_and_carries_the_limits() -> None:
    core = ServiceCore(limited("unlimited", 256), Context(python="/py", api_url="http://s:1"))
    sim = Sim(core, agents=1)
    for _ in range(3):
        sim.round()
    (task,) = sim.launched
    assert task.limits == {"cpus": math.inf, "mem": 256.0}
    cpus = sum(v for k, v in task.resources.items() if k.startswith("cpus"))
    assert cpus == 0.5  # the reservation is the request, not the limit


def test_redis_servers_default_to_unlimited_cpus_and_take_a_number() -> None:
    svc = (service_dir("redis") / "svc.yml").read_text()
    default = load_spec(svc, app_for("redis")["env"])
    for pod in ("primary", "replica"):
        assert default.pods[pod].tasks["server"].limits == (("cpus", math.inf),)
    for task in ("backup", "restore"):  # operations burst whatever node.cpus_limit says
        assert default.pods["tools"].tasks[task].limits == (("cpus", math.inf),)
    capped = load_spec(svc, app_for("redis", {"node": {"cpus_limit": 1.5}})["env"])
    assert capped.pods["primary"].tasks["server"].limits == (("cpus", 1.5),)
    assert capped.pods["tools"].tasks["restore"].limits == (("cpus", math.inf),)
    with pytest.raises(SpecError) as err:
        load_spec(svc, app_for("redis", {"node": {"cpus_limit": 0.2}})["env"])
    assert err.value.path == "pods.primary.tasks.server.resource-limits.cpus"


def test_redis_cpus_limit_option_is_validated_by_the_package_schema() -> None:
    with pytest.raises(Exception, match=r"/node/cpus_limit: 'lots' does not match"):
        app_for("redis", {"node": {"cpus_limit": "lots"}})
