"""An accepted task's resources parsed through the text cache (all-scalar documents)
equal ``Resources.from_dict`` exactly, and a bad document fails with the same error."""

from __future__ import annotations

import random
from typing import Any

from actors.master._offers import _task_resources
from actors.resources import Resources


def _reference(doc: Any) -> tuple[str, Any]:
    try:
        return "ok", Resources.from_dict(doc)
    except Exception as exc:
        return type(exc).__name__, str(exc)


def _cached(doc: Any) -> tuple[str, Any]:
    try:
        return "ok", _task_resources(doc)
    except Exception as exc:
        return type(exc).__name__, str(exc)


def test_random_documents_parse_as_from_dict() -> None:
    rng = random.Random(29)
    values: list[Any] = [0.05, 1, 0, 32, 2.5, -1, float("nan"), float("inf"), True, "x", None]
    names = ["cpus", "mem", "disk", "gpus", "cpus(web)", "mem(*)", "", "bad name"]
    for _ in range(3000):
        doc: Any = {rng.choice(names): rng.choice(values) for _ in range(rng.randrange(4))}
        if rng.random() < 0.2:
            doc["ports"] = [[31000 + rng.randrange(50), 31050]]
        if rng.random() < 0.03:
            doc = rng.choice([[], "cpus:1", None, 3])
        for _ in range(2):  # the second time from the cache
            got, want = _cached(doc), _reference(doc)
            assert got == want, doc
            if got[0] == "ok":
                assert got[1].to_dict() == want[1].to_dict()
