"""Agent metrics: every ``--metrics-interval`` the agent samples its node and each running
task's container into a bounded ring (the last ``window`` seconds, 10 minutes by default),
and answers ``GetMetrics`` with DC/OS' metrics API v0 shapes.

Two halves, as everywhere in the agent:

- pure (top of the file, no I/O, time passed in): cgroup v1/v2 file texts and Docker
  stats -> ``ContainerSample``; samples -> DC/OS datapoints (``name``, ``value``,
  ``unit``, ``timestamp`` RFC 3339, ``tags``) and ``dimensions``; the ``Ring``.
- I/O (``MetricsCollector``): reads the files, asks psutil and the Docker engine, on a
  thread of its own so a slow engine never holds up the agent actor; one pass at a time
  (a tick that finds the previous pass still running is skipped, not queued).

Container ids are task ids: pydcos has one container per task (Mesos' command executor
and Docker containerizer do too), and the id is what ``/containers`` lists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actors import protocol as p

log = logging.getLogger("actors.agent.metrics")

DEFAULT_INTERVAL = 2.0
"""Seconds between two samples (``pydcos agent --metrics-interval``)."""
DEFAULT_WINDOW = 600.0
"""Seconds of samples the ring keeps (10 minutes)."""
USER_HZ = 100
"""Clock ticks per second of ``cpuacct.stat`` (the kernel's USER_HZ, 100 on Linux)."""
UNLIMITED = 1 << 62
"""cgroup v1 writes "no limit" as a huge number (PAGE_COUNTER_MAX pages): above this, none."""

SECONDS, BYTES, COUNT, PERCENT = "seconds", "bytes", "count", "percent"


# ------------------------------------------------------------------------------ samples


@dataclass(frozen=True, slots=True)
class ContainerSample:
    """One reading of a container's cgroup (or Docker stats), Mesos' ResourceStatistics."""

    cpu_user_s: float = 0.0
    cpu_system_s: float = 0.0
    cpu_total_s: float = 0.0
    """user + system, at the kernel's precision (ns on v1, us on v2)."""
    nr_periods: int = 0
    nr_throttled: int = 0
    throttled_s: float = 0.0
    cpus_limit: float | None = None
    mem_bytes: int = 0
    """memory usage as the kernel counts it for the limit (rss + cache)."""
    mem_limit: int | None = None
    mem_rss: int = 0
    mem_cache: int = 0
    at: float | None = None
    """When the reading was taken by its source's own clock (epoch; Docker's ``read``),
    when it has one: CPU rates then divide by the engine's interval, not ours."""


def parse_kv(text: str) -> dict[str, int]:
    """``"key value"`` lines (cpu.stat, memory.stat, cpuacct.stat) -> ints; bad lines skipped."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[key] = int(value.strip())
    return out


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


V1_FILES: dict[str, tuple[str, ...]] = {
    "cpuacct": ("cpuacct.usage", "cpuacct.stat"),
    "cpu": ("cpu.stat", "cpu.cfs_quota_us", "cpu.cfs_period_us"),
    "memory": ("memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat"),
}
"""What a v1 sample reads, by controller."""
V2_FILES: tuple[str, ...] = ("cpu.stat", "cpu.max", "memory.current", "memory.max", "memory.stat")
"""What a v2 sample reads (one directory)."""
LIMIT_FILES = frozenset(
    {"cpu.cfs_quota_us", "cpu.cfs_period_us", "memory.limit_in_bytes"}
    | {
        "cpu.max",
        "memory.max",
    }
)
"""Files that only change when the container is created: read once per container."""


def from_cgroup_v1(files: Mapping[str, str]) -> ContainerSample:
    """cgroup v1 file texts (by file name; missing ones count as absent) -> a sample.

    CPU: ``cpuacct.usage`` (ns) is the total, ``cpuacct.stat`` user/system (USER_HZ ticks)
    split it; throttling from the cpu controller's ``cpu.stat`` (``throttled_time`` ns);
    the limit is ``cfs_quota_us / cfs_period_us`` (-1: none). Memory: ``usage_in_bytes``
    (what the limit counts), ``memory.stat`` ``total_rss``/``total_cache`` (hierarchical,
    else the local ``rss``/``cache``), a limit above ``UNLIMITED`` is none."""
    ticks = parse_kv(files.get("cpuacct.stat", ""))
    user = ticks.get("user", 0) / USER_HZ
    system = ticks.get("system", 0) / USER_HZ
    usage_ns = _int(files.get("cpuacct.usage"))
    total = usage_ns / 1e9 if usage_ns is not None else user + system
    cpu = parse_kv(files.get("cpu.stat", ""))
    quota = _int(files.get("cpu.cfs_quota_us"))
    period = _int(files.get("cpu.cfs_period_us"))
    limit = quota / period if quota is not None and quota > 0 and period else None
    mem = parse_kv(files.get("memory.stat", ""))
    mem_limit = _int(files.get("memory.limit_in_bytes"))
    return ContainerSample(
        cpu_user_s=user,
        cpu_system_s=system,
        cpu_total_s=total,
        nr_periods=cpu.get("nr_periods", 0),
        nr_throttled=cpu.get("nr_throttled", 0),
        throttled_s=cpu.get("throttled_time", 0) / 1e9,
        cpus_limit=limit,
        mem_bytes=_int(files.get("memory.usage_in_bytes")) or 0,
        mem_limit=mem_limit if mem_limit is not None and mem_limit < UNLIMITED else None,
        mem_rss=mem.get("total_rss", mem.get("rss", 0)),
        mem_cache=mem.get("total_cache", mem.get("cache", 0)),
    )


def from_cgroup_v2(files: Mapping[str, str]) -> ContainerSample:
    """cgroup v2 file texts -> a sample: ``cpu.stat`` (``usage_usec``, ``user_usec``,
    ``system_usec``, and with the cpu controller ``nr_periods``, ``nr_throttled``,
    ``throttled_usec``), ``cpu.max`` (``"quota period"``, ``max``: none),
    ``memory.current``, ``memory.max`` (``max``: none), ``memory.stat`` (``anon`` is the
    RSS, ``file`` the page cache)."""
    cpu = parse_kv(files.get("cpu.stat", ""))
    quota, _, period = files.get("cpu.max", "max").strip().partition(" ")
    q, per = _int(quota), _int(period)
    mem = parse_kv(files.get("memory.stat", ""))
    return ContainerSample(
        cpu_user_s=cpu.get("user_usec", 0) / 1e6,
        cpu_system_s=cpu.get("system_usec", 0) / 1e6,
        cpu_total_s=cpu.get("usage_usec", 0) / 1e6,
        nr_periods=cpu.get("nr_periods", 0),
        nr_throttled=cpu.get("nr_throttled", 0),
        throttled_s=cpu.get("throttled_usec", 0) / 1e6,
        cpus_limit=q / per if q is not None and q > 0 and per else None,
        mem_bytes=_int(files.get("memory.current")) or 0,
        mem_limit=_int(files.get("memory.max")),
        mem_rss=mem.get("anon", 0),
        mem_cache=mem.get("file", 0),
    )


def parse_rfc3339(text: Any) -> float | None:
    """``2026-12-06T09:30:00.123456789Z`` (Go's RFC3339Nano) -> epoch seconds; None for
    anything else (and for Go's zero time, ``0001-01-01T00:00:00Z``)."""
    if not isinstance(text, str) or not text.endswith("Z") or text.startswith("0001-"):
        return None
    head, dot, frac = text[:-1].partition(".")
    try:
        base = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
        return base + (float("0." + frac) if dot and frac.isdigit() else 0.0)
    except ValueError:
        return None


def from_docker_stats(s: Mapping[str, Any], cpus_limit: float | None = None) -> ContainerSample:
    """The engine's ``GET /containers/{id}/stats`` document -> a sample (v1 or v2 hosts:
    ``memory_stats.stats`` has ``total_rss``/``total_cache`` on v1, ``anon``/``file`` on
    v2)."""
    cpu = s.get("cpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    thr = cpu.get("throttling_data") or {}
    mem = s.get("memory_stats") or {}
    st = mem.get("stats") or {}
    limit = mem.get("limit")
    return ContainerSample(
        cpu_user_s=usage.get("usage_in_usermode", 0) / 1e9,
        cpu_system_s=usage.get("usage_in_kernelmode", 0) / 1e9,
        cpu_total_s=usage.get("total_usage", 0) / 1e9,
        nr_periods=int(thr.get("periods", 0)),
        nr_throttled=int(thr.get("throttled_periods", 0)),
        throttled_s=thr.get("throttled_time", 0) / 1e9,
        cpus_limit=cpus_limit,
        mem_bytes=int(mem.get("usage", 0)),
        mem_limit=int(limit) if isinstance(limit, int) and 0 < limit < UNLIMITED else None,
        mem_rss=int(st.get("total_rss", st.get("rss", st.get("anon", 0)))),
        mem_cache=int(st.get("total_cache", st.get("cache", st.get("file", 0)))),
        at=parse_rfc3339(s.get("read")),
    )


def cpu_usage(prev: ContainerSample | None, cur: ContainerSample, seconds: float) -> float | None:
    """Cores used between two samples ``seconds`` apart (None for the first sample)."""
    if prev is None or seconds <= 0:
        return None
    return max(0.0, (cur.cpu_total_s - prev.cpu_total_s) / seconds)


@dataclass(frozen=True, slots=True)
class NodeSample:
    """One reading of the node (psutil): DC/OS' node metrics."""

    cpu_cores: int = 1
    cpu_total: float = 0.0
    """percent of all cores busy since the last sample."""
    cpu_user: float = 0.0
    cpu_system: float = 0.0
    cpu_idle: float = 100.0
    cpu_wait: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    mem_total: int = 0
    mem_free: int = 0
    mem_buffers: int = 0
    mem_cached: int = 0
    swap_total: int = 0
    swap_free: int = 0
    swap_used: int = 0
    process_count: int = 0
    uptime_s: float = 0.0
    filesystems: tuple[tuple[str, int, int, int, int, int, int], ...] = ()
    """(path, bytes total, used, free, inodes total, used, free)."""
    networks: tuple[tuple[str, int, int, int, int, int, int, int, int], ...] = ()
    """(interface, in bytes, out bytes, in packets, out packets, in dropped, out dropped,
    in errors, out errors)."""


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """What the agent knows of the task in a container (the datapoints' tags)."""

    container_id: str
    task_id: str
    task_name: str = ""
    framework_id: str = ""
    executor_id: str = ""
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Point:
    """One pass of the collector: when, the node, and each container with its cores used
    since the previous pass (None on its first)."""

    wall: float
    node: NodeSample
    containers: Mapping[str, tuple[ContainerInfo, ContainerSample, float | None]]


class Ring:
    """The last ``window`` seconds of points, at most ``maxlen`` of them: memory stays
    bounded whatever the interval or the clock does."""

    def __init__(self, window: float = DEFAULT_WINDOW, interval: float = DEFAULT_INTERVAL) -> None:
        self.window = window
        self.points: deque[Point] = deque(maxlen=max(2, math.ceil(window / interval) + 1))

    def append(self, point: Point) -> None:
        self.points.append(point)
        while self.points and self.points[0].wall < point.wall - self.window:
            self.points.popleft()

    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None

    def since(self, wall: float) -> list[Point]:
        return [pt for pt in self.points if pt.wall >= wall]

    def __len__(self) -> int:
        return len(self.points)


# ------------------------------------------------------------------------------ DC/OS shapes


def rfc3339(wall: float) -> str:
    """Epoch seconds -> ``2026-12-06T09:30:00.123Z`` (Go's time.RFC3339Nano, UTC)."""
    return (
        datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def datapoint(
    name: str, value: float, unit: str, ts: str, tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    dp: dict[str, Any] = {"name": name, "value": value, "unit": unit, "timestamp": ts}
    if tags:
        dp["tags"] = dict(tags)
    return dp


NETWORK_NAMES = (
    *("in.bytes", "out.bytes", "in.packets", "out.packets"),
    *("in.dropped", "out.dropped", "in.errors", "out.errors"),
)
"""``network.<name>`` datapoints, in ``NodeSample.networks``' order."""


def node_datapoints(n: NodeSample, wall: float) -> list[dict[str, Any]]:
    """DC/OS' node metrics (dcos-metrics' names and units)."""
    ts = rfc3339(wall)
    out = [
        datapoint("cpu.cores", n.cpu_cores, COUNT, ts),
        datapoint("cpu.total", n.cpu_total, PERCENT, ts),
        datapoint("cpu.user", n.cpu_user, PERCENT, ts),
        datapoint("cpu.system", n.cpu_system, PERCENT, ts),
        datapoint("cpu.idle", n.cpu_idle, PERCENT, ts),
        datapoint("cpu.wait", n.cpu_wait, PERCENT, ts),
        datapoint("load.1min", n.load[0], COUNT, ts),
        datapoint("load.5min", n.load[1], COUNT, ts),
        datapoint("load.15min", n.load[2], COUNT, ts),
        datapoint("memory.total", n.mem_total, BYTES, ts),
        datapoint("memory.free", n.mem_free, BYTES, ts),
        datapoint("memory.buffers", n.mem_buffers, BYTES, ts),
        datapoint("memory.cached", n.mem_cached, BYTES, ts),
        datapoint("swap.total", n.swap_total, BYTES, ts),
        datapoint("swap.free", n.swap_free, BYTES, ts),
        datapoint("swap.used", n.swap_used, BYTES, ts),
        datapoint("process.count", n.process_count, COUNT, ts),
        datapoint("system.uptime", round(n.uptime_s), COUNT, ts),
    ]
    for path, total, used, free, itotal, iused, ifree in n.filesystems:
        tags = {"path": path}
        out += [
            datapoint("filesystem.capacity.total", total, BYTES, ts, tags),
            datapoint("filesystem.capacity.used", used, BYTES, ts, tags),
            datapoint("filesystem.capacity.free", free, BYTES, ts, tags),
            datapoint("filesystem.inode.total", itotal, COUNT, ts, tags),
            datapoint("filesystem.inode.used", iused, COUNT, ts, tags),
            datapoint("filesystem.inode.free", ifree, COUNT, ts, tags),
        ]
    names = NETWORK_NAMES
    for iface, *values in n.networks:
        tags = {"interface": iface}
        for name, value in zip(names, values, strict=True):
            unit = BYTES if name.endswith("bytes") else COUNT
            out.append(datapoint("network." + name, value, unit, ts, tags))
    return out


def container_tags(info: ContainerInfo) -> dict[str, str]:
    return {
        "container_id": info.container_id,
        "source": info.task_id,
        "framework_id": info.framework_id,
        "executor_id": info.executor_id or info.task_id,
        "executor_name": info.task_name,
    }


def container_datapoints(
    info: ContainerInfo, c: ContainerSample, usage: float | None, wall: float
) -> list[dict[str, Any]]:
    """DC/OS' container metrics (Mesos ResourceStatistics, dcos-metrics' names), plus
    ``cpus.usage`` (cores used since the previous sample) when known."""
    ts, tags = rfc3339(wall), container_tags(info)
    out = [
        datapoint("cpus.user.time", round(c.cpu_user_s, 3), SECONDS, ts, tags),
        datapoint("cpus.system.time", round(c.cpu_system_s, 3), SECONDS, ts, tags),
        datapoint("cpus.total.time", round(c.cpu_total_s, 6), SECONDS, ts, tags),
        datapoint("cpus.nr.periods", c.nr_periods, COUNT, ts, tags),
        datapoint("cpus.nr.throttled", c.nr_throttled, COUNT, ts, tags),
        datapoint("cpus.throttled.time", round(c.throttled_s, 6), SECONDS, ts, tags),
        datapoint("mem.total", c.mem_bytes, BYTES, ts, tags),
        datapoint("mem.rss", c.mem_rss, BYTES, ts, tags),
        datapoint("mem.cache", c.mem_cache, BYTES, ts, tags),
    ]
    if c.cpus_limit is not None:
        out.append(datapoint("cpus.limit", c.cpus_limit, COUNT, ts, tags))
    if c.mem_limit is not None:
        out.append(datapoint("mem.limit", c.mem_limit, BYTES, ts, tags))
    if usage is not None:
        out.append(datapoint("cpus.usage", round(usage, 4), COUNT, ts, tags))
    return out


def dimensions(
    agent_id: str, hostname: str, cluster_id: str = "", info: ContainerInfo | None = None
) -> dict[str, Any]:
    """dcos-metrics' ``dimensions`` (``mesos_id`` is the agent id, as DC/OS names it)."""
    d: dict[str, Any] = {"mesos_id": agent_id, "cluster_id": cluster_id, "hostname": hostname}
    if info is not None:
        d.update(
            container_id=info.container_id,
            executor_id=info.executor_id or info.task_id,
            framework_id=info.framework_id,
            task_id=info.task_id,
            task_name=info.task_name,
            labels=dict(info.labels),
        )
    return d


def answer(
    query: p.GetMetrics,
    ring: Ring,
    agent_id: str,
    hostname: str,
    extra: Mapping[str, float] | None = None,
) -> Any:
    """The reply to ``GetMetrics`` from the ring (pure): see its docstring for the shapes.
    None when the container is unknown (the gateway answers 404 naming it)."""
    pt = ring.latest()
    if query.scope == "containers":
        return sorted(pt.containers) if pt is not None else []
    if query.scope == "node":
        if pt is None:
            return {"datapoints": [], "dimensions": dimensions(agent_id, hostname)}
        return {
            "datapoints": node_datapoints(pt.node, pt.wall),
            "dimensions": dimensions(agent_id, hostname),
        }
    if query.scope in ("container", "app"):
        if pt is None or query.container_id not in pt.containers:
            return None
        info, c, usage = pt.containers[query.container_id]
        dps = container_datapoints(info, c, usage, pt.wall) if query.scope == "container" else []
        return {"datapoints": dps, "dimensions": dimensions(agent_id, hostname, info=info)}
    if query.scope == "all":
        if pt is None:
            return {"node": None, "containers": {}, "agent": dict(extra or {})}
        return {
            "node": {
                "datapoints": node_datapoints(pt.node, pt.wall),
                "dimensions": dimensions(agent_id, hostname),
            },
            "containers": {
                cid: {
                    "datapoints": container_datapoints(info, c, usage, pt.wall),
                    "dimensions": dimensions(agent_id, hostname, info=info),
                }
                for cid, (info, c, usage) in sorted(pt.containers.items())
            },
            "agent": dict(extra or {}),
        }
    if query.scope == "history":
        return history(ring, query.since)
    raise ValueError(
        f"GetMetrics.scope: {query.scope!r} is not one of {', '.join(p.METRICS_SCOPES)}"
    )


def history(ring: Ring, since: float) -> dict[str, Any]:
    """Series for plots: ``{"t": [wall...], "node": {"cpu_percent": [...], "mem_used_bytes":
    [...]}, "containers": {cid: {"t": [...], "cpus": [...], "mem_bytes": [...]}}}``."""
    pts = ring.since(since)
    node = {
        "cpu_percent": [pt.node.cpu_total for pt in pts],
        "mem_used_bytes": [pt.node.mem_total - pt.node.mem_free for pt in pts],
        "mem_total_bytes": pts[-1].node.mem_total if pts else 0,
        "cores": pts[-1].node.cpu_cores if pts else 0,
    }
    containers: dict[str, dict[str, list[float]]] = {}
    for pt in pts:
        for cid, (_, c, usage) in pt.containers.items():
            s = containers.setdefault(cid, {"t": [], "cpus": [], "mem_bytes": []})
            s["t"].append(pt.wall)
            s["cpus"].append(usage if usage is not None else 0.0)
            s["mem_bytes"].append(c.mem_bytes)
    return {"t": [pt.wall for pt in pts], "node": node, "containers": containers}


# ------------------------------------------------------------------------------ I/O


@dataclass(slots=True)
class Target:
    """One running task to sample: its description and how to read it."""

    info: ContainerInfo
    handle: Any
    """The runner's task handle: a native task (``cgroup``) or a Docker task."""


def read_files(dirs: Iterable[tuple[Path, Iterable[str]]], skip: frozenset[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for d, names in dirs:
        for name in names:
            if name in skip:
                continue
            try:
                fd = os.open(d / name, os.O_RDONLY)
            except OSError:
                continue
            try:
                out[name] = os.read(fd, 65536).decode(errors="replace")
            except OSError:
                pass
            finally:
                os.close(fd)
    return out


def read_cgroup(
    cgroup: Any, limits: dict[str, str] | None
) -> tuple[ContainerSample, dict[str, str]]:
    """Read a task's cgroup (``actors.agent._cgroups.Cgroup``); ``limits``: the limit files'
    texts read before (None: read them now). Returns the sample and the limit texts."""
    skip = LIMIT_FILES if limits is not None else frozenset()
    if cgroup.version == 2:
        files = read_files([(cgroup.root / cgroup.name, V2_FILES)], skip)
    else:
        files = read_files(
            [(cgroup.root / ctrl / cgroup.name, names) for ctrl, names in V1_FILES.items()], skip
        )
    if limits is None:
        limits = {k: v for k, v in files.items() if k in LIMIT_FILES}
    else:
        files.update(limits)
    sample = from_cgroup_v2(files) if cgroup.version == 2 else from_cgroup_v1(files)
    return sample, limits


def _drops(c: Any) -> tuple[int, int, int, int]:
    return (c.dropin, c.dropout, c.errin, c.errout)


_HOST: dict[str, Any] = {}
"""The last host sample of this process (``at``, ``sample``): every agent of a process
(tests and benches run hundreds) shares one host, so one psutil pass serves them all."""
_HOST_LOCK = threading.Lock()


def sample_node(
    paths: Iterable[str], wall: float, now: float | None = None, max_age: float = 0.0
) -> NodeSample:
    """psutil's view of the node; ``paths``: the directories whose filesystems to report
    (``/`` and the agent's work dir); ``wall``: now (epoch), for the uptime. The host part
    is reused for ``max_age`` seconds of ``now`` (another agent of this process took it)."""
    with _HOST_LOCK:
        at, host = _HOST.get("at"), _HOST.get("sample")
        if host is None or now is None or at is None or not 0 <= now - at < max_age:
            host = _sample_host(wall)
            _HOST.update(at=now, sample=host)
    return dataclasses.replace(host, filesystems=_filesystems(paths))


def _filesystems(paths: Iterable[str]) -> tuple[tuple[str, int, int, int, int, int, int], ...]:
    """(path, bytes total/used/free, inodes total/used/free) once per filesystem."""
    fss: dict[int, tuple[str, int, int, int, int, int, int]] = {}
    for path in paths:
        with contextlib.suppress(OSError):
            st = os.statvfs(path)
            if st.f_fsid in fss:
                continue
            total = st.f_blocks * st.f_frsize
            free = st.f_bavail * st.f_frsize
            used = (st.f_blocks - st.f_bfree) * st.f_frsize
            inodes = (st.f_files, st.f_files - st.f_ffree, st.f_ffree)
            fss[st.f_fsid] = (path, total, used, free, *inodes)
    return tuple(fss.values())


def _sample_host(wall: float) -> NodeSample:
    import psutil

    cpu = psutil.cpu_times_percent(interval=None)
    vm = psutil.virtual_memory()
    sw = psutil.swap_memory()
    nets = tuple(
        (name, c.bytes_recv, c.bytes_sent, c.packets_recv, c.packets_sent, *_drops(c))
        for name, c in sorted(psutil.net_io_counters(pernic=True).items())
    )
    try:
        nprocs = sum(1 for e in os.scandir("/proc") if e.name.isdigit())
    except OSError:
        nprocs = 0
    idle = float(getattr(cpu, "idle", 0.0))
    if not any(cpu):  # psutil's first call has nothing to compare with: say idle
        idle = 100.0
    return NodeSample(
        cpu_cores=psutil.cpu_count() or 1,
        cpu_total=round(100.0 - idle, 2),
        cpu_user=float(cpu.user),
        cpu_system=float(cpu.system),
        cpu_idle=idle,
        cpu_wait=float(getattr(cpu, "iowait", 0.0)),
        load=tuple(round(x, 2) for x in os.getloadavg()),  # type: ignore[arg-type]
        mem_total=vm.total,
        mem_free=vm.available,
        mem_buffers=int(getattr(vm, "buffers", 0)),
        mem_cached=int(getattr(vm, "cached", 0)),
        swap_total=sw.total,
        swap_free=sw.free,
        swap_used=sw.used,
        process_count=nprocs,
        uptime_s=max(0.0, wall - psutil.boot_time()),
        networks=nets,  # type: ignore[arg-type]
    )


@dataclass
class MetricsCollector:
    """Owns the ring; ``tick`` starts one collection pass on a thread of its own."""

    interval: float = DEFAULT_INTERVAL
    window: float = DEFAULT_WINDOW
    paths: tuple[str, ...] = ("/",)
    ring: Ring = field(init=False)
    cpu_seconds: float = 0.0
    """CPU time the collector's passes spent (the bench's and Prometheus' figure)."""
    passes: int = 0
    skipped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _prev: dict[str, tuple[float, ContainerSample]] = field(default_factory=dict)
    _limits: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ring = Ring(self.window, self.interval)

    def tick(self, targets: list[Target], clock: Any) -> threading.Thread | None:
        """Start a pass over ``targets`` (``clock``: the agent's, ``now()`` monotonic and
        ``wall()`` epoch, read as each container is); None if the previous pass is still
        running."""
        if self._thread is not None and self._thread.is_alive():
            self.skipped += 1
            return None
        if not targets:  # the node alone (a shared psutil pass): no thread for that
            self._run(targets, clock)
            return None
        self._thread = threading.Thread(
            target=self._run, args=(targets, clock), name="metrics", daemon=True
        )
        self._thread.start()
        return self._thread

    def _run(self, targets: list[Target], clock: Any) -> None:
        t0 = time.thread_time()  # CPU time of this thread, not a clock
        try:
            point = self.collect(targets, clock)
            with self._lock:
                self.ring.append(point)
        except Exception:
            log.exception("metrics collection failed")
        finally:
            self.cpu_seconds += time.thread_time() - t0
            self.passes += 1

    def collect(self, targets: list[Target], clock: Any) -> Point:
        """One pass (on the caller's thread). Each container's time is read right after
        its files, so a pass delayed by a busy host does not skew its cores."""
        wall = clock.wall()
        node = sample_node(self.paths, wall, clock.now(), self.interval / 2)
        containers: dict[str, tuple[ContainerInfo, ContainerSample, float | None]] = {}
        docker: list[Target] = []
        for t in targets:
            cg = getattr(t.handle, "cgroup", None)
            if cg is not None:
                cid = t.info.container_id
                try:
                    sample, limits = read_cgroup(cg, self._limits.get(cid))
                except OSError:
                    continue
                self._limits[cid] = limits
                containers[cid] = self._with_usage(t.info, sample, clock.now())
            elif getattr(t.handle, "_container", None) is not None:
                docker.append(t)
            else:
                fallback = self._fallback(t)
                if fallback is not None:
                    containers[t.info.container_id] = self._with_usage(
                        t.info, fallback, clock.now()
                    )
        if docker:
            containers.update(self._docker(docker, clock))
        live = set(containers)
        for cid in [c for c in self._prev if c not in live]:
            del self._prev[cid]
            self._limits.pop(cid, None)
        return Point(wall, node, containers)

    def _with_usage(
        self, info: ContainerInfo, sample: ContainerSample, now: float
    ) -> tuple[ContainerInfo, ContainerSample, float | None]:
        prev = self._prev.get(info.container_id)
        usage = None
        if prev is not None:
            p_at, p = prev
            if p.at is not None and sample.at is not None:
                usage = cpu_usage(p, sample, sample.at - p.at)
            else:
                usage = cpu_usage(p, sample, now - p_at)
        self._prev[info.container_id] = (now, sample)
        return info, sample, usage

    @staticmethod
    def _fallback(t: Target) -> ContainerSample | None:
        """A task with no cgroup (no root, no cgroups): its process tree's usage."""
        try:
            u = t.handle.usage()
        except Exception:
            return None
        if u is None:
            return None
        return ContainerSample(
            cpu_total_s=u.cpu_time_s,
            cpu_user_s=u.cpu_time_s,
            cpus_limit=u.cpus_limit,
            mem_bytes=u.mem_bytes,
            mem_limit=u.mem_limit_bytes,
            mem_rss=u.mem_bytes,
        )

    def _docker(
        self, targets: list[Target], clock: Any
    ) -> dict[str, tuple[ContainerInfo, ContainerSample, float | None]]:
        """Docker stats take an engine round trip each: in parallel, bounded to 2 s; the
        engine stamps each reading (``read``), which the cores are computed over."""
        got: dict[str, tuple[float, ContainerSample]] = {}

        def one(t: Target) -> None:
            try:
                s = t.handle._container.stats(stream=False, one_shot=True)
                spec = getattr(t.handle, "spec", None)
                sample = from_docker_stats(s, getattr(spec, "cpus", None))
                got[t.info.container_id] = (clock.now(), sample)
            except Exception as exc:
                log.debug("docker stats of %s: %s", t.info.task_id, exc)

        threads = [threading.Thread(target=one, args=(t,), daemon=True) for t in targets]
        for th in threads:
            th.start()
        for th in threads:
            th.join(2.0)
        by_id = {t.info.container_id: t.info for t in targets}
        return {cid: self._with_usage(by_id[cid], s, at) for cid, (at, s) in list(got.items())}

    def answer(self, query: p.GetMetrics, agent_id: str, hostname: str) -> Any:
        extra = {
            "collect_cpu_seconds_total": self.cpu_seconds,
            "collect_passes_total": float(self.passes),
            "collect_skipped_total": float(self.skipped),
            "interval_seconds": self.interval,
            "ring_points": float(len(self.ring)),
        }
        with self._lock:
            return answer(query, self.ring, agent_id, hostname, extra)


def targets_of(tasks: Mapping[str, Any], handles: Mapping[str, Any]) -> list[Target]:
    """The agent's running tasks (``AgentActor.tasks``: framework id and TaskInfo) joined
    with the runner's handles."""
    out = []
    for tid, h in list(handles.items()):
        if getattr(h, "done", False):
            continue
        t = tasks.get(tid)
        info = getattr(t, "info", None)
        out.append(
            Target(
                ContainerInfo(
                    container_id=tid,
                    task_id=tid,
                    task_name=str(getattr(info, "name", "") or ""),
                    framework_id=str(getattr(t, "framework_id", "") or ""),
                    executor_id=tid,
                    labels=tuple(sorted((getattr(info, "labels", None) or {}).items())),
                ),
                h,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class MetricsTick:
    """The agent actor's timer: take a sample (every ``metrics_interval``)."""


def handle(actor: Any, message: Any, collector: MetricsCollector) -> Any:
    """The agent actor's one dispatch branch (``MetricsTick`` or ``GetMetrics``).

    A runner with no containers (``SimulatedRunner``: no ``handles``) is sampled only when
    asked, not on every tick: a process hosting 1,000 simulated agents (the scale benches)
    keeps no 1,000 rings of the same host."""
    handles = getattr(actor.runner, "handles", None)
    if isinstance(message, MetricsTick):
        if handles is not None:
            collector.tick(targets_of(actor.tasks, handles), actor.clock)
        return None
    if handles is None:
        collector.tick([], actor.clock)
    return collector.answer(message, actor.agent_id or "", actor.hostname)
