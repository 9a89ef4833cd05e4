"""DNS for the cluster: a Mesos-DNS-compatible server on every master (issue 20).

Zones ``mesos`` (Mesos-DNS' names) and ``thisdcos.directory`` (dcos-net's, with the load
balancer's VIP names); everything else is forwarded upstream. Records are a pure
function of the leading master's v1 operator events (``_records``), the wire side is
dnslib behind a pure packet handler (``_wire``), the sockets are asyncio (``_server``),
and the actor (``_actor``) follows the leader. See README.md.

Imports are lazy (PEP 562): the pure naming and record modules load no aiohttp/zmq.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.dns._errors import DnsConfigError, DnsError, DnsStartError
from actors.dns._names import app_dns_name, domain_frag, rfc952_label, rfc1123_label
from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.dns._actor import DnsActor
    from actors.dns._index import TableIndex
    from actors.dns._live import LiveTable
    from actors.dns._messages import DNS_ACTOR, DnsLeaderChanged
    from actors.dns._records import (
        Changes,
        ClusterView,
        DnsConfig,
        RecordTable,
        apply_event,
        build_table,
        set_leader,
    )
    from actors.dns._server import DnsServer, parse_upstreams
    from actors.dns._service import DnsService
    from actors.dns._vips import VipNames, vip_records
    from actors.dns._wire import FORWARD, Answerer, make_query, parse_reply

_LAZY = {
    "DnsActor": "actors.dns._actor",
    "TableIndex": "actors.dns._index",
    "LiveTable": "actors.dns._live",
    "Changes": "actors.dns._records",
    "VipNames": "actors.dns._vips",
    "vip_records": "actors.dns._vips",
    "DNS_ACTOR": "actors.dns._messages",
    "DnsLeaderChanged": "actors.dns._messages",
    "ClusterView": "actors.dns._records",
    "DnsConfig": "actors.dns._records",
    "RecordTable": "actors.dns._records",
    "apply_event": "actors.dns._records",
    "build_table": "actors.dns._records",
    "set_leader": "actors.dns._records",
    "DnsServer": "actors.dns._server",
    "parse_upstreams": "actors.dns._server",
    "DnsService": "actors.dns._service",
    "FORWARD": "actors.dns._wire",
    "Answerer": "actors.dns._wire",
    "make_query": "actors.dns._wire",
    "parse_reply": "actors.dns._wire",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "DNS_ACTOR",
    "FORWARD",
    "Answerer",
    "Changes",
    "ClusterView",
    "DnsActor",
    "DnsConfig",
    "DnsConfigError",
    "DnsError",
    "DnsLeaderChanged",
    "DnsServer",
    "DnsService",
    "DnsStartError",
    "LiveTable",
    "RecordTable",
    "TableIndex",
    "VipNames",
    "app_dns_name",
    "apply_event",
    "build_table",
    "domain_frag",
    "make_query",
    "parse_reply",
    "parse_upstreams",
    "rfc952_label",
    "rfc1123_label",
    "set_leader",
    "vip_records",
]
