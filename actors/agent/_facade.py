"""`Containerizers`: the agent's one entry point, composed from a list of names."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors.agent._base import TaskHandle
from actors.agent._checkpoint import read_checkpoints
from actors.agent._docker import DockerContainerizer
from actors.agent._native import NativeContainerizer
from actors.agent._sandbox import Sandbox
from actors.agent._spec import (
    REASON_CONTAINER_LAUNCH_FAILED,
    TASK_FAILED,
    OnHealth,
    OnUpdate,
    RecoveredTask,
    TaskSpec,
)
from runtime import Clock, SystemClock

log = logging.getLogger("actors.agent")

_BY_TYPE = {"MESOS": "mesos", "DOCKER": "docker"}


class Containerizers:
    """`Containerizers(work_dir, ["mesos", "docker"], docker_url=...)`.

    An unreachable Docker engine makes "docker" unavailable with a logged reason;
    `available()` and `reasons` say which containerizers work.
    """

    def __init__(
        self,
        work_dir: str | Path,
        names: list[str] | tuple[str, ...] = ("mesos", "docker"),
        docker_url: str | None = None,
        agent_id: str = "local",
        host: str = "127.0.0.1",
        clock: Clock | None = None,
        **native_kw: Any,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        """One clock for every containerizer (the agent node's, from ``AgentProcess``)."""
        self.work_dir = str(work_dir)
        self.by_name: dict[str, Any] = {}
        self.reasons: dict[str, str] = {}
        for n in names:
            if n == "mesos":
                self.by_name[n] = NativeContainerizer(
                    work_dir, host=host, clock=self.clock, **native_kw
                )
            elif n == "docker":
                d = DockerContainerizer(
                    work_dir, docker_url, agent_id=agent_id, host=host, clock=self.clock
                )
                self.by_name[n] = d
                if not d.available:
                    self.reasons[n] = str(d.unavailable_reason)
            else:
                self.reasons[n] = f"unknown containerizer {n!r}"
                log.warning("ignoring unknown containerizer %r", n)

    def available(self) -> list[str]:
        return [n for n, c in self.by_name.items() if c.available]

    def launch(
        self,
        spec: TaskSpec,
        sandbox: Sandbox | None,
        on_update: OnUpdate,
        on_health: OnHealth | None = None,
    ) -> TaskHandle:
        name = _BY_TYPE.get(spec.container_type, spec.container_type.lower())
        c = self.by_name.get(name)
        if c is None or not c.available:
            why = self.reasons.get(name, f"containerizer {name!r} is not enabled")
            h = TaskHandle(
                spec,
                sandbox or Sandbox(self.work_dir, spec.task_id),
                on_update,
                on_health,
                self.work_dir,
            )
            return h._fail_early(
                TASK_FAILED,
                REASON_CONTAINER_LAUNCH_FAILED,
                f"cannot launch {spec.container_type} task: {why}",
            )
        handle: TaskHandle = c.launch(spec, sandbox, on_update, on_health)
        return handle

    def recover(
        self,
        on_update_for: Callable[[str], OnUpdate] | None = None,
        on_health_for: Callable[[str], OnHealth | None] | None = None,
    ) -> list[RecoveredTask]:
        cps = read_checkpoints(self.work_dir)
        out: list[RecoveredTask] = []
        for c in self.by_name.values():
            out.extend(c.recover(cps, on_update_for, on_health_for))
        return out
