"""The dcos-shaped verbs: ``node``, ``task``, ``marathon``, ``job``, ``actor``.

Each takes parsed arguments and a ``ClusterClient`` and returns an exit status. They
speak the public HTTP shapes (Mesos ``/mesos/master/*``, Marathon ``/marathon/v2/*``,
Metronome ``/metronome/v1/*``) to the leader's gateway; ``actor`` verbs use the
transport (``runtime.connect``).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from actors.task_states import TERMINAL_STATES
from console._client import ApiError, ClientError, ClusterClient, app_path
from console._net_cmds import app_networking, networking_lines
from console._output import Out, fmt_num, scalar
from console._waiting import explain, queue_entry
from console._waiting import render as render_waiting


class VerbError(ClientError):
    """Bad input or a missing object: one line, exit 1."""


def read_json_file(name: str, what: str) -> Any:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text()
    except OSError as exc:
        raise VerbError(f"{what} file {name}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise VerbError(f"{what} file {name}: invalid JSON: {exc}") from None


def _service(c: ClusterClient, method: str, path: str, name: str, **kw: Any) -> Any:
    """A Marathon/Metronome call; a 404 without its route says the service is absent."""
    try:
        return c.request(method, path, **kw)
    except ApiError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        if exc.status == 404 and body.get("message") in (None, "Not Found"):
            raise VerbError(
                f"{name} is not running on this cluster (masters start it with '--services {name}')"
            ) from None
        raise


def marathon(c: ClusterClient, method: str, path: str, **kw: Any) -> Any:
    return _service(c, method, "/marathon" + path, "marathon", **kw)


def metronome(c: ClusterClient, method: str, path: str, **kw: Any) -> Any:
    return _service(c, method, "/metronome" + path, "metronome", **kw)


# ------------------------------------------------------------------------------ nodes


def reserved_text(reserved: dict[str, Any]) -> str:
    """``reserved_resources`` (role -> resources) as ``web(cpus:1,mem:128)``; ``-``."""
    parts = []
    for role, res in sorted(reserved.items()):
        amounts = [
            f"{n}:{fmt_num(scalar(res, n))}"
            for n in ("cpus", "mem", "disk", "gpus")
            if scalar(res, n)
        ]
        parts.append(f"{role}({','.join(amounts)})")
    return " ".join(parts) or "-"


def node_list(c: ClusterClient, out: Out) -> int:
    slaves = c.get("/mesos/master/slaves").get("slaves", [])
    if out.as_json:
        out.json(slaves)
        return 0

    def usage(a: dict[str, Any], r: str) -> str:
        used, total = scalar(a.get("used_resources"), r), scalar(a.get("resources"), r)
        return f"{fmt_num(used)}/{fmt_num(total)}"

    rows = [
        (
            a.get("hostname"),
            a.get("id"),
            "active" if a.get("active") else ("unreachable" if not a.get("reachable") else "-"),
            usage(a, "cpus"),
            usage(a, "mem"),
            usage(a, "disk"),
            a.get("task_count", ""),
            reserved_text(a.get("reserved_resources") or {}),
            ";".join(f"{k}:{v}" for k, v in sorted((a.get("attributes") or {}).items())),
        )
        for a in sorted(slaves, key=lambda a: str(a.get("hostname")))
    ]
    out.table(
        ("HOSTNAME", "ID", "STATE", "CPUS", "MEM", "DISK", "TASKS", "RESERVED", "ATTRIBUTES"),
        rows,
        "Nodes",
    )
    return 0


# ------------------------------------------------------------------------------ tasks


def all_tasks(c: ClusterClient) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = c.get("/mesos/master/tasks", limit=1000, offset=offset).get("tasks", [])
        tasks.extend(page)
        if len(page) < 1000:
            return tasks
        offset += 1000


def task_list(c: ClusterClient, out: Out, completed: bool = False) -> int:
    tasks = all_tasks(c)
    if not completed:
        tasks = [t for t in tasks if t.get("state") not in TERMINAL_STATES]
    if out.as_json:
        out.json(tasks)
        return 0
    hosts = {a["id"]: a.get("hostname", "") for a in c.get("/mesos/master/slaves")["slaves"]}
    fws = {
        f["id"]: f.get("name", "") for f in c.get("/mesos/master/frameworks").get("frameworks", [])
    }
    rows = [
        (
            t.get("name"),
            hosts.get(t.get("slave_id", ""), t.get("slave_id")),
            fws.get(t.get("framework_id", ""), t.get("framework_id")),
            t.get("state"),
            t.get("id"),
        )
        for t in sorted(tasks, key=lambda t: str(t.get("id")))
    ]
    out.table(("NAME", "HOST", "FRAMEWORK", "STATE", "ID"), rows, "Tasks")
    return 0


# ------------------------------------------------------------------------------ marathon


def _props(items: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            raise VerbError(f"{item!r} is not a property of the form name=value (instances=3)")
        try:
            body[key] = json.loads(raw)
        except ValueError:
            body[key] = raw
    return body


def _deployment_line(doc: Any, what: str) -> str:
    dep = ""
    if isinstance(doc, dict):
        deps = doc.get("deployments") or []
        dep = doc.get("deploymentId") or (deps[0].get("id") if deps else "") or ""
    return f"{what}" + (f" (deployment {dep})" if dep else "")


def app_add(c: ClusterClient, out: Out, source: str) -> int:
    app = read_json_file(source, "app")
    doc = marathon(c, "POST", "/v2/apps", body=app, what="app add")
    app_id = doc.get("id", app.get("id") if isinstance(app, dict) else "?")
    out.result(doc, _deployment_line(doc, f"created app {app_id}"))
    return 0


def app_list(c: ClusterClient, out: Out) -> int:
    apps = marathon(c, "GET", "/v2/apps", query={"embed": "apps.counts"}).get("apps", [])
    if out.as_json:
        out.json(apps)
        return 0
    rows = []
    for a in sorted(apps, key=lambda a: str(a.get("id"))):
        container = (a.get("container") or {}).get("type", "MESOS")
        deps = a.get("deployments") or []
        cmd = a.get("cmd") or ((a.get("container") or {}).get("docker") or {}).get("image", "")
        healthy = a.get("tasksHealthy", 0) if a.get("healthChecks") else "-"
        rows.append(
            (
                a.get("id"),
                fmt_num(float(a.get("mem", 0))),
                fmt_num(float(a.get("cpus", 0))),
                f"{a.get('tasksRunning', 0)}/{a.get('instances', 0)}",
                a.get("tasksStaged", 0),
                healthy,
                ",".join(d.get("id", "")[:8] for d in deps) or "-",
                container,
                str(cmd)[:40],
            )
        )
    out.table(
        ("ID", "MEM", "CPUS", "TASKS", "STAGED", "HEALTHY", "DEPLOYMENT", "CONTAINER", "CMD"),
        rows,
        "Apps",
    )
    return 0


def app_show(c: ClusterClient, out: Out, app_id: str) -> int:
    """The app's definition, and why its instances wait when some do (``--json``: the app
    with ``"waiting"``: ``console._waiting.explain``'s document, or null)."""
    doc = marathon(c, "GET", app_path(app_id).removeprefix("/marathon"), what=f"app {app_id}")
    app = doc.get("app", doc)
    waiting = explain_waiting(c, str(app.get("id", app_id)))
    names = app_networking(c, app)
    volumes = app_volumes(c, app)
    if out.as_json:
        out.json({**app, "waiting": waiting, "networking": names, "volumes": volumes})
        return 0
    out.json(app)
    for line in networking_lines(names):
        out.line(line)
    for line in volume_lines(volumes):
        out.line(line)
    if waiting is not None:
        shown = render_waiting(waiting)
        for line in shown.lines:
            out.line(line)
        out.table(shown.columns, shown.rows, "Agents")
    return 0


