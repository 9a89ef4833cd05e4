"""Which task records changed lately, for ``/master/state``'s idle-time pre-render.

Why: the first ``GET /mesos/master/state`` after 90,000 tasks started rendered each of
their texts in that request (~0.3 s of CPU in process, over a second on the busy 2-core
leader). ``_tasks.on_status_update`` notes each record it changed here (one deque
append); ``_state_json.prerender`` renders the noted records' and their agents' texts
in bounded batches while the master actor is idle, so the request finds them cached.

A note is a hint, never trusted: every render still checks each record's cached text
against the fields it shows. The feed is bounded (the oldest notes go first) and kept
per state object (weakly: a term's state dies with its term). Pure: no I/O, no clock.
"""

from __future__ import annotations

import weakref
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actors.master._state import MasterState, TaskRecord

KEPT = 262_144
"""Notes kept per state: past it the oldest are dropped (those records are rendered
by the request, as before)."""

Feed = deque[tuple[float, "TaskRecord"]]

_FEEDS: weakref.WeakKeyDictionary[MasterState, Feed] = weakref.WeakKeyDictionary()


def touched(s: MasterState, t: TaskRecord, now: float) -> None:
    """``t`` (a record of ``s``) changed a field its JSON shows at ``now``."""
    feed = _FEEDS.get(s)
    if feed is None:
        feed = _FEEDS[s] = deque(maxlen=KEPT)
    feed.append((now, t))


def feed(s: MasterState) -> Feed | None:
    """The notes of ``s``, oldest first (the consumer pops them), or None: none yet."""
    return _FEEDS.get(s)
