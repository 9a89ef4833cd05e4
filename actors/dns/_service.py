"""``DnsService``: the DNS server as a node service of every master.

```
 MasterProcess (every master, leading or not)
   child "dns" -> DnsActor: DnsServer (UDP+TCP on --dns-host:--dns-port), follows the
                  leader (leader_listeners -> DnsLeaderChanged -> WatchMaster)
   gateway:    /mesos_dns/v1/... (this master's own table)
```

Settings come from ``pydcos master``'s flags (``from_settings(vars(args))``):
``dns_port`` (0: a free port, kept across actor restarts), ``dns_host``,
``dns_upstream`` (``ip[:port],...``; default: /etc/resolv.conf's nameservers),
``dns_ttl`` (seconds, default 5).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from actors.dns._actor import DnsActor, vip_records
from actors.dns._api import api_routes
from actors.dns._errors import DnsConfigError
from actors.dns._messages import DNS_ACTOR, DnsLeaderChanged
from actors.dns._records import DnsConfig, RecordTable
from actors.dns._server import (
    DnsServer,
    adopt,
    parse_upstreams,
    reserve,
    reserved_fds,
    resolv_conf_upstreams,
)
from actors.master import ServiceContext
from runtime import ChildSpec

log = logging.getLogger("actors.dns")

DEFAULT_TTL = 5
MAX_TTL = 86400
RESOLV_CONF = "/etc/resolv.conf"


def read_resolv_conf(path: str = RESOLV_CONF) -> list[tuple[str, int]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return resolv_conf_upstreams(f.read())
    except OSError:
        return []


def _contenders(client: Any) -> list[str]:
    """Every master in the election (ZooKeeper), leader first: their transport addresses."""
    from zk import read_contenders

    return [c.address for c in read_contenders(client)] if client is not None else []


def _salt(zk: Any) -> str:
    if not isinstance(zk, str) or not zk:
        return ""
    try:
        from actors.l4lb import cluster_salt
    except ImportError:
        return ""
    return cluster_salt(zk)


class DnsService:
    """The ``NodeService`` named ``dns``."""

    name = "dns"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        upstreams: list[tuple[str, int]] | None = None,
        ttl: int = DEFAULT_TTL,
        salt: str = "",
    ) -> None:
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise DnsConfigError(f"dns-host: {host!r} is not an IPv4 address") from None
        if not 0 <= port < 65536:
            raise DnsConfigError(f"dns-port: {port!r} is not a port (0-65535; 0: a free one)")
        if not 0 <= ttl <= MAX_TTL:
            raise DnsConfigError(f"dns-ttl: {ttl!r} is not between 0 and {MAX_TTL} seconds")
        self.host, self.port, self.ttl = host, port, ttl
        self.salt = salt
        """The cluster's identity for VIP address hashing (``actors.l4lb.cluster_salt``)."""
        self.explicit_upstreams = upstreams is not None
        self.upstreams = upstreams if upstreams is not None else read_resolv_conf()
        self.server: DnsServer | None = None
        self.http_url = ""

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> DnsService:
        """``pydcos master`` flags -> the service (DnsConfigError names a bad one)."""
        upstream = settings.get("dns_upstream")
        ttl = settings.get("dns_ttl")
        port = settings.get("dns_port")
        return cls(
            host=str(settings.get("dns_host") or settings.get("http_host") or "127.0.0.1"),
            port=int(port) if port is not None else 0,
            upstreams=parse_upstreams(upstream) if upstream else None,
            ttl=int(ttl) if ttl is not None else DEFAULT_TTL,
            salt=_salt(settings.get("zk")),
        )

    def reserve(self) -> str:
        """Bind this master's DNS sockets now, at the process' start-up (port 0: a free
        port, chosen here and kept), and return ``ip:port`` for the master to report: a
        launcher that picked a free port and released it could lose it to another
        socket before the master bound it. The DNS actor serves on these sockets."""
        self.port = reserve(self.host, self.port)
        return f"{self.host}:{self.port}"

    def inherited_fds(self) -> tuple[int, int] | None:
        """The sockets ``reserve`` bound (UDP, TCP descriptors), for a companion process
        that runs this service apart from the master (``--dns-fds``)."""
        return reserved_fds(self.host, self.port)

    def adopt_fds(self, udp_fd: int, tcp_fd: int) -> None:
        """In that companion: serve on the parent's sockets."""
        adopt(self.host, self.port, udp_fd, tcp_fd)

    def _publish(self, server: DnsServer) -> None:
        self.server = server
        self.port = server.port  # a restarted actor binds the same port again
        # Never forward to ourselves (a resolv.conf naming this very server).
        server.upstreams = [u for u in server.upstreams if u != (server.host, server.port)]

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        node = ctx.node

        def on_leader(address: str | None) -> None:
            node.ref(DNS_ACTOR).tell(DnsLeaderChanged(address))

        ctx.leader_listeners.append(on_leader)
        self.http_url = ctx.http_url
        return [
            ChildSpec(
                DNS_ACTOR,
                DnsActor,
                restart="permanent",
                shutdown=5.0,
                kwargs={
                    "config": DnsConfig(ttl=self.ttl, ns_ip=self.host),
                    "host": self.host,
                    "port_of": lambda: self.port,
                    "upstreams": list(self.upstreams),
                    "leader_address": ctx.leader_address,
                    "publish": self._publish,
                    "extra_records": functools.partial(vip_records, salt=self.salt),
                    "masters": functools.partial(_contenders, ctx.zk),
                },
                name=DNS_ACTOR,
            )
        ]

    def table(self) -> RecordTable | None:
        return self.server.table if self.server is not None else None

    def config_doc(self) -> dict[str, Any]:
        """Mesos-DNS' ``/v1/config`` fields, with this server's values."""
        server = self.server
        return {
            "RefreshSeconds": 0,
            "TTL": self.ttl,
            "Port": server.port if server else self.port,
            "Listener": self.host,
            "Domain": "mesos",
            "Resolvers": [f"{h}:{p}" if p != 53 else h for h, p in self.upstreams],
            "Timeout": 2,
            "SOAMname": "ns1.mesos.",
            "SOARname": "root.ns1.mesos.",
            "DnsOn": True,
            "HttpOn": True,
            "ExternalOn": bool(self.upstreams),
            "EnforceRFC952": True,
            "IPSources": ["netinfo", "host"],
            "Masters": None,
            "Zones": ["mesos.", "thisdcos.directory."],
            "Address": f"{self.host}:{server.port if server else self.port}",
        }

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        add = getattr(ctx.gateway, "add_metrics_collector", None)
        if add is not None:
            add(DnsCollector(self))
        return api_routes(self.table, self.config_doc)


