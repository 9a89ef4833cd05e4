"""Metronome's timestamp format, and the two spellings of "a moment" we accept.

Metronome renders instants as ``2016-07-15T13:02:59.735+0000`` (Joda/java.time pattern
``yyyy-MM-dd'T'HH:mm:ss.SSSZ``), always in UTC here. Pure code takes epoch seconds or
aware datetimes; naive datetimes are refused because a wall-clock time without a zone
is exactly the bug cron-in-time-zones code must not have.
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(epoch: float) -> str:
    """Metronome's rendering of an instant: UTC, milliseconds, ``+0000`` offset."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def format_optional(epoch: float | None) -> str | None:
    """`format_time`, passing None through (JSON null)."""
    return None if epoch is None else format_time(epoch)


def to_epoch(moment: datetime | float) -> float:
    """Epoch seconds of an aware datetime or of a number (returned as float)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment.isoformat()} has no time zone")
        return moment.timestamp()
    return float(moment)