def app_volumes(c: ClusterClient, app: dict[str, Any]) -> list[dict[str, Any]]:
    """The app's volumes: host paths as defined; each persistent volume with the agents
    and persistence ids its tasks hold (Marathon's ``localVolumes``)."""
    container = app.get("container") or {}
    defined = [v for v in container.get("volumes") or [] if isinstance(v, dict)]
    if not defined:
        return []
    held: dict[str, list[dict[str, str]]] = {}
    if any("persistent" in v for v in defined):
        with contextlib.suppress(ClientError):
            tasks = marathon(c, "GET", f"/v2/apps/{str(app.get('id', '')).strip('/')}/tasks")
            for t in tasks.get("tasks", []):
                for lv in t.get("localVolumes") or []:
                    held.setdefault(lv.get("containerPath", ""), []).append(
                        {
                            "agent": t.get("slaveId", ""),
                            "persistenceId": lv.get("persistenceId", ""),
                        }
                    )
    out = []
    for v in defined:
        row = {"containerPath": v.get("containerPath"), "mode": v.get("mode", "RW")}
        if "persistent" in v:
            p = v["persistent"] or {}
            row.update(persistent=True, sizeMiB=p.get("size"), type=p.get("type", "root"))
            row["held"] = held.get(str(v.get("containerPath")), [])
        else:
            row.update(persistent=False, hostPath=v.get("hostPath"))
        out.append(row)
    return out


