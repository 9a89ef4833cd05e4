"""Marathon's event stream (``GET /v2/events``): the actor publishes, HTTP clients listen.

The bus is the one object shared by the Marathon actor's thread and the gateway's
event loop. ``publish`` never blocks the actor: each subscriber is a callback that
hands the event to its own loop (``call_soon_threadsafe``); a subscriber whose queue
is full loses events rather than slowing Marathon down (its stream says so).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("actors.marathon")

EVENT_TYPES = (
    "api_post_event",
    "status_update_event",
    "instance_changed_event",
    "health_status_changed_event",
    "failed_health_check_event",
    "unhealthy_instance_kill_event",
    "deployment_info",
    "deployment_success",
    "deployment_failed",
    "deployment_step_success",
    "deployment_step_failure",
    "group_change_success",
    "app_terminated_event",
    "framework_message_event",
    "scheduler_registered_event",
    "scheduler_reregistered_event",
    "scheduler_disconnected_event",
    "remove_health_check_event",
    "add_health_check_event",
    "event_stream_attached",
    "event_stream_detached",
)
"""Every eventType this Marathon produces (a subset of Marathon's)."""


_SECONDS: dict[int, str] = {}
"""Epoch second -> its ``%Y-%m-%dT%H:%M:%S.`` text (a few kept: timestamps come in
runs of nearby seconds)."""


def timestamp(now: float) -> str:
    """Marathon's event timestamp for epoch seconds ``now`` (a clock's ``wall()``):
    ISO-8601 UTC with milliseconds. The same text as ``datetime.fromtimestamp(now,
    UTC)`` formatted (its rounding to microseconds, half to even, a carry into the next
    second included), with the second's text cached: every task's JSON shows two of
    them, and a datetime + strftime per timestamp was 0.9% of a launching leader's CPU."""
    if not 0.0 <= now < 2.0**52:  # exactness of the split below (and datetime's range)
        return _formatted(now)
    second = math.floor(now)
    micros = round((now - second) * 1e6)  # as datetime: exact split, half to even
    if micros >= 1_000_000:
        second += 1
        micros -= 1_000_000
    text = _SECONDS.get(second)
    if text is None:
        if len(_SECONDS) >= 64:
            _SECONDS.clear()
        text = _SECONDS[second] = datetime.fromtimestamp(second, tz=UTC).strftime(
            "%Y-%m-%dT%H:%M:%S."
        )
    return f"{text}{micros // 1000:03d}Z"


def _formatted(now: float) -> str:
    """``timestamp`` the plain way (and the reference its tests compare with)."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


Subscriber = Callable[[dict[str, Any] | None], None]
"""Gets each event; ``None`` means "the stream ends" (leadership lost)."""


class EventBus:
    """Fan-out of event dicts (each with ``eventType`` and ``timestamp``)."""

    def __init__(self, wall: Callable[[], float] | None = None) -> None:
        if wall is None:
            from runtime import SystemClock  # lazily: the pure modules import timestamp

            wall = SystemClock().wall
        self.wall = wall
        """Seconds since the epoch for each event's ``timestamp``; the Marathon actor
        sets its own clock's ``wall`` here, so tests driving a ManualClock see it."""
        self._lock = threading.Lock()
        self._subscribers: dict[int, Subscriber] = {}
        self._next = 0
        self.published = 0

    def subscribe(self, callback: Subscriber) -> int:
        with self._lock:
            self._next += 1
            self._subscribers[self._next] = callback
            return self._next

    def unsubscribe(self, token: int) -> None:
        with self._lock:
            self._subscribers.pop(token, None)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, event_type: str, **fields: Any) -> None:
        if not self._subscribers:
            self.published += 1
            return
        event = {"eventType": event_type, "timestamp": timestamp(self.wall()), **fields}
        with self._lock:
            subscribers = list(self._subscribers.values())
        self.published += 1
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a broken listener must never hurt the publisher
                log.exception("event subscriber failed on %s", event_type)

    def close_all(self) -> None:
        """End every stream (this master stopped leading; clients reconnect and are
        redirected to the new leader)."""
        with self._lock:
            subscribers = list(self._subscribers.values())
            self._subscribers.clear()
        for callback in subscribers:
            try:
                callback(None)
            except Exception:
                log.exception("event subscriber failed on close")
