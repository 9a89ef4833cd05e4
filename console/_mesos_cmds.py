"""The console's verbs for Mesos frameworks (issue 22): ``service list|shutdown``, as
``dcos service`` and ``dcos service shutdown``.

Every framework is listed, whichever API it uses (pydcos' actor driver, like Marathon
and Metronome, or Mesos' v1 HTTP API, like a pymesos scheduler): they are one kind of
thing to the master. ``shutdown`` is the operator API's TEARDOWN (``POST
/mesos/api/v1``): the master removes the framework and kills its tasks.
"""

from __future__ import annotations

from typing import Any

from console._client import ClientError, ClusterClient
from console._output import Out, fmt_num, scalar

COLUMNS = ("NAME", "HOST", "ACTIVE", "TASKS", "CPU", "MEM", "DISK", "ID")


def service_rows(frameworks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """``dcos service``'s columns: what each framework's tasks use now."""
    rows = []
    for f in sorted(frameworks, key=lambda f: (str(f.get("name")), str(f.get("id")))):
        used = f.get("used_resources") or {}
        rows.append(
            (
                f.get("name", ""),
                f.get("hostname", ""),
                "True" if f.get("active") else "False",
                len(f.get("tasks") or []),
                fmt_num(scalar(used, "cpus")),
                fmt_num(scalar(used, "mem")),
                fmt_num(scalar(used, "disk")),
                f.get("id", ""),
            )
        )
    return rows


def selected(doc: dict[str, Any], inactive: bool, completed: bool) -> list[dict[str, Any]]:
    """Active frameworks; disconnected ones with ``inactive``; removed ones the master
    still remembers with ``completed`` (as ``dcos service --inactive --completed``)."""
    out = [f for f in doc.get("frameworks") or [] if inactive or f.get("active")]
    if completed:
        out += list(doc.get("completed_frameworks") or [])
    return out


def service_list(c: ClusterClient, out: Out, args: Any) -> int:
    doc = c.get("/mesos/master/frameworks")
    frameworks = selected(doc, args.inactive, args.completed)
    if out.as_json:
        out.json(frameworks)
        return 0
    out.table(COLUMNS, service_rows(frameworks), "Services")
    return 0


def service_shutdown(c: ClusterClient, out: Out, args: Any) -> int:
    fid = str(args.id).strip()
    if not fid:
        raise ClientError("service shutdown: ID must be a framework id (see 'pydcos service list')")
    call = {"type": "TEARDOWN", "teardown": {"framework_id": {"value": fid}}}
    c.request("POST", "/mesos/api/v1", body=call, what=f"shutdown of framework {fid}", ok=(200,))
    out.result({"framework_id": fid, "shutdown": True}, f"Framework {fid} was shut down")
    return 0


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    """``service list`` and ``service shutdown`` (the ``service`` group is shared with
    ``service log``: whoever comes first creates it, in ``groups["service"]``)."""
    leaf, group = groups["leaf"], groups["group"]
    if "service" not in groups:
        groups["service"] = group(sub, "service", "DC/OS services (Marathon, Metronome...)")
    ls = leaf(
        groups["service"], "list", "the cluster's frameworks, as 'dcos service'", service_list
    )
    ls.add_argument("--inactive", action="store_true", help="also disconnected frameworks")
    ls.add_argument("--completed", action="store_true", help="also removed frameworks")
    sd = leaf(
        groups["service"], "shutdown", "remove a framework and kill its tasks", service_shutdown
    )
    sd.add_argument("id", metavar="ID", help="the framework id (see 'pydcos service list')")
