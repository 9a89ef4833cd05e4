"""``ContainerRunner``: the agent actor's ``TaskRunner`` over the real containerizers.

Turns the wire ``TaskInfo`` (Mesos-shaped) into a containerizer ``TaskSpec`` and hands
containerizer callbacks back to the agent as reports. A TaskInfo that cannot be turned
into a spec (bad ports, bad health check) fails as TASK_ERROR naming the field; the
agent carries on.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from actors import protocol as p
from actors.agent import _gc, _volumes
from actors.agent._checkpoint import remove_checkpoint
from actors.agent._errors import AgentError
from actors.agent._facade import Containerizers
from actors.agent._spec import (
    HealthCheckSpec,
    RecoveredTask,
    TaskSpec,
    UriSpec,
    Usage,
)
from actors.agent._task_supervisor import Kill, TaskSupervisor, _Health, _Update
from actors.agent._user import valid_user_name
from actors.resources import ResourceError, Resources
from runtime import (
    ActorNotFound,
    ActorRef,
    ChildSpec,
    Clock,
    Node,
    Supervisor,
    SupervisorRef,
    real_now,
)

log = logging.getLogger("actors.agent")

Report = Any  # actors.agent._agent_actor.Report (kept loose to avoid an import cycle)

TASKS_SUPERVISOR = "tasks"
"""Registered name of the supervisor of an agent's task supervisors."""


class SpecError(AgentError, ValueError):
    """A TaskInfo field the containerizers cannot honour; the message names it."""


def _health(h: p.HealthCheckInfo) -> HealthCheckSpec:
    """The check as the runner reads it: a fixed ``port`` wins over ``port_index``."""
    return h if h.port is None else dataclasses.replace(h, port_index=None)


def task_spec(task: p.TaskInfo, default_user: str | None = None) -> TaskSpec:
    """The containerizer's view of a launched task, field by field from the typed
    TaskInfo (the protocol records validated every value). Its user: the task's own,
    else (native tasks only: a host user means nothing inside an image) the agent's
    default."""
    try:
        res = Resources.from_dict(task.resources)
    except ResourceError as exc:
        raise SpecError(f"resources: {exc}") from None
    offered: list[int] = []
    for begin, end in res.ranges("ports"):
        offered.extend(range(begin, end + 1))
        if len(offered) > 1000:
            raise SpecError(f"resources: too many ports ({len(offered)}+) for one task")
    discovery = task.discovery.ports if task.discovery else []
    unknown = sorted({d.number for d in discovery} - set(offered))
    if unknown:
        raise SpecError(f"discovery.ports: {unknown} are not among the task's ports {offered}")
    # PORT0..n follow the framework's order (discovery), then any other port in order.
    ports = list(dict.fromkeys([d.number for d in discovery] + offered))
    named = tuple(dict.fromkeys((d.name, d.number) for d in discovery if d.name))
    cmd = task.command
    container = task.container or p.ContainerInfo()
    docker = container.docker
    uris = tuple(UriSpec(u.value, u.executable, u.extract) for u in (cmd.uris if cmd else []))
    env = dict(cmd.env) if cmd else {}
    user = cmd.user if cmd and cmd.user else None  # "" as Marathon may send: unset
    if user is None and container.type != "DOCKER" and docker is None:
        user = default_user
    if user is not None and (why := valid_user_name(user)):
        raise SpecError(why)
    named_volumes: tuple[tuple[str, str, str], ...] = ()
    driver = None
    if docker is not None and container.type == "DOCKER":
        try:
            named_volumes, driver = _volumes.docker_volumes(docker.parameters)
        except _volumes.VolumeError as exc:
            raise SpecError(f"container.docker.parameters: {exc}") from None
    return TaskSpec(
        task_id=task.task_id,
        command=cmd.value if cmd and cmd.shell else None,
        args=tuple(cmd.args) if cmd and not cmd.shell else (),
        container_type=container.type,
        image=docker.image if docker else None,
        network=container.network,
        port_mappings=tuple(container.port_mappings),
        volumes=tuple(container.volumes),
        force_pull=docker.force_pull_image if docker else False,
        cpus=res.scalar("cpus") or 0.1,
        mem=res.scalar("mem") or 32.0,
        disk=res.scalar("disk"),
        ports=tuple(ports),
        env=tuple(sorted(env.items())),
        uris=uris,
        health_checks=tuple(_health(h) for h in task.health_checks),
        kill_grace_period=task.kill_grace_period,
        labels=tuple(sorted(task.labels.items())),
        named_ports=named,
        user=user,
        docker_volumes=named_volumes,
        volume_driver=driver,
        cpus_limit=_limit(task.limits, "cpus"),
        mem_limit=_limit(task.limits, "mem"),
    )


