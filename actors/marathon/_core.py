"""``MarathonCore``: Marathon's decisions as a step machine, no I/O.

```
 events                      MarathonCore (one MarathonState)       effects, in order
 ApiRequest, Offers,     --> _ops.py _offers.py _deployments.py --> Persist*/Delete*, AwaitStored,
 p.StatusUpdate(s), Tick,    _render.py _load.py _core.py (router,  Launch, Decline, Kill, Revive,
 Subscribed, Disconnected,   status, offers, tick)                  Suppress, Reconcile,
 Load, Stopping                                                     Acknowledge, Publish, Reply
 Stored / StoreFailed    <-- fed back by the shell after AwaitStored
```

``handle(event, now, wall) -> list[Effect]`` mutates the core's state and returns the
effects for the actor shell (``_actor.py``) to carry out IN ORDER (the ordering contract
is in ``_messages.py``): store effects come first, and a batch whose follow-up needs them
(a change before its HTTP answer, instance records before their launch, the framework
id before the reconciliation) ends with ``AwaitStored``; the shell answers ``Stored``
or ``StoreFailed`` before anything else. After each event the touched apps are
converged (launch queue, kills, deployment progress) unless a batch awaits the store.

Rules worth knowing:

* a task whose record cannot be stored is never launched (its offers are declined);
* status updates are acknowledged once handled; an instance that turns running is
  rewritten at the next tick (a new leader then shows it running);
* an exception handling one event is logged and counted (``handler_errors``,
  ``offer_errors``, ``converge_errors``) and never stops the actor;
* ``now`` is monotonic (delays, backoff), ``wall`` epoch seconds (everything shown).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from actors import protocol as p
from actors.framework import fit
from actors.resources import ResourceError, Resources
from actors.task_states import ENDED_STATES, TaskState

from . import _resident_offers
from ._events import timestamp
from ._instances import FAILURE_STATES, Instance, OfferStats, config_key
from ._load import Loading
from ._messages import (
    ApiRequest,
    Decline,
    Disconnected,
    Effect,
    FrameworkError,
    Kill,
    Launch,
    Load,
    MarathonConfig,
    Offers,
    PersistFrameworkId,
    PersistInstances,
    ReadinessResult,
    Reconcile,
    Revive,
    StatusUpdates,
    Stopping,
    Stored,
    StoreFailed,
    Subscribed,
    Tick,
)
from ._offers import (
    OfferPlan,
    QueueEntry,
    build_task,
    demand_of,
    forget_parsed,
    match_offers,
)
from ._pods import PodDefinition
from ._pods_status import on_member_update, reconcile_ids
from ._pods_tasks import build_pod_group
from ._state import StoreError, log
from ._store import app_key
from ._unreachable import UnreachableAction, unreachable_action
from ._upgrade import NewTaskFailed, NewTaskHealthy, NewTaskRunning, OldTaskTerminated


class MarathonCore(Loading):
    """Marathon's scheduler, deployments, launch queue and REST backend, as a step
    machine. Not thread-safe: the Marathon actor owns it and calls it from its thread."""

    def __init__(
        self,
        config: MarathonConfig | None = None,
        *,
        master_address: str = "",
        hostname: str = "localhost",
    ) -> None:
        super().__init__(config, master_address=master_address, hostname=hostname)

    # ------------------------------------------------------------------ router

    def handle(self, event: Any, now: float, wall: float) -> list[Effect]:
        """Apply one event at monotonic ``now`` / epoch ``wall``; return the effects to
        carry out in order. Raises TypeError for an event it does not know, and
        RuntimeError when a batch awaits the store and ``event`` is not its answer."""
        if self.pending is not None and not isinstance(event, Stored | StoreFailed):
            raise RuntimeError(
                f"marathon: {type(event).__name__} while a batch awaits the store "
                "(feed Stored or StoreFailed first)"
            )
        self.now, self.wall = now, wall
        self.q.wall = wall
        self.out = []
        if isinstance(event, Stored | StoreFailed):
            self._resume(event)
        elif isinstance(event, ApiRequest):
            self.on_api(event)
        elif isinstance(event, Load):
            self._on_load(event)
        elif isinstance(event, Stopping):
            self._flush_instances(best_effort=True)
            return self.out
        else:
            handler = _HANDLERS.get(type(event))
            if handler is None:
                raise TypeError(f"marathon: unexpected event {type(event).__name__}")
            try:
                handler(self, event)
            except Exception:
                self.counters["handler_errors"] += 1
                log.exception("marathon: handling %s failed; carrying on", type(event).__name__)
        if self.pending is None:
            self.converge()
            self._check_adopted()
            self.poll_readiness()
        return self.out

    @staticmethod
    def handles(event: Any) -> bool:
        """Whether ``handle`` knows ``event``."""
        return type(event) in _HANDLERS or isinstance(
            event, Stored | StoreFailed | ApiRequest | Load | Stopping
        )

    def _resume(self, event: Stored | StoreFailed) -> None:
        pending, self.pending = self.pending, None
        if pending is None:
            log.warning("marathon: %s with nothing awaiting the store", type(event).__name__)
            return
        try:
            if isinstance(event, Stored):
                pending.on_stored()
            else:
                pending.on_failed(
                    StoreError(event.error, transient=event.transient, too_large=event.too_large)
                )
        except Exception:
            self.counters["handler_errors"] += 1
            log.exception("marathon: resuming after the store answered failed; carrying on")

    # --------------------------------------------------------------- scheduler

    def _on_subscribed(self, m: Subscribed) -> None:
        first = self.framework_id != m.framework_id
        if not first:
            self._subscribed(m, first)
            return
        # Stored FIRST: a new leader must re-register with the same framework id.
        self.emit(PersistFrameworkId(m.framework_id))

        def failed(exc: StoreError) -> None:
            self.counters["handler_errors"] += 1
            log.error("marathon: storing the framework id failed: %s", exc.error)

        self.await_stored(lambda: self._subscribed(m, first), failed)  # type: ignore[arg-type]

    def _subscribed(self, m: Subscribed, first: bool) -> None:
        self.framework_id = m.framework_id
        self.subscribed = True
        self.suppressed = False
        self.publish(
            "scheduler_registered_event" if first else "scheduler_reregistered_event",
            frameworkId=m.framework_id,
            master=m.master_id,
        )
        log.info("marathon: subscribed as framework %s (master %s)", m.framework_id, m.master_id)
        # Explicit for what we know (an unknown one comes back TASK_UNKNOWN), implicit
        # for what the master knows and we do not (orphans are killed).
        if self.instances:
            self.emit(Reconcile(tuple(reconcile_ids(self))))
        self.emit(Reconcile())
        self.last_reconcile = self.now
        self.resend_kills()
        self.dirty.update(self.by_app)
        self.dirty.update(self.apps)

    def _on_disconnected(self, m: Disconnected) -> None:
        self.subscribed = False
        self.publish("scheduler_disconnected_event", message="leader changed")

    def _on_framework_error(self, m: FrameworkError) -> None:
        self.counters["framework_errors"] += 1
        log.warning("marathon: the master refused a call: %s", m.message)

    def _flush_instances(
        self,
        *,
        then: Callable[[], None] | None = None,
        failed: Callable[[Exception], None] | None = None,
        best_effort: bool = False,
    ) -> None:
        """Write the instance records of every dirty app. Unless ``best_effort``, wait
        for the store: the apps stay dirty until it confirms, then ``then()``; on a
        failure ``failed(error)`` (default: log; the next tick retries)."""
        apps = sorted(self.persist_dirty)
        for app_id in apps:
            records = [i.record() for i in self.by_app.get(app_id, {}).values()]
            records += self.resident.records(app_id)  # resident apps' reservations
            self.emit(PersistInstances(app_id, records, best_effort=best_effort))
        if best_effort:
            self.persist_dirty.clear()
            return

        def stored() -> None:
            self.persist_dirty.difference_update(apps)
            if then is not None:
                then()

        def not_stored(exc: Exception) -> None:
            err = exc.error if isinstance(exc, StoreError) else exc
            log.warning("marathon: saving instances failed (retrying): %s", err)
            if failed is not None:
                failed(exc)

        self.await_stored(stored, not_stored)

    # ------------------------------------------------------------------ offers

    def _on_offers(self, m: Offers) -> None:
        """Match the offers against the launch queue; store the new instances' records,
        THEN launch them (on a store failure nothing is launched and every offer is
        declined); decline the rest. Whatever raises declines every offer (never leaked)
        and counts against the app that makes matching fail (quarantined if it keeps
        failing)."""
        offers = m.offers
        try:
            self._match(offers)
        except Exception:
            self._offers_failed(offers)
        finally:
            forget_parsed()  # the batch is matched: its offers' memo goes (memory)

    def _offers_failed(self, offers: list[p.Offer]) -> None:
        self.counters["offer_errors"] += 1
        log.exception("marathon: handling %d offer(s) failed; declining them", len(offers))
        if self.subscribed:
            self.emit(
                Decline(
                    tuple(o.offer_id for o in offers),
                    self.config.decline_refuse_seconds,
                    "handling the offers failed",
                )
            )
        for app_id in list(self.queue):
            app = self.apps.get(app_id)
            if app is None or not offers:
                continue
            try:
                fit(demand_of(app), Resources.from_dict(offers[0].resources))
            except ResourceError:
                continue
            except Exception as exc:
                self.app_failed(app_id, f"matching offers failed: {type(exc).__name__}: {exc}")

    def launch_queue(self) -> list[QueueEntry]:
        """The apps waiting for launches, with the definition new instances get."""
        out = []
        for app_id, count in self.queue.items():
            app = self.deploying_app(app_id)
            if app is None or count <= 0:
                continue
            out.append(QueueEntry(app, count, self.backoff.get(app_id)))
        return out

    def _match(self, offers: list[p.Offer]) -> None:
        now, wall = self.now, self.wall
        self.counters["offers_received"] += len(offers)
        if not self.subscribed:
            return
        queue = self.launch_queue()
        resident = _resident_offers.match(
            self.resident,
            queue,
            offers,
            framework_id=self.framework_id or "",
            live_tasks=self.instances,  # membership only: no 50,000-id set per offer
            apps=self.apps,
            now=now,
        )
        for op in resident.operations:
            self.emit(op)
        self.persist_dirty.update(resident.changed_apps)
        queue, offers = resident.queue_left, resident.offers_left
        placed = {
            e.app.id: [
                self.agent_of(i) for i in self.by_app.get(e.app.id, {}).values() if not i.killing
            ]
            for e in queue
            if e.app.constraints
        }
        plan = match_offers(queue, offers, placed, now)
        self.agents.update(plan.agents)
        for offer_id, error in plan.bad_offers:
            log.warning("marathon: offer %s has bad resources: %s", offer_id, error)
        self._count_offers(queue, offers, plan, wall)
        launches: list[tuple[p.Offer, list[p.TaskInfo]]] = []
        new_instances: list[Instance] = []
        for offer, app, reservation, need, ports in resident.launches:
            task, inst = _resident_offers.launch_on(offer, app, reservation, need, ports, wall)
            launches.append((offer, [task]))
            new_instances.append(inst)
        for offer, placements in plan.launches:
            tasks = []
            for pl in placements:
                if isinstance(pl.app, PodDefinition):  # a pod instance: one task group
                    group, inst = build_pod_group(pl.app, offer, pl.resources, list(pl.ports), wall)
                    tasks.extend(group)
                else:
                    task, inst = build_task(pl.app, offer, pl.resources, list(pl.ports), wall)
                    tasks.append(task)
                new_instances.append(inst)
            launches.append((offer, tasks))
        if not new_instances:
            self._decline(plan)
            return
        # Persist BEFORE launching: a new leader must know every task it may meet.
        for inst in new_instances:
            self.add_instance(inst)
            self.persist_dirty.add(inst.app_id)

        def stored() -> None:
            try:
                for inst in new_instances:
                    self.dirty.add(inst.app_id)
                    if inst.app_id in self.restarts:
                        self.restart_event(inst, NewTaskRunning(inst.task_id))
                for offer, tasks in launches:
                    self.emit(Launch(offer.offer_id, tasks, refuse_seconds=1.0))
                self.counters["tasks_launched"] += len(new_instances)
                self._decline(plan)
            except Exception:
                self._offers_failed(offers)

        def failed(exc: Exception) -> None:
            log.warning("marathon: not launching %d task(s)", len(new_instances))
            for inst in new_instances:
                self.remove_instance(inst)
            self.emit(
                Decline(
                    tuple(o.offer_id for o in offers),
                    self.config.decline_refuse_seconds,
                    "storing the instance records failed",
                )
            )

        self._flush_instances(then=stored, failed=failed)

    def _decline(self, plan: OfferPlan) -> None:
        if not plan.declines:
            return
        waiting = any(n > 0 for n in plan.left.values()) or any(n > 0 for n in self.queue.values())
        refuse = self.config.decline_refuse_seconds if waiting else self.config.idle_refuse_seconds
        # Each offer is declined with ITS refusals (the master quotes the reason on that
        # agent's FILTERED row); offers with the same reason share one Decline.
        per_offer: dict[str, dict[str, list[str]]] = {}
        for r in plan.rejections:
            per_offer.setdefault(r.offer.offer_id, {}).setdefault(r.app_id, []).append(r.detail)
        delayed = sorted(a for a, n in self.queue.items() if n > 0 and a not in plan.left)
        idle = f"in backoff: {', '.join(delayed)}" if delayed else "nothing to launch"
        groups: dict[str, list[str]] = {}
        for offer_id in plan.declines:
            reasons = per_offer.get(offer_id, {})
            why = "; ".join(
                f"{app_id}: {'; '.join(dict.fromkeys(r))}" for app_id, r in sorted(reasons.items())
            )
            groups.setdefault((why or idle)[:_REASON_CHARS], []).append(offer_id)
        for why, offer_ids in groups.items():
            self.emit(Decline(tuple(offer_ids), refuse, why))
        self.counters["offers_declined"] += len(plan.declines)

    def _count_offers(
        self, queue: list[QueueEntry], offers: list[p.Offer], plan: OfferPlan, wall: float
    ) -> None:
        """Marathon's processedOffersSummary from the plan: offers processed and unused
        per app, reject reasons, and this batch's reasons for ``waitingReason``."""
        if offers:
            for e in queue:
                if not (e.backoff is not None and e.backoff.is_delayed(self.now)):
                    self.offer_stats.setdefault(e.app.id, OfferStats())
        for app_id, n in plan.processed.items():
            self.offer_stats.setdefault(app_id, OfferStats()).processed += n
        for r in plan.rejections:
            stats = self.offer_stats.setdefault(r.app_id, OfferStats())
            stats.reasons[r.reason] += 1
            stats.unused += 1
            stats.last_unused_at = wall
            stats.last_unused.append(
                {
                    "offer": {
                        "id": r.offer.offer_id,
                        "agentId": r.offer.agent_id,
                        "hostname": r.offer.hostname,
                    },
                    "timestamp": timestamp(wall),
                    "reason": [r.detail],
                }
            )
        for app_id in plan.used:
            self.offer_stats.setdefault(app_id, OfferStats()).last_used_at = wall
        for app_id, reasons in plan.reasons.items():
            self.offer_stats.setdefault(app_id, OfferStats()).last_round = reasons

    # ------------------------------------------------------------------ status

    def _on_status(self, u: p.StatusUpdate) -> None:
        routed = on_member_update(self, u)  # a pod member's update -> its instance's
        if routed is None:
            return
        u = routed
        inst = self.instances.get(u.task_id)
        if inst is None and u.task_id in self.q.tasks | self._quarantined_task_owner(u.task_id):
            self.ack(u)  # a quarantined record's task: neither adopted nor killed
            return
        before = inst.state if inst is not None else None
        self._on_update(u)
        if (
            inst is not None
            and inst.running
            and before != inst.state
            and self.instances.get(inst.task_id) is inst
        ):
            # Stored as running (flushed at the next tick), so a new leader shows it
            # running from the start instead of as the staging task it was launched as.
            self.persist_dirty.add(inst.app_id)

    def _on_statuses(self, m: StatusUpdates) -> None:
        """Each update as ``_on_status`` would take it alone (an update never awaits the
        store), one failing without the others; ``handle`` then converges once."""
        for u in m.updates:
            try:
                self._on_status(u)
            except Exception:
                self.counters["handler_errors"] += 1
                log.exception("marathon: handling the update of %s failed; carrying on", u.task_id)

    def _quarantined_task_owner(self, task_id: str) -> set[str]:
        """``{task_id}`` when the task belongs to an app the converge loop leaves alone
        and that has no record of it (its instance records were unreadable)."""
        prefix = task_id.rsplit(".", 1)[0]
        for app_id in self.q.apps:
            if app_id not in self.by_app and app_key(app_id).lstrip("_") == prefix:
                return {task_id}
        return set()

    def _check_adopted(self) -> None:
        if not self.adopting:
            return
        self.adopting = {
            t for t in self.adopting if (i := self.instances.get(t)) is not None and not i.heard
        }
        if self.adopting and self.now >= self.adopt_deadline:
            log.warning(
                "marathon: %d task(s) not heard of within %.0f s of the election; serving",
                len(self.adopting),
                self.config.adoption_timeout,
            )
            self.adopting = set()
        if not self.adopting:
            log.info("marathon: state loaded and tasks adopted; serving requests")

    def _on_update(self, u: p.StatusUpdate) -> None:
        now = self.now
        wall = self.wall
        self.counters["status_updates"] += 1
        inst = self.instances.get(u.task_id)
        if inst is None:
            if u.state not in ENDED_STATES and self.subscribed:
                log.warning("marathon: killing unknown task %s (%s)", u.task_id, u.state)
                self.emit(Kill(u.task_id))
            self.ack(u)
            return
        if not inst.heard and inst.app_id in self.scale_deferred:
            # The first answer since the election: its deferred surplus may be chosen
            # now (``_converge_app``). Only such apps: after a failover every task
            # answers the reconciliation, mostly with the state already stored.
            self.dirty.add(inst.app_id)
        inst.heard = True
        self.touched.add(inst.app_id)
        app = self.apps.get(inst.app_id)
        has_checks = bool(app and app.health_checks)
        old_state, old_healthy = inst.state, inst.healthy
        shown_before = _shown_fields(inst)
        inst.state = u.state
        if u.agent_id and not inst.agent_id:
            inst.agent_id = u.agent_id
        self.publish(
            "status_update_event",
            slaveId=inst.agent_id,
            taskId=inst.task_id,
            taskStatus=u.state,
            message=u.message,
            appId=inst.app_id,
            host=inst.host,
            ipAddresses=[{"ipAddress": inst.ip or inst.host, "protocol": "IPv4"}],
            ports=inst.ports,
            version=inst.version,
        )
        if u.healthy is not None:
            # Health arrives with any update: the agent's on a change, the master's
            # reconciliation answer (the latest known health) after a failover.
            inst.healthy = u.healthy
            if u.healthy:
                inst.last_success = wall
                if inst.first_success is None:
                    inst.first_success = wall
                inst.consecutive_failures = 0
            else:
                inst.last_failure = wall
                inst.consecutive_failures += 1
                inst.failure_cause = u.message or "health check failed"
            if u.healthy != old_healthy:
                self.publish(
                    "health_status_changed_event",
                    appId=inst.app_id,
                    instanceId=inst.task_id,
                    taskId=inst.task_id,
                    version=inst.version,
                    alive=u.healthy,
                )
                if not u.healthy:
                    self.publish(
                        "failed_health_check_event",
                        appId=inst.app_id,
                        taskId=inst.task_id,
                        instanceId=inst.task_id,
                        healthCheck=app.health_checks[0].to_json() if has_checks and app else {},
                    )
        if u.state == TaskState.UNREACHABLE.value:
            if inst.unreachable_since is None:
                inst.unreachable_since = now
                self.note_unreachable(inst)
        elif u.state == TaskState.RUNNING.value:
            if inst.unreachable_since is not None:
                inst.unreachable_since = None
                self.note_unreachable(inst)
            if inst.inactive:
                inst.inactive = False
                self.note_live(inst)
            if inst.started_at is None:
                inst.started_at = u.timestamp or wall
        if _shown_fields(inst) != shown_before:
            # Only a visible change re-renders: the periodic reconciliation answers every
            # task with its unchanged state, which dropped 100,000 tasks' cached JSON.
            inst._json = None
            self.task_lists.note(inst)
        if u.state in ENDED_STATES:
            self._terminated(inst, u, now)
        else:
            serving = inst.running and (inst.healthy is True if has_checks else True)
            if serving:
                backoff = self.backoff.get(inst.app_id)
                if backoff is not None and backoff.failures:
                    self.backoff[inst.app_id] = backoff.task_running()
                app_now = self.deploying_app(inst.app_id)
                if app_now is None or self.readiness_ok(inst, app_now):
                    self.restart_event(inst, NewTaskHealthy(inst.task_id))
            if old_state != u.state or old_healthy != inst.healthy:
                self.dirty.add(inst.app_id)
        self.ack(u)

    def _terminated(self, inst: Instance, u: p.StatusUpdate, now: float) -> None:
        self.remove_instance(inst)
        self.persist_dirty.add(inst.app_id)
        self.dirty.add(inst.app_id)
        requested = inst.killing
        if not requested and u.state in FAILURE_STATES | {TaskState.KILLED.value}:
            self.counters["task_failures"] += 1
            self.last_failure[inst.app_id] = {
                "appId": inst.app_id,
                "host": inst.host,
                "message": u.message,
                "state": u.state,
                "taskId": inst.task_id,
                "timestamp": timestamp(self.wall),
                "version": inst.version,
                "slaveId": inst.agent_id,
            }
            backoff = self.backoff.get(inst.app_id)
            if backoff is not None:
                self.backoff[inst.app_id] = backoff.task_failed(now)
            if u.state == TaskState.KILLED.value and inst.healthy is False:
                self.publish(
                    "unhealthy_instance_kill_event",
                    appId=inst.app_id,
                    taskId=inst.task_id,
                    instanceId=inst.task_id,
                    version=inst.version,
                    reason=u.message or "health check failed",
                    host=inst.host,
                    slaveId=inst.agent_id,
                )
        state = self.restarts.get(inst.app_id)
        if state is not None:
            app = self.deploying_app(inst.app_id)
            if app is not None and inst.config_version == config_key(app):
                self.restart_event(inst, NewTaskFailed(inst.task_id))
            else:
                self.restart_event(inst, OldTaskTerminated(inst.task_id))

    def _on_readiness(self, r: ReadinessResult) -> None:
        """A readiness check answered: once ready, a serving instance counts for its
        deployment step (a rolling upgrade may kill an old instance for it)."""
        probe = self.readiness.answer(
            r.task_id,
            r.seq,
            self.now,
            status=r.status,
            content_type=r.content_type,
            body=r.body,
            error=r.error,
        )
        inst = self.instances.get(r.task_id)
        if inst is None:
            return
        self.dirty.add(inst.app_id)
        app = self.deploying_app(inst.app_id)
        if probe is not None and app is not None and self.serving(inst, app):
            log.info("marathon: task %s is ready (%s)", inst.task_id, probe.url)
            self.restart_event(inst, NewTaskHealthy(inst.task_id))

    def _on_tick(self) -> None:
        now = self.now
        self.sweep_all = True  # this tick's converge looks at every deployment
        for app_id, backoff in self.backoff.items():
            if backoff.deadline is not None and backoff.deadline <= now and app_id in self.queue:
                # The delay is over: offers declined meanwhile may have filters on them.
                self.backoff[app_id] = dataclasses.replace(backoff, deadline=None)
                if self.subscribed:
                    self.emit(Revive())
        # Only the unreachable instances (indexed), in the order of ``instances``.
        for inst in sorted(self.unreachable.values(), key=_seq):
            if inst.unreachable_since is None or self.instances.get(inst.task_id) is not inst:
                self.unreachable.pop(inst.task_id, None)
                continue
            app = self.apps.get(inst.app_id)
            strategy = app.unreachable_strategy if app is not None else None
            verdict = unreachable_action(inst.unreachable_since, inst.inactive, strategy, now)
            if verdict is UnreachableAction.EXPUNGE:
                log.info("marathon: expunging unreachable task %s", inst.task_id)
                self.kill(inst, "Expunged")
                self.remove_instance(inst)
                self.persist_dirty.add(inst.app_id)
                self.dirty.add(inst.app_id)
            elif verdict is UnreachableAction.INACTIVATE:
                log.info("marathon: unreachable task %s is inactive: replacing it", inst.task_id)
                inst.inactive = True
                self.note_live(inst)
                self.dirty.add(inst.app_id)
        if self.scale_deferred and now >= self.adopt_deadline:
            self.dirty |= self.scale_deferred  # silent tasks: choose the surplus anyway
            self.scale_deferred = set()
        self.retry_kills(now)
        if self.subscribed and now - self.last_reconcile >= self.config.reconcile_interval:
            self.emit(Reconcile())
            self.last_reconcile = now
        if self.runs:
            for run in self.runs.values():
                for action in run.current():
                    self.dirty.add(action.app.id)
        if self.persist_dirty:
            self._flush_instances()  # on a failure still dirty: retried at the next tick
        if now >= self.adopt_deadline:
            # Not in a new leader's first adoption_timeout: rendering the 100,000 task
            # texts it just loaded took ~5 CPU-s of a 10k/100k recovery, beside the
            # agents' re-registration storm (a list asked meanwhile renders them then).
            # As many as the periods since the last tick would have rendered (a busy
            # actor gets one tick for several), up to PRERENDER_PERIODS' worth.
            periods = 1.0
            if self.last_tick is not None and self.config.tick_interval > 0:
                periods = (now - self.last_tick) / self.config.tick_interval
            periods = min(max(periods, 1.0), PRERENDER_PERIODS)
            limit = round(self.task_lists.PRERENDER * periods)
            self.task_lists.prerender(self.instances, self._listed_checks, limit)
        self.last_tick = now

    def _listed_checks(self, app_id: str) -> bool | None:
        """Whether ``app_id``'s tasks show health results in task lists (None: a pod's
        instances, which task lists leave out)."""
        app = self.apps.get(app_id)
        if isinstance(app, PodDefinition):
            return None
        return bool(app and app.health_checks)


