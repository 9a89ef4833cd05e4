"""A new leader reads Marathon's stored instances pipelined (``StateStore.get_all``);
a corrupt or wrongly shaped document is still skipped and named in ``unreadable``."""

from __future__ import annotations

from typing import Any

import pytest

from actors.marathon._store import ZkMarathonStore
from zk import StateStore


@pytest.mark.slow
def test_instances_load_pipelined_and_bad_documents_are_named(zk_client: Any) -> None:
    state = StateStore(zk_client, "/marathon")
    store = ZkMarathonStore(state)
    for n in range(30):
        store.save_instances(f"/prod/app{n}", [{"taskId": f"t{n}", "appId": f"/prod/app{n}"}])
    state.put("instances/_prod_listed", ["not", "an", "object"])
    zk_client.create(state.path("instances/_prod_corrupt"), b"\x00garbage", makepath=True)
    data = store.load()
    assert sorted(data["instances"]) == sorted(f"/prod/app{n}" for n in range(30))
    assert data["instances"]["/prod/app7"] == [{"taskId": "t7", "appId": "/prod/app7"}]
    bad = data["unreadable"]
    assert set(bad) == {"instances/_prod_listed", "instances/_prod_corrupt"}
    assert "holds a list" in bad["instances/_prod_listed"]
