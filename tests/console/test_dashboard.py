"""The dashboard headless (``App.run_test()``), fed by a fake source: events in, rows out."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from console import _model as m
from console._dashboard import DashboardApp, screen_text
from console._fake import FakeSource

SNAPSHOT = Path(__file__).parent / "snapshots" / "dashboard_120x40.txt"


def run(
    source: FakeSource,
    body: Callable[[DashboardApp, Any], Awaitable[None]],
    size: tuple[int, int] = (120, 40),
) -> None:
    async def main() -> None:
        app = DashboardApp(source, clock=lambda: 0.0)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            app.flush()
            await pilot.pause()
            await body(app, pilot)

    asyncio.run(main())


async def stable_screen(app: DashboardApp, pilot: Any, tries: int = 50) -> str:
    """The screen once layout has settled: two captures in a row agree (column widths
    are sized over a few refreshes, later on a loaded machine)."""
    last = ""
    for _ in range(tries):
        await settle(app, pilot)
        text = screen_text(app)
        if text == last:
            return text
        last = text
    return last


async def settle(app: DashboardApp, pilot: Any) -> None:
    for _ in range(3):
        await pilot.pause(0.05)
        app.flush()
    await pilot.pause()


def test_tables_fill_from_the_feed() -> None:
    async def body(app: DashboardApp, pilot: Any) -> None:
        assert app.syncs["masters"].table.row_count == 3
        assert app.syncs["nodes"].table.row_count == 2
        assert app.syncs["apps"].table.row_count == 2
        assert app.syncs["tasks"].table.row_count == 4
        assert app.syncs["jobs"].table.row_count == 1
        assert "leader master-1" in screen_text(app)

    run(FakeSource(apps=2, tasks=4), body)


def test_pressing_s_scales_the_selected_app_and_the_change_shows() -> None:
    source = FakeSource(apps=1, tasks=2)

    async def body(app: DashboardApp, pilot: Any) -> None:
        assert str(app.syncs["apps"].rows["/svc-0"][1]) == "2/2"
        await pilot.press("s")
        await pilot.pause()
        inp = app.screen.query_one("#prompt-input")
        inp.value = ""  # type: ignore[attr-defined]
        await pilot.press("5", "enter")
        await settle(app, pilot)
        assert ("scale", "/svc-0", 5) in source.calls
        assert str(app.syncs["apps"].rows["/svc-0"][1]) == "5/5"
        assert app.syncs["tasks"].table.row_count == 5
        assert "5/5" in screen_text(app)

    run(source, body)


def test_k_kills_the_selected_task() -> None:
    source = FakeSource(apps=1, tasks=2)

    async def body(app: DashboardApp, pilot: Any) -> None:
        app.query_one("#tasks").focus()
        await pilot.press("k")
        await settle(app, pilot)
        assert source.calls[0][0] == "kill"
        assert app.syncs["tasks"].table.row_count == 1

    run(source, body)


def test_a_failover_shows_an_election_and_recovers() -> None:
    async def body(app: DashboardApp, pilot: Any) -> None:
        app.post_event(m.LeaderChanged(None))
        await settle(app, pilot)
        assert "being elected" in screen_text(app)
        app.post_event(m.LeaderChanged("tcp://127.0.0.1:5052", "http://127.0.0.1:6063", "master-3"))
        await settle(app, pilot)
        text = screen_text(app)
        assert "leader master-3" in text and "being elected" not in text

    run(FakeSource(), body)


def test_filter_narrows_tasks() -> None:
    async def body(app: DashboardApp, pilot: Any) -> None:
        await pilot.press("slash")
        await pilot.press(*"svc-1")
        await settle(app, pilot)
        assert app.syncs["tasks"].table.row_count == 2
        assert app.syncs["apps"].table.row_count == 1

    run(FakeSource(apps=2, tasks=4), body)


def test_log_screen_follows_the_task_sandbox(tmp_path: Path) -> None:
    task_id = "svc-0.task-00000"
    (tmp_path / task_id).mkdir()
    (tmp_path / task_id / "stdout").write_text("hello from the sandbox\n")

    async def body(app: DashboardApp, pilot: Any) -> None:
        app.query_one("#tasks").focus()
        await pilot.press("l")
        await pilot.pause(0.5)
        assert "hello from the sandbox" in screen_text(app)
        await pilot.press("escape")

    run(FakeSource(apps=1, tasks=1, log_dir=tmp_path), body)


def test_a_refresh_of_1000_tasks_updates_every_row() -> None:
    """How fast is bench/console.py's business; here: every changed row is updated."""
    source = FakeSource(apps=10, tasks=1000)

    async def body(app: DashboardApp, pilot: Any) -> None:
        table = app.syncs["tasks"].table
        assert table.row_count == 1000
        tasks = source.tasks()
        for t in tasks:
            t["state"] = "TASK_STAGING"
        app.dirty |= app.model.apply(m.Tasks(tasks))
        app.flush()
        await pilot.pause()
        assert table.row_count == 1000
        states = [str(table.get_row_at(i)) for i in range(table.row_count)]
        assert all("STAGING" in row and "RUNNING" not in row for row in states)

    run(source, body)


def test_snapshot_120x40() -> None:
    """The whole screen as text; regenerate with PYDCOS_UPDATE_SNAPSHOTS=1."""
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()

    async def body(app: DashboardApp, pilot: Any) -> None:
        text = await stable_screen(app, pilot)
        if os.environ.get("PYDCOS_UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
            SNAPSHOT.write_text(text)
        assert text == SNAPSHOT.read_text()

    try:
        run(FakeSource(apps=3, tasks=6), body)
    finally:
        if old_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old_tz
        time.tzset()


@pytest.mark.parametrize("size", [(80, 24)])
def test_small_terminal_still_renders(size: tuple[int, int]) -> None:
    async def body(app: DashboardApp, pilot: Any) -> None:
        assert "pydcos" in screen_text(app)

    run(FakeSource(), body, size=size)
