"""The queue of run attempts waiting for an offer, kept by demand class. Pure.

Attempts whose jobs ask the same of an offer (resources, containerizer, constraints: a
*class*, ``class_key``) are placed or refused alike by one offer: ``place`` reads
nothing else (Metronome passes no other placed instances), and a remainder of an offer
never fits what the whole did not. So ``_offers.match_queue`` tries each class's oldest
attempt in queue order and drops the class at its first refusal: an offer costs
O(classes + launches), not O(waiting attempts) (2,000 runs of one job shape used to
cost 2,000 placements, refusal records and timestamps per unusable offer).

A refusal is noted once per class (``_Class``: refusals so far, their reason counts,
the last few unused offers); each attempt remembers where the class log stood when it
joined, and its ``Waiting`` (``offersProcessed``, ``reasons``, ``lastUnusedOffers``
since it was queued) is derived from the two by ``waiting_updates`` when the actor
refreshes the view (once per tick), not per offer.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ._offers import ClassKey, Head, Where
from ._view import LAST_UNUSED_KEPT, Waiting


@dataclass(slots=True)
class _Member:
    where: Where
    seq: int
    """Queue position (smaller = queued earlier)."""
    joined: int
    """The class's refusal count when this attempt joined it."""
    counts: dict[str, int]
    """The class's refusal counts per reason when this attempt joined it."""


@dataclass(slots=True)
class _Class:
    members: dict[str, _Member] = field(default_factory=dict)
    """Task id -> member, in queue order."""
    refusals: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    recent: deque[tuple[int, dict[str, Any]]] = field(
        default_factory=lambda: deque(maxlen=LAST_UNUSED_KEPT)
    )
    """(refusal number, unused offer JSON), newest last."""
    shown: int = 0
    """``refusals`` when the members' ``Waiting`` were last derived."""


class LaunchQueue:
    """Task id -> (job id, run id) of persisted launch decisions waiting for an offer,
    in queue order, indexed by class (the actor's ``pending``)."""

    def __init__(self) -> None:
        self._classes: dict[ClassKey, _Class] = {}
        self._key: dict[str, ClassKey] = {}
        self._seq = 0

    # -- the mapping the actor reads --------------------------------------------------

    def __len__(self) -> int:
        return len(self._key)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._key

    def get(self, task_id: str) -> Where | None:
        if task_id not in self._key:
            return None
        return self._classes[self._key[task_id]].members[task_id].where

    def add(self, task_id: str, where: Where, key: ClassKey) -> None:
        """Queue an attempt (again: kept where it was)."""
        if task_id in self._key:
            return
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = _Class()
        self._seq += 1
        cls.members[task_id] = _Member(where, self._seq, cls.refusals, dict(cls.counts))
        self._key[task_id] = key

    def pop(self, task_id: str, default: Where | None = None) -> Where | None:
        """Take an attempt out of the queue: its (job id, run id), else ``default``."""
        if task_id not in self._key:
            return default
        key = self._key.pop(task_id)
        cls = self._classes[key]
        member = cls.members.pop(task_id)
        if not cls.members:
            del self._classes[key]
        return member.where

    def drop_job(self, job_id: str) -> None:
        """Forget every attempt of ``job_id`` (a quarantined job)."""
        gone = [t for t, k in self._key.items() if self._classes[k].members[t].where[0] == job_id]
        for task_id in gone:
            self.pop(task_id)

    def classes(self) -> list[ClassKey]:
        """The classes with a waiting attempt."""
        return list(self._classes)

    def heads(self) -> Iterator[tuple[ClassKey, Iterator[Head]]]:
        """Per class, its attempts in queue order as (queue position, task id, where).

        The attempts are read lazily from the live queue: take nothing out of it until
        every iterator is done with."""
        for key, cls in self._classes.items():
            yield key, ((m.seq, t, m.where) for t, m in cls.members.items())

    # -- why they wait ----------------------------------------------------------------

    def refused(self, key: ClassKey, offer: Any, reason: str, detail: str, stamp: str) -> None:
        """One more offer the attempts of class ``key`` could not use (``stamp``: the
        moment, formatted)."""
        cls = self._classes.get(key)
        if cls is None:
            return
        cls.refusals += 1
        cls.counts[reason] += 1
        unused = {
            "offer": {"id": offer.offer_id, "agentId": offer.agent_id, "hostname": offer.hostname},
            "timestamp": stamp,
            "reason": [detail],
        }
        cls.recent.append((cls.refusals, unused))

    def waiting_updates(self) -> dict[str, dict[str, Waiting]]:
        """Job id -> run id -> ``Waiting`` of the attempts whose class was refused
        since the last call (none for an attempt no offer was refused to yet)."""
        out: dict[str, dict[str, Waiting]] = {}
        for cls in self._classes.values():
            if cls.shown == cls.refusals:
                continue
            cls.shown = cls.refusals
            for task_id, m in cls.members.items():
                if m.joined == cls.refusals:
                    continue  # queued after the last refusal: nothing to say yet
                reasons = tuple(
                    sorted(
                        (r, n - m.counts.get(r, 0))
                        for r, n in cls.counts.items()
                        if n > m.counts.get(r, 0)
                    )
                )
                waiting = Waiting(
                    task_id,
                    processed=cls.refusals - m.joined,
                    reasons=reasons,
                    last_unused=tuple(u for i, u in cls.recent if i > m.joined),
                )
                out.setdefault(m.where[0], {})[m.where[1]] = waiting
        return out
