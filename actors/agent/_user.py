"""Which Unix user a task runs as, and how the agent switches to it.

A task runs as its own ``user`` when it names one (Marathon's app ``user``, Metronome's
``run.user``, Mesos' ``CommandInfo.user``), else as the agent's ``--default-user``
(``nobody`` for an agent running as root, unless configured otherwise), else as the
agent's own user. Mesos does the same with ``--switch_user``; root is used only when it
is asked for.

Native tasks: the isolation steps (joining the cgroup, new namespaces, the private
``/tmp``) need root, so only the command itself switches: ``setpriv`` sets the groups,
gid and uid (in that order, then execs the command), and the sandbox is chowned to the
user first so the task can write there. An agent that is not root cannot switch: a task
asking for another user fails saying so, it never runs as the agent's user instead.
Docker tasks: the engine switches inside the container (``docker run --user``), with the
image's users; the agent's default user does not apply there.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from actors.agent._errors import AgentError


class UserError(AgentError):
    """The task cannot run as the user it asks for; the message names the user."""


@dataclass(frozen=True)
class RunAs:
    """A resolved Unix user."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    """Supplementary groups (the user's groups from the group database)."""


def valid_user_name(name: object) -> str | None:
    """Why ``name`` cannot be a user name (-> TASK_ERROR), or None (pure)."""
    if not isinstance(name, str) or not name:
        return f"user: {name!r} is not a user name"
    if len(name) > 256 or not name.isprintable() or any(c in name for c in ":/ \t"):
        return f"user: {name[:80]!r} is not a user name"
    return None


def lookup(name: str) -> RunAs:
    """The user named ``name`` on this host (a name, or a number as Mesos accepts)."""
    try:
        pw = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, OverflowError, ValueError):
        raise UserError(f"user {name!r} does not exist on this agent") from None
    try:
        groups = tuple(sorted(set(os.getgrouplist(pw.pw_name, pw.pw_gid))))
    except OSError:
        groups = (pw.pw_gid,)
    return RunAs(pw.pw_name, pw.pw_uid, pw.pw_gid, groups)


def switch_problem(target: RunAs, euid: int) -> str | None:
    """Why an agent with effective uid ``euid`` cannot run a task as ``target``, or
    None (pure). Running as oneself needs no switch; switching needs root."""
    if target.uid == euid or euid == 0:
        return None
    return (
        f"cannot run the task as user {target.name!r} (uid {target.uid}): the agent runs "
        f"as uid {euid}, not root, so it can only run tasks as itself"
    )


def needs_switch(target: RunAs, euid: int) -> bool:
    return target.uid != euid


def setpriv_argv(target: RunAs, setpriv: str = "setpriv") -> list[str]:
    """The prefix that runs a command as ``target`` (pure): groups, gid, uid, exec."""
    groups = ",".join(str(g) for g in target.groups)
    return [
        setpriv,
        f"--reuid={target.uid}",
        f"--regid={target.gid}",
        f"--groups={groups}" if groups else "--clear-groups",
        "--",
    ]


def find_setpriv() -> str | None:
    return shutil.which("setpriv")


def resolve(name: str | None, euid: int | None = None) -> RunAs | None:
    """The user to switch to for ``name``: None when no switch is needed (no user asked
    for, or the agent's own). Raises ``UserError`` naming the user otherwise."""
    if not name:
        return None
    target = lookup(name)
    me = os.geteuid() if euid is None else euid
    problem = switch_problem(target, me)
    if problem:
        raise UserError(problem)
    return target if needs_switch(target, me) else None


def chown_tree(path: Path, target: RunAs) -> None:
    """Give the sandbox to the task's user (Mesos chowns it too), without following
    symlinks a fetched archive may hold."""
    os.chown(path, target.uid, target.gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), target.uid, target.gid, follow_symlinks=False)


def may_search(st: os.stat_result, target: RunAs) -> bool:
    """Can ``target`` pass through a directory with this stat (mode bits only, pure)?"""
    if st.st_uid == target.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in target.groups or st.st_gid == target.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def closed_ancestor(
    path: Path, target: RunAs, lstat: Callable[[Path], os.stat_result] = os.stat
) -> Path | None:
    """The topmost directory above ``path`` that ``target`` cannot pass through (a work
    dir under root's 0700 home), or None. An isolated task gets an empty tmpfs over it
    holding just its sandbox, so ``$MESOS_SANDBOX`` works as that user; what it hides
    was closed to the user anyway. ``/`` itself is never hidden."""
    for parent in reversed(path.parents):
        if parent == Path(parent.anchor):
            continue
        if not may_search(lstat(parent), target):
            return parent
    return None
