"""Marathon end to end: masters (with Marathon) and agents as real OS processes.

Masters run tests/marathon/_master_main.py; agents run ``python -m console.cli agent``;
ZooKeeper is the real server (tests/conftest.py). Every process is stopped by PID in
teardown; native tasks left behind are killed through the agent's checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.marathon._harness import Http, wait_for
from zk import read_leader

pytestmark = [pytest.mark.slow, pytest.mark.zk]

REPO = Path(__file__).resolve().parents[2]
APPS = "/marathon/v2/apps"


class Proc:
    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name, self.argv, self.log = name, argv, log
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=env,
            )
        self.address = self.http_url = ""

    def wait_up(self, banner: str, timeout: float = 30.0) -> Proc:
        def up() -> bool:
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            for line in self.log.read_text(errors="replace").splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] == banner and words[1].startswith("tcp://"):
                    self.address = words[1]
                    self.http_url = words[3] if len(words) >= 4 else ""
                    return True
            return False

        wait_for(up, timeout, f"{self.name} up")
        return self

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.kill9()


class E2E:
    def __init__(self, zk: str, tmp: Path, zk_client: Any) -> None:
        self.zk, self.tmp, self.client = zk, tmp, zk_client
        self.procs: list[Proc] = []
        self.work_dirs: list[Path] = []
        self.docker_urls: dict[Path, str] = {}
        """work dir -> Docker engine of that agent: its containers are removed at teardown."""
        self.cgroup_root = f"pydcos-e2e-marathon-{os.getpid()}-{tmp.name}"
        """A private parent cgroup for this test's native tasks, removed at teardown."""

    def master(self, *extra: str) -> Proc:
        name = f"master-{sum(1 for p in self.procs if p.name.startswith('master')) + 1}"
        argv = [
            sys.executable,
            str(REPO / "tests/marathon/_master_main.py"),
            "--zk",
            self.zk,
            "--hostname",
            name,
            *extra,
        ]
        proc = Proc(name, argv, self.tmp / f"{name}.log")
        self.procs.append(proc)
        return proc.wait_up("master")

    def agent(
        self, resources: str, containerizers: str = "simulated", docker_url: str | None = None
    ) -> Proc:
        name = f"agent-{sum(1 for p in self.procs if p.name.startswith('agent')) + 1}"
        work = self.tmp / name
        self.work_dirs.append(work)
        if docker_url is not None:
            self.docker_urls[work] = docker_url
        argv = [
            sys.executable,
            "-m",
            "console.cli",
            "agent",
            "--zk",
            self.zk,
            "--insecure-dev",
            "--session-timeout",
            "2",
            "--hostname",
            name,
            "--containerizers",
            containerizers,
            "--resources",
            resources,
            "--work-dir",
            str(work),
            "--cgroup-root",
            self.cgroup_root,
        ]
        if docker_url is not None:
            argv += ["--docker-url", docker_url]
        proc = Proc(name, argv, self.tmp / f"{name}.log")
        self.procs.append(proc)
        return proc.wait_up("agent")

    def leader_url(self) -> str:
        leader = read_leader(self.client)
        assert leader is not None and leader.http_url
        return leader.http_url

    def http(self) -> Http:
        return Http(self.leader_url)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        from actors.agent import read_checkpoints

        for work in self.work_dirs:
            for cp in read_checkpoints(work):
                pid = cp.get("pid")
                if cp.get("kind") == "mesos" and isinstance(pid, int) and not cp.get("terminal"):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
        for work, url in self.docker_urls.items():
            _remove_agent_containers(work, url)
        from tests.e2e.conftest import remove_cgroup_root

        remove_cgroup_root(self.cgroup_root, self.tmp)


def agent_containers(work: Path, docker_url: str) -> list[Any]:
    """The Docker containers (running or not) of the agent on ``work``, by its label."""
    import json

    import docker

    from actors.agent import LABEL_AGENT

    ns = json.loads((work / "meta" / "containerizer_id").read_text())
    client = docker.DockerClient(base_url=docker_url, timeout=30)
    try:
        return list(client.containers.list(all=True, filters={"label": f"{LABEL_AGENT}={ns}"}))
    finally:
        client.close()


