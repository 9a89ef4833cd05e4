"""What the agent actor checkpoints about its tasks, and how a restarted agent reconciles
it with what the containerizers recovered (Mesos' ``--recover=reconnect``).

One file per task, ``<work_dir>/meta/streams/<quoted task id>.json``, holds the wire
``TaskInfo``, its framework, the latest state and the *pending* status updates (the
stream not yet acknowledged), encoded with the transport's one codec. The containerizers
keep their own checkpoints (pid + start time + cgroup, or the container id) under
``meta/tasks/``; the two are joined by task id at recovery.

Ordering contract (the agent actor keeps it):

* the task is checkpointed BEFORE it is launched, so a restarted agent knows every task
  it may have started;
* an update is checkpointed BEFORE it is sent, so a sent update is never forgotten;
* an acknowledged update is dropped from the checkpoint AFTER the acknowledgement; a
  terminal task whose stream is empty is forgotten: containerizer checkpoint first,
  then this file (a crash in between leaves a stream file for a terminal task with no
  updates, which recovery simply forgets).

``plan_recovery`` is pure: checkpoints + recovered containers in, decisions out.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from actors import protocol as p
from actors.agent._checkpoint import atomic_write_json
from actors.agent._spec import RecoveredTask
from actors.task_states import TaskState, is_terminal
from transport import codec

log = logging.getLogger("actors.agent")

FORMAT = 1
"""Version of a stream file; a file of another version is ignored (and logged)."""

REASON_EXECUTOR_TERMINATED = "REASON_EXECUTOR_TERMINATED"


@dataclass(frozen=True, slots=True)
class StoredTask:
    """One task as the agent checkpointed it."""

    framework_id: str
    """The owning framework."""
    info: p.TaskInfo
    """The task as launched (what re-registration reports)."""
    state: str
    """The latest state the agent queued for it."""
    updates: tuple[p.StatusUpdate, ...] = ()
    """Updates not yet acknowledged, oldest first (the head is resent)."""


def _encode(obj: Any) -> Any:
    return codec.encode_body(obj)[1]


def _decode(cls: type, body: Any) -> Any:
    name = codec.name_of(cls)
    assert name is not None, cls
    return codec.decode_body(name, body)


class TaskStore:
    """The stream files under ``<work_dir>/meta/streams/``."""

    def __init__(self, work_dir: str | Path) -> None:
        self.dir = Path(work_dir) / "meta" / "streams"

    def _path(self, task_id: str) -> Path:
        return self.dir / f"{quote(task_id, safe='')}.json"

    def save(self, t: StoredTask) -> None:
        atomic_write_json(
            self._path(t.info.task_id),
            {
                "format": FORMAT,
                "framework_id": t.framework_id,
                "task": _encode(t.info),
                "state": t.state,
                "updates": [_encode(u) for u in t.updates],
            },
        )

    def remove(self, task_id: str) -> None:
        try:
            self._path(task_id).unlink()
        except FileNotFoundError:
            pass

    def load(self) -> list[StoredTask]:
        """Every readable stream file; an unreadable one is logged and skipped (a file
        is never half-written, so that means corruption or another format)."""
        out: list[StoredTask] = []
        if not self.dir.is_dir():
            return out
        for path in sorted(self.dir.glob("*.json")):
            try:
                d = json.loads(path.read_text())
                if d.get("format") != FORMAT:
                    raise ValueError(f"format {d.get('format')!r}, expected {FORMAT}")
                out.append(
                    StoredTask(
                        framework_id=str(d["framework_id"]),
                        info=_decode(p.TaskInfo, d["task"]),
                        state=str(d["state"]),
                        updates=tuple(_decode(p.StatusUpdate, u) for u in d["updates"]),
                    )
                )
            except Exception as exc:
                log.error("agent: ignoring unreadable task checkpoint %s: %s", path, exc)
        return out


# ------------------------------------------------------------------------------ the plan


@dataclass(frozen=True, slots=True)
class Resume:
    """A checkpointed task the restarted agent keeps."""

    stored: StoredTask
    running: bool
    """A containerizer reattached to it."""
    enqueue: tuple[str, str | None, str] | None = None
    """(state, reason, message) of an update to add to its stream: what happened while
    the agent was away (RUNNING it had not reported yet, or how the task ended)."""


@dataclass(frozen=True, slots=True)
class RecoveryPlan:
    resume: tuple[Resume, ...] = ()
    forget: tuple[str, ...] = ()
    """Terminal tasks with nothing left to say: remove their checkpoints."""
    orphans: tuple[str, ...] = ()
    """Running containers no checkpointed task accounts for (or whose task the agent
    already ended): kill them, as Mesos kills orphaned containers."""


def plan_recovery(stored: list[StoredTask], recovered: list[RecoveredTask]) -> RecoveryPlan:
    """Join the agent's checkpoints with what the containerizers recovered.

    | agent checkpoint          | containerizer          | decision                          |
    |---------------------------|------------------------|-----------------------------------|
    | terminal, updates pending | any (running: orphan)  | resume, resend the pending ones   |
    | terminal, nothing pending | any (running: orphan)  | forget                            |
    | live                      | reattached             | resume; RUNNING if not yet queued |
    | live                      | ended while away       | resume + its terminal update      |
    | live                      | nothing checkpointed   | resume + TASK_FAILED (lost launch)|
    | none                      | reattached             | orphan: kill                      |
    | none                      | ended                  | forget                            |
    """
    by_id = {r.task_id: r for r in recovered}
    resume: list[Resume] = []
    forget: list[str] = []
    orphans: list[str] = []
    for s in stored:
        tid = s.info.task_id
        r = by_id.pop(tid, None)
        if is_terminal_name(s.state):
            if r is not None and r.running:
                orphans.append(tid)
            if s.updates:
                resume.append(Resume(s, running=False))
            else:
                forget.append(tid)
        elif r is None:
            resume.append(
                Resume(
                    s,
                    running=False,
                    enqueue=(
                        TaskState.FAILED.value,
                        REASON_EXECUTOR_TERMINATED,
                        f"task {tid} is gone after the agent restarted: it was being "
                        "launched when the agent stopped and no container was checkpointed",
                    ),
                )
            )
        elif r.running:
            state = r.state or TaskState.RUNNING.value
            enqueue = None if state == s.state else (state, r.reason, r.message or "reattached")
            resume.append(Resume(s, running=True, enqueue=enqueue))
        else:
            state = r.state if r.state and is_terminal_name(r.state) else TaskState.FAILED.value
            resume.append(
                Resume(
                    s,
                    running=False,
                    enqueue=(state, r.reason or REASON_EXECUTOR_TERMINATED, r.message),
                )
            )
    for tid, r in by_id.items():
        (orphans if r.running else forget).append(tid)
    return RecoveryPlan(tuple(resume), tuple(forget), tuple(orphans))


def is_terminal_name(state: str) -> bool:
    try:
        return is_terminal(TaskState(state))
    except ValueError:
        return False
