"""Job specs: Metronome's defaults, validation rules and 422 error shape.

Rules from Metronome's ``jobspec.schema.json`` / ``JobRunSpec`` / ``schedulespec``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.framework import Agent
from actors.metronome import JobSpec, ScheduleSpec, ValidationFailed
from actors.metronome._job import plain_job


def job(**run: Any) -> dict[str, Any]:
    return {"id": "prod.backup", "run": {"cmd": "backup.sh", **run}}


def errors_of(data: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as info:
        JobSpec.from_json(data)
    assert info.value.status == 422
    assert info.value.body["message"] == "Object is not valid"
    return {d["path"]: d["errors"] for d in info.value.body["details"]}


def test_defaults_are_metronomes() -> None:
    """Metronome JobRunSpec: cpus 1, mem 128, disk 0, maxLaunchDelay 1 h, restart NEVER."""
    spec = JobSpec.from_json({"id": "sleepy", "run": {"cmd": "sleep 1"}})
    run = spec.run
    assert (run.cpus, run.mem, run.disk, run.gpus) == (1, 128, 0, 0)
    assert run.max_launch_delay_seconds == 3600
    assert run.restart.policy == "NEVER" and run.restart.active_deadline_seconds is None
    assert spec.schedules == () and dict(spec.labels) == {}


def test_artifact_defaults_are_metronomes() -> None:
    """Metronome's ArtifactFormat: extract true, executable false, cache false."""
    spec = JobSpec.from_json(job(artifacts=[{"uri": "http://x/a.tgz"}]))
    assert spec.run.artifacts[0].to_json() == {
        "uri": "http://x/a.tgz",
        "executable": False,
        "extract": True,
        "cache": False,
    }


def test_schedule_defaults_are_metronomes() -> None:
    """Metronome ScheduleSpec: UTC, 15 min starting deadline, ALLOW, enabled."""
    s = ScheduleSpec.from_json({"id": "nightly", "cron": "0 3 * * *"})
    assert (s.timezone, s.starting_deadline_seconds) == ("UTC", 900)
    assert (s.concurrency_policy, s.enabled) == ("ALLOW", True)


FULL_JOB: dict[str, Any] = {
    "id": "prod.etl-nightly",
    "description": "nightly ETL",
    "labels": {"team": "data"},
    "run": {
        "cmd": "etl --all",
        "cpus": 0.5,
        "mem": 256,
        "disk": 10,
        "gpus": 0,
        "env": {"MODE": "full"},
        "user": "nobody",
        "artifacts": [{"uri": "http://x/etl", "executable": True, "extract": False, "cache": True}],
        "docker": {"image": "busybox:1", "forcePullImage": True},
        "placement": {
            "constraints": [
                {"attribute": "rack", "operator": "LIKE", "value": "r[12]"},
                {"attribute": "hostname", "operator": "UNLIKE", "value": "bad.*"},
            ]
        },
        "volumes": [{"containerPath": "/data", "hostPath": "/srv/data", "mode": "RW"}],
        "restart": {"policy": "ON_FAILURE", "activeDeadlineSeconds": 600},
        "taskKillGracePeriodSeconds": 5,
        "maxLaunchDelay": 300,
    },
    "schedules": [
        {
            "id": "nightly",
            "cron": "30 2 * * *",
            "timezone": "Europe/Berlin",
            "startingDeadlineSeconds": 120,
            "concurrencyPolicy": "FORBID",
            "enabled": False,
        }
    ],
}


def test_a_rendered_job_is_valid_input_and_round_trips() -> None:
    """What GET returns must be accepted by PUT, and persistence must be lossless."""
    spec = JobSpec.from_json(FULL_JOB)
    again = JobSpec.from_json(spec.to_json())
    assert again == spec
    assert spec.to_json()["run"]["placement"] == FULL_JOB["run"]["placement"]
    assert spec.to_json()["schedules"] == FULL_JOB["schedules"]


def test_nulls_mean_not_given() -> None:
    spec = JobSpec.from_json({"id": "a", "description": None, "run": {"cmd": "x", "user": None}})
    assert spec.description is None and spec.run.user is None


