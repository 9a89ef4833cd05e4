"""SDK services' verbs (issue 28), as the dcos CLI's per-service subcommands
(``dcos hello-world plan status deploy``), under ``pydcos service``:

- ``pydcos service plan list|status|start|stop|continue|interrupt|force-complete|restart
  NAME [PLAN] [-p KEY=VAL] [--phase P] [--step S]``
- ``pydcos service pod list|info|restart|replace NAME [POD] [--force]``
- ``pydcos service endpoints NAME [ENDPOINT]``

Each talks to the service's scheduler through the master: ``/service/<NAME>/v1/...``
(the master proxies it to the scheduler's Marathon task, as Admin Router does).
"""

from __future__ import annotations

import re
from typing import Any

from console._client import ClientError, ClusterClient
from console._output import Out

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _base(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ClientError(
            f"service: NAME {name!r} is not a service name (lower-case letters, digits, '-')"
        )
    return f"/service/{name}/v1"


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    """``-p KEY=VAL`` (repeatable) -> the plan's parameters."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not _PARAM.match(key):
            raise ClientError(f"plan start: -p {pair!r} must be KEY=VALUE (KEY: an env name)")
        out[key] = value
    return out


def plan_lines(name: str, doc: dict[str, Any]) -> list[str]:
    """The dcos CLI's tree: plan, phases, steps with their statuses."""
    lines = [f"{name} ({doc.get('strategy')} strategy) ({doc.get('status')})"]
    phases = doc.get("phases") or []
    for i, ph in enumerate(phases):
        last_ph = i == len(phases) - 1
        lines.append(
            f"{'└─' if last_ph else '├─'} {ph.get('name')} ({ph.get('strategy')} strategy) "
            f"({ph.get('status')})"
        )
        steps = ph.get("steps") or []
        for j, st in enumerate(steps):
            bar = "   " if last_ph else "│  "
            branch = "└─" if j == len(steps) - 1 else "├─"
            lines.append(f"{bar}{branch} {st.get('name')} ({st.get('status')})")
    for err in doc.get("errors") or []:
        lines.append(f"error: {err}")
    return lines


def plan_list(c: ClusterClient, out: Out, args: Any) -> int:
    base = _base(args.name)
    names = c.request("GET", f"{base}/plans", what=f"service {args.name}")
    rows = []
    docs = {}
    for plan in names:
        doc = c.request("GET", f"{base}/plans/{plan}", what=f"plan {plan}")
        docs[plan] = doc
        steps = [s for ph in doc.get("phases") or [] for s in ph.get("steps") or []]
        done = sum(1 for s in steps if s.get("status") == "COMPLETE")
        rows.append((plan, doc.get("status"), doc.get("strategy"), f"{done}/{len(steps)}"))
    if out.as_json:
        out.json(docs)
        return 0
    out.table(("PLAN", "STATUS", "STRATEGY", "STEPS"), rows, "plans")
    return 0


def plan_status(c: ClusterClient, out: Out, args: Any) -> int:
    plan = args.plan or "deploy"
    doc = c.request("GET", f"{_base(args.name)}/plans/{plan}", what=f"plan {plan}")
    if out.as_json:
        out.json(doc)
        return 0
    from rich.markup import escape

    for line in plan_lines(plan, doc):
        out.line(escape(line))  # step names look like markup: "hello-0:[server]"
    return 0


def _plan_command(command: str, verb: str) -> Any:
    def run(c: ClusterClient, out: Out, args: Any) -> int:
        query = {k: v for k, v in (("phase", args.phase), ("step", args.step)) if v}
        body = parse_params(getattr(args, "param", None)) if command == "start" else None
        doc = c.request(
            "POST",
            f"{_base(args.name)}/plans/{args.plan}/{command}",
            body=body,
            query=query or None,
            what=f"plan {verb} {args.plan}",
        )
        out.result(doc, f"{doc.get('message', command)} ({args.name} plan {args.plan})")
        return 0

    return run


def pod_list(c: ClusterClient, out: Out, args: Any) -> int:
    doc = c.request("GET", f"{_base(args.name)}/pod/status", what=f"service {args.name} pods")
    if out.as_json:
        out.json(doc)
        return 0
    rows = []
    for pod in doc.get("pods") or []:
        for inst in pod.get("instances") or []:
            tasks = inst.get("tasks") or []
            states = ", ".join(f"{t.get('name')}={t.get('status')}" for t in tasks) or "-"
            rows.append((inst.get("name"), pod.get("name"), states))
    out.table(("POD", "TYPE", "TASKS"), rows, "pods")
    return 0


def pod_info(c: ClusterClient, out: Out, args: Any) -> int:
    doc = c.request("GET", f"{_base(args.name)}/pod/{args.pod}/info", what=f"pod {args.pod}")
    if out.as_json:
        out.json(doc)
        return 0
    rows = []
    for t in doc:
        info, status = t.get("info") or {}, t.get("status") or {}
        vols = ", ".join(f"{v.get('path')}:{v.get('size')}MB" for v in info.get("volumes") or [])
        ports = ", ".join(f"{k}={v}" for k, v in sorted((info.get("ports") or {}).items()))
        rows.append(
            (
                info.get("name"),
                status.get("state"),
                info.get("hostname"),
                ports or "-",
                vols or "-",
                info.get("taskId", {}).get("value"),
            )
        )
    out.table(("TASK", "STATE", "HOST", "PORTS", "VOLUMES", "ID"), rows, "tasks")
    return 0


def pod_restart(c: ClusterClient, out: Out, args: Any) -> int:
    doc = c.request(
        "POST", f"{_base(args.name)}/pod/{args.pod}/restart", what=f"pod restart {args.pod}"
    )
    out.result(doc, f"Restarting pod {args.pod} in place: {', '.join(doc.get('tasks') or [])}")
    return 0


def pod_replace(c: ClusterClient, out: Out, args: Any) -> int:
    query = {"force": "true"} if args.force else None
    doc = c.request(
        "POST",
        f"{_base(args.name)}/pod/{args.pod}/replace",
        query=query,
        what=f"pod replace {args.pod}",
    )
    out.result(
        doc,
        f"Replacing pod {args.pod} (new reservation, fresh volumes): "
        f"{', '.join(doc.get('tasks') or []) or 'no task was running'}",
    )
    return 0


def endpoints(c: ClusterClient, out: Out, args: Any) -> int:
    base = _base(args.name)
    if args.endpoint:
        doc = c.request(
            "GET", f"{base}/endpoints/{args.endpoint}", what=f"endpoint {args.endpoint}"
        )
        if out.as_json:
            out.json(doc)
            return 0
        for addr, dns in zip(doc.get("address") or [], doc.get("dns") or [], strict=False):
            out.line(f"{addr}  {dns}")
        return 0
    names = c.request("GET", f"{base}/endpoints", what=f"service {args.name} endpoints")
    if out.as_json:
        out.json(names)
        return 0
    rows = []
    for n in names:
        doc = c.request("GET", f"{base}/endpoints/{n}", what=f"endpoint {n}")
        rows.append((n, " ".join(doc.get("address") or []), " ".join(doc.get("dns") or [])))
    out.table(("ENDPOINT", "ADDRESS", "DNS"), rows, "endpoints")
    return 0


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    leaf, group = groups["leaf"], groups["group"]
    if "service" not in groups:
        groups["service"] = group(sub, "service", "DC/OS services (Marathon, Metronome...)")
    svc = groups["service"]
    plan = group(svc, "plan", "an SDK service's plans (deploy, update, recovery, custom)")
    pl = leaf(plan, "list", "the service's plans and their status", plan_list)
    pl.add_argument("name", metavar="NAME")
    ps = leaf(plan, "status", "a plan's phases and steps", plan_status)
    ps.add_argument("name", metavar="NAME")
    ps.add_argument("plan", metavar="PLAN", nargs="?", default="deploy")
    for command, verb, helptext in (
        ("start", "start", "start a plan (custom plans take -p KEY=VAL parameters)"),
        ("stop", "stop", "interrupt a plan and reset its progress"),
        ("continue", "continue", "continue an interrupted plan"),
        ("interrupt", "interrupt", "start no new step of a plan"),
        ("forceComplete", "force-complete", "mark a plan, phase or step complete"),
        ("restart", "restart", "set a plan, phase or step back to PENDING"),
    ):
        p = leaf(plan, verb, helptext, _plan_command(command, verb))
        p.add_argument("name", metavar="NAME")
        p.add_argument("plan", metavar="PLAN")
        p.add_argument("--phase", default=None, help="a phase (name or id)")
        p.add_argument("--step", default=None, help="a step (name or id)")
        if command == "start":
            p.add_argument(
                "-p", "--param", action="append", metavar="KEY=VAL", help="a plan parameter"
            )
    pod = group(svc, "pod", "an SDK service's pods (instances)")
    pli = leaf(pod, "list", "the service's pod instances and their tasks", pod_list)
    pli.add_argument("name", metavar="NAME")
    for verb, fn, helptext in (
        ("info", pod_info, "a pod's tasks: state, host, ports, volumes"),
        ("restart", pod_restart, "kill a pod's tasks: relaunched in place, same volumes"),
        ("replace", pod_replace, "move a pod to a new reservation with fresh volumes"),
    ):
        p = leaf(pod, verb, helptext, fn)
        p.add_argument("name", metavar="NAME")
        p.add_argument("pod", metavar="POD", help="e.g. hello-0")
        if verb == "replace":
            p.add_argument("--force", action="store_true", help="replace even a healthy pod")
    ep = leaf(svc, "endpoints", "an SDK service's endpoints (host:port, DNS names)", endpoints)
    ep.add_argument("name", metavar="NAME")
    ep.add_argument("endpoint", metavar="ENDPOINT", nargs="?", default=None)
