"""A SIGKILLed agent restarted on its work dir recovers its tasks (``--recover=reconnect``).

Mesos' agent recovery: tasks outlive the agent process; the restarted agent reattaches to
the ones still running (native: pid + start time + cgroup; Docker: labelled containers),
re-registers them with the master, resends the status updates nobody acknowledged, and
reports how the others ended while it was away. Nothing is restarted, nothing is LOST.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import psutil
import pytest

from actors import protocol as p
from actors.agent import GetAgentState, GetUsage, TaskStore
from tests.e2e._tasks import Launcher, task
from tests.e2e.conftest import (
    E2ECluster,
    Framework,
    Proc,
    native_checkpoints,
    task_alive,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.zk]

RESOURCES = "cpus:4;mem:2048;disk:1000;ports:[31000-31100]"
# Runs in its sandbox (its cwd; $MESOS_SANDBOX in Docker) until the test drops "stop" there.
UNTIL_STOP = 'while [ ! -e "$MESOS_SANDBOX/stop" ]; do sleep 0.1; done; exit 3'


def ask(fw: Framework, agent: Proc, message: Any) -> Any:
    """Ask the agent actor itself, over the wire."""
    return fw.handle.node.ref(f"{agent.address}/agent").ask(message, timeout=5)


def sandbox(agent: Proc, task_id: str) -> Path:
    assert agent.work_dir is not None
    return agent.work_dir / "sandboxes" / task_id


def all_states(fw: Framework) -> list[str]:
    with fw.sched.lock:
        return [u.state for u in fw.sched.updates]


def test_a_restarted_agent_reattaches_to_its_native_tasks_and_reports_the_one_that_exited(
    cluster: E2ECluster,
) -> None:
    """SIGKILL the agent, restart it: the same task pids are still running, unchanged, and
    known to the master as RUNNING; no TASK_LOST reached the framework; the task that
    exited while the agent was down is reported FAILED with its real exit status."""
    cluster.start(masters=1, agents=1, containerizers="mesos")
    agent = cluster.agents[0]
    assert agent.work_dir is not None
    commands = {"keep": "sleep 600", "exits": UNTIL_STOP}
    launcher = Launcher(list(commands), 2, lambda t, a: task(t, a, commands[t]))
    fw = cluster.framework("svc", on_offers=launcher)
    wait_for(lambda: all(fw.sched.latest(t) == "TASK_RUNNING" for t in commands), 20, "RUNNING")
    before = native_checkpoints(agent.work_dir)
    assert all(task_alive(before[t]) for t in commands)
    agent_id = launcher.placed["keep"]

    # Usage, asked remotely: from each task's cgroup. RUNNING is sent once the task's
    # shell is spawned; it joins its cgroup before exec'ing the command, so on a busy
    # machine the first sample can still read 0 bytes: wait for a charged sample.
    def sampled() -> dict[str, Any] | None:
        usage = ask(fw, agent, GetUsage())
        return usage if usage.get("keep", {}).get("mem_bytes", 0) > 0 else None

    usage = wait_for(sampled, 20, "a memory sample from the task's cgroup")
    assert set(usage) == set(commands), usage
    assert usage["keep"]["mem_limit_bytes"] == 32 * 2**20 and usage["keep"]["cpus_limit"] == 0.1
    assert usage["keep"]["cpu_time_s"] >= 0

    agent.kill9()
    (sandbox(agent, "exits") / "stop").touch()
    wait_for(lambda: not task_alive(before["exits"]), 10, "the exits task to end")
    cluster.restart(agent)

    wait_for(lambda: fw.sched.latest("exits") == "TASK_FAILED", 20, "exits reported FAILED")
    failed = fw.sched.of("exits")[-1]
    assert failed.source == "SOURCE_AGENT" and failed.agent_id == agent_id
    assert failed.reason == "REASON_COMMAND_EXECUTOR_FAILED", failed
    assert "exited with status 3 while the agent was down" in failed.message, failed
    wait_for(lambda: cluster.tasks().get("keep", {}).get("state") == "TASK_RUNNING", 20, "keep")
    state = cluster.wait_agents(1)
    assert [a["id"] for a in state["slaves"]] == [agent_id]
    wait_for(lambda: fw.sched.latest("keep") == "TASK_RUNNING", 10, "keep RUNNING at the framework")
    assert cluster.tasks()["exits"]["state"] == "TASK_FAILED"

    after = native_checkpoints(agent.work_dir)["keep"]
    assert (after["pid"], after["start_time"]) == (
        before["keep"]["pid"],
        before["keep"]["start_time"],
    )
    assert task_alive(after), "the running task was restarted or killed"
    assert "TASK_LOST" not in all_states(fw), fw.sched.updates
    assert launcher.pending == [] and fw.sched.errors == []
    wait_for(lambda: ask(fw, agent, GetAgentState())["tasks"] == {"keep": "TASK_RUNNING"}, 10)


def test_an_update_checkpointed_but_unacknowledged_before_the_kill_is_delivered_after_restart(
    cluster: E2ECluster,
) -> None:
    """Mesos' status update manager checkpoints every update before sending it: the
    restarted agent resends the head of the stream (same uuid) and, once that is
    acknowledged, the next one it had queued before it died."""
    cluster.start(masters=1, agents=1, containerizers="mesos")
    agent = cluster.agents[0]
    assert agent.work_dir is not None
    launcher = Launcher(["slow"], make=lambda t, a: task(t, a, "sleep 600"))
    fw = cluster.framework("lazy", auto_acknowledge=False, on_offers=launcher)
    wait_for(lambda: ask(fw, agent, GetAgentState())["pending_updates"] == 2, 20, "2 pending")
    (stored,) = TaskStore(agent.work_dir).load()
    starting, running = stored.updates
    assert (starting.state, running.state) == ("TASK_STARTING", "TASK_RUNNING")
    # The agent counts STARTING pending once it is sent; the master forwards it on.
    wait_for(lambda: fw.sched.states("slow"), 20, "STARTING forwarded to the framework")
    assert fw.sched.states("slow")[0] == "TASK_STARTING"
    assert running.uuid not in {u.uuid for u in fw.sched.of("slow")}

    agent.kill9()
    seen = len(fw.sched.of("slow"))
    cluster.restart(agent)

    def resent() -> p.StatusUpdate | None:
        return next((u for u in fw.sched.of("slow")[seen:] if u.uuid == starting.uuid), None)

    again = wait_for(resent, 20, "STARTING resent by the restarted agent")
    fw.driver.acknowledge(again)

    def delivered() -> p.StatusUpdate | None:
        return next((u for u in fw.sched.of("slow") if u.uuid == running.uuid), None)

    got = wait_for(delivered, 20, "the checkpointed RUNNING delivered")
    assert (got.state, got.source, got.timestamp) == (
        "TASK_RUNNING",
        "SOURCE_AGENT",
        running.timestamp,
    )
    fw.driver.acknowledge(got)
    wait_for(lambda: ask(fw, agent, GetAgentState())["pending_updates"] == 0, 10, "drained")
    assert "TASK_LOST" not in all_states(fw)
    assert cluster.tasks()["slow"]["state"] == "TASK_RUNNING"


@pytest.mark.docker
def test_a_restarted_agent_reattaches_to_its_docker_containers(
    cluster: E2ECluster, dockerd: Any
) -> None:
    """The same with the Docker containerizer on a private dockerd: the running container
    (same id, never restarted) is RUNNING again; the one that exited while the agent was
    down is FAILED with its exit status and removed."""
    import docker

    from actors.agent import TEST_IMAGE

    client = docker.DockerClient(base_url=dockerd.url, timeout=30)
    cluster.start(masters=1, agents=0)
    agent = cluster.add_agent("mesos,docker", RESOURCES, "--docker-url", dockerd.url)
    try:
        agent.wait_up()
        cluster.wait_agents(1)
        _docker_scenario(cluster, agent, client, TEST_IMAGE)
    finally:
        cluster.stop_all()  # the agent leaves its containers running, by design: remove them
        with contextlib.suppress(Exception):
            assert agent.work_dir is not None
            ns = json.loads((agent.work_dir / "meta" / "containerizer_id").read_text())
            for c in client.containers.list(all=True, filters={"label": f"pydcos.agent_id={ns}"}):
                with contextlib.suppress(Exception):
                    c.remove(force=True)
        client.close()


def _docker_scenario(cluster: E2ECluster, agent: Proc, client: Any, image: str) -> None:
    commands = {"dkeep": "sleep 600", "dexits": UNTIL_STOP}

    def make(tid: str, agent_id: str) -> p.TaskInfo:
        t = task(tid, agent_id, commands[tid])
        return p.TaskInfo(
            t.task_id,
            t.name,
            t.agent_id,
            t.resources,
            t.command,
            container=p.ContainerInfo(type="DOCKER", docker=p.DockerInfo(image)),
            kill_grace_period=0.5,
        )

    launcher = Launcher(list(commands), 2, make)
    fw = cluster.framework("dsvc", on_offers=launcher)
    assert agent.work_dir is not None
    wait_for(lambda: all(fw.sched.latest(t) == "TASK_RUNNING" for t in commands), 30, "RUNNING")
    cps = native_checkpoints(agent.work_dir)
    ids = {t: cps[t]["container_id"] for t in commands}
    started = client.containers.get(ids["dkeep"]).attrs["State"]["StartedAt"]
    usage = ask(fw, agent, GetUsage())
    assert usage["dkeep"]["mem_limit_bytes"] == 32 * 2**20, usage

    agent.kill9()
    (sandbox(agent, "dexits") / "stop").touch()
    wait_for(lambda: client.containers.get(ids["dexits"]).status == "exited", 20, "dexits ends")
    cluster.restart(agent)

    wait_for(lambda: fw.sched.latest("dexits") == "TASK_FAILED", 20, "dexits reported FAILED")
    failed = fw.sched.of("dexits")[-1]
    assert "exited with status 3 while the agent was down" in failed.message, failed
    wait_for(lambda: cluster.tasks().get("dkeep", {}).get("state") == "TASK_RUNNING", 20)
    wait_for(lambda: fw.sched.latest("dkeep") == "TASK_RUNNING", 10, "dkeep RUNNING")
    c = client.containers.get(ids["dkeep"])
    assert c.status == "running" and c.attrs["State"]["StartedAt"] == started
    assert native_checkpoints(agent.work_dir)["dkeep"]["container_id"] == ids["dkeep"]
    wait_for(lambda: not _exists(client, ids["dexits"]), 10, "the exited container removed")
    assert "TASK_LOST" not in all_states(fw), fw.sched.updates
    assert launcher.pending == [] and fw.sched.errors == []
    assert psutil.pid_exists(agent.pid)


def _exists(client: Any, container_id: str) -> bool:
    import docker.errors

    try:
        client.containers.get(container_id)
        return True
    except docker.errors.NotFound:
        return False
