"""Marathon's JSON views of the core's state: apps (with counts, tasks, last failure),
groups, the launch queue (with why each app waits), deployments (with what each action
waits for), ``/v2/info`` and ``/metrics``. Read-only, no I/O; times from the event."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from actors.framework import LaunchBackoff
from actors.task_states import TaskState

from ._app import AppDefinition
from ._deployments import Deployments
from ._events import timestamp
from ._group import Group
from ._instances import STAGING, Instance, OfferStats, compact_json
from ._messages import FAILOVER_TIMEOUT, MARATHON_VERSION, ApiReply
from ._plan import StopApplication
from ._pods import PodDefinition
from ._readiness import waiting_text
from ._upgrade import waiting_reason


def encode_shown(doc: Any, shown: dict[int, Instance]) -> bytes:
    """``compact_json(doc)`` (``orjson.dumps(doc)``, byte for byte), where the task
    dicts in ``doc`` that ``shown`` maps (by ``id``) to their instance take that
    instance's cached text (``Instance.json_text``).

    Runs on the HTTP executor's thread: ``doc`` was built for this one request, and an
    instance's dict is replaced, never changed, when the instance changes."""
    if not shown:
        return compact_json(doc).encode()
    return _text(doc, shown).encode()


def _text(v: Any, shown: dict[int, Instance]) -> str:
    if type(v) is dict:
        inst = shown.get(id(v))
        if inst is not None:
            return inst.json_text(v)
        if not all(type(k) is str for k in v):
            return compact_json(v)
        return "{" + ",".join(compact_json(k) + ":" + _text(x, shown) for k, x in v.items()) + "}"
    if type(v) is list:
        parts = []
        for x in v:  # the hot loop: 100,000 tasks, most with a current cached text
            inst = shown.get(id(x))
            if inst is not None:
                cached = inst._text
                ok = cached is not None and cached[0] is x
                parts.append(cached[1] if ok else _text(x, shown))  # type: ignore[index]
            else:
                parts.append(_text(x, shown))
        return "[" + ",".join(parts) + "]"
    return compact_json(v)


def shown_reply(body: dict[str, Any], shown: dict[int, Instance]) -> ApiReply:
    """A 200 whose task dicts (``shown``) are encoded from their instances' texts."""
    return ApiReply(200, body, encode=lambda: encode_shown(body, shown))


