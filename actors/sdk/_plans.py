"""Plans: which steps may run now, and how a plan's progress reads. Pure.

A plan (dcos-commons' ``Plan``) is phases of steps; ``strategy`` serial|parallel orders
the phases of a plan and the steps of a phase; a phase may also wait for other phases
(``dependencies``). Progress is a ``PlanRun``: the steps recorded COMPLETE, the steps
that started (an interrupted plan lets them finish but starts no new one), the plan's
parameters and its run number (a FINISH task runs again in each run).

``active_steps(spec, run)`` is the one decision: the steps that may launch now. Whether a
step is done is the scheduler core's business (tasks x statuses); it records completion
here with ``complete``. ``plan_json`` renders dcos-commons' PlanInfo shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from actors.sdk._errors import PlanCommandError, PlanNotFound
from actors.sdk._spec import PhaseSpec, PlanSpec, StepSpec

PENDING = "PENDING"
PREPARED = "PREPARED"
STARTING = "STARTING"
STARTED = "STARTED"
COMPLETE = "COMPLETE"
WAITING = "WAITING"
ERROR = "ERROR"
IN_PROGRESS = "IN_PROGRESS"

STEP_STATUSES = (PENDING, PREPARED, STARTING, STARTED, COMPLETE, WAITING, ERROR)

AUTO_PLANS = ("deploy",)
"""Plans that start on their own (deploy when the service is installed); ``update``
starts when the target config changes, custom plans through the API."""


@dataclass(slots=True)
class PlanRun:
    """The persisted progress of one plan."""

    name: str
    interrupted: bool = False
    params: dict[str, str] = field(default_factory=dict)
    complete: set[str] = field(default_factory=set)
    """Step names recorded COMPLETE in this run."""
    started: set[str] = field(default_factory=set)
    """Step names that started (they finish even when the plan is interrupted)."""
    run: int = 0
    """Bumped on every start/restart: FINISH tasks run once per run."""
    errors: list[str] = field(default_factory=list)
    step_errors: dict[str, str] = field(default_factory=dict)
    """Step name -> why it is in ERROR (a launch the agent refused...)."""

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "interrupted": self.interrupted,
            "params": dict(self.params),
            "complete": sorted(self.complete),
            "started": sorted(self.started),
            "run": self.run,
            "errors": list(self.errors),
            "stepErrors": dict(self.step_errors),
        }

    @classmethod
    def from_record(cls, doc: Mapping[str, Any]) -> PlanRun:
        return cls(
            name=str(doc["name"]),
            interrupted=bool(doc.get("interrupted", False)),
            params={str(k): str(v) for k, v in (doc.get("params") or {}).items()},
            complete={str(s) for s in doc.get("complete") or ()},
            started={str(s) for s in doc.get("started") or ()},
            run=int(doc.get("run", 0)),
            errors=[str(e) for e in doc.get("errors") or ()],
            step_errors={str(k): str(v) for k, v in (doc.get("stepErrors") or {}).items()},
        )


def new_run(plan: PlanSpec) -> PlanRun:
    """A plan never run: deploy starts at once; every other plan waits to be started."""
    return PlanRun(plan.name, interrupted=plan.name not in AUTO_PLANS)


def step_id(plan: str, phase: str, step: str) -> str:
    """Stable ids (the same across scheduler restarts), uuid-shaped as dcos-commons'."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sdk/{plan}/{phase}/{step}"))


def phase_done(phase: PhaseSpec, run: PlanRun) -> bool:
    return all(s.name in run.complete for s in phase.steps)


def plan_done(plan: PlanSpec, run: PlanRun) -> bool:
    return all(phase_done(ph, run) for ph in plan.phases)


def _ready_phases(plan: PlanSpec, run: PlanRun) -> list[PhaseSpec]:
    """Phases whose turn it is: dependencies complete, and for a serial plan only the
    first phase not yet complete."""
    done = {ph.name for ph in plan.phases if phase_done(ph, run)}
    out = []
    for ph in plan.phases:
        if ph.name in done:
            continue
        if not all(d in done for d in ph.dependencies):
            if plan.strategy == "serial":
                break
            continue
        out.append(ph)
        if plan.strategy == "serial":
            break
    return out


def active_steps(plan: PlanSpec, run: PlanRun) -> list[StepSpec]:
    """The steps that may launch now, in order. An interrupted plan continues only the
    steps that already started (as dcos-commons' interrupt: no new step starts)."""
    out: list[StepSpec] = []
    for ph in _ready_phases(plan, run):
        pending = [s for s in ph.steps if s.name not in run.complete]
        if ph.strategy == "serial":
            pending = pending[:1]
        out.extend(pending)
    if run.interrupted:
        out = [s for s in out if s.name in run.started]
    # Started steps of a phase that is no longer "ready" (forced order change) go on too.
    names = {s.name for s in out}
    for ph in plan.phases:
        for s in ph.steps:
            if s.name in run.started and s.name not in run.complete and s.name not in names:
                out.append(s)
                names.add(s.name)
    return out


