"""Service ports: the cluster-wide port of each app port, Marathon's ``servicePorts``.

An app port given as 0 (``portDefinitions[].port``, or ``servicePort`` of a container
port mapping) gets a free port from Marathon's range (``--local_port_min/max``,
10000-20000 by default) when the app is created or changed. Load balancers
(marathon-lb) listen on it and route to the tasks' host ports, so a service port must
be unique across apps and stable: a change that asks for 0 again at the same index
keeps the port the app already has, and the port is stored with the app definition
(so it survives a failover). Pure: the caller passes the ports other apps hold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from ._app import AppDefinition
from ._errors import ValidationFailed

DEFAULT_PORT_RANGE = (10000, 20000)
"""Marathon's default ``--local_port_min`` / ``--local_port_max``."""


def service_ports(app: AppDefinition) -> list[int]:
    """The app's service ports in port order (0 where none is assigned)."""
    if app.container is not None and app.container.port_mappings:
        return [m.service_port for m in app.container.port_mappings]
    return [d.port for d in app.port_definitions]


def taken_ports(apps: Iterable[AppDefinition], *, besides: str = "") -> set[int]:
    """Every non-zero service port of ``apps`` except the app ``besides``."""
    return {port for app in apps if app.id != besides for port in service_ports(app) if port}


def assign_service_ports(
    app: AppDefinition,
    previous: AppDefinition | None,
    taken: set[int],
    port_range: tuple[int, int] = DEFAULT_PORT_RANGE,
) -> AppDefinition:
    """``app`` with each 0 service port replaced: by ``previous``'s port at the same
    index when it had one (stable across versions), else by the lowest port of
    ``port_range`` that no other app holds (``taken``) and ``app`` does not use.

    Raises ``ValidationFailed`` (422) naming the field when the range is exhausted."""
    wanted = service_ports(app)
    if all(wanted):
        return app
    before = service_ports(previous) if previous is not None else []
    own = {port for port in wanted if port}
    chosen: list[int] = []
    low, high = port_range
    candidate = low
    for index, port in enumerate(wanted):
        if port:
            chosen.append(port)
            continue
        kept = before[index] if index < len(before) else 0
        if kept and kept not in own and kept not in taken:
            chosen.append(kept)
            own.add(kept)
            continue
        while candidate <= high and (candidate in taken or candidate in own):
            candidate += 1
        if candidate > high:
            field = (
                "/container/portMappings"
                if app.container is not None and app.container.port_mappings
                else "/portDefinitions"
            )
            raise ValidationFailed.single(
                field, f"no free service port left in the range {low}-{high} for {app.id}"
            )
        chosen.append(candidate)
        own.add(candidate)
    return _with_ports(app, chosen)


def _with_ports(app: AppDefinition, ports: list[int]) -> AppDefinition:
    if app.container is not None and app.container.port_mappings:
        mappings = tuple(
            dataclasses.replace(m, service_port=port)
            for m, port in zip(app.container.port_mappings, ports, strict=True)
        )
        return dataclasses.replace(
            app, container=dataclasses.replace(app.container, port_mappings=mappings)
        )
    definitions = tuple(
        dataclasses.replace(d, port=port)
        for d, port in zip(app.port_definitions, ports, strict=True)
    )
    return dataclasses.replace(app, port_definitions=definitions)
