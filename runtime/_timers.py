"""Per-actor timers: messages an actor schedules to itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime._messages import _TimerFire

if TYPE_CHECKING:
    from runtime._actor import Actor
    from runtime._clock import Cancellable

__all__ = ["TimerHandle"]


class TimerHandle:
    """A scheduled one-shot or periodic self-message.

    Cancelling is final: a message already queued when `cancel()` runs is dropped
    when it reaches the front of the inbox, so after `cancel()` returns in the
    actor's own thread the handler never sees that timer again (stricter than
    Erlang's cancel_timer, where a queued message still arrives).

    A periodic timer has at most one message queued: a period that ends while the
    last one still waits in a busy actor's inbox sends nothing (the actor handles one
    tick when it gets there, not one per period it spent busy).
    """

    __slots__ = ("_actor", "_entry", "_message", "_period", "_when", "active", "queued")

    def __init__(self, actor: Actor, message: Any, when: float, period: float | None) -> None:
        self._actor = actor
        self._message = message
        self._when = when
        self._period = period
        self._entry: Cancellable | None = None
        self.active = True
        self.queued = False
        """A periodic fire waits in the inbox (the actor loop clears it as it takes it)."""

    @property
    def periodic(self) -> bool:
        return self._period is not None

    def cancel(self) -> None:
        self.active = False
        entry = self._entry
        if entry is not None:
            entry.cancel()
        self._actor._rt_timers.discard(self)

    def _schedule(self) -> None:
        entry = self._actor.clock.call_at(self._when, self._fire)
        self._entry = entry
        if not self.active:  # cancelled while we were rescheduling
            entry.cancel()

    def _fire(self) -> None:
        if not self.active:
            return
        if self._period is None:
            self._actor._rt_post(_TimerFire(self, self._message))
            return
        if not self.queued:
            self.queued = True
            self._actor._rt_post(_TimerFire(self, self._message))
        self._when += self._period
        self._schedule()
