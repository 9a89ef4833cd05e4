"""``TaskLists``: the encoded task lists last served (``/v2/tasks``,
``/v2/apps/{id}/tasks``), reused while their tasks are the same (issue 29)."""

from __future__ import annotations

from operator import is_
from typing import Any

from ._instances import Instance
from ._messages import ApiReply

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

    def __init__(self) -> None:
        self.entries: dict[Any, tuple[list[dict[str, Any]], bytes, dict[str, Segment]]] = {}

    def reply(
        self,
        key: Any,
        tasks: list[dict[str, Any]],
        instances: list[Instance],
        groups: list[Group],
    ) -> ApiReply:
        """The answer ``{"tasks": tasks}``; ``instances[i]`` shows ``tasks[i]``."""
        cached = self.entries.get(key)
        if cached is not None and _same(cached[0], tasks):
            data = cached[1]
            return ApiReply(200, {"tasks": tasks}, encode=lambda: data)
        return ApiReply(
            200, {"tasks": tasks}, encode=lambda: self._encode(key, tasks, instances, groups)
        )

    def _encode(
        self,
        key: Any,
        tasks: list[dict[str, Any]],
        instances: list[Instance],
        groups: list[Group],
    ) -> bytes:
        last = self.entries.get(key)
        before = last[2] if last is not None else {}
        segments: dict[str, Segment] = {}
        parts = [b'{"tasks": [']
        for app_id, lo, hi in groups:
            if lo == hi:
                continue
            dicts = tasks[lo:hi]
            segment = before.get(app_id)
            if segment is None or not _same(segment[0], dicts):
                shown = instances[lo:hi]
                texts = [i.json_text(d) for i, d in zip(shown, dicts, strict=True)]
                segment = (dicts, ", ".join(texts).encode())
            segments[app_id] = segment
            if len(parts) > 1:
                parts.append(b", ")
            parts.append(segment[1])
        parts.append(b"]}")
        data = b"".join(parts)
        entries = self.entries
        entries.pop(key, None)
        entries[key] = (tasks, data, segments)
        for old in list(entries)[: -self.KEPT]:
            entries.pop(old, None)
        return data
