"""Instance records in shards (``_shards.py``, ``ZkMarathonStore.save_instances``): a
write stores only the shards whose records changed, and what a new leader loads is what
the older one-document-per-app layout would have given, on random sequences of writes."""

from __future__ import annotations

import random
from typing import Any

import pytest

from actors.marathon._shards import SHARD_RECORDS, Shards, merged, parse_name, plan_write
from actors.marathon._store import MemoryMarathonStore, ZkMarathonStore
from tests.marathon._core_kit import Sim
from zk import StateStore


def rec(task: str, state: str = "TASK_STAGING", app: str = "/a") -> dict[str, Any]:
    return {"taskId": task, "appId": app, "state": state}


def test_a_launch_batch_writes_the_tail_shard_only() -> None:
    records = [rec(f"t{i}") for i in range(250)]
    first = plan_write(Shards(), records)
    assert sorted(first.puts) == [0, 1, 2] and [len(first.puts[n]) for n in (0, 1, 2)] == [
        100,
        100,
        50,
    ]
    more = records + [rec(f"n{i}") for i in range(30)]
    second = plan_write(first.after, more)
    assert list(second.puts) == [2] and len(second.puts[2]) == 80 and not second.deletes


def test_a_state_change_rewrites_its_shard_and_an_emptied_shard_is_deleted() -> None:
    records = [rec(f"t{i}") for i in range(250)]
    after = plan_write(Shards(), records).after
    changed = [dict(r, state="TASK_RUNNING") if r["taskId"] == "t150" else r for r in records]
    assert list(plan_write(after, changed).puts) == [1]
    gone = [r for r in records if not 200 <= int(r["taskId"][1:]) < 250]
    plan = plan_write(after, gone)
    assert plan.puts == {} and plan.deletes == (2,)


def test_sparse_shards_are_repacked_into_new_numbers() -> None:
    records = [rec(f"t{i}") for i in range(1000)]
    after = plan_write(Shards(), records).after
    survivors = [r for i, r in enumerate(records) if i % 100 == 0]  # 1 per shard
    plan = plan_write(after, survivors)
    assert list(plan.puts) == [10] and plan.deletes == tuple(range(10))
    assert plan.puts[10] == survivors


def test_unreadable_shard_numbers_are_not_reused() -> None:
    plan = plan_write(Shards.of({0: [rec("a")]}, reserved={1, 4}), [rec("a"), rec("b")])
    assert plan.puts == {5: [rec("b")]}, "new records go above every stored number"
    xs = [rec(f"x{i}") for i in range(100)]
    full = plan_write(Shards.of({0: xs}, {4}), [*xs, rec("y")])
    assert full.puts == {5: [rec("y")]} and not full.deletes


def test_names_and_merging() -> None:
    assert parse_name("_prod_web+3") == ("_prod_web", 3)
    assert parse_name("_prod_web") == ("_prod_web", None)
    assert parse_name("_a+b") == ("_a+b", None)
    # a write cut short: a record in the whole document and a shard, or in two shards
    assert merged([rec("a"), rec("b")], {0: [rec("b", "TASK_RUNNING")], 3: [rec("c")]}) == [
        rec("a"),
        rec("b", "TASK_RUNNING"),
        rec("c"),
    ]


