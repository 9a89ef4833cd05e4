"""What both containerizers share: the task handle's state, kill timer and callbacks."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from typing import Any

from actors.agent import _health
from actors.agent._checkpoint import write_checkpoint
from actors.agent._health_runner import CommandRunner, HealthCheckRunner
from actors.agent._ports import first_busy
from actors.agent._sandbox import Sandbox
from actors.agent._spec import (
    MIN_CPUS,
    MIN_MEM_MB,
    REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
    REASON_TASK_INVALID,
    TASK_ERROR,
    TASK_KILLED,
    HealthReport,
    OnHealth,
    OnUpdate,
    TaskSpec,
    Usage,
)
from actors.task_states import TERMINAL_STATES
from runtime import Clock, SystemClock

log = logging.getLogger("actors.agent")


def validate(spec: TaskSpec) -> str | None:
    """Why the spec cannot run (-> TASK_ERROR), or None."""
    if not spec.mem >= MIN_MEM_MB:  # also NaN
        return f"mem {spec.mem:g} MB is below the minimum of {MIN_MEM_MB:g} MB"
    if not spec.cpus >= MIN_CPUS:  # also NaN
        return f"cpus {spec.cpus:g} is below the minimum of {MIN_CPUS:g}"
    if spec.container_type == "DOCKER" and not spec.image:
        return "a DOCKER task needs an image"
    if spec.container_type == "MESOS" and not spec.command and not spec.args and not spec.image:
        return "a MESOS task needs a command, args or an image"
    if spec.network not in ("HOST", "BRIDGE"):
        return f"unsupported network {spec.network!r} (HOST or BRIDGE)"
    if not spec.task_id or "/" in spec.task_id or spec.task_id in (".", ".."):
        return f"invalid task id {spec.task_id!r}"
    return None


def busy_port(ports: tuple[int, ...]) -> str | None:
    """A message naming the first host port something already holds, or None: the
    agent does not offer such ports, but another process may take one in between
    (``_ports``)."""
    return first_busy(ports)


class TaskHandle:
    """A running (or finished) task. Thread-safe; every method returns promptly.

    Exactly one terminal update is delivered through `on_update`; `wait()` returns it.
    """

    kind = "base"

    def __init__(
        self,
        spec: TaskSpec,
        sandbox: Sandbox,
        on_update: OnUpdate,
        on_health: OnHealth | None,
        work_dir: str,
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        """The containerizer's clock: health checks time their grace period with it."""
        self.spec = spec
        self.task_id = spec.task_id
        self.sandbox = sandbox
        self.work_dir = work_dir
        self._on_update = on_update
        self._on_health = on_health
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._kill_requested = threading.Event()
        self._kill_reason: tuple[str | None, str] | None = None
        self.state: str | None = None
        self.reason: str | None = None
        self.message = ""
        self.health: HealthReport | None = None
        """The task's health, all its checks together (`_health.combine`)."""
        self._health_runners: list[HealthCheckRunner] = []
        self._health_latest: list[HealthReport | None] = []  # per check
        self._health_lock = threading.Lock()
        self.checkpoint_data: dict[str, Any] = {}

    # -- public API -----------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return None

    @property
    def container_id(self) -> str | None:
        return None

    def kill(self, grace: float | None = None) -> None:
        """SIGTERM (docker stop) now, SIGKILL after `grace` s (default: the spec's)."""
        self._request_kill(grace, None, "killed")

    def wait(self, timeout: float | None = None) -> str | None:
        """The terminal state, or None if not terminal within `timeout`."""
        self._done.wait(timeout)
        return self.state if self._done.is_set() else None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def usage(self) -> Usage | None:
        return None

    # -- for subclasses ---------------------------------------------------------------
    def _request_kill(self, grace: float | None, reason: str | None, message: str) -> None:
        if self._done.is_set():
            return
        with self._lock:
            if self._kill_reason is None:
                self._kill_reason = (reason, message)
        self._kill_requested.set()
        g = self.spec.kill_grace_period if grace is None else grace
        threading.Thread(
            target=self._kill_sequence,
            args=(max(0.0, g),),
            name=f"kill-{self.task_id}",
            daemon=True,
        ).start()

    def _kill_sequence(self, grace: float) -> None:
        raise NotImplementedError

    def _emit(self, state: str, reason: str | None, message: str) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self.state, self.reason, self.message = state, reason, message
            terminal = state in TERMINAL_STATES
            if terminal:
                for runner in self._health_runners:
                    runner.stop()
                if self.checkpoint_data:
                    self.checkpoint_data["terminal"] = {
                        "state": state,
                        "reason": reason,
                        "message": message,
                    }
                    with contextlib.suppress(OSError):
                        write_checkpoint(self.work_dir, self.task_id, self.checkpoint_data)
        log.debug("task %s: %s %s %s", self.task_id, state, reason, message)
        try:
            self._on_update(state, reason, message)
        except Exception:
            log.exception("on_update callback failed for task %s", self.task_id)
        if terminal:
            self._done.set()

    def _fail_early(self, state: str, reason: str | None, message: str) -> TaskHandle:
        self._emit(state, reason, message)
        return self

    def _killed_state(self) -> tuple[str, str | None, str]:
        reason, message = self._kill_reason or (None, "killed")
        return TASK_KILLED, reason, message

    def _start_health(self, host_ports: tuple[int, ...], run_command: CommandRunner) -> None:
        checks = self.spec.health_checks
        if not checks or self._done.is_set():
            return
        self._health_latest = [None] * len(checks)
        self._health_runners = [
            HealthCheckRunner(
                self.task_id,
                check,
                host_ports,
                functools.partial(self._check_report, i),
                run_command,
                clock=self.clock.now,
            )
            for i, check in enumerate(checks)
        ]
        for runner in self._health_runners:
            runner.start()

    def _check_report(self, index: int, report: HealthReport) -> None:
        """One check's result changed: report the task's health if that changed it."""
        with self._health_lock:
            self._health_latest[index] = report
            combined = _health.combine(self.task_id, self._health_latest)
            if combined is None:
                return
            prev = self.health
            if combined.kill:
                if prev is not None and prev.kill:
                    return  # one kill is enough when several checks call for it
            elif prev is not None and prev.healthy == combined.healthy:
                return
            self._health_report(combined)

    def _health_report(self, report: HealthReport) -> None:
        self.health = report
        if self._on_health is not None:
            try:
                self._on_health(report)
            except Exception:
                log.exception("on_health callback failed for task %s", self.task_id)
        if report.kill:
            self._request_kill(
                None,
                REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
                f"killed after {report.consecutive_failures} consecutive failed health "
                f"checks: {report.message}",
            )


def invalid(spec: TaskSpec) -> tuple[str, str, str] | None:
    why = validate(spec)
    return (TASK_ERROR, REASON_TASK_INVALID, why) if why else None
