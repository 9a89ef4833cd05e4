"""`non_finite`'s fast path (`_all_finite` first, pointers only for a bad record) gives
the answer of the pointer-building walk it replaced, on random JSON-like records."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from actors.marathon._quarantine import non_finite


def _reference(value: Any, where: str = "") -> str | None:
    """The walk before the fast path (copied as it was)."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path or "/"
        if isinstance(item, Mapping):
            stack.extend((v, f"{path}/{k}") for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{path}/{i}") for i, v in enumerate(item))
    return None


class _Float(float):
    """A float subclass (the walk uses isinstance, not the exact type)."""


_LEAVES: list[Any] = [
    0,
    1,
    -7,
    True,
    False,
    None,
    "x",
    "",
    2.5,
    -0.0,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
    _Float(3.0),
    _Float(math.nan),
]


def _record(rng: random.Random, depth: int) -> Any:
    kind = rng.random()
    if depth <= 0 or kind < 0.4:
        leaf = rng.choice(_LEAVES)
        # most records are finite, as stored instance records are
        return leaf if rng.random() < 0.08 or not isinstance(leaf, float) else 1.5
    if kind < 0.7:
        return {f"k{i}": _record(rng, depth - 1) for i in range(rng.randint(0, 5))}
    items = [_record(rng, depth - 1) for _ in range(rng.randint(0, 5))]
    return tuple(items) if rng.random() < 0.2 else items


def test_fast_path_names_the_same_pointer_as_the_reference_walk() -> None:
    rng = random.Random(29)
    bad = 0
    for _ in range(5000):
        rec = _record(rng, rng.randint(0, 6))
        want = _reference(rec, "/r")
        assert non_finite(rec, "/r") == want, rec
        bad += want is not None
    assert 200 < bad < 4800  # both kinds of records were checked


def test_an_instance_record_shape() -> None:
    doc = {
        "taskId": "app.1",
        "appId": "/app",
        "configVersion": "v",
        "version": "v",
        "agentId": "a",
        "host": "h",
        "ports": [31000, 31001],
        "stagedAt": 1.5,
        "startedAt": 2.0,
        "state": "TASK_RUNNING",
        "localVolumes": [{"size": 1.0}],
    }
    assert non_finite(doc) is None
    doc["localVolumes"] = [{"size": math.nan}]
    assert non_finite(doc) == "/localVolumes/0/size" == _reference(doc)
