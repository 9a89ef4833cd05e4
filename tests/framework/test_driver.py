"""The scheduler API: one mailbox between master and framework, and Mesos' callback API
on top of it, against the FrameworkHarness playing the master."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from actors import protocol as p
from actors.framework import (
    Disconnected,
    DriverError,
    FrameworkDriver,
    Registered,
    Scheduler,
    SchedulerDriver,
)
from actors.framework.testing import Declined, FrameworkHarness, Launched
from runtime import Actor, Node
from runtime.testing import settle, wait_for


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("framework-test", on_fatal=lambda reason: None)
    yield n
    n.shutdown(timeout=5)


@pytest.fixture
def harness(node: Node) -> FrameworkHarness:
    return FrameworkHarness(node)


class Owner(Actor):
    """A framework's own actor with the driver embedded: records the events it gets,
    on which thread, and launches one task per offer while it has work."""

    def __init__(
        self, harness: FrameworkHarness, framework_id: str | None = None, pinned: bool = False
    ) -> None:
        super().__init__()
        self.driver = FrameworkDriver(
            p.FrameworkInfo("owner", framework_id=framework_id),
            master=harness.address,
            address="tcp://h:1/owner",
            resolve=harness.resolve,
            resubscribe_interval=0.05,
            pinned=pinned,
        )
        self.events: list[Any] = []
        self.threads: set[int] = set()
        self.work = 1

    def started(self) -> None:
        self.driver.start(self)

    def receive(self, message: Any) -> Any:
        if message == "events":
            return list(self.events)
        if message == "threads":
            return set(self.threads)
        if not self.driver.handles(message):
            return super().receive(message)
        self.threads.add(threading.get_ident())
        event = self.driver.handle(message)
        if event is None:
            return None
        self.events.append(event)
        if isinstance(event, p.Offers):
            for offer in event.offers:
                if self.work > 0:
                    self.work -= 1
                    task = p.TaskInfo(f"t-{offer.offer_id}", "t", offer.agent_id, offer.resources)
                    self.driver.launch([offer.offer_id], [task], refuse_seconds=0.0)
                else:
                    self.driver.decline([offer.offer_id], 30.0, reason="nothing to launch")
        elif isinstance(event, p.StatusUpdate):
            self.driver.acknowledge(event)
        return None


def owner_events(node: Node) -> list[Any]:
    events: list[Any] = node.ref("owner").ask("events")
    return events


def test_the_master_talks_to_the_owning_actor_itself(node: Node, harness: FrameworkHarness) -> None:
    """One mailbox hop: the framework subscribes with its own actor's address, and the
    offers, updates and its calls all happen on that actor's thread."""
    owner = node.spawn(Owner, harness, name="owner")
    assert harness.wait_subscribed(5)
    assert harness.calls(p.Subscribe)[0].address == "tcp://h:1/owner"
    wait_for(lambda: any(isinstance(e, Registered) for e in owner_events(node)), what="registered")
    first, second = harness.offer("cpus:1;mem:128"), harness.offer("cpus:1;mem:128")
    launched = wait_for(harness.waiter(first.offer_id), what="first offer decided")
    declined = wait_for(harness.waiter(second.offer_id), what="second offer decided")
    assert isinstance(launched, Launched) and [t.task_id for t in launched.tasks] == [
        f"t-{first.offer_id}"
    ]
    assert declined == Declined((second.offer_id,), 30.0, "nothing to launch")
    update = harness.update(f"t-{first.offer_id}", "TASK_RUNNING")
    wait_for(lambda: update.uuid in harness.acknowledged, what="acknowledged")
    assert len(owner.ask("threads")) == 1  # every message on the owner's one thread


def test_first_registration_and_reregistration_with_a_known_id(
    node: Node, harness: FrameworkHarness
) -> None:
    node.spawn(Owner, harness, name="owner")
    wait_for(lambda: owner_events(node), what="an event")
    assert owner_events(node)[0] == Registered("framework-1", "harness", reregistered=False)
    node.stop(node.ref("owner"))
    node.spawn(Owner, harness, "framework-1", name="owner")
    wait_for(lambda: owner_events(node), what="an event")
    assert owner_events(node)[0] == Registered("framework-1", "harness", reregistered=True)


