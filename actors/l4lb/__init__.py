"""Named VIPs and layer-4 load balancing (DC/OS' dcos-l4lb, on HAProxy).

A port label ``VIP_0: "/web:80"`` on a Marathon app gives the app a stable address,
``web.marathon.l4lb.thisdcos.directory:80``, balanced over the app's healthy instances.
Every master runs the ``l4lb`` node service: it follows the leading master's task events
(``WatchMaster``), keeps the VIP table (a pure function of those events), and drives a
real HAProxy it supervises (backend changes through the runtime API, VIP changes by a
hitless master-worker reload). See README.md for the map.

Imports are lazy (PEP 562): the pure parts (labels, table, HAProxy config rendering)
load no aiohttp, kazoo or ZeroMQ; Marathon imports the label rules from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.l4lb._errors import HaproxyError, InvalidVip, L4lbError
from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.l4lb._actor import L4lbActor, VipView
    from actors.l4lb._haproxy import HaproxyModel, plan, ready_servers, render_config
    from actors.l4lb._labels import (
        BALANCE_LABEL,
        BALANCES,
        L4LB_ZONE,
        NAMED_NETWORK,
        PortLabels,
        VipSpec,
        VipUse,
        dns_label,
        is_vip_label,
        parse_vip,
        port_vips,
        vip_conflicts,
        vip_hostname,
    )
    from actors.l4lb._messages import L4LB_ACTOR
    from actors.l4lb._process import Haproxy, find_haproxy
    from actors.l4lb._service import VIPS_PATH, L4lbService
    from actors.l4lb._table import (
        LIVE_STATES,
        Backend,
        Vip,
        VipTable,
        allocate,
        cluster_salt,
        is_backend,
        named_vips,
        task_view,
        vip_dns_records,
        vips_json,
    )

_LAZY: dict[str, str] = {
    "L4lbActor": "actors.l4lb._actor",
    "VipView": "actors.l4lb._actor",
    "HaproxyModel": "actors.l4lb._haproxy",
    "plan": "actors.l4lb._haproxy",
    "ready_servers": "actors.l4lb._haproxy",
    "render_config": "actors.l4lb._haproxy",
    "L4LB_ACTOR": "actors.l4lb._messages",
    "Haproxy": "actors.l4lb._process",
    "find_haproxy": "actors.l4lb._process",
    "VIPS_PATH": "actors.l4lb._service",
    "L4lbService": "actors.l4lb._service",
    "BALANCE_LABEL": "actors.l4lb._labels",
    "BALANCES": "actors.l4lb._labels",
    "L4LB_ZONE": "actors.l4lb._labels",
    "NAMED_NETWORK": "actors.l4lb._labels",
    "PortLabels": "actors.l4lb._labels",
    "VipSpec": "actors.l4lb._labels",
    "VipUse": "actors.l4lb._labels",
    "dns_label": "actors.l4lb._labels",
    "is_vip_label": "actors.l4lb._labels",
    "parse_vip": "actors.l4lb._labels",
    "port_vips": "actors.l4lb._labels",
    "vip_conflicts": "actors.l4lb._labels",
    "vip_hostname": "actors.l4lb._labels",
    "Backend": "actors.l4lb._table",
    "Vip": "actors.l4lb._table",
    "VipTable": "actors.l4lb._table",
    "allocate": "actors.l4lb._table",
    "cluster_salt": "actors.l4lb._table",
    "is_backend": "actors.l4lb._table",
    "vip_dns_records": "actors.l4lb._table",
    "LIVE_STATES": "actors.l4lb._table",
    "named_vips": "actors.l4lb._table",
    "task_view": "actors.l4lb._table",
    "vips_json": "actors.l4lb._table",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "BALANCES",
    "BALANCE_LABEL",
    "L4LB_ACTOR",
    "L4LB_ZONE",
    "LIVE_STATES",
    "NAMED_NETWORK",
    "VIPS_PATH",
    "Backend",
    "Haproxy",
    "HaproxyError",
    "HaproxyModel",
    "InvalidVip",
    "L4lbActor",
    "L4lbError",
    "L4lbService",
    "PortLabels",
    "Vip",
    "VipSpec",
    "VipTable",
    "VipUse",
    "VipView",
    "allocate",
    "cluster_salt",
    "dns_label",
    "find_haproxy",
    "is_backend",
    "is_vip_label",
    "named_vips",
    "parse_vip",
    "plan",
    "port_vips",
    "ready_servers",
    "render_config",
    "task_view",
    "vip_conflicts",
    "vip_dns_records",
    "vip_hostname",
    "vips_json",
]
