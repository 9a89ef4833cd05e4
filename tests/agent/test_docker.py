"""Docker containerizer against the real engine (private dockerd from conftest)."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest

from actors.agent import (
    LABEL_TASK,
    REASON_CONTAINER_LIMITATION_MEMORY,
    TASK_FAILED,
    TASK_FINISHED,
    TASK_KILLED,
    TEST_IMAGE,
    Containerizers,
    DockerContainerizer,
    DockerDaemon,
    HealthCheckSpec,
    HealthReport,
    PortMapping,
    TaskSpec,
    UpdateLog,
    Volume,
    read_checkpoints,
    write_checkpoint,
)
from tests.agent.conftest import wait_for

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dk(dockerd: DockerDaemon, work_dir: Path) -> DockerContainerizer:
    c = DockerContainerizer(work_dir, dockerd.url, agent_id=f"test-{work_dir.name[-12:]}")
    assert c.available, c.unavailable_reason
    return c


def spec(task_id: str, command: str, **kw: Any) -> TaskSpec:
    return TaskSpec(
        task_id=task_id, command=command, container_type="DOCKER", image=TEST_IMAGE, mem=64, **kw
    )  # type: ignore[arg-type]


def test_output_env_and_exit_code(dk: DockerContainerizer, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "v.txt").write_text("from-volume")
    u = UpdateLog()
    h = dk.launch(
        spec(
            "out",
            'echo "$MESOS_TASK_ID $MESOS_SANDBOX"; echo err >&2; cat /v/v.txt',
            volumes=(Volume("/v", str(vol), "RO"),),
            labels=(("team", "x"),),
        ),
        None,
        u,
    )
    assert h.wait(30) == TASK_FINISHED, u.updates
    assert h.sandbox.stdout.read_text() == "out /mnt/mesos/sandbox\nfrom-volume"
    assert h.sandbox.stderr.read_text() == "err\n"
    u = UpdateLog()
    h = dk.launch(spec("fail", "exit 5"), None, u)
    assert h.wait(30) == TASK_FAILED and u.updates[-1][2] == "exited with status 5"


def test_missing_image_and_failed_pull_report_the_engine_reason(dk: DockerContainerizer) -> None:
    u = UpdateLog()
    h = dk.launch(
        TaskSpec(
            task_id="noimg", command="true", container_type="DOCKER", image="pydcos-no-such-image:1"
        ),
        None,
        u,
    )
    assert h.wait(30) == TASK_FAILED and "not found" in u.updates[-1][2], u.updates
    u = UpdateLog()
    h = dk.launch(spec("pull", "true", force_pull=True), None, u)
    assert h.wait(60) == TASK_FAILED and "cannot pull image" in u.updates[-1][2], u.updates


def test_kill_with_grace_then_sigkill(dk: DockerContainerizer) -> None:
    u = UpdateLog()
    h = dk.launch(
        spec(
            "stub",
            "trap 'echo got-term' TERM; echo ready; while :; do sleep 0.1; done",
            kill_grace_period=1,
        ),
        None,
        u,
    )
    wait_for(lambda: "ready" in h.sandbox.tail("stdout"), 30, "ready")
    h.kill()
    assert h.wait(30) == TASK_KILLED
    wait_for(lambda: "got-term" in h.sandbox.tail("stdout"), 5, "got-term in log")


def test_oom_is_a_memory_limitation(dk: DockerContainerizer) -> None:
    u = UpdateLog()
    h = dk.launch(
        spec("hog", "dd if=/dev/zero bs=1M count=200 2>/dev/null | tail -c 150000000 >/dev/null"),
        None,
        u,
    )
    assert h.wait(60) == TASK_FAILED
    assert u.updates[-1][1] == REASON_CONTAINER_LIMITATION_MEMORY, u.updates


def test_bridge_port_mapping_reachable_and_http_health(dk: DockerContainerizer) -> None:
    port = free_port()
    reports: list[HealthReport] = []
    s = spec(
        "web",
        "mkdir -p /www && echo hello > /www/index.html && httpd -f -p 80 -h /www",
        network="BRIDGE",
        ports=(port,),
        port_mappings=(PortMapping(80, 0),),
        health_checks=(
            HealthCheckSpec(
                protocol="HTTP",
                grace_period_seconds=20,
                interval_seconds=0.3,
                timeout_seconds=2,
                delay_seconds=0,
            ),
        ),
    )
    h = dk.launch(s, None, UpdateLog(), reports.append)
    wait_for(lambda: any(r.healthy for r in reports), 30, "healthy")
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
    assert body == b"hello\n"
    usage = h.usage()
    assert usage is not None and usage.mem_bytes > 0
    h.kill(0)
    assert h.wait(30) == TASK_KILLED


def test_command_health_check_unhealthy_kills(dk: DockerContainerizer) -> None:
    reports: list[HealthReport] = []
    s = spec(
        "cmd",
        "touch /ok; sleep 1; rm /ok; sleep 60",
        health_checks=(
            HealthCheckSpec(
                protocol="COMMAND",
                command="test -e /ok",
                grace_period_seconds=10,
                interval_seconds=0.3,
                timeout_seconds=5,
                delay_seconds=0,
                max_consecutive_failures=2,
            ),
        ),
    )
    h = dk.launch(s, None, UpdateLog(), reports.append)
    assert h.wait(40) == TASK_KILLED
    assert reports[0].healthy and reports[-1].kill


def test_facade_lists_both_when_engine_is_up(dockerd: DockerDaemon, work_dir: Path) -> None:
    cs = Containerizers(work_dir, ["mesos", "docker"], docker_url=dockerd.url)
    assert cs.available() == ["mesos", "docker"]


AGENT = """
import sys, time
sys.path.insert(0, {repo!r})
from actors.agent import DockerContainerizer
from actors.agent import TaskSpec
c = DockerContainerizer({wd!r}, {url!r}, agent_id="rec")
def s(t, cmd):
    return TaskSpec(task_id=t, command=cmd, container_type="DOCKER", image={img!r}, mem=64)
