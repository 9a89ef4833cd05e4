"""A new leader's Marathon load from a standby's warm copy (``zk.StoreMirror``) equals
its load from ZooKeeper: same data, same unreadable list, same bookkeeping (versions
of shards and documents, whole-app layout, reserved shards), after random writes made
while the mirror ran. Real ZooKeeper."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from kazoo.client import KazooClient

from actors.marathon._core import MarathonCore
from actors.marathon._load import prebuild_instances
from actors.marathon._messages import Load, MarathonConfig
from actors.marathon._store import MIRRORED, ZkMarathonStore
from runtime.testing import wait_for
from zk import StateStore, StoreMirror

pytestmark = pytest.mark.zk


def _task(app: str, i: int) -> dict[str, Any]:
    """A valid instance record (most of them), or one that fails validation."""
    if i % 17 == 3:
        return {"taskId": f"{app}.{i}", "appId": app, "state": "TASK_RUNNING"}  # no host...
    return {
        "taskId": f"{app}.{i}",
        "appId": app,
        "configVersion": "2026-12-06T00:00:00.000Z",
        "version": "2026-12-06T00:00:00.000Z",
        "agentId": f"agent-{i % 5}",
        "host": f"h{i % 5}",
        "ports": [31000 + i % 100],
        "stagedAt": 1.7e9 + i,
        "startedAt": None if i % 4 else 1.7e9 + i + 1,
        # i % 17 == 5: buildable, but not a task state: quarantined, never built ahead
        "state": "TASK_BOGUS" if i % 17 == 5 else "TASK_RUNNING" if i % 4 else "TASK_STAGING",
    }


def _built(data: dict[str, Any]) -> dict[str, Any]:
    """The state a new leader builds from ``data`` (instances, quarantine)."""
    core = MarathonCore(MarathonConfig(), master_address="test")
    core.handle(Load(data, "/pydcos/marathon"), 0.0, 1.7e9)
    q = core.q
    return {
        "instances": {k: (v, v.seq) for k, v in core.instances.items()},
        "by_app": {a: list(t) for a, t in core.by_app.items()},
        # the indexes ``add_instances`` fills in bulk for a warm load
        "indexes": (
            core.added,
            set(core.touched),
            list(core.unreachable),
            {a: set(t) for a, t in core.not_live.items()},
            sorted(core.kill_timers),
            list(core.task_lists.unrendered),
            core.task_lists.generation,
            set(core.adopting),
        ),
        "apps": sorted(core.apps),
        "q": (sorted(q.entries), q.apps, q.kept_instances, q.kept_versions, sorted(q.tasks)),
    }


def _random_writes(store: ZkMarathonStore, state: StateStore, rng: random.Random, n: int) -> None:
    apps = [f"/prod/app{i}" for i in range(8)]
    for _ in range(n):
        app = rng.choice(apps)
        akey = app.replace("/", "_")
        roll = rng.random()
        if roll < 0.4:
            count = rng.choice([0, 1, 5, 130, 250])  # several shards of 100 records
            store.save_instances(app, [_task(app, i) for i in range(count)])
        elif roll < 0.5:
            store.save_root({"id": "/", "apps": [{"id": a} for a in apps if rng.random() < 0.5]})
        elif roll < 0.6:
            store.save_versions(app, [{"id": app, "version": str(rng.random())}])
        elif roll < 0.65:
            store.delete_versions(app)
        elif roll < 0.72:
            store.save_deployment(f"d{rng.randrange(4)}", {"id": "d", "step": rng.randrange(3)})
        elif roll < 0.77:
            store.delete_deployment(f"d{rng.randrange(4)}")
        elif roll < 0.8:
            store.save_framework_id(f"fw-{rng.randrange(100)}")
        elif roll < 0.84:
            # the older whole-app layout, written by an older leader
            state.put(f"instances/{akey}", {"instances": [_task(app, 999)]})
            store.stale.add(akey)  # written behind the store's back: read again
        elif roll < 0.88:
            state.put(f"instances/{akey}+{rng.randrange(5)}", ["not", "an", "object"])
            store.stale.add(akey)
        elif roll < 0.91:
            path = state.path(f"instances/{akey}+7")
            state.client.ensure_path(path)
            state.client.set(path, b"\x00garbage")  # foreign data
            store.stale.add(akey)
        elif roll < 0.94:
            state.put("root", ["a", "list"])  # wrongly shaped root
            store.doc_versions.pop("root", None)
        elif roll < 0.97:
            state.put(f"versions/{akey}", {"a": "dict"})
            store.doc_versions.pop(f"versions/{akey}", None)
        else:
            state.put(f"versions/{akey}", [{"id": app, "big": "x" * 300_000}])  # chunked
            store.doc_versions.pop(f"versions/{akey}", None)


def _bookkeeping(store: ZkMarathonStore) -> dict[str, Any]:
    return {
        "shards": {k: (v.docs, v.reserved) for k, v in store.shards.items()},
        "versions": dict(store.versions),
        "stale": set(store.stale),
        "wholes": set(store.wholes),
        "doc_versions": dict(store.doc_versions),
        "loaded": store.loaded,
    }


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_warm_load_equals_a_load_from_zookeeper(
    zk_connect: Callable[..., KazooClient], seed: int
) -> None:
    rng = random.Random(seed)
    state = StateStore(zk_connect(), "/marathon")
    writer = ZkMarathonStore(state)
    writer.load()
    _random_writes(writer, state, rng, 40)
    mirror = StoreMirror(
        zk_connect(), "/marathon", MIRRORED, interval=0.05, per_round=5, prepare=prebuild_instances
    )
    mirror.start()
    try:
        wait_for(lambda: mirror.ready, timeout=20)
        _random_writes(writer, state, rng, 60)  # while the mirror keeps up, paced
        seen = mirror.rounds
        wait_for(lambda: mirror.rounds >= seen + 3, timeout=20)
        _random_writes(writer, state, rng, 15)  # dirty at the hand-over
    finally:
        mirror.stop()
    warm = ZkMarathonStore(StateStore(zk_connect(), "/marathon"), mirror=mirror)
    cold = ZkMarathonStore(StateStore(zk_connect(), "/marathon"))
    warm_data = warm.load()
    cold_data = cold.load()
    prebuilt = warm_data.pop("prebuilt", {})
    prebuilt_apps = warm_data.pop("prebuilt_apps", {})
    assert "prebuilt" not in cold_data and "prebuilt_apps" not in cold_data
    assert warm_data == cold_data
    assert _bookkeeping(warm) == _bookkeeping(cold)
    # The records the standby built ahead (per record, and whole apps' lists added in
    # bulk) give the very state a cold load builds.
    assert prebuilt or prebuilt_apps, "nothing was built ahead"
    for app_id, insts in prebuilt_apps.items():
        assert [i.task_id for i in insts] == [r["taskId"] for r in warm_data["instances"][app_id]]
    assert _built({**warm_data, "prebuilt": prebuilt, "prebuilt_apps": prebuilt_apps}) == _built(
        cold_data
    )
    assert warm.mirror is None  # used once: a later load reads ZooKeeper
    # and the warm store writes on as the cold one would (its versions are right)
    app = "/prod/app1"
    warm.save_instances(app, [_task(app, i) for i in range(3)])
    assert ZkMarathonStore(state).load()["instances"][app] == [_task(app, i) for i in range(3)]


def test_a_mirror_without_a_session_falls_back_to_zookeeper(
    zk_connect: Callable[..., KazooClient],
) -> None:
    state = StateStore(zk_connect(), "/marathon")
    writer = ZkMarathonStore(state)
    writer.save_instances("/a", [_task("/a", 1)])
    client = zk_connect()
    mirror = StoreMirror(client, "/marathon", MIRRORED, interval=0.05).start()
    wait_for(lambda: mirror.ready, timeout=20)
    client.stop()
    warm = ZkMarathonStore(StateStore(zk_connect(), "/marathon"), mirror=mirror)
    assert warm.load()["instances"] == {"/a": [_task("/a", 1)]}


def test_a_warm_load_of_whole_apps_built_ahead_equals_the_cold_one(
    zk_connect: Callable[..., KazooClient],
) -> None:
    """Apps whose every record was built ahead (the usual case at scale) take the bulk
    path (``prebuilt_apps``, ``MarathonState.add_instances``); some records staging (to
    adopt), several shards per app."""
    state = StateStore(zk_connect(), "/marathon")
    writer = ZkMarathonStore(state)
    writer.load()
    good = [i for i in range(400) if i % 17 not in (3, 5)]
    for a in range(3):
        app = f"/bulk/app{a}"
        writer.save_instances(app, [_task(app, i) for i in good[: 120 * (a + 1)]])
    mirror = StoreMirror(
        zk_connect(), "/marathon", MIRRORED, interval=0.05, prepare=prebuild_instances
    ).start()
    try:
        wait_for(
            lambda: (
                mirror.ready
                and all(r.prepared is not None for k, r in mirror._raw.items() if "instances/" in k)
            ),
            timeout=20,
        )
    finally:
        mirror.stop()
    warm_data = ZkMarathonStore(StateStore(zk_connect(), "/marathon"), mirror=mirror).load()
    cold_data = ZkMarathonStore(StateStore(zk_connect(), "/marathon")).load()
    apps = warm_data.pop("prebuilt_apps")
    assert sorted(apps) == [f"/bulk/app{a}" for a in range(3)]
    assert "prebuilt" not in warm_data
    assert warm_data == cold_data
    built = _built({**warm_data, "prebuilt_apps": apps})
    assert built == _built(cold_data)
    assert built["indexes"][-1], "no staging task to adopt"
