"""A persistent volume mounted into a Docker container (``-v <volume dir>:<sandbox>/data``)
by the real engine (the session's private dockerd): what one task writes there, the next
task on the same volume reads, after the first container is gone."""

from __future__ import annotations

import contextlib
import dataclasses
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
from actors.agent._runner import SpecError
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


def test_a_docker_named_volume_outlives_its_container(
    dockerd: DockerDaemon, work_dir: Path
) -> None:
    """``parameters: [{"key": "volume", "value": "<name>:/named"}]`` (Marathon's way to ask
    ``docker run --volume``): the engine creates the named volume; the next container
    sees what the first wrote; a bad value fails the launch naming it."""
    import docker

    dk = DockerContainerizer(work_dir, dockerd.url, agent_id=f"test-{work_dir.name[-12:]}")
    name = f"pydcos-test-{work_dir.name[-12:]}".lower()
    res = Resources.parse("cpus:0.1;mem:64")
    try:
        for task_id, command in (("nw", "echo named > /named/f"), ("nr", "cat /named/f")):
            info = _task(task_id, command, res)
            params = [p.Parameter("volume", f"{name}:/named")]
            container = p.ContainerInfo(
                "DOCKER", docker=p.DockerInfo(TEST_IMAGE, parameters=params)
            )
            u = UpdateLog()
            h = dk.launch(task_spec(dataclasses.replace(info, container=container)), None, u)
            assert h.wait(60) == TASK_FINISHED, u.updates
        assert h.sandbox.stdout.read_text() == "named\n"
    finally:
        client = docker.DockerClient(base_url=dockerd.url)
        with contextlib.suppress(Exception):
            client.volumes.get(name).remove(force=True)
        client.close()
    bad = p.ContainerInfo(
        "DOCKER", docker=p.DockerInfo(TEST_IMAGE, parameters=[p.Parameter("volume", "/h:/x")])
    )
    with pytest.raises(SpecError, match="not a Docker volume name"):
        task_spec(dataclasses.replace(_task("bad", "true", res), container=bad))
