"""A Docker task's log through an agent SIGKILL (the catch-up gap of issue 21).

The engine keeps logging while the agent is down; the restarted agent reattaches its log
pumps from the start of the engine's log, skipping exactly the bytes already in the
sandbox (``LogPosition``), so the sandbox's stdout, read through a master's logs API,
has every line once: the running task's, and the one that ended while the agent was
down (its tail is copied before the container is removed).
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.request
from typing import Any

import pytest

from actors import protocol as p
from tests.e2e._tasks import Launcher, task
from tests.e2e.conftest import E2ECluster, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk, pytest.mark.docker]

RESOURCES = "cpus:4;mem:2048;disk:1000;ports:[31000-31100]"
COUNT = (
    'i=0; while [ ! -e "$MESOS_SANDBOX/stop" ]; do i=$((i+1)); echo "n $i"; sleep 0.05; done; '
    'echo "n end"; exit 3'
)


def log_of(cluster: E2ECluster, task_id: str) -> list[str]:
    url = f"{cluster.masters[0].http_url}/system/v1/logs/v2/task/{task_id}"
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode().splitlines()


def counted(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for x in lines if (m := re.fullmatch(r"n (\d+)", x))]


def test_docker_logs_written_while_the_agent_was_down_are_caught_up_once(
    cluster: E2ECluster, dockerd: Any
) -> None:
    import docker

    from actors.agent import TEST_IMAGE

    client = docker.DockerClient(base_url=dockerd.url, timeout=30)
    cluster.start(masters=1, agents=0)
    agent = cluster.add_agent("mesos,docker", RESOURCES, "--docker-url", dockerd.url)
    ids = ["dlive", "dends"]

    def make(tid: str, agent_id: str) -> p.TaskInfo:
        t = task(tid, agent_id, COUNT)
        return p.TaskInfo(
            t.task_id, t.name, t.agent_id, t.resources, t.command,
            container=p.ContainerInfo(type="DOCKER", docker=p.DockerInfo(TEST_IMAGE)),
            kill_grace_period=0.5,
        )  # fmt: skip

    try:
        agent.wait_up()
        cluster.wait_agents(1)
        fw = cluster.framework("dlogs", on_offers=Launcher(ids, 2, make))
        wait_for(lambda: all(fw.sched.latest(t) == "TASK_RUNNING" for t in ids), 60, "RUNNING")
        wait_for(lambda: len(counted(log_of(cluster, "dlive"))) >= 5, 20, "lines pumped")
        assert agent.work_dir is not None
        agent.kill9()
        before = len(
            counted((agent.work_dir / "sandboxes" / "dlive" / "stdout").read_text().splitlines())
        )
        (agent.work_dir / "sandboxes" / "dends" / "stop").touch()
        containers = {
            c.labels.get("pydcos.task_id"): c
            for c in client.containers.list(all=True, filters={"label": "pydcos.task_id"})
        }
        wait_for(lambda: containers["dends"].reload() or containers["dends"].status == "exited",
                 20, "dends exits while the agent is down")  # fmt: skip
        wait_for(
            lambda: (
                len(containers["dlive"].logs(stdout=True, stderr=False).splitlines()) > before + 20
            ),
            20,
            "dlive logs on while the agent is down",
        )
        cluster.restart(agent)
        wait_for(lambda: fw.sched.latest("dends") == "TASK_FAILED", 30, "dends reported")
        ended = log_of(cluster, "dends")
        assert ended[-1] == "n end" and counted(ended) == list(range(1, len(counted(ended)) + 1))
        (agent.work_dir / "sandboxes" / "dlive" / "stop").touch()
        wait_for(lambda: fw.sched.latest("dlive") == "TASK_FAILED", 30, "dlive ends")
        lines = log_of(cluster, "dlive")
        got = counted(lines)
        assert got == list(range(1, len(got) + 1)), got  # every line once, none lost
        assert len(got) > before + 20 and lines[-1] == "n end"
    finally:
        cluster.stop_all()
        with contextlib.suppress(Exception):
            assert agent.work_dir is not None
            ns = json.loads((agent.work_dir / "meta" / "containerizer_id").read_text())
            for c in client.containers.list(all=True, filters={"label": f"pydcos.agent_id={ns}"}):
                with contextlib.suppress(Exception):
                    c.remove(force=True)
        client.close()
