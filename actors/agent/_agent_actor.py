"""The agent actor: registers with the leading master, runs tasks, reports their states.

Status updates are reliable the way Mesos' status update manager makes them: each task
has a stream of updates; the head of each stream is sent to the master and resent after
``update_retry_interval``, then twice as long each time (up to ``update_retry_max``, 10
minutes), until the framework's acknowledgement comes back (through the master); only
then is the next update of that task sent. After a master failover the
agent re-registers with every task it still supervises, then resends the heads.

Tasks run through a ``TaskRunner``: ``SimulatedRunner`` (no process; for scale tests)
or a runner over the real containerizers.

Recovery (Mesos' ``--recover=reconnect``): with a work dir and a runner whose tasks
outlive the agent (``runner.checkpoints``), every task and its pending updates are
checkpointed (``_task_store``). A restarted agent, before it first registers, asks the
runner to ``recover()`` (reattach to running containers, report how the others ended),
joins that with its checkpoints (``plan_recovery``, pure), re-registers with the tasks
and resends what was never acknowledged. Running tasks are not restarted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from actors import protocol as p
from actors.agent import _groups, _logs, _metrics, _ports, _volumes
from actors.agent._register_backoff import (
    CopySent,
    RegisterBackoff,
    facts_digest,
    on_announcement,
    repeat_of,
)
from actors.agent._spec import REASON_CONTAINER_LAUNCH_FAILED, RecoveredTask
from actors.agent._task_store import RecoveryPlan, StoredTask, TaskStore, plan_recovery
from actors.resources import Attributes, Resources
from actors.task_states import TaskState, is_terminal
from runtime import Actor, ActorRef, TimerHandle, register_message

log = logging.getLogger("actors.agent")

_STATES = frozenset(s.value for s in TaskState)

AGENT_ACTOR = p.AGENT_ACTOR
"""The registered name of the agent actor on an agent's node (``actors.protocol``'s)."""

Report = Callable[[str, str, str | None, str, bool | None], None]
"""report(task_id, state, reason, message, healthy): any thread may call it."""


UPDATE_RETRY_MAX = 600.0
"""Longest wait between two resends of an unacknowledged status update (Mesos'
``STATUS_UPDATE_RETRY_INTERVAL_MAX``, 10 minutes)."""


def retry_wait(previous: float, interval: float, maximum: float, again: bool) -> float:
    """Seconds before a status update sent now is sent again: ``interval`` for a new
    head, twice the previous wait for a resend (``again``), never over ``maximum``."""
    if not again:
        return interval
    return min(max(previous, interval) * 2, max(maximum, interval))


class TaskRunner(Protocol):
    """How the agent starts and stops tasks; reports flow back through ``report``."""

    name: str
    checkpoints: bool
    """Its tasks outlive the agent process, so the agent checkpoints them (with a work
    dir) and recovers them after a restart."""

    def launch(self, framework_id: str, task: p.TaskInfo, report: Report) -> None: ...

    def kill(self, task_id: str, grace: float | None, report: Report) -> None: ...

    def recover(self, report: Report) -> list[RecoveredTask]:
        """Tasks of an earlier agent process: reattached (later updates go to
        ``report``) or ended (with their terminal state and reason)."""
        ...

    def forget(self, task_id: str) -> None:
        """The task is over and fully acknowledged: drop what the runner keeps of it."""
        ...

    def usage(self) -> dict[str, dict[str, Any]]:
        """``{task_id: {cpu_time_s, mem_bytes, mem_limit_bytes, cpus_limit}}``."""
        ...


class SimulatedRunner:
    """Tasks that run with no process: RUNNING at once, KILLED when killed.

    A task labelled ``pydcos.simulated.exit`` finishes by itself with that state
    (``TASK_FINISHED``, ``TASK_FAILED``) right after RUNNING, for batch-style tests.
    """

    name = "simulated"
    checkpoints = False
    """Simulated tasks die with the agent: nothing to checkpoint or recover."""

    def __init__(self) -> None:
        self.running: set[str] = set()

    def recover(self, report: Report) -> list[RecoveredTask]:
        return []

    def forget(self, task_id: str) -> None:
        self.running.discard(task_id)

    def usage(self) -> dict[str, dict[str, Any]]:
        return {}

    def launch(self, framework_id: str, task: p.TaskInfo, report: Report) -> None:
        self.running.add(task.task_id)
        report(task.task_id, TaskState.RUNNING.value, None, "", None)
        exit_state = task.labels.get("pydcos.simulated.exit")
        if exit_state:
            self.running.discard(task.task_id)
            report(task.task_id, exit_state, None, "simulated exit", None)

    def kill(self, task_id: str, grace: float | None, report: Report) -> None:
        if task_id in self.running:
            self.running.discard(task_id)
            report(task_id, TaskState.KILLED.value, None, "killed", None)


@dataclass(slots=True)
class _Task:
    framework_id: str
    info: p.TaskInfo
    state: str = TaskState.STAGING.value
    stream: deque[p.StatusUpdate] = field(default_factory=deque)
    sent_at: float = 0.0
    retry_in: float = 0.0
    """Seconds after ``sent_at`` before the head is sent again: ``update_retry_interval``
    for a new head, doubled at each resend up to ``update_retry_max``."""
    healthy: bool | None = None
    """The latest health check result, re-sent on re-registration: a new leader has
    no other way to learn it (health is reported on a change only)."""


@dataclass(frozen=True, slots=True)
class _Report:
    task_id: str
    state: str
    reason: str | None
    message: str
    healthy: bool | None


@dataclass(frozen=True, slots=True)
class _Retry:
    pass


@dataclass(frozen=True, slots=True)
class _CollectGarbage:
    pass


@dataclass(frozen=True, slots=True)
class _CheckPorts:
    pass


@dataclass(frozen=True, slots=True)
class GetAgentState:
    """Ask the agent what it runs (for tests, the CLI and the metrics issue)."""

    detail: bool = False
    """Also who the agent is and each task as launched (``hostname``, ``address``,
    ``version``, ``resources``, ``attributes``, ``work_dir``, ``task_details``), for
    Mesos' agent ``/state`` (``actors.mesos_api``)."""


