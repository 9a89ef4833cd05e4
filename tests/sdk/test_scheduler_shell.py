"""The scheduler shell's ordering around API commands (``SdkScheduler.call``), with a
store and a driver that only record what they are asked, in order:

- a read (plans polled every few ms while a plan runs) revives nothing: every revive is
  an allocation cycle on the master and a batch of offers to decline;
- a command that changes state revives at once, before its records are written (an offer
  is handled under the same lock, so none is acted on before they are durable);
- kills are sent only once the records are written (persist before acting);
- an accept that reserves refuses nothing of the offer's rest (its launch follows in the
  next offer)."""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.sdk import Context, PlanNotFound, ServiceCore
from actors.sdk._core import ACCEPT_REFUSE, accept_refuse_seconds
from actors.sdk._store import SdkStore
from actors.sdk.scheduler import SdkScheduler
from runtime import ManualClock
from tests.sdk.test_core import Sim, spec

Log = list[tuple[str, ...]]


class RecordingStore(SdkStore):
    def __init__(self, log: Log) -> None:  # no ZooKeeper: only the order is checked
        self.log = log

    def put(self, key: str, value: Any) -> None:
        self.log.append(("put", key))


class RecordingDriver:
    framework_id = "fw-1"

    def __init__(self, log: Log) -> None:
        self.log = log

    def revive(self) -> None:
        self.log.append(("revive",))

    def kill(self, task_id: str) -> None:
        self.log.append(("kill", task_id))


def shell() -> tuple[SdkScheduler, Log]:
    log: Log = []
    s = SdkScheduler(spec(), RecordingStore(log), ManualClock(), Context())
    s.driver = RecordingDriver(log)  # type: ignore[assignment]
    s.core.take_dirty()  # what a restore() wrote already
    return s, log


def test_reads_revive_nothing() -> None:
    s, log = shell()
    for _ in range(3):
        s.call(lambda core: core.plan_view("backup"))
        s.call(lambda core: core.pod_status())
    assert log == []


def test_a_plan_start_revives_before_its_progress_is_written() -> None:
    s, log = shell()
    s.call(lambda core: core.plan_command("backup", "start", params={"NAME": "b1"}))
    assert log == [("revive",), ("put", "plans/backup")]


def test_a_refused_command_writes_and_revives_nothing() -> None:
    s, log = shell()
    with pytest.raises(PlanNotFound):
        s.call(lambda core: core.plan_command("nope", "start"))
    assert log == []


def test_kills_of_a_command_go_out_after_its_records_are_written() -> None:
    s, log = shell()

    def restart(core: Any) -> None:
        core.kill_now.append("node-0-server__1")
        core.dirty.add("tasks/node-0-server")

    s.call(restart)
    assert log == [("revive",), ("put", "tasks/node-0-server"), ("kill", "node-0-server__1")]


def test_an_accept_that_reserves_refuses_nothing_one_that_only_launches_refuses_1_s() -> None:
    """The master refuses the rest of an accepted offer for ``refuse_seconds``, what its
    RESERVE/CREATE made included: the launch waiting on a new reservation must get it
    back in the next offer, not after the filter (each first launch waited 1 s)."""
    core = ServiceCore(spec(count=1), Context())
    sim = Sim(core, agents=1)
    seen: list[tuple[list[str], float]] = []
    for _ in range(3):
        sim.now += 1.0
        a = sim.agents[0]
        offer = p.Offer(f"O{sim.now}", "fw", a.agent_id, "127.0.0.1", a.free.to_dict())
        for _, ops in core.offers([offer], sim.now, 1000.0 + sim.now).accepts:
            seen.append(([op.type for op in ops], accept_refuse_seconds(ops)))
            for op in ops:
                sim.apply(a, op)
    assert seen == [(["RESERVE", "CREATE"], 0.0), (["LAUNCH"], ACCEPT_REFUSE)]
    assert ACCEPT_REFUSE == 1.0
