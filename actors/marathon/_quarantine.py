"""Quarantine: stored records a leader cannot use are kept, reported and left alone.

A record that fails validation when a leader loads its state (a poison app written by
an older release, a hand-edited znode, bytes that are not JSON) must never take the
leader down: every master that became leader would load it and die too. Instead it is
*quarantined*:

```
 ZooKeeper /marathon/docs/...  --load-->  validate each record
                                            ok  -> in memory, converged as usual
                                            bad -> Quarantine.entries (path, reason)
                                                   - logged by the leader
                                                   - GET /v2/quarantine, /metrics gauge
                                                   - skipped by the converge loop
                                                   - kept in ZooKeeper (QuarantineKeepingStore
                                                     writes it back around our own writes)
```

An app that keeps failing in the converge loop (``failures_to_quarantine`` times in a
row) is quarantined at run time the same way. The way out is an ordinary request:
``PUT``/``POST`` of a valid app with the same id replaces it, ``DELETE /v2/apps/<id>``
removes it. Pure functions only here; the actor holds one `Quarantine`.
"""

from __future__ import annotations

import copy
import logging
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actors._validation import reason_of
from actors.framework import LaunchBackoff
from actors.task_states import TaskState

from ._app import AppDefinition
from ._errors import MarathonError
from ._events import timestamp
from ._group import Group
from ._paths import ROOT, normalize_path
from ._pods import definition_from_json

log = logging.getLogger("actors.marathon")

_STATES = frozenset(s.value for s in TaskState)


class BadRecord(MarathonError):
    """A stored record is not usable; the message says why (field and value)."""


_PLAIN = frozenset({str, int, bool, type(None)})


def _all_finite(value: Any) -> bool:
    """True when ``value`` holds no NaN/Infinity: `non_finite`'s walk (same items, same
    branches) without building a pointer per item. A new leader checks every stored
    instance record (50,000 at 5k agents: 4.5% of its recovery CPU with the pointers)."""
    stack: list[Any] = [value]
    pop, push, plain = stack.pop, stack.extend, _PLAIN
    while stack:
        item = pop()
        if type(item) in plain:
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, Mapping):
            push(item.values())
        elif isinstance(item, list | tuple):
            push(item)
    return True


