"""Loading what a previous leader stored, validating every record first (a layer of
``MarathonCore`` over ``MarathonState``).

A record that fails validation is QUARANTINED (``_quarantine.py``): kept in ZooKeeper,
logged, listed by ``GET /v2/quarantine``, left alone by the converge loop. Nothing a
record holds may raise out of here: every master that became leader would load it and
crash too. Deployments in motion resume at their stored step; reads then wait until the
tasks not stored as running have been heard of (adoption).
"""

from __future__ import annotations

from itertools import compress, repeat
from operator import attrgetter, is_, is_not, itemgetter, not_
from typing import Any

from actors.framework import LaunchBackoff
from actors.task_states import ENDED_STATES

from ._group import Group
from ._instances import RUNNING, Instance
from ._messages import Load
from ._ops import Operations
from ._plan import plan_deployment
from ._pods import definition_from_json
from ._quarantine import (
    BadRecord,
    Quarantined,
    check_app,
    check_group,
    instance_problem,
    salvage_root,
)
from ._resident import Reservation, is_reservation_record
from ._shards import parse_name
from ._state import Run, log
from ._store import app_key, key_app


def prebuild_instances(key: str, value: Any) -> list[Instance | None] | None:
    """A standby's work ahead (``zk.StoreMirror``'s ``prepare``, on its idle CPU): each
    record of an instance shard built as ``_load_instances`` would build it (None for a
    reservation or a record that fails validation: the load judges it itself). The new
    leader then skips the validation and building of every record it received
    prebuilt, most of its state build (~2 s of its start at 5k/50k)."""
    if not key.startswith("instances/") or not isinstance(value, dict):
        return None
    records = value.get("instances")
    if not isinstance(records, list):
        return None
    return [_prebuilt(rec) for rec in records]


def _prebuilt(rec: Any) -> Instance | None:
    if is_reservation_record(rec) or instance_problem(rec) is not None:
        return None
    try:
        return Instance.from_record(rec)
    except Exception:
        return None


_SETTLED = ENDED_STATES | {RUNNING}
"""States of a loaded instance not adopted (``Instance.running`` or ended)."""
_state = attrgetter("state")
_first = itemgetter(0)
_second = itemgetter(1)