def volume_lines(volumes: list[dict[str, Any]]) -> list[str]:
    """One line per volume (and per agent holding a persistent one)."""
    lines = []
    for v in volumes:
        if not v.get("persistent"):
            lines.append(f"volume: {v['hostPath']} -> {v['containerPath']} ({v['mode']})")
            continue
        head = f"volume: {v['containerPath']} persistent {v['sizeMiB']} MiB ({v['mode']})"
        if not v["held"]:
            lines.append(f"{head}, not created yet")
        for h in v["held"]:
            lines.append(f"{head} on agent {h['agent']}: {h['persistenceId']}")
    return lines


def explain_waiting(c: ClusterClient, app_id: str) -> dict[str, Any] | None:
    """Why ``app_id``'s instances wait (see ``console._waiting``), or None when none does.

    Marathon's queue says which offers did not fit; the master's last allocation cycle,
    asked over the transport, says which agents offered Marathon nothing and why. When the
    master cannot be asked (no transport keys, an older master), Marathon's side is shown
    with the reason.
    """
    try:
        queue = marathon(c, "GET", "/v2/queue").get("queue", [])
    except ClientError:
        return None
    if queue_entry(queue, app_id) is None:
        return None
    agents: list[Any] = []
    with contextlib.suppress(ClientError):  # Marathon's offers still name the agents
        agents = c.get("/mesos/master/slaves").get("slaves", [])
    framework_id: str | None = None
    with contextlib.suppress(ClientError):
        framework_id = marathon(c, "GET", "/v2/info").get("frameworkId") or None
    allocation: dict[str, Any] | None = None
    error: str | None = None
    try:
        allocation = master_allocation(c)
    except Exception as exc:  # the transport's errors, a refused query: shown, not fatal
        error = str(exc) or type(exc).__name__
    return explain(app_id, queue, agents, framework_id, allocation, error)


def master_allocation(c: ClusterClient) -> dict[str, Any]:
    """The leading master's ``GetState("allocation")`` document, whole: the offers other
    frameworks got tell why Marathon lost an agent on fair share."""
    from actors.protocol import MASTER_ACTOR, GetState

    leader = c.leader()
    query = GetState("allocation")
    doc = c.cluster().actor(f"{leader.address}/{MASTER_ACTOR}").ask(query, timeout=5.0)
    if not isinstance(doc, dict):
        raise VerbError(f"the master's allocation document is not an object: {doc!r:.80}")
    return doc


