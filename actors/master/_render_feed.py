"""Which task records changed lately, for ``/master/state``'s renders.

Why: ``/master/state`` at 100,000 tasks is re-rendered on every allocation cycle (the
offers change). A render that walked every record to find the few whose fields changed
cost ~60 ms at 100,000 tasks and grew faster than the cluster. Every write of a field
the task's JSON shows (``TASK_SHOWN``) calls ``touched`` (the status path, master-made
updates, an agent's re-registration adopting its tasks: ``_tasks``, ``_agents``), which
keeps two things per state:

* the notes (time, record), a bounded deque ``_state_json.prerender`` consumes while
  the master actor is idle, so the first request after a launch finds the texts made;
* the marks: the records touched since the last render (``take``); a render re-renders
  only those (plus records that came, went or were replaced: ``moved``, called where a
  key of ``tasks`` or a framework's ``tasks`` set changes, tells it to list the keys
  again; else it skips listing 100,000 keys per render).

A mark is what the render relies on, so a write without one would show a stale text:
tests/master/test_state_marks.py fails when a shown field is assigned in ``actors/master``
by a function that does not call ``touched``, and the random-churn tests compare each
cached answer with a render from scratch. Past ``KEPT`` marks (no render for a long
time) the marks stop and the next render walks every record (``take`` says so).
Pure: no I/O, no clock; kept per state object, weakly (a term's state dies with it).
"""

from __future__ import annotations

import weakref
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actors.master._state import MasterState, TaskRecord

KEPT = 262_144
"""Notes and marks kept per state: past it the oldest notes are dropped (those records
are rendered by the request), and the marks overflow (the next render checks all)."""

TASK_SHOWN = frozenset(
    {
        "task",
        "framework_id",
        "agent_id",
        "resources",
        "role",
        "state",
        "updated_at",
        "reason",
        "message",
        "healthy",
    }
)
"""The ``TaskRecord`` fields ``/master/state`` shows: a write of one must be ``touched``."""

Feed = deque[tuple[float, "TaskRecord"]]


class _Kept:
    """One state's notes and marks."""

    __slots__ = ("marks", "moves", "notes", "overflow")

    def __init__(self) -> None:
        self.notes: Feed = deque(maxlen=KEPT)
        self.marks: dict[int, TaskRecord] = {}
        self.overflow = False
        self.moves = 0


_FEEDS: weakref.WeakKeyDictionary[MasterState, _Kept] = weakref.WeakKeyDictionary()


def touched(s: MasterState, t: TaskRecord, now: float) -> None:
    """``t`` (a record of ``s``) changed a field its JSON shows at ``now``."""
    kept = _FEEDS.get(s)
    if kept is None:
        kept = _FEEDS[s] = _Kept()
    kept.notes.append((now, t))
    marks = kept.marks
    if len(marks) < KEPT:
        marks[id(t)] = t
    else:
        kept.overflow = True


def moved(s: MasterState) -> None:
    """A key of ``s.tasks`` came, went or got another record, or a framework's ``tasks``
    set changed: the render lists the keys again (else it trusts the last listing)."""
    kept = _FEEDS.get(s)
    if kept is None:
        kept = _FEEDS[s] = _Kept()
    kept.moves += 1


def moves(s: MasterState) -> int | None:
    """How many ``moved`` calls ``s`` had (None: none kept yet, nothing to trust)."""
    kept = _FEEDS.get(s)
    return kept.moves if kept is not None else None


def feed(s: MasterState) -> Feed | None:
    """The notes of ``s``, oldest first (the consumer pops them), or None: none yet."""
    kept = _FEEDS.get(s)
    return kept.notes if kept is not None else None


def take(s: MasterState) -> tuple[list[TaskRecord], bool]:
    """The records of ``s`` touched since the last ``take`` (each once), and whether
    some were not kept (overflow: every record must be checked); forgets them."""
    kept = _FEEDS.get(s)
    if kept is None:
        return [], False
    records, overflow = list(kept.marks.values()), kept.overflow
    kept.marks, kept.overflow = {}, False
    return records, overflow
