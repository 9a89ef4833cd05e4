"""Host ports something else already holds: never offer them, fail a launch that needs one.

An agent offers the ports of its ``--resources`` (Mesos: ``ports:[31000-32000]``), but it
shares the host with other processes: a second cluster's agents and their tasks, a
developer's server. A port one of them listens on is not this agent's to give: a task
given it cannot bind it, and a framework that picks ports deterministically (lowest
first) would be given the same busy port on every retry. So the agent

- leaves such ports out of the resources it registers (and updates the master when
  that set changes, ``UpdateAgent``), so they are never offered;
- checks a task's ports once more right before starting it (another process may have
  taken one in between) and fails the task naming the port.

Finding them is cheap: the kernel's socket tables (``/proc/net/{tcp,udp}{,6}``) name
every local port in use; each candidate in the agent's range is then confirmed by
trying to bind it, as the task would (a socket merely in TIME_WAIT does not count).
Ports of the agent's own tasks are the master's to account for, never "foreign".
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterable
from pathlib import Path

from actors.resources import Resources, merge_ranges, resource_label

PROC_NET = ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6")
"""The kernel's socket tables: one socket a line, local address as ``HEXIP:HEXPORT``."""

MAX_BIND_PROBES = 4096
"""Without the socket tables (not Linux), at most this many ports are probed by bind."""


def ports_in_table(text: str) -> set[int]:
    """Local ports of the sockets listed in one ``/proc/net/{tcp,udp}[6]`` table (pure)."""
    out: set[int] = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 2:
            continue
        _, _, port = fields[1].rpartition(":")
        with contextlib.suppress(ValueError):
            out.add(int(port, 16))
    out.discard(0)
    return out


def ports_with_sockets(tables: Iterable[str] = PROC_NET) -> set[int] | None:
    """Every local port some socket on this host (network namespace) uses; None when the
    tables cannot be read."""
    out: set[int] = set()
    read_any = False
    for path in tables:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        read_any = True
        out |= ports_in_table(text)
    return out if read_any else None


def _bind_fails(family: socket.AddressFamily, kind: socket.SocketKind, port: int) -> bool:
    addr = "::" if family == socket.AF_INET6 else "0.0.0.0"
    try:
        s = socket.socket(family, kind)
    except OSError:
        return False  # no IPv6 here: nothing can hold the port there either
    try:
        if kind == socket.SOCK_STREAM:
            # As servers do: a port whose last connection is in TIME_WAIT is free.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port))
    except OSError as exc:
        return exc.errno == errno.EADDRINUSE
    finally:
        s.close()
    return False


def in_use(port: int) -> bool:
    """Would a task fail to bind ``port`` (TCP on IPv4 or IPv6, or UDP) on any address?"""
    return any(
        _bind_fails(family, kind, port)
        for family in (socket.AF_INET, socket.AF_INET6)
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM)
    )


def port_in_use_message(port: int) -> str:
    """The launch failure a framework sees (and a user reads in ``lastTaskFailure``)."""
    return f"port {port} is already in use on this host"


def first_busy(ports: Iterable[int]) -> str | None:
    """The failure message naming the first of ``ports`` already in use, or None."""
    for port in ports:
        if port and in_use(port):
            return port_in_use_message(port)
    return None


def offered_ports(resources: Resources) -> list[int]:
    """Every port of ``resources``, all roles (pure)."""
    out: list[int] = []
    for begin, end in resources.ranges("ports"):
        out.extend(range(begin, end + 1))
    return out


def busy_ports(candidates: Iterable[int], with_sockets: set[int] | None = None) -> set[int]:
    """The ``candidates`` something on this host holds: those with a socket in the kernel's
    tables (``with_sockets``, read when not given) that cannot be bound."""
    wanted = set(candidates)
    if with_sockets is None:
        with_sockets = ports_with_sockets()
    if with_sockets is None:
        probe = sorted(wanted)[:MAX_BIND_PROBES]
    else:
        probe = sorted(wanted & with_sockets)
    return {p for p in probe if in_use(p)}


def to_ranges(ports: Iterable[int]) -> list[list[int]]:
    """``[31000, 31001, 31005]`` -> ``[[31000, 31001], [31005, 31005]]`` (pure)."""
    return [[b, e] for b, e in merge_ranges((p, p) for p in ports)]


def without_ports(resources: Resources, ports: Iterable[int]) -> Resources:
    """``resources`` with ``ports`` taken out of every role's port ranges (pure)."""
    drop = set(ports)
    if not drop:
        return resources
    remove: dict[str, object] = {}
    for role in resources.roles():
        mine = {p for b, e in resources.ranges("ports", role) for p in range(b, e + 1)}
        hit = drop & mine
        if hit:
            remove[resource_label("ports", role)] = to_ranges(hit)
    if not remove:
        return resources
    return resources - Resources.from_dict(remove)
