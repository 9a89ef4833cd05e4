"""One copy of what the tasks of one app have in common (leader memory per task).

A task's ``TaskInfo`` carries its app's command (with its environment), container,
labels, health checks and limits: equal for every instance of an app version, yet each
task decoded from an agent's re-registration (a new leader after a failover) holds its
own copies, strings included: about 1.5 KB of a 2.3 KB ``TaskInfo``, 150 MB at 100,000
tasks. ``shared_task`` gives a recorded task the parts the previous task of the same
framework and name had when they are equal (so the first instance of an app is kept as
it is and the next ones point at its parts), and one empty dict/list for empty ones.
Pure; the objects are frozen messages or containers nobody mutates after decoding.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from actors import protocol as p

_KEPT = 4096
"""Apps remembered (framework, task name): past it the table starts again (tasks of apps
still running keep their shared parts; only further sharing starts over)."""

_FIELDS = ("command", "container", "health_checks", "labels", "limits")

_ALL = tuple(f.name for f in dataclasses.fields(p.TaskInfo))

_LAST: dict[tuple[str, str], dict[str, Any]] = {}


def shared_task(framework_id: str, task: p.TaskInfo) -> p.TaskInfo:
    """``task``, or an equal ``TaskInfo`` whose app-wide parts are the ones an earlier
    task of the same framework and name holds (compared by equality, never assumed)."""
    key = (framework_id, task.name)
    last = _LAST.get(key)
    if last is None:
        if len(_LAST) >= _KEPT:
            _LAST.clear()
        _LAST[key] = {f: getattr(task, f) for f in _FIELDS}
        return task
    changes: dict[str, Any] = {}
    for f in _FIELDS:
        mine = getattr(task, f)
        known = last[f]
        if mine is known:
            continue
        if mine == known:
            changes[f] = known
        else:
            last[f] = mine  # a new version of the app: later instances share this one
    if not changes:
        return task
    # An equal copy without re-running __init__ (``dataclasses.replace`` costs 4 us a
    # task, a new leader's recovery of 100,000 tasks 0.4 s): the fields were validated
    # when ``task`` was made and the shared ones are equal to its own.
    copy = object.__new__(p.TaskInfo)
    for f in _ALL:
        object.__setattr__(copy, f, changes[f] if f in changes else getattr(task, f))
    return copy


def forget() -> None:
    """Drop the table (tests; a master that stopped leading)."""
    _LAST.clear()
