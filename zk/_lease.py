"""The leader's "may I still act?" timer: a lease on the ZooKeeper session. Pure.

Why a lease and not just kazoo's SUSPENDED: the client notices a dead connection only
after its read timeout (about 2/3 of the session timeout without an answer), and a
loaded process notices later still; meanwhile the servers expire the session after the
whole session timeout and let another master win. Two leaders would act at once.

The rule: the quorum resets a session's timer whenever it hears from the client, so a
heartbeat SENT at ``t`` and answered through the quorum's leader (a ``sync``; a read may
be answered by a follower cut off from the quorum, which proves nothing) shows the
session cannot expire before about ``t + session_timeout`` (less the follower's report
delay, half a ZooKeeper tick, well inside the margin). The leader acts only until
``t + session_timeout * (1 - margin)`` of its last answered heartbeat, whatever the
connection state says (a follower cut off from the quorum keeps answering pings for a
while), and stops at once on SUSPENDED. It abdicates (gives its place in line up,
rejoins at the back) when the session is LOST, or when it has been SUSPENDED for a
whole session timeout: by then the servers have expired the session and may have a new
leader (Marathon #2509: a leader that never abdicated on connection loss; #1043, #4000:
no leader after ZooKeeper trouble).

```
 answered heartbeat sent at t          lease end                server may expire
 |---------------- act ----------------|----- stopped (margin) ---|  t + session_timeout
 SUSPENDED at s: stop at once;  s + session_timeout: abdicate;  LOST: abdicate
```
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Acting(enum.Enum):
    """What a leader may do now."""

    ACT = "act"
    """Lead: launch, kill, write."""
    STOP = "stop"
    """Stop launching, killing and writing; keep the place in line (the session may
    still be alive and the connection come back)."""
    ABDICATE = "abdicate"
    """The session is (or must be assumed) expired: give leadership up for good."""


DEFAULT_MARGIN = 0.25
"""Part of the session timeout kept as a safety margin (scheduling delays, the time a
stop takes to reach the actors)."""


@dataclass
class LeaderLease:
    """Times are the caller's monotonic clock (``now`` passed in: testable)."""

    session_timeout: float
    margin: float = DEFAULT_MARGIN
    renewed_at: float | None = None
    """Send time of the latest answered heartbeat."""
    suspended_at: float | None = None
    """When the connection was seen SUSPENDED (None while connected)."""
    lost: bool = False
    """The session was reported LOST (until a new one is renewed)."""

    def __post_init__(self) -> None:
        if not self.session_timeout > 0:
            raise ValueError(f"session_timeout must be > 0, got {self.session_timeout!r}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {self.margin!r}")

    @property
    def heartbeat_interval(self) -> float:
        """How often to send a heartbeat: several per lease, so one slow answer does
        not end it."""
        return self.session_timeout / 6

    def renew(self, sent_at: float) -> None:
        """A heartbeat sent at ``sent_at`` was answered."""
        if self.renewed_at is None or sent_at > self.renewed_at:
            self.renewed_at = sent_at
        self.suspended_at = None
        self.lost = False

    def suspended(self, now: float) -> None:
        if self.suspended_at is None:
            self.suspended_at = now

    def session_lost(self) -> None:
        self.lost = True
        self.renewed_at = None

    def expires_at(self) -> float | None:
        """When acting must stop without a newer answered heartbeat (None: not held)."""
        if self.renewed_at is None:
            return None
        return self.renewed_at + self.session_timeout * (1 - self.margin)

    def decide(self, now: float) -> Acting:
        if self.lost:
            return Acting.ABDICATE
        if self.suspended_at is not None:
            expired = self.renewed_at is not None and now >= self.renewed_at + self.session_timeout
            if expired or now - self.suspended_at >= self.session_timeout:
                return Acting.ABDICATE
            return Acting.STOP
        end = self.expires_at()
        if end is None or now >= end:
            return Acting.STOP
        return Acting.ACT

    def may_act(self, now: float) -> bool:
        return self.decide(now) is Acting.ACT
