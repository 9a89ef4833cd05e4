"""``TaskLists``: the encoded task lists last served (``/v2/tasks``,
``/v2/apps/{id}/tasks``), reused while their tasks are the same (issue 29)."""

from __future__ import annotations

from collections.abc import Callable
from operator import is_
from typing import Any

from actors.task_states import TaskState

from ._instances import Instance
from ._messages import ApiReply

_STAGING = TaskState.STAGING.value

Group = tuple[str, int, int]
"""One app's tasks in a list: (app id, start, end) of its slice."""

Segment = tuple[list[dict[str, Any]], bytes]
"""One app's task dicts and their texts joined with ``", "``, encoded."""


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(map(is_, a, b))


class TaskLists:
    """The encoded ``{"tasks": [...]}`` answers last served, per query (``/v2/tasks``,
    ``/v2/apps/{id}/tasks``), with the task dicts they encode: a list whose dicts are
    the very same ones, in the same order, is served the same bytes (an instance's dict
    is replaced, never changed, when the instance changes). Otherwise each app's slice
    is encoded anew only if its dicts changed, and the answer is one join of the
    slices (40 MB at 100,000 tasks: every copy of it costs as much as the rest).

    Written from the HTTP executor's threads, read from the actor's: an entry is one
    tuple, replaced whole."""

    KEPT = 8

    PRERENDER = 1000
    """Instances rendered ahead per ``prerender`` call (4 ticks/s: 4,000/s, twice the
    launch rate the scale bench aims for; ~10 us each)."""

    def __init__(self) -> None:
        self.entries: dict[Any, tuple[list[dict[str, Any]], bytes, dict[str, Segment], Any]] = {}
        """Key -> (task dicts, bytes, segments per app, the ``stamp`` they were listed at)."""
        self.unrendered: dict[str, Instance] = {}
        """Instances whose shown JSON was dropped (added, changed, being killed) since
        ``prerender`` last saw them (rendered newest first)."""
        self.generation = 0
        """Bumped by every ``note``/``forget``: an instance came, went or got another
        task JSON (every place that drops ``Instance._json`` notes it)."""

    def note(self, inst: Instance) -> None:
        """``inst``'s task JSON changed (or it is new): render it ahead of the next list."""
        self.unrendered[inst.task_id] = inst
        self.generation += 1

    def note_many(self, task_ids: list[str], insts: list[Instance]) -> None:
        """``note`` of each of ``insts`` (``task_ids[i]`` is ``insts[i].task_id``), in C."""
        self.unrendered.update(zip(task_ids, insts, strict=True))
        self.generation += len(insts)

    def forget(self, inst: Instance) -> None:
        """``inst`` left the instances."""
        self.generation += 1

    def stamp(self, root: Any) -> tuple[int, Any]:
        """What a list depends on besides its instances' JSON: the apps (``root``, an
        immutable group replaced on every change)."""
        return (self.generation, root)

    def unchanged(self, key: Any, stamp: tuple[int, Any]) -> ApiReply | None:
        """The last answer for ``key`` when nothing it shows changed since it was listed
        (same generation, same root): no walk over every instance (7 ms per request at
        100,000 tasks, on the actor's thread, for an answer that is the same bytes)."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        listed = entry[3]
        if listed[0] != stamp[0] or listed[1] is not stamp[1]:
            return None
        tasks, data = entry[0], entry[1]
        return ApiReply(200, {"tasks": tasks}, encode=lambda: data)

    def prerender(
        self,
        instances: dict[str, Instance],
        checks: Callable[[str], bool | None],
        limit: int = PRERENDER,
    ) -> int:
        """Render the dict and text of up to ``limit`` noted instances still current and
        past STAGING (``checks(app_id)``: whether the app's tasks show health results,
        None for a pod's, which no task list shows); how many were rendered.

        Why: the first ``/v2/tasks`` after 90,000 tasks started rendered all of them in
        that request (1 s of CPU in process at 100,000 tasks, 3.9 s in the 10k/100k run);
        rendered a tick at a time as they change, that request encodes only what changed
        since the last tick. What it renders is what ``to_json``/``json_text`` would render
        at the request (the same caches), so answers are the same bytes."""
        pending = self.unrendered
        done = 0
        while pending and done < limit:
            task_id, inst = pending.popitem()  # O(1); popping the first is not
            if instances.get(task_id) is not inst:
                continue
            if inst.state == _STAGING:
                # just launched: its RUNNING (a moment later) notes it again and a
                # staging render would be thrown away (in a launch wave, one per task
                # that a tick met before its RUNNING); a list asked meanwhile renders
                # it as before
                continue
            cached = inst._text
            if cached is not None and cached[0] is inst._json:
                continue  # rendered since (by a request): dict and text
            has_checks = checks(inst.app_id)
            if has_checks is None:
                continue
            inst.json_text(inst.to_json(has_checks))
            done += 1
        return done

    def reply(
        self,
        key: Any,
        tasks: list[dict[str, Any]],
        instances: list[Instance],
        groups: list[Group],
        stamp: tuple[int, Any] = (-1, None),
    ) -> ApiReply:
        """The answer ``{"tasks": tasks}``; ``instances[i]`` shows ``tasks[i]``;
        ``stamp`` (from ``stamp``) when they were listed."""
        cached = self.entries.get(key)
        if cached is not None and _same(cached[0], tasks):
            data = cached[1]
            self.entries[key] = (cached[0], data, cached[2], stamp)
            return ApiReply(200, {"tasks": tasks}, encode=lambda: data)
        return ApiReply(
            200,
            {"tasks": tasks},
            encode=lambda: self._encode(key, tasks, instances, groups, stamp),
        )

    def _encode(
        self,
        key: Any,
        tasks: list[dict[str, Any]],
        instances: list[Instance],
        groups: list[Group],
        stamp: tuple[int, Any],
    ) -> bytes:
        last = self.entries.get(key)
        before = last[2] if last is not None else {}
        segments: dict[str, Segment] = {}
        parts = [b'{"tasks":[']
        for app_id, lo, hi in groups:
            if lo == hi:
                continue
            dicts = tasks[lo:hi]
            segment = before.get(app_id)
            if segment is None or not _same(segment[0], dicts):
                shown = instances[lo:hi]
                texts = [i.json_text(d) for i, d in zip(shown, dicts, strict=True)]
                segment = (dicts, ",".join(texts).encode())
            segments[app_id] = segment
            if len(parts) > 1:
                parts.append(b",")
            parts.append(segment[1])
        parts.append(b"]}")
        data = b"".join(parts)
        entries = self.entries
        entries.pop(key, None)
        entries[key] = (tasks, data, segments, stamp)
        for old in list(entries)[: -self.KEPT]:
            entries.pop(old, None)
        return data
