"""Persistent volumes on the agent (``actors.agent._volumes``): path rules, the checkpoint
and directory sync, mounting into a task, disk accounting, and the start-up refusal of
``--resources`` that lost checkpointed reservations. Real files in tmp_path; no processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actors import protocol as p
from actors.agent._volumes import (
    Checkpointed,
    VolumeBook,
    VolumeError,
    attach,
    check_checkpointed_resources,
    disk_usage,
    over_quota,
    plan_sync,
    reservation_problem,
    specs_of,
    task_volumes,
    translate,
    volume_path,
)
from actors.resources import Resources


def _volume(pid: str, path: str = "data", mb: float = 10, role: str = "marathon") -> Resources:
    disk = Resources.from_scalars({"disk": mb}).reserve_dynamic(role, "marathon", {"t": pid})
    return disk.create_volume(pid, path)


def _task(res: Resources, task_id: str = "t1") -> p.TaskInfo:
    return p.TaskInfo(task_id, task_id, "a1", res.to_dict(), p.CommandSpec("true"))


def test_volume_paths_follow_mesos_layout_and_never_leave_it(tmp_path: Path) -> None:
    assert volume_path(tmp_path, "marathon", "db#data#1") == (
        tmp_path / "volumes" / "roles" / "marathon" / "db#data#1"
    )
    assert volume_path(tmp_path, "eng/web", "v").parent.name == "eng web"  # one level
    for role, pid in [
        ("*", "v"),
        ("", "v"),
        ("a/../b", "v"),
        ("web", ".."),
        ("web", "a/b"),
        ("web", ""),
        ("web", "x" * 300),
    ]:
        with pytest.raises(VolumeError):
            volume_path(tmp_path, role, pid)


def test_specs_come_from_the_resources_volume_entries() -> None:
    res = _volume("v1", "data", 64) + Resources.parse("cpus:1")
    (spec,) = specs_of(res)
    assert (spec.persistence_id, spec.role, spec.size_mb, spec.container_path, spec.mode) == (
        "v1",
        "marathon",
        64.0,
        "data",
        "RW",
    )
    assert spec.principal == "marathon"
    assert task_volumes(_task(res)) == [spec]
    assert task_volumes(_task(Resources.parse("cpus:1"))) == []


def test_sync_creates_keeps_and_destroys_directories(tmp_path: Path) -> None:
    book = VolumeBook(tmp_path)
    assert book.load().resources == Resources()
    created, removed = book.apply(Checkpointed(_volume("v1") + _volume("v2", "logs")))
    assert sorted(v.persistence_id for v in created) == ["v1", "v2"]
    d1 = volume_path(tmp_path, "marathon", "v1")
    (d1 / "counter").write_text("41")
    # Re-applying the same set changes nothing, data stays.
    assert book.apply(Checkpointed(_volume("v1") + _volume("v2", "logs"))) == ([], [])
    # DESTROY of v2 while a task mounts it: kept until that task is gone.
    created, removed = book.apply(Checkpointed(_volume("v1")), in_use={("marathon", "v2")})
    assert removed == [] and volume_path(tmp_path, "marathon", "v2").is_dir()
    created, removed = book.apply(Checkpointed(_volume("v1")))
    assert [v.persistence_id for v in removed] == ["v2"]
    assert not volume_path(tmp_path, "marathon", "v2").exists()
    # A restarted agent reads the checkpoint back; the data is still there.
    again = VolumeBook(tmp_path)
    assert [v.persistence_id for v in again.load().volumes] == ["v1"]
    assert (d1 / "counter").read_text() == "41"


def test_a_corrupt_checkpoint_refuses_rather_than_forgets(tmp_path: Path) -> None:
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "resources.json").write_text("{not json")
    with pytest.raises(VolumeError, match=r"resources\.json"):
        VolumeBook(tmp_path).load()
    assert "resources.json" in (check_checkpointed_resources(tmp_path, Resources()) or "")


def test_the_agent_refuses_resources_that_lost_its_reservations(tmp_path: Path) -> None:
    held = _volume("v1", mb=500) + Resources.from_scalars({"cpus": 2}).reserve_dynamic(
        "marathon", "marathon"
    )
    assert reservation_problem(held, Resources.parse("cpus:4;disk:1000")) is None
    bad = reservation_problem(held, Resources.parse("cpus:4;disk:100"))
    assert bad is not None and "disk" in bad and "--resources" in bad
    VolumeBook(tmp_path).apply(Checkpointed(held))
    assert check_checkpointed_resources(tmp_path, Resources.parse("cpus:4;disk:1000")) is None
    assert check_checkpointed_resources(tmp_path, Resources.parse("cpus:1;disk:1000"))


def test_a_task_mounts_its_volumes_at_their_container_path(tmp_path: Path) -> None:
    book = VolumeBook(tmp_path)
    book.apply(Checkpointed(_volume("v1", "data")))
    task = _task(_volume("v1", "data") + Resources.parse("cpus:0.1"))
    out = attach(tmp_path, task, book.current.volumes)
    assert out.container is not None
    (vol,) = out.container.volumes
    assert vol.container_path == "data" and vol.mode == "RW"
    assert vol.host_path == str(volume_path(tmp_path, "marathon", "v1").resolve())
    with pytest.raises(VolumeError, match="v9"):
        attach(tmp_path, _task(_volume("v9")), book.current.volumes)


def test_disk_usage_counts_blocks_once_and_flags_volumes_over_their_size(tmp_path: Path) -> None:
    d = tmp_path / "v"
    d.mkdir()
    (d / "a").write_bytes(os.urandom(300_000))
    os.link(d / "a", d / "hardlink")
    (d / "sub").mkdir()
    (d / "sub" / "b").write_bytes(os.urandom(100_000))
    used = disk_usage(d)
    assert 400_000 <= used < 600_000
    (spec,) = specs_of(_volume("v", mb=0.25))
    assert over_quota({("marathon", "v"): used}, [spec]) == [(spec, used)]
    assert over_quota({("marathon", "v"): 1000}, [spec]) == []
    assert plan_sync([spec], [spec]) == ([spec], [], [])


def test_a_task_killed_for_its_disk_ends_failed_with_the_limitation_reason() -> None:
    class Agent:
        disk_limited = {"t1": "Disk usage (2.0 MB) exceeds its size (1 MB)"}

    agent = Agent()
    assert translate(agent, "TASK_RUNNING", None, "", "t1")[0] == "TASK_RUNNING"
    state, reason, message = translate(agent, "TASK_KILLED", None, "killed", "t1")
    assert (state, reason) == ("TASK_FAILED", "REASON_CONTAINER_LIMITATION_DISK")
    assert "exceeds" in message and agent.disk_limited == {}


def test_the_usage_check_reports_and_kills_only_when_enforced(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from actors.agent._volumes import check_usage

    res = _volume("v1", mb=0.25)
    book = VolumeBook(tmp_path)
    book.apply(Checkpointed(res))
    (volume_path(tmp_path, "marathon", "v1") / "big").write_bytes(os.urandom(400_000))
    kills: list[str] = []
    runner = SimpleNamespace(kill=lambda tid, grace, report: kills.append(tid))
    task = SimpleNamespace(state="TASK_RUNNING", info=_task(res + Resources.parse("cpus:0.1")))
    agent = SimpleNamespace(
        volume_book=book,
        tasks={"t1": task},
        disk_limited={},
        enforce_disk_quota=False,
        runner=runner,
        _report_fn=None,
    )
    ((tid, spec, used),) = check_usage(agent)
    assert (tid, spec.persistence_id) == ("t1", "v1") and used >= 400_000
    assert kills == [] and agent.disk_limited == {}  # reported only
    agent.enforce_disk_quota = True
    check_usage(agent)
    assert kills == ["t1"] and "exceeds its size" in agent.disk_limited["t1"]
    check_usage(agent)
    assert kills == ["t1"]  # killed once
