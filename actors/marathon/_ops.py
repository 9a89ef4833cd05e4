"""The REST operations (``/v2/apps``, ``/v2/groups``, ``/v2/tasks``, ``/v2/deployments``,
``/v2/queue``...) as core handlers: each ``_op_<name>`` validates its request and
returns a reply, or, for a change, a ``Deferred`` reply that ``deploy`` completes once
the change is stored (persist BEFORE replying). Errors become Marathon-shaped answers.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from actors._validation import MAX_GROUP_APPS, MAX_INSTANCES

from ._app import (
    AppDefinition,
    VersionInfo,
    format_version,
    merged_app_json,
    patch_app,
    stamp_version,
)
from ._errors import InvalidPath, ValidationFailed
from ._group import Group
from ._instances import Instance
from ._messages import ApiReply, ApiRequest, DeleteDeployment, DeleteVersions, Reply, Revive
from ._paths import ROOT, normalize_path, parent_of
from ._pods import PodDefinition
from ._pods_ops import PodOperations
from ._ports import assign_service_ports, service_ports, taken_ports
from ._render import shown_reply
from ._resident import forget_reservations
from ._state import Answer, Deferred, Refused, Run, StoreError, log, not_found


class Operations(PodOperations):
    """Marathon's REST API over the core's state."""

    def on_api(self, req: ApiRequest) -> None:
        """Dispatch one REST operation; its ``Reply`` is emitted now or, for a change,
        once the change is stored.

        Just elected, while the tasks not stored as running have not been heard of yet
        (``adopting``), reads that show task states answer 503 with ``Retry-After`` (a
        view must never show a running task as staging). Changes are served, as real
        Marathon serves its API once its state is loaded and reconciles in the
        background: a change never acts on a not-yet-adopted task's stored state (the
        converge counts it as live, so nothing replaces it; a scale-down waits for the
        answers, ``scale_deferred``); the two that would (a rolling restart of an app
        with such tasks, whose first kills pick the not-running ones; a task kill whose
        answer shows the task) answer 503 for those apps and tasks only
        (``adoption_refusal``)."""
        self.counters["api_requests"] += 1
        handler: Callable[[ApiRequest], Answer] | None = getattr(self, f"_op_{req.op}", None)
        if handler is None:
            self.emit(Reply(ApiReply(404, {"message": f"unknown operation {req.op!r}"})))
            return
        if self.adopting and req.op not in _SERVED_WHILE_ADOPTING:
            self._answer(req, self.adoption_refusal(len(self.adopting)))
            return

        def run_op() -> Answer:
            quarantined = self._quarantined_app_op(req)
            return quarantined if quarantined is not None else handler(req)

        self._serve(req, run_op)

    def adoption_refusal(self, n: int, what: str = "") -> ApiReply:
        """The 503 of an operation that waits for the adoption (``on_api``)."""
        return ApiReply(
            503,
            {"message": f"Marathon was just elected and is adopting {n} task(s){what}; retry"},
            {"Retry-After": "1"},
        )

    def _serve(self, req: ApiRequest, step: Callable[[], Answer]) -> None:
        """Run one step of an operation and answer it, or wait for the store and run the
        next step (``Deferred``). A step that raises answers 500 naming the app (503
        when ZooKeeper did not answer; 422 for a document above the store's limit) and
        is counted; it never takes the actor down."""
        result = self._guarded(req, step)
        if isinstance(result, Deferred):
            then = result.then

            def failed(exc: Exception) -> None:
                def reraise() -> Answer:
                    raise exc

                self._serve(req, reraise)  # the store's error, answered as any other

            self.await_stored(lambda: self._serve(req, then), failed)
            return
        if result.status < 300 and req.op in _APP_WRITES and req.app_id in self.q.apps:
            self.q.release_app(req.app_id, f"changed by {req.op}")
            self.dirty.add(req.app_id)
        self.emit(Reply(result))

    def _answer(self, req: ApiRequest, reply: ApiReply) -> None:
        self.emit(Reply(reply))

    def _guarded(self, req: ApiRequest, step: Callable[[], Answer]) -> Answer:
        try:
            return step()
        except Refused as exc:
            return ApiReply(exc.status, exc.body, exc.headers)
        except ValidationFailed as exc:
            return ApiReply(422, exc.body)
        except InvalidPath as exc:
            return ApiReply(
                422,
                {
                    "message": "Object is not valid",
                    "details": [{"path": "/id", "errors": [str(exc)]}],
                },
            )
        except StoreError as exc:
            if exc.too_large is not None:
                # Refused by the state store before anything reached ZooKeeper (the
                # deployment, the largest document, is written first), as Marathon
                # refuses a deployment plan above --zk_max_node_size.
                size, limit = exc.too_large
                return ApiReply(
                    422,
                    {
                        "message": f"Object is not valid: the change would store {size} "
                        f"bytes in one document, above the limit of {limit} bytes",
                        "details": [{"path": "/", "errors": [str(exc.error)]}],
                    },
                )
            return self._failed(req, exc.error, transient=exc.transient)
        except Exception as exc:
            return self._failed(req, exc, transient=False)

    def _failed(self, req: ApiRequest, exc: Exception, *, transient: bool) -> ApiReply:
        """500 naming the app (503 with ``Retry-After`` when ZooKeeper did not answer)."""
        about = f" of app {req.app_id}" if req.app_id else ""
        if req.op == "create_app" and isinstance(req.body, dict):
            about = f" of app {str(req.body.get('id'))[:200]}"
        if transient:
            # Expected while ZooKeeper is away or this master stopped leading (a fenced
            # write): one line, no traceback; the client retries the 503.
            log.warning(
                "marathon: %s%s refused for now (%s: %s); answered 503",
                req.op,
                about,
                type(exc).__name__,
                str(exc)[:300],
            )
        else:
            log.error("marathon: %s%s failed", req.op, about, exc_info=exc)
        self.counters["api_errors"] += 1
        return ApiReply(
            503 if transient else 500,
            {"message": f"{req.op}{about} failed: {type(exc).__name__}: {exc}"[:2000]},
            {"Retry-After": "1"} if transient else {},
        )

    def _quarantined_app_op(self, req: ApiRequest) -> Answer | None:
        """The answer for an operation on an app quarantined when its stored definition
        could not be loaded: ``DELETE`` removes it (the way out without touching
        ZooKeeper by hand), a read says why it is not served; None otherwise. The same
        for ``DELETE /v2/deployments/<id>`` of a quarantined deployment."""
        if req.op == "cancel_deployment":
            key = f"deployments/{req.params.get('deployment_id')}"
            if f"deployment:{key}" not in self.q.entries or key.endswith("/None"):
                return None
            self.emit(DeleteDeployment(key.split("/", 1)[1]))

            def deleted() -> Answer:
                self.q.entries.pop(f"deployment:{key}", None)
                log.warning("marathon: quarantined %s deleted on request", key)
                return ApiReply(202, {})

            return Deferred(deleted)
        app_id = req.app_id
        if not app_id or app_id not in self.q.kept_apps or app_id in self.apps:
            return None
        reason = self.q.apps.get(app_id, "")
        if req.op == "delete_app":
            version = self._now_version()
            self.q.release_app(app_id, "deleted by DELETE /v2/apps")
            return self.deploy(
                self.root,
                version,
                force=bool(req.params.get("force", False)),
                then=lambda run: self._drop_versions([app_id], run),
            )
        if req.op in ("get_app", "app_tasks", "versions", "version", "kill_app_tasks"):
            return ApiReply(
                409,
                {
                    "message": f"App '{app_id}' is quarantined: its stored definition is not "
                    f"valid ({reason}). Replace it with PUT /v2/apps{app_id} or remove it "
                    f"with DELETE /v2/apps{app_id}; see GET /v2/quarantine."
                },
            )
        return None

    def _now_version(self) -> str:
        """Now, as a Marathon version; strictly after the root's (versions order history
        and deployments, and another master's clock may be a little ahead)."""
        now = self.wall
        last = self.root.version
        if last:
            try:
                last_s = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
            except ValueError:
                last_s = 0.0
            now = max(now, last_s + 0.001)
        return format_version(now)

    def _app_or_404(self, app_id: str | None) -> AppDefinition:
        app = self.apps.get(app_id or "")
        if app is None or isinstance(app, PodDefinition):
            raise not_found(f"App '{app_id}' does not exist")
        return app

    def _drop_versions(self, app_ids: list[str], run: Run) -> Answer:
        """Delete the version histories of apps a stored deployment removed, then
        answer with the deployment (their tasks, if any, are killed by converging)."""
        for app_id in app_ids:
            self.emit(DeleteVersions(app_id))

        def dropped() -> Answer:
            for app_id in app_ids:
                self.versions.pop(app_id, None)
                self.dirty.add(app_id)
            return self._deployed(run)

        return Deferred(dropped)

    def _deployed(self, run: Run, status: int = 200) -> ApiReply:
        return ApiReply(
            status,
            {"version": run.plan.version, "deploymentId": run.plan.id},
            {
                "Marathon-Deployment-Id": run.plan.id,
                "Marathon-Deployment-Version": run.plan.version,
            },
        )

    def _op_list_apps(self, req: ApiRequest) -> ApiReply:
        embed = set(req.params.get("embed") or ())
        id_filter = req.params.get("id")
        label = req.params.get("label")
        apps = []
        shown: dict[int, Instance] = {}
        for app_id in sorted(self.apps):
            app = self.apps[app_id]
            if isinstance(app, PodDefinition):
                continue  # pods are listed by /v2/pods
            if id_filter and id_filter not in app_id:
                continue
            if label and not _label_matches(app, label):
                continue
            apps.append(self.app_json(app, embed, shown))
        return shown_reply({"apps": apps}, shown)

    def _op_get_app(self, req: ApiRequest) -> ApiReply:
        app = self._app_or_404(req.app_id)
        embed = set(req.params.get("embed") or ()) | {"apps.tasks", "apps.lastTaskFailure"}
        shown: dict[int, Instance] = {}
        return shown_reply({"app": self.app_json(app, embed, shown)}, shown)

    def _op_create_app(self, req: ApiRequest) -> Answer:
        body = req.body
        if not isinstance(body, dict):
            raise ValidationFailed.single("/", "an app must be a JSON object")
        version = self._now_version()
        app = AppDefinition.from_json(body, version=version)
        if app.id in self.apps or self.root.find_group(app.id) is not None:
            raise Refused(
                409,
                {"message": f"An app with id [{app.id}] already exists.", "details": []},
            )
        if self.root.app(parent_of(app.id)) is not None:
            raise ValidationFailed.single("/id", f"{parent_of(app.id)} is an app, not a group")
        app = stamp_version(self._with_service_ports(app, None), None, version)
        return self.deploy(
            self.root.put_app(app),
            version,
            force=req.params.get("force", False),
            then=lambda run: self._created(app, run),
        )

    def _created(self, app: AppDefinition, run: Run) -> ApiReply:
        self.publish(
            "api_post_event", clientIp="", uri=f"/v2/apps{app.id}", appDefinition=app.to_json()
        )
        body_out = self.app_json(app, set())
        body_out["deployments"] = [{"id": run.plan.id}]
        headers = {
            "Location": f"/v2/apps{app.id}",
            "Marathon-Deployment-Id": run.plan.id,
            "Marathon-Deployment-Version": run.plan.version,
        }
        return ApiReply(201, body_out, headers)

    def _op_put_app(self, req: ApiRequest) -> Answer:
        """``PUT /v2/apps/{id}``: a partial update unless ``partialUpdate=false``
        (Marathon's default is true: ``{"instances": 4}`` scales); creates the app when
        it does not exist (then the body must be a whole app)."""
        app_id = normalize_path(req.app_id or "")
        body = req.body
        if not isinstance(body, dict):
            raise ValidationFailed.single("/", "an app must be a JSON object")
        existing = self.apps.get(app_id)
        version = self._now_version()
        app = self._updated_app(
            app_id,
            body,
            version,
            partial=bool(req.params.get("partial")),
            patch_only=bool(req.params.get("patch_only")),
        )

        def deployed(run: Run) -> ApiReply:
            self.publish(
                "api_post_event", clientIp="", uri=f"/v2/apps{app.id}", appDefinition=app.to_json()
            )
            return self._deployed(run, 200 if existing is not None else 201)

        return self.deploy(
            self.root.put_app(app),
            version,
            force=bool(req.params.get("force", False)),
            then=deployed,
        )

    def _op_put_apps(self, req: ApiRequest) -> Answer:
        """``PUT /v2/apps`` with an array: each element updates (partially, unless
        ``partialUpdate=false``) or creates the app its ``id`` names; one deployment."""
        body = req.body
        if not isinstance(body, list) or not body:
            raise ValidationFailed.single("/", "expected a non-empty JSON array of apps")
        version = self._now_version()
        target = self.root
        seen: set[str] = set()
        assigned: set[int] = set()
        for index, item in enumerate(body):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise ValidationFailed.single(f"/{index}/id", "each app needs a string id")
            try:
                app_id = normalize_path(item["id"])
            except InvalidPath as exc:
                raise ValidationFailed.single(f"/{index}/id", str(exc)) from None
            if app_id in seen:
                raise ValidationFailed.single(f"/{index}/id", f"{app_id} is given twice")
            seen.add(app_id)
            try:
                app = self._updated_app(
                    app_id,
                    item,
                    version,
                    partial=bool(req.params.get("partial")),
                    assigned=assigned,
                )
            except ValidationFailed as exc:
                raise ValidationFailed(
                    [(f"/{index}{d['path']}", e) for d in exc.body["details"] for e in d["errors"]]
                ) from None
            target = target.put_app(app)
        return self.deploy(
            target, version, force=bool(req.params.get("force", False)), then=self._deployed
        )

    def _updated_app(
        self,
        app_id: str,
        body: dict[str, Any],
        version: str,
        *,
        partial: bool,
        patch_only: bool = False,
        assigned: set[int] | None = None,
    ) -> AppDefinition:
        """The app ``body`` makes of ``app_id``: merged onto the existing definition
        when ``partial``, else the whole definition; service ports assigned (kept where
        the app has them), version stamped, the existing one returned if unchanged."""
        existing = self.apps.get(app_id)
        if existing is not None and partial:
            app = patch_app(existing, body, version=version)
        else:
            if existing is None and partial and patch_only:
                raise not_found(f"App '{app_id}' does not exist")
            doc = dict(body)
            if "id" in doc and doc["id"] is not None:
                given = normalize_path(str(doc["id"]), parent_of(app_id))
                if given != app_id:
                    raise ValidationFailed.single(
                        "/id", f"the id {given} does not match the URL's {app_id}"
                    )
            doc["id"] = app_id
            doc.pop("version", None)
            doc.pop("versionInfo", None)
            app = AppDefinition.from_json(doc)
        app = stamp_version(self._with_service_ports(app, existing, assigned), existing, version)
        if existing is not None and app.config() == existing.config():
            return existing  # nothing changed: keep the version
        return app

    def _with_service_ports(
        self, app: AppDefinition, previous: AppDefinition | None, assigned: set[int] | None = None
    ) -> AppDefinition:
        """``app`` with its 0 service ports assigned from the configured range, unique
        across apps (``assigned``: ports given to other apps of the same request)."""
        taken = taken_ports(self.apps.values(), besides=app.id)
        if assigned:
            taken |= assigned
        out = assign_service_ports(
            app, previous, taken, (self.config.local_port_min, self.config.local_port_max)
        )
        if assigned is not None:
            assigned.update(port for port in service_ports(out) if port)
        return out

    def _op_delete_app(self, req: ApiRequest) -> Answer:
        app = self._app_or_404(req.app_id)
        version = self._now_version()
        return self.deploy(
            self.root.remove_app(app.id),
            version,
            force=bool(req.params.get("force", False)),
            then=lambda run: self._drop_versions([app.id], run),
        )

    def _op_restart_app(self, req: ApiRequest) -> Answer:
        app = self._app_or_404(req.app_id)
        version = self._now_version()
        restarted = dataclasses.replace(
            app, version=version, version_info=VersionInfo(version, version)
        )
        return self.deploy(
            self.root.put_app(restarted),
            version,
            force=bool(req.params.get("force", False)),
            restart=(app.id,),
            then=self._deployed,
        )

    def _op_app_tasks(self, req: ApiRequest) -> ApiReply:
        app = self._app_or_404(req.app_id)
        key, stamp = ("app", app.id), self.task_lists.stamp(self.root)
        if (same := self.task_lists.unchanged(key, stamp)) is not None:
            return same
        instances = list(self.by_app.get(app.id, {}).values())
        tasks = self.tasks_json(app, instances)
        return self.task_lists.reply(key, tasks, instances, [(app.id, 0, len(tasks))], stamp)

    def _kill_tasks(
        self, victims: list[Instance], scale: bool, force: bool, wipe: bool = False
    ) -> Answer:
        waiting = sum(1 for i in victims if i.task_id in self.adopting)
        if waiting:
            # Its answer would show the task as stored (maybe staging while it runs).
            reply = self.adoption_refusal(len(self.adopting), f", {waiting} of them asked for")
            raise Refused(reply.status, reply.body, reply.headers)
        if scale:
            by_app = Counter(i.app_id for i in victims)
            target = self.root
            for app_id, n in by_app.items():
                app = self.apps[app_id]
                version = self._now_version()
                scaled = dataclasses.replace(app, instances=max(0, app.instances - n))
                target = target.put_app(stamp_version(scaled, app, version))
            version = self._now_version()

            def scaled_down(run: Run) -> ApiReply:
                for inst in victims:
                    self.kill(inst, "ScalingApp")
                return self._deployed(run)

            return self.deploy(target, version, force=force, then=scaled_down)
        for inst in victims:
            self.kill(inst, "KillingTasksViaApi")
        self.dirty.update(i.app_id for i in victims)
        jsons = []
        for inst in victims:
            owner = self.apps.get(inst.app_id)
            jsons.append(inst.to_json(bool(owner and owner.health_checks)))
        return ApiReply(200, {"tasks": jsons})

    def _op_kill_app_tasks(self, req: ApiRequest) -> Answer:
        app = self._app_or_404(req.app_id)
        host = req.params.get("host")
        victims = [i for i in self.by_app.get(app.id, {}).values() if not host or i.host == host]
        if req.params.get("wipe"):  # resident: forget their reservations and volumes
            self.persist_dirty.update(forget_reservations(self.resident, victims))
        return self._kill_tasks(
            victims, bool(req.params.get("scale")), bool(req.params.get("force"))
        )

    def _op_kill_task(self, req: ApiRequest) -> Answer:
        app = self._app_or_404(req.app_id)
        task_id = str(req.params.get("task_id"))
        inst = self.by_app.get(app.id, {}).get(task_id)
        if inst is None:
            raise not_found(f"Task '{task_id}' does not exist")
        if req.params.get("wipe"):  # resident: forget its reservation and volumes
            self.persist_dirty.update(forget_reservations(self.resident, [inst]))
        reply = self._kill_tasks(
            [inst], bool(req.params.get("scale")), bool(req.params.get("force"))
        )
        if not req.params.get("scale") and isinstance(reply, ApiReply):
            return ApiReply(200, {"task": reply.body["tasks"][0]})
        return reply

    def _op_delete_tasks(self, req: ApiRequest) -> Answer:
        body = req.body
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
            raise ValidationFailed.single("/ids", 'expected {"ids": ["task id", ...]}')
        victims = [self.instances[i] for i in ids if i in self.instances]
        unknown = [i for i in ids if i not in self.instances]
        if unknown and not victims:
            raise not_found(f"Task(s) {', '.join(unknown)} do not exist")
        return self._kill_tasks(
            victims, bool(req.params.get("scale")), bool(req.params.get("force"))
        )

    def _op_list_tasks(self, req: ApiRequest) -> ApiReply:
        wanted = {s.lower() for s in req.params.get("status") or ()}
        key, stamp = ("all", frozenset(wanted)), self.task_lists.stamp(self.root)
        if (same := self.task_lists.unchanged(key, stamp)) is not None:
            return same
        out: list[dict[str, Any]] = []
        instances: list[Instance] = []
        groups: list[tuple[str, int, int]] = []
        for app_id, tasks in self.by_app.items():
            app = self.apps.get(app_id)
            if isinstance(app, PodDefinition):
                continue  # pod instances: /v2/pods/{id}::status
            chosen: Any = tasks.values()
            if wanted:
                chosen = [i for i in chosen if i.state.removeprefix("TASK_").lower() in wanted]
            else:
                chosen = list(chosen)
            start = len(out)
            out += self.tasks_json(app, chosen)
            instances += chosen
            groups.append((app_id, start, len(out)))
        return self.task_lists.reply(key, out, instances, groups, stamp)

    def _op_versions(self, req: ApiRequest) -> ApiReply:
        app_id = req.app_id or ""
        history = self.versions.get(app_id)
        if history is None:
            raise not_found(f"App '{app_id}' does not exist")
        return ApiReply(200, {"versions": [v.get("version") for v in reversed(history)]})

    def _op_version(self, req: ApiRequest) -> ApiReply:
        app_id = req.app_id or ""
        wanted = req.params.get("version")
        for doc in self.versions.get(app_id, []):
            if doc.get("version") == wanted:
                return ApiReply(200, doc)
        raise not_found(f"App '{app_id}' has no version {wanted}")

    def _op_deployments(self, req: ApiRequest) -> ApiReply:
        # pydcos' ``waitingFor`` only when asked (``?embed=waitingFor``): strict clients
        # (the public marathon library) map every field of a deployment action.
        waiting = "waitingFor" in (req.params.get("embed") or ())
        return ApiReply(200, self.deployments_json(waiting=waiting))

    def _op_cancel_deployment(self, req: ApiRequest) -> Answer:
        run = self.runs.get(str(req.params.get("deployment_id")))
        if run is None:
            raise not_found(f"DeploymentPlan {req.params.get('deployment_id')} does not exist")
        if req.params.get("force"):
            self.finish_run(run, success=False)
            return ApiReply(202, {})
        return self.cancel(run, version=self._now_version(), then=self._deployed)

    def _op_get_group(self, req: ApiRequest) -> ApiReply:
        group_id = normalize_path(req.app_id or ROOT)
        group = self.root.find_group(group_id)
        if group is None:
            raise not_found(f"Group '{group_id}' does not exist")
        embed = set(req.params.get("embed") or ())
        shown: dict[int, Instance] = {}
        return shown_reply(self.group_json(group, embed, shown), shown)

    def _op_put_group(self, req: ApiRequest) -> Answer:
        body = req.body
        if not isinstance(body, dict):
            raise ValidationFailed.single("/", "a group must be a JSON object")
        create = bool(req.params.get("create"))
        path_id = req.app_id
        doc = dict(body)
        if path_id:
            doc.setdefault("id", path_id)
        if "id" not in doc:
            raise ValidationFailed.single("/id", "a group needs an id")
        version = self._now_version()
        doc.pop("version", None)
        if "scaleBy" in doc:
            return self._scale_group(doc, version, req)
        if not create and req.params.get("partial", True):
            doc = self._merged_group_doc(doc, ROOT)
        group = Group.from_json(doc, base=ROOT, max_apps=MAX_GROUP_APPS)
        if group.id in self.apps:
            raise ValidationFailed.single("/id", f"{group.id} is an app, not a group")
        existing = self.root.find_group(group.id)
        if create and existing is not None and group.id != ROOT:
            raise Refused(
                409,
                {"message": f"Group {group.id} is already created. Use PUT to change this group."},
            )
        group = self._stamp_group(group, version)
        if existing is not None and not create and "apps" not in body and "groups" not in body:
            group = dataclasses.replace(existing, dependencies=group.dependencies)
        return self.deploy(
            self.root.replace_group(group),
            version,
            force=bool(req.params.get("force")),
            then=lambda run: self._deployed(run, 201 if create else 200),
        )

    def _merged_group_doc(self, doc: dict[str, Any], base: str) -> dict[str, Any]:
        """A group update with each app that exists already merged onto its current
        definition (Marathon's partial update: ``{"id": "web", "instances": 4}`` in a
        group PUT scales); new apps stay as given, to be validated whole."""
        try:
            group_id = normalize_path(str(doc.get("id", base)), base)
        except InvalidPath:
            return doc  # Group.from_json reports it with its path
        out = dict(doc)
        if isinstance(doc.get("apps"), list):
            apps = []
            for raw in doc["apps"]:
                existing = None
                if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    try:
                        existing = self.apps.get(normalize_path(raw["id"], group_id))
                    except InvalidPath:
                        existing = None
                apps.append(_merged_app_doc(existing, raw) if existing is not None else raw)
            out["apps"] = apps
        if isinstance(doc.get("groups"), list):
            out["groups"] = [
                self._merged_group_doc(g, group_id) if isinstance(g, dict) else g
                for g in doc["groups"]
            ]
        return out

    def _scale_group(self, doc: dict[str, Any], version: str, req: ApiRequest) -> Answer:
        group_id = normalize_path(str(doc["id"]))
        group = self.root.find_group(group_id)
        if group is None:
            raise not_found(f"Group '{group_id}' does not exist")
        factor = doc["scaleBy"]
        if not isinstance(factor, int | float) or not 0 <= factor <= MAX_INSTANCES:
            raise ValidationFailed.single(
                "/scaleBy", f"scaleBy must be a number in [0, {MAX_INSTANCES}], got {factor!r:.40}"
            )
        largest = max((a.instances for a in group.transitive_apps().values()), default=0)
        if round(largest * factor) > MAX_INSTANCES:
            raise ValidationFailed.single(
                "/scaleBy",
                f"scaleBy {factor:g} would give {round(largest * factor)} instances: "
                f"at most {MAX_INSTANCES} per app",
            )
        target = self.root
        for app in group.transitive_apps().values():
            scaled = dataclasses.replace(app, instances=round(app.instances * factor))
            target = target.put_app(stamp_version(scaled, app, version))
        return self.deploy(
            target, version, force=bool(req.params.get("force")), then=self._deployed
        )

    def _stamp_group(self, group: Group, version: str, assigned: set[int] | None = None) -> Group:
        """Version stamps and service ports for every app of ``group`` (``assigned``:
        the service ports given to other apps of the same request so far)."""
        assigned = set() if assigned is None else assigned
        apps = []
        for app in group.apps:
            prev = self.apps.get(app.id)
            app = self._with_service_ports(app, prev, assigned)
            stamped = stamp_version(app, prev, version)
            apps.append(prev if prev is not None and prev.config() == app.config() else stamped)
        groups = tuple(self._stamp_group(g, version, assigned) for g in group.groups)
        return dataclasses.replace(group, apps=tuple(apps), groups=groups, version=version)

    def _op_delete_group(self, req: ApiRequest) -> Answer:
        group_id = normalize_path(req.app_id or ROOT)
        group = self.root.find_group(group_id)
        if group is None:
            raise not_found(f"Group '{group_id}' does not exist")
        version = self._now_version()
        target = Group(id=ROOT) if group_id == ROOT else self.root.remove_group(group_id)
        gone = set(group.transitive_apps())
        return self.deploy(
            target,
            version,
            force=bool(req.params.get("force")),
            then=lambda run: self._drop_versions(sorted(gone), run),
        )

    def _op_info(self, req: ApiRequest) -> ApiReply:
        return self.info_json()

    def _op_metrics(self, req: ApiRequest) -> ApiReply:
        return self.metrics_json()

    def _op_queue(self, req: ApiRequest) -> ApiReply:
        return ApiReply(200, self.queue_json())

    def _op_reset_delay(self, req: ApiRequest) -> ApiReply:
        app_id = req.app_id or ""
        if app_id not in self.apps:
            raise not_found(f"Application {app_id} not found in tasks queue.")
        backoff = self.backoff.get(app_id)
        if backoff is not None:
            self.backoff[app_id] = backoff.reset()
        if self.subscribed:
            self.emit(Revive())
        self.dirty.add(app_id)
        return ApiReply(204, None)

    def _op_quarantine(self, req: ApiRequest) -> ApiReply:
        """``GET /v2/quarantine``: every stored record this leader refused to use, with
        where it is stored and why (see ``_quarantine.py``)."""
        return ApiReply(200, {"quarantined": self.q.to_json()})


_ALWAYS_SERVED = frozenset({"info", "metrics", "quarantine", "ping", "leader"})
"""Status operations."""
_SERVED_WHILE_ADOPTING = _ALWAYS_SERVED | frozenset(
    {
        # changes (their answers show definitions and deployment ids, never task states)
        "create_app",
        "put_app",
        "put_apps",
        "delete_app",
        "restart_app",
        "put_group",
        "delete_group",
        "create_pod",
        "put_pod",
        "delete_pod",
        "cancel_deployment",
        "reset_delay",
        # task kills: refused in ``_kill_tasks`` when a task asked for is still adopting
        "kill_app_tasks",
        "kill_task",
        "delete_tasks",
        # reads of definitions only
        "versions",
        "version",
        "pod_versions",
        "pod_version",
        "deployments",
    }
)
"""Operations a new leader serves while it is still adopting its tasks (``on_api``);
every other one (task lists, app and group views with task counts, pod status, the
queue) answers 503 until the tasks were heard of or ``adoption_timeout``."""
_APP_WRITES = frozenset({"put_app", "delete_app", "restart_app"})
"""Operations that replace an app's definition: they lift a run-time quarantine."""


def _label_matches(app: AppDefinition, selector: str) -> bool:
    """Marathon's label selector, simplified: ``key``, ``key==value``, ``key!=value``."""
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            k, v = term.split("!=", 1)
            if app.labels.get(k.strip()) == v.strip():
                return False
        elif "==" in term:
            k, v = term.split("==", 1)
            if app.labels.get(k.strip()) != v.strip():
                return False
        elif term and term not in app.labels:
            return False
    return True


def _merged_app_doc(existing: AppDefinition, update: dict[str, Any]) -> dict[str, Any]:
    """A group update's app merged onto ``existing`` as ``patch_app`` merges, keeping
    the id as the update gave it (relative ids resolve against the enclosing group)."""
    merged = merged_app_json(existing, update)
    merged["id"] = update.get("id", existing.id)
    return merged