def _limit(limits: dict[str, float], key: str) -> float | None:
    """A task's limit for ``key`` (None: none given, the request is the limit)."""
    value = limits.get(key)
    return None if value is None else float(value)


class ContainerRunner:
    """Runs each task in a native (``mesos``) or Docker container, under its own
    ``TaskSupervisor`` actor (children of the node's ``tasks`` supervisor).

    Every report goes through ``self._report``, the function of the latest
    ``launch``/``recover`` caller, so a restarted agent actor (the supervisor restarted
    it in the same process) gets the updates of tasks launched by its predecessor.
    """

    name = "containers"
    checkpoints = True
    """The agent actor checkpoints tasks for this runner (its tasks outlive the agent)."""
    binds_host_ports = True
    """Its tasks bind the host's ports: the agent leaves ports other processes hold out
    of its offers (``_ports``)."""

    def __init__(
        self,
        containerizers: Containerizers,
        usage_timeout: float = 2.0,
        tasks_supervisor: str = TASKS_SUPERVISOR,
        gc_delay: float = _gc.DEFAULT_GC_DELAY,
        gc_disk_headroom: float = _gc.DEFAULT_GC_DISK_HEADROOM,
        default_user: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = clock or containerizers.clock
        """Wall time for sandbox garbage collection (the containerizers' by default)."""
        self.containerizers = containerizers
        self.default_user = default_user
        """The user of native tasks that name none (``pydcos agent --default-user``)."""
        self.gc_delay = gc_delay
        self.gc_disk_headroom = gc_disk_headroom
        self._gc_thread: threading.Thread | None = None
        self.handles: dict[str, Any] = {}
        self.supervisors: dict[str, tuple[str, ActorRef]] = {}
        """task id -> (child id, TaskSupervisor ref)."""
        self.usage_timeout = usage_timeout
        self._tasks_name = tasks_supervisor
        self._tasks: SupervisorRef | None = None
        self._report: Report | None = None
        self._recovered = False

    # -- wiring -------------------------------------------------------------------

    def bind(self, node: Node) -> None:
        """Find the node's ``tasks`` supervisor (``AgentProcess`` starts it next to the
        agent actor), or start one here (tests, embedded agents)."""
        if self._tasks is not None:
            return
        try:
            ref: ActorRef = node.lookup(self._tasks_name)
        except ActorNotFound:
            ref = node.spawn(Supervisor, strategy="one_for_one", name=self._tasks_name)
        self._tasks = SupervisorRef(ref)

    def _current_report(self) -> Report | None:
        return self._report

    def _send(
        self, task_id: str, state: str, reason: str | None, message: str, healthy: bool | None
    ) -> None:
        report = self._report
        if report is not None:
            report(task_id, state, reason, message, healthy)

    def _supervise(self, task_id: str, **kwargs: Any) -> None:
        """Start the TaskSupervisor of ``task_id`` (launching or adopting its container)."""
        if self._tasks is None:
            raise RuntimeError("ContainerRunner.bind(node) was not called")
        # Unique per supervisor: two frameworks may reuse a task id, and a new runner
        # (a restarted agent) may share the node's tasks supervisor.
        child_id = f"{task_id}#{uuid.uuid4().hex[:12]}"
        ref = self._tasks.start_child(
            ChildSpec(
                child_id,
                TaskSupervisor,
                restart="temporary",
                shutdown=5.0,
                args=(task_id, self._current_report),
                kwargs=kwargs,
            )
        )
        self.supervisors[task_id] = (child_id, ref)

    def _on_update(self, task_id: str) -> Callable[[str, str | None, str], None]:
        """Callback for a recovered container: through its supervisor once it has one."""

        def on_update(state: str, reason: str | None, message: str) -> None:
            sup = self.supervisors.get(task_id)
            if sup is not None:
                sup[1].tell(_Update(state, reason, message))
            else:
                self._send(task_id, state, reason, message, None)

        return on_update

    def _on_health(self, task_id: str) -> Callable[[Any], None]:
        def on_health(h: Any) -> None:
            sup = self.supervisors.get(task_id)
            if sup is not None:
                sup[1].tell(_Health(bool(h.healthy), str(h.message)))
                return
            handle = self.handles.get(task_id)
            state = getattr(handle, "state", None) or "TASK_RUNNING"
            self._send(
                task_id, state, "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", h.message, h.healthy
            )

        return on_health

    # -- TaskRunner ---------------------------------------------------------------

    def launch(self, framework_id: str, task: p.TaskInfo, report: Report) -> None:
        self._report = report
        task_id = task.task_id
        try:
            spec = task_spec(task, default_user=self.default_user)
        except SpecError as exc:
            report(task_id, "TASK_ERROR", "REASON_TASK_INVALID", str(exc), None)
            return

        def launch(on_update: Callable[..., None], on_health: Callable[[Any], None]) -> Any:
            handle = self.containerizers.launch(spec, None, on_update, on_health)
            self.handles[task_id] = handle
            return handle

        self._supervise(task_id, launch=launch)

    def kill(self, task_id: str, grace: float | None, report: Report) -> None:
        sup = self.supervisors.get(task_id)
        if sup is not None:
            sup[1].tell(Kill(grace))
            return
        handle = self.handles.get(task_id)
        if handle is None:
            report(task_id, "TASK_LOST", "REASON_TASK_UNKNOWN", "no such task on this agent", None)
            return
        handle.kill(grace)

    def recover(self, report: Report) -> list[RecoveredTask]:
        """Reattach to the tasks of a previous agent process (containerizer checkpoints:
        pid + start time + cgroup, Docker labels), each under a new TaskSupervisor;
        report how the others ended.

        The first call asks the containerizers; a later one (the agent actor restarted
        in this process) answers from the handles this runner already holds."""
        self._report = report
        if self._recovered:
            return [
                RecoveredTask(
                    tid,
                    not h.done,
                    h,
                    h.state or "TASK_STARTING",
                    h.reason,
                    h.message,
                )
                for tid, h in self.handles.items()
            ]
        self._recovered = True
        out = self.containerizers.recover(self._on_update, self._on_health)
        for r in out:
            if r.running and r.handle is not None:
                self.handles[r.task_id] = r.handle
                self._supervise(r.task_id, handle=r.handle)
        return out

    def forget(self, task_id: str) -> None:
        """The task's last update was acknowledged: stop its supervisor, drop its handle
        and checkpoint (the sandbox stays for a later garbage collection)."""
        self.handles.pop(task_id, None)
        sup = self.supervisors.pop(task_id, None)
        if sup is not None and self._tasks is not None:
            try:
                self._tasks.terminate_child(sup[0], timeout=10.0)
            except Exception as exc:  # already gone: temporary children vanish on exit
                log.debug("stopping the supervisor of %s: %s", task_id, exc)
        remove_checkpoint(self.containerizers.work_dir, task_id)

    def collect_garbage(self) -> threading.Thread | None:
        """Remove the sandboxes of tasks this agent no longer tracks once they are due
        (`_gc`), in a thread of its own: removing big sandboxes must not hold up the
        agent. None if the previous pass is still running."""
        if self._gc_thread is not None and self._gc_thread.is_alive():
            return None
        live = set(self.handles) | set(self.supervisors)

        def run() -> None:
            try:
                _gc.collect(
                    self.containerizers.work_dir,
                    live,
                    self.clock.wall(),
                    self.gc_delay,
                    self.gc_disk_headroom,
                )
            except Exception:
                log.exception("sandbox gc failed")

        self._gc_thread = threading.Thread(target=run, name="sandbox-gc", daemon=True)
        self._gc_thread.start()
        return self._gc_thread

    def usage(self) -> dict[str, dict[str, Any]]:
        """``{task_id: {cpu_time_s, mem_bytes, mem_limit_bytes, cpus_limit}}`` of the tasks
        still running, sampled in parallel (Docker stats take a round trip each) and
        bounded by ``usage_timeout`` so a slow engine cannot stall the agent."""
        live = [(tid, h) for tid, h in list(self.handles.items()) if not h.done]
        results: dict[str, Usage | None] = {}

        def sample(tid: str, h: Any) -> None:
            try:
                results[tid] = h.usage()
            except Exception as exc:
                log.debug("usage of %s: %s", tid, exc)

        threads = [
            threading.Thread(target=sample, args=(tid, h), daemon=True, name=f"usage-{tid}")
            for tid, h in live
        ]
        for t in threads:
            t.start()
        deadline = real_now() + self.usage_timeout  # real: bounds how long the agent blocks
        for t in threads:
            t.join(max(0.0, deadline - real_now()))
        return {tid: dataclasses.asdict(u) for tid, u in list(results.items()) if u is not None}