PRERENDER_PERIODS = 40.0
"""A late tick renders the task texts of at most this many tick periods at once (10 s
of them: behind a launch's queued status updates a tick came every few seconds, and
with one period's worth each the first ``/v2/tasks`` after a 10k/100k launch rendered
what they had left, 0.7-1.7 s instead of 0.4)."""


def _seq(inst: Instance) -> int:
    return inst.seq


def _shown_fields(inst: Instance) -> tuple[Any, ...]:
    """What of an instance its task JSON shows that a status update may change."""
    return (
        inst.state,
        inst.agent_id,
        inst.started_at,
        inst.healthy,
        inst.first_success,
        inst.last_success,
        inst.last_failure,
        inst.failure_cause,
        inst.consecutive_failures,
    )


_REASON_CHARS = 1000
"""A decline's reason is for logs and the harness: bounded, however many apps wait."""

_HANDLERS: dict[type, Callable[[MarathonCore, Any], None]] = {
    p.StatusUpdate: MarathonCore._on_status,
    StatusUpdates: MarathonCore._on_statuses,
    Offers: MarathonCore._on_offers,
    Tick: lambda core, _: core._on_tick(),
    Subscribed: MarathonCore._on_subscribed,
    Disconnected: MarathonCore._on_disconnected,
    FrameworkError: MarathonCore._on_framework_error,
    ReadinessResult: MarathonCore._on_readiness,
}