class Loading(Operations):
    """Turns ``MarathonStore.load()``'s data into the state."""

    def _on_load(self, event: Load) -> None:
        self.started_wall = self.wall
        self.znode_prefix = event.znode_prefix
        self._load(event.data)
        for app_id in list(self.apps) + list(self.by_app):
            self.dirty.add(app_id)

    def _load(self, data: dict[str, Any]) -> None:
        """Load every stored record, validating each one first.

        A record that fails validation is QUARANTINED (``_quarantine.py``): kept in
        ZooKeeper, logged, listed by ``GET /v2/quarantine``, left alone by the converge
        loop. Nothing a record holds may raise out of here: every master that became
        leader would load it and crash too. ZooKeeper errors do raise (the supervisor
        retries the start)."""
        fid = data.get("framework_id")
        self.framework_id = fid if isinstance(fid, str) and fid else None
        for key, reason in sorted((data.get("unreadable") or {}).items()):
            self._quarantine_unreadable(str(key), str(reason))
        self.versions = self._load_versions(data.get("versions") or {})
        root_doc = data.get("root")
        root_bad = bool(data.get("root_unreadable"))
        if root_doc is not None and not root_bad:
            try:
                self.root, bad_apps = salvage_root(root_doc)
            except BadRecord as exc:
                self.q.add("root", Quarantined(self.where("root"), "root", str(exc)))
                root_bad = True
            else:
                for n, bad in enumerate(bad_apps):
                    app_id = bad.app_id or f"<app without a valid id #{n}>"
                    self.q.kept_apps[app_id] = bad
                    self.q.quarantine_app(app_id, self.where("root"), bad.reason)
        if root_bad:
            self.root = self._root_from_versions()
        now = self.now
        self._load_deployments(data)
        self.apps = self.root.transitive_apps()
        prebuilt = data.get("prebuilt") or {}
        prebuilt_apps = data.get("prebuilt_apps") or {}
        for app_id, records in (data.get("instances") or {}).items():
            self._load_instances(str(app_id), records, prebuilt, prebuilt_apps.get(app_id))
        for app in list(self.apps.values()):
            try:
                self.backoff[app.id] = LaunchBackoff.for_app(app)
            except Exception as exc:
                self.q.quarantine_app(app.id, self.where("root"), f"{type(exc).__name__}: {exc}")
        for run in list(self.runs.values()):
            try:
                self.start_step(run, now)
            except Exception as exc:
                log.exception("marathon: resuming deployment %s failed", run.plan.id)
                self.runs.pop(run.plan.id, None)
                key = f"deployments/{run.plan.id}"
                self.q.add(
                    f"deployment:{key}",
                    Quarantined(
                        self.where(key),
                        "deployment",
                        f"resuming it failed: {type(exc).__name__}: {exc}",
                        run.plan.id,
                    ),
                )
        # Reads wait until the tasks not stored as running have been heard of (the
        # master answers the reconciliation once its agents re-registered): a view
        # must never show a running task as staging.
        # (in C, as ``add_instances``: not running and not ended, ``_SETTLED``)
        self.adopting = set(
            compress(
                self.instances,
                map(not_, map(_SETTLED.__contains__, map(_state, self.instances.values()))),
            )
        )
        self.adopt_deadline = now + self.config.adoption_timeout
        log.info(
            "marathon: loaded %d app(s), %d instance(s), %d deployment(s), framework %s; "
            "%d record(s) quarantined, %d task(s) to adopt",
            len(self.apps),
            len(self.instances),
            len(self.runs),
            self.framework_id,
            len(self.q.entries),
            len(self.adopting),
        )

    def _quarantine_unreadable(self, key: str, reason: str) -> None:
        kind, _, rest = key.partition("/")
        if kind == "instances":
            rest = parse_name(rest)[0]  # one of the app's shards: the app's records
        ident = key_app(rest) if kind in ("versions", "instances") and rest else (rest or None)
        qkey = {"root": "root", "framework-id": "framework-id"}.get(kind) or (
            f"deployment:{key}" if kind == "deployments" else f"{kind}-unreadable:{ident}"
        )
        label = {"deployments": "deployment"}.get(kind, kind)
        self.q.add(qkey, Quarantined(self.where(key), label, reason, ident))
        if kind == "instances" and ident:
            # Its tasks are unknown: launching or killing anything for it could double
            # or lose instances, so the app waits for an operator.
            self.q.apps[ident] = f"its instance records are unreadable: {reason}"

    def _load_versions(self, stored: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for app_id, history in stored.items():
            good: list[dict[str, Any]] = []
            bad: list[Any] = []
            reasons: list[str] = []
            for doc in history if isinstance(history, list) else []:
                try:
                    check_app(doc)
                    good.append(doc)
                except BadRecord as exc:
                    bad.append(doc)
                    reasons.append(str(exc))
            if bad:
                self.q.kept_versions[app_id] = bad
                self._report_bad_records("versions", "stored version(s)", app_id, reasons)
            if good:
                out[app_id] = good
        return out

    def _load_deployments(self, data: dict[str, Any]) -> None:
        by_key = data.get("deployments_by_key")
        if not isinstance(by_key, dict):
            by_key = {
                f"deployments/{d.get('id') if isinstance(d, dict) else i}": d
                for i, d in enumerate(data.get("deployments") or [])
            }
        now = self.now

        def order(item: tuple[str, Any]) -> str:
            doc = item[1]
            return str(doc.get("version")) if isinstance(doc, dict) else ""

        for key, doc in sorted(by_key.items(), key=order):
            try:
                if not isinstance(doc, dict):
                    raise BadRecord(f"a deployment must be a JSON object, not {type(doc).__name__}")
                original = check_group(doc.get("original"))
                target = check_group(doc.get("target"))
                restart = doc.get("restart") or ()
                step_no = doc.get("step", 0)
                if not isinstance(restart, list | tuple) or not all(
                    isinstance(x, str) for x in restart
                ):
                    raise BadRecord(f"/restart: expected app ids, got {restart!r:.80}")
                if not isinstance(step_no, int) or isinstance(step_no, bool) or step_no < 0:
                    raise BadRecord(f"/step: expected a step number, got {step_no!r:.80}")
                plan = plan_deployment(
                    original,
                    target,
                    plan_id=str(doc["id"]),
                    version=str(doc["version"]),
                    restart=tuple(restart),
                )
            except Exception as exc:
                reason = str(exc) if isinstance(exc, BadRecord) else f"{type(exc).__name__}: {exc}"
                ident = doc.get("id") if isinstance(doc, dict) else None
                self.q.add(
                    f"deployment:{key}",
                    Quarantined(
                        self.where(key),
                        "deployment",
                        reason,
                        ident if isinstance(ident, str) else None,
                    ),
                )
                continue
            # The deployment doc is written before the root: a newer target wins.
            if (target.version or "") > (self.root.version or ""):
                self.root = target
            run = Run(plan, tuple(restart), step_no)
            run.started_at = now
            self.runs[plan.id] = run

    def _load_instances(
        self,
        app_id: str,
        records: Any,
        prebuilt: dict[int, tuple[Any, Instance]],
        prebuilt_app: list[Instance] | None = None,
    ) -> None:
        """``prebuilt``: id(record) -> (that record, its instance) built ahead by a
        standby (``prebuild_instances``), used only for that very record object;
        ``prebuilt_app``: the instance of each of ``records``, in order, all built
        ahead (the store's ``prebuilt_apps``): added in bulk."""
        if (
            prebuilt_app is not None
            and isinstance(records, list)
            and len(prebuilt_app) == len(records)
        ):
            self.add_instances(prebuilt_app)
            return
        if prebuilt and isinstance(records, list):
            # Every record built ahead (the usual warm load): added in bulk, in C
            # (``add_instances``), with the very checks of the loop below.
            pairs: list[Any] = list(map(prebuilt.get, map(id, records)))
            if all(map(is_not, pairs, repeat(None))) and all(map(is_, map(_first, pairs), records)):
                self.add_instances(list(map(_second, pairs)))
                return
        bad: list[Any] = []
        reasons: list[str] = []
        for rec in records if isinstance(records, list) else [records]:
            pre = prebuilt.get(id(rec))
            if pre is not None and pre[0] is rec:
                self.add_instance(pre[1])
                continue
            if is_reservation_record(rec):  # a resident instance's reservation
                try:
                    r = Reservation.from_record(rec, self.now)
                    self.resident.by_id[r.reservation_id] = r
                    continue
                except (KeyError, TypeError, ValueError) as exc:
                    bad.append(rec)
                    reasons.append(f"reservation record: {type(exc).__name__}: {exc}")
                    continue
            problem = instance_problem(rec)
            if problem is None:
                try:
                    self.add_instance(Instance.from_record(rec))
                    continue
                except Exception as exc:
                    problem = f"{type(exc).__name__}: {exc}"
            bad.append(rec)
            reasons.append(problem)
            if isinstance(rec, dict) and isinstance(rec.get("taskId"), str):
                self.q.tasks.add(rec["taskId"])
        if bad:
            self.q.kept_instances[app_id] = bad
            self._report_bad_records("instances", "instance record(s)", app_id, reasons)

    def _report_bad_records(self, kind: str, noun: str, app_id: str, reasons: list[str]) -> None:
        """Quarantine entry for an app's ``versions`` or ``instances`` document, of which
        ``len(reasons)`` records failed (the first reason shown)."""
        self.q.add(
            f"{kind}:{app_id}",
            Quarantined(
                self.where(f"{kind}/{app_key(app_id)}"),
                kind,
                f"{len(reasons)} {noun} not valid: {reasons[0]}",
                app_id,
            ),
        )

    def _root_from_versions(self) -> Group:
        """The root group rebuilt from each app's newest stored version, for when the
        root document itself cannot be read (group-level dependencies are lost; apps,
        their settings and versions are not)."""
        root = Group()
        for app_id, history in sorted(self.versions.items()):
            for doc in reversed(history):
                try:
                    root = root.put_app(definition_from_json(doc))  # app or pod
                    break
                except Exception as exc:
                    log.error("marathon: a stored version of %s is not valid: %s", app_id, exc)
        log.warning(
            "marathon: rebuilt the root group from %d app(s)' versions", len(root.transitive_apps())
        )
        return root