def _remove_agent_containers(work: Path, docker_url: str) -> None:
    """Agents leave their containers running when they stop (by design): remove them."""
    with contextlib.suppress(Exception):
        for c in agent_containers(work, docker_url):
            with contextlib.suppress(Exception):
                c.remove(force=True)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Any]:
    """The session's private Docker engine (tests/agent/conftest.py); skipped, saying
    why, when dockerd cannot start here."""
    from tests.agent.conftest import acquire_dockerd, release_dockerd

    d = acquire_dockerd()
    try:
        yield d
    finally:
        release_dockerd()


@pytest.fixture
def e2e(zk_hosts: str, zk_chroot: str, zk_client: Any, tmp_path: Path) -> Iterator[E2E]:
    cluster = E2E(f"{zk_hosts}{zk_chroot}", tmp_path, zk_client)
    try:
        yield cluster
    finally:
        cluster.stop()


def _app(http: Http, app_id: str) -> dict[str, Any]:
    return http.get(f"{APPS}{app_id}")["app"]


def test_leader_killed_mid_rolling_upgrade_the_new_leader_finishes_it(e2e: E2E) -> None:
    """3 masters, a rolling upgrade blocked on placement, kill -9 the leader: the new
    leader's Marathon resumes the deployment; nothing stored is lost, the app ends with
    its 4 instances, and old + new never exceed instances * (1 + maximumOverCapacity)."""
    for _ in range(2):
        e2e.master()
    e2e.agent("cpus:2;mem:1024;ports:[31000-31050]")
    e2e.agent("cpus:2;mem:1024;ports:[31000-31050]")
    http = e2e.http()
    wait_for(lambda: http.get("/marathon/v2/info")["frameworkId"], what="Marathon up")
    fid = http.get("/marathon/v2/info")["frameworkId"]
    app = {
        "id": "svc",
        "cmd": "sleep 1000",
        "cpus": 0.5,
        "mem": 32,
        "instances": 4,
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
    }
    status, body, _ = http("POST", APPS, app)
    assert status == 201, body
    v1 = body["version"]
    wait_for(lambda: _app(http, "/svc")["tasksRunning"] == 4, what="4 running")
    wait_for(lambda: http.get("/marathon/v2/deployments") == [], what="deployed")

    # The new version may only run on agent-3, which does not exist yet: the upgrade
    # kills down to the health floor, queues the new instances and waits.
    status, body, _ = http(
        "PATCH",
        f"{APPS}/svc",
        {"cmd": "sleep 2000", "constraints": [["hostname", "LIKE", "agent-3"]]},
    )
    assert status == 200, body
    v2, dep_id = body["version"], body["deploymentId"]

    def blocked() -> bool:
        deps = http.get("/marathon/v2/deployments?embed=waitingFor")
        return bool(deps) and "agent-3" in deps[0]["currentActions"][0]["waitingFor"]

    wait_for(blocked, what="upgrade blocked on placement")
    wait_for(lambda: _app(http, "/svc")["tasksRunning"] == 2, what="down to the floor")

    leader = next(p for p in e2e.procs if p.http_url == e2e.leader_url())
    leader.kill9()
    wait_for(lambda: e2e.leader_url() != leader.http_url, timeout=20, what="new leader")
    http = e2e.http()
    wait_for(
        lambda: http.get("/marathon/v2/info")["frameworkId"] == fid,
        timeout=20,
        what="Marathon re-registered with the same framework id",
    )
    # A new leader answers 503 ("just elected and is adopting N task(s); retry") until
    # it has heard from the tasks it adopted: retry as a client does.
    deps = wait_for(lambda: [http.get("/marathon/v2/deployments")], what="deployments")[0]
    assert [d["id"] for d in deps] == [dep_id]
    versions = wait_for(lambda: http.get(f"{APPS}/svc/versions"), what="versions")
    assert set(versions["versions"]) == {v1, v2}

    e2e.agent("cpus:4;mem:1024;ports:[31000-31050]")
    peak = 0

    def done() -> bool:
        nonlocal peak
        tasks = _app(http, "/svc")["tasks"]
        peak = max(peak, len(tasks))
        new = [t for t in tasks if t["version"] == v2 and t["state"] == "TASK_RUNNING"]
        return len(new) == 4 and len(tasks) == 4 and http.get("/marathon/v2/deployments") == []

    wait_for(done, timeout=40, what="upgrade finished under the new leader")
    assert peak <= 6, peak
    a = _app(http, "/svc")
    assert a["instances"] == 4 and a["cmd"] == "sleep 2000"
    assert {t["host"] for t in a["tasks"]} == {"agent-3"}


