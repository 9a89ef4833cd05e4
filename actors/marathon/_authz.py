"""Marathon's fine-grained permissions (DC/OS semantics), pure.

DC/OS Marathon checks ``dcos:service:marathon:marathon:services:<app or group path>``
with the action of the request: reading an app needs ``read`` on its path, creating
``create``, changing (scale, restart, kill tasks) ``update``, removing ``delete``. A grant
on a group covers everything under it (``.../services:/team-a`` covers ``/team-a/web``:
the IAM matcher's resource hierarchy). List views (``/v2/apps``, ``/v2/groups``,
``/v2/tasks``, ``/v2/pods``, ``/v2/deployments``, ``/v2/queue``) show only what the caller
may read: the API filters the rendered document with a ``visible(path) -> bool``
predicate (``actors.gateway.reader``), so the renderers and their caches stay per-state,
not per-caller. The event stream and the leader are Marathon's ``admin`` resources.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SERVICES = "dcos:service:marathon:marathon:services:"
EVENTS = "dcos:service:marathon:marathon:admin:events"
LEADER = "dcos:service:marathon:marathon:admin:leader"
CONFIG = "dcos:service:marathon:marathon:admin:config"

Visible = Callable[[str], bool]


def service_rid(path: str) -> str:
    """App, pod or group id (``/team-a/web``) -> its resource id."""
    return SERVICES + ("/" + path.strip("/") if path.strip("/") else "/")


def _vis(item: Any, visible: Visible, key: str = "id") -> bool:
    return isinstance(item, dict) and isinstance(item.get(key), str) and visible(item[key])


def filter_apps(doc: Any, visible: Visible) -> Any:
    """``{"apps": [...]}`` -> only the readable apps."""
    if isinstance(doc, dict) and isinstance(doc.get("apps"), list):
        return {**doc, "apps": [a for a in doc["apps"] if _vis(a, visible)]}
    return doc


def filter_group(doc: Any, visible: Visible) -> Any:
    """A group tree -> the readable apps and pods; a subgroup stays when the caller may
    read it or anything in it (so ``/`` shows the way to ``/team-a``), else it is gone."""
    if not isinstance(doc, dict):
        return doc
    out = dict(doc)
    for key in ("apps", "pods"):
        if isinstance(doc.get(key), list):
            out[key] = [a for a in doc[key] if _vis(a, visible)]
    if isinstance(doc.get("groups"), list):
        kept = []
        for g in doc["groups"]:
            sub = filter_group(g, visible)
            if _vis(g, visible) or _has_content(sub):
                kept.append(sub)
        out["groups"] = kept
    return out


def _has_content(group: Any) -> bool:
    return isinstance(group, dict) and any(group.get(k) for k in ("apps", "pods", "groups"))


def filter_tasks(doc: Any, visible: Visible) -> Any:
    """``{"tasks": [...]}`` -> the tasks of readable apps (``appId``)."""
    if isinstance(doc, dict) and isinstance(doc.get("tasks"), list):
        return {**doc, "tasks": [t for t in doc["tasks"] if _vis(t, visible, "appId")]}
    return doc


def filter_deployments(doc: Any, visible: Visible) -> Any:
    """A deployments list -> those whose every affected app and pod is readable."""
    if not isinstance(doc, list):
        return doc
    out = []
    for d in doc:
        if not isinstance(d, dict):
            continue
        ids = [*d.get("affectedApps", []), *d.get("affectedPods", [])]
        if all(isinstance(i, str) and visible(i) for i in ids):
            out.append(d)
    return out


def filter_queue(doc: Any, visible: Visible) -> Any:
    """``{"queue": [...]}`` -> the readable apps' and pods' entries."""
    if not isinstance(doc, dict) or not isinstance(doc.get("queue"), list):
        return doc
    kept = []
    for item in doc["queue"]:
        if not isinstance(item, dict):
            continue
        spec = item.get("app") or item.get("pod") or {}
        if _vis(spec, visible):
            kept.append(item)
    return {**doc, "queue": kept}


def filter_pods(doc: Any, visible: Visible) -> Any:
    """``GET /v2/pods`` (a list) and ``/v2/pods/::status`` -> the readable pods."""
    if isinstance(doc, list):
        return [p for p in doc if _vis(p, visible) or _vis(p.get("spec"), visible)]
    return doc


LIST_FILTERS: dict[str, Callable[[Any, Visible], Any]] = {
    "list_apps": filter_apps,
    "get_group": filter_group,
    "list_tasks": filter_tasks,
    "deployments": filter_deployments,
    "queue": filter_queue,
    "list_pods": filter_pods,
    "all_pod_status": filter_pods,
}
"""Operation -> how its answer is narrowed to what the caller may read."""


def body_ids(body: Any) -> list[str]:
    """The app ids a ``POST /v2/apps`` (one app) or ``PUT /v2/apps`` (a list) body names;
    an id that is not a string is skipped (validation answers it, creating nothing)."""
    items = body if isinstance(body, list) else [body]
    return [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]


def group_ids(body: Any, path: str | None) -> list[str]:
    """The group paths a group PUT/POST touches: the path, else the body's ``id``
    (relative ids land under ``/``), else the root."""
    if path:
        return [path]
    if isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"].strip("/"):
        return ["/" + body["id"].strip("/")]
    return ["/"]