def _mutate(rng: random.Random, current: list[dict[str, Any]], serial: list[int]) -> None:
    """One change as the core makes them: launches appended, states changed in place,
    instances removed; reservation and quarantined records now and then."""
    roll = rng.random()
    if roll < 0.4 or not current:
        for _ in range(rng.randint(1, 2 * SHARD_RECORDS)):
            serial[0] += 1
            current.append(rec(f"t{serial[0]}"))
    elif roll < 0.7:
        for i in rng.sample(range(len(current)), min(len(current), rng.randint(1, 60))):
            current[i] = dict(current[i], state=rng.choice(["TASK_RUNNING", "TASK_KILLING"]))
    elif roll < 0.95:
        drop = set(rng.sample(range(len(current)), rng.randint(0, len(current))))
        current[:] = [r for i, r in enumerate(current) if i not in drop]
    else:
        serial[0] += 1
        current.append({"reservationId": f"r{serial[0]}", "taskId": "t1", "appId": "/a"})
        current.append({"quarantined": serial[0], "ports": "bad"})


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_writes_load_as_the_one_document_layout(zk_client: Any, seed: int) -> None:
    rng = random.Random(seed)
    state = StateStore(zk_client, "/marathon")
    sharded, reference = ZkMarathonStore(state), MemoryMarathonStore()
    apps: dict[str, list[dict[str, Any]]] = {"/a": [], "/b/c": [], "/d": []}
    serial = [0]
    for step in range(60):
        app_id = rng.choice(list(apps))
        _mutate(rng, apps[app_id], serial)
        for store in (sharded, reference):
            store.save_instances(app_id, list(apps[app_id]))
        if step % 15 == 14:  # a new leader: loads, then carries on writing
            sharded = ZkMarathonStore(state)
            assert sharded.load()["instances"] == reference.load()["instances"]
    assert ZkMarathonStore(state).load()["instances"] == reference.load()["instances"]
    for name in zk_client.get_children(state.path("instances")):
        doc = state.get(f"instances/{name}")
        assert parse_name(name)[1] is not None and 0 < len(doc.value["instances"]) <= 100


@pytest.mark.slow
def test_an_app_of_the_older_layout_moves_to_shards_at_its_next_write(zk_client: Any) -> None:
    state = StateStore(zk_client, "/marathon")
    old = [rec(f"t{i}") for i in range(150)]
    state.put("instances/_web", {"instances": old})  # as the older layout stored it
    state.put("instances/_corrupt+7", ["not", "an", "object"])
    store = ZkMarathonStore(state)
    data = store.load()
    assert data["instances"]["/web"] == old
    assert "instances/_corrupt+7" in data["unreadable"]
    store.save_instances("/web", [*old, rec("new")])
    assert sorted(zk_client.get_children(state.path("instances"))) == [
        "_corrupt+7",
        "_web+0",
        "_web+1",
    ]
    assert ZkMarathonStore(state).load()["instances"]["/web"] == [*old, rec("new")]
    store.save_instances("/corrupt", [rec("c", app="/corrupt")])  # replaces the bad shard
    assert ZkMarathonStore(state).load()["instances"]["/corrupt"] == [rec("c", app="/corrupt")]
    assert "_corrupt+7" not in zk_client.get_children(state.path("instances"))


@pytest.mark.slow
def test_a_write_that_met_another_writer_reads_again_and_succeeds(zk_client: Any) -> None:
    from zk import BatchFailed

    state = StateStore(zk_client, "/marathon")
    store = ZkMarathonStore(state)
    records = [rec(f"t{i}") for i in range(120)]
    store.save_instances("/a", records)
    state.put("instances/_a+1", {"instances": [rec("sneaky")]})  # behind its back
    records[110] = rec("t110", "TASK_RUNNING")
    with pytest.raises(BatchFailed):
        store.save_instances("/a", records)
    store.save_instances("/a", records)  # read again, then written
    assert ZkMarathonStore(state).load()["instances"]["/a"] == records


@pytest.mark.slow
@pytest.mark.parametrize("seed", [4, 5])
def test_documents_written_by_version_load_as_before(zk_client: Any, seed: int) -> None:
    """Root, versions, deployments and the framework id are written as one compare-and-
    set multi with the version last seen (no read first): same outcome as before."""
    rng = random.Random(seed)
    state = StateStore(zk_client, "/marathon")
    store, reference = ZkMarathonStore(state), MemoryMarathonStore()
    store.load()
    for step in range(80):
        roll, n = rng.random(), rng.randint(0, 4)
        for s in (store, reference):
            if roll < 0.2:
                s.save_root({"id": "/", "step": step})
            elif roll < 0.45:
                s.save_versions(f"/app{n}", [{"id": f"/app{n}", "v": step}])
            elif roll < 0.55:
                s.delete_versions(f"/app{n}")
            elif roll < 0.8:
                s.save_deployment(f"d{n}", {"id": f"d{n}", "step": step})
            elif roll < 0.9:
                s.delete_deployment(f"d{n}")
            else:
                s.save_framework_id(f"fw-{step}")
        if step % 20 == 19:
            state.put("root", {"id": "/", "behind": "its back"})  # another writer
            reference.save_root({"id": "/", "behind": "its back"})
            store = ZkMarathonStore(state) if step % 40 == 39 else store
            if step % 40 == 39:
                store.load()
    got, want = ZkMarathonStore(state).load(), reference.load()
    for field in ("framework_id", "root", "versions"):
        assert got[field] == want[field], field
    assert sorted(got["deployments"], key=str) == sorted(want["deployments"], key=str)