def non_finite(value: Any, where: str = "") -> str | None:
    """JSON pointer of the first NaN/Infinity in ``value`` (JSON ``NaN`` parses to one),
    or None. Iterative: a deeply nested record must not blow the stack either. The
    pointer is only built for a record that has one (`_all_finite` first)."""
    if _all_finite(value):
        return None
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path or "/"
        if isinstance(item, Mapping):
            stack.extend((v, f"{path}/{k}") for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{path}/{i}") for i, v in enumerate(item))
    return None


def check_app(doc: Any, base: str = ROOT) -> AppDefinition:
    """The app a stored app JSON describes, or `BadRecord`: everything the leader does
    with an app on load (parse, backoff, render) is tried here first."""
    if not isinstance(doc, Mapping):
        raise BadRecord(f"an app must be a JSON object, not {type(doc).__name__}")
    bad = non_finite(doc)
    if bad is not None:
        raise BadRecord(f"{bad}: not a finite number")
    try:
        app = definition_from_json(doc, base=base)  # an app's or a pod's
        LaunchBackoff.for_app(app)
        app.to_json()
    except Exception as exc:
        raise BadRecord(reason_of(exc)) from None
    return app


def check_group(doc: Any) -> Group:
    """A stored group (root, deployment original/target), or `BadRecord`."""
    if not isinstance(doc, Mapping):
        raise BadRecord(f"a group must be a JSON object, not {type(doc).__name__}")
    bad = non_finite(doc)
    if bad is not None:
        raise BadRecord(f"{bad}: not a finite number")
    try:
        group = Group.from_json(doc)
        for app in group.transitive_apps().values():
            LaunchBackoff.for_app(app)
            app.to_json()
    except Exception as exc:
        raise BadRecord(reason_of(exc)) from None
    return group


@dataclass(frozen=True)
class BadApp:
    """An app taken out of the stored root group: kept to be written back."""

    app_id: str | None
    group_id: str
    raw: Any
    reason: str


def salvage_root(doc: Any) -> tuple[Group, list[BadApp]]:
    """The stored root group without the apps that fail validation, and those apps.

    Raises `BadRecord` when the group structure itself is unusable (then the caller
    rebuilds the root from the apps' versions)."""
    if not isinstance(doc, Mapping):
        raise BadRecord(f"the root group must be a JSON object, not {type(doc).__name__}")
    clean = copy.deepcopy(dict(doc))
    bad: list[BadApp] = []
    stack: list[tuple[dict[str, Any], str]] = [(clean, ROOT)]
    while stack:
        node, base = stack.pop()
        try:
            group_id = normalize_path(str(node.get("id", base)), base)
        except Exception as exc:
            raise BadRecord(f"group id {node.get('id')!r}: {exc}") from None
        apps = node.get("apps")
        if isinstance(apps, list):
            kept = []
            for raw in apps:
                try:
                    check_app(raw, base=group_id)
                    kept.append(raw)
                except BadRecord as exc:
                    app_id = _app_id_of(raw, group_id)
                    bad.append(BadApp(app_id, group_id, raw, str(exc)))
            node["apps"] = kept
        groups = node.get("groups")
        if isinstance(groups, list):
            stack.extend((g, group_id) for g in groups if isinstance(g, dict))
    return check_group(clean), bad


def _app_id_of(raw: Any, base: str) -> str | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        return None
    try:
        return normalize_path(raw["id"], base)
    except Exception:
        return None


def _record_finite(doc: Mapping[str, Any]) -> bool:
    """``_all_finite(doc)`` for a record whose values are mostly flat (strings, numbers,
    None): those are checked inline, only nested ones walked. A new leader checks every
    stored instance record (95,000 at 10k/100k: ~1.5 s of its start in ``_all_finite``)."""
    plain = _PLAIN
    for v in doc.values():
        t = type(v)
        if t in plain:
            continue
        if t is float:
            if not math.isfinite(v):
                return False
        elif t is list and all(type(x) is int for x in v):
            continue  # ports, service ports (often empty)
        elif not _all_finite(v):
            return False
    return True


def instance_problem(doc: Any) -> str | None:
    """Why a stored instance (task) record is unusable, or None."""
    if not isinstance(doc, Mapping):
        return f"an instance record must be a JSON object, not {type(doc).__name__}"
    if not _record_finite(doc):
        return f"{non_finite(doc)}: not a finite number"
    for key in ("taskId", "appId", "configVersion", "version", "agentId", "host"):
        if not isinstance(doc.get(key), str):
            return f"/{key}: expected a string, got {doc.get(key)!r:.80}"
    if not doc["taskId"] or not doc["appId"]:
        return "/taskId and /appId must not be empty"
    if not isinstance(doc.get("stagedAt"), int | float) or isinstance(doc.get("stagedAt"), bool):
        return f"/stagedAt: expected a number, got {doc.get('stagedAt')!r:.80}"
    started = doc.get("startedAt")
    if started is not None and (not isinstance(started, int | float) or isinstance(started, bool)):
        return f"/startedAt: expected a number, got {started!r:.80}"
    ports = doc.get("ports", [])
    if not isinstance(ports, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 65535 for x in ports
    ):
        return f"/ports: expected port numbers, got {ports!r:.80}"
    state = doc.get("state", TaskState.STAGING.value)
    if state not in _STATES:
        return f"/state: {state!r:.80} is not a task state"
    return None


@dataclass
class Quarantined:
    """One record a leader refused to use."""

    path: str
    """Where it is stored (the znode, under the cluster chroot)."""
    kind: str
    """root, app, versions, deployment, instances, framework-id."""
    reason: str
    id: str | None = None
    """The app (or deployment, task) it belongs to, when that can be read."""
    since: str = ""
    """When it was quarantined (stamped by ``Quarantine.add``)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "kind": self.kind,
            "reason": self.reason,
            "since": self.since,
        }
        if self.id is not None:
            out["id"] = self.id
        return out


@dataclass
class Quarantine:
    """Everything quarantined by one Marathon leader, and what to keep in the store."""

    entries: dict[str, Quarantined] = field(default_factory=dict)
    """By a key unique per record (``app:/poison``, ``versions:/x``...)."""
    apps: dict[str, str] = field(default_factory=dict)
    """App id -> reason: the converge loop leaves these apps (and their tasks) alone."""
    kept_apps: dict[str, BadApp] = field(default_factory=dict)
    """Bad apps of the stored root, written back into every root we save."""
    kept_versions: dict[str, list[Any]] = field(default_factory=dict)
    """Bad entries of an app's stored versions, written back with its history."""
    kept_instances: dict[str, list[Any]] = field(default_factory=dict)
    """Bad instance records of an app, written back with its instances."""
    tasks: set[str] = field(default_factory=set)
    """Task ids of bad instance records: never killed as unknown."""
    failures: Counter[str] = field(default_factory=Counter)
    """Consecutive converge failures per app."""
    wall: float = 0.0
    """Epoch seconds of the event being handled (the core keeps it current): ``since``."""

    def add(self, key: str, entry: Quarantined) -> None:
        if not entry.since:
            entry.since = timestamp(self.wall)
        if key not in self.entries:
            log.error(
                "marathon: QUARANTINED %s %s%s: %s (kept in ZooKeeper, not acted upon)",
                entry.kind,
                entry.path,
                f" ({entry.id})" if entry.id else "",
                entry.reason,
            )
        self.entries[key] = entry

    def quarantine_app(self, app_id: str, path: str, reason: str) -> None:
        self.apps[app_id] = reason
        self.add(f"app:{app_id}", Quarantined(path, "app", reason, app_id))

    def release_app(self, app_id: str, why: str) -> bool:
        """Forget the app's quarantine (it was replaced or deleted); True if it had one."""
        had = app_id in self.apps or app_id in self.kept_apps
        self.apps.pop(app_id, None)
        self.kept_apps.pop(app_id, None)
        self.failures.pop(app_id, None)
        if self.entries.pop(f"app:{app_id}", None) is not None:
            log.warning("marathon: app %s leaves quarantine: %s", app_id, why)
        return had

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json() for _, e in sorted(self.entries.items())]

    def merge_root(self, root: dict[str, Any]) -> dict[str, Any]:
        """``root`` (about to be stored) with the kept bad apps written back where they
        were; a kept app whose id the new root defines was replaced, so it is released,
        and one whose group is gone went with its group."""
        if not self.kept_apps:
            return root
        out = copy.deepcopy(root)
        groups: dict[str, dict[str, Any]] = {}
        ids: set[str] = set()
        stack = [out]
        while stack:
            node = stack.pop()
            groups[str(node.get("id", ROOT))] = node
            ids.update(str(a.get("id")) for a in node.get("apps", []) if isinstance(a, dict))
            stack.extend(g for g in node.get("groups", []) if isinstance(g, dict))
        for app_id, bad in list(self.kept_apps.items()):
            if app_id in ids:
                self.release_app(app_id, "replaced by a valid definition")
                continue
            home = groups.get(bad.group_id)
            if home is None:
                self.release_app(app_id, f"its group {bad.group_id} was removed")
                continue
            home.setdefault("apps", []).append(bad.raw)
        return out


