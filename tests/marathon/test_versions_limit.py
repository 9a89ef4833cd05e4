"""Marathon keeps an app's newest versions that fit one stored document (issue 30).

Marathon keeps 50 versions per app (``max_versions``); 50 versions of a 1 MiB app would
be 50 MiB in one ZooKeeper document and several times that in the leader's memory, so
the oldest go first until the rest fit the state store's 8 MiB document limit.
"""

from __future__ import annotations

from typing import Any

from actors.marathon._store import VERSIONS_KEPT, VERSIONS_MAX_BYTES, keep_versions
from zk import DEFAULT_MAX_BYTES, encoded_size


def version(n: int, size: int) -> dict[str, Any]:
    return {"id": "/web", "version": f"v{n:03d}", "cmd": "x" * size}


def test_small_apps_keep_their_last_50_versions() -> None:
    history = [version(n, 100) for n in range(80)]
    kept = keep_versions(history)
    assert len(kept) == VERSIONS_KEPT == 50
    assert kept[0]["version"] == "v030" and kept[-1]["version"] == "v079"
    assert len(history) == 80  # the caller's list is left alone


def test_large_apps_keep_the_newest_versions_that_fit_one_document() -> None:
    history = [version(n, 1_000_000) for n in range(20)]
    kept = keep_versions(history)
    assert VERSIONS_MAX_BYTES == DEFAULT_MAX_BYTES
    assert encoded_size(kept) <= VERSIONS_MAX_BYTES
    assert encoded_size([version(0, 1_000_000), *kept]) > VERSIONS_MAX_BYTES  # as many as fit
    assert kept[-1]["version"] == "v019" and len(kept) == 8


def test_the_limit_is_exact_in_stored_bytes() -> None:
    history = [version(n, 10) for n in range(5)]
    for limit in range(encoded_size(history) + 2):
        kept = keep_versions(history, limit)
        assert kept[-1] == history[-1]
        assert encoded_size(kept) <= limit or len(kept) == 1
        if len(kept) < len(history):
            assert encoded_size(history[-len(kept) - 1 :]) > limit


def test_the_newest_version_is_kept_even_alone_over_the_limit() -> None:
    """The store refuses it then, naming the size; dropping it would lose the change."""
    assert keep_versions([version(0, 10), version(1, 500)], 100) == [version(1, 500)]
