"""``TaskLists``: the encoded task lists last served (``/v2/tasks``,
``/v2/apps/{id}/tasks``), reused while their tasks are the same (issue 29)."""

from __future__ import annotations

from operator import is_
from typing import Any

from ._instances import Instance
from ._messages import ApiReply


class TaskLists:
    """The encoded ``{"tasks": [...]}`` answers last served, per query (``/v2/tasks``,
    ``/v2/apps/{id}/tasks``), with the task dicts they encode: a list whose dicts are
    the very same ones, in the same order, is served the same bytes (an instance's dict
    is replaced, never changed, when the instance changes). Otherwise encoded in one
    join of the instances' cached texts (45 MB at 100,000 tasks: every copy of it
    costs as much as the rest, so there is one, plus the encoding).

    Written from the HTTP executor's threads, read from the actor's: an entry is one
    tuple, replaced whole."""

    KEPT = 8

    def __init__(self) -> None:
        self.entries: dict[Any, tuple[list[dict[str, Any]], bytes]] = {}

    def reply(self, key: Any, tasks: list[dict[str, Any]], instances: list[Instance]) -> ApiReply:
        cached = self.entries.get(key)
        if cached is not None and len(cached[0]) == len(tasks) and all(map(is_, cached[0], tasks)):
            data = cached[1]
            return ApiReply(200, {"tasks": tasks}, encode=lambda: data)
        return ApiReply(200, {"tasks": tasks}, encode=lambda: self._encode(key, tasks, instances))

    def _encode(self, key: Any, tasks: list[dict[str, Any]], instances: list[Instance]) -> bytes:
        if not tasks:
            data = b'{"tasks": []}'
        else:
            texts = [i.json_text(d) for i, d in zip(instances, tasks, strict=True)]
            texts[0] = '{"tasks": [' + texts[0]
            texts[-1] += "]}"
            data = ", ".join(texts).encode()
        entries = self.entries
        entries.pop(key, None)
        entries[key] = (tasks, data)
        for old in list(entries)[: -self.KEPT]:
            entries.pop(old, None)
        return data
