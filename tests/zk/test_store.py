"""State store against the real ZooKeeper: CAS, large values, watches, corrupt data.

Marathon lost apps to znodes above 1 MB (Marathon #1043, #2509): here a large value is
chunked atomically or refused, never half-written.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from runtime.testing import wait_for
from zk import (
    DEFAULT_MAX_BYTES,
    DEFAULT_NODE_LIMIT,
    JUTE_MAXBUFFER,
    CorruptData,
    Delete,
    Document,
    DocumentExists,
    Put,
    StateStore,
    ValueTooLarge,
    VersionConflict,
    ZooKeeperServer,
    close_quietly,
    connect,
    encoded_size,
)
from zk._store import BATCH_BYTES

pytestmark = pytest.mark.zk


@pytest.fixture
def store(zk_client: KazooClient) -> StateStore:
    return StateStore(zk_client)


def test_create_get_put_delete_round_trip(store: StateStore) -> None:
    doc = store.create("apps/web", {"id": "/web", "instances": 2})
    assert doc.version == 0
    got = store.get("apps/web")
    assert got is not None and got.value == {"id": "/web", "instances": 2} and got.version == 0
    assert store.put("apps/web", {"id": "/web", "instances": 3}).version == 1
    assert store.list("apps") == ["web"]
    assert set(store.get_all("apps")) == {"apps/web"}
    assert store.delete("apps/web") is True
    assert store.get("apps/web") is None
    assert store.delete("apps/web") is False


def test_create_refuses_an_existing_document(store: StateStore) -> None:
    store.create("k", 1)
    with pytest.raises(DocumentExists, match="/state/docs/k"):
        store.create("k", 2)


def test_compare_and_set_loses_to_a_concurrent_write(store: StateStore) -> None:
    first = store.create("apps/db", {"v": 1})
    store.put("apps/db", {"v": 2}, version=first.version)  # writer A wins
    with pytest.raises(VersionConflict) as info:  # writer B read the same version
        store.put("apps/db", {"v": 3}, version=first.version)
    assert info.value.expected == 0 and info.value.actual == 1
    assert "/state/docs/apps/db" in str(info.value)
    current = store.get("apps/db")
    assert current is not None and current.value == {"v": 2}
    with pytest.raises(VersionConflict):
        store.delete("apps/db", version=0)


def test_update_from_many_threads_loses_no_increment(store: StateStore) -> None:
    store.create("counter", 0)

    def bump() -> None:
        for _ in range(10):
            store.update("counter", lambda v: v + 1)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    doc = store.get("counter")
    assert doc is not None and doc.value == 40 and doc.version == 40


def big(n_bytes: int, tag: str) -> str:
    return (tag * (n_bytes // len(tag) + 1))[:n_bytes]


def test_a_value_above_one_znode_is_chunked_and_read_back_whole(store: StateStore) -> None:
    value = {"blob": big(2_500_000, "abc")}
    doc = store.create("apps/huge", value)
    assert doc.chunked
    got = store.get("apps/huge")
    assert got is not None and got.value == value and got.chunked
    # Replace with a small value: the old chunks go in the same transaction.
    store.put("apps/huge", {"small": True}, version=got.version)
    assert store.client.get_children(store.chunks) == []
    assert store.require("apps/huge").value == {"small": True}


def test_readers_never_see_a_mix_of_two_large_values(store: StateStore) -> None:
    a, b = {"blob": big(1_800_000, "A")}, {"blob": big(1_800_000, "B")}
    store.create("mix", a)
    stop = threading.Event()
    seen: list[Any] = []
    errors: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                doc = store.get("mix")
                assert doc is not None
                seen.append(doc.value["blob"][:1] + doc.value["blob"][-1:])
            except BaseException as exc:
                errors.append(exc)
                return

    t = threading.Thread(target=reader)
    t.start()
    for i in range(6):
        store.put("mix", b if i % 2 == 0 else a)
    stop.set()
    t.join()
    assert not errors
    assert seen and set(seen) <= {"AA", "BB"}
    assert store.collect_garbage(older_than=0.0) == 0  # no chunk left unreferenced


def test_without_chunking_a_large_value_is_refused_and_nothing_is_written(
    zk_client: KazooClient,
) -> None:
    store = StateStore(zk_client, root="/strict", chunking=False)
    store.create("app", {"small": 1})
    with pytest.raises(ValueTooLarge, match=r"/strict/docs/app is \d+ bytes"):
        store.put("app", {"blob": big(1_200_000, "x")})
    assert store.require("app").value == {"small": 1}
    assert zk_client.get_children(store.chunks) == []


def test_a_value_above_max_bytes_is_refused(zk_client: KazooClient) -> None:
    store = StateStore(zk_client, root="/capped", max_bytes=1000)
    with pytest.raises(ValueTooLarge, match="above the limit of 1000 bytes"):
        store.create("app", big(2000, "y"))
    assert store.get("app") is None


def test_watch_reports_every_settled_change_and_deletion(store: StateStore) -> None:
    seen: list[Document | None] = []
    store.watch("apps/w", seen.append)
    wait_for(lambda: seen == [None], what="initial None")
    store.create("apps/w", {"n": 1})
    wait_for(lambda: seen and seen[-1] is not None and seen[-1].value == {"n": 1}, what="create")
    store.put("apps/w", {"blob": big(1_100_000, "z")})
    wait_for(lambda: seen[-1] is not None and seen[-1].chunked, what="chunked update")
    store.delete("apps/w")
    wait_for(lambda: seen[-1] is None, what="delete")


def test_watch_children(store: StateStore) -> None:
    names: list[list[str]] = []
    store.watch_children("apps", names.append)
    store.create("apps/a", 1)
    store.create("apps/b", 2)
    wait_for(lambda: names and names[-1] == ["a", "b"], what="both children")


def test_corrupt_or_foreign_documents_are_named_and_skipped(
    store: StateStore, zk_client: KazooClient, caplog: pytest.LogCaptureFixture
) -> None:
    store.create("apps/good", {"ok": True})
    zk_client.create(store.docs + "/apps/garbage", b"\x00\x01 not ours")
    zk_client.create(store.docs + "/apps/badjson", b'{"pydcos":"pydcos.doc/1"}\n{nope')
    with pytest.raises(CorruptData, match="/state/docs/apps/garbage"):
        store.get("apps/garbage")
    with pytest.raises(CorruptData, match="/state/docs/apps/badjson: not UTF-8 JSON"):
        store.get("apps/badjson")
    assert list(store.get_all("apps")) == ["apps/good"]
    assert "/state/docs/apps/garbage" in caplog.text
    # A plain write repairs it; a CAS-guarded update refuses to build on garbage.
    store.put("apps/garbage", {"repaired": True})
    assert store.require("apps/garbage").value == {"repaired": True}


def test_a_missing_chunk_is_reported_as_corrupt(store: StateStore, zk_client: KazooClient) -> None:
    store.create("c", {"blob": big(1_500_000, "q")})
    victim = sorted(zk_client.get_children(store.chunks))[0]
    zk_client.delete(f"{store.chunks}/{victim}")
    with pytest.raises(CorruptData, match=r"/state/docs/c: chunk .* is missing"):
        store.get("c")
    assert store.get_all() == {}
    assert store.delete("c") is True


def test_orphan_chunks_of_a_dead_writer_are_collected(
    store: StateStore, zk_client: KazooClient
) -> None:
    zk_client.create(f"{store.chunks}/deadbeef-00000", b"half of something")
    store.create("live", {"blob": big(1_200_000, "L")})
    assert store.collect_garbage(older_than=0.0) == 1
    assert store.require("live").value["blob"][:1] == "L"


def test_write_many_batches_cas_writes_and_reads_back(store: StateStore) -> None:

    store.put("keep", {"n": 0})
    store.put("gone", {"n": 0})
    big = {"blob": "x" * 1_500_000}
    ops: list[Any] = [Put(f"jobs/j{i}", {"i": i}, None) for i in range(300)]
    ops += [Put("keep", {"n": 1}, 0), Delete("gone", 0), Put("big", big, None)]
    versions = store.write_many(ops)
    assert versions["jobs/j0"] == 0 and versions["keep"] == 1 and versions["gone"] is None
    assert store.require("jobs/j299").value == {"i": 299}
    assert store.require("keep").value == {"n": 1}
    assert store.get("gone") is None
    assert store.require("big").chunked and store.require("big").value == big


def test_write_many_stops_at_a_version_conflict_and_says_what_it_did(
    store: StateStore,
) -> None:
    from zk import BatchFailed

    store.put("a", {"v": 1})
    store.put("a", {"v": 2})  # now at version 1
    with pytest.raises(BatchFailed) as info:
        store.write_many([Put("a", {"v": 3}, 0)])
    assert info.value.conflict and info.value.done == {}
    assert store.require("a").value == {"v": 2}  # nothing overwritten


def test_write_many_ensures_a_parent_once_and_again_if_it_went(
    store: StateStore, zk_client: KazooClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creates under a parent ensured before skip ``ensure_path`` (a round trip per
    batch: Metronome's new jobs); a parent deleted since is made again and the batch
    written whole (its multi failed atomically)."""
    ensured: list[str] = []
    real = zk_client.ensure_path

    def counting(path: str, *args: Any, **kw: Any) -> Any:
        ensured.append(path)
        return real(path, *args, **kw)

    monkeypatch.setattr(zk_client, "ensure_path", counting)
    store.write_many([Put("jobs/a", {"n": 1}, None)])
    store.write_many([Put("jobs/b", {"n": 2}, None), Put("jobs/a", {"n": 3}, 0)])
    assert ensured == [f"{store.docs}/jobs"]
    zk_client.delete(f"{store.docs}/jobs", recursive=True)
    assert store.write_many([Put("jobs/c", {"n": 4}, None)]) == {"jobs/c": 0}
    assert ensured == [f"{store.docs}/jobs"] * 2
    assert store.require("jobs/c").value == {"n": 4} and store.get("jobs/a") is None


