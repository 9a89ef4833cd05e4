"""The standby's warm copy (``zk.StoreMirror``) against the real ZooKeeper: whatever
another client did meanwhile, the hand-over equals a fresh ``get_all``/``list``."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
from kazoo.client import KazooClient

from runtime.testing import wait_for
from zk import MirrorUnavailable, StateStore, StoreMirror, expire_session

pytestmark = pytest.mark.zk

PREFIXES = ("", "a", "b", "b/deep")


def _expected(store: StateStore) -> tuple[dict[str, object], dict[str, list[str]]]:
    return (
        {p: store.get_all(p) for p in PREFIXES},
        {p: store.list(p) for p in PREFIXES},
    )


def _check(mirror: StoreMirror, store: StateStore) -> None:
    got = mirror.hand_over(store)
    docs, names = _expected(store)
    assert got.names == names
    assert {p: got.get_all(p) for p in PREFIXES} == docs
    for p in PREFIXES:
        for key, doc in docs[p].items():  # type: ignore[attr-defined]
            assert got.get(key) == doc


def _random_ops(store: StateStore, rng: random.Random, n: int) -> None:
    keys = [f"{p}/k{i}" if p else f"k{i}" for p in ("", "a", "b", "b/deep") for i in range(6)]
    for _ in range(n):
        key = rng.choice(keys)
        roll = rng.random()
        if roll < 0.55:
            size = rng.choice([10, 100, 300_000])  # 300 kB: chunked
            store.put(key, {"v": rng.random(), "pad": "x" * size})
        elif roll < 0.85:
            store.delete(key)
        elif roll < 0.9:
            store.client.delete(store.path("a"), recursive=True)  # a whole prefix
        elif roll < 0.95:
            # foreign data: skipped by get_all, so by the hand-over too
            store.client.ensure_path(store.path(key))
            store.client.set(store.path(key), b"not a document")
        else:
            store.client.ensure_path(store.path(f"{key}x/child"))  # a folder


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hand_over_equals_get_all_after_random_writes(
    zk_connect: Callable[..., KazooClient], seed: int
) -> None:
    writer = StateStore(zk_connect(), "/m")
    rng = random.Random(seed)
    _random_ops(writer, rng, 30)
    mirror = StoreMirror(zk_connect(), "/m", PREFIXES, interval=0.05, per_round=7).start()
    try:
        wait_for(lambda: mirror.rounds >= 3, timeout=10)
        _random_ops(writer, rng, 80)  # while the mirror runs its paced rounds
        wait_for(lambda: mirror.rounds >= 6, timeout=10)
        _random_ops(writer, rng, 20)  # right before the hand-over: still dirty
    finally:
        mirror.stop()
    reader = StateStore(zk_connect(), "/m")
    _check(mirror, reader)


def test_hand_over_reuses_what_did_not_change(zk_connect: Callable[..., KazooClient]) -> None:
    writer = StateStore(zk_connect(), "/m")
    for i in range(50):
        writer.put(f"a/k{i}", {"i": i})
    mirror = StoreMirror(zk_connect(), "/m", ("a",), interval=0.05).start()
    wait_for(lambda: len(mirror._raw) == 50, timeout=10)
    # decoded ahead once quiet (bytes dropped), and still replaced when changed
    wait_for(lambda: all(r.doc is not None for r in mirror._raw.values()), timeout=10)
    writer.put("a/k3", {"i": "changed"})
    writer.delete("a/k4")
    writer.put("a/new", {"i": "new"})
    got = mirror.hand_over(writer)
    assert got.get_all("a") == writer.get_all("a")
    assert got.get("a/k3") is not None and got.get("a/k3").value == {"i": "changed"}  # type: ignore[union-attr]
    assert got.reused >= 45  # at most the three changed (and a round's worth) read again


def test_missing_prefix_appears_later(zk_connect: Callable[..., KazooClient]) -> None:
    writer = StateStore(zk_connect(), "/m")
    mirror = StoreMirror(zk_connect(), "/m", ("later",), interval=0.05).start()
    wait_for(lambda: mirror.rounds >= 2, timeout=10)
    writer.put("later/x", [1, 2])
    got = mirror.hand_over(writer)
    assert got.get_all("later") == writer.get_all("later")
    assert got.list("later") == ["x"]


def test_session_expiry_reads_everything_again(
    zk_connect: Callable[..., KazooClient], zk_hosts: str, zk_chroot: str
) -> None:
    writer = StateStore(zk_connect(), "/m")
    for i in range(20):
        writer.put(f"a/k{i}", {"i": i})
    client = zk_connect()
    mirror = StoreMirror(client, "/m", ("a",), interval=0.05).start()
    wait_for(lambda: len(mirror._raw) == 20, timeout=10)
    mirror.stop()  # no paced round repairs it: the hand-over must
    expire_session(client)
    wait_for(lambda: client.connected, timeout=20)
    # Changes while the session was being replaced: the old session's watches are gone.
    writer.put("a/k1", {"i": "after expiry"})
    writer.delete("a/k2")
    got = mirror.hand_over(writer)
    assert got.whole
    assert got.get_all("a") == writer.get_all("a")


def test_hand_over_refuses_without_a_session(zk_connect: Callable[..., KazooClient]) -> None:
    writer = StateStore(zk_connect(), "/m")
    writer.put("a/k", 1)
    client = zk_connect()
    mirror = StoreMirror(client, "/m", ("a",), interval=0.05).start()
    wait_for(lambda: len(mirror._raw) == 1, timeout=10)
    client.stop()
    with pytest.raises(MirrorUnavailable):
        mirror.hand_over(writer)


@pytest.mark.parametrize("busy_quiet", [None, 2])
def test_documents_are_built_ahead_once_quiet_long_while_the_leader_writes(
    zk_connect: Callable[..., KazooClient], busy_quiet: int | None
) -> None:
    """Rounds driven by hand (the paced thread not started): while every round reads
    something again (a leader writing), a document is decoded and prepared ahead only
    after ``BUSY_QUIET_ROUNDS`` rounds unchanged (or the mirror's ``busy_quiet_rounds``,
    as Metronome's copy sets it); the first round that reads nothing
    (calm) decodes every document read in an earlier round. The hand-over equals the
    store's read either way."""
    from zk import _mirror

    writer = StateStore(zk_connect(), "/m")
    writer.put("a/quiet", {"v": 0})
    writer.put("a/busy", {"v": 0})
    prepared: list[str] = []

    def prepare(key: str, value: object) -> str:
        prepared.append(key)
        return key

    options = {} if busy_quiet is None else {"busy_quiet_rounds": busy_quiet}
    mirror = StoreMirror(zk_connect(), "/m", ("a",), prepare=prepare, **options)

    def round_() -> None:
        mirror._round(mirror.per_round)
        mirror.rounds += 1

    def rewrite(v: int) -> None:
        writer.put("a/busy", {"v": v})
        wait_for(lambda: "a/busy" in mirror._dirty_keys, timeout=10)

    round_()  # the first read of both
    writer.put("a/quiet", {"v": 1})
    wait_for(lambda: "a/quiet" in mirror._dirty_keys, timeout=10)
    rewrite(1)
    round_()  # reads both again: busy
    read_in = mirror._raw["a/quiet"].read_in
    for n in range(2, 40):
        rewrite(n)
        round_()
        if mirror._raw["a/quiet"].doc is not None:
            break
    want = _mirror.BUSY_QUIET_ROUNDS if busy_quiet is None else busy_quiet
    assert mirror.rounds - 1 - read_in == want  # decoded that round
    assert prepared == ["a/quiet"]  # the busy one never: it changed every round
    assert mirror._raw["a/busy"].doc is None
    round_()  # reads nothing: calm, what the last round read is decoded
    assert mirror._raw["a/busy"].doc is not None
    assert prepared == ["a/quiet", "a/busy"]
    got = mirror.hand_over(writer)
    assert got.get_all("a") == writer.get_all("a")
    assert got.prepared == {"a/quiet": "a/quiet", "a/busy": "a/busy"}
    mirror.close()


class _Waits(threading.Event):
    """An ``Event`` that records the timeouts it was waited with."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        return super().wait(0.01)


def test_a_calm_copy_with_documents_left_goes_on_without_waiting_the_interval(
    zk_connect: Callable[..., KazooClient],
) -> None:
    """After a burst of writes, a calm round decodes up to ``CALM_DECODE_FACTOR`` x
    ``decode_per_round`` documents; while some are left the next round comes after
    ``CALM_BACKLOG_PAUSE``, then at the paced ``interval`` again once all are done."""
    from zk import _mirror

    writer = StateStore(zk_connect(), "/m")
    for i in range(30):
        writer.put(f"a/k{i:02d}", {"v": i})
    prepared: list[str] = []

    def prepare(key: str, value: object) -> str:
        prepared.append(key)
        return key

    mirror = StoreMirror(
        zk_connect(), "/m", ("a",), interval=60.0, decode_per_round=2, prepare=prepare
    )
    waits = _Waits()
    mirror._stop = waits
    mirror.start()
    wait_for(lambda: len(prepared) == 30, timeout=20)
    wait_for(lambda: waits.timeouts[-1:] == [60.0], timeout=20)
    backlog = [t for t in waits.timeouts if t == _mirror.CALM_BACKLOG_PAUSE]
    # the first round reads all 30 (busy: nothing decoded); then calm rounds of 8
    assert len(backlog) >= 3, waits.timeouts
    got = mirror.hand_over(writer)
    assert got.get_all("a") == writer.get_all("a") and len(got.prepared) == 30
    mirror.close()


def test_a_hand_over_does_not_wait_for_a_whole_round_of_building(
    zk_connect: Callable[..., KazooClient],
) -> None:
    """``stop`` (a hand-over) ends a round's decoding at the next document: what is
    left is decoded at the hand-over, not after the round's whole budget."""
    writer = StateStore(zk_connect(), "/m")
    for i in range(10):
        writer.put(f"a/k{i}", {"v": i})
    started, release = threading.Event(), threading.Event()
    prepared: list[str] = []

    def prepare(key: str, value: object) -> str:
        prepared.append(key)
        started.set()
        release.wait(10)
        return key

    mirror = StoreMirror(zk_connect(), "/m", ("a",), prepare=prepare)
    mirror._round(mirror.per_round)  # the first read of all 10
    mirror.rounds += 1
    worker = threading.Thread(target=mirror._round, args=(mirror.per_round,))
    worker.start()  # calm: decodes the 10
    assert started.wait(10)
    mirror._stop.set()
    release.set()
    worker.join(10)
    assert prepared == ["a/k0"] and not mirror._backlog
    got = mirror.hand_over(writer)
    assert got.get_all("a") == writer.get_all("a") and list(got.prepared) == ["a/k0"]
    mirror.close()