def app_update(c: ClusterClient, out: Out, app_id: str, changes: list[str], force: bool) -> int:
    path = app_path(app_id).removeprefix("/marathon")
    query: dict[str, Any] = {"force": "true"} if force else {}
    if len(changes) == 1 and "=" not in changes[0]:
        body = read_json_file(changes[0], "app")
    elif changes:
        body = _props(changes)
        query["partialUpdate"] = "true"
        marathon(c, "GET", path, what=f"app {app_id}")  # 404 -> "App '/x' does not exist"
    else:
        raise VerbError("app update: give name=value properties (instances=3) or an app file")
    doc = marathon(c, "PUT", path, body=body, query=query, what=f"app update {app_id}")
    out.result(doc, _deployment_line(doc, f"updated app {app_id}"))
    return 0


def app_restart(c: ClusterClient, out: Out, app_id: str, force: bool) -> int:
    path = app_path(app_id).removeprefix("/marathon") + "/restart"
    query = {"force": "true"} if force else None
    doc = marathon(c, "POST", path, body={}, query=query, what=f"app restart {app_id}")
    out.result(doc, _deployment_line(doc, f"restarting app {app_id}"))
    return 0


def app_remove(c: ClusterClient, out: Out, app_id: str, force: bool) -> int:
    path = app_path(app_id).removeprefix("/marathon")
    query = {"force": "true"} if force else None
    doc = marathon(c, "DELETE", path, query=query, what=f"app remove {app_id}")
    out.result(doc, _deployment_line(doc, f"removing app {app_id}"))
    return 0


def _action_text(a: Any) -> str:
    """``RestartApplication /web``, plus the instances its readiness checks still wait
    for (Marathon's ``readinessCheckResults``), e.g. ``(1 waiting for readiness: 503)``."""
    text = f"{a.get('action')} {a.get('app') or a.get('pod', '')}"
    results = [r for r in a.get("readinessCheckResults") or [] if isinstance(r, dict)]
    waiting = [r for r in results if not r.get("ready")]
    if waiting:
        statuses = sorted({str((r.get("lastResponse") or {}).get("status", "")) for r in waiting})
        shown = ", ".join(s for s in statuses if s)
        text += f" ({len(waiting)} waiting for readiness" + (f": {shown})" if shown else ")")
    return text


def deployment_list(c: ClusterClient, out: Out) -> int:
    deps = marathon(c, "GET", "/v2/deployments")
    if out.as_json:
        out.json(deps)
        return 0
    rows = []
    for d in deps:
        actions = [_action_text(a) for a in d.get("currentActions") or []]
        rows.append(
            (
                d.get("id"),
                ",".join(d.get("affectedApps") or []),
                "; ".join(actions),
                f"{d.get('currentStep', 0)}/{d.get('totalSteps', 0)}",
                d.get("version", ""),
            )
        )
    out.table(("ID", "APPS", "ACTIONS", "STEP", "VERSION"), rows, "Deployments")
    return 0


def deployment_watch(c: ClusterClient, out: Out, dep_id: str | None, timeout: float) -> int:
    if dep_id is None:
        return _watch_all(c, out, timeout)
    deadline = time.monotonic() + timeout
    seen = False
    last = ""
    while True:
        deps = {d.get("id"): d for d in marathon(c, "GET", "/v2/deployments")}
        d = deps.get(dep_id)
        if d is None:
            if not seen:
                out.result({"id": dep_id, "done": True}, f"deployment {dep_id} is not running")
            else:
                out.result({"id": dep_id, "done": True}, f"deployment {dep_id} finished")
            return 0
        seen = True
        now = f"step {d.get('currentStep', 0)}/{d.get('totalSteps', 0)}: " + ", ".join(
            _action_text(a) for a in d.get("currentActions") or []
        )
        if now != last and not out.as_json:
            out.line(f"{dep_id} {now}")
            last = now
        if time.monotonic() > deadline:
            raise VerbError(f"deployment {dep_id} still running after {timeout:g} s")
        time.sleep(0.5)


