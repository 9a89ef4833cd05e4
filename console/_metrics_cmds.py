"""``pydcos node metrics summary|details AGENT`` and ``pydcos task metrics
summary|details TASK`` (issue 21), as the dcos CLI's: a one-line summary (CPU, memory,
disk with their share) or every datapoint with its tags; ``--json`` prints the DC/OS
metrics document as the API gives it (``/system/v1/agent/{id}/metrics/v0/...``).

``console/_obs_cmds.py`` calls ``add_metrics_commands(groups)``.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from console._client import ClientError, ClusterClient
from console._output import Out

GiB = 1024**3
TERMINAL = frozenset(
    {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED"}
    | {"TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}
)


def metrics_path(agent_id: str, rest: str = "") -> str:
    return f"/system/v1/agent/{quote(agent_id, safe='')}/metrics/v0{rest}"


def values(doc: dict[str, Any], tag: tuple[str, str] | None = None) -> dict[str, float]:
    """``{datapoint name: value}`` (those with tag ``tag`` only, when given)."""
    out: dict[str, float] = {}
    for dp in doc.get("datapoints") or []:
        tags = dp.get("tags") or {}
        if tag is not None and tags.get(tag[0]) != tag[1]:
            continue
        if isinstance(dp.get("value"), int | float):
            out.setdefault(str(dp.get("name")), float(dp["value"]))
    return out


def _gib(n: float) -> str:
    return f"{n / GiB:.2f}GiB"


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.2f}%" if whole else "-"


def node_summary_row(doc: dict[str, Any]) -> dict[str, str]:
    """The dcos CLI's node summary: ``{"cpu": "0.75 (37.50%)", "mem": "2.00GiB (25.00%)",
    "disk": "1.65GiB (30.30%)"}`` (used cores, memory in use, ``/``'s used space)."""
    v = values(doc)
    cores = v.get("cpu.cores", 0.0)
    busy = cores * v.get("cpu.total", 0.0) / 100.0
    mem_total = v.get("memory.total", 0.0)
    mem_used = mem_total - v.get("memory.free", 0.0)
    disk = values(doc, ("path", "/"))
    d_total, d_used = (
        disk.get("filesystem.capacity.total", 0.0),
        disk.get("filesystem.capacity.used", 0.0),
    )
    return {
        "cpu": f"{busy:.2f} ({_pct(busy, cores)})",
        "mem": f"{_gib(mem_used)} ({_pct(mem_used, mem_total)})",
        "disk": f"{_gib(d_used)} ({_pct(d_used, d_total)})",
    }


def task_summary_row(doc: dict[str, Any]) -> dict[str, str]:
    """A container's summary: cores used lately of its limit, memory of its limit."""
    v = values(doc)
    usage, limit = v.get("cpus.usage"), v.get("cpus.limit")
    mem, mem_limit = v.get("mem.total", 0.0), v.get("mem.limit")
    cpu = "-" if usage is None else f"{usage:.2f}"
    if usage is not None and limit:
        cpu += f" ({_pct(usage, limit)})"
    mem_s = _gib(mem) if mem >= GiB else f"{mem / 1024**2:.1f}MiB"
    if mem_limit:
        mem_s += f" ({_pct(mem, mem_limit)})"
    return {"cpu": cpu, "mem": mem_s}


CONTAINER_TAGS = frozenset(
    {"container_id", "source", "executor_id", "executor_name", "framework_id"}
)
"""Tags every datapoint of one container has: the details table leaves them out."""


def details_rows(
    doc: dict[str, Any], hide: frozenset[str] = frozenset()
) -> list[tuple[str, str, str]]:
    """``(name, value, tags)`` rows: bytes as MiB/GiB, floats to 4 digits."""
    rows = []
    for dp in doc.get("datapoints") or []:
        value, unit = dp.get("value"), dp.get("unit", "")
        if unit == "bytes" and isinstance(value, int | float) and value >= 1024**2:
            shown = _gib(value) if value >= GiB else f"{value / 1024**2:.1f}MiB"
        elif isinstance(value, float):
            shown = f"{value:.4g}"
        else:
            shown = str(value)
        tags = ", ".join(
            f"{k}: {v}"
            for k, v in sorted((dp.get("tags") or {}).items())
            if v not in ("", None) and k not in hide
        )
        rows.append((str(dp.get("name")), shown, tags))
    return rows


def find_task(c: ClusterClient, task: str) -> dict[str, Any]:
    """The live task whose id is ``task``, else the one whose id or name contains it."""
    from console._verbs import all_tasks

    live = [t for t in all_tasks(c) if t.get("state") not in TERMINAL]
    exact = [t for t in live if t.get("id") == task]
    if exact:
        return exact[0]
    found = [t for t in live if task in str(t.get("id", "")) or task == t.get("name")]
    if not found:
        raise ClientError(f"task {task!r}: no running task has this id (or a part of it)")
    if len(found) > 1:
        ids = ", ".join(sorted(str(t.get("id")) for t in found)[:5])
        raise ClientError(f"task {task!r}: {len(found)} running tasks match ({ids}); name one")
    return found[0]


def node_metrics(c: ClusterClient, out: Out, agent_id: str, details: bool) -> int:
    doc = c.get(metrics_path(agent_id, "/node"))
    if out.as_json:
        out.json(doc)
        return 0
    if details:
        out.table(("NAME", "VALUE", "TAGS"), details_rows(doc), "Datapoints")
        return 0
    row = node_summary_row(doc)
    out.table(("CPU", "MEM", "DISK"), [(row["cpu"], row["mem"], row["disk"])])
    return 0


def task_metrics(c: ClusterClient, out: Out, task: str, details: bool) -> int:
    t = find_task(c, task)
    agent_id, task_id = str(t.get("slave_id", "")), str(t.get("id", ""))
    doc = c.get(metrics_path(agent_id, "/containers/" + quote(task_id, safe="")))
    if out.as_json:
        out.json(doc)
        return 0
    if details:
        out.table(("NAME", "VALUE", "TAGS"), details_rows(doc, CONTAINER_TAGS), "Datapoints")
        return 0
    row = task_summary_row(doc)
    out.table(("TASK", "CPU", "MEM"), [(task_id, row["cpu"], row["mem"])])
    return 0


def add_metrics_commands(groups: dict[str, Any]) -> None:
    """``node metrics ...`` and ``task metrics ...`` under the console's groups
    (``groups["leaf"]``/``["group"]``: console._commands' builders, passed in so that this
    module does not import it back)."""
    _leaf, _group = groups["leaf"], groups["group"]
    node = _group(groups["node"], "metrics", "an agent's CPU, memory, disk (DC/OS metrics)")
    task = _group(groups["task"], "metrics", "a task's CPU and memory (DC/OS metrics)")
    for name, details, hlp in (
        ("summary", False, "CPU and memory (a node: and disk) in one line"),
        ("details", True, "every datapoint with its tags"),
    ):
        p = _leaf(node, name, f"an agent's metrics: {hlp}", _node_verb(details))
        p.add_argument("agent_id", metavar="AGENT", help="agent id (pydcos node list)")
        p = _leaf(task, name, f"a task's metrics: {hlp}", _task_verb(details))
        p.add_argument("task", metavar="TASK", help="task id, or a unique part of it")


def _node_verb(details: bool) -> Any:
    def verb(c: ClusterClient, out: Out, args: argparse.Namespace) -> int:
        return node_metrics(c, out, args.agent_id, details)

    return verb


def _task_verb(details: bool) -> Any:
    def verb(c: ClusterClient, out: Out, args: argparse.Namespace) -> int:
        return task_metrics(c, out, args.task, details)

    return verb