def test_a_master_failover_is_a_resubscription(node: Node, harness: FrameworkHarness) -> None:
    """Same address (a restarted master): subscribe again, nothing lost; a new address
    is also reported as Disconnected."""
    owner = node.spawn(Owner, harness, name="owner")
    wait_for(lambda: owner_events(node), what="registered")
    harness.fail_over("harness-2")
    wait_for(lambda: len(owner_events(node)) == 2, what="re-registered")
    assert owner_events(node)[1] == Registered("framework-1", "harness-2", reregistered=True)
    other = FrameworkHarness(node, name="other-master", master_id="m3")
    owner.tell(p.MasterChanged(other.address))
    assert other.wait_subscribed(5)
    wait_for(lambda: len(owner_events(node)) == 4, what="moved")
    assert owner_events(node)[2:] == [
        Disconnected(),
        Registered("framework-1", "m3", reregistered=True),
    ]


def test_a_pinned_framework_never_follows_another_leader(
    node: Node, harness: FrameworkHarness
) -> None:
    """A leader service inside a master (Marathon, Metronome) stays with its own master:
    told that another master leads, it neither subscribes there (which would take the
    framework's offers from the new leader's own copy) nor forgets its master; its own
    master leading again (same address) gets it subscribed again."""
    owner = node.spawn(Owner, harness, None, True, name="owner")
    wait_for(lambda: owner_events(node), what="registered")
    other = FrameworkHarness(node, name="other-master", master_id="m3")
    owner.tell(p.MasterChanged(other.address))
    wait_for(lambda: len(owner_events(node)) == 2, what="disconnected")
    assert owner_events(node)[1] == Disconnected()
    settle(node)
    assert not other.calls(p.Subscribe)
    harness.fail_over("harness-2")  # its own master, re-elected at the same address
    wait_for(lambda: len(owner_events(node)) == 3, what="re-registered")
    assert owner_events(node)[2] == Registered("framework-1", "harness-2", reregistered=True)
    assert not other.calls(p.Subscribe)


class Recorder(Scheduler):
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.threads: set[int] = set()

    def registered(self, driver: SchedulerDriver, framework_id: str, master_id: str) -> None:
        self.seen.append(("registered", framework_id))

    def resource_offers(self, driver: SchedulerDriver, offers: list[p.Offer]) -> None:
        self.threads.add(threading.get_ident())
        self.seen.append(("offers", [o.offer_id for o in offers]))
        driver.decline([o.offer_id for o in offers], 10.0, reason="in a callback")

    def status_update(self, driver: SchedulerDriver, update: p.StatusUpdate) -> None:
        self.seen.append(("update", update.task_id))


def test_scheduler_driver_callbacks_and_calls_from_any_thread(
    node: Node, harness: FrameworkHarness
) -> None:
    sched = Recorder()
    driver = SchedulerDriver(
        sched,
        p.FrameworkInfo("script"),
        node,
        master=harness.address,
        address="tcp://h:1/script",
        resolve=harness.resolve,
        name="script",
    )
    driver.start()
    assert driver.wait_subscribed(5)
    assert (driver.framework_id, driver.master_id) == ("framework-1", "harness")
    offer = harness.offer()
    assert wait_for(harness.waiter(offer.offer_id)) == Declined(
        (offer.offer_id,), 10.0, "in a callback"
    )
    update = harness.update("t1", "TASK_RUNNING")
    wait_for(lambda: update.uuid in harness.acknowledged, what="auto-acknowledged")
    driver.kill("t1")  # from the test's thread: handed to the driver's actor
    driver.revive()
    wait_for(lambda: harness.kills == ["t1"] and harness.count(p.Revive) == 1, what="calls")
    assert sched.seen == [
        ("registered", "framework-1"),
        ("offers", [offer.offer_id]),
        ("update", "t1"),
    ]
    driver.stop()
    wait_for(lambda: harness.calls()[-1] == p.Teardown("framework-1"), what="teardown")


def test_calls_before_subscription_are_refused_by_name(node: Node) -> None:
    driver = SchedulerDriver(Scheduler(), p.FrameworkInfo("early"), node, address="tcp://h:1/e")
    driver.start()
    with pytest.raises(DriverError, match="not subscribed yet"):
        driver.kill("t1")
    driver.stop(failover=True)


def test_a_failover_stop_keeps_the_framework(node: Node, harness: FrameworkHarness) -> None:
    driver = SchedulerDriver(
        Scheduler(),
        p.FrameworkInfo("svc", failover_timeout=60),
        node,
        master=harness.address,
        address="tcp://h:1/svc",
        resolve=harness.resolve,
        name="svc",
    ).start()
    assert driver.wait_subscribed(5)
    driver.stop(failover=True)
    settle(node)  # every actor idle: whatever the driver sent has been recorded
    assert harness.count(p.Teardown) == 0


def test_a_bad_driver_setting_names_the_field() -> None:
    with pytest.raises(ValueError, match="resubscribe_interval: 0"):
        FrameworkDriver(p.FrameworkInfo("x"), resubscribe_interval=0)