def _watch_all(c: ClusterClient, out: Out, timeout: float) -> int:
    """Every deployment, until none is left: what to run after ``app add`` or ``update``.
    The last line is the same whether something was running or not, so scripts (and the
    README's tour) can rely on it."""
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    while True:
        deps = marathon(c, "GET", "/v2/deployments")
        if not deps:
            out.result({"deployments": [], "done": True}, "no deployment in progress")
            return 0
        for d in deps:
            dep_id = str(d.get("id"))
            now = f"step {d.get('currentStep', 0)}/{d.get('totalSteps', 0)}: " + ", ".join(
                _action_text(a) for a in d.get("currentActions") or []
            )
            if last.get(dep_id) != now and not out.as_json:
                out.line(f"{dep_id} {now}")
                last[dep_id] = now
        if time.monotonic() > deadline:
            ids = ", ".join(str(d.get("id")) for d in deps)
            raise VerbError(f"deployment(s) {ids} still running after {timeout:g} s")
        time.sleep(0.5)


def deployment_rollback(c: ClusterClient, out: Out, dep_id: str, force: bool) -> int:
    path = "/v2/deployments/" + quote(dep_id, safe="")
    query = {"force": "true"} if force else None
    try:
        doc = marathon(c, "DELETE", path, query=query, what=f"deployment {dep_id}")
    except ApiError as exc:
        if exc.status == 404:
            raise VerbError(f"no deployment with id {dep_id!r}") from None
        raise
    if force:
        out.result(doc, f"deployment {dep_id} cancelled")
    else:
        new = doc.get("deploymentId", "") if isinstance(doc, dict) else ""
        out.result(doc, f"rolling back {dep_id}" + (f": deployment {new}" if new else ""))
    return 0


def marathon_task_list(c: ClusterClient, out: Out, app_id: str | None) -> int:
    tasks = marathon(c, "GET", "/v2/tasks").get("tasks", [])
    if app_id:
        want = "/" + app_id.strip("/")
        tasks = [t for t in tasks if t.get("appId") == want]
    if out.as_json:
        out.json(tasks)
        return 0
    rows = []
    for t in sorted(tasks, key=lambda t: (str(t.get("appId")), str(t.get("id")))):
        hc = t.get("healthCheckResults") or []
        healthy = all(h.get("alive") for h in hc) if hc else "-"
        rows.append(
            (
                t.get("appId"),
                healthy,
                t.get("state", ""),
                t.get("startedAt") or "",
                t.get("host"),
                ",".join(str(p) for p in t.get("ports") or []),
                t.get("id"),
            )
        )
    out.table(("APP", "HEALTHY", "STATE", "STARTED", "HOST", "PORTS", "ID"), rows, "Tasks")
    return 0


# ------------------------------------------------------------------------------ jobs


def _job_path(job_id: str, rest: str = "") -> str:
    return "/v1/jobs/" + quote(job_id, safe="") + rest


def _job_get(c: ClusterClient, job_id: str, embed: list[str]) -> Any:
    try:
        return metronome(c, "GET", _job_path(job_id), query={"embed": embed}, what=f"job {job_id}")
    except ApiError as exc:
        if exc.status == 404 and "does not exist" in str(exc):
            raise VerbError(f"no job with id {job_id!r} (see 'pydcos job list')") from None
        raise


def job_add(c: ClusterClient, out: Out, source: str) -> int:
    job = read_json_file(source, "job")
    doc = metronome(c, "POST", "/v1/jobs", body=job, what="job add")
    out.result(doc, f"created job {doc.get('id', '?')}")
    return 0


def job_list(c: ClusterClient, out: Out) -> int:
    jobs = metronome(
        c, "GET", "/v1/jobs", query={"embed": ["activeRuns", "schedules", "historySummary"]}
    )
    if out.as_json:
        out.json(jobs)
        return 0
    rows = []
    for j in sorted(jobs, key=lambda j: str(j.get("id"))):
        schedules = j.get("schedules") or []
        summary = j.get("historySummary") or {}
        active = j.get("activeRuns") or []
        rows.append(
            (
                j.get("id"),
                "running" if active else ("scheduled" if schedules else "idle"),
                ",".join(s.get("cron", "") for s in schedules) or "-",
                ",".join(s.get("nextRunAt", "") for s in schedules if s.get("enabled", True))
                or "-",
                summary.get("successCount", 0),
                summary.get("failureCount", 0),
                summary.get("lastSuccessAt") or "-",
            )
        )
    out.table(
        ("ID", "STATUS", "SCHEDULE", "NEXT RUN", "OK", "FAILED", "LAST SUCCESS"), rows, "Jobs"
    )
    return 0


