"""The SDK scheduler's decisions: plans x task statuses x offers -> reserve, launch, kill.

Pure (``now`` is a parameter, nothing here does I/O); the scheduler process is a thin
shell that feeds it offers, status updates, ticks and API commands, carries out the
``Effects`` and persists the records it marks dirty (BEFORE it acts on them: a restarted
scheduler must know every reservation and task it asked for).

```
 spec (target config) ─┐
 plan runs ────────────┼─► needs(now): steps to launch (deploy/update/custom plans, in their
 task records ─────────┤     strategy order), recovery of RUNNING tasks that died, kills
 reservations ─────────┘     (outdated config, a task holding a volume a step needs)
 offers ─► offers(...) ─► wipe unknown reservations | RESERVE+CREATE a pod instance |
                           LAUNCH on the instance's reservation (same agent, same volumes)
```

Reservations are per pod instance (``<pod>-<i>``): cpus and memory of each of its
resource sets, its named ports, its volumes, labelled ``sdk_service``/``sdk_rid``. Every
instance of a pod is reserved before the first of its tasks launches, so a task's
environment names all its peers' hosts and ports, and they never change: recovery
relaunches in place; only ``pod replace`` reserves anew (fresh volumes, another agent
when there is one).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from actors import protocol as p
from actors.resources import ResourceError, Resources, to_milli
from actors.sdk._errors import PlanCommandError, PlanNotFound, UpdateRefused
from actors.sdk._plans import (
    COMPLETE,
    PENDING,
    PREPARED,
    STARTED,
    STARTING,
    PlanRun,
    active_steps,
    check_params,
    force_complete,
    new_run,
    plan_done,
    plan_json,
    restart,
    start,
    stop,
)
from actors.sdk._spec import PodSpec, ServiceSpec, StepSpec, TaskSpec, check_update

LABEL_SERVICE = "sdk_service"
LABEL_RESERVATION = "sdk_rid"

ACTIVE = frozenset({"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"})
TERMINAL = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
        "TASK_UNKNOWN",
    }
)
RESERVE_TIMEOUT = 30.0
"""Seconds a new reservation may stay unseen in offers before it is forgotten (its
resources, if offered later, are wiped)."""
REPLACE_AVOID = 15.0
"""Seconds a replaced pod avoids its old agent (then any agent will do)."""
KILL_RETRY = 10.0
"""Seconds before a kill that got no answer is asked again."""
ACCEPT_REFUSE = 1.0
"""Seconds the rest of an accepted offer is refused (its launches took what they needed)."""


def accept_refuse_seconds(ops: Sequence[p.Operation]) -> float:
    """How long the master may keep the rest of an accepted offer from this scheduler.

    The rest includes what the accept's operations made (Mesos' rule): after a RESERVE or
    CREATE, the new reservation is only launched on once it comes back in an offer, so
    such an accept refuses nothing (0: re-offered at the next allocation). At
    ``ACCEPT_REFUSE`` every pod instance's first launch (the deploy's, a replace's, the
    first backup's) waited out a 1 s filter on its own reservation."""
    if any(op.type in ("RESERVE", "CREATE") for op in ops):
        return 0.0
    return ACCEPT_REFUSE


def backoff(failures: int) -> float:
    """Seconds before relaunching a task that failed ``failures`` times in a row."""
    if failures <= 1:
        return 0.0
    return float(min(2 ** (failures - 2), 30))


# ------------------------------------------------------------------------------ records


@dataclass(slots=True)
class TaskRecord:
    """What the scheduler knows of one task name (``<pod>-<i>-<task>``): its last launch."""

    name: str
    task_id: str
    agent_id: str
    host: str
    state: str = "TASK_STAGING"
    ready: bool = False
    config_id: str = ""
    plan: str = ""
    run: int = 0
    message: str = ""
    launched: float = 0.0
    """Wall-clock time of the launch."""
    failures: int = 0
    ended: float = 0.0
    """``now`` of the last terminal update (not stored: restart means retry at once)."""
    killing: float = -1.0
    """``now`` of the last kill asked (not stored)."""

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "taskId": self.task_id,
            "agentId": self.agent_id,
            "host": self.host,
            "state": self.state,
            "ready": self.ready,
            "configId": self.config_id,
            "plan": self.plan,
            "run": self.run,
            "message": self.message,
            "launched": self.launched,
            "failures": self.failures,
        }

    @classmethod
    def from_record(cls, doc: Mapping[str, Any]) -> TaskRecord:
        return cls(
            name=str(doc["name"]),
            task_id=str(doc["taskId"]),
            agent_id=str(doc["agentId"]),
            host=str(doc.get("host", "")),
            state=str(doc.get("state", "TASK_STAGING")),
            ready=bool(doc.get("ready", False)),
            config_id=str(doc.get("configId", "")),
            plan=str(doc.get("plan", "")),
            run=int(doc.get("run", 0)),
            message=str(doc.get("message", "")),
            launched=float(doc.get("launched", 0.0)),
            failures=int(doc.get("failures", 0)),
        )


