"""The service SDK: a stateful service as a spec (dcos-commons' ``svc.yml``) plus small
hooks, run by a generic scheduler with plans (see docs/sdk.md and README.md here).

- ``load_spec(yaml_text, options, base_dir=None) -> ServiceSpec`` (``_spec.py``, pure):
  mustache-rendered, schema-validated; ``SpecError.path`` names the YAML path.
  ``check_update(old, new) -> [problems]``: what a new target config may not change.
- plans (``_plans.py``, pure): ``PlanRun``, ``active_steps``, ``plan_json``.
- ``ServiceCore`` (``_core.py``, pure): plans x task statuses x offers -> reserve,
  launch, kill; recovery in place; pod restart/replace.
- the scheduler process: ``python -m actors.sdk.scheduler --spec svc.yml`` (a framework
  on the actor driver, its state in ZooKeeper, its HTTP API ``/v1/plans...``).
- ``ServiceProxyService`` (``_proxy.py``): the master's ``/service/<name>/`` route to a
  Marathon app's task (Admin Router's), through which the CLI reaches a scheduler.

Imports are lazy: ``from actors.sdk import load_spec`` loads no aiohttp, kazoo or zmq.
"""

from __future__ import annotations

import importlib

# Not ``typing.TYPE_CHECKING``: importing ``typing`` costs a task helper's start several
# ms under its CPU quota (see ``__getattr__``); mypy treats this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from actors.sdk._cleanup import STATE_ROOT, cleanup_calls
    from actors.sdk._core import Context, Effects, ServiceCore, TaskRecord, Want
    from actors.sdk._errors import (
        PlanCommandError,
        PlanNotFound,
        SdkError,
        SpecError,
        StateError,
        UpdateRefused,
    )
    from actors.sdk._plans import PlanRun, active_steps, plan_json
    from actors.sdk._proxy import ServiceProxyService
    from actors.sdk._scope import cluster_scope
    from actors.sdk._spec import (
        PlanSpec,
        PodSpec,
        ServiceSpec,
        TaskSpec,
        check_update,
        load_spec,
    )
    from actors.sdk._validate import check_scheduler_app

_EXPORTS = {
    "actors.sdk._cleanup": ("STATE_ROOT", "cleanup_calls"),
    "actors.sdk._core": ("Context", "Effects", "ServiceCore", "TaskRecord", "Want"),
    "actors.sdk._errors": (
        "PlanCommandError",
        "PlanNotFound",
        "SdkError",
        "SpecError",
        "StateError",
        "UpdateRefused",
    ),
    "actors.sdk._plans": ("PlanRun", "active_steps", "plan_json"),
    "actors.sdk._proxy": ("ServiceProxyService",),
    "actors.sdk._scope": ("cluster_scope",),
    "actors.sdk._validate": ("check_scheduler_app",),
    "actors.sdk._spec": (
        "PlanSpec",
        "PodSpec",
        "ServiceSpec",
        "TaskSpec",
        "check_update",
        "load_spec",
    ),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "STATE_ROOT",
    "Context",
    "Effects",
    "PlanCommandError",
    "PlanNotFound",
    "PlanRun",
    "PlanSpec",
    "PodSpec",
    "SdkError",
    "ServiceCore",
    "ServiceProxyService",
    "ServiceSpec",
    "SpecError",
    "StateError",
    "TaskRecord",
    "TaskSpec",
    "UpdateRefused",
    "Want",
    "active_steps",
    "check_scheduler_app",
    "check_update",
    "cleanup_calls",
    "cluster_scope",
    "load_spec",
    "plan_json",
]


# runtime.lazy_exports' table, inlined: a service's task helpers
# (``python -m actors.sdk.services.<svc>.node``) start as a process on every plan step
# under a small CPU quota, and importing ``runtime`` (logging, msgpack, the transport)
# for the parent package cost them more than their work (a redis backup's launch).
def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