def test_eq_is_read_as_is() -> None:
    """Metronome's older EQ operator is the same rule as IS."""
    raw = job(placement={"constraints": [{"attribute": "rack", "operator": "EQ", "value": "r1"}]})
    (constraint,) = JobSpec.from_json(raw).run.constraints
    assert constraint.operator == "IS"


@pytest.mark.parametrize(
    ("attributes", "ok"),
    [({"rack": "r1", "zone": "a"}, True), ({"rack": "r3", "zone": "a"}, False), ({}, False)],
)
def test_placement_uses_marathons_matcher(attributes: dict[str, str], ok: bool) -> None:
    """IS / LIKE / UNLIKE, Metronome's operators, decided by actors.marathon.match."""
    raw = job(
        placement={
            "constraints": [
                {"attribute": "rack", "operator": "LIKE", "value": "r[12]"},
                {"attribute": "zone", "operator": "IS", "value": "a"},
                {"attribute": "gpu", "operator": "UNLIKE", "value": "yes"},
            ]
        }
    )
    verdict = JobSpec.from_json(raw).run.placement(Agent("h1", attributes))
    assert verdict.ok is ok
    if not ok:
        assert "rack" in verdict.reason


def test_a_docker_image_alone_is_enough() -> None:
    """Metronome: "Cmd, docker or ucr image must be specified"."""
    spec = JobSpec.from_json({"id": "img", "run": {"docker": {"image": "alpine"}}})
    assert spec.run.cmd is None and spec.run.docker is not None


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"id": "Prod", "run": {"cmd": "x"}}, "/id"),
        ({"id": "prod_backup", "run": {"cmd": "x"}}, "/id"),
        ({"id": "-prod", "run": {"cmd": "x"}}, "/id"),
        ({"id": "prod..backup", "run": {"cmd": "x"}}, "/id"),
        ({"id": "prod.", "run": {"cmd": "x"}}, "/id"),
        ({"run": {"cmd": "x"}}, "/id"),
        ({"id": "a"}, "/run"),
        ({"id": "a", "run": {}}, "/run/cmd"),
        ({"id": "a", "run": {"args": ["x"]}}, "/run/cmd"),
        ({"id": "a", "run": {"cmd": "x", "args": ["y"]}}, "/run/args"),
        ({"id": "a", "run": {"cmd": ""}}, "/run/cmd"),
        (job(cpus=0.001), "/run/cpus"),
        (job(cpus=0), "/run/cpus"),
        (job(mem=31), "/run/mem"),
        (job(disk=-1), "/run/disk"),
        (job(gpus=1.5), "/run/gpus"),
        (job(maxLaunchDelay=0), "/run/maxLaunchDelay"),
        (job(env={"A": 1}), "/run/env/A"),
        (job(docker={}), "/run/docker/image"),
        (job(restart={"policy": "ALWAYS"}), "/run/restart/policy"),
        (
            job(restart={"policy": "ON_FAILURE", "activeDeadlineSeconds": -1}),
            "/run/restart/activeDeadlineSeconds",
        ),
        (job(volumes=[{"containerPath": "/d", "mode": "RW"}]), "/run/volumes/0/hostPath"),
        (
            job(volumes=[{"containerPath": "/d", "hostPath": "/h", "mode": "RX"}]),
            "/run/volumes/0/mode",
        ),
        (job(artifacts=[{"executable": True}]), "/run/artifacts/0/uri"),
        (
            job(placement={"constraints": [{"attribute": "r", "operator": "UNIQUE"}]}),
            "/run/placement/constraints/0/operator",
        ),
        (
            job(placement={"constraints": [{"attribute": "r", "operator": "IS"}]}),
            "/run/placement/constraints/0/value",
        ),
        (
            job(placement={"constraints": [{"attribute": "r", "operator": "LIKE", "value": "("}]}),
            "/run/placement/constraints/0/value",
        ),
        (job(cpu=2), "/run/cpu"),
        ({**job(), "instances": 2}, "/instances"),
        ({**job(), "schedules": [{"id": "s", "cron": "61 * * * *"}]}, "/schedules/0/cron"),
        ({**job(), "schedules": [{"id": "s", "cron": "* * * *"}]}, "/schedules/0/cron"),
        ({**job(), "schedules": [{"id": "s", "cron": "0 0 30 2 *"}]}, "/schedules/0/cron"),
        (
            {**job(), "schedules": [{"id": "s", "cron": "* * * * *", "timezone": "Mars/Base"}]},
            "/schedules/0/timezone",
        ),
        (
            {**job(), "schedules": [{"id": "s", "cron": "* * * * *", "timezone": "../etc/passwd"}]},
            "/schedules/0/timezone",
        ),
        (
            {
                **job(),
                "schedules": [{"id": "s", "cron": "* * * * *", "concurrencyPolicy": "REPLACE"}],
            },
            "/schedules/0/concurrencyPolicy",
        ),
        (
            {
                **job(),
                "schedules": [{"id": "s", "cron": "* * * * *", "startingDeadlineSeconds": 30}],
            },
            "/schedules/0/startingDeadlineSeconds",
        ),
        ({**job(), "schedules": [{"id": "S!", "cron": "* * * * *"}]}, "/schedules/0/id"),
        ({**job(), "schedules": [{"id": "s"}]}, "/schedules/0/cron"),
        ({**job(), "schedules": [{"id": "s", "cron": "* * * * *"}] * 2}, "/schedules/1/id"),
    ],
)
def test_each_bad_input_names_its_field(data: dict[str, Any], path: str) -> None:
    """Metronome answers 422 with one detail per bad field, at the field's JSON path."""
    errors = errors_of(data)
    assert path in errors, errors
    assert all(errors[path])


