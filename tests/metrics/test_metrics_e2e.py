"""Metrics end to end on a real ``pydcos cluster up`` cluster (2 masters, 1 agent, native
tasks in real cgroups): a CPU-burning task shows about one core, a memory-filling one its
bytes, through a STANDBY master's DC/OS metrics API; ``/metrics`` of the leader and of the
standby and an agent's Prometheus text parse with prometheus_client's own parser; an
unknown agent or container is a 404 naming it; the CLI's ``task metrics``; and all of it
again from the new leader after the leader is SIGKILLed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, get, pid_alive, started_cluster

pytestmark = pytest.mark.slow

BURN = {"id": "/burn", "cmd": "python3 -c 'while True: pass'", "cpus": 1, "mem": 64}
FILL = {
    "id": "/fill",
    # touch 96 MiB, then sleep
    "cmd": 'python3 -c "import time; b = bytearray(96 << 20); '
    'b[::4096] = b\\"x\\" * len(b[::4096]); time.sleep(100000)"',
    "cpus": 0.1,
    "mem": 256,
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("metrics-cluster")
    args = ("--insecure-dev", "--no-docker", "--masters", "2", "--agents", "1")
    try:
        with started_cluster(state, *args, check_down=True) as c:
            yield c
    finally:
        left = reap_tasks(state)
    assert not left, f"cluster down left task processes running: {left}"


def reap_tasks(state: Path) -> list[int]:
    """The PIDs of task processes still running from this cluster's sandboxes (their
    command lines name them), SIGKILLed: a failed test leaks no burner."""
    import psutil

    left = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(state) in part for part in proc.info["cmdline"] or ()):
            with contextlib.suppress(psutil.Error):
                proc.kill()
                left.append(proc.pid)
    return left


def get_json(url: str) -> Any:
    status, body = get(url)
    assert status == 200, (url, status, body)
    return json.loads(body)


def families(url: str) -> dict[str, Any]:
    status, body = get(url)
    assert status == 200, (url, status, body)
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def masters(c: LocalCluster) -> list[dict[str, Any]]:
    return [p for p in c.record()["processes"] if p["kind"] == "master"]


def elected(url: str) -> float | None:
    try:
        fam = families(url + "/metrics")["pydcos_master_elected"]
    except (AssertionError, OSError, KeyError):
        return None
    return float(fam.samples[0].value)


def leader_and_standby(c: LocalCluster) -> tuple[dict[str, Any], dict[str, Any]]:
    def split() -> tuple[dict[str, Any], dict[str, Any]] | None:
        ms = [m for m in masters(c) if pid_alive(m["pid"])]
        lead = [m for m in ms if elected(m["http_url"]) == 1.0]
        stand = [m for m in ms if elected(m["http_url"]) == 0.0]
        return (lead[0], stand[0]) if lead and stand else None

    return wait_for(split, timeout=60, what="a leader and a standby", interval=0.5)


def values(doc: dict[str, Any]) -> dict[str, float]:
    return {dp["name"]: dp["value"] for dp in doc["datapoints"]}


def test_metrics_end_to_end(cluster: LocalCluster) -> None:
    leader, standby = leader_and_standby(cluster)
    base = leader["http_url"]
    for app in (BURN, FILL):
        req = urllib.request.Request(
            base + "/marathon/v2/apps",
            data=json.dumps(app).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 201
    agent_id = get_json(base + "/mesos/master/slaves")["slaves"][0]["id"]
    sb = standby["http_url"] + f"/system/v1/agent/{agent_id}/metrics/v0"

    def task_ids() -> dict[str, str] | None:
        ids = get_json(sb + "/containers")
        named = {cid.split(".")[0]: cid for cid in ids}
        return named if {"burn", "fill"} <= set(named) else None

    ids = wait_for(task_ids, timeout=60, what="both containers listed", interval=0.5)

    # a CPU burner uses about one core (its limit), through the standby; on a host whose
    # cores are all busy (other tests, other clusters) it gets its share: then the node's
    # own metrics must say the host is saturated
    def burning() -> dict[str, Any] | None:
        doc = get_json(sb + "/containers/" + ids["burn"])
        usage = values(doc).get("cpus.usage", 0)
        if usage > 0.6:
            return doc
        saturated = values(get_json(sb + "/node")).get("cpu.total", 0) > 90
        return doc if saturated and usage > 0.2 else None

    doc = wait_for(burning, timeout=90, what="the burner near one core", interval=0.5)
    v = values(doc)
    assert v["cpus.limit"] == 1.0 and v["cpus.user.time"] > 0
    assert doc["dimensions"]["task_id"] == ids["burn"]
    assert doc["dimensions"]["mesos_id"] == agent_id
    units = {dp["name"]: dp["unit"] for dp in doc["datapoints"]}
    assert units["cpus.user.time"] == "seconds" and units["mem.total"] == "bytes"

    # a memory filler shows its bytes (96 MiB touched; under its 256 MiB limit)
    def filled() -> dict[str, float] | None:
        fv = values(get_json(sb + "/containers/" + ids["fill"]))
        return fv if fv.get("mem.total", 0) >= 96 << 20 else None

    fv = wait_for(filled, timeout=60, what="the filler's memory", interval=0.5)
    assert fv["mem.limit"] == 256 << 20 and fv["mem.rss"] >= 90 << 20

    node = get_json(sb + "/node")
    nv = values(node)
    assert nv["cpu.cores"] >= 1 and nv["memory.total"] > 0
    assert node["dimensions"]["mesos_id"] == agent_id
    assert get_json(sb + "/containers/" + ids["fill"] + "/app")["datapoints"] == []

    # unknown agent and container: 404 naming them
    status, body = get(standby["http_url"] + "/system/v1/agent/no-such-agent/metrics/v0/node")
    assert status == 404 and "no-such-agent" in json.loads(body)["message"]
    status, body = get(sb + "/containers/no-such-task")
    assert status == 404 and "no-such-task" in json.loads(body)["message"]
    status, body = get(sb + "/history?seconds=9999")
    assert status == 400 and "seconds" in json.loads(body)["message"]

    # Prometheus: the agent's, the leader's and the standby's, parsed back
    fams = families(sb + "/prometheus")
    cores = {
        s.labels["task_name"]: s.value for s in fams["pydcos_container_cpu_usage_cores"].samples
    }
    assert cores["burn"] > 0.2
    assert fams["pydcos_container_memory_usage_bytes"].type == "gauge"
    assert fams["pydcos_node_cpu_cores"].samples[0].labels["agent_id"] == agent_id
    lead = families(base + "/metrics")
    running = {s.labels["state"]: s.value for s in lead["pydcos_tasks"].samples}
    assert running["running"] >= 2
    assert lead["pydcos_marathon_apps"].samples[0].value == 2
    assert "pydcos_allocator_cycle_seconds" in lead
    stand = families(standby["http_url"] + "/metrics")
    assert stand["pydcos_master_elected"].samples[0].value == 0.0
    assert "pydcos_tasks" not in stand

    # the CLI, as a user runs it
    out = cluster.cli("task", "metrics", "summary", "burn", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["dimensions"]["task_id"] == ids["burn"]
    out = cluster.cli("node", "metrics", "summary", agent_id)
    assert out.returncode == 0 and "GiB" in out.stdout, out.stderr
    out = cluster.cli("node", "metrics", "details", "no-such-agent")
    assert out.returncode != 0 and "no-such-agent" in out.stderr
    out = cluster.cli("task", "metrics", "details", "no-such-task")
    assert out.returncode != 0 and "no-such-task" in out.stderr

    # the series the dashboard plots
    h = get_json(sb + "/history?seconds=60")
    assert len(h["t"]) >= 2 and len(h["node"]["cpu_percent"]) == len(h["t"])
    assert max(h["containers"][ids["burn"]]["cpus"]) > 0.2

    # once more after the leader is SIGKILLed: the standby takes over and still answers
    os.kill(leader["pid"], signal.SIGKILL)
    wait_for(
        lambda: elected(standby["http_url"]) == 1.0, timeout=60, what="a new leader", interval=0.5
    )
    wait_for(
        lambda: ids["burn"] in get_json(sb + "/containers"),
        timeout=60,
        what="metrics through the new leader",
        interval=0.5,
    )
    after = families(standby["http_url"] + "/metrics")
    assert after["pydcos_master_leader_changes"].samples[0].value >= 2

    # an agent that is gone: a clear 503 naming it (the leader still lists it)
    agent = next(p for p in cluster.record()["processes"] if p["kind"] == "agent")
    os.kill(agent["pid"], signal.SIGKILL)
    status, body = wait_for(
        lambda: (r := get(sb + "/node"))[0] == 503 and r,
        timeout=60,
        what="a 503 for the dead agent",
        interval=0.5,
    )
    assert agent_id in json.loads(body)["message"]
