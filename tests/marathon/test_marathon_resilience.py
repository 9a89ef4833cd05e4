"""The Marathon actor never dies of one app (issue 30, "nothing stored can crash a leader").

The actor runs on a real node with a manual clock and an in-memory store; its driver
only records what Marathon asks of the master (these tests are about Marathon's own
bookkeeping, not the wire). A "bug" in one app is injected by a subclass that raises
for that app alone, the way an unforeseen record would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from actors import protocol as p
from actors.marathon import (
    ApiReply,
    ApiRequest,
    EventBus,
    MarathonActor,
    MarathonConfig,
    MarathonCore,
    MemoryMarathonStore,
)
from runtime import ManualClock, Node

GOOD = {
    "id": "/good",
    "cmd": "sleep 1000",
    "cpus": 0.1,
    "mem": 32,
    "instances": 1,
    "version": "2026-01-01T00:00:00.000Z",
}


class RecordingDriver:
    """What Marathon asked of the master, in order (no master behind it)."""

    def __init__(self, info: p.FrameworkInfo) -> None:
        self.calls: list[tuple[str, Any]] = []

    def start(self, owner: Any) -> None:
        self.calls.append(("start", owner))

    def handles(self, message: Any) -> bool:
        return False

    def stop(self, failover: bool = False) -> None:
        self.calls.append(("stop", failover))

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.calls.append((name, args))


class BuggyMarathon(MarathonCore):
    """Raises while converging, or answering, anything about ``/boom`` (the decisions
    live in the core: the actor shell is given this one)."""

    def _converge_app(self, app_id: str) -> None:
        if app_id == "/boom":
            raise RuntimeError("a bug that only /boom's definition triggers")
        super()._converge_app(app_id)

    def _op_get_app(self, req: ApiRequest) -> ApiReply:
        if req.app_id == "/boom":
            raise KeyError("cpus")
        return super()._op_get_app(req)


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("marathon-test", clock=ManualClock())
    yield n
    n.shutdown(timeout=5.0)


def spawn(node: Node, store: MemoryMarathonStore, cls: type[MarathonCore] = MarathonCore) -> Any:
    return node.spawn(
        MarathonActor,
        store,
        EventBus(),
        master_address="inproc://nowhere/master",
        config=MarathonConfig(failures_to_quarantine=3),
        driver_factory=RecordingDriver,
        core_factory=cls,
    )


def ask(ref: Any, op: str, app_id: str | None = None, body: Any = None) -> ApiReply:
    reply: ApiReply = ref.ask(ApiRequest(op, app_id, body=body), timeout=5.0)
    return reply


def root_with(*apps: dict[str, Any]) -> dict[str, Any]:
    return {"id": "/", "apps": list(apps), "groups": [], "version": GOOD["version"]}


def test_a_poison_app_in_the_stored_root_is_quarantined_and_the_rest_is_served(
    node: Node,
) -> None:
    store = MemoryMarathonStore()
    poison = {**GOOD, "id": "/poison", "cpus": math.nan}
    store.root = root_with(GOOD, poison)
    store.versions = {"/good": [GOOD], "/poison": [poison]}
    store.instances = {"/poison": [{"taskId": "poison.1", "appId": "/poison", "stagedAt": "?"}]}
    ref = spawn(node, store)

    apps = ask(ref, "list_apps").body["apps"]
    assert [a["id"] for a in apps] == ["/good"]
    report = {
        (q["kind"], q.get("id")): q["reason"] for q in ask(ref, "quarantine").body["quarantined"]
    }
    assert set(report) == {("app", "/poison"), ("versions", "/poison"), ("instances", "/poison")}
    assert "cpus" in report[("app", "/poison")]
    assert "/configVersion" in report[("instances", "/poison")]
    reply = ask(ref, "get_app", "/poison")
    assert reply.status == 409 and "quarantined" in reply.body["message"]

    # A write rewrites the root: the quarantined app is written back, untouched.
    created = ask(ref, "create_app", body={"id": "/other", "cmd": "sleep 1", "mem": 32})
    assert created.status == 201, created.body
    assert store.root is not None
    stored = {a["id"]: a for a in store.root["apps"]}
    assert sorted(stored) == ["/good", "/other", "/poison"] and math.isnan(
        stored["/poison"]["cpus"]
    )
    assert store.instances["/poison"] == [
        {"taskId": "poison.1", "appId": "/poison", "stagedAt": "?"}
    ]

    # DELETE is the way out.
    assert ask(ref, "delete_app", "/poison").status == 200
    assert store.root is not None and "/poison" not in {a["id"] for a in store.root["apps"]}
    assert "/poison" not in store.versions
    assert {q["kind"] for q in ask(ref, "quarantine").body["quarantined"]} == {"instances"}


def test_an_app_that_keeps_failing_to_converge_is_quarantined_and_the_others_converge(
    node: Node,
) -> None:
    store = MemoryMarathonStore()
    boom = {**GOOD, "id": "/boom"}
    store.root = root_with(GOOD, boom)
    ref = spawn(node, store, BuggyMarathon)
    queue = {q["app"]["id"]: q["count"] for q in ask(ref, "queue").body["queue"]}
    assert queue == {"/good": 1}, "the other app converged in the cycle /boom failed"
    for _ in range(3):  # each message converges again: /boom fails each time
        ask(ref, "queue")
    report = ask(ref, "quarantine").body["quarantined"]
    assert [(q["kind"], q["id"]) for q in report] == [("app", "/boom")]
    assert "failed 3 times in a row" in report[0]["reason"]
    counters = ask(ref, "metrics").body["counters"]
    assert counters["marathon.converge_errors.counter"]["count"] == 3
    # Changing the app lifts the run-time quarantine: it is converged again (and, the
    # bug being still there, quarantined again after three more failures).
    assert ask(ref, "restart_app", "/boom").status == 200
    assert ask(ref, "quarantine").body["quarantined"] == []
    for _ in range(2):
        ask(ref, "queue")
    assert [q["id"] for q in ask(ref, "quarantine").body["quarantined"]] == ["/boom"]
    assert ask(ref, "get_app", "/good").status == 200


def test_an_operation_that_raises_answers_500_naming_the_app_and_is_counted(node: Node) -> None:
    store = MemoryMarathonStore()
    store.root = root_with(GOOD, {**GOOD, "id": "/boom"})
    ref = spawn(node, store, BuggyMarathon)
    reply = ask(ref, "get_app", "/boom")
    assert reply.status == 500
    assert reply.body["message"].startswith("get_app of app /boom failed: KeyError")
    assert ask(ref, "get_app", "/good").status == 200
    counters = ask(ref, "metrics").body["counters"]
    assert counters["marathon.api_errors.counter"]["count"] == 1