def test_all_problems_are_reported_at_once() -> None:
    errors = errors_of({"id": "Bad", "run": {"cpus": 0, "mem": 1, "cmd": "x"}})
    assert {"/id", "/run/cpus", "/run/mem"} <= set(errors)


def test_the_error_message_names_the_minimum() -> None:
    errors = errors_of(job(cpus=0.001))
    assert "0.01" in errors["/run/cpus"][0]
    errors = errors_of(job(mem=16))
    assert "32" in errors["/run/mem"][0]


def test_a_non_object_body_is_a_422_not_a_crash() -> None:
    assert "/" in errors_of(["not", "a", "job"])


# ---------------------------------------------------------------- issue 30: poison input


@pytest.mark.parametrize(
    ("data", "path", "says"),
    [
        (job(cpus=float("nan")), "/run/cpus", "nan"),
        (job(mem=float("inf")), "/run/mem", "inf"),
        (job(disk=float("-inf")), "/run/disk", "-inf"),
        (job(cpus=10**30), "/run/cpus", "out of range"),
        (job(cpus=1024.5), "/run/cpus", "1024"),
        (job(mem=5 * 1024 * 1024), "/run/mem", "maximum"),
        (job(disk=10**9), "/run/disk", "maximum"),
        (job(gpus=65), "/run/gpus", "64"),
        (job(maxLaunchDelay=10**9), "/run/maxLaunchDelay", "maximum"),
        (job(taskKillGracePeriodSeconds=float("nan")), "/run/taskKillGracePeriodSeconds", "nan"),
        (
            job(restart={"policy": "ON_FAILURE", "activeDeadlineSeconds": 10**12}),
            "/run/restart/activeDeadlineSeconds",
            "maximum",
        ),
        (job(cmd="x" * 32_769), "/run/cmd", "32769 characters"),
        (job(cmd="echo \x00"), "/run/cmd", "NUL"),
        (job(env={"A": "v" * 32_769}), "/run/env/A", "32769 characters"),
        (job(env={"A=B": "v"}), "/run/env", "'A=B'"),
        (job(env={"A": "\x00"}), "/run/env/A", "NUL"),
        ({**job(), "labels": {"k": "v" * 8193}}, "/labels/k", "8193 characters"),
        ({**job(), "labels": {f"k{i}": "v" for i in range(257)}}, "/labels", "257 entries"),
        ({**job(), "id": "Prod"}, "/id", "'Prod'"),
        ({**job(), "id": "prod\n"}, "/id", "'prod\\n'"),
        ({**job(), "id": "prod\x00"}, "/id", "'prod\\x00'"),
        ({**job(), "id": "a..b"}, "/id", "'a..b'"),
        ({**job(), "id": "../etc"}, "/id", "'../etc'"),
        ({**job(), "id": "a/b"}, "/id", "'a/b'"),
        ({**job(), "id": "a" * 5000}, "/id", "5000 characters"),
        ({**job(), "id": "a" * 256}, "/id", "256 characters"),
        ({**job(), "labels": {"deep": [[[[]]]] * 1}}, "/labels/deep", "string"),
    ],
)
def test_poison_job_input_is_a_422_naming_the_field(data: Any, path: str, says: str) -> None:
    """Issue 30: Metronome accepted NaN too; bounds and id rules as for Marathon apps."""
    errors = errors_of(data)
    assert path in errors, errors
    assert says in " ".join(errors[path]), errors
    assert all(len(m) < 400 for ms in errors.values() for m in ms)