class QuarantineKeepingStore:
    """A ``MarathonStore`` that writes quarantined records back around the leader's own
    writes, so a quarantined record stays stored until a user replaces or deletes it."""

    def __init__(self, inner: Any, quarantine: Quarantine) -> None:
        self.inner = inner
        self.q = quarantine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def load(self) -> dict[str, Any]:
        result: dict[str, Any] = self.inner.load()
        return result

    def save_framework_id(self, framework_id: str) -> None:
        self.inner.save_framework_id(framework_id)
        self.q.entries.pop("framework-id", None)

    def save_root(self, root: dict[str, Any]) -> None:
        self.inner.save_root(self.q.merge_root(root))
        self.q.entries.pop("root", None)

    def save_versions(self, app_id: str, versions: list[dict[str, Any]]) -> None:
        kept = self.q.kept_versions.get(app_id, [])
        self.inner.save_versions(app_id, [*kept, *versions])
        self.q.entries.pop(f"versions-unreadable:{app_id}", None)

    def delete_versions(self, app_id: str) -> None:
        self.inner.delete_versions(app_id)
        if self.q.kept_versions.pop(app_id, None) is not None:
            self.q.entries.pop(f"versions:{app_id}", None)
        self.q.entries.pop(f"versions-unreadable:{app_id}", None)

    def save_deployment(self, deployment_id: str, doc: dict[str, Any]) -> None:
        self.inner.save_deployment(deployment_id, doc)

    def delete_deployment(self, deployment_id: str) -> None:
        self.inner.delete_deployment(deployment_id)

    def save_instances(self, app_id: str, records: list[dict[str, Any]]) -> None:
        self.inner.save_instances(app_id, [*records, *self.q.kept_instances.get(app_id, [])])