@dataclass(slots=True)
class InstanceReservation:
    """One pod instance's reservation on one agent."""

    instance: str
    rid: str
    agent_id: str
    host: str
    ports: dict[str, int]
    volumes: list[dict[str, Any]]
    """``{"name", "path", "size", "pid"}`` per volume."""
    reserved: bool = False
    """Seen in an offer (the RESERVE and CREATE were applied)."""
    since: float = 0.0

    def record(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "rid": self.rid,
            "agentId": self.agent_id,
            "host": self.host,
            "ports": dict(self.ports),
            "volumes": [dict(v) for v in self.volumes],
            "reserved": self.reserved,
        }

    @classmethod
    def from_record(cls, doc: Mapping[str, Any], now: float) -> InstanceReservation:
        return cls(
            instance=str(doc["instance"]),
            rid=str(doc["rid"]),
            agent_id=str(doc["agentId"]),
            host=str(doc.get("host", "")),
            ports={str(k): int(v) for k, v in (doc.get("ports") or {}).items()},
            volumes=[dict(v) for v in doc.get("volumes") or ()],
            reserved=bool(doc.get("reserved", False)),
            since=now,
        )


@dataclass(frozen=True, slots=True)
class Want:
    """A task to launch: which, for which plan (``recovery`` too), with which params."""

    pod: str
    index: int
    task: str
    plan: str
    run: int = 0
    params: tuple[tuple[str, str], ...] = ()

    @property
    def instance(self) -> str:
        return f"{self.pod}-{self.index}"

    @property
    def name(self) -> str:
        return f"{self.pod}-{self.index}-{self.task}"


@dataclass(slots=True)
class Effects:
    """What the shell must do, in order: persist the dirty records, then accept,
    decline, kill, revive."""

    accepts: list[tuple[str, list[p.Operation]]] = field(default_factory=list)
    declines: list[tuple[str, float]] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    revive: bool = False


@dataclass(slots=True)
class Context:
    """What the environment gives tasks that the spec does not say."""

    python: str = "python3"
    api_url: str = ""
    user: str | None = None
    source: str = ""
    """The directory holding the ``actors`` package (``PYDCOS_SOURCE``): a task's
    ``PYTHONPATH`` for ``python -S`` starts that skip ``site`` (frequent checks)."""


def instance_name(pod: str, index: int) -> str:
    return f"{pod}-{index}"


def split_instance(name: str, spec: ServiceSpec) -> tuple[PodSpec, int]:
    """``hello-0`` -> (pod hello, 0); PlanNotFound when the spec has no such instance."""
    pod_name, _, index = name.rpartition("-")
    pod = spec.pods.get(pod_name)
    if pod is None or not index.isdigit() or int(index) >= pod.count:
        raise PlanNotFound(f"pod {name!r} does not exist (pods: {', '.join(all_instances(spec))})")
    return pod, int(index)


def all_instances(spec: ServiceSpec) -> list[str]:
    return [instance_name(pod.name, i) for pod in spec.pods.values() for i in range(pod.count)]


def _env_name(text: str) -> str:
    return text.upper().replace("-", "_").replace(".", "_")


# ------------------------------------------------------------------------------ the core


