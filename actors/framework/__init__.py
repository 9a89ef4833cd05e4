"""The framework toolkit: what Marathon, Metronome and users' scripts build on.

- placement (``_placement.py``, pure): ``Agent``, ``Constraint``, ``match``/``match_one``,
  ``Demand`` + ``fit`` (resources and ports, with reasons), ``containerizer_ok``, and
  ``place`` chaining them; ``agent_of(offer)``.
- ``LaunchBackoff`` (``_backoff.py``, pure): Marathon's RateLimiter rule.
- one task builder (``_task.py``, pure): ``build_task_info`` with ``command_spec``,
  ``container_info``, ``discovery_info`` (typed records of ``actors.protocol``).
- the scheduler API (``_driver.py``): ``FrameworkDriver``, embedded in the actor that
  owns a framework (the master's messages reach that actor directly: one mailbox hop;
  ``handle(message)`` returns a typed ``FrameworkEvent``), and on top of it Mesos'
  callback API for scripts (subclass ``Scheduler``, drive ``SchedulerDriver``).
- ``actors.framework.testing.FrameworkHarness``: a master for testing one framework.

Imports are lazy (PEP 562): importing a pure module (``actors.framework._placement``, or
``actors.metronome._run`` which uses it) loads no transport, ZooKeeper or HTTP library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.framework._backoff import BackoffSettings, LaunchBackoff
    from actors.framework._driver import (
        Disconnected,
        FrameworkDriver,
        FrameworkEvent,
        Registered,
        Scheduler,
        SchedulerDriver,
    )
    from actors.framework._errors import DriverError, FrameworkToolkitError, InvalidSpec
    from actors.framework._placement import (
        CONSTRAINT_OPERATORS,
        INSUFFICIENT_CPUS,
        INSUFFICIENT_DISK,
        INSUFFICIENT_GPUS,
        INSUFFICIENT_MEMORY,
        INSUFFICIENT_PORTS,
        UNFULFILLED_CONSTRAINT,
        UNFULFILLED_ROLE,
        UNSUPPORTED_CONTAINERIZER,
        Agent,
        Constraint,
        Demand,
        Fit,
        Match,
        agent_of,
        attribute_text,
        containerizer_ok,
        fit,
        match,
        match_one,
        place,
        port_list,
    )
    from actors.framework._task import (
        DEFAULT_KILL_GRACE_PERIOD,
        build_task_info,
        command_spec,
        container_info,
        discovery_info,
    )

_EXPORTS = {
    "actors.framework._task": (
        "DEFAULT_KILL_GRACE_PERIOD",
        "build_task_info",
        "command_spec",
        "container_info",
        "discovery_info",
    ),
    "actors.framework._backoff": ("BackoffSettings", "LaunchBackoff"),
    "actors.framework._driver": (
        "Disconnected",
        "FrameworkDriver",
        "FrameworkEvent",
        "Registered",
        "Scheduler",
        "SchedulerDriver",
    ),
    "actors.framework._errors": ("DriverError", "FrameworkToolkitError", "InvalidSpec"),
    "actors.framework._placement": (
        "CONSTRAINT_OPERATORS",
        "INSUFFICIENT_CPUS",
        "INSUFFICIENT_DISK",
        "INSUFFICIENT_GPUS",
        "INSUFFICIENT_MEMORY",
        "INSUFFICIENT_PORTS",
        "UNFULFILLED_CONSTRAINT",
        "UNFULFILLED_ROLE",
        "UNSUPPORTED_CONTAINERIZER",
        "Agent",
        "Constraint",
        "Demand",
        "Fit",
        "Match",
        "agent_of",
        "attribute_text",
        "containerizer_ok",
        "fit",
        "match",
        "match_one",
        "place",
        "port_list",
    ),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "CONSTRAINT_OPERATORS",
    "DEFAULT_KILL_GRACE_PERIOD",
    "INSUFFICIENT_CPUS",
    "INSUFFICIENT_DISK",
    "INSUFFICIENT_GPUS",
    "INSUFFICIENT_MEMORY",
    "INSUFFICIENT_PORTS",
    "UNFULFILLED_CONSTRAINT",
    "UNFULFILLED_ROLE",
    "UNSUPPORTED_CONTAINERIZER",
    "Agent",
    "BackoffSettings",
    "Constraint",
    "Demand",
    "Disconnected",
    "DriverError",
    "Fit",
    "FrameworkDriver",
    "FrameworkEvent",
    "FrameworkToolkitError",
    "InvalidSpec",
    "LaunchBackoff",
    "Match",
    "Registered",
    "Scheduler",
    "SchedulerDriver",
    "agent_of",
    "attribute_text",
    "build_task_info",
    "command_spec",
    "container_info",
    "containerizer_ok",
    "discovery_info",
    "fit",
    "match",
    "match_one",
    "place",
    "port_list",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
