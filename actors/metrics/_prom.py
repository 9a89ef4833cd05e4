"""Metrics documents -> Prometheus metric families (pure: no I/O, nothing but
``prometheus_client``'s data classes). ``render`` turns families into the text format with
``prometheus_client.generate_latest`` over a private registry: never hand-formatted.

Names follow Prometheus' conventions: a ``pydcos_`` prefix, base units (seconds, bytes,
ratios 0..1 rather than percents), ``_total`` on counters, and what varies in labels
(``pydcos_tasks{state="running"}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from actors.metrics._errors import BadMetricsDocument

# DC/OS datapoint name -> (family name, "gauge"|"counter", scale, help, extra labels).
# Counter names are given without ``_total``: prometheus_client appends it.
NODE_METRICS: dict[str, tuple[str, str, float, str, dict[str, str]]] = {
    "cpu.cores": ("pydcos_node_cpu_cores", "gauge", 1, "CPU cores of the node", {}),
    "cpu.total": ("pydcos_node_cpu_usage_ratio", "gauge", 0.01, "busy share of all cores", {}),
    "cpu.user": (
        "pydcos_node_cpu_mode_ratio",
        "gauge",
        0.01,
        "CPU share by mode",
        {"mode": "user"},
    ),
    "cpu.system": ("pydcos_node_cpu_mode_ratio", "gauge", 0.01, "", {"mode": "system"}),
    "cpu.idle": ("pydcos_node_cpu_mode_ratio", "gauge", 0.01, "", {"mode": "idle"}),
    "cpu.wait": ("pydcos_node_cpu_mode_ratio", "gauge", 0.01, "", {"mode": "iowait"}),
    "load.1min": ("pydcos_node_load1", "gauge", 1, "load average over 1 minute", {}),
    "load.5min": ("pydcos_node_load5", "gauge", 1, "load average over 5 minutes", {}),
    "load.15min": ("pydcos_node_load15", "gauge", 1, "load average over 15 minutes", {}),
    "memory.total": ("pydcos_node_memory_total_bytes", "gauge", 1, "memory of the node", {}),
    "memory.free": ("pydcos_node_memory_free_bytes", "gauge", 1, "memory available", {}),
    "memory.buffers": ("pydcos_node_memory_buffers_bytes", "gauge", 1, "buffers", {}),
    "memory.cached": ("pydcos_node_memory_cached_bytes", "gauge", 1, "page cache", {}),
    "swap.total": ("pydcos_node_swap_total_bytes", "gauge", 1, "swap space", {}),
    "swap.free": ("pydcos_node_swap_free_bytes", "gauge", 1, "free swap", {}),
    "swap.used": ("pydcos_node_swap_used_bytes", "gauge", 1, "used swap", {}),
    "process.count": ("pydcos_node_processes", "gauge", 1, "processes on the node", {}),
    "system.uptime": ("pydcos_node_uptime_seconds", "gauge", 1, "seconds since boot", {}),
    "filesystem.capacity.total": ("pydcos_node_filesystem_size_bytes", "gauge", 1, "size", {}),
    "filesystem.capacity.used": ("pydcos_node_filesystem_used_bytes", "gauge", 1, "used", {}),
    "filesystem.capacity.free": ("pydcos_node_filesystem_free_bytes", "gauge", 1, "free", {}),
    "filesystem.inode.total": ("pydcos_node_filesystem_inodes", "gauge", 1, "inodes", {}),
    "filesystem.inode.used": ("pydcos_node_filesystem_inodes_used", "gauge", 1, "inodes used", {}),
    "filesystem.inode.free": ("pydcos_node_filesystem_inodes_free", "gauge", 1, "inodes free", {}),
    "network.in.bytes": ("pydcos_node_network_receive_bytes", "counter", 1, "bytes in", {}),
    "network.out.bytes": ("pydcos_node_network_transmit_bytes", "counter", 1, "bytes out", {}),
    "network.in.packets": ("pydcos_node_network_receive_packets", "counter", 1, "packets in", {}),
    "network.out.packets": ("pydcos_node_network_transmit_packets", "counter", 1, "out", {}),
    "network.in.dropped": ("pydcos_node_network_receive_drop", "counter", 1, "dropped in", {}),
    "network.out.dropped": ("pydcos_node_network_transmit_drop", "counter", 1, "dropped", {}),
    "network.in.errors": ("pydcos_node_network_receive_errs", "counter", 1, "errors in", {}),
    "network.out.errors": ("pydcos_node_network_transmit_errs", "counter", 1, "errors", {}),
}

CONTAINER_METRICS: dict[str, tuple[str, str, float, str, dict[str, str]]] = {
    "cpus.user.time": ("pydcos_container_cpu_user_seconds", "counter", 1, "user CPU time", {}),
    "cpus.system.time": ("pydcos_container_cpu_system_seconds", "counter", 1, "kernel time", {}),
    "cpus.total.time": ("pydcos_container_cpu_usage_seconds", "counter", 1, "CPU time", {}),
    "cpus.nr.periods": ("pydcos_container_cpu_cfs_periods", "counter", 1, "CFS periods", {}),
    "cpus.nr.throttled": (
        "pydcos_container_cpu_cfs_throttled_periods",
        "counter",
        1,
        "CFS periods throttled",
        {},
    ),
    "cpus.throttled.time": (
        "pydcos_container_cpu_cfs_throttled_seconds",
        "counter",
        1,
        "time throttled",
        {},
    ),
    "cpus.limit": ("pydcos_container_cpu_limit_cores", "gauge", 1, "CPU limit (cores)", {}),
    "cpus.usage": ("pydcos_container_cpu_usage_cores", "gauge", 1, "cores used lately", {}),
    "mem.total": ("pydcos_container_memory_usage_bytes", "gauge", 1, "memory charged", {}),
    "mem.rss": ("pydcos_container_memory_rss_bytes", "gauge", 1, "anonymous memory", {}),
    "mem.cache": ("pydcos_container_memory_cache_bytes", "gauge", 1, "page cache", {}),
    "mem.limit": ("pydcos_container_memory_limit_bytes", "gauge", 1, "memory limit", {}),
}

_CONTAINER_LABELS = ("container_id", "task_id", "task_name", "framework_id")


class _Families:
    """Families by name, created on first use with their label names fixed."""

    def __init__(self) -> None:
        self.by_name: dict[str, Metric] = {}

    def add(self, name: str, kind: str, help: str, labels: Mapping[str, str], value: float) -> None:
        fam = self.by_name.get(name)
        if fam is None:
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            fam = cls(name, help or name, labels=sorted(labels))
            self.by_name[name] = fam
        fam.add_metric([str(labels[k]) for k in sorted(labels)], float(value))  # type: ignore[attr-defined]

    def families(self) -> list[Metric]:
        return list(self.by_name.values())


def _datapoints(doc: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("datapoints"), list):
        raise BadMetricsDocument(f"{where}: not a metrics document with datapoints")
    return [dp for dp in doc["datapoints"] if isinstance(dp, Mapping)]


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def agent_families(doc: Mapping[str, Any], agent_id: str) -> list[Metric]:
    """An agent's ``GetMetrics("all")`` reply -> families: node figures (labels
    ``agent_id`` and, where DC/OS tags them, ``path``/``interface``), one series per
    container (``container_id``, ``task_id``, ``task_name``, ``framework_id``), and the
    collector's own cost."""
    out = _Families()
    base = {"agent_id": agent_id}
    node = doc.get("node")
    if node is not None:
        for dp in _datapoints(node, "node"):
            spec = NODE_METRICS.get(str(dp.get("name")))
            value = _number(dp.get("value"))
            if spec is None or value is None:
                continue
            name, kind, scale, help, extra = spec
            tags = dp.get("tags") or {}
            labels = {**base, **extra, **{k: str(v) for k, v in tags.items()}}
            out.add(name, kind, help, labels, value * scale)
    containers = doc.get("containers") or {}
    if not isinstance(containers, Mapping):
        raise BadMetricsDocument("containers: not an object of container documents")
    for cid, cdoc in containers.items():
        dims = cdoc.get("dimensions") or {} if isinstance(cdoc, Mapping) else {}
        labels = {
            **base,
            "container_id": str(cid),
            "task_id": str(dims.get("task_id", cid)),
            "task_name": str(dims.get("task_name", "")),
            "framework_id": str(dims.get("framework_id", "")),
        }
        for dp in _datapoints(cdoc, f"container {cid}"):
            spec = CONTAINER_METRICS.get(str(dp.get("name")))
            value = _number(dp.get("value"))
            if spec is None or value is None:
                continue
            name, kind, scale, help, _ = spec
            out.add(name, kind, help, labels, value * scale)
    agent = doc.get("agent") or {}
    if "collect_cpu_seconds_total" in agent:
        out.add(
            "pydcos_agent_metrics_collect_cpu_seconds",
            "counter",
            "CPU time the agent spent collecting metrics",
            base,
            float(agent["collect_cpu_seconds_total"]),
        )
        out.add(
            "pydcos_agent_metrics_collect_passes",
            "counter",
            "metrics collection passes",
            base,
            float(agent.get("collect_passes_total", 0)),
        )
        out.add(
            "pydcos_agent_metrics_interval_seconds",
            "gauge",
            "seconds between two samples",
            base,
            float(agent.get("interval_seconds", 0)),
        )
    return out.families()


