"""The Marathon actor shell on a real node against a ``FrameworkHarness`` (a recording
master): offers and updates reach the actor in one hop, its instance records are
stored before the launch leaves, declines carry the offer matcher's reason, updates are
acknowledged, and a store that fails answers the API and launches nothing. No
ZooKeeper: an in-memory store; no HTTP: the API is asked directly."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from actors import protocol as p
from actors.framework import FrameworkDriver
from actors.framework.testing import Declined, FrameworkHarness, Launched
from actors.marathon import (
    ApiReply,
    ApiRequest,
    EventBus,
    MarathonActor,
    MarathonConfig,
    MemoryMarathonStore,
)
from runtime import Node
from runtime.testing import wait_for

APP = {
    "id": "/web",
    "cmd": "sleep 1000",
    "cpus": 0.5,
    "mem": 64,
    "instances": 2,
    "constraints": [["hostname", "UNIQUE"]],
}
RES = "cpus:4;mem:4096;ports:[31000-31010]"


class FlakyStore(MemoryMarathonStore):
    """An in-memory store whose instance writes fail while ``down`` is set."""

    down = False

    def save_instances(self, app_id: str, records: list[dict[str, Any]]) -> None:
        if self.down:
            raise ConnectionError("the store is down")
        super().save_instances(app_id, records)


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("marathon-shell", on_fatal=lambda reason: None)
    yield n
    n.shutdown(timeout=5)


def start(node: Node, store: MemoryMarathonStore) -> tuple[Any, FrameworkHarness]:
    harness = FrameworkHarness(node)

    def driver(info: p.FrameworkInfo) -> FrameworkDriver:
        return FrameworkDriver(
            info, master=harness.address, resolve=harness.resolve, address="tcp://h:1/marathon"
        )

    ref = node.spawn(
        MarathonActor,
        store,
        EventBus(),
        master_address=harness.address,
        config=MarathonConfig(tick_interval=0.05),
        driver_factory=driver,
        name="marathon",
    )
    assert harness.wait_subscribed(5)
    wait_for(lambda: store.framework_id == harness.framework_id, 5, "framework id stored")
    return ref, harness


def launch_on_one_offer(node: Node, instances: int) -> tuple[Any, FrameworkHarness, Launched]:
    """A started shell with ``/web`` of ``instances`` launched on one offer of agent1."""
    ref, harness = start(node, MemoryMarathonStore())
    body = {**APP, "instances": instances, "constraints": []}
    assert ask(ref, "create_app", body=body).status == 201
    offer = harness.offer(RES, agent_id="a1", hostname="agent1")
    launched = wait_for(harness.waiter(offer.offer_id), 5, "the offer used")
    assert isinstance(launched, Launched) and len(launched.tasks) == instances
    return ref, harness, launched


def ask(ref: Any, op: str, app_id: str | None = None, body: Any = None) -> ApiReply:
    reply: ApiReply = ref.ask(ApiRequest(op, app_id, body=body), timeout=5.0)
    return reply


def test_launch_decline_and_acknowledge_through_the_shell(node: Node) -> None:
    store = MemoryMarathonStore()
    ref, harness = start(node, store)
    assert ask(ref, "create_app", body=APP).status == 201
    assert store.root is not None and store.versions["/web"]

    first = harness.offer(RES, agent_id="a1", hostname="agent1")
    launched = wait_for(harness.waiter(first.offer_id), 5, "the first offer used")
    assert isinstance(launched, Launched) and len(launched.tasks) == 1  # hostname:UNIQUE
    (task,) = launched.tasks
    assert [r["taskId"] for r in store.instances["/web"]] == [task.task_id]
    assert task.command is not None and task.command.env["MARATHON_APP_ID"] == "/web"

    again = harness.offer(RES, agent_id="a1", hostname="agent1")
    declined = wait_for(harness.waiter(again.offer_id), 5, "the same host declined")
    assert isinstance(declined, Declined)
    assert "constraint hostname:UNIQUE" in declined.reason
    assert declined.refuse_seconds == MarathonConfig().decline_refuse_seconds
    (entry,) = ask(ref, "queue").body["queue"]
    assert "constraint hostname:UNIQUE" in entry["waitingReason"]

    update = harness.update(task.task_id, "TASK_RUNNING", agent_id="a1")
    wait_for(lambda: update.uuid in harness.acknowledged, 5, "the update acknowledged")
    tasks = ask(ref, "app_tasks", "/web").body["tasks"]
    assert [(t["id"], t["state"]) for t in tasks] == [(task.task_id, "TASK_RUNNING")]


def test_a_store_that_fails_launches_nothing_and_declines_the_offer(node: Node) -> None:
    store = FlakyStore()
    ref, harness = start(node, store)
    assert ask(ref, "create_app", body={**APP, "constraints": []}).status == 201
    store.down = True
    offer = harness.offer(RES, agent_id="a1", hostname="agent1")
    declined = wait_for(harness.waiter(offer.offer_id), 5, "the offer declined")
    assert isinstance(declined, Declined) and harness.launches == []
    assert ask(ref, "app_tasks", "/web").body["tasks"] == []
    store.down = False
    offer = harness.offer(RES, agent_id="a1", hostname="agent1")
    launched = wait_for(harness.waiter(offer.offer_id), 5, "launched once the store is back")
    assert isinstance(launched, Launched) and len(launched.tasks) == 2


class TogetherStore(MemoryMarathonStore):
    """Records which documents were written inside ``together`` (one write each time);
    ``fail_root`` makes the root's write fail, as a ZooKeeper error at the end would."""

    fail_root = False

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[list[str]] = []
        self._open: list[str] | None = None

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        self._open = []
        try:
            yield
            self.groups.append(self._open)
            if self.fail_root and "root" in self._open:
                raise ConnectionError("ZooKeeper did not answer")
        finally:
            self._open = None

    def _note(self, what: str) -> None:
        if self._open is not None:
            self._open.append(what)

    def save_root(self, root: dict[str, Any]) -> None:
        self._note("root")
        if not self.fail_root:
            super().save_root(root)

    def save_versions(self, app_id: str, versions: list[dict[str, Any]]) -> None:
        self._note(f"versions {app_id}")
        super().save_versions(app_id, versions)

    def save_deployment(self, deployment_id: str, doc: dict[str, Any]) -> None:
        self._note("deployment")
        super().save_deployment(deployment_id, doc)


