"""VIP labels on an app's ports: parse, validate, and the rules across apps (pure).

DC/OS reads a load-balanced address from a port label whose key starts with ``VIP_``
(``VIP_0``, ``VIP_1``...), as dcos-net's Mesos listener does: the value is either
``/name:port`` (a *named* VIP: ``name.marathon.l4lb.thisdcos.directory:port``, on an
address the load balancer picks) or ``IP:port`` (an address the user picks). Marathon
refuses a bad one when the app is created or changed (HTTP 422 naming the label), so
the load balancer only ever sees valid specs:

- the port is 1..65535; the name is ``[A-Za-z0-9_.-]`` segments joined by ``/``, and
  gives a non-empty DNS label (``/shop/web`` -> ``shopweb``, dcos-net's mangling);
- an IP VIP is IPv4 in 127.0.0.0/8 (pydcos binds VIPs on loopback only) and outside
  the named range 127.128.0.0/9 the load balancer allocates from;
- HAProxy balances TCP: a VIP on a ``udp``-only port is refused;
- ``L4LB_BALANCE`` on the same port picks the algorithm of its VIPs: ``roundrobin``
  (default) or ``leastconn`` (a ``VIP_`` key would be read as a VIP by dcos-net);
- across apps: one VIP name (or IP) may be shared by several apps only with the same
  port and the same balance (their instances then back one VIP together).

Pure: no I/O, nothing heavy imported.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from actors.l4lb._errors import InvalidVip

VIP_PREFIXES = ("VIP_", "vip_")
"""A port label whose key starts with one of these is a VIP (dcos-net's rule)."""
BALANCE_LABEL = "L4LB_BALANCE"
"""Port label choosing the balance algorithm of that port's VIPs."""
BALANCES = ("roundrobin", "leastconn")
"""Algorithms ``BALANCE_LABEL`` takes; the first is the default."""
NAMED_NETWORK = ipaddress.IPv4Network("127.128.0.0/9")
"""Named VIPs get their address here; IP VIPs may not use it."""
L4LB_ZONE = "l4lb.thisdcos.directory"
"""DNS zone of named VIPs: ``<label>.<framework>.l4lb.thisdcos.directory``."""
MAX_NAME_LENGTH = 200

_NAME = re.compile(r"^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


@dataclass(frozen=True, slots=True)
class VipSpec:
    """One parsed VIP label value."""

    name: str | None
    """``/web`` for a named VIP (always with its leading slash), else None."""
    ip: str | None
    """``127.0.0.9`` for an IP VIP, else None."""
    port: int
    """The port clients connect to on the VIP."""

    @property
    def key(self) -> str:
        """What identifies the VIP across apps: ``/web`` or the IP."""
        return self.name if self.name is not None else str(self.ip)


def is_vip_label(key: str) -> bool:
    """Whether a port label key declares a VIP (``VIP_0``)."""
    return key.startswith(VIP_PREFIXES)


def dns_label(name: str) -> str:
    """The DNS label(s) of a VIP name as dcos-net builds them (``mesos_state:domain_frag``):
    split on dots, lower-cased, ``_`` to ``-``, every other character not ``[a-z0-9-]``
    dropped (so ``/shop/web`` -> ``shopweb``), leading/trailing ``-`` stripped, 63 max."""
    labels = []
    for fragment in name.split("."):
        text = "".join(
            "-" if c in "_-" else c
            for c in fragment.lower()
            if c.isascii() and (c.isalnum() or c in "_-")
        )
        text = text.strip("-")[:63].strip("-")
        if text:
            labels.append(text)
    return ".".join(labels)


def vip_hostname(name: str, framework: str = "marathon") -> str:
    """``/web`` -> ``web.marathon.l4lb.thisdcos.directory``."""
    return f"{dns_label(name)}.{framework}.{L4LB_ZONE}"


def parse_vip(value: object) -> VipSpec:
    """A label value -> ``VipSpec``; ``InvalidVip`` says what is wrong with which value."""
    if not isinstance(value, str) or ":" not in value:
        raise InvalidVip(f"{value!r:.80} is not a VIP: expected /name:port or IP:port")
    host, _, port_text = value.rpartition(":")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise InvalidVip(f"{value!r:.80}: port {port_text!r:.20} is not in 1..65535")
    port = int(port_text)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if not isinstance(ip, ipaddress.IPv4Address) or not ip.is_loopback:
            raise InvalidVip(
                f"{value!r:.80}: an IP VIP must be in 127.0.0.0/8 (VIPs bind on loopback)"
            )
        if ip in NAMED_NETWORK:
            raise InvalidVip(
                f"{value!r:.80}: {NAMED_NETWORK} is reserved for named VIPs' addresses"
            )
        return VipSpec(None, str(ip), port)
    if len(host) > MAX_NAME_LENGTH or not _NAME.match(host) or not dns_label(host):
        raise InvalidVip(
            f"{value!r:.80}: the name {host!r:.80} must be /name (letters, digits, "
            f"_ . - in segments joined by /, at most {MAX_NAME_LENGTH} characters)"
        )
    return VipSpec("/" + host.lstrip("/"), None, port)


@dataclass(frozen=True, slots=True)
class VipUse:
    """One VIP declared on one port of an app."""

    spec: VipSpec
    port_index: int
    """Which of the app's ports backs it (its host port on each instance)."""
    balance: str
    """``roundrobin`` or ``leastconn``."""
    path: str
    """JSON pointer of the label (``/portDefinitions/0/labels/VIP_0``): 422s name it."""


@dataclass(frozen=True, slots=True)
class PortLabels:
    """What validation needs of one app port."""

    path: str
    """``/portDefinitions/0`` or ``/container/portMappings/0``."""
    labels: Mapping[str, str]
    protocol: str = "tcp"


def port_vips(ports: Sequence[PortLabels]) -> tuple[list[VipUse], list[tuple[str, str]]]:
    """The VIPs an app's ports declare, and the problems (json-pointer, message) of
    those that are not valid (see the module docstring for the rules)."""
    uses: list[VipUse] = []
    problems: list[tuple[str, str]] = []
    for index, port in enumerate(ports):
        balance = port.labels.get(BALANCE_LABEL, BALANCES[0])
        declared = sorted(key for key in port.labels if is_vip_label(key))
        if balance not in BALANCES:
            problems.append(
                (
                    f"{port.path}/labels/{BALANCE_LABEL}",
                    f"{balance!r:.40} is not one of {', '.join(BALANCES)}",
                )
            )
        elif BALANCE_LABEL in port.labels and not declared:
            problems.append(
                (f"{port.path}/labels/{BALANCE_LABEL}", "the port declares no VIP_ label")
            )
        for key in declared:
            where = f"{port.path}/labels/{key}"
            if "tcp" not in port.protocol.split(","):
                problems.append((where, f"VIPs balance TCP; port {index} is {port.protocol!r:.20}"))
                continue
            try:
                spec = parse_vip(port.labels[key])
            except InvalidVip as exc:
                problems.append((where, str(exc)))
                continue
            uses.append(VipUse(spec, index, balance, where))
    seen: dict[tuple[str, int], str] = {}
    for use in uses:
        ident = (use.spec.key, use.spec.port)
        if ident in seen and seen[ident] != use.path:
            problems.append((use.path, f"{use.spec.key}:{use.spec.port} is declared twice"))
        seen.setdefault(ident, use.path)
    return uses, problems


def vip_conflicts(
    app_id: str, uses: Iterable[VipUse], others: Mapping[str, Iterable[VipUse]]
) -> list[tuple[str, str]]:
    """Problems of ``app_id``'s VIPs against every other app's (``others``: app id ->
    its uses; ``app_id`` itself is skipped): a VIP name or IP another app uses with a
    different port, or with a different balance on the same port."""
    taken: dict[str, list[tuple[str, VipUse]]] = {}
    for other_id, other_uses in sorted(others.items()):
        if other_id == app_id:
            continue
        for use in other_uses:
            taken.setdefault(use.spec.key, []).append((other_id, use))
    problems: list[tuple[str, str]] = []
    for use in uses:
        for other_id, other in taken.get(use.spec.key, []):
            if other.spec.port != use.spec.port:
                problems.append(
                    (
                        use.path,
                        f"VIP {use.spec.key} is used by {other_id} with port "
                        f"{other.spec.port}; {app_id} asks for port {use.spec.port}",
                    )
                )
                break
            if other.balance != use.balance:
                problems.append(
                    (
                        use.path,
                        f"VIP {use.spec.key}:{use.spec.port} is balanced {other.balance} by "
                        f"{other_id}; {app_id} asks for {use.balance}",
                    )
                )
                break
    return problems