RESOURCE_FAMILIES = (
    ("cpus", "pydcos_cpus", 1.0),
    ("mem", "pydcos_memory_bytes", 1024.0 * 1024),
    ("disk", "pydcos_disk_bytes", 1024.0 * 1024),
    ("gpus", "pydcos_gpus", 1.0),
)
"""Mesos' resource gauges (mem and disk in MB) -> families with ``kind`` total|used."""

TASK_STATES = ("staging", "starting", "running", "killing", "unreachable")
ENDED_STATES = ("finished", "failed", "killed", "lost", "error", "dropped")


def master_families(facts: Mapping[str, Any]) -> list[Metric]:
    """A master's facts -> families. ``facts``: ``elected`` (bool), ``uptime_seconds``,
    ``leader_changes`` (seen by this master), ``term`` (the leader's election sequence
    number, or None), and when leading ``snapshot`` (``GetState("snapshot")``), ``metrics``
    (``GetState("metrics")``), ``marathon`` and ``metronome`` (their Dropwizard-shaped
    ``/metrics`` documents), each None when unknown."""
    out = _Families()
    out.add(
        "pydcos_master_elected",
        "gauge",
        "1 if this master leads",
        {},
        1.0 if facts.get("elected") else 0.0,
    )
    out.add(
        "pydcos_master_uptime_seconds",
        "gauge",
        "seconds since this master started",
        {},
        float(facts.get("uptime_seconds", 0.0)),
    )
    out.add(
        "pydcos_master_leader_changes",
        "counter",
        "leader changes this master has seen",
        {},
        float(facts.get("leader_changes", 0)),
    )
    term = facts.get("term")
    if term is not None:
        out.add(
            "pydcos_master_election_term",
            "gauge",
            "the leader's election sequence number (grows with each new leader)",
            {},
            float(term),
        )
    snap = facts.get("snapshot")
    if isinstance(snap, Mapping):
        for state in TASK_STATES:
            v = _number(snap.get(f"master/tasks_{state}"))
            if v is not None:
                out.add("pydcos_tasks", "gauge", "live tasks by state", {"state": state}, v)
        for state in ENDED_STATES:
            v = _number(snap.get(f"master/tasks_{state}"))
            if v is not None:
                out.add(
                    "pydcos_tasks_ended",
                    "counter",
                    "tasks that reached a terminal state under this leader",
                    {"state": state},
                    v,
                )
        for status in ("active", "inactive", "connected", "disconnected"):
            v = _number(snap.get(f"master/frameworks_{status}"))
            if v is not None:
                out.add("pydcos_frameworks", "gauge", "frameworks by status", {"status": status}, v)
        for status in ("active", "connected", "unreachable"):
            v = _number(snap.get(f"master/slaves_{status}"))
            if v is not None:
                out.add("pydcos_agents", "gauge", "agents by status", {"status": status}, v)
        v = _number(snap.get("master/outstanding_offers"))
        if v is not None:
            out.add("pydcos_offers_outstanding", "gauge", "offers not yet answered", {}, v)
        v = _number(snap.get("allocator/mesos/allocation_runs"))
        if v is not None:
            out.add("pydcos_allocator_cycles", "counter", "allocation cycles run", {}, v)
        for res, name, scale in RESOURCE_FAMILIES:
            for kind in ("total", "used"):
                v = _number(snap.get(f"master/{res}_{kind}"))
                if v is not None:
                    out.add(name, "gauge", f"{res} of connected agents", {"kind": kind}, v * scale)
    m = facts.get("metrics")
    if isinstance(m, Mapping):
        for q, key in (("0.5", "alloc_cycle_ms_p50"), ("1", "alloc_cycle_ms_max")):
            v = _number(m.get(key))
            if v is not None:
                out.add(
                    "pydcos_allocator_cycle_seconds",
                    "gauge",
                    "allocation cycle time over recent cycles, by quantile",
                    {"quantile": q},
                    v / 1000.0,
                )
        v = _number(m.get("offers"))
        if v is not None:
            out.add("pydcos_offers", "gauge", "offers held by frameworks", {}, v)
        if "recovering" in m:
            out.add(
                "pydcos_master_recovering",
                "gauge",
                "1 while agents may re-register",
                {},
                1.0 if m["recovering"] else 0.0,
            )
    _dropwizard(out, facts.get("marathon"), "marathon", MARATHON_GAUGES)
    _dropwizard(out, facts.get("metronome"), "metronome", METRONOME_GAUGES)
    return out.families()