@dataclass(frozen=True, slots=True)
class GetUsage:
    """Ask the agent for the resource usage of its running tasks (Mesos'
    ``/monitor/statistics``). The reply: ``{task_id: {"cpu_time_s": float,
    "mem_bytes": int, "mem_limit_bytes": int | None, "cpus_limit": float | None}}``,
    from the task's cgroup or Docker stats; a task whose usage cannot be read is left
    out."""


register_message(GetAgentState)
register_message(GetUsage)


class AgentActor(Actor):
    """One per agent process; named ``agent``."""

    start_timeout = 60.0
    """``started()`` recovers tasks (Docker: a round trip per container) before the
    actor takes messages."""

    def __init__(
        self,
        *,
        hostname: str,
        address: str,
        resources: Resources,
        attributes: Attributes | None = None,
        runner: TaskRunner | None = None,
        master: str | None = None,
        work_dir: str | None = None,
        update_retry_interval: float = 2.0,
        register_retry_interval: float = 1.0,
        update_retry_max: float = UPDATE_RETRY_MAX,
        resolve: Callable[[str], ActorRef] | None = None,
        version: str = "",
        gc_interval: float = 60.0,
        port_check_interval: float = 5.0,
        metrics_interval: float = _metrics.DEFAULT_INTERVAL,
        enforce_disk_quota: bool = False,
        disk_watch_interval: float = _volumes.DEFAULT_DISK_WATCH_INTERVAL,
    ) -> None:
        super().__init__()
        self.hostname = hostname
        self.address = address
        self.resources = resources
        self.attributes = attributes or Attributes()
        self.runner: TaskRunner = runner or SimulatedRunner()
        self.master_address = master
        self.work_dir = work_dir
        self.update_retry_interval = update_retry_interval
        self.update_retry_max = max(update_retry_max, update_retry_interval)
        self.register_retry_interval = register_retry_interval
        self._resolve = resolve
        self.version = version
        self.gc_interval = gc_interval
        """Seconds between sandbox garbage collections (Mesos' ``--disk_watch_interval``),
        for a runner that has sandboxes (``collect_garbage``)."""
        self.port_check_interval = port_check_interval
        """Seconds between looks for ports of this agent's range that another process on
        the host holds (``_ports``), for a runner whose tasks bind host ports."""
        self.advertised: Resources = resources
        """The total last sent to the master: ``resources`` less foreign-held ports."""
        self.agent_id: str | None = None
        self.master_id: str | None = None
        self.registered = False
        self.tasks: dict[str, _Task] = {}
        self._master_ref: ActorRef | None = None
        self._backoff = RegisterBackoff(register_retry_interval, f"{hostname} {address}")
        """When an unanswered (re-)registration is sent again (``_register_backoff``)."""
        self._announced: str | None = None
        """The master id whose announcement (``MasterChanged.master_id``) made us send
        the registration we wait on (None once answered)."""
        self._copy: CopySent | None = None
        """The whole re-registration sent last and not answered yet: an unchanged
        resend to the same master names it (``ReregisterAgentAgain``)."""
        self._store: TaskStore | None = (
            TaskStore(work_dir) if work_dir and getattr(self.runner, "checkpoints", False) else None
        )
        self.recovery: RecoveryPlan | None = None
        """What the last ``started()`` recovered (for logs and tests)."""
        self.metrics = _metrics.MetricsCollector(
            metrics_interval, paths=("/", work_dir) if work_dir else ("/",)
        )
        """Node and container samples, the last 10 minutes (``_metrics``, ``GetMetrics``)."""
        self.enforce_disk_quota = enforce_disk_quota
        """Kill a task whose persistent volume outgrows its size (``_volumes``)."""
        self.disk_watch_interval = disk_watch_interval
        self.volume_book: _volumes.VolumeBook | None = None
        self.disk_limited: dict[str, str] = {}
        self._retry: TimerHandle | None = None
        """The ``_Retry`` tick, armed only while something waits for the master: a
        registration, or an update not acknowledged yet. An idle agent does not wake
        (a host of 2,500 simulated agents woke 1,000 times a second for nothing)."""

    # -- lifecycle ----------------------------------------------------------------

    def started(self) -> None:
        _volumes.setup(self)  # refuses --resources that lost checkpointed reservations
        self.agent_id = self._load_agent_id()
        bind = getattr(self.runner, "bind", None)
        if bind is not None:
            bind(self.node)  # where the runner's task supervisors live
        if self._store is not None:
            self._recover(self._store)
        self._arm_retry()
        if getattr(self.runner, "collect_garbage", None) is not None:
            self.send_interval(self.gc_interval, _CollectGarbage())
        if self._checks_host_ports():
            self.send_interval(self.port_check_interval, _CheckPorts())
        self.send_interval(self.metrics.interval, _metrics.MetricsTick())
        if self.master_address:
            self._register()

    def _recover(self, store: TaskStore) -> None:
        """Rebuild ``self.tasks`` from the checkpoints and the runner's recovered
        containers, BEFORE the first (re-)registration, so it reports them."""
        stored = store.load()
        recovered = self.runner.recover(self._report_fn)
        plan = plan_recovery(stored, recovered)
        self.recovery = plan
        for r in plan.resume:
            s = r.stored
            t = _Task(s.framework_id, s.info, s.state, deque(s.updates))
            self.tasks[s.info.task_id] = t
            if r.enqueue is not None:
                state, reason, message = r.enqueue
                self._enqueue(t, state, reason, message, None)
        for tid in plan.forget:
            self._forget(tid)
        for tid in plan.orphans:
            log.warning("agent: killing orphaned container of task %s", tid)
            try:
                self.runner.kill(tid, 0.0, lambda *a: None)
            except Exception:
                log.exception("agent: killing orphan %s failed", tid)
        if stored or recovered:
            log.info(
                "agent: recovered %d task(s) (%d reattached), %d pending update(s); "
                "forgot %d, killing %d orphan(s)",
                len(plan.resume),
                sum(1 for r in plan.resume if r.running),
                sum(len(t.stream) for t in self.tasks.values()),
                len(plan.forget),
                len(plan.orphans),
            )

    def _checkpoint(self, t: _Task) -> None:
        """Persist the task and its pending updates (no-op without a store)."""
        if self._store is None:
            return
        self._store.save(StoredTask(t.framework_id, t.info, t.state, tuple(t.stream)))

    def _forget(self, task_id: str) -> None:
        """Over and acknowledged: the runner's checkpoint first, then ours."""
        if self._store is None:
            return
        try:
            self.runner.forget(task_id)
        except Exception:
            log.exception("agent: forgetting %s failed", task_id)
        self._store.remove(task_id)

    def _id_file(self) -> Path | None:
        return Path(self.work_dir, "meta", "agent_id") if self.work_dir else None

    def _load_agent_id(self) -> str | None:
        path = self._id_file()
        if path is None or not path.exists():
            return None
        text = path.read_text().strip()
        if not text or len(text) > 200 or not text.isprintable():
            log.error("agent: ignoring corrupt agent id file %s: %r", path, text[:50])
            return None
        return text

    def _save_agent_id(self, agent_id: str) -> None:
        path = self._id_file()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write(agent_id)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    # -- master -------------------------------------------------------------------

    def _master(self) -> ActorRef | None:
        if self._master_ref is None and self.master_address:
            resolve = self._resolve or self.node.ref
            self._master_ref = resolve(self.master_address)
        return self._master_ref

    def _tell_master(self, message: Any) -> None:
        ref = self._master()
        if ref is not None:
            ref.tell(message)

    def _register(self) -> None:
        self._backoff.sent(self.clock.now())
        self.advertised = self._host_free_resources()
        res = self.advertised.to_dict()
        attrs = self.attributes.to_dict()
        held = _volumes.checkpointed(self)
        if self.agent_id is None:
            self._tell_master(
                p.RegisterAgent(
                    self.hostname,
                    self.address,
                    res,
                    attrs,
                    self.version,
                    checkpointed_resources=held,
                )
            )
            return
        tasks = [
            p.AgentTask(t.info, t.framework_id, t.state, t.healthy)
            for t in self.tasks.values()
            if not is_terminal(t.state) or t.stream
        ]
        digest = facts_digest(
            res,
            attrs,
            held,
            ((at.framework_id, at.task.task_id, at.state, at.healthy) for at in tasks),
        )
        master = self.master_address or ""
        repeat = repeat_of(self._copy, master, digest)
        if repeat is not None:
            self._tell_master(p.ReregisterAgentAgain(self.agent_id, self.address, repeat))
            return
        copy_id = uuid.uuid4().hex
        self._copy = CopySent(master, copy_id, digest)
        self._tell_master(
            p.ReregisterAgent(
                self.agent_id,
                self.hostname,
                self.address,
                res,
                attrs,
                tasks,
                self.version,
                checkpointed_resources=held,
                copy_id=copy_id,
            )
        )

    # -- messages -----------------------------------------------------------------

    def receive(self, message: Any) -> Any:
        try:
            return self._receive(message)
        finally:
            if not self.registered:
                self._arm_retry()  # whatever unregistered us, registering is retried

    def _receive(self, message: Any) -> Any:
        if isinstance(message, _Report):
            self._on_report(message)
        elif isinstance(message, p.StatusUpdateAck):
            self._on_ack(message)
        elif isinstance(message, p.RunTask):
            self._on_run_task(message)
        elif isinstance(message, p.RunTaskGroup):
            _groups.run_group(self, message)
        elif isinstance(message, p.Ping):
            if self.registered and self.agent_id and message.master_id == self.master_id:
                self._tell_master(p.Pong(self.agent_id, message.seq))
            elif self._backoff.due(self.clock.now()):
                # A master we are not registered with pings us (it restarted, or took
                # over): re-register with our tasks, as often as the backoff allows.
                self.registered = False
                self._register()
        elif isinstance(message, p.KillTask):
            self._on_kill(message)
        elif isinstance(message, p.AgentRegistered):
            self._on_registered(message)
        elif isinstance(message, _Retry):
            self._on_retry()
        elif isinstance(message, _CollectGarbage):
            self.runner.collect_garbage()  # type: ignore[attr-defined]
        elif isinstance(message, _CheckPorts):
            self._check_ports()
        elif isinstance(message, _volumes.DiskTick):
            _volumes.check_usage(self)
        elif isinstance(message, p.CheckpointResources):
            _volumes.on_checkpoint(self, message.resources)
        elif isinstance(message, p.MasterChanged):
            self._on_master_changed(message)
        elif isinstance(message, p.ReregisterFull):
            self._on_reregister_full(message)
        elif isinstance(message, (_metrics.MetricsTick, p.GetMetrics)):
            return _metrics.handle(self, message, self.metrics)
        elif isinstance(message, _logs.REQUESTS):
            return _logs.handle(self, message)
        elif isinstance(message, GetUsage):
            return self.runner.usage()
        elif isinstance(message, GetAgentState):
            doc: dict[str, Any] = {
                "agent_id": self.agent_id,
                "registered": self.registered,
                "master": self.master_address,
                "tasks": {tid: t.state for tid, t in self.tasks.items()},
                "pending_updates": sum(len(t.stream) for t in self.tasks.values()),
                "retrying": self._retry is not None,
            }
            if getattr(message, "detail", False):
                doc.update(_state_detail(self))
            return doc
        else:
            return super().receive(message)
        return None

    def _on_master_changed(self, m: p.MasterChanged) -> None:
        """From the leader watch (``master_id`` empty), from a new leader announcing
        itself to the agents of its registry, or from our master asking us to come back
        (a healed partition): (re-)register, once per leader (idempotent at the master,
        but every copy of a re-registration carries every task we run)."""
        changed = m.address != self.master_address
        if changed:
            self.master_address = m.address
            self._master_ref = None
        if not m.address:
            self.registered = False
            return
        action = on_announcement(
            changed=changed,
            master_id=m.master_id,
            registered=self.registered,
            our_master_id=self.master_id,
            announced=self._announced,
        )
        if action == "ignore":
            return
        self.registered = False
        self._backoff.reset()
        self._announced = m.master_id or None
        self._register()

    def _on_reregister_full(self, m: p.ReregisterFull) -> None:
        """Our master never took in the copy a resend named: send the whole one now
        (unless a master we no longer follow asks, or we are registered with it)."""
        if m.address != self.master_address or self.agent_id is None:
            return
        if self.registered and m.master_id == self.master_id:
            return
        self.registered = False
        self._copy = None
        self._register()

    def _on_registered(self, m: p.AgentRegistered) -> None:
        if self.agent_id != m.agent_id:
            self._save_agent_id(m.agent_id)
        self.agent_id = m.agent_id
        self.master_id = m.master_id
        self.registered = True
        self._backoff.reset()
        self._announced = None
        self._copy = None
        log.info("agent %s registered with master %s", m.agent_id, m.master_id)
        now = self.clock.now()
        for t in self.tasks.values():
            if t.stream:
                self._send_head(t, now)

    def _arm_retry(self) -> None:
        if self._retry is None:
            period = min(self.update_retry_interval, self.register_retry_interval) / 2
            self._retry = self.send_interval(period, _Retry())

    def _on_retry(self) -> None:
        now = self.clock.now()
        if not self.registered:
            if self.master_address and self._backoff.due(now):
                self._register()
            return
        waiting = False
        for t in self.tasks.values():
            if t.stream:
                waiting = True
                if now - t.sent_at >= t.retry_in:
                    self._send_head(t, now, again=True)
        if not waiting and self._retry is not None:
            self._retry.cancel()
            self._retry = None

    # -- host ports ---------------------------------------------------------------

    def _checks_host_ports(self) -> bool:
        """Only tasks that really run (not simulated ones) bind host ports."""
        return bool(getattr(self.runner, "binds_host_ports", False)) and bool(
            self.resources.ranges("ports")
        )

    def _host_free_resources(self, leaving: str | None = None) -> Resources:
        """``resources`` without the ports another process on this host holds. Ports of
        this agent's own live tasks (but ``leaving``) are the master's to account for."""
        if not self._checks_host_ports():
            return self.resources
        own: set[int] = set()
        for tid, t in self.tasks.items():
            if tid != leaving and not is_terminal(t.state):
                with contextlib.suppress(Exception):
                    own.update(_ports.offered_ports(Resources.from_dict(t.info.resources)))
        candidates = [x for x in _ports.offered_ports(self.resources) if x not in own]
        busy = _ports.busy_ports(candidates)
        return _ports.without_ports(self.resources, busy)

    def _check_ports(self, leaving: str | None = None) -> None:
        """Tell the master when the set of ports held by others changed, BEFORE anything
        that makes it offer again (a launch failure's status update)."""
        if not self.registered or not self.agent_id or not self._checks_host_ports():
            return
        fresh = self._host_free_resources(leaving)
        if fresh == self.advertised:
            return
        held = set(_ports.offered_ports(self.advertised)) - set(_ports.offered_ports(fresh))
        freed = set(_ports.offered_ports(fresh)) - set(_ports.offered_ports(self.advertised))
        if held:
            log.warning(
                "agent: not offering port(s) %s: in use on this host by another process",
                _ports.to_ranges(held),
            )
        if freed:
            log.info("agent: offering port(s) %s again: free on this host", _ports.to_ranges(freed))
        self.advertised = fresh
        self._tell_master(p.UpdateAgent(self.agent_id, fresh.to_dict()))

    # -- tasks --------------------------------------------------------------------

    def _report_fn(
        self, task_id: str, state: str, reason: str | None, message: str, healthy: bool | None
    ) -> None:
        self.ref.tell(_Report(task_id, state, reason, message, healthy))

    def _on_run_task(self, m: p.RunTask, launch: bool = True) -> None:
        task_id = m.task.task_id
        if task_id in self.tasks and not is_terminal(self.tasks[task_id].state):
            return  # a duplicate RunTask (resent by a new leader) launches nothing twice
        task, refused = m.task, ""
        try:
            task = _volumes.prepare(self, m.task)  # its persistent volumes mounted
        except _volumes.VolumeError as exc:
            refused = str(exc)
        t = self.tasks[task_id] = _Task(m.framework_id, task)
        self._checkpoint(t)  # BEFORE the launch: a restarted agent knows what it started
        if not launch:
            return  # a refused group's member: recorded only to carry its failure
        if refused:
            self._report_fn(
                task_id, TaskState.FAILED.value, REASON_CONTAINER_LAUNCH_FAILED, refused, None
            )
            return
        try:
            self.runner.launch(m.framework_id, task, self._report_fn)
        except Exception as exc:  # a runner bug must fail the task, not the agent
            log.exception("agent: launching %s failed", task_id)
            self._report_fn(
                task_id, TaskState.FAILED.value, "REASON_CONTAINER_LAUNCH_FAILED", str(exc), None
            )

    def _on_kill(self, m: p.KillTask) -> None:
        t = self.tasks.get(m.task_id)
        if t is None:
            self._enqueue(
                _Task(m.framework_id, p.TaskInfo(m.task_id, m.task_id, self.agent_id or "", {})),
                TaskState.LOST.value,
                "REASON_TASK_UNKNOWN",
                "kill of a task this agent does not run",
                None,
                keep=False,
            )
            return
        if is_terminal(t.state):
            return
        self.runner.kill(m.task_id, m.grace_period, self._report_fn)
        _groups.kill_members(self, t.info, m.grace_period, f"{m.task_id} of its group is killed")

    def _on_report(self, r: _Report) -> None:
        t = self.tasks.get(r.task_id)
        if t is None:
            return
        if is_terminal(t.state):
            return  # exactly one terminal update per task
        state, reason, message = _volumes.translate(self, r.state, r.reason, r.message, r.task_id)
        if state == TaskState.FAILED.value and reason == REASON_CONTAINER_LAUNCH_FAILED:
            # Perhaps a port taken since it was offered: stop offering it before the
            # framework hears of the failure and asks again.
            self._check_ports(leaving=r.task_id)
        if state not in _STATES:
            # A runner that reports nonsense fails its task, never the agent.
            log.error("agent: runner reported unknown state %r for %s", state, r.task_id)
            state, message = TaskState.FAILED.value, f"runner reported unknown state {r.state!r}"
        self._enqueue(t, state, reason, message, r.healthy)
        if t.info.group_id and _groups.kills_group(state):
            _groups.kill_members(self, t.info, None, f"{r.task_id} of its group ended {state}")

    def _enqueue(
        self,
        t: _Task,
        state: str,
        reason: str | None,
        message: str,
        healthy: bool | None,
        keep: bool = True,
    ) -> None:
        t.state = state
        if healthy is not None:
            t.healthy = healthy
        update = p.StatusUpdate(
            framework_id=t.framework_id,
            task_id=t.info.task_id,
            agent_id=self.agent_id or "",
            state=state,
            uuid=uuid.uuid4().hex,
            timestamp=self.clock.wall(),
            reason=reason,
            message=message,
            healthy=healthy,
        )
        if not keep:
            self._tell_master(update)
            return
        t.stream.append(update)
        self._arm_retry()
        self._checkpoint(t)  # BEFORE sending: a sent update is never forgotten
        if len(t.stream) == 1 and self.registered:
            self._send_head(t, self.clock.now())

    def _send_head(self, t: _Task, now: float, again: bool = False) -> None:
        """Send the head of ``t``'s stream; ``again``: a resend of an unacknowledged one,
        which doubles the wait before the next (Mesos' status update manager: 10 s
        doubling up to 10 minutes). Without the backoff a leader slow to acknowledge got
        every unacknowledged update again every interval: 45,000-64,000 resends while
        100,000 tasks launched (10k agents, bench/scale.py), each a status update the
        leader and the framework handled once more, slowing the acknowledgements
        further."""
        interval, most = self.update_retry_interval, self.update_retry_max
        t.retry_in = retry_wait(t.retry_in, interval, most, again)
        t.sent_at = now
        self._tell_master(t.stream[0])

    def _on_ack(self, m: p.StatusUpdateAck) -> None:
        t = self.tasks.get(m.task_id)
        if t is None or not t.stream or t.stream[0].uuid != m.uuid:
            return  # duplicate or stale acknowledgement: harmless
        t.stream.popleft()
        if t.stream:
            self._checkpoint(t)
            self._send_head(t, self.clock.now())
        elif is_terminal(t.state):
            del self.tasks[m.task_id]
            self._forget(m.task_id)
        else:
            self._checkpoint(t)


def _state_detail(agent: AgentActor) -> dict[str, Any]:
    """``GetAgentState(detail=True)``'s extra part: plain data (it crosses the wire)."""
    return {
        "hostname": agent.hostname,
        "address": agent.address,
        "version": agent.version,
        "resources": agent.advertised.to_dict(),
        "attributes": agent.attributes.to_dict(),
        "work_dir": agent.work_dir,
        "task_details": [
            {
                "task_id": tid,
                "framework_id": t.framework_id,
                "name": t.info.name,
                "state": t.state,
                "healthy": t.healthy,
                "resources": dict(t.info.resources),
                "labels": dict(t.info.labels),
                "container_type": t.info.container.type if t.info.container else None,
            }
            for tid, t in agent.tasks.items()
        ],
    }
