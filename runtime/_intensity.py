"""Restart intensity, exactly as OTP's `supervisor:add_restart/1`.

Pure: the restart history and the current time go in, the verdict and the new
history come out, so the rule can be tested (and property-tested) without actors.
"""

from __future__ import annotations

__all__ = ["add_restart"]


def add_restart(
    history: tuple[float, ...], now: float, intensity: int, period: float
) -> tuple[bool, tuple[float, ...]]:
    """Record a restart at `now`; return (allowed, new_history).

    As in supervisor.erl, restarts older than `now - period` are forgotten, the new
    one is counted, and the restart is allowed while the count stays <= intensity.
    So intensity=3, period=5 allows three restarts in any 5 s window and refuses the
    fourth. `history` is newest-first, like the Erlang list.
    """
    threshold = now - period
    kept = tuple(t for t in history if t >= threshold)
    new_history = (now, *kept)
    return len(new_history) <= intensity, new_history