class Views(Deployments):
    """Renders the state as Marathon's REST API shows it.

    ``shown``, when a view gets one, collects the instances whose task dicts it put in
    the answer (``id(dict) -> instance``), for ``shown_reply``."""

    def _counts(self, app: AppDefinition) -> dict[str, int]:
        staged = running = healthy = unhealthy = 0
        starting = (TaskState.STAGING.value, TaskState.STARTING.value)
        for inst in self.by_app.get(app.id, {}).values():
            if inst.running:
                running += 1
            elif inst.state in starting:
                staged += 1
            if inst.healthy is True:
                healthy += 1
            elif inst.healthy is False:
                unhealthy += 1
        return {
            "tasksStaged": staged,
            "tasksRunning": running,
            "tasksHealthy": healthy,
            "tasksUnhealthy": unhealthy,
        }

    def _deployments_of(self, app_id: str) -> list[dict[str, str]]:
        return [{"id": r.plan.id} for r in self.runs.values() if app_id in r.plan.affected_apps]

    def app_json(
        self, app: AppDefinition, embed: set[str], shown: dict[int, Instance] | None = None
    ) -> dict[str, Any]:
        out = app.to_json()
        out.update(self._counts(app))
        out["deployments"] = self._deployments_of(app.id)
        if "apps.tasks" in embed or "app.tasks" in embed:
            out["tasks"] = self.tasks_json(app, self.by_app.get(app.id, {}).values(), shown)
        if ("apps.lastTaskFailure" in embed or "app.lastTaskFailure" in embed) and (
            app.id in self.last_failure
        ):
            out["lastTaskFailure"] = self.last_failure[app.id]
        if "apps.readiness" in embed or "app.readiness" in embed:
            out["readinessCheckResults"] = self.readiness.results_json(app.id)
        return out

    @staticmethod
    def tasks_json(
        app: AppDefinition | None,
        instances: Iterable[Instance],
        shown: dict[int, Instance] | None = None,
    ) -> list[dict[str, Any]]:
        """The task dicts of ``instances`` (of ``app``), noted in ``shown``."""
        checks = bool(app and app.health_checks)
        if shown is None:
            return [i.to_json(checks) for i in instances]
        out = []
        for i in instances:
            d = i.to_json(checks)
            shown[id(d)] = i
            out.append(d)
        return out

    def waiting_reason(self, app_id: str) -> str:
        now = self.now
        backoff = self.backoff.get(app_id)
        if backoff is not None and backoff.is_delayed(now):
            left = (backoff.deadline or now) - now
            return (
                f"backoff: next launch in {left:.1f}s after {backoff.failures} "
                "consecutive failure(s)"
            )
        if not self.subscribed:
            return "waiting for the framework to (re)register with the master"
        stats = self.offer_stats.get(app_id)
        if stats is None or (stats.processed == 0):
            return "waiting for offers: none received yet"
        if stats.last_round:
            distinct = list(dict.fromkeys(stats.last_round))
            shown = "; ".join(distinct[:3])
            more = f" (+{len(distinct) - 3} more)" if len(distinct) > 3 else ""
            return f"waiting for offers: no offer matches: {shown}{more}"
        return "waiting for offers"

    def queue_json(self) -> dict[str, Any]:
        now = self.now
        out = []
        for app_id, count in sorted(self.queue.items()):
            app = self.deploying_app(app_id)
            if app is None or count <= 0:
                continue
            stats = self.offer_stats.get(app_id) or OfferStats()
            backoff = self.backoff.get(app_id) or LaunchBackoff.for_app(app)
            reject = [
                {"reason": reason, "declined": n, "processed": stats.processed}
                for reason, n in stats.reasons.most_common()
            ]
            out.append(
                {
                    "count": count,
                    "delay": backoff.to_json(now),
                    "since": timestamp(self.wall - (now - self.queued_since.get(app_id, now))),
                    ("pod" if isinstance(app, PodDefinition) else "app"): app.to_json(),
                    "processedOffersSummary": {
                        "processedOffersCount": stats.processed,
                        "unusedOffersCount": stats.unused,
                        "lastUnusedOfferAt": timestamp(stats.last_unused_at)
                        if stats.last_unused_at
                        else None,
                        "lastUsedOfferAt": timestamp(stats.last_used_at)
                        if stats.last_used_at
                        else None,
                        "rejectSummaryLastOffers": reject,
                        "rejectSummaryLaunchAttempt": reject,
                    },
                    "lastUnusedOffers": list(stats.last_unused),
                    "waitingReason": self.waiting_reason(app_id),
                }
            )
        return {"queue": out}

    def deployments_json(self, waiting: bool = False) -> list[dict[str, Any]]:
        """``GET /v2/deployments``: Marathon's shape; with ``waiting`` each current action
        also says what it waits for (pydcos' ``waitingFor``, a sentence)."""
        now = self.now
        out = []
        for run in self.runs.values():
            doc = run.plan.to_json(min(run.step + 1, len(run.plan.steps)))
            for action_doc, action in zip(doc["currentActions"], run.current(), strict=False):
                app_id = action.app.id
                action_doc["readinessCheckResults"] = self.readiness.results_json(app_id)
                if not waiting:
                    continue
                if app_id in run.done:
                    action_doc["waitingFor"] = "finished"
                    continue
                reasons = []
                readiness = waiting_text(self.readiness.waiting(app_id))
                state = self.restarts.get(app_id)
                if state is not None:
                    reason = waiting_reason(state, now)
                    if action.app.readiness_checks:  # the step machine's "healthy" is ready
                        reason = reason.replace("to become healthy", "to become ready")
                    reasons.append(reason)
                if self.queue.get(app_id):
                    reasons.append(f"{self.queue[app_id]} queued: {self.waiting_reason(app_id)}")
                elif state is None:
                    tasks = self.by_app.get(app_id, {})
                    if isinstance(action, StopApplication):
                        reasons.append(f"waiting for {len(tasks)} instance(s) to terminate")
                    else:
                        serving = sum(1 for i in tasks.values() if self.serving(i, action.app))
                        reasons.append(
                            f"{serving} of {action.app.instances} instance(s) running"
                            + (" and healthy" if action.app.health_checks else "")
                            + (f", {len(tasks)} alive" if len(tasks) != serving else "")
                        )
                if readiness:
                    reasons.append(readiness)
                action_doc["waitingFor"] = "; ".join(reasons)
            out.append(doc)
        return out

    def group_json(
        self, group: Group, embed: set[str], shown: dict[int, Instance] | None = None
    ) -> dict[str, Any]:
        app_embed = {e.replace("group.apps.", "apps.") for e in embed}
        out: dict[str, Any] = {
            "id": group.id,
            "apps": [
                self.app_json(a, app_embed, shown)
                for a in group.apps
                if not isinstance(a, PodDefinition)
            ],
            "groups": [self.group_json(g, embed, shown) for g in group.groups],
            "dependencies": list(group.dependencies),
            "version": group.version or self.root.version,
            "pods": [a.to_json() for a in group.apps if isinstance(a, PodDefinition)],
        }
        return out

    def info_json(self) -> ApiReply:
        """``GET /v2/info``: Marathon's fields, one to one (strict clients map them)."""
        url = self.http_url
        leader = url.removeprefix("http://").removeprefix("https://")
        return ApiReply(
            200,
            {
                "name": "marathon",
                "version": MARATHON_VERSION,
                "buildref": "pydcos",
                "elected": True,
                "leader": leader,
                "frameworkId": self.framework_id,
                "marathon_config": {
                    "master": self.master_address,
                    "failover_timeout": FAILOVER_TIMEOUT,
                    "framework_name": "marathon",
                    "hostname": self.hostname,
                    "decline_offer_duration": int(self.config.idle_refuse_seconds * 1000),
                    "reconciliation_interval": int(self.config.reconcile_interval * 1000),
                    "task_launch_timeout": 300000,
                    "mesos_role": "*",
                },
                "zookeeper_config": {"zk": "zk://.../marathon", "zk_session_timeout": 10000},
                "http_config": {"http_port": int(url.rsplit(":", 1)[-1] or 0) if url else 0},
                "event_subscriber": {"type": "http_callback", "http_endpoints": []},
            },
        )

    def metrics_json(self) -> ApiReply:
        """``GET /metrics``: Dropwizard-shaped gauges and counters."""
        gauges = {
            "marathon.apps.active.gauge": len(self.apps),
            "marathon.instances.running.gauge": sum(
                1 for i in self.instances.values() if i.running
            ),
            "marathon.instances.staged.gauge": sum(
                1 for i in self.instances.values() if i.state == STAGING
            ),
            "marathon.instances.total.gauge": len(self.instances),
            "marathon.deployments.active.gauge": len(self.runs),
            "marathon.launch-queue.count.gauge": sum(self.queue.values()),
            "marathon.events.subscribers.gauge": self.subscribers,
            "marathon.uptime.gauge": round(self.wall - self.started_wall, 3),
            "marathon.quarantined.gauge": len(self.q.entries),
            "marathon.adopting.gauge": len(self.adopting),
        }
        counters = {f"marathon.{k}.counter": v for k, v in sorted(self.counters.items())}
        return ApiReply(
            200,
            {
                "version": "4.0.0",
                "gauges": {k: {"value": v} for k, v in gauges.items()},
                "counters": {k: {"count": v} for k, v in counters.items()},
            },
        )
