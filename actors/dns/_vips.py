"""The load balancer's VIP names in the DNS table (``*.l4lb.thisdcos.directory``).

``vip_records`` computes them over a whole view (``actors.l4lb``'s pure naming and
addresses, salted as the l4lb does, so DNS and HAProxy agree); ``VipNames`` keeps the
same answer task by task for the DnsActor's incremental table. Pure: the l4lb package is
imported lazily, and its absence means no VIP names.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from actors.dns._records import ClusterView

log = logging.getLogger("actors.dns")


def vip_records(view: ClusterView, salt: str = "") -> dict[str, list[str]]:
    """The load balancer's VIP names for the tasks in ``view`` (``actors.l4lb``'s pure
    naming and addresses, hashed with the cluster's ``salt`` as the l4lb does, so DNS
    and HAProxy agree); empty when that package is not there."""
    try:
        from actors.l4lb import vip_dns_records
    except ImportError:
        return {}
    tasks = [{**t.raw, "state": t.state} for t in view.tasks.values()]
    try:
        records = vip_dns_records(tasks, dict(view.frameworks), salt=salt)
    except Exception:
        log.exception("dns: the VIP names could not be computed")
        return {}
    return {name: [ip] for name, ip in records.items()}


def vip_salt(extra_records: Callable[..., Any]) -> str | None:
    """The salt when ``extra_records`` is ``vip_records`` (or a partial of it giving only
    ``salt``): the actor then keeps those names change by change (``VipNames``) instead of
    calling it over the whole view for each table. None for any other function."""
    func, kwargs = extra_records, {}
    if isinstance(extra_records, functools.partial):
        if extra_records.args:
            return None
        func, kwargs = extra_records.func, dict(extra_records.keywords)
    if func is not vip_records or set(kwargs) - {"salt"}:
        return None
    salt = kwargs.get("salt", "")
    return salt if isinstance(salt, str) else None


def _port_labels(raw: Mapping[str, Any]) -> bool:
    """Whether a v1 Task may declare a VIP: some discovery port has labels (a VIP is a
    port label; the l4lb's parse decides which)."""
    try:
        ports = raw["discovery"]["ports"]["ports"]
    except (KeyError, TypeError, IndexError):
        return False
    return isinstance(ports, list) and any(
        isinstance(p, Mapping) and p.get("labels") for p in ports
    )


class VipNames:
    """``vip_records`` kept task by task (equal to it after every ``sync``): each task's
    VIP hostnames (its named VIP labels, while live, with its framework's name) are
    counted; addresses are re-allocated (``allocate``, over the hostnames only) when the
    set of hostnames changes. A task's labels are read once per v1 Task it arrived as."""

    def __init__(self, salt: str = "") -> None:
        self.salt = salt
        try:
            import actors.l4lb as l4lb
        except ImportError:
            l4lb = None  # type: ignore[assignment]
        self.l4lb: Any = l4lb
        self.view: ClusterView | None = None
        self._clear()

    def _clear(self) -> None:
        self.parsed: dict[str, tuple[Any, tuple[str, ...], str, str]] = {}
        """task key -> (its raw v1 Task, VIP names, state from its statuses, framework
        id), for the tasks with port labels."""
        self.hosts_of: dict[str, frozenset[str]] = {}
        self.count: dict[str, int] = {}
        self.cached: dict[str, list[str]] | None = {}

    def reset(self, view: ClusterView) -> None:
        self._clear()
        self.sync(view, view.tasks)

    def resync(self, view: ClusterView) -> None:
        """A new view (a fresh subscription): every task is looked at again, but only
        those with port labels are parsed again, and the addresses are re-allocated
        only if the set of hostnames changed."""
        known = {**dict.fromkeys(self.hosts_of), **dict.fromkeys(self.parsed)}
        self.sync(view, {**known, **dict.fromkeys(view.tasks)})

    def follow(self, view: ClusterView, touched: Iterable[str] | None) -> dict[str, list[str]]:
        """After ``TableIndex.apply`` returned ``touched`` (None: built from nothing):
        the records for ``view``."""
        if touched is None:
            self.reset(view)
        else:  # a new view too: ``touched`` holds every task whose TaskView differs
            self.sync(view, touched)
        self.view = view
        return self.records()

    def sync(self, view: ClusterView, keys: Iterable[str]) -> None:
        if self.l4lb is None:
            return
        for key in keys:
            try:
                hosts = self._hosts(view, key)
            except Exception:
                log.exception("dns: the VIP names of %s could not be computed", key)
                hosts = frozenset()
            old = self.hosts_of.pop(key, frozenset())
            if hosts:
                self.hosts_of[key] = hosts
            if old == hosts:
                continue
            for host in old - hosts:
                left = self.count[host] - 1
                if left:
                    self.count[host] = left
                else:
                    del self.count[host]
                    self.cached = None
            for host in hosts - old:
                if host not in self.count:
                    self.cached = None
                self.count[host] = self.count.get(host, 0) + 1

    def _hosts(self, view: ClusterView, key: str) -> frozenset[str]:
        task = view.tasks.get(key)
        if task is None:
            self.parsed.pop(key, None)
            return frozenset()
        if not _port_labels(task.raw):
            self.parsed.pop(key, None)
            return frozenset()  # no VIP label: most tasks, no parse kept
        parsed = self.parsed.get(key)
        if parsed is None or parsed[0] is not task.raw:
            lv = self.l4lb.task_view({**task.raw, "state": ""})
            if lv is None:
                parsed = (task.raw, (), "", "")
            else:
                parsed = (task.raw, self.l4lb.named_vips(lv), lv.state, lv.framework_id)
            self.parsed[key] = parsed
        _, names, fallback, fid = parsed
        if not names or (task.state or fallback) not in self.l4lb.LIVE_STATES:
            return frozenset()
        fw = view.frameworks.get(fid, "marathon") or "marathon"
        return frozenset(self.l4lb.vip_hostname(name, fw) for name in names)

    def records(self) -> dict[str, list[str]]:
        """What ``vip_records`` gives for the view as synced."""
        if self.cached is None:
            try:
                found = self.l4lb.allocate(self.count, salt=self.salt)
            except Exception:
                log.exception("dns: the VIP names could not be computed")
                found = {}
            self.cached = {name: [ip] for name, ip in found.items()}
        return self.cached


__all__ = ["VipNames", "vip_records", "vip_salt"]