def test_documents_written_together_go_in_one_write_in_their_order(
    zk_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An app's POST writes its deployment, versions and root: inside ``together`` they
    are one ``write_many`` (in order) instead of three; a version changed behind the
    store's back is written over as ``_put`` does; a block that raised writes nothing."""
    state = StateStore(zk_client, "/marathon")
    store = ZkMarathonStore(state)
    store.load()
    calls: list[tuple[list[str], bool]] = []
    real = state.write_many

    def counting(ops: list[Any], in_order: bool = False) -> Any:
        calls.append(([op.key for op in ops], in_order))
        return real(ops, in_order=in_order)

    monkeypatch.setattr(state, "write_many", counting)
    with store.together():
        store.save_deployment("d1", {"id": "d1"})
        store.save_versions("/a", [{"id": "/a", "version": "v1"}])
        store.save_root({"id": "/", "apps": ["/a"]})
    assert calls == [(["deployments/d1", "versions/_a", "root"], True)]
    loaded = ZkMarathonStore(state).load()
    assert loaded["root"] == {"id": "/", "apps": ["/a"]} and loaded["deployments"] == [{"id": "d1"}]

    state.put("root", {"id": "/", "behind": "its back"})  # another writer
    with store.together():
        store.save_deployment("d2", {"id": "d2"})
        store.save_root({"id": "/", "apps": ["/a", "/b"]})
    loaded = ZkMarathonStore(state).load()
    assert loaded["root"] == {"id": "/", "apps": ["/a", "/b"]}
    assert sorted(d["id"] for d in loaded["deployments"]) == ["d1", "d2"]

    with pytest.raises(RuntimeError), store.together():
        store.save_deployment("d3", {"id": "d3"})
        raise RuntimeError("the block failed")
    assert state.get("deployments/d3") is None
    with store.together():  # its versions are still right afterwards
        store.save_root({"id": "/", "apps": []})
    assert ZkMarathonStore(state).load()["root"] == {"id": "/", "apps": []}


@pytest.mark.slow
def test_a_document_too_large_stays_a_value_too_large_error(zk_client: Any) -> None:
    from zk import ValueTooLarge

    store = ZkMarathonStore(StateStore(zk_client, "/marathon", max_bytes=200_000))
    store.load()
    with pytest.raises(ValueTooLarge):
        store.save_deployment("big", {"blob": "x" * 300_000})  # above one znode too


def test_a_record_stored_twice_loads_once_the_later_copy() -> None:
    """A write cut short (repacking, moving off the older layout) can leave a record in
    two shards: the reader returns both, in shard order, and the core keeps the later."""
    from actors.marathon._shards import stored_records
    from tests.marathon.test_core_failover import _old_leader

    stored, tasks = _old_leader()
    mine = stored["instances"]["/web"]
    staging = next(r for r in mine if r["taskId"] == tasks[1])
    running = dict(staging, state="TASK_RUNNING", startedAt=staging["stagedAt"] + 1)
    stored["instances"]["/web"] = stored_records(None, {0: mine, 7: [running]})
    sim = Sim(data=stored)
    assert sim.tasks("/web") == sorted(tasks)
    assert sim.core.instances[tasks[1]].state == "TASK_RUNNING" and not sim.core.adopting