def test_a_job_nested_past_the_json_depth_is_a_422_without_recursing() -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    errors = errors_of({**job(), "labels": {"deep": deep}})
    assert "nested deeper than 64 levels" in next(iter(errors.values()))[0]


@pytest.mark.parametrize(
    "data",
    [
        job(cpus=0.01, mem=32),
        job(cpus=1024, mem=4 * 1024 * 1024, disk=0.0, gpus=64),
        job(disk=-0.0),
        {**job(), "id": "a" * 255},
        {**job(), "id": "prod.backup-1.x9"},
        job(env={"A": "v" * 32_768}),
    ],
)
def test_job_values_at_the_limits_are_accepted(data: Any) -> None:
    spec = JobSpec.from_json(data)
    assert JobSpec.from_json(spec.to_json()) == spec


# -- the plain shape's fast path (no JSON-schema walk) ------------------------------------

_WEIRD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 0.009, 31.9, 1024.5, 4 * 1024 * 1024 + 1, 10**400, 64 * 1024**3 + 1]),
    st.sampled_from([True, False, None, 1, 32, 0.5]),
    st.sampled_from(["", "job\n", "-a", "a-", "A", "a..b", "a" * 256, "x\x00", "x" * 32_769]),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=1),
    st.dictionaries(st.text(max_size=1), st.integers(), max_size=1),
)
_PLAIN = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,4})?(\.[a-z0-9]{1,5})?", fullmatch=True),
        "run": st.fixed_dictionaries(
            {"cmd": st.text(min_size=1, max_size=12).filter(lambda c: "\x00" not in c)},
            optional={
                "cpus": st.one_of(st.floats(0.01, 1024), st.sampled_from([0.01, 1024, 1])),
                "mem": st.one_of(st.floats(32, 4 * 1024**2), st.integers(32, 10**6)),
                "disk": st.one_of(st.floats(0, 64 * 1024**2), st.just(0)),
            },
        ),
    },
    optional={"description": st.text(max_size=6)},
)
_WHERE = st.sampled_from(
    (
        *(None, "id", "description", "run", "extra", "labels", "schedules"),
        *("run.cmd", "run.cpus", "run.mem", "run.disk", "run.gpus", "run.args", "run.extra"),
    )
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PLAIN, _WHERE, _WEIRD)
def test_the_plain_shape_fast_path_builds_what_every_check_builds(
    base: dict[str, Any], where: str | None, value: Any
) -> None:
    """A plain body with at most one field set to an odd value (a bool, a null, NaN, a
    bound +- a bit, a bad id, another key...): the fast path takes it only if every check
    passes, and gives the same job, or the same 422, as the checks."""
    body: dict[str, Any] = {**base, "run": dict(base["run"])}
    if where is not None:
        target, _, key = where.rpartition(".")
        (body["run"] if target == "run" else body)[key] = value
    try:
        checked: Any = JobSpec.from_json_checked(body)
    except ValidationFailed as exc:
        checked = ("422", exc.body)
    if plain_job(body):
        assert not isinstance(checked, tuple), (body, checked)
    try:
        fast: Any = JobSpec.from_json(body)
    except ValidationFailed as exc:
        fast = ("422", exc.body)
    assert fast == checked


def test_the_bench_body_and_a_stored_job_take_the_paths_they_should() -> None:
    body = {"id": "scale-j00001", "run": {"cmd": "sleep 3600", "cpus": 0.05, "mem": 32}}
    assert plain_job(body)
    job = JobSpec.from_json(body)
    assert job == JobSpec.from_json_checked(body)
    assert not plain_job(job.to_json())  # every default spelled out: the full checks
    assert JobSpec.from_json(job.to_json()) == job