def find_step(plan: PlanSpec, phase: str | None, step: str | None) -> list[StepSpec]:
    """The steps a command names: a step (by name or id), a whole phase (by name or id),
    or the whole plan. Unknown names raise ``PlanNotFound``."""
    if phase is None and step is None:
        return [s for ph in plan.phases for s in ph.steps]
    phases = plan.phases
    if phase is not None:
        phases = tuple(
            ph for ph in plan.phases if phase in (ph.name, step_id(plan.name, ph.name, ""))
        )
        if not phases:
            raise PlanNotFound(f"plan {plan.name} has no phase {phase!r}")
    if step is None:
        return [s for ph in phases for s in ph.steps]
    found = [
        s
        for ph in phases
        for s in ph.steps
        if step in (s.name, step_id(plan.name, ph.name, s.name))
    ]
    if not found:
        raise PlanNotFound(f"plan {plan.name} has no step {step!r}")
    return found


# ------------------------------------------------------------------------------ commands


def check_params(params: Any) -> dict[str, str]:
    """``{"KEY": "value"}`` (dcos-commons' plan parameters): env names, text values."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise PlanCommandError(f"parameters: {params!r:.60} must be a JSON object of KEY: value")
    out = {}
    for key, value in params.items():
        if not isinstance(key, str) or not key.replace("_", "a").isalnum() or key[:1].isdigit():
            raise PlanCommandError(f"parameters: {key!r:.40} is not an environment variable name")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise PlanCommandError(f"parameters.{key}: {value!r:.40} must be text or a number")
        out[key] = str(value)
    return out


def start(plan: PlanSpec, run: PlanRun, params: Mapping[str, str]) -> None:
    """``plans/{plan}/start``: a new run with these parameters (a complete or stopped
    plan starts over)."""
    if plan_done(plan, run) or not run.started or params:
        run.complete.clear()
        run.started.clear()
        run.step_errors.clear()
        run.run += 1
    run.params = dict(params) or run.params
    run.interrupted = False


def stop(run: PlanRun) -> None:
    """``plans/{plan}/stop``: interrupt and forget the progress (dcos-commons)."""
    run.interrupted = True
    run.complete.clear()
    run.started.clear()
    run.step_errors.clear()


def force_complete(plan: PlanSpec, run: PlanRun, phase: str | None, step: str | None) -> None:
    for s in find_step(plan, phase, step):
        run.complete.add(s.name)
        run.step_errors.pop(s.name, None)


def restart(plan: PlanSpec, run: PlanRun, phase: str | None, step: str | None) -> None:
    """Back to PENDING (the whole plan: a new run, so FINISH tasks run again)."""
    if phase is None and step is None:
        run.run += 1
    for s in find_step(plan, phase, step):
        run.complete.discard(s.name)
        run.started.discard(s.name)
        run.step_errors.pop(s.name, None)


# ------------------------------------------------------------------------------ rendering


def _rollup(statuses: list[str], interrupted: bool) -> str:
    if statuses and all(s == COMPLETE for s in statuses):
        return COMPLETE
    if not statuses:
        return COMPLETE
    if ERROR in statuses:
        return ERROR
    if interrupted:
        return WAITING
    if any(s != PENDING for s in statuses):
        return IN_PROGRESS
    return PENDING


def plan_json(
    plan: PlanSpec, run: PlanRun, step_status: Callable[[StepSpec], tuple[str, str]]
) -> dict[str, Any]:
    """dcos-commons' PlanInfo: ``{phases: [{id, name, steps: [{id, status, name,
    message}], strategy, status}], errors, strategy, status}``. ``step_status`` gives an
    active step's observed (status, message)."""
    active = {s.name for s in active_steps(plan, run)}
    phases: list[dict[str, Any]] = []
    for ph in plan.phases:
        steps = []
        for s in ph.steps:
            if s.name in run.complete:
                status, message = COMPLETE, ""
            elif s.name in run.step_errors:
                status, message = ERROR, run.step_errors[s.name]
            elif s.name in active:
                status, message = step_status(s)
            elif run.interrupted:
                status, message = WAITING, ""
            else:
                status, message = PENDING, ""
            steps.append(
                {
                    "id": step_id(plan.name, ph.name, s.name),
                    "status": status,
                    "name": s.name,
                    "message": message or f"{s.name}: {status.lower().replace('_', ' ')}",
                }
            )
        phases.append(
            {
                "id": step_id(plan.name, ph.name, ""),
                "name": ph.name,
                "steps": steps,
                "strategy": ph.strategy,
                "status": _rollup([st["status"] for st in steps], run.interrupted),
            }
        )
    return {
        "phases": phases,
        "errors": list(run.errors),
        "strategy": plan.strategy,
        "status": _rollup([str(ph["status"]) for ph in phases], run.interrupted),
    }
