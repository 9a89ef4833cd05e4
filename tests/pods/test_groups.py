"""The agent's task-group planning (pure): members checked, shared volumes placed
under the group's sandbox and handed to the native containerizer as host paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors import protocol as p
from actors.agent._groups import GroupError, kills_group, plan_group


def member(task_id: str, group: str = "g.instance-1", *vols: p.VolumeInfo) -> p.TaskInfo:
    return p.TaskInfo(
        task_id,
        task_id,
        "a1",
        {"cpus": 0.1},
        p.CommandSpec("sleep 1"),
        container=p.ContainerInfo(volumes=list(vols)) if vols else None,
        group_id=group,
    )


def test_shared_volumes_live_under_the_group_and_become_host_paths(tmp_path: Path) -> None:
    shared = p.VolumeInfo("data", "volumes/shared", "RW")
    ro = p.VolumeInfo("/srv/data", "volumes/shared", "RO")
    host = p.VolumeInfo("etc", "/etc", "RO")
    m = p.RunTaskGroup(
        "fw",
        "addr",
        "g.instance-1",
        [
            member("g.instance-1.a", "g.instance-1", shared, host),
            member("g.instance-1.b", "g.instance-1", ro),
        ],
    )
    plan = plan_group(m, tmp_path)
    where = tmp_path / "sandboxes" / "g.instance-1" / "volumes" / "shared"
    assert plan.dirs == [where]
    a, b = plan.tasks
    assert a.container is not None and b.container is not None
    assert [(v.container_path, v.host_path, v.mode) for v in a.container.volumes] == [
        ("data", str(where), "RW"),
        ("etc", "/etc", "RO"),
    ]
    assert [(v.container_path, v.host_path, v.mode) for v in b.container.volumes] == [
        ("/srv/data", str(where), "RO")
    ]


@pytest.mark.parametrize(
    ("tasks", "error"),
    [
        ([], "has no tasks"),
        ([member("x.a", "other")], "is not 'g.instance-1'"),
        ([member("x.a"), member("x.a")], "used twice"),
    ],
)
def test_bad_groups_are_refused_whole(tmp_path: Path, tasks: list[p.TaskInfo], error: str) -> None:
    with pytest.raises(GroupError, match=error):
        plan_group(p.RunTaskGroup("fw", "addr", "g.instance-1", tasks), tmp_path)


def test_an_escaping_volume_cannot_even_be_described() -> None:
    # actors.protocol refuses it (so no RunTaskGroup carries one); plan_group checks again.
    with pytest.raises(p.TaskDescriptionError, match="escapes"):
        p.VolumeInfo("d", "../up", "RW")


def test_a_member_that_finishes_leaves_the_others_running() -> None:
    assert kills_group("TASK_FAILED") and kills_group("TASK_KILLED") and kills_group("TASK_LOST")
    assert not kills_group("TASK_FINISHED") and not kills_group("TASK_RUNNING")


def test_a_checkpoint_written_before_task_groups_still_recovers(tmp_path: Path) -> None:
    import json

    from actors.agent._task_store import FORMAT, TaskStore
    from transport import codec

    store = TaskStore(tmp_path)
    task = codec.encode_body(member("web.1", ""))[1]
    del task["group_id"]  # what an agent before this change wrote
    store.dir.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "framework_id": "fw", "task": task, "state": "TASK_RUNNING"}
    (store.dir / "web.1.json").write_text(json.dumps({**doc, "updates": []}))
    (loaded,) = store.load()
    assert loaded.info.task_id == "web.1" and loaded.info.group_id == ""
