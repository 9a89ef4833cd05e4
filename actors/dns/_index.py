"""The record table kept up to date change by change; always equal to ``build_table``.

```
 events ──apply_event(view, changes)──> Changes (task keys, agent ids, framework ids)
   TableIndex.apply(view, changes): each touched task's candidate records replace its
     old ones (an agent whose IP changed, a renamed framework: its tasks too)
   TableIndex.publish(...): only the names whose records changed are re-derived
     ──> RecordTable over Layered maps (a frozen base + the changes since)
```

Why: at 100,000 tasks ``build_table`` walks every task for each change (a status update,
a launch) and took a third of the leader's CPU while tasks launched. Here a change costs
the records of what it touched; a rebuild from scratch happens only on a fresh
subscription (``changes.everything``, a new view).

Equality with ``build_table``, record for record and in the same order: every record is
a contribution ``(name, value, rank)``; ``rank`` is where ``build_table`` adds it
(``ns1`` < leader < masters < agents by (IP, port) < framework hosts in the view's order
< tasks by key, in ``task_candidates`` order < the VIP names). A name's answer lists
its distinct values ordered by their first rank, and ``/v1/enumerate`` lists a record
under the task that owns its first rank (Mesos-DNS lists a record once, under the first
task adding it). ``tests/dns/test_incremental.py`` drives random event sequences
through both and requires identical tables after every event.

Snapshots: a table is served whole and never changes (the server thread reads it while
the next is made). ``Published`` keeps a frozen base dict plus the changes since; a
snapshot copies only those changes, and the base is rebuilt once they pass an eighth of
it (amortised O(1) per change). Pure: no I/O, no clock.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from actors.dns._names import domain_frag
from actors.dns._records import (
    DCOS_DOMAIN,
    DOMAIN,
    RUNNING,
    ZONES,
    Candidate,
    Changes,
    ClusterView,
    DnsConfig,
    RecordTable,
    SrvTarget,
    _ipv4,
    _parents,
    record_entry,
    task_candidates,
)

V = TypeVar("V")

_MISSING: Any = object()
_GONE: Any = object()

COMPACT_MIN = 4096
"""Changes kept beside the base before it is rebuilt, at least."""
COMPACT_RATIO = 8
"""... and at least this fraction of the base (1/8)."""

_second = operator.itemgetter(1)


def _first(ranks: Any) -> Rank:
    """The first rank of a value: bare when it has one contribution, else a sorted list."""
    return ranks if type(ranks) is tuple else ranks[0]  # type: ignore[no-any-return]


T_FIXED, T_LEADER, T_MASTERS, T_AGENTS, T_FRAMEWORKS, T_TASKS, T_VIPS = range(7)
"""Rank sections, in ``build_table``'s order."""

Rank = tuple[Any, ...]
Contribution = tuple[bool, str, Any, Rank]
"""(is SRV, name, IP or SrvTarget, rank)."""


class Layered(Mapping[str, V]):
    """A read-only mapping: ``top`` (changes, ``_GONE`` for a removal) over ``base``.
    Neither is ever changed once a table holds them."""

    __slots__ = ("_base", "_len", "_top")

    def __init__(self, base: dict[str, V], top: dict[str, Any], length: int) -> None:
        self._base, self._top, self._len = base, top, length

    def get(self, key: str, default: Any = None) -> Any:
        value = self._top.get(key, _MISSING)
        if value is _MISSING:
            return self._base.get(key, default)
        return default if value is _GONE else value

    def __getitem__(self, key: str) -> V:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def __iter__(self) -> Iterator[str]:
        top = self._top
        for key in self._base:
            if key not in top:
                yield key
        for key, value in top.items():
            if value is not _GONE:
                yield key

    def __len__(self) -> int:
        return self._len


