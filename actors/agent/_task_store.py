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

FORMAT = 2
"""Version of a stream file. 2: the typed task description (``p.ContainerInfo``, ...).
A version-1 file (written before, with ``container``, ``health_checks`` and ``uris`` as
Marathon-shaped dicts) is converted on load (``upgrade_v1_task``), so tasks launched by
an older agent are recovered, not orphaned; a file of any other version, or a version-1
file that does not convert, is logged naming the file and the field, and skipped."""

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
                task = d["task"]
                if d.get("format") == 1:
                    task = upgrade_v1_task(task)
                elif d.get("format") != FORMAT:
                    raise ValueError(f"format {d.get('format')!r}, expected 1 or {FORMAT}")
                if isinstance(task, dict):
                    # Written before task groups: a plain task (the field's default);
                    # before resource limits: none (the request is the limit).
                    task = {
                        **task,
                        "group_id": task.get("group_id", ""),
                        "limits": task.get("limits", {}),
                    }
                out.append(
                    StoredTask(
                        framework_id=str(d["framework_id"]),
                        info=_decode(p.TaskInfo, task),
                        state=str(d["state"]),
                        updates=tuple(_decode(p.StatusUpdate, u) for u in d["updates"]),
                    )
                )
            except Exception as exc:
                log.error("agent: ignoring unreadable task checkpoint %s: %s", path, exc)
        return out


def upgrade_v1_task(task: Any) -> Any:
    """A version-1 checkpoint's ``TaskInfo`` body in the typed shape, for strict decoding.

    Version 1 carried Marathon's JSON: ``container`` ``{"type", "docker": {"image",
    "forcePullImage", "privileged", "network", "parameters"}, "portMappings",
    "volumes": [{"containerPath", "hostPath", "mode"}]}``, ``health_checks`` in
    Marathon's healthChecks shape and ``uris`` with a ``cache`` flag. Raises ValueError
    naming the field when a piece is not what version 1 wrote."""
    if not isinstance(task, dict):
        raise ValueError(f"task: {task!r:.60} is not an object")
    out = dict(task)
    out.setdefault("discovery", None)  # v1 tasks carry their PORT_<NAME> in their env
    out.setdefault("group_id", "")  # no task groups then
    out.setdefault("limits", {})  # nor resource limits
    command = out.get("command")
    if isinstance(command, dict):
        command = dict(command)
        command["uris"] = [_v1_uri(u) for u in _v1_list(command.get("uris"), "uris")]
        out["command"] = command
    if out.get("container") is not None:
        out["container"] = _v1_container(out["container"])
    out["health_checks"] = [
        _v1_health(h) for h in _v1_list(out.get("health_checks"), "health_checks")
    ]
    return out


def _v1_list(v: Any, where: str) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise ValueError(f"{where}: {v!r:.80} is not a list of objects")
    return v


def _v1_uri(u: dict[str, Any]) -> dict[str, Any]:
    return {
        "value": u.get("value") or u.get("uri"),
        "executable": bool(u.get("executable", False)),
        "extract": bool(u.get("extract", True)),
    }


def _v1_container(c: Any) -> dict[str, Any]:
    if not isinstance(c, dict):
        raise ValueError(f"container: {c!r:.80} is not an object")
    docker = c.get("docker") or {}
    if not isinstance(docker, dict):
        raise ValueError(f"container.docker: {docker!r:.80} is not an object")
    mappings = c.get("portMappings") or docker.get("portMappings")
    return {
        "type": str(c.get("type", "MESOS")).upper(),
        "network": str(docker.get("network", "HOST")).upper(),
        "docker": {
            "image": docker["image"],
            "privileged": bool(docker.get("privileged", False)),
            "parameters": [
                {"key": str(x["key"]), "value": str(x["value"])}
                for x in _v1_list(docker.get("parameters"), "container.docker.parameters")
            ],
            "force_pull_image": bool(docker.get("forcePullImage", False)),
        }
        if docker.get("image")
        else None,
        "port_mappings": [
            {
                "container_port": m["containerPort"],
                "host_port": m.get("hostPort", 0),
                "protocol": m.get("protocol", "tcp"),
                "name": m.get("name"),
            }
            for m in _v1_list(mappings, "container.portMappings")
        ],
        "volumes": [
            {
                "container_path": v["containerPath"],
                "host_path": v["hostPath"],
                "mode": v.get("mode", "RW"),
            }
            for v in _v1_list(c.get("volumes"), "container.volumes")
        ],
    }


def _v1_health(h: dict[str, Any]) -> dict[str, Any]:
    command = h.get("command")
    return {
        "protocol": h.get("protocol", "HTTP"),
        "path": h.get("path") or "/",
        "port_index": h.get("portIndex", 0) if h.get("port") is None else None,
        "port": h.get("port"),
        "command": command.get("value") if isinstance(command, dict) else command,
        "grace_period_seconds": h.get("gracePeriodSeconds", 300.0),
        "interval_seconds": h.get("intervalSeconds", 60.0),
        "timeout_seconds": h.get("timeoutSeconds", 20.0),
        "max_consecutive_failures": h.get("maxConsecutiveFailures", 3),
        "delay_seconds": h.get("delaySeconds", 15.0),
    }


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
        if is_terminal(s.state):
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
            state = r.state if r.state and is_terminal(r.state) else TaskState.FAILED.value
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
