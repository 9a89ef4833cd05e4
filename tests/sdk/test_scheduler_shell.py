"""The scheduler shell's ordering around API commands (``SdkScheduler.call``), with a
store and a driver that only record what they are asked, in order:

- a read (plans polled every few ms while a plan runs) revives nothing: every revive is
  an allocation cycle on the master and a batch of offers to decline;
- a command that changes state revives at once, before its records are written (an offer
  is handled under the same lock, so none is acted on before they are durable);
- kills are sent only once the records are written (persist before acting)."""

from __future__ import annotations

from typing import Any

import pytest

from actors.sdk import Context, PlanNotFound
from actors.sdk._store import SdkStore
from actors.sdk.scheduler import SdkScheduler
from runtime import ManualClock
from tests.sdk.test_core import spec

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
