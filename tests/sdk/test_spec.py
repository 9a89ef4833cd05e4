"""svc.yml: rendering, the schema, the checks a schema cannot make, each error naming
its YAML path (issue 28 "Bad input"), and the config update rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.sdk import SpecError, check_update, load_spec

HELLO = Path(__file__).resolve().parents[2] / "examples" / "sdk" / "hello"
OPTIONS = {"SERVICE_NAME": "hello", "HELLO_COUNT": 2, "HELLO_GREETING": "hi"}

BASE = """
name: svc
pods:
  zk:
    count: 3
    quorum: 2
    placement: '[["hostname", "UNIQUE"]]'
    tasks:
      server:
        goal: RUNNING
        cpus: 0.1
        memory: 64
        volume: {path: data, type: ROOT, size: 32}
        ports: {client: {port: 0}}
        cmd: run
plans:
  deploy:
    strategy: serial
    phases:
      zk:
        pod: zk
        steps:
          - default: [[server]]
"""


def spec(text: str = BASE, **options: object):  # type: ignore[no-untyped-def]
    return load_spec(text, options)


def test_the_hello_example_loads_with_its_templates() -> None:
    s = load_spec((HELLO / "svc.yml").read_text(), OPTIONS, HELLO)
    assert s.name == "hello" and s.role == "hello-role" and s.principal == "hello-principal"
    assert [st.name for st in s.plans["deploy"].phases[0].steps] == [
        "hello-0:[server]",
        "hello-1:[server]",
    ]
    assert "greets" in (s.pods["world"].tasks["server"].configs[0].text or "")
    assert s.plans["sidecar"].strategy == "parallel"
    # update defaults to deploy's phases (dcos-commons)
    assert s.plans["update"].phases == s.plans["deploy"].phases


def test_options_are_rendered_before_parsing() -> None:
    s = spec(BASE.replace("count: 3", "count: {{N}}"), N=5)
    assert s.pods["zk"].count == 5
    assert s.pods["zk"].placement == (("hostname", "UNIQUE"),)


def test_config_id_is_stable_and_changes_with_the_config() -> None:
    assert spec().config_id == spec().config_id
    assert spec().config_id != spec(BASE.replace("cmd: run", "cmd: run2")).config_id


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        ("goal: RUNNING", "pods.zk.tasks.server.goal", "required"),
        ("type: ROOT, size: 32|type: ROOT", "pods.zk.tasks.server.volume.size", "required"),
        ("goal: RUNNING|goal: SOMETIMES", "pods.zk.tasks.server.goal", "is not one of"),
        ("pod: zk|pod: kafka", "plans.deploy.phases.zk.pod", "'kafka' is not a pod"),
        (
            "[[server]]|[[client]]",
            "plans.deploy.phases.zk.steps.0.default.0",
            "'client' is not a task",
        ),
        ("cpus: 0.1|cpu: 0.1", "pods.zk.tasks.server.cpu", "unknown key"),
        ("count: 3|count: -1", "pods.zk.count", "less than the minimum"),
        ("strategy: serial|strategy: sideways", "plans.deploy.strategy", "is not one of"),
        (
            '\'[["hostname", "UNIQUE"]]\'|\'[["hostname", "SOMETIMES"]]\'',
            "pods.zk.placement.0",
            "unknown constraint operator",
        ),
        ("quorum: 2|quorum: 4", "pods.zk.quorum", "more than the pod's count"),
        (
            "- default: [[server]]|- 7: [[server]]",
            "plans.deploy.phases.zk.steps.0.7",
            "has 3 instance",
        ),
    ],
)
def test_bad_specs_are_refused_naming_the_yaml_path(edit: str, path: str, words: str) -> None:
    old, _, new = edit.partition("|")
    text = (
        BASE.replace(old, new)
        if new
        else "\n".join(line for line in BASE.splitlines() if line.strip() != old)
    )
    with pytest.raises(SpecError) as err:
        spec(text)
    assert err.value.path == path, err.value
    assert words in err.value.message


def test_a_phase_dependency_cycle_is_refused() -> None:
    text = (
        BASE
        + """
      a:
        pod: zk
        dependencies: [b]
      b:
        pod: zk
        dependencies: [a]
"""
    )
    with pytest.raises(SpecError) as err:
        spec(text)
    assert err.value.path == "plans.deploy.phases.a.dependencies"
    assert "cycle: a -> b -> a" in err.value.message


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(SpecError, match="not valid YAML"):
        spec("name: [unclosed")
    with pytest.raises(SpecError, match="YAML mapping"):
        spec("- a list")


def test_a_missing_template_names_the_config() -> None:
    text = BASE.replace(
        "        cmd: run",
        "        cmd: run\n        configs:\n          conf: {template: nope.mustache, dest: x}",
    )
    with pytest.raises(SpecError) as err:
        load_spec(text, {}, HELLO)
    assert err.value.path == "pods.zk.tasks.server.configs.conf.template"


def test_tasks_sharing_a_volume_cannot_be_one_step() -> None:
    text = BASE.replace(
        "    tasks:\n",
        "    volume: {path: shared, size: 8}\n    tasks:\n"
        "      init: {goal: ONCE, cpus: 0.1, memory: 8, cmd: x}\n",
    ).replace("[[server]]", "[[init, server]]")
    with pytest.raises(SpecError, match="share resources"):
        spec(text)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ("size: 32|size: 64", "pods.zk.volume: volumes cannot change (data:32MB -> data:64MB)"),
        ("path: data|path: data2", "volumes cannot change"),
        ("count: 3|count: 1", "pods.zk.count: 1 is below the pod's quorum of 2"),
        ("name: svc|name: other", "name: cannot change"),
    ],
)
def test_updates_that_cannot_apply_are_refused_with_the_reason(edit: str, problem: str) -> None:
    old, _, new = edit.partition("|")
    new_text = BASE.replace(old, new)
    if new == "count: 1":  # the new config may drop the quorum line: the old one holds
        new_text = new_text.replace("    quorum: 2\n", "")
    problems = check_update(spec(), spec(new_text))
    assert any(problem in p for p in problems), problems


def test_allowed_updates() -> None:
    assert check_update(spec(), spec(BASE.replace("cmd: run", "cmd: run --new"))) == []
    assert check_update(spec(), spec(BASE.replace("count: 3", "count: 5"))) == []
    # down to the quorum, not below it
    assert check_update(spec(), spec(BASE.replace("count: 3", "count: 2"))) == []
