"""``timestamp`` (Marathon's ISO-8601 event/task times) with its per-second text cached
gives exactly what ``datetime.fromtimestamp(now, UTC)`` formatted gives, rounding to
microseconds (half to even, carrying into the next second) included."""

from __future__ import annotations

import math
import random

from actors.marathon._events import _formatted, timestamp


def test_same_text_as_datetime_on_random_and_edge_times() -> None:
    rng = random.Random(29)
    times = [rng.uniform(0, 4e9) for _ in range(20000)]
    seconds = [rng.randrange(0, 4_000_000_000) for _ in range(2000)]
    fractions = (0.0, 0.5, 0.0000005, 0.0000015, 0.0009995, 0.9995, 0.9999995, 0.99999949)
    times += [s + f for s in seconds for f in fractions]
    times += [math.nextafter(float(s), 0.0) for s in seconds]  # just below a second
    times += [1_765_000_000.0 + i / 1000 for i in range(5000)]  # runs of one second
    times += [1_765_000_000.0 + i * 1e-7 for i in range(5000)]
    for now in times:
        assert timestamp(now) == _formatted(now), repr(now)


def test_known_texts() -> None:
    assert timestamp(0.0) == "1970-01-01T00:00:00.000Z"
    assert timestamp(1_765_000_000.25) == "2025-12-06T05:46:40.250Z"
    assert timestamp(1_765_000_000.9999996) == "2025-12-06T05:46:41.000Z"  # carried
    assert timestamp(-1.5) == _formatted(-1.5)  # outside the fast path: datetime's text
