"""Which leader services a master can run, by name: the public list ``pydcos master
--services`` and ``pydcos cluster up`` read (no argparse internals, no import circle).

Light on purpose: ``from actors.master import DEFAULT_SERVICES`` loads neither the
gateway (aiohttp) nor ZooKeeper nor ZeroMQ; a service's module is imported only when
``leader_services`` makes it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from actors.master._errors import MasterError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from actors.master._services import LeaderService, NodeService

LEADER_SERVICES: dict[str, tuple[str, str]] = {
    "marathon": ("actors.marathon", "MarathonService"),
    "metronome": ("actors.metronome", "MetronomeService"),
    "packages": ("actors.packages", "PackagesService"),
    "mesos_api": ("actors.mesos_api", "MesosApiService"),
    "actors": ("actors.cluster_actors", "ClusterActorsService"),
    "iam": ("actors.iam", "IamService"),
    "service_proxy": ("actors.sdk", "ServiceProxyService"),
}
"""Leader services a master can run, by the name ``pydcos master --services`` takes:
name -> (module, class). Named by string because the frameworks import the master
(``LeaderService``), never the reverse."""

DEFAULT_SERVICES: tuple[str, ...] = (
    "iam",
    "marathon",
    "metronome",
    "mesos_api",
    "packages",
    "actors",
    "service_proxy",
)
"""What a master runs while leading unless told otherwise (as DC/OS masters do); also what
``pydcos cluster up`` asks of every master."""


def leader_services(
    names: str, settings: Mapping[str, Any] | None = None
) -> tuple[LeaderService, ...]:
    """``"marathon,metronome"`` -> service instances, in that order (built with
    ``cls.from_settings(settings)`` when the class has it, as node services are).

    A name that is not in ``LEADER_SERVICES``, or a service that cannot be imported, is a
    ``MasterError`` naming it (the CLI prints it as the ``--services`` flag's error).
    """
    out: list[LeaderService] = []
    for name in (n.strip() for n in names.split(",")):
        if not name:
            continue
        if name not in LEADER_SERVICES:
            known = ", ".join(sorted(LEADER_SERVICES))
            raise MasterError(f"services: {name!r} is not one of {known}")
        module, cls = LEADER_SERVICES[name]
        try:
            made = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as exc:
            raise MasterError(f"services: {name} is not available: {exc}") from None
        factory = getattr(made, "from_settings", None)
        out.append(factory(dict(settings or {})) if factory is not None else made())
    return tuple(out)


NODE_SERVICES: dict[str, tuple[str, str]] = {
    "iam": ("actors.iam", "IamNodeService"),
    "metrics": ("actors.metrics", "MetricsService"),
    "agent-api": ("actors.mesos_api", "AgentApiService"),
    "l4lb": ("actors.l4lb", "L4lbService"),
    "logs": ("actors.logs", "LogsService"),
    "dns": ("actors.dns", "DnsService"),
}
"""Services every master runs for its whole life, leading or not, by the name
``pydcos master --node-services`` takes: name -> (module, class). The class is built with
``cls.from_settings(settings)`` when it has that classmethod (``settings``: the master's
command-line flags as a dict, e.g. ``dns_port``), else ``cls()``."""

DEFAULT_NODE_SERVICES: tuple[str, ...] = ("iam", "metrics", "agent-api", "l4lb", "logs", "dns")
"""What every master runs unless told otherwise (DC/OS runs these on every node)."""


def node_services(names: str, settings: Mapping[str, Any] | None = None) -> tuple[NodeService, ...]:
    """``"dns,l4lb"`` -> node service instances, in that order; an unknown or broken name
    is a ``MasterError`` naming it (printed as the ``--node-services`` flag's error)."""
    out: list[NodeService] = []
    for name in (n.strip() for n in names.split(",")):
        if not name:
            continue
        if name not in NODE_SERVICES:
            known = ", ".join(sorted(NODE_SERVICES)) or "(none)"
            raise MasterError(f"node-services: {name!r} is not one of {known}")
        module, cls_name = NODE_SERVICES[name]
        try:
            cls = getattr(importlib.import_module(module), cls_name)
        except (ImportError, AttributeError) as exc:
            raise MasterError(f"node-services: {name} is not available: {exc}") from None
        factory = getattr(cls, "from_settings", None)
        out.append(factory(dict(settings or {})) if factory is not None else cls())
    return tuple(out)
