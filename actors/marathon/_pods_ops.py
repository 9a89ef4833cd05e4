"""Marathon's ``/v2/pods`` operations (``_op_<name>``, dispatched like the app ones).

A pod change is a deployment exactly as an app change is (``Deployments.deploy``: the
plan, locks, versions and root stored first, then the answer), since a pod sits in the
group tree as a ``PodDefinition``. Shapes follow Marathon's RAML: a created or updated
pod answers the pod JSON with ``Marathon-Deployment-Id``; delete answers 202; an
instance kill answers the killed instance's status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._app import AppDefinition, stamp_version
from ._errors import ValidationFailed
from ._messages import ApiReply, ApiRequest
from ._paths import normalize_path, parent_of
from ._pods import PodDefinition
from ._pods_status import pod_instance_json, pod_status_json
from ._render import Views
from ._state import Answer, Deferred, Refused, Run, not_found


class PodOperations(Views):
    """The pod half of the REST API (``Operations`` inherits it)."""

    if TYPE_CHECKING:  # defined by ``Operations``, which inherits this class

        def _now_version(self) -> str: ...

        def _drop_versions(self, app_ids: list[str], run: Run) -> Answer: ...

    def _pod_or_404(self, pod_id: str | None) -> PodDefinition:
        pod = self.apps.get(pod_id or "")
        if not isinstance(pod, PodDefinition):
            raise not_found(f"Pod '{pod_id}' does not exist")
        return pod

    def _pod_headers(self, pod: AppDefinition, run: Run) -> dict[str, str]:
        return {
            "Location": f"/v2/pods{pod.id}",
            "Marathon-Deployment-Id": run.plan.id,
            "Marathon-Deployment-Version": run.plan.version,
        }

    def _parse_pod(self, body: Any, version: str, pod_id: str | None = None) -> PodDefinition:
        if not isinstance(body, dict):
            raise ValidationFailed.single("/", "a pod must be a JSON object")
        if pod_id is not None:
            given = body.get("id")
            if given is not None and isinstance(given, str):
                try:
                    same = normalize_path(given) == pod_id
                except Exception:
                    same = False
                if not same:
                    raise ValidationFailed.single(
                        "/id", f"the pod id {given!r} does not match the URL's {pod_id}"
                    )
            body = dict(body, id=pod_id)
        return PodDefinition.from_json(body, version=version)

    def _placeable(self, pod: PodDefinition, existing: PodDefinition | None) -> None:
        if existing is None and (pod.id in self.apps or self.root.find_group(pod.id)):
            raise Refused(
                409, {"message": f"An app, pod or group with id [{pod.id}] already exists."}
            )
        if self.root.app(parent_of(pod.id)) is not None:
            raise ValidationFailed.single("/id", f"{parent_of(pod.id)} is an app, not a group")

    def _op_list_pods(self, req: ApiRequest) -> ApiReply:
        pods = [a for _, a in sorted(self.apps.items()) if isinstance(a, PodDefinition)]
        return ApiReply(200, [p.to_json() for p in pods])

    def _op_get_pod(self, req: ApiRequest) -> ApiReply:
        return ApiReply(200, self._pod_or_404(req.app_id).to_json())

    def _op_create_pod(self, req: ApiRequest) -> Answer:
        version = self._now_version()
        pod = self._parse_pod(req.body, version)
        self._placeable(pod, None)
        stamped = stamp_version(pod, None, version)

        def created(run: Run) -> ApiReply:
            self.publish("pod_created_event", clientIp="", uri=f"/v2/pods{pod.id}")
            return ApiReply(201, stamped.to_json(), self._pod_headers(stamped, run))

        return self.deploy(
            self.root.put_app(stamped),
            version,
            force=bool(req.params.get("force", False)),
            then=created,
        )

    def _op_put_pod(self, req: ApiRequest) -> Answer:
        pod_id = normalize_path(req.app_id or "")
        version = self._now_version()
        pod = self._parse_pod(req.body, version, pod_id)
        existing = self.apps.get(pod_id)
        if existing is not None and not isinstance(existing, PodDefinition):
            raise Refused(409, {"message": f"{pod_id} is an app, not a pod"})
        self._placeable(pod, existing)
        stamped = stamp_version(pod, existing, version)

        def updated(run: Run) -> ApiReply:
            self.publish("pod_updated_event", clientIp="", uri=f"/v2/pods{pod.id}")
            status = 200 if existing is not None else 201
            return ApiReply(status, stamped.to_json(), self._pod_headers(stamped, run))

        return self.deploy(
            self.root.put_app(stamped),
            version,
            force=bool(req.params.get("force", False)),
            then=updated,
        )

    def _op_delete_pod(self, req: ApiRequest) -> Answer:
        pod = self._pod_or_404(req.app_id)
        version = self._now_version()

        def deleted(run: Run) -> Answer:
            self.publish("pod_deleted_event", clientIp="", uri=f"/v2/pods{pod.id}")
            answer = self._drop_versions([pod.id], run)

            def accepted() -> Answer:
                inner = answer.then() if isinstance(answer, Deferred) else answer
                if isinstance(inner, ApiReply):
                    return ApiReply(202, None, dict(inner.headers))
                return inner

            return Deferred(accepted)

        return self.deploy(
            self.root.remove_app(pod.id),
            version,
            force=bool(req.params.get("force", False)),
            then=deleted,
        )

    def _deleting(self, pod_id: str) -> bool:
        return any(
            pod_id in r.plan.affected_apps and r.plan.target.app(pod_id) is None
            for r in self.runs.values()
        )

    def _op_pod_status(self, req: ApiRequest) -> ApiReply:
        pod = self._pod_or_404(req.app_id)
        instances = sorted(self.by_app.get(pod.id, {}).values(), key=lambda i: i.staged_at)
        return ApiReply(200, pod_status_json(self, pod, instances, self._deleting(pod.id)))

    def _op_all_pod_status(self, req: ApiRequest) -> ApiReply:
        out = []
        for _, pod in sorted(self.apps.items()):
            if isinstance(pod, PodDefinition):
                instances = sorted(self.by_app.get(pod.id, {}).values(), key=lambda i: i.staged_at)
                out.append(pod_status_json(self, pod, instances, self._deleting(pod.id)))
        return ApiReply(200, out)

    def _op_kill_pod_instances(self, req: ApiRequest) -> ApiReply:
        """``DELETE ::instances/{id}`` (one) or ``::instances`` with a JSON array of
        ids: the instances are killed and, as the pod still wants them, replaced."""
        pod = self._pod_or_404(req.app_id)
        one = req.params.get("instance_id")
        ids = [one] if one is not None else req.body
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValidationFailed.single("/", "expected a JSON array of instance ids")
        known = self.by_app.get(pod.id, {})
        missing = [i for i in ids if i not in known]
        if missing:
            raise not_found(f"Pod '{pod.id}' has no instance {missing[0]}")
        docs = []
        for instance_id in ids:
            inst = known[instance_id]
            self.kill(inst, "KillingTasksViaApi")
            docs.append(pod_instance_json(self, inst, pod))
        self.dirty.add(pod.id)
        return ApiReply(200, docs[0] if one is not None else docs)

    def _op_pod_versions(self, req: ApiRequest) -> ApiReply:
        pod = self._pod_or_404(req.app_id)
        history = self.versions.get(pod.id, [])
        return ApiReply(200, [v.get("version") for v in reversed(history)])

    def _op_pod_version(self, req: ApiRequest) -> ApiReply:
        pod = self._pod_or_404(req.app_id)
        wanted = req.params.get("version")
        for doc in self.versions.get(pod.id, []):
            if doc.get("version") == wanted:
                return ApiReply(200, doc)
        raise not_found(f"Pod '{pod.id}' has no version {wanted}")
