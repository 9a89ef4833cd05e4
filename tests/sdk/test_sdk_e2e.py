"""The SDK end to end on a real `pydcos cluster up` (2 masters, 2 agents, CURVE keys, no
auth): the hello example installed as a package (Cosmos renders the scheduler's Marathon
app with the ``pydcos`` scope), its deploy plan walked through the master's
``/service/hello/v1`` proxy, the scheduler SIGKILLed mid-deploy (Marathon restarts it, it
carries on from ZooKeeper), a server SIGKILLed (recovered in place: same agent, same
volume, same port), a custom plan with a parameter, the CLI's refusals, and the
leading master SIGKILLed (the scheduler follows the new leader: its API answers through
it, a pod restart relaunches in place), a cpus change through the scheduler app's env
(re-reserved in place, same volume and ports)."""

from __future__ import annotations

import base64
import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from console._client import ClusterClient, resolve_target
from runtime.testing import wait_for
from tests.console.conftest import REPO, LocalCluster, leader, pid_alive, started_cluster

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("sdkcluster")
    args = ("--no-docker", "--masters", "2", "--agents", "2")
    with started_cluster(state, *args, check_down=True, check_left=True) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Iterator[ClusterClient]:
    with ClusterClient(resolve_target(None, cluster.state_dir, None, True)) as c:
        yield c