def test_an_app_post_writes_its_documents_in_one_store_write(node: Node) -> None:
    """The deployment, versions and root of a POST are one write (``together``), in
    that order; when that write fails the POST is answered with an error and the app
    is not created."""
    store = TogetherStore()
    ref, _ = start(node, store)
    assert ask(ref, "create_app", body=APP).status == 201
    assert store.groups == [["deployment", "versions /web", "root"]]
    store.fail_root = True
    failed = ask(ref, "create_app", body={**APP, "id": "/other"})
    assert failed.status >= 500 and "/other" not in str(ask(ref, "list_apps").body)


def test_a_new_master_gets_a_resubscription_and_a_reconciliation(node: Node) -> None:
    _ref, harness, launched = launch_on_one_offer(node, 1)
    (task,) = launched.tasks
    before = len(harness.calls(p.Reconcile))
    harness.fail_over("m2")
    assert harness.wait_subscribed(5)

    def reconciled() -> list[list[str]]:
        return [r.task_ids for r in harness.calls(p.Reconcile)[before:]]

    asked = wait_for(lambda: len(reconciled()) >= 2 and reconciled(), 5, "reconciliation")
    assert asked[:2] == [[task.task_id], []], "explicit for its task, then implicit"
    subscribe = harness.calls(p.Subscribe)[-1]
    assert subscribe.info.framework_id == harness.framework_id, "the same framework id"


def test_a_burst_of_updates_is_acknowledged_and_applied(node: Node) -> None:
    ref, harness, launched = launch_on_one_offer(node, 6)
    # Sent one behind the other: the actor takes those queued together as one event.
    updates = [harness.update(t.task_id, "TASK_RUNNING", agent_id="a1") for t in launched.tasks]
    updates += [harness.update(launched.tasks[0].task_id, "TASK_RUNNING", agent_id="a1")]
    wait_for(
        lambda: {u.uuid for u in updates} <= set(harness.acknowledged), 5, "every update acked"
    )
    tasks = ask(ref, "app_tasks", "/web").body["tasks"]
    assert sorted(t["state"] for t in tasks) == ["TASK_RUNNING"] * 6


class GatedStore(MemoryMarathonStore):
    """Instance writes wait for ``gate`` (``entered`` says one is waiting); counted."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.entered = threading.Event(), threading.Event()
        self.gate.set()
        self.instance_writes = 0

    def save_instances(self, app_id: str, records: list[dict[str, Any]]) -> None:
        self.instance_writes += 1
        self.entered.set()
        assert self.gate.wait(10)
        super().save_instances(app_id, records)


def test_offers_queued_one_behind_the_other_are_matched_and_stored_together(
    node: Node,
) -> None:
    store = GatedStore()
    ref, harness = start(node, store)
    body = {**APP, "instances": 6, "constraints": []}
    assert ask(ref, "create_app", body=body).status == 201
    small = "cpus:1;mem:1024;ports:[31000-31010]"  # two tasks of 0.5 cpu each
    store.gate.clear()
    first = harness.offer(small, agent_id="a1", hostname="agent1")
    assert store.entered.wait(5), "the first offer's records are being written"
    more = [harness.offer(small, agent_id=f"a{i}", hostname=f"agent{i}") for i in (2, 3)]
    store.gate.set()
    for offer in [first, *more]:
        used = wait_for(harness.waiter(offer.offer_id), 5, f"offer {offer.offer_id} used")
        assert isinstance(used, Launched) and len(used.tasks) == 2
    assert store.instance_writes == 2, "the two queued offers: one match, one write"
