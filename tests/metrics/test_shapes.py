"""The ring's bounds, GetMetrics' DC/OS shapes, and Prometheus rendering parsed back with
prometheus_client's own parser (pure: no cluster)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.agent._metrics import (
    ContainerInfo,
    ContainerSample,
    NodeSample,
    Point,
    Ring,
    answer,
    node_datapoints,
)
from actors.metrics import agent_families, master_families, render
from actors.protocol import GetMetrics

NODE = NodeSample(
    cpu_cores=2,
    cpu_total=37.5,
    cpu_user=30.0,
    cpu_system=7.5,
    cpu_idle=62.5,
    load=(0.5, 0.4, 0.3),
    mem_total=8 << 30,
    mem_free=6 << 30,
    process_count=120,
    uptime_s=3600.0,
    filesystems=(("/", 100, 40, 60, 10, 4, 6),),
    networks=(("lo", 1, 2, 3, 4, 0, 0, 0, 0),),
)
INFO = ContainerInfo("t1", "t1", "web", "fw-1", "t1", (("team", "a"),))
SAMPLE = ContainerSample(
    cpu_user_s=9.0, cpu_system_s=1.0, cpu_total_s=10.0, cpus_limit=1.0, mem_bytes=1 << 20
)


def ring_with(n: int, interval: float = 2.0, window: float = 600.0) -> Ring:
    r = Ring(window, interval)
    for i in range(n):
        r.append(Point(1000.0 + i * interval, NODE, {"t1": (INFO, SAMPLE, 0.5)}))
    return r


def test_ring_is_bounded_by_window_and_count() -> None:
    r = ring_with(1000)
    assert len(r) == 301  # 600 s / 2 s, plus the newest
    assert r.points[0].wall >= r.points[-1].wall - 600
    # a clock jump forward drops everything older than the window
    r.append(Point(1_000_000.0, NODE, {}))
    assert len(r) == 1
    # a tiny interval cannot grow it past its count
    small = ring_with(50, interval=0.001, window=0.01)
    assert len(small) <= 11


def test_node_doc_shape() -> None:
    doc = answer(GetMetrics("node"), ring_with(3), "agent-1", "host-a")
    assert set(doc) == {"datapoints", "dimensions"}
    assert doc["dimensions"] == {"mesos_id": "agent-1", "cluster_id": "", "hostname": "host-a"}
    names = {dp["name"] for dp in doc["datapoints"]}
    for name in ("cpu.cores", "cpu.total", "load.1min", "memory.total", "memory.free"):
        assert name in names
    for name in ("filesystem.capacity.total", "network.in.bytes", "process.count"):
        assert name in names
    fs = next(dp for dp in doc["datapoints"] if dp["name"] == "filesystem.capacity.used")
    assert fs["tags"] == {"path": "/"} and fs["unit"] == "bytes" and fs["value"] == 40
    for dp in doc["datapoints"]:
        assert set(dp) >= {"name", "value", "unit", "timestamp"}
        assert dp["timestamp"].endswith("Z")


def test_containers_container_app_and_unknown() -> None:
    r = ring_with(2)
    assert answer(GetMetrics("containers"), r, "a", "h") == ["t1"]
    doc = answer(GetMetrics("container", container_id="t1"), r, "a", "h")
    assert doc["dimensions"]["container_id"] == "t1"
    assert doc["dimensions"]["task_name"] == "web"
    assert doc["dimensions"]["labels"] == {"team": "a"}
    assert {dp["name"] for dp in doc["datapoints"]} >= {"cpus.user.time", "mem.total"}
    app = answer(GetMetrics("app", container_id="t1"), r, "a", "h")
    assert app["datapoints"] == [] and app["dimensions"]["task_id"] == "t1"
    assert answer(GetMetrics("container", container_id="nope"), r, "a", "h") is None
    assert answer(GetMetrics("containers"), Ring(), "a", "h") == []
    with pytest.raises(ValueError, match="scope"):
        answer(GetMetrics("bogus"), r, "a", "h")


def test_history_series() -> None:
    r = ring_with(5)
    h = answer(GetMetrics("history", since=1004.0), r, "a", "h")
    assert h["t"] == [1004.0, 1006.0, 1008.0]
    assert h["node"]["cpu_percent"] == [37.5] * 3
    assert h["node"]["mem_used_bytes"] == [2 << 30] * 3
    assert h["containers"]["t1"]["cpus"] == [0.5] * 3
    assert h["containers"]["t1"]["mem_bytes"] == [1 << 20] * 3


def parse(text: bytes) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text.decode())}


def test_agent_prometheus_parses_back() -> None:
    doc = answer(
        GetMetrics("all"), ring_with(2), "agent-1", "host-a", {"collect_cpu_seconds_total": 0.25}
    )
    fams = parse(render(agent_families(doc, "agent-1")))
    cpu = fams["pydcos_container_cpu_usage_seconds"]
    assert cpu.type == "counter"
    (s,) = [s for s in cpu.samples if s.name.endswith("_total")]
    assert s.value == 10.0
    assert s.labels == {
        "agent_id": "agent-1",
        "container_id": "t1",
        "task_id": "t1",
        "task_name": "web",
        "framework_id": "fw-1",
    }
    assert fams["pydcos_container_cpu_usage_cores"].samples[0].value == 0.5
    assert fams["pydcos_container_memory_usage_bytes"].samples[0].value == 1 << 20
    assert fams["pydcos_node_cpu_usage_ratio"].samples[0].value == pytest.approx(0.375)
    modes = {s.labels["mode"]: s.value for s in fams["pydcos_node_cpu_mode_ratio"].samples}
    assert modes["user"] == pytest.approx(0.30)
    fs = fams["pydcos_node_filesystem_used_bytes"].samples[0]
    assert fs.labels == {"agent_id": "agent-1", "path": "/"} and fs.value == 40
    assert fams["pydcos_node_network_receive_bytes"].type == "counter"
    assert fams["pydcos_agent_metrics_collect_cpu_seconds"].samples[0].value == 0.25


def test_master_prometheus_leader_and_standby() -> None:
    leader = {
        "elected": True,
        "uptime_seconds": 12.5,
        "leader_changes": 2,
        "term": 7,
        "snapshot": {
            "master/tasks_running": 3.0,
            "master/tasks_staging": 1.0,
            "master/tasks_finished": 4.0,
            "master/frameworks_active": 2.0,
            "master/slaves_active": 2.0,
            "master/outstanding_offers": 1.0,
            "allocator/mesos/allocation_runs": 99.0,
            "master/cpus_total": 4.0,
            "master/mem_total": 1024.0,
        },
        "metrics": {"alloc_cycle_ms_p50": 1.5, "alloc_cycle_ms_max": 9.0, "offers": 1},
        "marathon": {
            "gauges": {"marathon.deployments.active.gauge": {"value": 1}},
            "counters": {"marathon.launches.counter": {"count": 5}},
        },
        "metronome": {"gauges": {"metronome.runs.active.gauge": {"value": 2}}, "counters": {}},
    }
    fams = parse(render(master_families(leader)))
    tasks = {s.labels["state"]: s.value for s in fams["pydcos_tasks"].samples}
    assert tasks["running"] == 3.0 and tasks["staging"] == 1.0
    assert fams["pydcos_master_elected"].samples[0].value == 1.0
    assert fams["pydcos_master_election_term"].samples[0].value == 7.0
    cycle = {s.labels["quantile"]: s.value for s in fams["pydcos_allocator_cycle_seconds"].samples}
    assert cycle == {"0.5": 0.0015, "1": 0.009}
    assert fams["pydcos_allocator_cycles"].type == "counter"
    mem = fams["pydcos_memory_bytes"].samples[0]
    assert mem.labels == {"kind": "total"} and mem.value == 1024 * 1024 * 1024
    assert fams["pydcos_cpus"].samples[0].value == 4.0
    assert fams["pydcos_marathon_deployments"].samples[0].value == 1
    assert fams["pydcos_metronome_runs_active"].samples[0].value == 2
    events = fams["pydcos_marathon_events"].samples[0]
    assert events.labels == {"event": "launches"} and events.value == 5

    standby = parse(render(master_families({"elected": False, "uptime_seconds": 3.0})))
    assert standby["pydcos_master_elected"].samples[0].value == 0.0
    assert "pydcos_tasks" not in standby


def test_node_datapoints_units() -> None:
    units = {dp["name"]: dp["unit"] for dp in node_datapoints(NODE, 0.0)}
    assert units["cpu.total"] == "percent" and units["memory.total"] == "bytes"
    assert units["load.1min"] == "count"


@pytest.mark.parametrize(
    "statement",
    ["import actors.agent._metrics", "from actors.metrics import agent_families, render"],
)
def test_pure_metrics_modules_load_no_io_library(statement: str) -> None:
    import subprocess
    import sys

    io = ("zmq", "kazoo", "aiohttp", "docker", "textual", "psutil")
    code = f"import sys; {statement}\nprint(','.join(m for m in {io!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_a_simulated_agent_is_sampled_only_when_asked() -> None:
    from actors.agent import SimulatedRunner
    from actors.agent._metrics import MetricsCollector, MetricsTick, handle
    from runtime import ManualClock

    class Agent:
        runner = SimulatedRunner()
        tasks: dict[str, Any] = {}
        clock = ManualClock()
        agent_id = "a1"
        hostname = "h"

    c = MetricsCollector()
    for _ in range(5):
        handle(Agent(), MetricsTick(), c)
    assert len(c.ring) == 0 and c.passes == 0
    doc = handle(Agent(), GetMetrics("node"), c)
    assert len(c.ring) == 1 and doc["dimensions"]["mesos_id"] == "a1"
    assert {dp["name"] for dp in doc["datapoints"]} >= {"cpu.cores", "memory.total"}
