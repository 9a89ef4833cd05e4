"""The dashboard's SDK plans view (key ``p``), headless: rows per service and plan, the
highlighted plan's tree, live refresh; ``service_rows`` pure."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.widgets import DataTable, Static

from console._dash_sdk import PlansScreen, service_rows
from console._dashboard import DashboardApp
from console._fake import FakeSource


def info(*statuses: str, status: str = "IN_PROGRESS") -> dict[str, Any]:
    steps = [
        {"id": str(i), "name": f"node-{i}:[server]", "status": s, "message": ""}
        for i, s in enumerate(statuses)
    ]
    phase = {"id": "p", "name": "node", "steps": steps, "strategy": "serial", "status": status}
    return {"phases": [phase], "errors": [], "strategy": "serial", "status": status}


def test_service_rows_count_complete_steps() -> None:
    rows = service_rows(
        {
            "zk": {
                "deploy": info("COMPLETE", "STARTING", "PENDING"),
                "update": info(status="COMPLETE"),
            }
        }
    )
    assert rows == {
        "zk/deploy": ("zk", "deploy", "IN_PROGRESS", "1/3"),
        "zk/update": ("zk", "update", "COMPLETE", "0/0"),
    }


class SdkFake(FakeSource):
    def __init__(self) -> None:
        super().__init__()
        self.answers = [
            {"zk": {"deploy": info("COMPLETE", "STARTING")}},
            {"zk": {"deploy": info("COMPLETE", "COMPLETE", status="COMPLETE")}},
        ]

    def sdk_plans(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)


def test_p_shows_the_plans_live() -> None:
    source = SdkFake()

    async def main() -> None:
        app = DashboardApp(source, clock=lambda: 0.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("p")
            screen = app.screen
            assert isinstance(screen, PlansScreen)
            table = screen.query_one("#plans-table", DataTable)
            details = screen.query_one("#plans-details", Static)
            for _ in range(200):
                if table.row_count and "node-1:[server] (STARTING)" in str(details.render()):
                    break
                await pilot.pause(0.02)
            assert table.row_count == 1
            assert "deploy (serial strategy) (IN_PROGRESS)" in str(details.render())
            screen.refresh_plans()
            for _ in range(200):
                if "(COMPLETE)" in str(details.render()).splitlines()[0]:
                    break
                await pilot.pause(0.02)
            assert "deploy (serial strategy) (COMPLETE)" in str(details.render())
            assert table.get_row("zk/deploy")[3] == "2/2"
            await pilot.press("escape")
            assert not isinstance(app.screen, PlansScreen)

    asyncio.run(main())