MARATHON_GAUGES: dict[str, tuple[str, str]] = {
    "marathon.apps.active.gauge": ("pydcos_marathon_apps", "apps defined"),
    "marathon.instances.running.gauge": ("pydcos_marathon_instances_running", "instances running"),
    "marathon.instances.staged.gauge": ("pydcos_marathon_instances_staged", "instances staged"),
    "marathon.instances.total.gauge": ("pydcos_marathon_instances", "instances known"),
    "marathon.deployments.active.gauge": ("pydcos_marathon_deployments", "deployments in progress"),
    "marathon.launch-queue.count.gauge": ("pydcos_marathon_queue", "instances waiting to launch"),
    "marathon.quarantined.gauge": ("pydcos_marathon_quarantined", "documents quarantined"),
}
METRONOME_GAUGES: dict[str, tuple[str, str]] = {
    "metronome.jobs.gauge": ("pydcos_metronome_jobs", "jobs defined"),
    "metronome.runs.active.gauge": ("pydcos_metronome_runs_active", "job runs in progress"),
    "metronome.launch-queue.gauge": ("pydcos_metronome_queue", "runs waiting to launch"),
    "metronome.quarantined.gauge": ("pydcos_metronome_quarantined", "documents quarantined"),
}


def _dropwizard(
    out: _Families, doc: Any, service: str, gauges: Mapping[str, tuple[str, str]]
) -> None:
    """Marathon's and Metronome's ``/metrics`` (Dropwizard: ``gauges.{name}.value``,
    ``counters.{name}.count``): the known gauges by name, every counter as
    ``pydcos_<service>_events_total{event="..."}``."""
    if not isinstance(doc, Mapping):
        return
    for key, (name, help) in gauges.items():
        v = _number((doc.get("gauges") or {}).get(key, {}).get("value"))
        if v is not None:
            out.add(name, "gauge", help, {}, v)
    for key, c in sorted((doc.get("counters") or {}).items()):
        v = _number(c.get("count") if isinstance(c, Mapping) else None)
        if v is None:
            continue
        event = key.removeprefix(service + ".").removesuffix(".counter")
        out.add(f"pydcos_{service}_events", "counter", f"{service} counters", {"event": event}, v)


class _Static:
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return iter(self._families)


def render(families: Iterable[Metric]) -> bytes:
    """Prometheus' text format of ``families`` (``prometheus_client.generate_latest`` over
    a private registry)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(_Static(families))
    return generate_latest(registry)
