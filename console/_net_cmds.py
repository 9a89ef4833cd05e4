"""The console's verbs for networking (issue 20): node dns, VIPs.

``pydcos node dns NAME [--type A|SRV|...] [--server IP:PORT]`` resolves through the
cluster's own DNS (dnspython, a real client): the servers are the local cluster's
(``cluster up`` gave each master one) or, for any cluster, the one the leading master's
gateway names in Mesos-DNS' ``/mesos_dns/v1/config``. A Marathon app id (``/shop/web``)
is accepted for its Mesos-DNS name (``web-shop.marathon.mesos``; SRV:
``_web-shop._tcp.marathon.mesos``).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
from typing import Any

from console._client import ClientError, ClusterClient
from console._output import Out

DNS_TYPES = ("A", "AAAA", "SRV", "SOA", "NS", "TXT", "ANY")
MAX_NAME = 253


def parse_server(text: str) -> tuple[str, int]:
    """``127.0.0.1:5353`` (or ``127.0.0.1``: port 53) -> (ip, port); ClientError else."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "53"
    try:
        ip = str(ipaddress.IPv4Address(host))
    except ValueError:
        raise ClientError(f"--server: {text!r} is not IPv4[:port]") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ClientError(f"--server: {text!r} has no valid port (1-65535)")
    return ip, int(port)


def query_name(name: str, qtype: str) -> str:
    """What to ask for: an app id becomes its Mesos-DNS name; names are validated."""
    from actors.dns import app_dns_name, rfc952_label

    name = name.strip()
    if name.startswith("/"):
        label = rfc952_label(app_dns_name(name))  # as the server names it
        if not label:
            raise ClientError(f"NAME: {name!r} is not a Marathon app id")
        name = f"_{label}._tcp.marathon.mesos" if qtype == "SRV" else f"{label}.marathon.mesos"
    if not name or len(name.rstrip(".")) > MAX_NAME or any(c.isspace() for c in name):
        raise ClientError(f"NAME: {name[:80]!r} is not a DNS name (1-{MAX_NAME} characters)")
    if any(len(part) > 63 for part in name.rstrip(".").split(".")):
        raise ClientError(f"NAME: {name[:80]!r} has a label longer than 63 characters")
    return name


def dns_servers(client: ClusterClient) -> list[tuple[str, int]]:
    """The local cluster's DNS servers, else the one the leader's gateway reports."""
    from console._launcher import dns_addresses

    local = client.target.local
    found = [parse_server(a) for a in dns_addresses(local)] if local is not None else []
    if found:
        return found
    doc = client.request("GET", "/mesos_dns/v1/config", what="DNS config")
    address = doc.get("Address") if isinstance(doc, dict) else None
    if not isinstance(address, str):
        raise ClientError("the cluster's masters run no DNS service (no /mesos_dns/v1/config)")
    return [parse_server(address)]