def http(c: ClusterClient, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """urllib against the master's gateway, as any HTTP client would."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(c.base_url() + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def plan(c: ClusterClient, name: str = "deploy") -> dict[str, Any]:
    status, doc = http(c, f"/service/hello/v1/plans/{name}")
    assert status in (200, 202), doc
    return dict(doc)


def steps(doc: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for ph in doc["phases"] for s in ph["steps"]}


def _ours(proc: psutil.Process, cluster: LocalCluster) -> bool:
    """A task of THIS cluster (its sandbox is under the state dir): another cluster on
    the machine may run the hello example too, on the same port numbers."""
    cwd = os.path.realpath(proc.info["cwd"] or "/")
    return cwd.startswith(os.path.realpath(cluster.state_dir) + os.sep)


def scheduler_pid(cluster: LocalCluster) -> int | None:
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        cmd = proc.info["cmdline"] or []
        hello = any("examples/sdk/hello/svc.yml" in a for a in cmd)
        if "actors.sdk.scheduler" in cmd and hello and _ours(proc, cluster):
            return int(proc.info["pid"])
    return None


def server_pid(cluster: LocalCluster, port: int) -> int | None:
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        cmd = proc.info["cmdline"] or []
        if "http.server" in cmd and str(port) in cmd and _ours(proc, cluster):
            return int(proc.info["pid"])
    return None


def pod_task(c: ClusterClient, pod: str) -> dict[str, Any]:
    status, doc = http(c, f"/service/hello/v1/pod/{pod}/info")
    assert status == 200, doc
    return next(t for t in doc if t["info"]["name"].endswith("-server"))


def test_hello_installs_deploys_recovers_and_runs_its_plans(
    cluster: LocalCluster, client: ClusterClient, tmp_path: Path
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "hello_repo", REPO / "examples" / "sdk" / "hello" / "build_repo.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    repo = mod.build(tmp_path / "repo")
    r = cluster.cli("package", "repo", "add", "hello-sdk", str(repo))
    assert r.returncode == 0, r.stderr

    # -- a package whose spec has a cycle: refused at install, naming the YAML path
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "svc.yml").write_text(
        "name: broken\npods:\n  p: {count: 1, tasks: {t: {goal: RUNNING, cpus: 0.1, "
        "memory: 8, cmd: x}}}\nplans:\n  deploy:\n    phases:\n"
        "      a: {pod: p, dependencies: [b]}\n      b: {pod: p, dependencies: [a]}\n"
    )
    doc = json.loads(repo.read_text())
    bad = dict(doc["packages"][0], name="broken-sdk")
    template = base64.b64decode(bad["marathon"]["v2AppMustacheTemplate"]).decode()
    template = template.replace(
        "{{{pydcos.root}}}/examples/sdk/hello/svc.yml", str(broken / "svc.yml")
    )
    bad["marathon"] = {"v2AppMustacheTemplate": base64.b64encode(template.encode()).decode()}
    (broken / "repo.json").write_text(json.dumps({"packages": [bad]}))
    r = cluster.cli("package", "repo", "add", "broken", str(broken / "repo.json"))
    assert r.returncode == 0, r.stderr
    r = cluster.cli("package", "install", "broken-sdk", "--yes")
    assert r.returncode == 1, r.stdout
    assert "plans.deploy.phases.a.dependencies: cycle: a -> b -> a" in r.stderr, r.stderr
    # nothing was created (its app would have been /hello, the default service.name)
    assert "/hello" not in {a["id"] for a in client.get("/marathon/v2/apps")["apps"]}
    options = tmp_path / "options.json"
    # Each readiness check waits 1 s: the deploy takes long enough to kill its scheduler.
    options.write_text(json.dumps({"hello": {"count": 2, "ready_delay": 1}}))
    r = cluster.cli("package", "install", "hello-sdk", "--yes", "--options", str(options))
    assert r.returncode == 0, r.stderr

    # -- mid-deploy: SIGKILL the scheduler once hello-0 is done, before the rest is
    wait_for(lambda: steps(plan(client)).get("hello-0:[server]") == "COMPLETE", 60, "hello-0")
    pid = scheduler_pid(cluster)
    assert pid is not None
    before = plan(client)
    assert before["status"] != "COMPLETE", before
    first = pod_task(client, "hello-0")["info"]["taskId"]["value"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: (scheduler_pid(cluster) or pid) != pid, 60, "Marathon restarted the scheduler")
    wait_for(lambda: plan(client)["status"] == "COMPLETE", 90, "deploy complete after restart")
    # It carried on: hello-0 was not launched again, and every instance runs once.
    assert pod_task(client, "hello-0")["info"]["taskId"]["value"] == first
    r = cluster.cli("service", "plan", "status", "hello")
    assert r.returncode == 0 and "deploy (serial strategy) (COMPLETE)" in r.stdout, r.stdout
    assert "hello-1:[server] (COMPLETE)" in r.stdout

    # -- endpoints: host:port and Mesos-DNS names per named port; the server answers
    status, ep = http(client, "/service/hello/v1/endpoints/http")
    assert status == 200 and len(ep["address"]) == 2, ep
    assert ep["dns"][0].startswith("hello-0-server.hello.mesos:")
    host, port = ep["address"][0].rsplit(":", 1)
    with urllib.request.urlopen(f"http://{host}:{port}/log", timeout=5) as resp:
        assert resp.read().decode().count("start hello-0-server") == 1

    # -- kill -9 a server: recovered in place, same agent, same volume (its log grows)
    old = pod_task(client, "hello-0")
    victim = server_pid(cluster, int(port))
    assert victim is not None
    os.kill(victim, signal.SIGKILL)

    def recovered() -> dict[str, Any] | None:
        t = pod_task(client, "hello-0")
        new = t["info"]["taskId"]["value"] != old["info"]["taskId"]["value"]
        return t if new and t["status"]["state"] == "TASK_RUNNING" else None

    new = wait_for(recovered, 60, "hello-0 recovered")
    assert new["info"]["slaveId"] == old["info"]["slaveId"]
    assert new["info"]["volumes"] == old["info"]["volumes"]
    assert new["info"]["ports"] == old["info"]["ports"]

    def log_text() -> str | None:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/log", timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return None
        return text if text.count("start hello-0-server") == 2 else None

    wait_for(log_text, 30, "the same volume, written twice")
    assert plan(client, "recovery")["status"] == "COMPLETE"

    # -- a custom plan with a parameter reaching its tasks' environment
    r = cluster.cli("service", "plan", "start", "hello", "sidecar", "-p", "PLAN_PARAMETER=howdy")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: plan(client, "sidecar")["status"] == "COMPLETE", 60, "sidecar plan")
    outs = list(cluster.state_dir.glob("agents/*/sandboxes/hello-*-sidecar__*/stdout"))
    assert len(outs) == 2
    assert all("says howdy" in p.read_text() for p in outs)

    # -- refusals: unknown plan 404, healthy pod replace without --force, bad -p
    status, doc = http(client, "/service/hello/v1/plans/nope")
    assert status == 404 and "nope" in doc["message"]
    status, doc = http(client, "/service/hello/v1/plans/deploy/forceComplete?phase=x", "POST")
    assert status == 404, doc
    r = cluster.cli("service", "pod", "replace", "hello", "hello-1")
    assert r.returncode == 1 and "healthy" in r.stderr and "--force" in r.stderr
    r = cluster.cli("service", "plan", "start", "hello", "sidecar", "-p", "BAD PARAM")
    assert r.returncode == 1 and "KEY=VALUE" in r.stderr
    r = cluster.cli("service", "pod", "list", "nope")
    assert r.returncode == 1 and "not found" in r.stderr


def test_after_a_leader_sigkill_the_scheduler_follows_the_new_leader(
    cluster: LocalCluster, client: ClusterClient
) -> None:
    """Runs after the test above (same module cluster, hello deployed)."""
    old_leader = leader(cluster)
    before = pod_task(client, "hello-1")
    os.kill(old_leader["pid"], signal.SIGKILL)
    wait_for(lambda: not pid_alive(old_leader["pid"]), 10, "old leader gone")

    def new_leader() -> dict[str, Any] | None:
        try:
            now = leader(cluster)
        except AssertionError:
            return None
        return now if now["pid"] != old_leader["pid"] else None

    wait_for(new_leader, 60, "a new leader")
    # The CLI finds the new leader; its /service proxy reaches the same scheduler.
    wait_for(
        lambda: cluster.cli("service", "plan", "status", "hello").returncode == 0,
        60,
        "plans through the new leader",
    )
    r = cluster.cli("service", "plan", "status", "hello")
    assert "deploy (serial strategy) (COMPLETE)" in r.stdout, r.stdout
    r = cluster.cli("service", "pod", "restart", "hello", "hello-1")
    assert r.returncode == 0 and "hello-1-server" in r.stdout, r.stderr

    def restarted() -> dict[str, Any] | None:
        r = cluster.cli("service", "pod", "info", "hello", "hello-1", "--json")
        if r.returncode != 0:
            return None
        t = next(x for x in json.loads(r.stdout) if x["info"]["name"].endswith("-server"))
        moved = t["info"]["taskId"]["value"] != before["info"]["taskId"]["value"]
        return t if moved and t["status"]["state"] == "TASK_RUNNING" else None

    after = wait_for(restarted, 60, "hello-1 relaunched by the re-subscribed scheduler")
    assert after["info"]["slaveId"] == before["info"]["slaveId"]
    assert after["info"]["volumes"] == before["info"]["volumes"]


def reserved_cpus(c: ClusterClient, role: str = "hello-role") -> float:
    """The role's dynamically reserved cpus over every agent, as the master reports."""
    total = 0.0
    for s in c.get("/mesos/master/slaves")["slaves"]:
        for r in (s.get("reserved_resources_full") or {}).get(role, []):
            if r["name"] == "cpus":
                total += r["scalar"]["value"]
    return round(total, 3)


def test_a_cpus_change_in_the_schedulers_env_re_reserves_in_place(
    cluster: LocalCluster, client: ClusterClient
) -> None:
    """Runs after the tests above (hello deployed): the servers' cpus 0.1 -> 0.2 through
    the scheduler app's env. Marathon restarts the scheduler on the new config, its update
    plan relaunches each server on the same agent, volume and ports after RESERVing the
    difference (it used to wait forever for the old reservation to hold 0.2 cpus)."""

    def server(pod: str) -> dict[str, Any]:
        r = cluster.cli("service", "pod", "info", "hello", pod, "--json")
        assert r.returncode == 0, r.stderr
        return next(t for t in json.loads(r.stdout) if t["info"]["name"].endswith("-server"))

    before = {pod: server(pod) for pod in ("hello-0", "hello-1")}
    cpus_before = reserved_cpus(client)
    app = client.get("/marathon/v2/apps/hello")["app"]
    env = dict(app["env"], HELLO_CPUS="0.2")
    r = cluster.cli("marathon", "app", "update", "/hello", "env=" + json.dumps(env))
    assert r.returncode == 0, r.stderr

    def relaunched() -> list[dict[str, Any]] | None:
        tasks = client.get("/mesos/master/tasks")["tasks"]
        new = [
            t
            for t in tasks
            if t["name"] in ("hello-0-server", "hello-1-server")
            and t["state"] == "TASK_RUNNING"
            and t["resources"]["cpus"] == 0.2
        ]
        return new if len(new) == 2 else None

    wait_for(relaunched, 60, "both servers running with 0.2 cpus")
    wait_for(
        lambda: (
            "update (serial strategy) (COMPLETE)"
            in cluster.cli("service", "plan", "status", "hello", "update").stdout
        ),
        30,
        "the update plan COMPLETE",
    )
    client.leader()  # urllib through the new leader's /service proxy, as any client
    status, doc = http(client, "/service/hello/v1/plans/update")
    assert (status, doc["status"]) == (200, "COMPLETE"), doc
    for pod, old in before.items():
        new = server(pod)
        assert new["info"]["taskId"] != old["info"]["taskId"]
        assert new["info"]["slaveId"] == old["info"]["slaveId"]
        assert new["info"]["volumes"] == old["info"]["volumes"]
        assert new["info"]["ports"] == old["info"]["ports"]
    assert reserved_cpus(client) == round(cpus_before + 0.2, 3)  # 0.1 more per instance
    # the same volume: hello-0's log holds its earlier starts and the new one
    ep = client.get("/service/hello/v1/endpoints/http")
    host, port = ep["address"][0].rsplit(":", 1)
    with urllib.request.urlopen(f"http://{host}:{port}/log", timeout=5) as resp:
        assert resp.read().decode().count("start hello-0-server") == 3


def test_uninstall_leaves_no_reservation_volume_or_state(
    cluster: LocalCluster, client: ClusterClient
) -> None:
    """Runs last: Cosmos tears the framework down, then unreserves and destroys."""
    r = cluster.cli("package", "uninstall", "hello-sdk")
    assert r.returncode == 0, r.stderr

    def clean() -> bool:
        try:
            slaves = client.get("/mesos/master/slaves")["slaves"]
        except Exception:
            return False
        return all(not s.get("reserved_resources_full") for s in slaves)

    wait_for(clean, 90, "no reservation left")
    volumes = list(cluster.state_dir.glob("agents/*/volumes/roles/hello-role/*"))
    wait_for(
        lambda: not list(cluster.state_dir.glob("agents/*/volumes/roles/hello-role/*")),
        30,
        f"volume directories removed ({volumes})",
    )
