"""What the master core asks the world to do, and the one event the actor feeds back.

``MasterCore.handle``/``tick`` return these IN ORDER and the master actor carries them
out in that order. The ordering is the contract: a ``Persist`` always comes before the
``Send`` that acknowledges what it records, so a master that dies between the two never
acknowledged anything it could lose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Send:
    """Deliver ``message`` to the actor at transport address ``to`` (fire and forget)."""

    to: str
    message: Any


@dataclass(frozen=True, slots=True)
class Persist:
    """Write ``value`` as the durable record ``kind``/``key`` before any later effect."""

    kind: str
    key: str
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Unpersist:
    """Delete the durable record ``kind``/``key``."""

    kind: str
    key: str


@dataclass(frozen=True, slots=True)
class Watch:
    """Start watching the actor at ``address``; its loss comes back as ``PeerDown``."""

    address: str


Effect = Send | Persist | Unpersist | Watch


@dataclass(frozen=True, slots=True)
class PeerDown:
    """Event fed back by the actor when a watched address stops answering."""

    address: str