def test_write_many_sends_multis_of_puts_together_and_reports_each_that_landed(
    store: StateStore,
) -> None:
    """Puts spanning several multis go at once (one wait); a conflict in one multi
    leaves it unwritten while the others land, and ``done`` lists every one that did."""
    from zk import BatchFailed

    blob = "b" * (BATCH_BYTES // 3)
    for i in range(9):
        store.put(f"shards/s{i}", {"n": 0})
    store.put("shards/s4", {"n": 0})  # version 1: the batch's CAS from 0 fails
    ops: list[Any] = [Put(f"shards/s{i}", {"n": 1, "blob": blob}, 0) for i in range(9)]
    with pytest.raises(BatchFailed) as info:
        store.write_many(ops)
    assert info.value.conflict
    done = info.value.done
    failed = {k for k in (f"shards/s{i}" for i in range(9)) if k not in done}
    assert "shards/s4" in failed and len(failed) < 9  # only s4's multi
    assert len(done) >= 6  # at least the multis before and after s4's
    for i in range(9):
        doc = store.require(f"shards/s{i}")
        assert doc.value["n"] == (0 if f"shards/s{i}" in failed else 1)
        if f"shards/s{i}" not in failed:
            assert doc.version == done[f"shards/s{i}"] == 1
    assert store.require("shards/s4").version == 1


def test_write_many_deletes_only_after_every_put_before_them_landed(
    store: StateStore,
) -> None:
    """A record moved to a new document is deleted from the old one only once the new
    one is written: a failed put leaves the old document in place."""
    from zk import BatchFailed

    blob = "m" * (BATCH_BYTES // 3)
    store.put("moved/old", {"records": ["r"]})
    store.put("moved/new2", {"n": 0})
    store.put("moved/new2", {"n": 0})  # version 1
    ops: list[Any] = [Put(f"moved/new{i}", {"records": ["r"], "blob": blob}, None) for i in (0, 1)]
    ops += [Put("moved/new2", {"records": ["r"], "blob": blob}, 0), Delete("moved/old", 0)]
    with pytest.raises(BatchFailed):
        store.write_many(ops)
    assert store.require("moved/old").value == {"records": ["r"]}
    ok = store.write_many([Put("moved/new2", {"records": ["r"]}, 1), Delete("moved/old", 0)])
    assert ok == {"moved/new2": 2, "moved/old": None} and store.get("moved/old") is None


def test_write_many_in_order_stops_at_the_first_failure(store: StateStore) -> None:
    """``in_order``: a document that must be chunked is written where it stands, and a
    failed multi stops the batch (what comes after it is not written)."""
    from zk import BatchFailed

    store.put("a", {"v": 0})
    store.put("a", {"v": 1})  # version 1: the batch's CAS from 0 fails
    huge = {"blob": "h" * (DEFAULT_NODE_LIMIT * 2)}
    with pytest.raises(BatchFailed) as info:
        store.write_many(
            [Put("a", {"v": 2}, 0), Put("huge", huge, None), Put("after", {"n": 1}, None)],
            in_order=True,
        )
    assert info.value.conflict and info.value.done == {}
    assert store.get("huge") is None and store.get("after") is None
    done = store.write_many(
        [Put("first", {"n": 1}, None), Put("huge", huge, None), Put("after", {"n": 1}, None)],
        in_order=True,
    )
    assert done == {"first": 0, "huge": 0, "after": 0}
    assert store.require("huge").chunked and store.require("huge").value == huge


# -- limits (issue 30: a 7 MB app and one PATCH ran ZooKeeper out of memory) --------------


def test_the_largest_document_is_stored_in_writes_of_at_most_the_node_limit(
    store: StateStore, zk_client: KazooClient
) -> None:
    """ZooKeeper keeps its last 500 transactions in memory: what bounds that memory is
    the size of each write, so no znode the store writes exceeds ``DEFAULT_NODE_LIMIT``."""
    value = big(DEFAULT_MAX_BYTES - 2, "L")  # a JSON string: two quotes around it
    assert encoded_size(value) == DEFAULT_MAX_BYTES
    doc = store.create("largest", value)
    assert doc.chunked and doc.size == DEFAULT_MAX_BYTES
    assert store.require("largest").value == value
    _, stat = zk_client.get(store.path("largest"))  # the header: names the chunks
    assert stat.dataLength < 10_000
    chunks = zk_client.get_children(store.chunks)
    assert len(chunks) >= DEFAULT_MAX_BYTES // DEFAULT_NODE_LIMIT
    for name in chunks:
        _, stat = zk_client.get(f"{store.chunks}/{name}")
        assert stat.dataLength <= DEFAULT_NODE_LIMIT
    assert BATCH_BYTES <= DEFAULT_NODE_LIMIT < JUTE_MAXBUFFER  # a multi is one request too


def test_one_byte_over_the_largest_document_is_refused_before_it_reaches_zookeeper(
    store: StateStore, zk_client: KazooClient
) -> None:
    store.create("app", {"small": 1})
    too_big = big(DEFAULT_MAX_BYTES - 1, "X")
    with pytest.raises(ValueTooLarge) as info:
        store.put("app", too_big)
    assert (info.value.size, info.value.limit) == (DEFAULT_MAX_BYTES + 1, DEFAULT_MAX_BYTES)
    assert f"{DEFAULT_MAX_BYTES + 1} bytes" in str(info.value)
    assert f"limit of {DEFAULT_MAX_BYTES} bytes" in str(info.value)
    assert store.require("app").value == {"small": 1}
    assert store.require("app").version == 0
    assert zk_client.get_children(store.chunks) == []


@pytest.mark.slow
def test_zookeeper_holds_through_rewrites_of_the_largest_document_and_a_restart(
    tmp_path: Path,
) -> None:
    """With the development server's defaults (heap, jute.maxbuffer, snapshots) and the
    store's limits, 60 rewrites of 8 MiB documents (~500 MB written) and a restart that
    replays the log leave ZooKeeper serving: before, ~100 MB ran it out of memory."""
    with ZooKeeperServer(data_dir=tmp_path / "zk") as server:
        pid = server.pid
        client = connect(server.hosts)
        try:
            store = StateStore(client)
            for i in range(60):
                store.put(f"big{i % 4}", big(DEFAULT_MAX_BYTES - 2 - 10, f"{i:02d}") + "0123456789")
                assert server.running and server.pid == pid, f"ZooKeeper exited at write {i}"
            server.restart()
            assert server.serving()
            wait_for(lambda: client.connected, what="the client back")
            assert store.require("big3").value.startswith("59")
            assert store.collect_garbage(older_than=0.0) == 0
            assert server.running, server.log_tail()
        finally:
            close_quietly(client)


def test_get_all_pipelined_returns_inline_chunked_and_skips_corrupt(
    store: StateStore, zk_client: KazooClient
) -> None:
    for i in range(50):
        store.create(f"agents/a{i}", {"i": i})
    store.create("agents/big", {"blob": "x" * 400_000})  # chunked
    zk_client.ensure_path(f"{store.docs}/agents/folder/child")  # a folder, no document
    zk_client.create(f"{store.docs}/agents/foreign", b"not ours")
    store.put("agents/a7", {"i": 70})
    got = store.get_all("agents")
    assert {k for k in got} == {f"agents/a{i}" for i in range(50)} | {"agents/big"}
    assert got["agents/a7"].value == {"i": 70} and got["agents/a7"].version == 1
    assert got["agents/big"].chunked and got["agents/big"].value == {"blob": "x" * 400_000}
    assert got["agents/a3"] == store.get("agents/a3")


def test_get_all_keeps_a_bounded_window_of_reads_in_flight(
    store: StateStore, zk_client: KazooClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More documents than the window: every one read, never more than the window
    outstanding at once (a lease heartbeat on the same session waits behind those only)."""
    import zk._store as store_module

    monkeypatch.setattr(store_module, "PIPELINE_WINDOW", 8)
    for i in range(61):
        store.create(f"many/d{i:02d}", {"i": i})
    zk_client.create(f"{store.docs}/many/foreign", b"not ours")
    inner = zk_client.get_async
    outstanding: list[Any] = []
    most = [0]

    def counting_get_async(path: str) -> Any:
        answer = inner(path)
        outstanding.append(answer)
        most[0] = max(most[0], sum(1 for a in outstanding if not a.ready()))
        return answer

    monkeypatch.setattr(zk_client, "get_async", counting_get_async)
    got = store.get_all("many")
    assert {k: d.value for k, d in got.items()} == {f"many/d{i:02d}": {"i": i} for i in range(61)}
    assert len(outstanding) == 62 and 1 <= most[0] <= 8


# -- write_many_async (Metronome's writes answered on kazoo's thread) ----------------------


def _async_write(store: StateStore, ops: list[Any]) -> tuple[dict[str, Any], Any, str]:
    """``write_many_async`` waited for: (done, error, name of the thread that answered)."""
    got: list[tuple[dict[str, Any], Any, str]] = []
    landed = threading.Event()

    def on_done(done: dict[str, Any], error: Any) -> None:
        got.append((done, error, threading.current_thread().name))
        landed.set()

    assert store.write_many_async(ops, on_done) is True
    assert landed.wait(10)
    assert len(got) == 1
    return got[0]


def _sync_write(store: StateStore, ops: list[Any]) -> tuple[dict[str, Any], Any]:
    from zk import BatchFailed

    try:
        return store.write_many(ops), None
    except BatchFailed as exc:
        return exc.done, exc


def _kind(error: Any) -> str | None:
    return None if error is None else ("conflict" if error.conflict else "unavailable")


@pytest.mark.parametrize("seed", range(4))
def test_write_many_async_has_write_many_outcomes_on_random_batches(
    zk_client: KazooClient, seed: int
) -> None:
    """The same random batches (creates, compare-and-set puts and deletes, some with a
    wrong version or on a key that exists) through ``write_many`` under one root and
    ``write_many_async`` under another: the same versions, the same errors, the same
    stored documents; the answer comes on kazoo's thread, not the caller's."""
    import random

    rng = random.Random(seed)
    old, new = StateStore(zk_client, "/sync"), StateStore(zk_client, "/async")
    known: dict[str, int] = {}  # key -> version both stores hold
    for _ in range(25):
        ops: list[Any] = []
        for key in rng.sample([f"jobs/j{i}" for i in range(12)], rng.randint(1, 6)):
            version = known.get(key)
            roll = rng.random()
            if roll < 0.08:  # a wrong version, a create of an existing key...
                version = None if version is not None else rng.randint(0, 3)
            if version is not None and roll > 0.75:
                ops.append(Delete(key, version))
            else:
                ops.append(Put(key, {"k": key, "n": rng.randint(0, 99)}, version))
        want_done, want_error = _sync_write(old, ops)
        done, error, thread = _async_write(new, ops)
        assert thread != threading.current_thread().name
        assert done == want_done and _kind(error) == _kind(want_error), ops
        for key, version in done.items():
            if version is None:
                known.pop(key, None)
            else:
                known[key] = version
        if want_error is not None:  # what the failed multi did not write: read it back
            for op in ops:
                stored = old.get(op.key)
                if stored is None:
                    known.pop(op.key, None)
                else:
                    known[op.key] = stored.version
    assert {k: (d.value, d.version) for k, d in old.get_all("jobs").items()} == {
        k: (d.value, d.version) for k, d in new.get_all("jobs").items()
    }


def test_write_many_async_splits_big_batches_and_defers_chunked_documents(
    store: StateStore,
) -> None:
    """Several multis (BATCH_BYTES each) answered once, all written; a document that must
    be chunked is not sent at all (False: the caller uses ``write_many``)."""
    ops: list[Any] = [Put(f"jobs/j{i}", {"pad": "x" * 2_000, "i": i}, None) for i in range(200)]
    done, error, _ = _async_write(store, ops)
    assert error is None and done == {f"jobs/j{i}": 0 for i in range(200)}
    assert store.require("jobs/j199").value["i"] == 199
    big_doc = [Put("jobs/j0", {"blob": "y" * 1_500_000}, 0)]
    assert store.write_many_async(big_doc, lambda done, error: None) is False
    assert store.require("jobs/j0").version == 0  # nothing was sent


def test_write_many_async_reports_a_gone_parent_and_the_retry_makes_it_again(
    store: StateStore, zk_client: KazooClient
) -> None:
    _async_write(store, [Put("jobs/a", {"n": 1}, None)])
    zk_client.delete(f"{store.docs}/jobs", recursive=True)
    done, error, _ = _async_write(store, [Put("jobs/b", {"n": 2}, None)])
    assert done == {} and _kind(error) == "unavailable" and "parent" in str(error)
    done, error, _ = _async_write(store, [Put("jobs/b", {"n": 2}, None)])
    assert error is None and store.require("jobs/b").value == {"n": 2}


def test_write_many_async_of_a_deposed_writer_is_fenced(zk_client: KazooClient) -> None:
    from zk import Fence, Fenced

    zk_client.ensure_path("/term")
    leading = [True]
    store = StateStore(zk_client, "/st", fence=Fence("/term", 0, active=lambda: leading[0]))
    assert _async_write(store, [Put("a", {"n": 1}, None)])[1] is None
    zk_client.set("/term", b"next leader")  # the term znode moves on: version 1
    done, error, _ = _async_write(store, [Put("a", {"n": 2}, 0)])
    assert done == {} and isinstance(error, Fenced)
    assert store.require("a").value == {"n": 1}
    leading[0] = False  # the local gate: refused before anything is sent
    with pytest.raises(Fenced):
        store.write_many_async([Put("a", {"n": 3}, 0)], lambda done, error: None)
