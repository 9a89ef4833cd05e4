"""Task resource limits (Mesos 1.9+ ``TaskInfo.limits``): the request is what is reserved,
the limit is what the kernel enforces (the CFS quota, the memory limit), unlimited is none."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import protocol as p
from actors.agent import TASK_RUNNING, NativeContainerizer, TaskSpec, UpdateLog, task_spec
from actors.agent._cgroups import cgroup_limit_files
from actors.agent._docker import docker_limits
from tests.agent.conftest import wait_for

MB = 1024 * 1024


# -- pure ----------------------------------------------------------------------------


def test_without_limits_the_request_is_the_hard_quota_as_before() -> None:
    assert cgroup_limit_files(2, 0.5, 64) == {
        ("memory", "memory.max"): str(64 * MB),
        ("memory", "memory.swap.max"): "0",
        ("cpu", "cpu.max"): "50000 100000",
    }
    v1 = cgroup_limit_files(1, 0.5, 64)
    assert v1[("cpu", "cpu.cfs_quota_us")] == "50000"
    assert v1[("cpu", "cpu.shares")] == "512"
    assert v1[("memory", "memory.limit_in_bytes")] == str(64 * MB)


def test_unlimited_means_no_quota_and_no_memory_limit_but_the_weight_of_the_request() -> None:
    v2 = cgroup_limit_files(2, 0.5, 64, math.inf, math.inf)
    assert v2[("cpu", "cpu.max")] == "max 100000"
    assert v2[("memory", "memory.max")] == "max"
    v1 = cgroup_limit_files(1, 0.5, 64, math.inf, math.inf)
    assert v1[("cpu", "cpu.cfs_quota_us")] == "-1"
    assert v1[("cpu", "cpu.shares")] == "512"  # a busy host still shares by the request
    assert v1[("memory", "memory.limit_in_bytes")] == "-1"
    assert v1[("memory", "memory.memsw.limit_in_bytes")] == "-1"


def test_a_numeric_limit_is_the_quota_and_never_below_the_request() -> None:
    v2 = cgroup_limit_files(2, 0.5, 64, 1.5, 128)
    assert v2[("cpu", "cpu.max")] == "150000 100000"
    assert v2[("memory", "memory.max")] == str(128 * MB)
    assert cgroup_limit_files(2, 0.5, 64, 0.1, 8)[("cpu", "cpu.max")] == "50000 100000"


def test_docker_limits() -> None:
    spec = TaskSpec(task_id="d", cpus=0.5, mem=64)
    assert docker_limits(spec) == {
        "nano_cpus": 500_000_000,
        "mem_limit": 64 * MB,
        "memswap_limit": 64 * MB,
    }
    free = TaskSpec(task_id="d", cpus=0.5, mem=64, cpus_limit=math.inf, mem_limit=math.inf)
    assert docker_limits(free) == {"cpu_shares": 512}


def _task(limits: dict[str, float]) -> p.TaskInfo:
    return p.TaskInfo(
        task_id="t",
        name="t",
        agent_id="a",
        resources={"cpus": 0.5, "mem": 64.0},
        command=p.CommandSpec("sleep 1"),
        limits=limits,
    )


def test_task_info_limits_reach_the_spec() -> None:
    spec = task_spec(_task({"cpus": math.inf, "mem": 128.0}))
    assert (spec.cpus, spec.cpus_limit, spec.mem, spec.mem_limit) == (0.5, math.inf, 64, 128)
    plain = task_spec(_task({}))
    assert (plain.cpus_limit, plain.mem_limit) == (None, None)
    assert TaskSpec.from_json(spec.to_json()) == spec  # checkpoints keep them


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"disk": 1.0}, "TaskInfo.limits.disk: 'disk' is not one of cpus, mem"),
        ({"cpus": -1.0}, "TaskInfo.limits.cpus: -1.0 must be a number >= 0 or unlimited"),
        ({"mem": "lots"}, "TaskInfo.limits.mem: 'lots' must be a number >= 0 or unlimited"),
        ({"cpus": math.nan}, "TaskInfo.limits.cpus: nan must be a number >= 0 or unlimited"),
    ],
)
def test_bad_task_info_limits_are_refused_naming_the_key(
    limits: dict[str, float], message: str
) -> None:
    with pytest.raises(p.TaskDescriptionError) as e:
        _task(limits)
    assert str(e.value) == message


def test_limits_below_the_request() -> None:
    assert p.limits_problem({"cpus": 0.25}, {"cpus": 0.5}) == (
        "cpus",
        "0.25 is below the requested cpus 0.5",
    )
    assert p.limits_problem({"cpus": math.inf, "mem": 64.0}, {"cpus": 0.5, "mem": 64}) is None


# -- a real native task's cgroup -------------------------------------------------------


@pytest.fixture
def native(work_dir: Path) -> Iterator[NativeContainerizer]:
    c = NativeContainerizer(work_dir, cgroup_root=f"pydcos-test-{os.getpid()}")
    yield c
    c.remove_cgroup_root(kill_tasks=True)


def _limit_files(c: NativeContainerizer, spec: TaskSpec) -> dict[str, str]:
    """Launch ``spec`` (a sleeper) and read its cgroup's limit files from the kernel."""
    u = UpdateLog()
    h = c.launch(spec, None, u)
    try:
        wait_for(lambda: TASK_RUNNING in u.states(), 20, f"{spec.task_id} running: {u.updates}")
        cg = h.cgroup
        assert cg is not None, u.updates
        names = (
            ("cpu.max", "memory.max")
            if cg.version == 2
            else ("cpu.cfs_quota_us", "cpu.shares", "memory.limit_in_bytes")
        )
        out = {}
        for name in names:
            controller = "cpu" if name.startswith("cpu") else "memory"
            where = cg.root / cg.name if cg.version == 2 else cg.root / controller / cg.name
            out[name] = (where / name).read_text().strip()
        return out
    finally:
        h.kill()
        h.wait(20)


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups need root")
def test_real_task_cgroups_unlimited_and_numeric(native: NativeContainerizer) -> None:
    if native.cgroup_version is None or not native.isolated:
        pytest.skip(f"no isolation here: {native.isolation_note}")
    free = _limit_files(
        native,
        TaskSpec(
            task_id="free",
            command="sleep 30",
            cpus=0.5,
            mem=64,
            cpus_limit=math.inf,
            mem_limit=math.inf,
        ),
    )
    capped = _limit_files(
        native,
        TaskSpec(task_id="capped", command="sleep 30", cpus=0.5, mem=64, cpus_limit=1.5),
    )
    if native.cgroup_version == 2:
        assert free["cpu.max"] == "max 100000"
        assert free["memory.max"] == "max"
        assert capped["cpu.max"] == "150000 100000"
        assert capped["memory.max"] == str(64 * MB)
    else:
        assert free["cpu.cfs_quota_us"] == "-1"
        assert free["cpu.shares"] == "512"
        assert int(free["memory.limit_in_bytes"]) > 2**60  # the kernel's "unlimited"
        assert capped["cpu.cfs_quota_us"] == "150000"
        assert capped["memory.limit_in_bytes"] == str(64 * MB)