class ServiceCore:
    """Every decision of one SDK service's scheduler; see the module docstring."""

    def __init__(self, spec: ServiceSpec, context: Context | None = None) -> None:
        self.spec = spec
        self.context = context or Context()
        self.framework_id: str | None = None
        self.tasks: dict[str, TaskRecord] = {}
        self.reservations: dict[str, InstanceReservation] = {}
        self.runs: dict[str, PlanRun] = {name: new_run(plan) for name, plan in spec.plans.items()}
        self.configs: dict[str, dict[str, Any]] = {spec.config_id: spec.raw}
        self.avoid: dict[str, tuple[str, float]] = {}
        """Instance -> (agent id, until now): a replaced pod's old agent."""
        self.dirty: set[str] = {"target", *(f"plans/{n}" for n in self.runs)}
        self.new_id = lambda name: f"{name}__{uuid.uuid4()}"
        self._attributes: dict[str, dict[str, str]] = {}
        self.now = 0.0
        """The shell's clock reading, set before each API command."""
        self.kill_now: list[str] = []
        """Task ids an API command killed (the shell sends and clears them)."""
        """Agent id -> its attributes, as its offers said (placement of peers)."""

    # -- restore ---------------------------------------------------------------------

    def restore(
        self,
        *,
        framework_id: str | None,
        target: ServiceSpec | None,
        tasks: Sequence[Mapping[str, Any]],
        reservations: Sequence[Mapping[str, Any]],
        runs: Sequence[Mapping[str, Any]],
        configs: Mapping[str, dict[str, Any]],
        now: float,
    ) -> list[str]:
        """Load the stored state; then the spec this scheduler was started with becomes
        the target when it may replace the stored one (else the stored target stays and
        the refusal is returned: the running service is left untouched)."""
        self.framework_id = framework_id
        self.tasks = {t.name: t for t in (TaskRecord.from_record(d) for d in tasks)}
        self.reservations = {
            r.instance: r for r in (InstanceReservation.from_record(d, now) for d in reservations)
        }
        stored_runs = {r.name: r for r in (PlanRun.from_record(d) for d in runs)}
        self.configs.update(configs)
        problems: list[str] = []
        if target is not None and target.config_id != self.spec.config_id:
            problems = check_update(target, self.spec)
            if problems:
                self.spec = target
        for name, plan in self.spec.plans.items():
            self.runs[name] = stored_runs.get(name) or new_run(plan)
        if target is not None and target.config_id != self.spec.config_id:
            self._config_changed()
        self.configs.setdefault(self.spec.config_id, self.spec.raw)
        self.dirty = {"target", *(f"plans/{n}" for n in self.runs)}
        return problems

    def _config_changed(self) -> None:
        """A new target config: deploy when it never completed, else the update plan,
        from the start (steps whose tasks already run the new config complete at once)."""
        deploy = self.runs["deploy"]
        if plan_done(self.spec.plans["deploy"], deploy):
            update = self.runs["update"]
            start(self.spec.plans["update"], update, {})
            update.complete.clear()
            update.started.clear()
        else:
            deploy.complete.clear()
        self.dirty |= {"plans/deploy", "plans/update"}

    def update_spec(self, new: ServiceSpec) -> None:
        """Adopt a new target config while running; ``UpdateRefused`` leaves all as is."""
        problems = check_update(self.spec, new)
        if problems:
            raise UpdateRefused("; ".join(problems))
        if new.config_id == self.spec.config_id:
            return
        self.spec = new
        self.configs[new.config_id] = new.raw
        for name, plan in new.plans.items():
            self.runs.setdefault(name, new_run(plan))
        self._config_changed()
        self.dirty.add("target")

    # -- helpers ---------------------------------------------------------------------

    def _task_spec(self, pod: str, task: str) -> TaskSpec:
        return self.spec.pods[pod].tasks[task]

    def task_done(self, want: Want) -> bool:
        rec = self.tasks.get(want.name)
        if rec is None:
            return False
        t = self._task_spec(want.pod, want.task)
        if t.goal == "RUNNING":
            return (
                rec.state == "TASK_RUNNING"
                and rec.config_id == self.spec.config_id
                and (t.readiness is None or rec.ready)
            )
        if t.goal == "ONCE":
            return rec.state == "TASK_FINISHED"
        return rec.state == "TASK_FINISHED" and rec.plan == want.plan and rec.run == want.run

    def _step_wants(self, plan: str, run: PlanRun, step: StepSpec) -> list[Want]:
        params = tuple(sorted(run.params.items()))
        return [Want(step.pod, step.index, t, plan, run.run, params) for t in step.tasks]

    def _active(self) -> list[tuple[str, PlanRun, StepSpec]]:
        out = []
        for name, plan in self.spec.plans.items():
            run = self.runs[name]
            for step in active_steps(plan, run):
                out.append((name, run, step))
        return out

    # -- the decision ----------------------------------------------------------------

    def progress(self, now: float) -> tuple[list[Want], list[str]]:
        """Record completed steps; return the launches wanted now and the task ids to
        kill (outdated config, a task holding resources a step needs, decommissioned)."""
        while self._complete_steps():
            pass  # a completed step may make the next one active, and done already
        wants: list[Want] = []
        kills: list[str] = []
        busy: set[str] = set()
        for name, run, step in self._active():
            inst = instance_name(step.pod, step.index)
            busy.add(inst)
            if step.name not in run.started:
                run.started.add(step.name)
                self.dirty.add(f"plans/{name}")
            step_wants = self._step_wants(name, run, step)
            if all(self.task_done(w) for w in step_wants):
                run.complete.add(step.name)
                self.dirty.add(f"plans/{name}")
                continue
            for w in step_wants:
                if self.task_done(w):
                    continue
                rec = self.tasks.get(w.name)
                t = self._task_spec(w.pod, w.task)
                if rec is not None and rec.state in ACTIVE:
                    outdated = t.goal == "RUNNING" and rec.config_id != self.spec.config_id
                    if outdated or (t.goal == "FINISH" and (rec.plan, rec.run) != (w.plan, w.run)):
                        kills.append(rec.task_id)
                    continue
                if rec is not None and now < rec.ended + backoff(rec.failures):
                    continue
                blockers = self._conflicting(w)
                if blockers:
                    kills.extend(blockers)
                    continue
                wants.append(w)
        # Recovery: RUNNING tasks that ran and died, on instances no step is working on.
        for rec in self.tasks.values():
            if rec.state not in TERMINAL:
                continue
            pod_name, index, task = self._parse_task(rec.name)
            if pod_name is None:
                continue
            inst = instance_name(pod_name, index)
            t = self.spec.pods[pod_name].tasks[task]
            if t.goal != "RUNNING" or inst in busy:
                continue
            if now < rec.ended + backoff(rec.failures):
                continue
            want = Want(pod_name, index, task, "recovery")
            if self._conflicting(want):
                continue
            wants.append(want)
        # Decommissioned instances (count shrank): kill what runs there.
        for rec in self.tasks.values():
            pod_name, index, _ = self._parse_task(rec.name, any_index=True)
            if pod_name is None or index < self.spec.pods[pod_name].count:
                continue
            if rec.state in ACTIVE:
                kills.append(rec.task_id)
        self._decommission()
        kills = [k for k in dict.fromkeys(kills) if self._may_kill(k, now)]
        return wants, kills

    def _decommission(self) -> None:
        """Instances beyond their pod's count whose tasks all ended: forget them (the
        reservation is wiped the next time its agent offers it)."""
        for inst in list(self.reservations):
            pod_name, _, index = inst.rpartition("-")
            pod = self.spec.pods.get(pod_name)
            if pod is not None and index.isdigit() and int(index) < pod.count:
                continue
            recs = [r for r in self.tasks.values() if r.name.startswith(inst + "-")]
            if any(r.state in ACTIVE for r in recs):
                continue
            del self.reservations[inst]
            self.dirty.add(f"reservations/{inst}")
            for r in recs:
                del self.tasks[r.name]
                self.dirty.add(f"tasks/{r.name}")

    def _complete_steps(self) -> bool:
        """Record the active steps whose tasks are all done; True if any was."""
        changed = False
        for name, run, step in self._active():
            if all(self.task_done(w) for w in self._step_wants(name, run, step)):
                run.started.add(step.name)
                run.complete.add(step.name)
                self.dirty.add(f"plans/{name}")
                changed = True
        return changed

    def _may_kill(self, task_id: str, now: float) -> bool:
        for rec in self.tasks.values():
            if rec.task_id == task_id:
                if rec.killing >= 0 and now - rec.killing < KILL_RETRY:
                    return False
                rec.killing = now
                return True
        return True

    def _parse_task(self, name: str, any_index: bool = False) -> tuple[str | None, int, str]:
        for pod in self.spec.pods.values():
            prefix = pod.name + "-"
            if not name.startswith(prefix):
                continue
            index, _, task = name[len(prefix) :].partition("-")
            if index.isdigit() and task in pod.tasks and (any_index or int(index) < pod.count):
                return pod.name, int(index), task
        return None, 0, ""

    def _conflicting(self, want: Want) -> list[str]:
        """Active tasks of the same instance that must stop before ``want`` runs."""
        pod = self.spec.pods[want.pod]
        out = []
        for other in pod.tasks:
            if other == want.task or not pod.conflicts(want.task, other):
                continue
            rec = self.tasks.get(f"{want.instance}-{other}")
            if rec is not None and rec.state in ACTIVE:
                out.append(rec.task_id)
        return out

    def needs_reservation(self, wants: Sequence[Want]) -> list[str]:
        """Instances to reserve: every instance of a pod some launch waits for."""
        pods = {w.pod for w in wants}
        return [
            instance_name(pod, i)
            for pod in self.spec.pods
            if pod in pods
            for i in range(self.spec.pods[pod].count)
            if instance_name(pod, i) not in self.reservations
        ]

    def has_work(self, now: float) -> bool:
        wants, _ = self.progress(now)
        return bool(wants) or any(not r.reserved for r in self.reservations.values())

    # -- status updates --------------------------------------------------------------

    def status(self, update: p.StatusUpdate, now: float) -> bool:
        """Apply a status update; False when the task is not one of ours (kill it)."""
        for rec in self.tasks.values():
            if rec.task_id != update.task_id:
                continue
            if rec.state in TERMINAL and update.state not in TERMINAL:
                return True  # a late non-terminal update of a task already over
            rec.state = update.state
            if update.healthy is not None:
                rec.ready = bool(update.healthy)
            if update.message:
                rec.message = update.message
            if update.state in TERMINAL:
                rec.ended = now
                rec.killing = -1.0
                if update.state in ("TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED"):
                    rec.failures += 1
                elif update.state == "TASK_FINISHED":
                    rec.failures = 0
            elif update.state == "TASK_RUNNING" and rec.ready:
                rec.failures = 0
            self.dirty.add(f"tasks/{rec.name}")
            return True
        return update.state in TERMINAL

    # -- offers ----------------------------------------------------------------------

    def offers(self, offers: Sequence[p.Offer], now: float, wall: float) -> Effects:
        eff = Effects()
        wants, kills = self.progress(now)
        eff.kills = kills
        for r in list(self.reservations.values()):
            if not r.reserved and now - r.since > RESERVE_TIMEOUT:
                del self.reservations[r.instance]
                self.dirty.add(f"reservations/{r.instance}")
        to_reserve = self.needs_reservation(wants)
        pending = list(wants)
        for offer in offers:
            try:
                res = Resources.from_dict(offer.resources)
            except ResourceError:
                eff.declines.append((offer.offer_id, 5.0))
                continue
            parts = self._labelled(res)
            known = {r.rid: r for r in self.reservations.values()}
            wipe: list[p.Operation] = []
            for rid, part in sorted(parts.items()):
                mine = known.get(rid)
                if mine is None or mine.agent_id != offer.agent_id:
                    wipe.extend(_wipe(part))
                elif not mine.reserved and len(part.volumes()) >= len(mine.volumes):
                    mine.reserved = True
                    self.dirty.add(f"reservations/{mine.instance}")
            if wipe:
                eff.accepts.append((offer.offer_id, wipe))
                continue
            ops: list[p.Operation] = []
            for w in list(pending):
                mine_r = self.reservations.get(w.instance)
                if mine_r is None or not mine_r.reserved or mine_r.agent_id != offer.agent_id:
                    continue
                r = mine_r
                if not all(self._reserved_ok(w.pod, i) for i in range(self.spec.pods[w.pod].count)):
                    continue
                need = self._task_resources(w, r)
                resized = self._resize(w, r, res, need)
                if resized is None:
                    continue
                resize_ops, after = resized
                if not after.contains(need):
                    continue
                res = after - need
                ops.extend(resize_ops)
                ops.append(p.Operation("LAUNCH", tasks=[self._task_info(w, r, offer, need, wall)]))
                pending.remove(w)
            for inst in list(to_reserve):
                made = self._reserve(inst, offer, res, now)
                if made is None:
                    continue
                more, taken = made
                res = res - taken
                ops.extend(more)
                to_reserve.remove(inst)
            if ops:
                eff.accepts.append((offer.offer_id, ops))
            else:
                busy = bool(pending or to_reserve or not self._all_seen())
                eff.declines.append((offer.offer_id, 1.0 if busy else 15.0))
        return eff

    def _all_seen(self) -> bool:
        return all(r.reserved for r in self.reservations.values())

    def _reserved_ok(self, pod: str, index: int) -> bool:
        r = self.reservations.get(instance_name(pod, index))
        return r is not None

    def _labelled(self, res: Resources) -> dict[str, Resources]:
        out: dict[str, Resources] = {}
        for label, value in res.to_dict().items():
            if "(" not in label:
                continue
            one = Resources.from_dict({label: value})
            entry = next(one.entries())
            if entry.reservation is None:
                continue
            labels = entry.reservation.labels_dict()
            rid = labels.get(LABEL_RESERVATION)
            if labels.get(LABEL_SERVICE) != self.spec.name or not rid:
                continue
            out[rid] = out.get(rid, Resources()) + one
        return out

    def _labels(self, rid: str) -> dict[str, str]:
        return {LABEL_SERVICE: self.spec.name, LABEL_RESERVATION: rid}

    def _reserve(
        self, inst: str, offer: p.Offer, res: Resources, now: float
    ) -> tuple[list[p.Operation], Resources] | None:
        """RESERVE + CREATE for one pod instance on this offer, or None (does not fit,
        or placement refuses this agent)."""
        from actors.framework import Agent, Constraint, agent_of, match

        pod, _ = split_instance(inst, self.spec)
        avoid = self.avoid.get(inst)
        if avoid is not None and avoid[0] == offer.agent_id and now < avoid[1]:
            return None
        base = agent_of(offer)
        agent = Agent(base.hostname, {**base.attributes, "@agentid": offer.agent_id})
        placed = [
            Agent(r.host, {"@agentid": r.agent_id, **self._attributes.get(r.agent_id, {})})
            for r in self.reservations.values()
            if r.instance.rpartition("-")[0] == pod.name and r.instance != inst
        ]
        if pod.placement:
            ok = match([Constraint.from_json(list(c)) for c in pod.placement], agent, placed)
            if not ok.ok:
                return None
        free = res.unreserved()
        cpus = sum(rs.cpus for rs in pod.resource_sets.values())
        mem = sum(rs.memory for rs in pod.resource_sets.values())
        disk = sum(v.size for v in pod.all_volumes())
        scalars = {"cpus": cpus, "mem": mem}
        if disk:
            scalars["disk"] = float(disk)
        plain = Resources.from_scalars(scalars)
        ports = _pick_ports(pod, free)
        if ports is None:
            return None
        port_res = _ports_resources(ports.values())
        if not free.contains(plain + port_res):
            return None
        rid = f"{inst}__{uuid.uuid4()}"
        labels = self._labels(rid)
        role, principal = self.spec.role, self.spec.principal
        ops = [
            p.Operation(
                "RESERVE",
                resources=(plain + port_res).reserve_dynamic(role, principal, labels).to_dict(),
            )
        ]
        vols = []
        for v in pod.all_volumes():
            pid = f"{self.spec.name}#{inst}#{v.path}#{uuid.uuid4().hex[:12]}"
            created = (
                Resources.from_scalars({"disk": float(v.size)})
                .reserve_dynamic(role, principal, labels)
                .create_volume(pid, v.path, "RW")
            )
            ops.append(p.Operation("CREATE", resources=created.to_dict()))
            vols.append({"name": v.name, "path": v.path, "size": v.size, "pid": pid})
        self._attributes[offer.agent_id] = dict(base.attributes)
        self.reservations[inst] = InstanceReservation(
            inst, rid, offer.agent_id, offer.hostname, dict(ports), vols, False, now
        )
        self.dirty.add(f"reservations/{inst}")
        return ops, plain + port_res

    def _resize(
        self, w: Want, r: InstanceReservation, res: Resources, need: Resources
    ) -> tuple[list[p.Operation], Resources] | None:
        """RESERVE/UNRESERVE that fit the instance's reservation to the target config
        before ``w`` launches on it, and what is left of the offer after them (None: the
        agent has not the unreserved cpus/mem to grow it now).

        A config update may change a resource set's cpus or memory (dcos-commons
        re-reserves in place): the instance keeps its agent, ports and volumes; only the
        difference is reserved (from the offer's unreserved resources) or unreserved.
        When no task of the instance holds resources, its reserved cpus/mem in the offer
        are the whole reservation: it is fitted to the sum of the pod's resource sets
        (grow or shrink). Otherwise only what ``w`` lacks is reserved (a shrink waits for
        the instance to be idle at a later launch)."""
        pod = self.spec.pods[w.pod]
        held = self._labelled(res).get(r.rid, Resources()).strip_volumes().milli_totals()
        active = any(
            rec.state in ACTIVE
            for rec in self.tasks.values()
            if rec.name.startswith(w.instance + "-") and rec.name != w.name
        )
        if active:
            want = need.strip_volumes().milli_totals()
        else:
            want = {
                "cpus": sum(to_milli(rs.cpus) for rs in pod.resource_sets.values()),
                "mem": sum(to_milli(rs.memory) for rs in pod.resource_sets.values()),
            }
        grow = {n: want.get(n, 0) - held.get(n, 0) for n in ("cpus", "mem")}
        shrink = {n: -d for n, d in grow.items() if d < 0 and not active}
        grow = {n: d for n, d in grow.items() if d > 0}
        if not grow and not shrink:
            return [], res
        role, principal, labels = self.spec.role, self.spec.principal, self._labels(r.rid)
        ops: list[p.Operation] = []
        if grow:
            more = Resources.from_milli_totals(grow)
            if not res.unreserved().contains(more):
                return None
            reserved = more.reserve_dynamic(role, principal, labels)
            ops.append(p.Operation("RESERVE", resources=reserved.to_dict()))
            res = res - more + reserved
        if shrink:
            surplus = Resources.from_milli_totals(shrink).reserve_dynamic(role, principal, labels)
            ops.append(p.Operation("UNRESERVE", resources=surplus.to_dict()))
            res = res - surplus + surplus.unreserve_dynamic()
        return ops, res

    def _task_resources(self, w: Want, r: InstanceReservation) -> Resources:
        pod = self.spec.pods[w.pod]
        t = pod.tasks[w.task]
        rs = pod.resource_sets[t.resource_set]
        labels = self._labels(r.rid)
        role, principal = self.spec.role, self.spec.principal
        out = Resources.from_scalars({"cpus": rs.cpus, "mem": rs.memory}).reserve_dynamic(
            role, principal, labels
        )
        ports = [r.ports[port.name] for port in rs.ports if port.name in r.ports]
        if ports:
            out = out + _ports_resources(ports).reserve_dynamic(role, principal, labels)
        wanted = {v.path for v in pod.task_volumes(w.task)}
        for v in r.volumes:
            if v["path"] in wanted:
                out = out + (
                    Resources.from_scalars({"disk": float(v["size"])})
                    .reserve_dynamic(role, principal, labels)
                    .create_volume(str(v["pid"]), str(v["path"]), "RW")
                )
        return out

    def task_env(self, w: Want, r: InstanceReservation) -> dict[str, str]:
        """The task's environment (see docs/sdk.md): spec env, the SDK's variables,
        every pod instance's host and ports, the plan's parameters."""
        pod = self.spec.pods[w.pod]
        t = pod.tasks[w.task]
        env = dict(t.env)
        env.update(
            {
                "POD_INSTANCE_INDEX": str(w.index),
                "TASK_NAME": w.name,
                "FRAMEWORK_NAME": self.spec.name,
                "PYDCOS_PYTHON": self.context.python,
                "PYDCOS_SOURCE": self.context.source,
                "SCHEDULER_API_URL": self.context.api_url,
                "SDK_PLAN": w.plan,
            }
        )
        for other in self.spec.pods.values():
            key = _env_name(other.name)
            env[f"SDK_{key}_COUNT"] = str(other.count)
            for i in range(other.count):
                rr = self.reservations.get(instance_name(other.name, i))
                if rr is None:
                    continue
                env[f"SDK_{key}_{i}_HOST"] = rr.host
                for port_name, number in sorted(rr.ports.items()):
                    env[f"SDK_{key}_{i}_PORT_{_env_name(port_name)}"] = str(number)
        rs = pod.resource_sets[t.resource_set]
        for port in rs.ports:
            if port.env_key and port.name in r.ports:
                env[port.env_key] = str(r.ports[port.name])
        env.update(dict(w.params))
        if t.configs:
            env["SDK_CONFIGS"] = json.dumps(
                [
                    {
                        "dest": c.dest,
                        "template": base64.b64encode((c.text or "").encode()).decode(),
                    }
                    for c in t.configs
                ]
            )
        return env

    def _command(self, w: Want, r: InstanceReservation) -> str:
        pod = self.spec.pods[w.pod]
        t = pod.tasks[w.task]
        lines = []
        for v in pod.task_volumes(w.task):
            var = "VOLUME_PATH" if not v.name else f"VOLUME_PATH_{_env_name(v.name)}"
            lines.append(f'export {var}="$MESOS_SANDBOX/{v.path}"')
        if t.configs:
            lines.append('"$PYDCOS_PYTHON" -m actors.sdk.bootstrap || exit 1')
        lines.append(t.cmd)
        return "\n".join(lines)

    def _task_info(
        self, w: Want, r: InstanceReservation, offer: p.Offer, need: Resources, wall: float
    ) -> p.TaskInfo:
        from actors.framework import build_task_info, command_spec, discovery_info

        pod = self.spec.pods[w.pod]
        t = pod.tasks[w.task]
        rs = pod.resource_sets[t.resource_set]
        task_id = self.new_id(w.name)
        checks = []
        if t.readiness is not None:
            c = t.readiness
            checks.append(
                p.HealthCheckInfo(
                    protocol="COMMAND",
                    command=c.cmd,
                    port_index=None,
                    grace_period_seconds=c.grace_period,
                    interval_seconds=max(c.interval, 0.2),
                    timeout_seconds=c.timeout,
                    max_consecutive_failures=0,
                    delay_seconds=c.delay,
                )
            )
        elif t.health is not None:
            c = t.health
            checks.append(
                p.HealthCheckInfo(
                    protocol="COMMAND",
                    command=c.cmd,
                    port_index=None,
                    grace_period_seconds=c.grace_period,
                    interval_seconds=max(c.interval, 0.2),
                    timeout_seconds=c.timeout,
                    max_consecutive_failures=c.max_failures,
                    delay_seconds=c.delay,
                )
            )
        ports = [(port.name, r.ports[port.name]) for port in rs.ports if port.name in r.ports]
        uris = [p.UriInfo(u) for u in pod.uris]
        user = pod.user or self.spec.user or self.context.user
        info = build_task_info(
            task_id,
            w.name,
            offer.agent_id,
            need,
            command_spec(cmd=self._command(w, r), env=self.task_env(w, r), uris=uris, user=user),
            health_checks=checks,
            discovery=discovery_info(w.name, [n for _, n in ports], [n for n, _ in ports])
            if ports
            else None,
            kill_grace_period=t.kill_grace,
            labels={"sdk_plan": w.plan, "sdk_config": self.spec.config_id},
        )
        if t.limits:  # svc.yml resource-limits: reserve the set, use up to these
            info = replace(info, limits=dict(t.limits))
        old = self.tasks.get(w.name)
        self.tasks[w.name] = TaskRecord(
            name=w.name,
            task_id=task_id,
            agent_id=offer.agent_id,
            host=offer.hostname,
            state="TASK_STAGING",
            ready=False,
            config_id=self.spec.config_id,
            plan=w.plan,
            run=w.run,
            launched=wall,
            failures=old.failures if old is not None else 0,
        )
        self.dirty.add(f"tasks/{w.name}")
        return info

    # -- commands --------------------------------------------------------------------

    def _plan(self, name: str) -> Any:
        plan = self.spec.plans.get(name)
        if plan is None:
            raise PlanNotFound(
                f"plan {name!r} does not exist (plans: {', '.join(self.plan_names())})"
            )
        return plan

    def plan_names(self) -> list[str]:
        return [*self.spec.plans, "recovery"]

    def plan_command(
        self,
        name: str,
        command: str,
        *,
        phase: str | None = None,
        step: str | None = None,
        params: Any = None,
    ) -> None:
        """start|stop|continue|interrupt|forceComplete|restart of plan ``name``."""
        if name == "recovery":
            raise PlanCommandError("the recovery plan is driven by the scheduler")
        plan = self._plan(name)
        run = self.runs[name]
        if command == "start":
            start(plan, run, check_params(params))
        elif command == "stop":
            stop(run)
        elif command == "continue":
            run.interrupted = False
        elif command == "interrupt":
            run.interrupted = True
        elif command == "forceComplete":
            force_complete(plan, run, phase, step)
        elif command == "restart":
            restart(plan, run, phase, step)
            run.interrupted = False
        else:
            raise PlanNotFound(f"no plan command {command!r}")
        self.dirty.add(f"plans/{name}")

    def pod_restart(self, instance: str, now: float) -> list[str]:
        """Kill the pod's tasks: recovery relaunches them in place (same volumes)."""
        split_instance(instance, self.spec)
        return [
            rec.task_id
            for rec in self.tasks.values()
            if rec.name.startswith(instance + "-") and rec.state in ACTIVE
        ]

    def pod_healthy(self, instance: str) -> bool:
        pod, _ = split_instance(instance, self.spec)
        running = [
            self.tasks.get(f"{instance}-{t.name}")
            for t in pod.tasks.values()
            if t.goal == "RUNNING"
        ]
        return bool(running) and all(
            rec is not None and rec.state == "TASK_RUNNING" for rec in running
        )

    def pod_replace(self, instance: str, now: float, force: bool) -> list[str]:
        """Forget the pod's reservation (wiped when offered again), kill its tasks:
        recovery reserves anew (fresh volumes, another agent when one fits)."""
        split_instance(instance, self.spec)
        if self.pod_healthy(instance) and not force:
            raise PlanCommandError(
                f"pod {instance} is healthy: replacing it destroys its data; "
                "add force (?force=true, CLI --force) to replace it anyway",
                409,
            )
        r = self.reservations.pop(instance, None)
        if r is not None:
            self.avoid[instance] = (r.agent_id, now + REPLACE_AVOID)
            self.dirty.add(f"reservations/{instance}")
        kills = self.pod_restart(instance, now)
        for rec in self.tasks.values():
            if rec.name.startswith(instance + "-") and rec.state not in ACTIVE:
                rec.failures = 0
        return kills

    def shell_pod(self, kind: str, instance: str, force: bool) -> list[str]:
        """``pod restart|replace`` from the API: the kills go to ``kill_now`` (the shell
        sends them); returns the killed tasks' names."""
        if kind == "restart":
            ids = self.pod_restart(instance, self.now)
        else:
            ids = self.pod_replace(instance, self.now, force)
        self.kill_now.extend(ids)
        for rec in self.tasks.values():
            if rec.task_id in ids:
                rec.killing = self.now
        return sorted(rec.name for rec in self.tasks.values() if rec.task_id in ids)

    # -- views -----------------------------------------------------------------------

    def step_status(self, plan: str) -> Any:
        run = self.runs[plan]

        def status(step: StepSpec) -> tuple[str, str]:
            r = self.reservations.get(instance_name(step.pod, step.index))
            recs = [self.tasks.get(f"{step.pod}-{step.index}-{t}") for t in step.tasks]
            wants = self._step_wants(plan, run, step)
            if all(self.task_done(w) for w in wants):
                return COMPLETE, ""
            if r is None or not r.reserved:
                return PREPARED if r is not None else PENDING, "reserving resources"
            fresh = [
                rec
                for rec, w in zip(recs, wants, strict=True)
                if rec is not None and rec.config_id == self.spec.config_id and rec.state in ACTIVE
            ]
            if fresh and all(rec.state == "TASK_RUNNING" for rec in fresh):
                return STARTED, "waiting for readiness"
            if fresh:
                return STARTING, ", ".join(f"{rec.name} {rec.state}" for rec in fresh)
            return PREPARED, "waiting for an offer"

        return status

    def plan_view(self, name: str) -> dict[str, Any]:
        if name == "recovery":
            return self.recovery_view()
        plan = self._plan(name)
        return plan_json(plan, self.runs[name], self.step_status(name))

    def recovery_view(self) -> dict[str, Any]:
        """dcos-commons' recovery plan: a phase per pod instance being recovered."""
        from actors.sdk._plans import step_id

        phases = []
        for rec in sorted(self.tasks.values(), key=lambda r: r.name):
            pod_name, index, task = self._parse_task(rec.name)
            if pod_name is None:
                continue
            t = self.spec.pods[pod_name].tasks[task]
            if t.goal != "RUNNING" or rec.plan != "recovery":
                continue
            status = (
                COMPLETE
                if rec.state == "TASK_RUNNING"
                else (PENDING if rec.state in TERMINAL else STARTING)
            )
            inst = instance_name(pod_name, index)
            step_name = f"{inst}:[{task}]"
            phases.append(
                {
                    "id": step_id("recovery", inst, ""),
                    "name": inst,
                    "steps": [
                        {
                            "id": step_id("recovery", inst, step_name),
                            "status": status,
                            "name": step_name,
                            "message": f"{rec.name} {rec.state}",
                        }
                    ],
                    "strategy": "serial",
                    "status": status,
                }
            )
        done = all(ph["status"] == COMPLETE for ph in phases)
        return {
            "phases": phases,
            "errors": [],
            "strategy": "serial",
            "status": COMPLETE if done else "IN_PROGRESS",
        }

    def pod_status(self) -> dict[str, Any]:
        pods = []
        for pod in self.spec.pods.values():
            instances = []
            for i in range(pod.count):
                inst = instance_name(pod.name, i)
                tasks = []
                for t in pod.tasks:
                    rec = self.tasks.get(f"{inst}-{t}")
                    if rec is not None:
                        tasks.append(
                            {"id": rec.task_id, "name": rec.name, "status": _short(rec.state)}
                        )
                instances.append({"name": inst, "tasks": tasks})
            pods.append({"name": pod.name, "instances": instances})
        return {"service": self.spec.name, "pods": pods}

    def pod_info(self, instance: str) -> list[dict[str, Any]]:
        pod, _ = split_instance(instance, self.spec)
        r = self.reservations.get(instance)
        out = []
        for t in pod.tasks:
            rec = self.tasks.get(f"{instance}-{t}")
            if rec is None:
                continue
            rs = pod.resource_sets[pod.tasks[t].resource_set]
            own_ports = {port.name for port in rs.ports}
            own_paths = {v.path for v in pod.task_volumes(t)}
            ports = {k: v for k, v in (r.ports if r is not None else {}).items() if k in own_ports}
            vols = [v for v in (r.volumes if r is not None else []) if v["path"] in own_paths]
            out.append(
                {
                    "info": {
                        "name": rec.name,
                        "taskId": {"value": rec.task_id},
                        "slaveId": {"value": rec.agent_id},
                        "hostname": rec.host,
                        "goal": pod.tasks[t].goal,
                        "configId": rec.config_id,
                        "plan": rec.plan,
                        "ports": ports,
                        "volumes": [
                            {"path": v["path"], "size": v["size"], "persistenceId": v["pid"]}
                            for v in vols
                        ],
                    },
                    "status": {
                        "taskId": {"value": rec.task_id},
                        "state": rec.state,
                        "message": rec.message,
                        "healthy": rec.ready,
                    },
                }
            )
        return out

    def endpoints(self) -> dict[str, dict[str, list[str]]]:
        """Per named port: ``address`` host:port and ``dns`` (Mesos-DNS names of the
        tasks: ``<pod>-<i>-<task>.<service>.mesos:port``), dcos-commons' shape."""
        out: dict[str, dict[str, list[str]]] = {}
        for pod in self.spec.pods.values():
            for i in range(pod.count):
                inst = instance_name(pod.name, i)
                r = self.reservations.get(inst)
                if r is None:
                    continue
                for t in pod.tasks.values():
                    rs = pod.resource_sets[t.resource_set]
                    for port in rs.ports:
                        if port.name not in r.ports:
                            continue
                        number = r.ports[port.name]
                        e = out.setdefault(port.name, {"address": [], "dns": []})
                        addr = f"{r.host}:{number}"
                        if addr not in e["address"]:
                            e["address"].append(addr)
                            e["dns"].append(f"{inst}-{t.name}.{self.spec.name}.mesos:{number}")
        return out

    # -- persistence -----------------------------------------------------------------

    def snapshot(self, key: str) -> Any:
        """The stored value of a dirty key (None: delete it)."""
        kind, _, name = key.partition("/")
        if kind == "target":
            return {"configId": self.spec.config_id, "spec": self.spec.raw}
        if kind == "tasks":
            rec = self.tasks.get(name)
            return rec.record() if rec is not None else None
        if kind == "reservations":
            r = self.reservations.get(name)
            return r.record() if r is not None else None
        if kind == "plans":
            run = self.runs.get(name)
            return run.record() if run is not None else None
        raise KeyError(key)

    def take_dirty(self) -> list[str]:
        out = sorted(self.dirty)
        self.dirty.clear()
        return out


def _short(state: str) -> str:
    return state


def _wipe(part: Resources) -> list[p.Operation]:
    ops = []
    vols = Resources.from_dict({e.label: e.value for e in part.volumes()})
    if vols:
        ops.append(p.Operation("DESTROY", resources=vols.to_dict()))
    ops.append(p.Operation("UNRESERVE", resources=part.strip_volumes().to_dict()))
    return ops


def _ports_resources(ports: Any) -> Resources:
    ports = sorted(ports)
    if not ports:
        return Resources()
    return Resources.from_dict({"ports": [[x, x] for x in ports]})


def _pick_ports(pod: PodSpec, free: Resources) -> dict[str, int] | None:
    """Host ports for a pod instance: fixed ones must be free, 0 takes any free one."""
    from actors.framework import port_list

    avail = port_list(free)
    out: dict[str, int] = {}
    for port in pod.ports():
        if port.port:
            if port.port not in avail:
                return None
            avail.remove(port.port)
            out[port.name] = port.port
    for port in pod.ports():
        if not port.port:
            if not avail:
                return None
            out[port.name] = avail.pop(0)
    return out