def job_show(c: ClusterClient, out: Out, job_id: str) -> int:
    out.json(_job_get(c, job_id, ["activeRuns", "schedules", "historySummary"]))
    return 0


def job_run(c: ClusterClient, out: Out, job_id: str) -> int:
    _job_get(c, job_id, [])
    doc = metronome(c, "POST", _job_path(job_id, "/runs"), body={}, what=f"job run {job_id}")
    out.result(doc, f"started run {doc.get('id', '?')} of job {job_id}")
    return 0


def job_history(c: ClusterClient, out: Out, job_id: str) -> int:
    doc = _job_get(c, job_id, ["history", "activeRuns"])
    history = doc.get("history") or {}
    runs: list[tuple[str, str, str, str]] = []
    for r in doc.get("activeRuns") or []:
        runs.append((r.get("id", ""), r.get("status", "ACTIVE"), r.get("createdAt", ""), ""))
    for status, key in (("SUCCESS", "successfulFinishedRuns"), ("FAILED", "failedFinishedRuns")):
        for r in history.get(key) or []:
            runs.append((r.get("id", ""), status, r.get("createdAt", ""), r.get("finishedAt", "")))
    if out.as_json:
        out.json({"id": job_id, "activeRuns": doc.get("activeRuns") or [], "history": history})
        return 0
    runs.sort(key=lambda r: r[2], reverse=True)
    out.line(
        f"job {job_id}: {history.get('successCount', 0)} succeeded, "
        f"{history.get('failureCount', 0)} failed"
    )
    out.table(("RUN", "STATUS", "STARTED", "FINISHED"), runs, "Runs")
    return 0


def job_remove(c: ClusterClient, out: Out, job_id: str, stop_runs: bool) -> int:
    _job_get(c, job_id, [])
    query = {"stopCurrentJobRuns": "true"} if stop_runs else None
    doc = metronome(c, "DELETE", _job_path(job_id), query=query, what=f"job remove {job_id}")
    out.result(doc or {"id": job_id, "removed": True}, f"removed job {job_id}")
    return 0


def schedule_add(c: ClusterClient, out: Out, job_id: str, source: str) -> int:
    _job_get(c, job_id, [])
    sched = read_json_file(source, "schedule")
    doc = metronome(
        c, "POST", _job_path(job_id, "/schedules"), body=sched, what=f"schedule of {job_id}"
    )
    out.result(doc, f"added schedule {doc.get('id', '?')} to job {job_id}")
    return 0


def schedule_show(c: ClusterClient, out: Out, job_id: str) -> int:
    _job_get(c, job_id, [])
    scheds = metronome(c, "GET", _job_path(job_id, "/schedules"))
    if out.as_json:
        out.json(scheds)
        return 0
    rows = [
        (
            s.get("id"),
            s.get("cron"),
            s.get("timezone", "UTC"),
            s.get("enabled", True),
            s.get("concurrencyPolicy", ""),
            s.get("nextRunAt", ""),
        )
        for s in scheds
    ]
    out.table(("ID", "CRON", "TIMEZONE", "ENABLED", "CONCURRENCY", "NEXT RUN"), rows, "Schedules")
    return 0


def schedule_remove(c: ClusterClient, out: Out, job_id: str, sched_id: str) -> int:
    _job_get(c, job_id, [])
    path = _job_path(job_id, "/schedules/" + quote(sched_id, safe=""))
    try:
        metronome(c, "DELETE", path, what=f"schedule {sched_id}")
    except ApiError as exc:
        if exc.status == 404:
            raise VerbError(f"job {job_id} has no schedule {sched_id!r}") from None
        raise
    out.result({"job": job_id, "schedule": sched_id, "removed": True}, f"removed {sched_id}")
    return 0


# ------------------------------------------------------------------------------ actors


