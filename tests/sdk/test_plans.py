"""Plan progression, table-driven: strategies x completed steps -> the steps that may
launch; interrupt/continue/stop/start/forceComplete/restart; dcos-commons' PlanInfo."""

from __future__ import annotations

import pytest

from actors.sdk import PlanNotFound, PlanRun, active_steps, load_spec, plan_json
from actors.sdk._errors import PlanCommandError
from actors.sdk._plans import check_params, force_complete, new_run, restart, start, stop

SPEC = """
name: svc
pods:
  a:
    count: 2
    tasks: {t: {goal: RUNNING, cpus: 0.1, memory: 8, cmd: x}}
  b:
    count: 2
    tasks: {t: {goal: RUNNING, cpus: 0.1, memory: 8, cmd: x}}
plans:
  deploy:
    strategy: {{PLAN}}
    phases:
      pa:
        strategy: {{PHASE}}
        pod: a
      pb:
        strategy: {{PHASE}}
        pod: b
"""


def plan(plan_strategy: str, phase_strategy: str):  # type: ignore[no-untyped-def]
    return load_spec(SPEC, {"PLAN": plan_strategy, "PHASE": phase_strategy}).plans["deploy"]


@pytest.mark.parametrize(
    ("plan_s", "phase_s", "complete", "active"),
    [
        ("serial", "serial", set(), ["a-0:[t]"]),
        ("serial", "serial", {"a-0:[t]"}, ["a-1:[t]"]),
        ("serial", "serial", {"a-0:[t]", "a-1:[t]"}, ["b-0:[t]"]),
        ("serial", "parallel", set(), ["a-0:[t]", "a-1:[t]"]),
        ("serial", "parallel", {"a-1:[t]"}, ["a-0:[t]"]),
        ("parallel", "serial", set(), ["a-0:[t]", "b-0:[t]"]),
        ("parallel", "parallel", set(), ["a-0:[t]", "a-1:[t]", "b-0:[t]", "b-1:[t]"]),
        ("parallel", "parallel", {"a-0:[t]", "b-1:[t]"}, ["a-1:[t]", "b-0:[t]"]),
        ("serial", "serial", {"a-0:[t]", "a-1:[t]", "b-0:[t]", "b-1:[t]"}, []),
    ],
)
def test_active_steps_follow_the_strategies(
    plan_s: str, phase_s: str, complete: set[str], active: list[str]
) -> None:
    run = PlanRun("deploy", complete=set(complete))
    assert [s.name for s in active_steps(plan(plan_s, phase_s), run)] == active


def test_an_interrupted_plan_lets_started_steps_finish_and_starts_no_new_one() -> None:
    p = plan("parallel", "serial")
    run = PlanRun("deploy", interrupted=True, started={"a-0:[t]"})
    assert [s.name for s in active_steps(p, run)] == ["a-0:[t]"]
    run.complete.add("a-0:[t]")
    assert active_steps(p, run) == []
    run.interrupted = False  # continue
    assert [s.name for s in active_steps(p, run)] == ["a-1:[t]", "b-0:[t]"]


def test_phase_dependencies_order_a_parallel_plan() -> None:
    text = SPEC.replace("        pod: b\n", "        pod: b\n        dependencies: [pa]\n")
    p = load_spec(text, {"PLAN": "parallel", "PHASE": "parallel"}).plans["deploy"]
    run = PlanRun("deploy")
    assert [s.name for s in active_steps(p, run)] == ["a-0:[t]", "a-1:[t]"]
    run.complete |= {"a-0:[t]", "a-1:[t]"}
    assert [s.name for s in active_steps(p, run)] == ["b-0:[t]", "b-1:[t]"]


def test_deploy_starts_by_itself_custom_plans_wait_for_start() -> None:
    s = load_spec(SPEC, {"PLAN": "serial", "PHASE": "serial"})
    assert new_run(s.plans["deploy"]).interrupted is False
    assert new_run(s.plans["update"]).interrupted is True


def test_commands() -> None:
    p = plan("serial", "serial")
    run = PlanRun("deploy", complete={"a-0:[t]"}, started={"a-0:[t]", "a-1:[t]"})
    force_complete(p, run, "pa", "a-1:[t]")
    assert run.complete == {"a-0:[t]", "a-1:[t]"}
    restart(p, run, "pa", None)
    assert run.complete == set() and run.started == set()
    first = run.run
    restart(p, run, None, None)
    assert run.run == first + 1  # a whole-plan restart is a new run (FINISH tasks rerun)
    run.complete = {s.name for ph in p.phases for s in ph.steps}
    start(p, run, {"BACKUP": "b1"})  # a complete plan starts over, with its params
    assert run.complete == set() and run.params == {"BACKUP": "b1"} and not run.interrupted
    stop(run)
    assert run.interrupted and run.started == set()
    with pytest.raises(PlanNotFound, match="no phase 'nope'"):
        force_complete(p, run, "nope", None)
    with pytest.raises(PlanNotFound, match="no step 'b-9"):
        restart(p, run, None, "b-9:[t]")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ([1], "must be a JSON object"),
        ({"1BAD": "x"}, "not an environment variable name"),
        ({"A-B": "x"}, "not an environment variable name"),
        ({"OK": {"nested": 1}}, "must be text or a number"),
        ({"OK": True}, "must be text or a number"),
    ],
)
def test_bad_plan_parameters(params: object, error: str) -> None:
    with pytest.raises(PlanCommandError, match=error):
        check_params(params)


def test_plan_json_is_dcos_commons_plan_info() -> None:
    p = plan("serial", "serial")
    run = PlanRun("deploy", complete={"a-0:[t]"}, started={"a-0:[t]", "a-1:[t]"})
    doc = plan_json(p, run, lambda step: ("STARTING", "launching"))
    assert doc["status"] == "IN_PROGRESS" and doc["strategy"] == "serial" and doc["errors"] == []
    pa, pb = doc["phases"]
    assert set(pa) == {"id", "name", "steps", "strategy", "status"}
    assert [(s["name"], s["status"]) for s in pa["steps"]] == [
        ("a-0:[t]", "COMPLETE"),
        ("a-1:[t]", "STARTING"),
    ]
    assert set(pa["steps"][0]) == {"id", "status", "name", "message"}
    assert pa["status"] == "IN_PROGRESS" and pb["status"] == "PENDING"
    run.interrupted = True
    run.started = {"a-0:[t]"}
    doc = plan_json(p, run, lambda step: ("STARTING", ""))
    assert doc["status"] == "WAITING" and doc["phases"][0]["steps"][1]["status"] == "WAITING"
    # ids are stable across restarts (derived, not random)
    assert doc["phases"][0]["id"] == plan_json(p, run, lambda s: ("", ""))["phases"][0]["id"]
