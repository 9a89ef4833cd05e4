"""When an agent sends its (re-)registration again: decisions only, time passed in.

A re-registration carries every task the agent runs. After a failover 10,000 agents
send theirs at once, and a new leader on 2 cores needs tens of seconds to take them all
in. An agent that resent its re-registration every ``register_retry_interval`` while it
waited (as it did) multiplied that work: the leader's transport thread decoded the same
tasks again and again, fell further behind, and at 10,000 agents / 100,000 tasks never
caught up. Mesos' agent backs off instead (``--registration_backoff_factor``: the delay
doubles after each unanswered attempt, up to a minute); so does this one:

* the first retry comes ``base`` seconds after the first attempt, then 2x, 4x... up to
  ``cap`` seconds, each stretched by a per-agent factor in [1, 1.5) so that thousands of
  agents that started together do not retry in lockstep;
* an answer (``AgentRegistered``) or a new master address starts over at ``base``;
* a repeated announcement of the master the agent is already waiting on is not a
  reason to send again before the backoff says so; a new leader announces itself only
  to the agents whose re-registration (sent on their leader watch's notice, queued
  while it read its registry) it did not get;
* a resend of an unchanged re-registration to the same master names the copy it
  repeats (``repeat_of``) instead of carrying every task again: the master answers it
  if it took that copy in, else asks for the whole one (``ReregisterFull``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

CAP_FACTOR = 16.0
"""The longest wait between two attempts, in multiples of ``base`` (16 s for the 1 s
default; Mesos caps at 60 s)."""


class RegisterBackoff:
    """The retry schedule of one agent's registration. ``seed``: anything stable and
    distinct per agent (its host name and address), for the jitter."""

    def __init__(self, base: float, seed: str, cap: float | None = None) -> None:
        self.base = base
        self.cap = base * CAP_FACTOR if cap is None else cap
        self.attempts = 0
        """Attempts sent since the last answer or master change."""
        self.last = float("-inf")
        """``now`` of the last attempt."""
        self._rng = random.Random(seed)
        self._stretch = 1.0

    def delay(self) -> float:
        """Seconds after the last attempt before the next one is due."""
        if self.attempts == 0:
            return 0.0
        return min(self.cap, self.base * 2.0 ** (self.attempts - 1)) * self._stretch

    def due(self, now: float) -> bool:
        """Whether an attempt may be sent at ``now``."""
        return now - self.last >= self.delay()

    def sent(self, now: float) -> None:
        """An attempt left at ``now``."""
        self.attempts += 1
        self.last = now
        self._stretch = 1.0 + self._rng.random() / 2.0

    def reset(self) -> None:
        """Answered, or a new master: the next attempt goes at once, then ``base``..."""
        self.attempts = 0
        self.last = float("-inf")


Action = Literal["register", "ignore"]


def on_announcement(
    *,
    changed: bool,
    master_id: str,
    registered: bool,
    our_master_id: str | None,
    announced: str | None,
) -> Action:
    """What a ``MasterChanged`` (address not None) asks of an agent: ``register`` now or
    ``ignore`` it. The leader watch's notice of a new leader registers at once: the
    new leader's actor queues it while it reads its registry, and announces itself
    afterwards only to the agents whose re-registration did not arrive (sent before
    its actor ran: dropped).

    ``changed``: the address differs from the agent's master; ``master_id``: the
    announcing master's id (empty from a leader watch, or from our master asking us
    back after a partition); ``our_master_id``: the master we last registered with
    (None: never, in this life); ``announced``: the master id whose announcement made
    us send the registration we still wait on."""
    if master_id:
        if registered and not changed and master_id == our_master_id:
            return "ignore"  # the master we are registered with
        if not registered and announced == master_id:
            return "ignore"  # sent on its announcement already: the backoff resends it
        return "register"
    if not changed and not registered and announced is not None:
        return "ignore"  # the watch caught up with an announcement we answered already
    return "register"


@dataclass(frozen=True, slots=True)
class CopySent:
    """The last whole re-registration an agent sent and not yet saw answered."""

    address: str
    """The master it went to."""
    copy_id: str
    """``ReregisterAgent.copy_id``."""
    digest: int
    """``facts_digest`` of what it carried (in-process ``hash``: never sent)."""


def facts_digest(
    resources: dict[str, Any],
    attributes: dict[str, Any],
    checkpointed: dict[str, Any],
    tasks: Iterable[tuple[str, str, str, bool | None]],
) -> int:
    """What a re-registration says, as the master's ``reregistration_digest`` reads
    it: the agent's resources, attributes, checkpointed resources, and each task's
    (framework id, task id, state, health). A task id names one launch, so its spec
    never changes under it."""
    return hash((repr(resources), repr(attributes), repr(checkpointed), tuple(tasks)))


def repeat_of(last: CopySent | None, address: str, digest: int) -> str | None:
    """The copy a resend may name instead of carrying every task again
    (``ReregisterAgentAgain``), or None: send the whole re-registration. Only to the
    master the copy went to, and only when nothing it carried has changed since (a
    master that never got it answers ``ReregisterFull``)."""
    if last is not None and last.address == address and last.digest == digest:
        return last.copy_id
    return None