class Published(Generic[V]):
    """A mapping changed in place and published as immutable ``Layered`` snapshots."""

    def __init__(self) -> None:
        self.base: dict[str, V] = {}
        self.pending: dict[str, Any] = {}
        self.size = 0

    def get(self, key: str, default: Any = None) -> Any:
        value = self.pending.get(key, _MISSING)
        if value is _MISSING:
            return self.base.get(key, default)
        return default if value is _GONE else value

    def set(self, key: str, value: V) -> None:
        if self.get(key, _MISSING) is _MISSING:
            self.size += 1
        self.pending[key] = value

    def delete(self, key: str) -> None:
        if self.get(key, _MISSING) is _MISSING:
            return
        self.size -= 1
        if key in self.base:
            self.pending[key] = _GONE
        else:
            del self.pending[key]

    def snapshot(self) -> Layered[V]:
        if len(self.pending) > max(COMPACT_MIN, len(self.base) // COMPACT_RATIO):
            base = dict(self.base)  # older snapshots keep reading the old base
            for key, value in self.pending.items():
                if value is _GONE:
                    del base[key]
                else:
                    base[key] = value
            self.base, self.pending = base, {}
        return Layered(self.base, dict(self.pending), self.size)


def _zone(name: str) -> str:
    return DOMAIN + "." if name.endswith(DOMAIN + ".") else DCOS_DOMAIN + "."


Entry = tuple[str, str, str, tuple[Candidate, ...]]
"""A task in ``/v1/enumerate``: (framework name, task name, task id, the records it
lists); the JSON dicts are made only when the document is asked for."""


def _enumerate_doc(entries: Mapping[str, Entry]) -> dict[str, Any]:
    frameworks: dict[str, list[dict[str, Any]]] = {}
    for key in sorted(entries):
        fname, name, task_id, owned = entries[key]
        records = [record_entry(*c) for c in owned]
        frameworks.setdefault(fname, []).append({"name": name, "id": task_id, "records": records})
    return {"frameworks": [{"name": f, "tasks": t} for f, t in sorted(frameworks.items())]}


class TableIndex:
    """Every contribution by name and by owner (see the module docstring)."""

    def __init__(self, config: DnsConfig) -> None:
        self.config = config
        self._view: ClusterView | None = None
        self._clear()

    def _clear(self) -> None:
        self.owners: tuple[dict[str, dict[Any, Any]], ...] = ({}, {})
        """[is_srv][name][value] -> its contribution's rank, or the sorted ranks of its
        contributions when there are several."""
        self.order: tuple[dict[str, list[tuple[Rank, Any]]], ...] = ({}, {})
        """[is_srv][name] -> (first rank, value) of each of its values, sorted (names
        with two values or more): the answer's order, kept in step so that an app of
        1,000 instances is not sorted again for each of its tasks' changes."""
        self.groups: dict[Hashable, list[Contribution]] = {}
        """Contributions of the leader, masters, agents, framework hosts, VIP names."""
        self.task_groups: dict[str, list[Candidate]] = {}
        """task key -> its candidates (rank: (T_TASKS, key, position))."""
        self.dirty: tuple[set[str], set[str]] = (set(), set())
        self.a: Published[tuple[str, ...]] = Published()
        self.srv: Published[tuple[SrvTarget, ...]] = Published()
        self.names: Published[bool] = Published()
        self.refs: dict[str, int] = {}
        for zone in ZONES:
            self._ref(zone, 1, parents=False)
        self.entries: Published[Entry] = Published()
        self.enum_dirty: set[str] = set()
        self.enum_fw: dict[str, str] = {}
        """task key -> framework name, for the tasks that have records."""
        self.by_agent: dict[str, set[str]] = {}
        self.by_framework: dict[str, set[str]] = {}
        self.home: dict[str, tuple[str, str]] = {}
        """task key -> (agent id, framework id) as indexed."""
        self.agent_seen: dict[str, str] = {}
        self.framework_seen: dict[str, str] = {}
        self.extra: dict[str, tuple[str, ...]] = {}

    # -- contributions ----------------------------------------------------------------

    def _mark(self, rank: Rank) -> None:
        if rank[0] == T_TASKS:
            self.enum_dirty.add(rank[1])

    # Memory (100,000 tasks: 7 records each): a value with one contribution keeps its
    # rank bare (a list only from the second one), and a name with one value keeps no
    # order list; a task's group is its candidate list, ranks derived from positions.

    def _add(self, is_srv: bool, name: str, value: Any, rank: Rank) -> None:
        self.dirty[is_srv].add(name)
        owners = self.owners[is_srv]
        values = owners.get(name)
        if values is None:
            owners[name] = {value: rank}
            return
        ranks = values.get(value)
        orders = self.order[is_srv]
        if ranks is None:
            if len(values) == 1:
                ((v0, r0),) = values.items()
                orders[name] = [(_first(r0), v0)]
            values[value] = rank
            bisect.insort(orders[name], (rank, value))
            return
        first = _first(ranks)
        if type(ranks) is tuple:
            ranks = values[value] = [ranks]
        if rank < first:
            self._mark(first)  # it no longer lists the record in /v1/enumerate
            order = orders.get(name)
            if order is not None:
                del order[bisect.bisect_left(order, (first, value))]
                bisect.insort(order, (rank, value))
        bisect.insort(ranks, rank)

    def _remove(self, is_srv: bool, name: str, value: Any, rank: Rank) -> None:
        self.dirty[is_srv].add(name)
        values = self.owners[is_srv][name]
        ranks = values[value]
        after: Rank | None = None
        if type(ranks) is tuple:
            del values[value]
            was_first = True
        else:
            i = bisect.bisect_left(ranks, rank)
            del ranks[i]
            was_first, after = i == 0, ranks[0]
            if len(ranks) == 1:
                values[value] = after
        orders = self.order[is_srv]
        order = orders.get(name)
        if was_first:
            if after is not None:
                self._mark(after)  # it lists the record now
            if order is not None:
                del order[bisect.bisect_left(order, (rank, value))]
                if after is not None:
                    bisect.insort(order, (after, value))
        if not values:
            del self.owners[is_srv][name]
        elif order is not None and len(values) == 1:
            del orders[name]

    def _set_group(self, gid: Hashable, new: list[Contribution]) -> None:
        old = self.groups.get(gid, [])
        if old == new:
            return
        for c in old:
            self._remove(*c)
        for c in new:
            self._add(*c)
        if new:
            self.groups[gid] = new
        else:
            self.groups.pop(gid, None)

    def _set_task(self, key: str, new: list[Candidate]) -> None:
        old = self.task_groups.get(key, [])
        if old == new:
            return
        for i, (is_srv, name, value) in enumerate(old):
            self._remove(is_srv, name, value, (T_TASKS, key, i))
        for i, (is_srv, name, value) in enumerate(new):
            self._add(is_srv, name, value, (T_TASKS, key, i))
        if new:
            self.task_groups[key] = new
        else:
            self.task_groups.pop(key, None)

    # -- what changed -----------------------------------------------------------------

    def apply(self, view: ClusterView, changes: Changes) -> set[str] | None:
        """Bring the contributions in line with ``view`` for what ``changes`` says was
        touched, then clear ``changes``. A new view (a fresh subscription) is compared
        with the one indexed, task by task: a failover's state repeats nearly every
        task, and rebuilding 100,000 tasks' records took seconds. Returns the task keys
        synced, or None when everything was built from nothing (the first view)."""
        if self._view is None:
            changes.clear()
            self._clear()
            self._view = view
            self._sync_frameworks(view)
            self.framework_seen = dict(view.frameworks)
            for agent_id, hp in view.agents.items():
                self._sync_agent(view, agent_id)
                self.agent_seen[agent_id] = hp[0]
            for key in view.tasks:
                self._sync_task(view, key)
            self._sync_fixed(view)
            return None
        keys = set(changes.tasks)
        fids, agent_ids = changes.frameworks, changes.agents
        if changes.everything or view is not self._view:
            # what the index holds (self.home: every task it synced; the previous
            # view's TaskViews are those it synced, except the keys in ``changes``)
            before = self._view.tasks
            for key, task in view.tasks.items():
                if key not in keys:
                    old = before.get(key)
                    if old is not task and (
                        old != task
                        # VIP names read the raw port labels (VipNames syncs these keys)
                        or old is None
                        or old.raw.get("discovery") != task.raw.get("discovery")
                    ):
                        keys.add(key)
            keys.update(key for key in self.home if key not in view.tasks)
            fids = fids | set(self.framework_seen) | set(view.frameworks)
            # likewise the agents: only those that differ from the previous view
            held = self._view.agents
            agent_ids = set(agent_ids)
            agent_ids.update(a for a, hp in view.agents.items() if held.get(a) != hp)
            agent_ids.update(a for a in held if a not in view.agents)
            agent_ids.update(a for a in self.agent_seen if a not in view.agents)
            self._view = view
        if fids:
            self._sync_frameworks(view)
            for fid in fids:
                name = view.frameworks.get(fid)
                if name != self.framework_seen.get(fid):
                    keys.update(self.by_framework.get(fid, ()))
                if name is None:
                    self.framework_seen.pop(fid, None)
                else:
                    self.framework_seen[fid] = name
        for agent_id in agent_ids:
            found = view.agents.get(agent_id)
            self._sync_agent(view, agent_id)
            ip = found[0] if found is not None else None
            if ip != self.agent_seen.get(agent_id):
                keys.update(self.by_agent.get(agent_id, ()))
            if ip is None:
                self.agent_seen.pop(agent_id, None)
            else:
                self.agent_seen[agent_id] = ip
        for key in keys:
            self._sync_task(view, key)
        self._sync_fixed(view)
        changes.clear()
        return keys

    def _sync_fixed(self, view: ClusterView) -> None:
        tail = f".{DOMAIN}."
        out: list[Contribution] = []
        ns_ip = self.config.ns_ip
        if ns_ip:
            out.append((False, f"ns1{tail}", ns_ip, (T_FIXED, 0)))
            out.append((False, f"ns1.{DCOS_DOMAIN}.", ns_ip, (T_FIXED, 1)))
        if view.leader is not None:
            ip, port = view.leader
            if ip:
                out.append((False, f"leader{tail}", ip, (T_LEADER, 0)))
            for i, proto in enumerate(("tcp", "udp")):
                target = SrvTarget(f"leader{tail}", port)
                out.append((True, f"_leader._{proto}{tail}", target, (T_LEADER, 1 + i)))
        for i, ip in enumerate(view.masters):
            if ip:
                out.append((False, f"master{tail}", ip, (T_MASTERS, i)))
        self._set_group("fixed", out)

    def _sync_frameworks(self, view: ClusterView) -> None:
        tail = f".{DOMAIN}."
        out: list[Contribution] = []
        for pos, (fid, fw_name) in enumerate(view.frameworks.items()):
            frag = domain_frag(fw_name, self.config.rfc952)
            host = view.framework_hosts.get(fid)
            if frag and host:
                out.append((False, f"{frag}{tail}", host, (T_FRAMEWORKS, pos)))
        self._set_group("frameworks", out)

    def _sync_agent(self, view: ClusterView, agent_id: str) -> None:
        hp = view.agents.get(agent_id)
        out: list[Contribution] = []
        if hp is not None:
            ip, port = hp
            if ip:
                out.append((False, f"slave.{DOMAIN}.", ip, (T_AGENTS, ip, port, 0)))
                out.append((False, f"agent.{DOMAIN}.", ip, (T_AGENTS, ip, port, 1)))
            target = SrvTarget(f"slave.{DOMAIN}.", port)
            out.append((True, f"_slave._tcp.{DOMAIN}.", target, (T_AGENTS, ip, port, 2)))
        self._set_group(("agent", agent_id), out)

    def _sync_task(self, view: ClusterView, key: str) -> None:
        task = view.tasks.get(key)
        home = self.home.pop(key, None)
        if home is not None:
            self._unlink(self.by_agent, home[0], key)
            self._unlink(self.by_framework, home[1], key)
        out: list[Candidate] = []
        fname: str | None = None
        if task is not None:
            self.home[key] = (task.agent_id, task.framework_id)
            self.by_agent.setdefault(task.agent_id, set()).add(key)
            self.by_framework.setdefault(task.framework_id, set()).add(key)
            if task.state == RUNNING:
                fname = view.frameworks.get(task.framework_id)
                agent = view.agents.get(task.agent_id)
                if fname is not None and agent is not None:
                    out = task_candidates(task, fname, agent[0], self.config.rfc952)
                else:
                    fname = None
        self._set_task(key, out)
        if fname is None:
            if self.enum_fw.pop(key, None) is not None:
                self.enum_dirty.add(key)
        else:
            self.enum_fw[key] = fname
            self.enum_dirty.add(key)

    @staticmethod
    def _unlink(index: dict[str, set[str]], owner: str, key: str) -> None:
        keys = index.get(owner)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del index[owner]

    def _sync_vips(self, extra: Mapping[str, Any]) -> None:
        if extra == self.extra:
            return
        self.extra = {name: tuple(ips) for name, ips in extra.items()}
        out: list[Contribution] = []
        for i, (name, ips) in enumerate(self.extra.items()):
            fqdn = name.lower().rstrip(".") + "."
            for j, raw in enumerate(ips):
                ip = _ipv4(raw)
                if ip:
                    out.append((False, fqdn, ip, (T_VIPS, i, j)))
        self._set_group("vips", out)

    # -- the table --------------------------------------------------------------------

    def _ref(self, name: str, delta: int, parents: bool = True) -> None:
        for n in (name, *_parents(name, _zone(name))) if parents else (name,):
            count = self.refs.get(n, 0) + delta
            if count > 0:
                self.refs[n] = count
                if count == delta:
                    self.names.set(n, True)
            else:
                del self.refs[n]
                self.names.delete(n)

    def _derive(self, is_srv: bool) -> None:
        store: Published[Any] = self.srv if is_srv else self.a
        for name in self.dirty[is_srv]:
            values = self.owners[is_srv].get(name)
            old = store.get(name)
            if values:
                order = self.order[is_srv].get(name)
                new = tuple(map(_second, order)) if order is not None else tuple(values)
                if new != old:
                    store.set(name, new)
                    if old is None:
                        self._ref(name, 1)
            elif old is not None:
                store.delete(name)
                self._ref(name, -1)
        self.dirty[is_srv].clear()

    def _entry(self, key: str, fname: str) -> Entry:
        task = self.view_task(key)
        owned = []
        for i, c in enumerate(self.task_groups.get(key, ())):
            if _first(self.owners[c[0]][c[1]][c[2]]) == (T_TASKS, key, i):
                owned.append(c)
        return fname, task.name, task.task_id, tuple(owned)

    def view_task(self, key: str) -> Any:
        assert self._view is not None
        return self._view.tasks[key]

    def publish(
        self, serial: int, extra: Mapping[str, Any] | None = None, ready: bool = True
    ) -> RecordTable:
        """The table for the view as of the last ``apply`` (plus ``extra``: the VIP
        names, as ``build_table``'s ``extra_a``)."""
        self._sync_vips(extra or {})
        self._derive(False)
        self._derive(True)
        for key in self.enum_dirty:
            fname = self.enum_fw.get(key)
            if fname is None:
                self.entries.delete(key)
            else:
                self.entries.set(key, self._entry(key, fname))
        self.enum_dirty.clear()
        entries = self.entries.snapshot()
        return RecordTable(
            a=self.a.snapshot(),
            srv=self.srv.snapshot(),
            serial=serial,
            config=self.config,
            enumerate_source=lambda: _enumerate_doc(entries),
            names=self.names.snapshot(),
            ready=ready,
        )