def _plain(v: Any) -> Any:
    """A reply as JSON-able data (records become dicts named by their type)."""
    if is_dataclass(v) and not isinstance(v, type):
        return {"@type": type(v).__name__, **{k: _plain(x) for k, x in asdict(v).items()}}
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set | frozenset):
        return [_plain(x) for x in v]
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return v


def _message(text: str) -> Any:
    """Plain JSON; an object with ``"@type"`` names a registered message record."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise VerbError(f"message {text[:60]!r} is not JSON: {exc}") from None
    if isinstance(value, dict) and "@type" in value:
        import actors.protocol  # noqa: F401  (registers GetState and the other messages)
        from transport import codec

        name = str(value.pop("@type"))
        cls = codec.type_named(name)
        if cls is None:  # a short name: GetState for actors.protocol.GetState
            found = [n for n in codec.names() if n.rsplit(".", 1)[-1] == name]
            cls = codec.type_named(found[0]) if len(found) == 1 else None
        if cls is None:
            raise VerbError(f"@type {name!r} is not a registered message type")
        try:
            return cls(**value)
        except TypeError as exc:
            raise VerbError(f"@type {name}: {exc}") from None
    return value


def _ref(c: ClusterClient, name: str) -> tuple[Any, str]:
    cluster = c.cluster()
    if "://" in name:
        return cluster.actor(name), name
    leader = c.leader()
    address = f"{leader.address}/{name}"
    return cluster.actor(address), address


def actor_ask(c: ClusterClient, out: Out, name: str, text: str, timeout: float) -> int:
    from runtime import ActorNotFound, AskTimeout, RuntimeSystemError

    message = _message(text)
    ref, address = _ref(c, name)
    try:
        reply = ref.ask(message, timeout=timeout)
    except ActorNotFound:
        raise VerbError(f"no actor named {name!r} at {address}") from None
    except AskTimeout:
        raise VerbError(f"{name} did not answer within {timeout:g} s ({address})") from None
    except RuntimeSystemError as exc:
        raise VerbError(f"ask {name}: {exc}") from None
    except Exception as exc:
        raise VerbError(f"{name} failed the ask: {type(exc).__name__}: {exc}") from None
    out.json(_plain(reply))
    return 0


def actor_tell(c: ClusterClient, out: Out, name: str, text: str) -> int:
    message = _message(text)
    ref, address = _ref(c, name)
    ref.tell(message)
    time.sleep(0.2)  # let the I/O thread put it on the wire before we close
    out.result({"sent": True, "to": address}, f"sent to {address} (a tell has no reply)")
    return 0


def actor_list(c: ClusterClient, out: Out) -> int:
    from actors.protocol import AGENT_ACTOR, MASTER_ACTOR, GetState

    leader = c.leader()
    master = f"{leader.address}/{MASTER_ACTOR}"
    state = c.cluster().actor(master).ask(GetState("state"), timeout=5.0)
    rows: list[dict[str, Any]] = [
        {
            "name": MASTER_ACTOR,
            "address": master,
            "node": leader.hostname,
            "kind": "leading master",
        }
    ]
    for a in state.get("slaves", []):
        hostport = str(a.get("pid", "")).partition("@")[2]
        rows.append(
            {
                "name": AGENT_ACTOR,
                "address": f"tcp://{hostport}/{AGENT_ACTOR}",
                "node": a.get("hostname", ""),
                "kind": "agent " + str(a.get("id", "")),
            }
        )
    for f in state.get("frameworks", []):
        hostport = str(f.get("pid", "")).partition("@")[2]
        rows.append(
            {
                "name": f.get("name", ""),
                "address": f"tcp://{hostport}" if hostport else "",
                "node": f.get("hostname", ""),
                "kind": "framework " + str(f.get("id", "")),
            }
        )
    if out.as_json:
        out.json(rows)
        return 0
    out.table(
        ("NAME", "ADDRESS", "NODE", "KIND"),
        [(r["name"], r["address"], r["node"], r["kind"]) for r in rows],
        "Actors",
    )
    return 0
