"""Which stored document each of an app's instance records goes in (pure).

An app's records were one document (``instances/<app>``): every launch batch, and every
task turning running, rewrote all of them (an app of 1,000 instances is ~350 KB, three
chunks and ~8 sequential ZooKeeper round trips per write; a POST waited behind that on a
busy leader). They are now spread over SHARDS, documents ``instances/<app>+<n>`` of at
most ``SHARD_RECORDS`` records each, and a write stores only the shards whose records
changed:

* a record stays in the shard it was first stored in (so its changes rewrite one shard);
* new records fill the highest-numbered shard, then open the next one (a launch batch of
  k instances writes about k / SHARD_RECORDS + 1 shards);
* a shard left empty is deleted; when removals leave more than twice the shards needed
  (+1), every record is repacked into NEW shard numbers and the old ones deleted, so a
  write cut short leaves a record in two shards (the reader keeps one), never in none;
* shard numbers a reader could not read (``reserved``) are never written nor reused.

The order of the records given is kept within a shard, and across shards for records
appended at the end (the core lists an app's instances in the order they were added).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SHARD_RECORDS = 100
"""Records per shard document: ~40 KB of JSON, well inside one znode (128 KiB)."""

SEPARATOR = "+"
"""Between the app key and the shard number: not a character of Marathon ids."""


def record_key(rec: Any) -> str:
    """A record's identity across writes: its reservation or its task (a reservation
    record names its task too), else the record itself (a quarantined record kept)."""
    if isinstance(rec, dict):
        rid = rec.get("reservationId")
        if isinstance(rid, str):
            return f"r:{rid}"
        tid = rec.get("taskId")
        if isinstance(tid, str):
            return f"t:{tid}"
    return "j:" + json.dumps(rec, sort_keys=True, default=str)


def keys_of(records: Iterable[Any]) -> list[str]:
    """``record_key`` of each record, a repeated key made unique by its occurrence."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for rec in records:
        key = record_key(rec)
        n = seen.get(key, 0)
        seen[key] = n + 1
        out.append(key if n == 0 else f"{key}#{n}")
    return out


def shard_name(app_key: str, n: int) -> str:
    return f"{app_key}{SEPARATOR}{n}"


def parse_name(name: str) -> tuple[str, int | None]:
    """``_prod_web+3`` -> (``_prod_web``, 3); a whole-app document -> (name, None)."""
    base, sep, tail = name.rpartition(SEPARATOR)
    if sep and base and tail.isdigit():
        return base, int(tail)
    return name, None


@dataclass
class Shards:
    """One app's records as last stored, per shard number."""

    docs: dict[int, list[Any]] = field(default_factory=dict)
    known: dict[str, int] | None = None
    """Record key -> its shard; None until a write needs it (``where``): a new leader
    loading 100,000 records does not key them all before its first change."""
    reserved: set[int] = field(default_factory=set)
    """Shards present but unreadable: left alone."""

    @property
    def where(self) -> dict[str, int]:
        if self.known is None:
            self.known = {}
            for n in sorted(self.docs):
                for key in keys_of(self.docs[n]):
                    self.known[key] = n
        return self.known

    @classmethod
    def of(cls, docs: dict[int, list[Any]], reserved: Iterable[int] = ()) -> Shards:
        return cls({n: list(r) for n, r in docs.items()}, None, set(reserved))


@dataclass(frozen=True)
class Plan:
    """The documents one write stores: ``puts`` (shard -> records), ``deletes``."""

    puts: dict[int, list[Any]]
    deletes: tuple[int, ...]
    after: Shards


def plan_write(old: Shards, records: list[Any], size: int = SHARD_RECORDS) -> Plan:
    """The shards to write so that the app's stored records are ``records``."""
    keys = keys_of(records)
    new: dict[int, list[Any]] = {}
    where: dict[str, int] = {}
    fresh: list[tuple[str, Any]] = []
    for key, rec in zip(keys, records, strict=True):
        n = old.where.get(key)
        if n is None or n not in old.docs:
            fresh.append((key, rec))
        else:
            new.setdefault(n, []).append(rec)
            where[key] = n
    top = max([*old.docs, *old.reserved], default=-1)
    for key, rec in fresh:
        if top not in new or len(new[top]) >= size:
            top += 1
        new.setdefault(top, []).append(rec)
        where[key] = top
    need = math.ceil(len(records) / size)
    if len(new) > 2 * need + 1:
        new, where = _repack(records, keys, top + 1, size)
    puts = {n: recs for n, recs in sorted(new.items()) if old.docs.get(n) != recs}
    deletes = tuple(n for n in sorted(old.docs) if n not in new)
    return Plan(puts, deletes, Shards(new, where, set(old.reserved)))


def stored_records(whole: list[Any] | None, docs: dict[int, list[Any]]) -> list[Any]:
    """What a reader returns for an app: its shards' records in shard order (``merged``
    with the older layout's whole document). A record left in two shards by a write
    cut short comes twice; the core keeps the later copy (``add_instance`` replaces a
    task id it has, a reservation id replaces its entry)."""
    if whole is not None:
        return merged(whole, docs)
    return [r for n in sorted(docs) for r in docs[n]]


def _repack(
    records: list[Any], keys: list[str], first: int, size: int
) -> tuple[dict[int, list[Any]], dict[str, int]]:
    new: dict[int, list[Any]] = {}
    where: dict[str, int] = {}
    for i, (key, rec) in enumerate(zip(keys, records, strict=True)):
        n = first + i // size
        new.setdefault(n, []).append(rec)
        where[key] = n
    return new, where


def merged(whole: list[Any] | None, docs: dict[int, list[Any]]) -> list[Any]:
    """An app's records from its whole-app document (an older layout) and its shards,
    in shard order; a record found twice (a write cut short) is kept once, the later
    copy (shards are newer than the whole document)."""
    out: dict[str, Any] = {}
    for recs in [whole or [], *(docs[n] for n in sorted(docs))]:
        for key, rec in zip(keys_of(recs), recs, strict=True):
            out.pop(key, None)
            out[key] = rec
    return list(out.values())
