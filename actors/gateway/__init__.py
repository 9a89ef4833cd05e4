"""The HTTP edge of every master, at DC/OS Admin Router paths.

The leader answers the cluster's state; a standby redirects it to the leader (307) or
answers 503 when no master leads. A master's own facts (``/flags``, ``/version``,
``/metrics/snapshot``, ``/redirect``) every master answers; they are gathered by
``_about.py`` (``MasterAbout``, ``build_info``...), which the master actor reuses. Leader
services mount their routes on the same server: Marathon at ``/marathon`` and DC/OS'
``/service/marathon``, Metronome at ``/metronome`` and ``/service/metronome``.

The gateway imports nothing from ``actors.master``: it asks the master actor with
``actors.protocol.GetState`` and is handed what it cannot know (the leader, a standby's
metrics) as callables. Imports are lazy (PEP 562): the facts load no aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.gateway._about import (
    DEFAULT_CLUSTER,
    MESOS_VERSION,
    BuildInfo,
    MasterAbout,
    build_info,
    build_json,
    cluster_name,
    flag_value,
    master_about,
    master_flags,
    system_metrics,
)
from actors.gateway._errors import GatewayError, GatewayStartError
from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.gateway._actor_auth import ActorApiAuth
    from actors.gateway._auth import (
        PUBLIC_PATHS,
        RouteResource,
        forbidden,
        forward_headers,
        is_public,
        permit,
        principal,
        reader,
        requires,
        rid_for,
    )
    from actors.gateway._body import send_bytes
    from actors.gateway._server import (
        MAX_BODY_BYTES,
        HttpGateway,
        LeaderInfo,
        agent_actor_address,
        json_error,
    )

_LAZY = {
    "ActorApiAuth": "actors.gateway._actor_auth",
    "PUBLIC_PATHS": "actors.gateway._auth",
    "RouteResource": "actors.gateway._auth",
    "rid_for": "actors.gateway._auth",
    "is_public": "actors.gateway._auth",
    "principal": "actors.gateway._auth",
    "permit": "actors.gateway._auth",
    "reader": "actors.gateway._auth",
    "forbidden": "actors.gateway._auth",
    "forward_headers": "actors.gateway._auth",
    "requires": "actors.gateway._auth",
    "HttpGateway": "actors.gateway._server",
    "LeaderInfo": "actors.gateway._server",
    "MAX_BODY_BYTES": "actors.gateway._server",
    "json_error": "actors.gateway._server",
    "agent_actor_address": "actors.gateway._server",
    "send_bytes": "actors.gateway._body",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "DEFAULT_CLUSTER",
    "MAX_BODY_BYTES",
    "MESOS_VERSION",
    "PUBLIC_PATHS",
    "ActorApiAuth",
    "BuildInfo",
    "GatewayError",
    "GatewayStartError",
    "HttpGateway",
    "LeaderInfo",
    "MasterAbout",
    "RouteResource",
    "agent_actor_address",
    "build_info",
    "build_json",
    "cluster_name",
    "flag_value",
    "forbidden",
    "forward_headers",
    "is_public",
    "json_error",
    "master_about",
    "master_flags",
    "permit",
    "principal",
    "reader",
    "requires",
    "rid_for",
    "send_bytes",
    "system_metrics",
]
