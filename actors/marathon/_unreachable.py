"""What Marathon does with an UNREACHABLE instance, by its app's ``unreachableStrategy``.
Pure: ``now`` is passed in.

Partition-aware Mesos reports a task TASK_UNREACHABLE when its agent stops answering
pings; the task may well be running on the other side of a partition. Marathon's rules:

* until ``inactiveAfterSeconds``: keep it and count it (no replacement: a short
  partition costs nothing, and a task back in time is simply kept);
* from ``inactiveAfterSeconds``: it is inactive, no longer counted, so a replacement
  is launched;
* from ``expungeAfterSeconds``: forget it (and ask for a kill: if it ever comes back it
  is an unknown task, killed on sight);
* back RUNNING before expunge: it counts again, and the app's surplus (then
  ``instances + 1``) is killed by ``killSelection`` (YOUNGEST_FIRST: the replacement),
  so the app never ends above ``instances`` and the task that survived is not
  restarted (marathon#3924: tasks declared LOST then killed when they came back).

``unreachableStrategy: "disabled"`` (resident apps): never replaced, never expunged.
"""

from __future__ import annotations

import enum

from actors.marathon._app import UnreachableStrategy


class UnreachableAction(enum.Enum):
    KEEP = "keep"
    """Still within the grace (or already handled): nothing to do."""
    INACTIVATE = "inactivate"
    """Stop counting it: the converge loop launches a replacement."""
    EXPUNGE = "expunge"
    """Forget it (and kill it, should it come back)."""


def unreachable_action(
    since: float | None,
    inactive: bool,
    strategy: UnreachableStrategy | None,
    now: float,
) -> UnreachableAction:
    """``since``: when the instance was first seen UNREACHABLE (None: reachable);
    ``inactive``: already replaced; ``strategy`` None: ``"disabled"``."""
    if since is None or strategy is None:
        return UnreachableAction.KEEP
    gone_for = now - since
    if gone_for >= strategy.expunge_after_seconds:
        return UnreachableAction.EXPUNGE
    if gone_for >= strategy.inactive_after_seconds and not inactive:
        return UnreachableAction.INACTIVATE
    return UnreachableAction.KEEP