class DnsCollector:
    """This master's DNS figures on ``/metrics`` (``pydcos_dns_*``)."""

    def __init__(self, service: DnsService) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        server = self.service.server
        if server is None:
            return
        st = server.stats
        q = CounterMetricFamily("pydcos_dns_queries", "DNS queries received", labels=["transport"])
        q.add_metric(["udp"], st.udp_queries)
        q.add_metric(["tcp"], st.tcp_queries)
        yield q
        yield CounterMetricFamily(
            "pydcos_dns_forwarded", "queries forwarded upstream", value=st.forwarded
        )
        yield CounterMetricFamily(
            "pydcos_dns_forward_failed",
            "forwarded queries no upstream answered (SERVFAIL)",
            value=st.forward_failed,
        )
        yield CounterMetricFamily(
            "pydcos_dns_dropped", "packets dropped (not a query, or unsendable)", value=st.dropped
        )
        table = server.table
        yield GaugeMetricFamily(
            "pydcos_dns_ready", "1 once the leader's state arrived", value=int(table.ready)
        )
        yield GaugeMetricFamily(
            "pydcos_dns_table_serial", "record table version", value=table.serial
        )
        names = GaugeMetricFamily("pydcos_dns_names", "names with records", labels=["type"])
        names.add_metric(["A"], len(table.a))
        names.add_metric(["SRV"], len(table.srv))
        yield names
