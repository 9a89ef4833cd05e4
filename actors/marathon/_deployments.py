"""Deployments in motion and converging apps to them (over ``MarathonState``).

After every event the core *converges* each touched ("dirty") app: the launch queue
gets the missing instances, surplus ones are killed in ``kill_order`` (through
``_upgrade.scale_effects``), and deployment actions advance; the rolling-upgrade step
machine of ``_upgrade.py`` drives restarts. ``deploy`` plans a change and emits its
records (deployment, versions, root) BEFORE anything else: it returns a ``Deferred``
that applies the change once they are stored.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from actors.framework import LaunchBackoff

from ._app import AppDefinition, VersionInfo, vip_conflict_problems
from ._errors import ValidationFailed
from ._group import Group
from ._instances import Instance, OfferStats, config_key
from ._messages import (
    CheckReadiness,
    DeleteDeployment,
    PersistDeployment,
    PersistRoot,
    PersistVersions,
    Revive,
    Suppress,
)
from ._paths import ROOT
from ._plan import DeploymentAction, RestartApplication, StopApplication, plan_deployment
from ._resident import has_work, resident_change_problems
from ._state import Answer, Deferred, MarathonState, Refused, Run, log
from ._store import keep_versions
from ._upgrade import (
    DeploymentActionFinished,
    KillTasks,
    NewTaskHealthy,
    scale_effects,
    start_restart,
    step,
)
from ._upgrade import TaskInfo as UpgradeTask


class Deployments(MarathonState):
    """Deployments, rolling upgrades and the converge loop."""

    def restart_event(self, inst: Instance, event: Any) -> None:
        state = self.restarts.get(inst.app_id)
        if state is None:
            return
        if isinstance(event, NewTaskHealthy):
            app = self.deploying_app(inst.app_id)
            if app is None or inst.config_version != config_key(app):
                return
        state, effects = step(state, event, self.now)
        self.restarts[inst.app_id] = state
        self._apply(effects)
        self.dirty.add(inst.app_id)

    def readiness_ok(self, inst: Instance, app: AppDefinition) -> bool:
        """Its readiness check passed, or ``app`` has none (``_readiness.py``)."""
        return not app.readiness_checks or self.readiness.is_ready(inst.task_id)

    def poll_readiness(self) -> None:
        """Emit the readiness checks due now: RUNNING instances on the config of a
        start, scale or restart in motion; forget the probes of everything else.
        Never raises (logged and counted, retried at the next event)."""
        try:
            self._poll_readiness()
        except Exception:
            log.exception("marathon: polling readiness checks failed; retried later")
            self.counters["readiness_errors"] += 1

    def _poll_readiness(self) -> None:
        keep: list[str] = []
        now = self.now
        for run in self.runs.values():
            for action in run.current():
                app = action.app
                if isinstance(action, StopApplication) or not app.readiness_checks:
                    continue
                key = config_key(app)
                for inst in self.by_app.get(app.id, {}).values():
                    if inst.config_version != key or inst.killing:
                        continue
                    keep.append(inst.task_id)
                    if not inst.running or not inst.heard or app.id in run.done:
                        continue
                    r = self.readiness.poll(app, inst, now)
                    if r is not None:
                        self.emit(CheckReadiness(r.task_id, r.check_name, r.url, r.timeout, r.seq))
        self.readiness.keep(keep)

    def _apply(self, effects: Iterable[Any]) -> None:
        for effect in effects:
            if isinstance(effect, KillTasks):
                for task_id in effect.task_ids:
                    inst = self.instances.get(task_id)
                    if inst is not None:
                        self.kill(inst, effect.reason)
            elif isinstance(effect, DeploymentActionFinished):
                self.dirty.add(effect.app_id)
            # LaunchTasks: the queue is derived from the restart state in _converge_app.

    def converge(self) -> None:
        """Converge every dirty app. One app's failure is caught, logged and counted,
        and that app is skipped for this cycle (retried at the next message, and
        quarantined after ``failures_to_quarantine`` failures in a row); quarantined
        apps are left alone entirely. Never raises."""
        failed: set[str] = set()
        try:
            if not self.dirty:
                self._suppress_or_revive()
                return
            before = sum(self.queue.values())
            for _ in range(10):  # finishing a step may dirty apps of the next one
                dirty, self.dirty = self.dirty - failed, set()
                self.touched |= dirty
                for app_id in sorted(dirty):
                    if app_id in self.q.apps:
                        self.queue.pop(app_id, None)
                        self.queued_since.pop(app_id, None)
                        continue
                    try:
                        self._converge_app(app_id)
                    except Exception as exc:
                        log.exception("marathon: converging %s failed; skipped this cycle", app_id)
                        self.counters["converge_errors"] += 1
                        self.app_failed(app_id, f"converging failed: {type(exc).__name__}: {exc}")
                        failed.add(app_id)
                    else:
                        self.q.failures.pop(app_id, None)
                if not self._advance_safely(None if self.sweep_all else self.touched):
                    break
                if not self.dirty - failed:
                    break
            self.touched = set()
            if sum(self.queue.values()) > before and self.subscribed:
                self.revive_wanted = True  # new work: clear our decline filters (paced)
            self._suppress_or_revive()
        except Exception:
            log.exception("marathon: the converge loop failed; retried at the next message")
            self.counters["converge_errors"] += 1
        finally:
            self.dirty |= failed - set(self.q.apps)

    def _converge_app(self, app_id: str) -> None:
        now = self.now
        app = self.deploying_app(app_id)
        tasks = self.by_app.get(app_id, {})
        restart = self.restarts.get(app_id)
        want = 0
        if app is None:
            for inst in list(tasks.values()):
                if not inst.killing:
                    self.kill(inst, "DeletingApp")
        elif restart is not None:
            want = restart.pending_launches
        else:
            # Counted from the index, not by walking the app's instances: this runs after
            # every update of the app (an app of 1,000 instances cost 1,000 checks each).
            n_live = self.live_count(app_id)
            if n_live < app.instances:
                want = app.instances - n_live
            elif (
                n_live > app.instances
                and now < self.adopt_deadline
                and any(not i.heard for i in _live(tasks))
            ):
                # Just elected, and some of these records were not heard of since: the
                # stored states may lag the tasks (the last leader's final writes can be
                # fenced off when it steps down), so a task stored as running may be gone
                # and one stored as staging may run. Choosing the surplus now could kill a
                # running task to keep a vanished one: wait for the reconciliation answers
                # (each first answer dirties the app) or the adoption deadline (the tick).
                self.scale_deferred.add(app_id)
            elif n_live > app.instances:
                # The task views only when some must die: this runs after every update.
                views = [
                    UpgradeTask(i.task_id, i.started_at or i.staged_at, self.serving(i, app))
                    for i in _live(tasks)
                ]
                self._apply(scale_effects(app, views))  # the surplus dies in kill_order
        if want > 0:
            if self.queue.get(app_id, 0) == 0:
                self.queued_since[app_id] = now
                self.offer_stats[app_id] = OfferStats()
            self.queue[app_id] = want
        else:
            self.queue.pop(app_id, None)
            self.queued_since.pop(app_id, None)

    def _suppress_or_revive(self) -> None:
        if not self.subscribed:
            return
        work = any(n > 0 for n in self.queue.values()) or has_work(self.resident, self.apps)
        if work and (
            self.suppressed
            or (
                self.revive_wanted
                and self.now - self.last_revive >= self.config.min_revive_interval
            )
        ):
            self.emit(Revive())
            self.suppressed = False
            self.revive_wanted = False
            self.last_revive = self.now
            self.counters["revives"] += 1
        elif not work:
            self.revive_wanted = False
        if not work and not self.suppressed:
            self.emit(Suppress())
            self.suppressed = True
            self.counters["suppresses"] += 1

    def start_step(self, run: Run, now: float) -> None:
        """Begin the actions of ``run``'s current step."""
        run.done = set()
        for action in run.current():
            app = action.app
            self.dirty.add(app.id)
            if isinstance(action, RestartApplication):
                key = config_key(app)
                old: list[UpgradeTask] = []
                new: list[UpgradeTask] = []
                for inst in self.by_app.get(app.id, {}).values():
                    is_new = inst.config_version == key
                    if is_new:
                        healthy = (
                            inst.heard and self.serving(inst, app) and self.readiness_ok(inst, app)
                        )
                    else:
                        # Not heard from since a failover: assume it serves, which only
                        # makes the upgrade keep more old instances, never fewer.
                        healthy = not inst.heard or (
                            inst.running and not inst.killing and inst.healthy is not False
                        )
                    t = UpgradeTask(inst.task_id, inst.started_at or inst.staged_at, healthy)
                    (new if is_new else old).append(t)
                state, effects = start_restart(app, old, now, new)
                self.restarts[app.id] = state
                self._apply(effects)
                backoff = self.backoff.get(app.id)
                if backoff is not None:
                    self.backoff[app.id] = backoff.reset()
            elif app.readiness_checks and not isinstance(action, StopApplication):
                # Serving before the step: not checked (Marathon checks only the
                # instances a deployment starts). Unheard ones (after a failover) are.
                key = config_key(app)
                for inst in self.by_app.get(app.id, {}).values():
                    if inst.config_version == key and inst.heard and self.serving(inst, app):
                        self.readiness.mark_ready(inst.task_id, app.id, app.readiness_checks[0])

    def _action_done(self, run: Run, action: DeploymentAction) -> bool:
        app = action.app
        tasks = self.by_app.get(app.id, {})
        if isinstance(action, StopApplication):
            return not tasks
        if isinstance(action, RestartApplication):
            state = self.restarts.get(app.id)
            return state is not None and state.finished
        if len(tasks) != app.instances:
            return False
        key = config_key(app)

        def done(i: Instance) -> bool:
            return self.serving(i, app) and i.config_version == key and self.readiness_ok(i, app)

        # This runs after every update of the app: the instance found not done last time
        # is looked at first (it usually still is not: one check, not a walk of the
        # app); else newest first, as instances come up in launch order.
        witness = tasks.get(self.not_done.get(app.id, ""))
        if witness is not None and not done(witness):
            return False
        for i in reversed(tasks.values()):
            if not done(i):
                self.not_done[app.id] = i.task_id
                return False
        self.not_done.pop(app.id, None)
        return True

    def _advance_safely(self, only: set[str] | None) -> bool:
        """``_advance_deployments(only)``, a failure logged and counted (False)."""
        try:
            self._advance_deployments(only)
        except Exception:
            log.exception("marathon: advancing deployments failed; retried later")
            self.counters["converge_errors"] += 1
            return False
        return True

    def _advance_deployments(self, only: set[str] | None = None) -> None:
        """Finish the actions that are done and start the next steps. ``only``: look
        at the runs whose current step has one of these apps (their instances changed
        or they were converged: ``touched``); None: at every run (the first converge
        after each tick). Why: this ran after every message for every deployment in
        motion (85 apps launching at 10k/100k: 2-3% of the leader, nearly all of it on
        runs with nothing new). Status updates, launches, removals, readiness answers
        and restart steps all touch or dirty their app; anything else that could finish
        an action is seen at the first converge after the next tick."""
        now = self.now
        if only is None:
            self.sweep_all = False
        for run in list(self.runs.values()):
            if only is not None and not any(a.app.id in only for a in run.current()):
                continue
            while run.step < len(run.plan.steps):
                for action in run.current():
                    if action.app.id not in run.done and self._action_done(run, action):
                        run.done.add(action.app.id)
                        self.restarts.pop(action.app.id, None)
                        if isinstance(action, StopApplication):
                            self._app_gone(action.app.id)
                if len(run.done) < len(run.current()):
                    break
                self.publish(
                    "deployment_step_success",
                    plan=self.plan_event(run),
                    currentStep=run.plan.steps[run.step].to_json(),
                )
                run.step += 1
                if run.step < len(run.plan.steps):
                    self._save_deployment(run)
                    self.start_step(run, now)
            if run.step >= len(run.plan.steps):
                self.finish_run(run, success=True)

    def _app_gone(self, app_id: str) -> None:
        if app_id in self.apps:
            return
        self.publish("app_terminated_event", appId=app_id)
        self.backoff.pop(app_id, None)
        self.last_failure.pop(app_id, None)
        self.offer_stats.pop(app_id, None)
        self.not_done.pop(app_id, None)

    def _save_deployment(self, run: Run) -> None:
        # Best effort: progress is re-derived after a failover anyway.
        self.emit(PersistDeployment(run.plan.id, run.doc(), best_effort=True))

    def finish_run(self, run: Run, *, success: bool) -> None:
        self.runs.pop(run.plan.id, None)
        for action in run.plan.steps[run.step].actions if run.step < len(run.plan.steps) else ():
            self.restarts.pop(action.app.id, None)
        for s in run.plan.steps:
            for action in s.actions:
                self.dirty.add(action.app.id)
        self.emit(DeleteDeployment(run.plan.id, best_effort=True))
        self.counters["deployments_succeeded" if success else "deployments_failed"] += 1
        self.publish(
            "deployment_success" if success else "deployment_failed",
            id=run.plan.id,
            plan=self.plan_event(run),
        )

    def plan_event(self, run: Run) -> dict[str, Any]:
        doc = run.plan.to_json(min(run.step + 1, len(run.plan.steps)))
        return {
            "id": doc["id"],
            "version": doc["version"],
            "steps": doc["steps"],
            "original": {"id": ROOT, "version": run.plan.original.version},
            "target": {"id": ROOT, "version": run.plan.target.version},
        }

    def deploy(
        self,
        new_root: Group,
        version: str,
        *,
        force: bool,
        restart: tuple[str, ...] = (),
        then: Callable[[Run], Answer],
    ) -> Deferred:
        """Plan, check locks, persist (deployment, versions, root); once stored, apply
        and answer ``then(run)``.

        Raises ``Refused`` (409) when an affected app is locked by another deployment
        and ``force`` is false; ``ValidationFailed`` for a dependency cycle, or for a VIP
        another app holds with another port (checked first: nothing locked or stored)."""
        new_root = dataclasses.replace(new_root, version=version)
        new_apps = new_root.transitive_apps()
        vip_problems = vip_conflict_problems(
            new_apps, [i for i, a in new_apps.items() if self.apps.get(i) != a]
        )
        for i, a in new_apps.items():  # what a resident app reserved cannot change
            if i in self.apps and self.apps[i] != a:
                vip_problems.extend(resident_change_problems(self.apps[i], a))
        if vip_problems:  # a 422 before any lock or store
            raise ValidationFailed(vip_problems)
        plan = plan_deployment(
            self.root, new_root, plan_id=str(uuid.uuid4()), version=version, restart=restart
        )
        self._refuse_restarts_of_adopting(plan.steps)
        affected = set(plan.affected_apps)
        conflicts = [r for r in self.runs.values() if affected & set(r.plan.affected_apps)]
        if conflicts and not force:
            raise Refused(
                409,
                {
                    "message": "App is locked by one or more deployments. Override with the "
                    "option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
                    "deployments": [{"id": r.plan.id} for r in conflicts],
                },
            )
        changed_versions: dict[str, list[dict[str, Any]]] = {}
        for app_id, app in new_apps.items():
            prev = self.apps.get(app_id)
            if prev is None or prev.version != app.version:
                history = list(self.versions.get(app_id, []))
                history.append(app.to_json())
                changed_versions[app_id] = keep_versions(history)
        run = Run(plan, restart, started_at=self.now)
        # Persist FIRST: deployment (it carries the target), versions, root.
        if not plan.is_empty:
            self.emit(PersistDeployment(plan.id, run.doc()))
        for app_id, history in changed_versions.items():
            self.emit(PersistVersions(app_id, history))
        self.emit(PersistRoot(new_root.to_json()))
        return Deferred(
            lambda: then(self._commit(run, new_root, new_apps, changed_versions, conflicts))
        )

    def _refuse_restarts_of_adopting(self, steps: Iterable[Any]) -> None:
        """503 (``Retry-After``) for a rolling restart of an app of which a task loaded
        after the election was not heard of yet: its first kills pick the old tasks not
        running (``start_restart``), and a task stored as staging may run by now. Other
        changes go on (the converge never replaces a task it was not told of)."""
        if not self.adopting:
            return
        for plan_step in steps:
            for action in plan_step.actions:
                if not isinstance(action, RestartApplication):
                    continue
                waiting = sum(1 for t in self.by_app.get(action.app.id, {}) if t in self.adopting)
                if waiting:
                    raise Refused(
                        503,
                        {
                            "message": "Marathon was just elected and is adopting "
                            f"{len(self.adopting)} task(s), {waiting} of {action.app.id}, "
                            "which this change would restart; retry"
                        },
                        {"Retry-After": "1"},
                    )

    def _commit(
        self,
        run: Run,
        new_root: Group,
        new_apps: dict[str, AppDefinition],
        changed_versions: dict[str, list[dict[str, Any]]],
        conflicts: list[Run],
    ) -> Run:
        """Apply a deployment whose records are stored."""
        plan, version = run.plan, run.plan.version
        for conflict in conflicts:
            self.finish_run(conflict, success=False)
        self.root = new_root
        self.apps = new_apps
        self.versions.update(changed_versions)
        for app_id, app in new_apps.items():
            backoff = self.backoff.get(app_id)
            self.backoff[app_id] = (
                backoff.app_updated(app) if backoff is not None else LaunchBackoff.for_app(app)
            )
        self.counters["deployments_started"] += 1
        if plan.is_empty:
            self.publish("deployment_success", id=plan.id, plan=self.plan_event(run))
            return run
        self.runs[plan.id] = run
        self.publish(
            "deployment_info",
            plan=self.plan_event(run),
            currentStep=plan.steps[0].to_json(),
        )
        self.publish("group_change_success", groupId=ROOT, version=version)
        self.start_step(run, run.started_at)
        return run

    def cancel(self, run: Run, *, version: str, then: Callable[[Run], Answer]) -> Deferred:
        """Stop ``run`` by deploying its affected apps' original versions."""
        target = self.root
        for app_id in run.plan.affected_apps:
            original = run.plan.original.app(app_id)
            if original is None:
                target = target.remove_app(app_id)
            else:
                # Back to the original config, keeping its lastConfigChangeAt so the
                # instances still running it count as already upgraded.
                info = original.version_info
                restored = dataclasses.replace(
                    original,
                    version=version,
                    version_info=VersionInfo(
                        version, info.last_config_change_at if info else version
                    ),
                )
                target = target.put_app(restored)
        return self.deploy(target, version, force=True, then=then)

    def app_failed(self, app_id: str, reason: str) -> None:
        """One more consecutive failure of ``app_id``; quarantined at the limit."""
        self.q.failures[app_id] += 1
        self.counters["app_errors"] += 1
        if self.q.failures[app_id] >= self.config.failures_to_quarantine:
            self.q.quarantine_app(
                app_id,
                self.where("root"),
                f"failed {self.q.failures[app_id]} times in a row: {reason}",
            )
            self.queue.pop(app_id, None)
            self.queued_since.pop(app_id, None)


def _live(tasks: dict[str, Instance]) -> list[Instance]:
    """An app's instances neither being killed nor inactive (``live_count`` of them)."""
    return [i for i in tasks.values() if not i.killing and not i.inactive]