def test_native_task_killed_with_sigkill_is_replaced(e2e: E2E) -> None:
    from actors.agent import read_checkpoints

    e2e.master()
    agent = e2e.agent("cpus:2;mem:512;ports:[31000-31050]", containerizers="mesos")
    work = e2e.work_dirs[-1]
    http = e2e.http()
    wait_for(lambda: http.get("/marathon/v2/info")["frameworkId"], what="Marathon up")
    app = {
        "id": "native",
        "cmd": "sleep 1000",
        "cpus": 0.1,
        "mem": 32,
        "instances": 1,
        "backoffSeconds": 1,
    }
    assert http("POST", APPS, app)[0] == 201
    first = wait_for(
        lambda: [t for t in _app(http, "/native")["tasks"] if t["state"] == "TASK_RUNNING"],
        timeout=30,
        what="running",
    )[0]

    def pid_of(task_id: str) -> int | None:
        for cp in read_checkpoints(work):
            if cp.get("task_id") == task_id and isinstance(cp.get("pid"), int):
                return int(cp["pid"])
        return None

    pid = wait_for(lambda: pid_of(first["id"]), timeout=30, what="checkpointed pid")
    os.killpg(pid, signal.SIGKILL)
    wait_for(
        lambda: [
            t
            for t in _app(http, "/native")["tasks"]
            if t["state"] == "TASK_RUNNING" and t["id"] != first["id"]
        ],
        timeout=30,
        what="replacement running",
    )
    failure = _app(http, "/native")["lastTaskFailure"]
    assert failure["taskId"] == first["id"] and failure["state"] in ("TASK_FAILED", "TASK_KILLED")
    del agent


@pytest.mark.docker
def test_docker_app_with_bridge_port_mapping_is_reachable_on_its_host_port(
    e2e: E2E, dockerd: Any
) -> None:
    """A DOCKER app on BRIDGE networking with hostPort 0: Marathon takes a port from the
    offer, the agent publishes the container port on it; busybox httpd answers there.
    Deleting the app kills the task and removes its container."""
    from actors.agent import TEST_IMAGE

    e2e.master()
    e2e.agent(
        "cpus:2;mem:512;ports:[31000-31050]", containerizers="mesos,docker", docker_url=dockerd.url
    )
    work = e2e.work_dirs[-1]
    http = e2e.http()
    wait_for(lambda: http.get("/marathon/v2/info")["frameworkId"], what="Marathon up")
    app = {
        "id": "/web-docker",
        "container": {
            "type": "DOCKER",
            "docker": {"image": TEST_IMAGE, "network": "BRIDGE"},
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
        },
        "cmd": "mkdir -p /www && echo hello-docker > /www/index.html"
        " && exec httpd -f -p 0.0.0.0:8080 -h /www",
        "cpus": 0.1,
        "mem": 32,
        "instances": 1,
    }
    status, body, _ = http("POST", APPS, app)
    assert status == 201, body

    def running() -> list[dict[str, Any]]:
        a = http.get(f"{APPS}/web-docker?embed=apps.tasks")["app"]
        return [t for t in a["tasks"] if t["state"] == "TASK_RUNNING"]

    (task,) = wait_for(running, timeout=30, what="web-docker RUNNING")
    port = task["ports"][0]
    assert 31000 <= port <= 31050, task
    (container,) = agent_containers(work, dockerd.url)
    bindings = container.attrs["HostConfig"]["PortBindings"]
    assert bindings["8080/tcp"][0]["HostPort"] == str(port), bindings

    def fetch() -> bytes | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as r:
                return bytes(r.read())
        except OSError:
            return None  # httpd not listening yet

    assert wait_for(fetch, timeout=15, what=f"httpd on 127.0.0.1:{port}") == b"hello-docker\n"

    status, body, _ = http("DELETE", f"{APPS}/web-docker")
    assert status == 200, body
    wait_for(lambda: http("GET", f"{APPS}/web-docker")[0] == 404, timeout=20, what="app gone")
    wait_for(lambda: not agent_containers(work, dockerd.url), timeout=20, what="container gone")
    assert fetch() is None
