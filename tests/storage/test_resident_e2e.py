"""A resident Marathon app end to end on real processes (``pydcos cluster up``: ZooKeeper,
one master, two native agents), driven with plain HTTP as a Marathon client does:

- the app writes a counter on its persistent volume twice a second; Marathon reserved
  and created the volume, the task lists it in ``localVolumes`` and the agent keeps it
  at ``<work_dir>/volumes/roles/marathon/<persistence id>``;
- kill -9 of its task: the replacement runs on the SAME agent and starts from the
  counter its predecessor left; a restart (new version) too, on the same reservation;
- the agent SIGKILLed: restarted with smaller ``--resources`` it refuses to start
  (naming the reservations), restarted as before it recovers; volume and data are there;
- the app deleted: the volume directory is gone, the agent holds no reservation and the
  master's ``/slaves`` shows its resources unreserved again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.testing import wait_for
from tests.console.conftest import REPO, LocalCluster, pid_alive, pydcos

pytestmark = pytest.mark.slow

COUNTER = (
    "n=$(cat data/counter 2>/dev/null || echo 0); echo start ${n:-0}; "
    "while true; do n=$((n+1)); echo $n > data/counter.tmp; mv data/counter.tmp data/counter; "
    "sleep 0.5; done"
)


def resident_app(app_id: str = "/db") -> dict[str, Any]:
    return {
        "id": app_id,
        "cmd": COUNTER,
        "cpus": 0.1,
        "mem": 32,
        "instances": 1,
        "backoffSeconds": 0.2,
        "container": {
            "type": "MESOS",
            "volumes": [
                {"containerPath": "data", "mode": "RW", "persistent": {"type": "root", "size": 16}}
            ],
        },
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("resident-cluster")
    args = ("--insecure-dev", "--no-docker", "--no-auth", "--masters", "2", "--agents", "2")
    up = pydcos("cluster", "up", *args, "--state-dir", str(state))
    c = LocalCluster(state, up)
    pids: list[int] = []
    with contextlib.suppress(Exception):
        pids = c.pids()
    extra: list[subprocess.Popen[bytes]] = []
    c.extra = extra  # type: ignore[attr-defined]
    try:
        assert up.returncode == 0, f"cluster up failed: {up.stdout}\n{up.stderr}"
        yield c
    finally:
        for proc in extra:  # agents this test restarted itself
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(10)
        pydcos("cluster", "down", "--state-dir", str(state))
        for pid in [p for p in pids if pid_alive(p)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def http(cluster: LocalCluster, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    base = _master_url(cluster)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _master_url(cluster: LocalCluster) -> str:
    """The leading master's URL (the one whose Marathon names itself leader)."""

    def leading() -> str | None:
        for p in cluster.record()["processes"]:
            url = p.get("http_url") or ""
            if p["kind"] != "master" or not url or not pid_alive(p["pid"]):
                continue
            try:
                with urllib.request.urlopen(url + "/marathon/v2/leader", timeout=2) as r:
                    if json.loads(r.read())["leader"] == url.split("://", 1)[1]:
                        return str(url)
            except (OSError, ValueError, KeyError):
                continue
        return None

    url: str = wait_for(leading, 30, "a leading master serving Marathon")
    return url


def tasks(cluster: LocalCluster) -> list[dict[str, Any]]:
    status, body = http(cluster, "GET", "/marathon/v2/apps/db/tasks")
    return list(body["tasks"]) if status == 200 else []


def running(cluster: LocalCluster, not_id: str = "") -> dict[str, Any] | None:
    for t in tasks(cluster):
        if t["state"] == "TASK_RUNNING" and t["id"] != not_id:
            return t
    return None


def agent_of(cluster: LocalCluster, agent_id: str) -> dict[str, Any]:
    for p in cluster.record()["processes"]:
        wd = p.get("work_dir")
        if wd and (Path(wd) / "meta" / "agent_id").read_text().strip() == agent_id:
            return dict(p)
    raise AssertionError(f"no agent process with id {agent_id}")


def rack_of(agent: dict[str, Any]) -> str:
    """The agent's ``rack`` attribute (``zone:zone-a;rack:rack-1`` in cluster up)."""
    attrs = dict(a.split(":", 1) for a in str(agent.get("attributes", "")).split(";") if a)
    return attrs["rack"]