def resolve(servers: list[tuple[str, int]], name: str, qtype: str) -> list[dict[str, Any]]:
    import dns.exception
    import dns.nameserver
    import dns.resolver

    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in servers]
    r.lifetime = 5.0
    try:
        answer = r.resolve(name, qtype, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        raise ClientError(f"{name}: no such name (NXDOMAIN)") from None
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        where = ", ".join(f"{ip}:{port}" for ip, port in servers)
        raise ClientError(f"{name}: the cluster's DNS ({where}) did not answer: {exc}") from None
    rows = []
    for rrset in answer.response.answer:
        for rdata in rrset:
            rows.append(
                {
                    "name": rrset.name.to_text(),
                    "type": dns.rdatatype.to_text(rrset.rdtype),
                    "ttl": rrset.ttl,
                    "value": rdata.to_text(),
                }
            )
    return rows


def node_dns(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    qtype = args.type.upper()
    name = query_name(args.name, qtype)
    servers = [parse_server(args.server)] if args.server else dns_servers(client)
    rows = resolve(servers, name, qtype)
    if out.as_json:
        out.json(rows)
        return 0
    if not rows:
        out.line(f"{name}: no {qtype} records")
        return 1
    out.table(
        ["NAME", "TYPE", "TTL", "VALUE"],
        [[r["name"], r["type"], str(r["ttl"]), r["value"]] for r in rows],
    )
    return 0


def app_networking(client: ClusterClient, app: dict[str, Any]) -> dict[str, Any]:
    """An app's names (H2, issue 20): its Mesos-DNS names (A, and SRV when it has ports)
    and its VIPs as the masters' load balancers serve them (``/networking/api/v1/vips``;
    from the app's ``VIP_n`` labels, without address, when the masters cannot say)."""
    from actors.dns import app_dns_name
    from actors.l4lb import is_vip_label, parse_vip, vip_hostname

    app_id = str(app.get("id", ""))
    label = app_dns_name(app_id)
    ports = app.get("portDefinitions") or ((app.get("container") or {}).get("portMappings")) or []
    dns = [f"{label}.marathon.mesos"] + ([f"_{label}._tcp.marathon.mesos"] if ports else [])
    try:
        served = client.get("/networking/api/v1/vips", app=app_id)
    except ClientError:
        served = None
    vips: list[dict[str, Any]] = []
    if isinstance(served, list):
        for v in served:
            vips.append(
                {
                    "vip": v.get("vip"),
                    "address": v.get("address"),
                    "balance": v.get("balance"),
                    "backends": len(v.get("backend") or []),
                }
            )
        return {"dns": dns, "vips": vips}
    for port in ports:
        for key, value in sorted((port.get("labels") or {}).items()):
            if not is_vip_label(key):
                continue
            with contextlib.suppress(ValueError):
                spec = parse_vip(value)
                name = vip_hostname(spec.name) if spec.name else spec.ip
                vips.append({"vip": f"{name}:{spec.port}", "address": None, "backends": None})
    return {"dns": dns, "vips": vips}


def networking_lines(names: dict[str, Any]) -> list[str]:
    """``app_networking``'s document as the lines ``marathon app show`` prints."""
    lines = [f"dns:  {', '.join(names['dns'])}"]
    for v in names["vips"]:
        where = f" -> {v['address']}" if v.get("address") else ""
        count = v.get("backends")
        backends = f" ({count} backend{'s' if count != 1 else ''})" if count is not None else ""
        lines.append(f"vip:  {v['vip']}{where}{backends}")
    return lines


def node_vips(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    """The VIPs the masters' load balancers serve, with their backends (H2, issue 20)."""
    app = args.app
    if app is not None and not app.startswith("/"):
        raise ClientError(f"--app: {app!r} is not a Marathon app id (/group/app)")
    rows = client.get("/networking/api/v1/vips", app=app)
    if not isinstance(rows, list):
        raise ClientError(f"/networking/api/v1/vips answered {str(rows)[:80]!r}, not a list")
    if out.as_json:
        out.json(rows)
        return 0
    if not rows:
        out.line("no VIPs" + (f" for {app}" if app else ""))
        return 0
    out.table(
        ["VIP", "ADDRESS", "BALANCE", "BACKENDS", "APPS"],
        [
            [
                str(v.get("vip")),
                str(v.get("address")),
                str(v.get("balance")),
                " ".join(f"{b['ip']}:{b['port']}" for b in v.get("backend") or []) or "-",
                " ".join(v.get("apps") or []),
            ]
            for v in rows
        ],
    )
    return 0


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    """Add this area's verbs: ``sub`` is the top-level subparsers, ``groups`` the
    ``node``, ``task`` and ``marathon`` groups' subparsers and ``cluster up``'s parser."""
    leaf = groups["leaf"]  # console._commands' builder (importing it would be a cycle)
    up = groups["up"]
    up.add_argument(
        "--dns-port",
        type=int,
        default=0,
        help="every master's DNS port (0: a free one each; 53 needs root: masters bind "
        "127.0.0.1, 127.0.0.2...)",
    )
    up.add_argument(
        "--dns-upstream",
        default=None,
        metavar="IP[:PORT],...",
        help="where the masters' DNS forwards other names (default: their /etc/resolv.conf)",
    )
    p = leaf(groups["node"], "dns", "resolve a name through the cluster's DNS", node_dns)
    p.add_argument("name", metavar="NAME", help="a DNS name, or a Marathon app id (/shop/web)")
    p.add_argument("--type", "-t", default="A", type=str.upper, choices=DNS_TYPES)
    p.add_argument("--server", default=None, metavar="IP[:PORT]", help="ask this DNS server")
    p = leaf(groups["node"], "vips", "the VIPs the load balancers serve, with backends", node_vips)
    p.add_argument("--app", default=None, metavar="APP_ID", help="only this app's VIPs")