hs = [c.launch(s("long", "sleep 60"), None, lambda *a: None),
      c.launch(s("short", "sleep 1; exit 4"), None, lambda *a: None)]
while not all(h.state == "TASK_RUNNING" for h in hs):
    time.sleep(0.01)
print(" ".join(h.container_id for h in hs), flush=True)
time.sleep(600)
"""


def test_recover_finds_containers_by_label(dockerd: DockerDaemon, work_dir: Path) -> None:
    agent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            AGENT.format(repo=str(REPO), wd=str(work_dir), url=dockerd.url, img=TEST_IMAGE),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert agent.stdout is not None
    long_id, short_id = agent.stdout.readline().split()
    agent.kill()
    agent.wait()
    client = docker.DockerClient(base_url=dockerd.url)
    wait_for(lambda: client.containers.get(short_id).status == "exited", 20, "short exits")
    c = DockerContainerizer(work_dir, dockerd.url, agent_id="rec")
    got = {r.task_id: r for r in c.recover()}
    assert got["long"].running and got["long"].handle.container_id == long_id
    assert client.containers.get(long_id).labels[LABEL_TASK] == "long"
    assert not got["short"].running and got["short"].state == TASK_FAILED
    assert "exited with status 4" in got["short"].message
    h = got["long"].handle
    h.kill(0)
    assert h.wait(30) == TASK_KILLED
    client.close()


def test_a_checkpoint_it_cannot_read_ends_the_task_and_its_container(
    dockerd: DockerDaemon, work_dir: Path
) -> None:
    """A spec another agent version wrote (here: a port mapping protocol this one refuses)
    fails the task at recovery, naming why, and removes its container: no unwatched task."""
    c = DockerContainerizer(work_dir, dockerd.url, agent_id="unreadable")
    h = c.launch(spec("odd", "sleep 60"), None, lambda *a: None)
    wait_for(lambda: h.state == "TASK_RUNNING", 30, "odd running")
    container_id = h.container_id
    (cp,) = [x for x in read_checkpoints(work_dir) if x["task_id"] == "odd"]
    cp["spec"]["port_mappings"] = [{"container_port": 53, "host_port": 0, "protocol": "udp,tcp"}]
    write_checkpoint(work_dir, "odd", cp)
    (got,) = DockerContainerizer(work_dir, dockerd.url, agent_id="unreadable").recover()
    assert (got.task_id, got.running, got.state) == ("odd", False, TASK_FAILED)
    assert "unreadable checkpoint" in got.message and "PortMapping.protocol" in got.message
    client = docker.DockerClient(base_url=dockerd.url)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(container_id)
    client.close()
