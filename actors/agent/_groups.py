"""Task groups on the agent (Mesos' LAUNCH_GROUP run by its default executor).

A group's members start together or not at all, share the group's ephemeral volumes
and the host network, and live and die together: when one member fails or is killed,
the agent kills the others (the default executor's rule; a member that FINISHED leaves
the others running). Membership is ``TaskInfo.group_id``, checkpointed with each task,
so a restarted agent still knows its groups.

Layout: ``<work_dir>/sandboxes/<group_id>/volumes/<name>`` holds the shared volumes; a
member keeps its own sandbox (``<work_dir>/sandboxes/<task_id>``, logs and all). A
member's volume with a RELATIVE host path (``volumes/<name>``: Mesos' SANDBOX_PATH of
type PARENT) lives under the group's directory: it is rewritten to that absolute host
path before the launch, and the native containerizer bind-mounts it at the mount path
(relative: inside the member's sandbox) in the member's mount namespace. The planning
is pure (``plan_group``); the actor hooks below carry it out.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import posixpath
import re
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors import protocol as p
from actors.agent._errors import AgentError
from actors.task_states import TaskState, is_terminal

AgentActor = Any
"""The agent actor (``_agent_actor.AgentActor``; not imported: it imports this module)."""
log = logging.getLogger("actors.agent")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """What to do for one ``RunTaskGroup``."""

    tasks: list[p.TaskInfo]
    """The members as launched (shared volumes rewritten to host paths)."""
    dirs: list[Path]
    """Directories to create first (the shared volumes)."""


class GroupError(AgentError):
    """A task group the agent refuses (every member fails with this message)."""


def group_dir(work_dir: str | Path, group_id: str) -> Path:
    return Path(work_dir) / "sandboxes" / group_id


def plan_group(m: p.RunTaskGroup, work_dir: str | Path | None) -> GroupPlan:
    """Check a group and place its shared volumes (pure: no I/O). Raises
    ``GroupError`` naming the problem."""
    if not m.tasks:
        raise GroupError(f"task group {m.group_id!r}: it has no tasks")
    if not _NAME.match(m.group_id):
        raise GroupError(f"task group {m.group_id!r}: not a valid group id")
    ids = [t.task_id for t in m.tasks]
    if len(set(ids)) != len(ids):
        raise GroupError(f"task group {m.group_id}: a task id is used twice")
    for t in m.tasks:
        if t.group_id != m.group_id:
            raise GroupError(f"task {t.task_id}: group_id {t.group_id!r} is not {m.group_id!r}")
    tasks: list[p.TaskInfo] = []
    dirs: list[Path] = []
    base = group_dir(work_dir, m.group_id) if work_dir else None
    for t in m.tasks:
        c = t.container
        if c is None or not c.volumes:
            tasks.append(t)
            continue
        kept: list[p.VolumeInfo] = []
        for v in c.volumes:
            if v.host_path.startswith("/"):
                kept.append(v)
                continue
            rel = posixpath.normpath(v.host_path)
            if rel.startswith("..") or rel == ".":
                raise GroupError(
                    f"task {t.task_id}: volume host path {v.host_path!r} escapes the group sandbox"
                )
            if base is None:
                continue  # no sandboxes (simulated tasks): nothing to share
            target = base / rel
            if target not in dirs:
                dirs.append(target)
            where = posixpath.normpath(v.container_path)
            if not v.container_path.startswith("/") and (where.startswith("..") or where == "."):
                raise GroupError(
                    f"task {t.task_id}: mount path {v.container_path!r} escapes the sandbox"
                )
            # A host-path volume now: the native containerizer bind-mounts it (a
            # relative mount path inside the member's sandbox, as Mesos does).
            kept.append(p.VolumeInfo(v.container_path, str(target), v.mode))
        tasks.append(dataclasses.replace(t, container=dataclasses.replace(c, volumes=kept)))
    return GroupPlan(tasks, dirs)


def prepare(plan: GroupPlan) -> None:
    """Create the shared volumes (writable by every member's user)."""
    for d in plan.dirs:
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o777)  # members may run as other users (``user``)


def run_group(agent: AgentActor, m: p.RunTaskGroup) -> None:
    """Launch every member, or fail them all (TASK_FAILED naming why)."""
    live = [t.task_id for t in m.tasks if t.task_id in agent.tasks]
    if live:
        return  # a RunTaskGroup resent by a new leader launches nothing twice
    try:
        plan = plan_group(m, agent.work_dir)
        prepare(plan)
    except (GroupError, OSError) as exc:
        log.warning("agent: task group %s refused: %s", m.group_id, exc)
        for t in m.tasks:
            agent._on_run_task(p.RunTask(m.framework_id, m.framework_address, t), launch=False)
            agent._report_fn(
                t.task_id, TaskState.FAILED.value, "REASON_CONTAINER_LAUNCH_FAILED", str(exc), None
            )
        return
    for t in plan.tasks:
        agent._on_run_task(p.RunTask(m.framework_id, m.framework_address, t))


def members(agent: AgentActor, task: p.TaskInfo) -> list[str]:
    """The other tasks of ``task``'s group this agent still runs."""
    if not task.group_id:
        return []
    return [
        tid
        for tid, t in agent.tasks.items()
        if t.info.group_id == task.group_id and tid != task.task_id and not is_terminal(t.state)
    ]


def kills_group(state: str) -> bool:
    """A member ending in ``state`` takes its group down (all but a clean finish)."""
    return is_terminal(state) and state != TaskState.FINISHED.value


_killing: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
"""Per agent, the groups already being killed (each member is killed once)."""


def kill_members(agent: AgentActor, task: p.TaskInfo, grace: float | None, why: str) -> None:
    """Kill the rest of ``task``'s group (the default executor's rule)."""
    dying = _killing.setdefault(agent, set())
    if task.group_id in dying:
        return
    others = members(agent, task)
    if others:
        dying.add(task.group_id)
    if len(dying) > 1000:
        dying.clear()  # bounded: a group id is never reused
    for tid in others:
        log.info("agent: killing %s: %s", tid, why)
        try:
            agent.runner.kill(tid, grace, agent._report_fn)
        except Exception:  # a runner bug must not keep the rest of the group alive
            log.exception("agent: killing group member %s failed", tid)


def detail(agent: AgentActor) -> dict[str, Any]:
    """The agent's groups (for state documents): group id -> member task ids."""
    out: dict[str, list[str]] = {}
    for tid, t in agent.tasks.items():
        if t.info.group_id:
            out.setdefault(t.info.group_id, []).append(tid)
    return out
