"""A new leader whose lease lapses while its leader services start stops starting them.

The election runs ``on_elected`` and ``on_revoked`` in turn on its own thread, so the
revocation of a leader that lost its lease waits until ``on_elected`` returns. At 10,000
agents a loaded new leader lost its lease during Marathon's start, and the revocation then
waited 28 s while the remaining services started one by one (notes/scale/s11-lead run6).
A real MasterProcess on the real ZooKeeper, with three tiny leader services; the first
one's start makes the process' "may I act?" answer no (the lease's own verdict is tested
in tests/zk/test_lease.py): the other two are never started.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web

from actors.master import MasterConfig, MasterOptions, MasterProcess
from runtime import Actor, ChildSpec
from runtime.testing import wait_for
from transport import Security

pytestmark = pytest.mark.zk


class _Idle(Actor):
    """A leader service's whole work: nothing."""


class _Service:
    prefixes: tuple[str, ...] = ()

    def __init__(self, name: str, asked: list[str], on_start: Any = None) -> None:
        self.name = name
        self.asked = asked
        self.on_start = on_start

    def child_specs(self, ctx: Any) -> list[ChildSpec]:
        self.asked.append(self.name)
        if self.on_start is not None:
            self.on_start()
        return [ChildSpec(f"svc-{self.name}", _Idle, restart="permanent", shutdown=5.0)]

    def routes(self, ctx: Any) -> list[web.RouteDef]:
        return []


def test_services_stop_starting_once_the_lease_is_lost(
    zk_hosts: str, zk_chroot: str, caplog: pytest.LogCaptureFixture
) -> None:
    asked: list[str] = []
    holder: dict[str, MasterProcess] = {}

    def lapse() -> None:
        holder["proc"]._may_act = lambda: False  # type: ignore[method-assign]

    services = (
        _Service("first", asked, lapse),
        _Service("second", asked),
        _Service("third", asked),
    )
    proc = MasterProcess(
        MasterOptions(
            zk=f"{zk_hosts}{zk_chroot}",
            security=Security.plain(),
            config=MasterConfig(ping_interval=0.5),
            services=services,
        )
    )
    holder["proc"] = proc
    with caplog.at_level(logging.WARNING, logger="actors.master"):
        proc.start()
        try:
            wait_for(lambda: proc._leading.is_set(), 30, "leadership")
            wait_for(lambda: "leadership lost while starting" in caplog.text, 30, "the warning")
            assert asked == ["first"]
            assert proc._service_children == ["svc-first"]
            assert "second not started" in caplog.text
        finally:
            proc.stop()
