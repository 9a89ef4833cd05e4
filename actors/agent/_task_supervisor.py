"""``TaskSupervisor``: one actor per task, owning its container and its state machine.

```
 agent node root supervisor
   "tasks"  Supervisor (one_for_one; children temporary: a task is never restarted by
     |       the agent, its framework decides)
     +-- TaskSupervisor(task a) -- TaskHandle (native: pid + cgroup | docker: container)
     +-- TaskSupervisor(task b) ...
   "agent"  AgentActor  <-- reports (state, reason, message, healthy) from each task
```

The tasks supervisor is the agent actor's sibling, not its child: if the agent actor
crashes and is restarted, running tasks and their supervisors carry on, and the new
agent actor picks their reports up (Mesos' agent restart semantics, in one process).

A task supervisor launches (or adopts, after recovery) its task's container in
``started()``, turns the containerizer's callbacks (made on its threads) into messages
to itself, and forwards every state change to the agent: at most one terminal state,
nothing after it. ``Kill`` kills the container (SIGTERM, grace, SIGKILL).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.agent._spec import TaskSpec, Usage
from actors.task_states import TERMINAL_STATES
from runtime import Actor

log = logging.getLogger("actors.agent")

Report = Callable[[str, str, str | None, str, bool | None], None]


@dataclass(frozen=True, slots=True)
class Kill:
    """Kill the task: SIGTERM (docker stop), wait ``grace`` seconds, then SIGKILL."""

    grace: float | None = None
    """Override of the task's kill grace period."""


@dataclass(frozen=True, slots=True)
class TaskUsage:
    """Ask the task's CPU and memory usage (a ``Usage`` or None)."""


@dataclass(frozen=True, slots=True)
class _Update:
    state: str
    reason: str | None
    message: str


@dataclass(frozen=True, slots=True)
class _Health:
    healthy: bool
    message: str


class TaskSupervisor(Actor):
    """Supervises one task; see the module docstring."""

    def __init__(
        self,
        task_id: str,
        report: Callable[[], Report | None],
        *,
        launch: Callable[[Callable[..., None], Callable[[Any], None]], Any] | None = None,
        handle: Any = None,
    ) -> None:
        """``launch(on_update, on_health) -> TaskHandle`` starts the container; or
        ``handle`` is an existing one (recovered after an agent restart). ``report``
        returns the agent's current report function (it changes when the agent actor is
        restarted)."""
        super().__init__()
        self.task_id = task_id
        self._report = report
        self._launch = launch
        self.handle: Any = handle
        self.state: str | None = getattr(handle, "state", None)

    def started(self) -> None:
        if self.handle is None and self._launch is not None:
            self.handle = self._launch(self.on_update, self.on_health)

    # Containerizer callbacks: called on the containerizer's threads, so they only post.

    def on_update(self, state: str, reason: str | None, message: str) -> None:
        self.ref.tell(_Update(state, reason, message))

    def on_health(self, report: Any) -> None:
        self.ref.tell(_Health(bool(report.healthy), str(report.message)))

    def receive(self, message: Any) -> Any:
        if isinstance(message, _Update):
            self._forward(message.state, message.reason, message.message, None)
        elif isinstance(message, _Health):
            if self.state in TERMINAL_STATES:
                return None
            self._forward(
                self.state or "TASK_RUNNING",
                "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
                message.message,
                message.healthy,
            )
        elif isinstance(message, Kill):
            if self.handle is not None and self.state not in TERMINAL_STATES:
                if self.state == "TASK_RUNNING":
                    # As Mesos' executors: TASK_KILLING before the signal, so a load
                    # balancer drains the task while it finishes its requests (issue 20).
                    self._forward("TASK_KILLING", None, "the task is being killed", None)
                self.handle.kill(message.grace)
        elif isinstance(message, TaskUsage):
            usage: Usage | None = self.handle.usage() if self.handle is not None else None
            return usage
        else:
            return super().receive(message)
        return None

    def _forward(self, state: str, reason: str | None, message: str, healthy: bool | None) -> None:
        if self.state in TERMINAL_STATES:
            log.debug("task %s: dropping %s after its terminal state", self.task_id, state)
            return
        self.state = state
        report = self._report()
        if report is not None:
            report(self.task_id, state, reason, message, healthy)


def spec_launcher(containerizers: Any, spec: TaskSpec) -> Callable[..., Any]:
    """``launch`` argument for a TaskSupervisor that starts ``spec`` in a container."""

    def launch(on_update: Callable[..., None], on_health: Callable[[Any], None]) -> Any:
        return containerizers.launch(spec, None, on_update, on_health)

    return launch
