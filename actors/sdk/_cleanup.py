"""What ``package uninstall`` must undo after it tore an SDK service's framework down
(dcos-commons' uninstall plan): its volumes destroyed and its reservations unreserved on
every agent, through the operator API. Pure: ``cleanup_calls`` reads ``/mesos/master/
slaves`` and returns the v1 operator calls; Cosmos sends them (retrying while the killed
tasks still hold the resources) and deletes the scheduler's ZooKeeper state."""

from __future__ import annotations

from typing import Any

from actors.sdk._core import LABEL_SERVICE

STATE_ROOT = "/sdk"
"""The schedulers' ZooKeeper state: ``/sdk/<service>`` (under the cluster chroot)."""


def _labels(entry: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for res in entry.get("reservations") or []:
        for label in ((res or {}).get("labels") or {}).get("labels") or []:
            out[str(label.get("key"))] = str(label.get("value", ""))
    return out


def cleanup_calls(slaves: Any, service: str) -> list[dict[str, Any]]:
    """``DESTROY_VOLUMES`` then ``UNRESERVE_RESOURCES`` per agent for every resource
    labelled ``sdk_service=<service>`` (an empty list: nothing left)."""
    calls: list[dict[str, Any]] = []
    for agent in (slaves or {}).get("slaves") or []:
        agent_id = {"value": str(agent.get("id"))}
        mine = [
            e
            for entries in (agent.get("reserved_resources_full") or {}).values()
            for e in entries or []
            if isinstance(e, dict) and _labels(e).get(LABEL_SERVICE) == service
        ]
        if not mine:
            continue
        volumes = [e for e in mine if (e.get("disk") or {}).get("persistence")]
        if volumes:
            calls.append(
                {
                    "type": "DESTROY_VOLUMES",
                    "destroy_volumes": {"agent_id": agent_id, "volumes": volumes},
                }
            )
        plain = [{k: v for k, v in e.items() if k != "disk"} for e in mine]
        calls.append(
            {
                "type": "UNRESERVE_RESOURCES",
                "unreserve_resources": {"agent_id": agent_id, "resources": plain},
            }
        )
    return calls
