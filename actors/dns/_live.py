"""``LiveTable``: the DnsActor's record table as a pure object (no actor, no clock).

```
 MasterEvent.event ──apply(event, master_id, now)──> ClusterView + Changes   -> bool:
                                                      may the table have changed?
 table(serial) ──> TableIndex.apply + VipNames.follow ──> TableIndex.publish (RecordTable)
```

The actor feeds it every accepted event and asks for a ``table`` (paced) only when
``apply`` said True; the tests and ``bench/dns_table.py`` drive this same object and
compare its table with ``build_table`` + ``vip_records`` from scratch.

Which events ask for no new table (``apply`` returns False):

* a TASK_ADDED / AGENT_ADDED that leaves the view as it was (a failover's
  re-registration storm: 100,000 of them at 10,000 agents, see ``_quiet``); the
  cheapest test first: the same v1 Task as the one the held task was read from
  (``TaskView.raw`` equal, and no status update since) is nothing new without reading
  it again;
* a TASK_UPDATED that changes nothing a record depends on (``record_inputs``: a health
  result on a task without VIPs, a repeated RUNNING).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from actors.dns._index import TableIndex
from actors.dns._quiet import apply_upsert, upsert_target
from actors.dns._records import (
    Changes,
    ClusterView,
    DnsConfig,
    RecordTable,
    apply_event,
    build_table,
    carried_until,
    expire_carried,
    record_inputs,
    updated_key,
)
from actors.dns._vips import VipNames, vip_records, vip_salt

_NEVER = float("inf")
ExtraRecords = Callable[[ClusterView], Mapping[str, Iterable[str]]]


class LiveTable:
    """Events in, record tables out (see the module docstring). ``extra_records``: the
    names added to every table (the load balancer's VIP names: ``vip_records`` or a
    ``functools.partial`` of it with ``salt`` is kept task by task by ``VipNames``; any
    other function is called over the whole view for each table). ``carry_for``: how
    long a new leader's missing tasks are kept (``reset``)."""

    def __init__(
        self,
        config: DnsConfig,
        extra_records: ExtraRecords = vip_records,
        carry_for: float = 15.0,
    ) -> None:
        self.config = config
        self.extra_records = extra_records
        self.carry_for = carry_for
        self.view = ClusterView()
        self.changes = Changes()
        self.index = TableIndex(config)
        salt = vip_salt(extra_records)
        self.vips = VipNames(salt) if salt is not None else None
        self.ready = False
        """True once a SUBSCRIBED was applied (before it: a tiny not-ready table)."""
        self._due = _NEVER
        """No carried task is due before this (``carried_due``)."""

    def apply(self, event: dict[str, Any], master_id: str, now: float) -> bool:
        """One v1 operator event (a SUBSCRIBED replaces the view); whether the table may
        have changed (False: the current table is still exact, no rebuild needed)."""
        kind = event.get("type")
        if kind == "SUBSCRIBED":
            self.view = apply_event(self.view, event, master_id, now, self.carry_for, self.changes)
            self.ready = True
            self._due = carried_until(self.view)
            return True
        target = upsert_target(event)
        if target is not None:  # a failover's re-registrations: mostly nothing new
            if target[0] == "agent" and target[1] in self.view.recovering:
                self._due = min(self._due, now + self.carry_for)  # (``agent_back``)
            return apply_upsert(
                self.view, event, target, master_id, now, self.carry_for, self.changes
            )
        key = updated_key(event)
        before = record_inputs(self.view.tasks.get(key)) if key else None
        self.view = apply_event(self.view, event, master_id, now, self.carry_for, self.changes)
        if key and before is not None:
            return before != record_inputs(self.view.tasks.get(key))
        return True

    def expire(self, now: float) -> bool:
        """Drop the carried tasks whose time is up; whether any went."""
        return expire_carried(self.view, now, self.changes)

    def carried_due(self, now: float) -> bool:
        """Whether some carried task's (agent's, framework's) time is up. Asked every
        tick: the carried ones (100,000 after a failover) are looked at only once the
        earliest may be due (only a SUBSCRIBED carries; leaving ones cannot make it
        sooner)."""
        if now < self._due:
            return False
        self._due = carried_until(self.view)
        return self._due <= now

    def table(self, serial: int) -> RecordTable:
        """The table for the view now: before the first state a (tiny) full build, then
        the incremental index (equal to ``build_table`` with ``extra_records``)."""
        if not self.ready:
            return build_table(self.view, self.config, serial, ready=False)
        touched = self.index.apply(self.view, self.changes)
        if self.vips is None:
            extra: Mapping[str, Iterable[str]] = self.extra_records(self.view)
        else:
            extra = self.vips.follow(self.view, touched)
        return self.index.publish(serial, extra, ready=True)

    def reference(self, serial: int) -> RecordTable:
        """``build_table`` from scratch over the same view (what ``table`` must equal)."""
        if not self.ready:
            return build_table(self.view, self.config, serial, ready=False)
        return build_table(self.view, self.config, serial, self.extra_records(self.view))


__all__ = ["LiveTable"]
