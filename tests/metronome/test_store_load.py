"""A new leader's read of Metronome's job documents (real ZooKeeper): pipelined, yet
every document comes back with its version and layout, a chunked one included, and one
that cannot be read is named with its reason, not loaded."""

from __future__ import annotations

from typing import Any

import pytest
from kazoo.client import KazooClient

from actors.metronome._store import JOBS, MetronomeStore, job_key
from zk import StateStore

pytestmark = pytest.mark.zk


class CountingClient:
    """The real client, counting the one-by-one reads (``get``) it is asked for."""

    def __init__(self, client: KazooClient) -> None:
        self.client = client
        self.gets: list[str] = []

    def get(self, path: str, *args: Any, **kwargs: Any) -> Any:
        self.gets.append(path)
        return self.client.get(path, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_load_reads_every_job_with_its_version_and_names_the_unreadable(
    zk_client: KazooClient,
) -> None:
    counting = CountingClient(zk_client)
    store = MetronomeStore(counting)
    state = StateStore(zk_client, "/metronome")
    for i in range(120):  # more than one pipeline window
        state.put(job_key(f"job-{i:03d}"), {"job": {"id": f"job-{i:03d}"}, "n": i})
    state.put(job_key("job-007"), {"job": {"id": "job-007"}, "n": 7, "again": True})
    big = {"job": {"id": "big"}, "blob": "x" * 3_000_000}  # over one znode: chunked
    state.put(job_key("big"), big)
    zk_client.create(state.path(job_key("garbage")), b"\x00\x01 not a document")

    docs, unreadable = store.load_jobs_checked()

    assert sorted(docs) == sorted([f"job-{i:03d}" for i in range(120)] + ["big"])
    assert docs["job-042"] == ({"job": {"id": "job-042"}, "n": 42}, 0, False)
    value, version, chunked = docs["job-007"]
    assert value["again"] is True and version == 1 and not chunked
    value, _, chunked = docs["big"]
    assert chunked and value == big
    assert list(unreadable) == ["garbage"]
    assert unreadable["garbage"].startswith("unreadable:")
    # Pipelined: only the chunked document and the unreadable one were read alone.
    alone = {path.rsplit("/", 1)[1] for path in counting.gets if "/jobs/" in path}
    assert alone == {"big", "garbage"}, sorted(alone)[:5]
    assert set(state.list(JOBS)) == set(docs) | {"garbage"}  # nothing was touched
