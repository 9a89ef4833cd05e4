"""A persistent volume mounted into a Docker container (``-v <volume dir>:<sandbox>/data``)
by the real engine (the session's private dockerd): what one task writes there, the next
task on the same volume reads, after the first container is gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors import protocol as p
from actors.agent import (
    TASK_FINISHED,
    TEST_IMAGE,
    DockerContainerizer,
    DockerDaemon,
    UpdateLog,
    task_spec,
)
from actors.agent._volumes import Checkpointed, VolumeBook, attach, volume_path
from actors.resources import Resources

pytestmark = pytest.mark.docker


def _task(task_id: str, command: str, res: Resources) -> p.TaskInfo:
    return p.TaskInfo(
        task_id,
        task_id,
        "a1",
        res.to_dict(),
        p.CommandSpec(command),
        container=p.ContainerInfo("DOCKER", docker=p.DockerInfo(TEST_IMAGE)),
    )


def test_a_docker_task_writes_its_volume_and_the_next_one_reads_it(
    dockerd: DockerDaemon, work_dir: Path
) -> None:
    dk = DockerContainerizer(work_dir, dockerd.url, agent_id=f"test-{work_dir.name[-12:]}")
    assert dk.available, dk.unavailable_reason
    disk = Resources.from_scalars({"disk": 8}).reserve_dynamic("marathon", "marathon")
    volume = disk.create_volume("db#data#1", "data")
    book = VolumeBook(work_dir)
    book.apply(Checkpointed(volume))
    res = volume + Resources.parse("cpus:0.1;mem:64")
    for task_id, command in (
        ("w", "echo kept > $MESOS_SANDBOX/data/f"),
        ("r", "cat $MESOS_SANDBOX/data/f"),
    ):
        task = attach(work_dir, _task(task_id, command, res), book.current.volumes)
        u = UpdateLog()
        h = dk.launch(task_spec(task), None, u)
        assert h.wait(60) == TASK_FINISHED, u.updates
    assert h.sandbox.stdout.read_text() == "kept\n"
    assert (volume_path(work_dir, "marathon", "db#data#1") / "f").read_text() == "kept\n"
