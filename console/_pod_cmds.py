"""``pydcos marathon pod add|list|show|update|remove``: Marathon pods (issue 19).

A pod is several containers launched together on one agent as one task group (shared
ephemeral volumes, host network, replaced as a whole). The verbs call Marathon's
``/v2/pods`` API through any master, as the DC/OS CLI's ``dcos marathon pod`` does.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from console._client import ClusterClient
from console._output import Out, fmt_num
from console._verbs import VerbError, marathon, read_json_file


def pod_path(pod_id: str) -> str:
    """``/v2/pods/<id>`` for a pod id given with or without its leading slash."""
    clean = "/".join(x for x in pod_id.strip().split("/") if x)
    if not clean:
        raise VerbError(f"ID: {pod_id!r} is not a pod id (like /web or /ops/audit)")
    return "/v2/pods/" + quote(clean, safe="/")


def _pod_json(doc: Any, what: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise VerbError(f"{what}: a pod must be a JSON object")
    return doc


def pod_add(c: ClusterClient, out: Out, source: str) -> int:
    pod = _pod_json(read_json_file(source, "pod"), "pod file")
    doc = marathon(c, "POST", "/v2/pods", body=pod, what="pod add")
    out.result(doc, f"created pod {doc.get('id', pod.get('id', '?'))}")
    return 0


def _counts(status: dict[str, Any]) -> tuple[int, int, int]:
    instances = status.get("instances") or []
    stable = sum(1 for i in instances if i.get("status") == "STABLE")
    wanted = int(((status.get("spec") or {}).get("scaling") or {}).get("instances", 0))
    return stable, len(instances), wanted


def pod_list(c: ClusterClient, out: Out) -> int:
    statuses = marathon(c, "GET", "/v2/pods/::status", what="pod list") or []
    if out.as_json:
        out.json(statuses)
        return 0
    rows = []
    for s in sorted(statuses, key=lambda s: str(s.get("id"))):
        spec = s.get("spec") or {}
        containers = spec.get("containers") or []
        cpus = sum(float((x.get("resources") or {}).get("cpus", 0)) for x in containers)
        mem = sum(float((x.get("resources") or {}).get("mem", 0)) for x in containers)
        stable, alive, wanted = _counts(s)
        rows.append(
            (
                s.get("id"),
                s.get("status"),
                f"{stable}/{wanted}",
                alive,
                ",".join(str(x.get("name")) for x in containers),
                fmt_num(cpus),
                fmt_num(mem),
            )
        )
    out.table(("ID", "STATUS", "STABLE", "INSTANCES", "CONTAINERS", "CPUS", "MEM"), rows, "Pods")
    return 0


def pod_show(c: ClusterClient, out: Out, pod_id: str) -> int:
    """The pod's status (``::status``): its spec, then one row per container of each
    instance (``--json``: Marathon's PodStatus as is)."""
    status = marathon(c, "GET", pod_path(pod_id) + "::status", what=f"pod {pod_id}")
    if out.as_json:
        out.json(status)
        return 0
    out.json(status.get("spec", {}))
    stable, alive, wanted = _counts(status)
    line = f"{status.get('id')}: {status.get('status')} ({stable} of {wanted} stable"
    out.line(line + (f", {alive} alive)" if alive != stable else ")"))
    if status.get("message"):
        out.line(str(status["message"]))
    rows = []
    for inst in status.get("instances") or []:
        for ctr in inst.get("containers") or []:
            ports = ",".join(
                f"{e.get('name')}:{e.get('allocatedHostPort')}"
                + ("" if "healthy" not in e else (" ok" if e["healthy"] else " unhealthy"))
                for e in ctr.get("endpoints") or []
            )
            rows.append(
                (
                    inst.get("id"),
                    inst.get("status"),
                    inst.get("agentHostname"),
                    ctr.get("name"),
                    ctr.get("status"),
                    ports or "-",
                )
            )
    out.table(("INSTANCE", "STATUS", "HOST", "CONTAINER", "STATE", "ENDPOINTS"), rows, "Instances")
    return 0


def pod_update(c: ClusterClient, out: Out, pod_id: str, source: str, force: bool) -> int:
    pod = _pod_json(read_json_file(source, "pod"), "pod file")
    query = {"force": "true"} if force else None
    doc = marathon(c, "PUT", pod_path(pod_id), body=pod, query=query, what=f"pod update {pod_id}")
    out.result(doc, f"updated pod {doc.get('id', pod_id) if isinstance(doc, dict) else pod_id}")
    return 0


def pod_remove(c: ClusterClient, out: Out, pod_id: str, force: bool) -> int:
    query = {"force": "true"} if force else None
    doc = marathon(c, "DELETE", pod_path(pod_id), query=query, what=f"pod remove {pod_id}")
    out.result(doc or {"id": pod_id, "removing": True}, f"removing pod {pod_id}")
    return 0


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    """``pydcos marathon pod ...`` under the marathon group."""
    leaf, group = groups["leaf"], groups["group"]
    pod = group(groups["marathon"], "pod", "pods: containers launched together as one task group")
    a: argparse.ArgumentParser = leaf(
        pod,
        "add",
        "create a pod from a JSON file (- for stdin)",
        lambda c, o, a: pod_add(c, o, a.file),
    )
    a.add_argument("file", metavar="FILE")
    leaf(pod, "list", "pods with their status", lambda c, o, a: pod_list(c, o))
    a = leaf(pod, "show", "a pod's spec and instances", lambda c, o, a: pod_show(c, o, a.pod_id))
    a.add_argument("pod_id", metavar="ID")
    a = leaf(
        pod,
        "update",
        "replace a pod's definition with a FILE (a rolling upgrade)",
        lambda c, o, a: pod_update(c, o, a.pod_id, a.file, a.force),
    )
    a.add_argument("pod_id", metavar="ID")
    a.add_argument("file", metavar="FILE")
    a.add_argument("--force", action="store_true", help="override a running deployment")
    a = leaf(pod, "remove", "remove a pod", lambda c, o, a: pod_remove(c, o, a.pod_id, a.force))
    a.add_argument("pod_id", metavar="ID")
    a.add_argument("--force", action="store_true", help="override a running deployment")
