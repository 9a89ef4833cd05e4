"""A new leader's Metronome load from a standby's warm copy (``zk.StoreMirror``)
equals its load from ZooKeeper, jobs written while the copy ran and just before the
hand-over included, without reading the jobs one by one; a copy whose session is gone
falls back to ZooKeeper. Real ZooKeeper."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kazoo.client import KazooClient

from actors.metronome._actor import _checked_entry, prepare_entry
from actors.metronome._store import MIRRORED, MetronomeStore, job_key
from actors.metronome._view import JobEntry
from runtime.testing import wait_for
from zk import StateStore, StoreMirror

from .test_store_load import CountingClient

pytestmark = pytest.mark.zk


def _job(i: int, n: int = 0) -> dict[str, object]:
    return {"job": {"id": f"job-{i:03d}"}, "runs": [], "n": n}


def test_a_warm_load_equals_the_cold_one_and_reads_only_what_changed(
    zk_connect: Callable[..., KazooClient],
) -> None:
    state = StateStore(zk_connect(), "/metronome")
    MetronomeStore(state.client).save_framework_id("fw-1")
    for i in range(60):
        state.put(job_key(f"job-{i:03d}"), _job(i))
    state.client.create(state.path(job_key("garbage")), b"\x00 not a document")
    mirror = StoreMirror(zk_connect(), "/metronome", MIRRORED, interval=0.05, per_round=7)
    mirror.start()
    try:
        wait_for(lambda: mirror.ready, timeout=20)
        for i in range(0, 60, 5):  # while the copy keeps up, paced
            state.put(job_key(f"job-{i:03d}"), _job(i, 1))
        seen = mirror.rounds
        wait_for(lambda: mirror.rounds >= seen + 3, timeout=20)
        state.put(job_key("job-001"), _job(1, 2))  # changed at the hand-over
        state.put(job_key("job-new"), {"job": {"id": "job-new"}})
        state.delete(job_key("job-002"))
    finally:
        mirror.stop()
    counting = CountingClient(zk_connect())
    warm = MetronomeStore(counting, mirror=mirror)
    cold = MetronomeStore(zk_connect())

    warm_docs, warm_bad = warm.load_jobs_checked()
    warm_fid = warm.framework_id()
    cold_docs, cold_bad = cold.load_jobs_checked()

    assert warm_docs == cold_docs and warm_bad == cold_bad
    assert warm_fid == cold.framework_id() == "fw-1"
    assert warm_docs["job-001"][0]["n"] == 2 and "job-002" not in warm_docs
    assert list(warm_bad) == ["garbage"]
    assert warm.load_note.startswith("warm:")
    # Only the unreadable document was read alone, through the store (not the copy).
    assert [p.rsplit("/", 1)[1] for p in counting.gets if "/jobs/" in p] == ["garbage"]
    assert warm.mirror is None  # used once: a later load reads ZooKeeper
    assert warm.load_jobs_checked()[0] == cold_docs and warm.load_note == "cold"


def test_a_copy_without_a_session_falls_back_to_zookeeper(
    zk_connect: Callable[..., KazooClient],
) -> None:
    state = StateStore(zk_connect(), "/metronome")
    state.put(job_key("only"), {"job": {"id": "only"}})
    client = zk_connect()
    mirror = StoreMirror(client, "/metronome", MIRRORED, interval=0.05).start()
    wait_for(lambda: mirror.ready, timeout=20)
    client.stop()
    warm = MetronomeStore(zk_connect(), mirror=mirror)
    docs, bad = warm.load_jobs_checked()
    assert list(docs) == ["only"] and not bad
    assert warm.load_note == "cold: the warm copy failed"


def _valid(job_id: str, cmd: str = "true") -> dict[str, Any]:
    spec = {"id": job_id, "run": {"cmd": cmd, "cpus": 0.1, "mem": 32, "disk": 0}}
    return JobEntry.from_doc({"job": spec, "cursors": {}}).to_doc()


def test_entries_checked_ahead_are_handed_over_for_the_very_documents_loaded(
    zk_connect: Callable[..., KazooClient],
) -> None:
    state = StateStore(zk_connect(), "/metronome")
    for i in range(20):
        state.put(job_key(f"ok-{i:02d}"), _valid(f"ok-{i:02d}"))
    poison = _valid("poison")
    poison["job"]["id"] = "someone-else"  # stored under another id: fails the checks
    state.put(job_key("poison"), poison)
    mirror = StoreMirror(
        zk_connect(), "/metronome", MIRRORED, interval=0.05, prepare=prepare_entry
    ).start()
    try:
        wait_for(lambda: mirror.ready and mirror.decoded >= 21, timeout=20)
        state.put(job_key("ok-03"), _valid("ok-03", cmd="changed"))  # after it was built
    finally:
        mirror.stop()
    store = MetronomeStore(zk_connect(), mirror=mirror)
    docs, _ = store.load_jobs_checked()

    assert sorted(store.prepared) == sorted(f"ok-{i:02d}" for i in range(20) if i != 3)
    for job_id, entry in store.prepared.items():
        assert entry == _checked_entry(job_id, docs[job_id][0], 1.7e9)
    assert docs["ok-03"][0]["job"]["run"]["cmd"] == "changed"  # checked by the load itself
    assert "poison" in docs and "poison" not in store.prepared
    assert prepare_entry("framework", {"frameworkId": "x"}) is None