def counter(volume: Path) -> int:
    try:
        return int((volume / "counter").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def slaves(cluster: LocalCluster) -> dict[str, dict[str, Any]]:
    status, body = http(cluster, "GET", "/mesos/master/slaves")
    assert status == 200
    return {s["id"]: s for s in body["slaves"]}


def task_pid(work_dir: Path, task_id: str) -> int:
    doc = json.loads((work_dir / "meta" / "tasks" / f"{task_id}.json").read_text())
    return int(doc["pid"])


def start_agent(cluster: LocalCluster, argv: list[str]) -> subprocess.Popen[bytes]:
    log = open(cluster.state_dir / "logs" / "agent-restarted.log", "ab")  # noqa: SIM115
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    cluster.extra.append(proc)  # type: ignore[attr-defined]
    return proc


def _fill_story(cluster: LocalCluster) -> str:
    """What the cluster says of the /fill app, for a failure message: its tasks, the launch
    queue, the deployments and the restarted agent's log lines about volumes and kills."""
    out = []
    for path in (
        "/marathon/v2/apps/fill?embed=app.tasks",
        "/marathon/v2/queue",
        "/marathon/v2/deployments",
    ):
        with contextlib.suppress(Exception):
            out.append(f"{path}: {json.dumps(http(cluster, 'GET', path))[:1500]}")
    log = cluster.state_dir / "logs" / "agent-restarted.log"
    with contextlib.suppress(OSError):
        lines = log.read_text(errors="replace").splitlines()
        out += [ln for ln in lines if "fill" in ln or "volume" in ln or "kill" in ln][-30:]
    return "\n".join(out)


def test_a_resident_app_keeps_its_data_across_kills_agent_restarts_and_is_wiped_on_delete(
    cluster: LocalCluster,
) -> None:
    # Bad input first: nothing is created.
    bad = dict(resident_app("/bad"))
    bad["container"] = {
        "type": "MESOS",
        "volumes": [{"containerPath": "/abs", "mode": "RW", "persistent": {"size": 1}}],
    }
    status, body = http(cluster, "POST", "/marathon/v2/apps", bad)
    assert status == 422 and "containerPath" in json.dumps(body), body

    status, body = http(cluster, "POST", "/marathon/v2/apps", resident_app())
    assert status == 201, body
    assert body["upgradeStrategy"] == {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0}
    first = wait_for(lambda: running(cluster), 30, "the resident task RUNNING")
    (local,) = first["localVolumes"]
    assert local["containerPath"] == "data" and local["persistenceId"].startswith("db#data#")
    agent = agent_of(cluster, first["slaveId"])
    work = Path(agent["work_dir"])
    volume = work / "volumes" / "roles" / "marathon" / local["persistenceId"]
    wait_for(lambda: counter(volume) >= 3, 20, "the counter written on the volume")
    reserved = slaves(cluster)[first["slaveId"]]["reserved_resources"]
    assert reserved["marathon"]["disk"] == 16 and reserved["marathon"]["mem"] == 32

    # kill -9 the task: the replacement is on the same agent and sees the counter.
    seen = counter(volume)
    os.kill(task_pid(work, first["id"]), signal.SIGKILL)
    second = wait_for(lambda: running(cluster, first["id"]), 30, "the replacement RUNNING")
    assert second["slaveId"] == first["slaveId"]
    assert second["localVolumes"] == first["localVolumes"]
    stdout = work / "sandboxes" / second["id"] / "stdout"
    start = wait_for(lambda: stdout.exists() and stdout.read_text().split(), 20, "its stdout")
    assert start[0] == "start" and int(start[1]) >= seen, start

    # A restart (a new version): the old task dies first, the new one runs on the SAME
    # reservation and volume; nothing new is reserved (one volume dir, 16 MiB reserved).
    seen = counter(volume)
    status, body = http(cluster, "POST", "/marathon/v2/apps/db/restart", {})
    assert status == 200, body
    restarted = wait_for(lambda: running(cluster, second["id"]), 30, "the restarted task")
    wait_for(
        lambda: not http(cluster, "GET", "/marathon/v2/deployments")[1], 30, "the restart done"
    )
    assert restarted["slaveId"] == first["slaveId"]
    assert restarted["localVolumes"] == first["localVolumes"]
    stdout = work / "sandboxes" / restarted["id"] / "stdout"
    start = wait_for(lambda: stdout.exists() and stdout.read_text().split(), 20, "its stdout")
    assert start[0] == "start" and int(start[1]) >= seen, start
    assert [d.name for d in volume.parent.iterdir()] == [local["persistenceId"]]
    reserved = slaves(cluster)[first["slaveId"]]["reserved_resources"]
    assert reserved["marathon"]["disk"] == 16 and reserved["marathon"]["mem"] == 32
    second = restarted

    # The CLI shows the volume and where it lives.
    shown = cluster.cli("marathon", "app", "show", "/db")
    assert shown.returncode == 0, shown.stderr
    line = (
        f"volume: data persistent 16 MiB (RW) on agent {first['slaveId']}: {local['persistenceId']}"
    )
    assert line in shown.stdout, shown.stdout
    shown = cluster.cli("marathon", "app", "show", "/db", "--json")
    (vol,) = json.loads(shown.stdout)["volumes"]
    assert vol["held"] == [{"agent": first["slaveId"], "persistenceId": local["persistenceId"]}]

    # The agent SIGKILLed; with smaller --resources it refuses; as before it recovers.
    os.kill(agent["pid"], signal.SIGKILL)
    wait_for(lambda: not pid_alive(agent["pid"]), 10, "the agent gone")
    argv = list(agent["argv"])
    small = list(argv)
    small[small.index("--resources") + 1] = "cpus:2;mem:2048;disk:8"
    refused = subprocess.run(
        small,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert refused.returncode != 0 and "reservations" in refused.stderr, refused.stderr
    assert volume.is_dir()
    # (restarted enforcing disk quotas, checked every second: see the /fill app below)
    start_agent(cluster, [*argv, "--enforce-disk-quota", "--disk-watch-interval", "1"])
    wait_for(lambda: slaves(cluster).get(first["slaveId"], {}).get("active"), 30, "re-registered")
    before = counter(volume)
    wait_for(lambda: counter(volume) > before, 20, "the counter still growing")
    assert running(cluster)["id"] == second["id"]  # type: ignore[index]

    # The leading master SIGKILLed: the new leader's Marathon knows the reservation and
    # relaunches a killed task on it again.
    leader = _master_url(cluster)
    (lead,) = [p for p in cluster.record()["processes"] if p.get("http_url") == leader]
    os.kill(lead["pid"], signal.SIGKILL)
    wait_for(lambda: _master_url(cluster) != leader, 30, "a new leader")
    wait_for(lambda: running(cluster), 30, "the task adopted by the new leader")
    seen = counter(volume)
    os.kill(task_pid(work, second["id"]), signal.SIGKILL)
    third = wait_for(lambda: running(cluster, second["id"]), 30, "relaunched after failover")
    assert third["slaveId"] == first["slaveId"] and third["localVolumes"] == first["localVolumes"]
    wait_for(lambda: counter(volume) > seen, 20, "the counter going on from where it was")

    # A task writing more than its volume's size is killed by the enforcing agent:
    # TASK_FAILED with the disk limitation's message (Marathon's lastTaskFailure).
    fill = dict(resident_app("/fill"))
    fill.update(
        cmd="dd if=/dev/zero of=data/blob bs=1M count=20; sleep 600",
        backoffSeconds=60,
        constraints=[["rack", "CLUSTER", rack_of(agent)]],  # on the enforcing agent
    )
    status, body = http(cluster, "POST", "/marathon/v2/apps", fill)
    assert status == 201, body

    def failure() -> dict[str, Any] | None:
        _, doc = http(cluster, "GET", "/marathon/v2/apps/fill")
        last = doc["app"].get("lastTaskFailure")
        return last if last and last["state"] == "TASK_FAILED" else None

    try:
        last = wait_for(failure, 30, "the /fill task killed for its disk usage")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_fill_story(cluster)}") from None
    assert "exceeds its size (16 MB)" in last["message"], last
    assert last["slaveId"] == first["slaveId"]
    assert http(cluster, "DELETE", "/marathon/v2/apps/fill")[0] == 200

    # Delete: the volume is destroyed, the reservation is gone, resources unreserved.
    status, _ = http(cluster, "DELETE", "/marathon/v2/apps/db")
    assert status == 200
    wait_for(lambda: not volume.exists(), 30, "the volume destroyed on the agent")
    wait_for(lambda: not slaves(cluster)[first["slaveId"]]["reserved_resources"], 30, "unreserved")
    checkpoint = work / "meta" / "resources.json"  # the master tells the agent after it
    wait_for(lambda: json.loads(checkpoint.read_text())["resources"] == {}, 20, "agent told")
    s = slaves(cluster)[first["slaveId"]]
    assert s["unreserved_resources"]["cpus"] == s["resources"]["cpus"]
