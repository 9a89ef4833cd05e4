"""The dashboard's Catalog (key ``c``) headless with Textual's pilot: search, details,
install with defaults. Cosmos here is the real pure half over the bundled Universe (the
live cluster's Catalog is driven in test_packages_e2e.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from textual.widgets import DataTable, Static

from actors.packages import (
    BUNDLED_UNIVERSE,
    Catalog,
    PackagesError,
    build_app,
    build_job,
    parse_repository,
)
from actors.packages import resolve_options as resolve
from actors.packages._universe import describe_v3
from console._dash_catalog import CatalogScreen, details, rows
from console._dashboard import DashboardApp
from console._fake import FakeSource


class FakeCosmos:
    """search / describe / install over the bundled Universe, installs recorded."""

    def __init__(self) -> None:
        doc = json.loads(BUNDLED_UNIVERSE.read_text())
        self.catalog = Catalog([parse_repository(doc, BUNDLED_UNIVERSE.as_uri())])
        self.installed: list[dict[str, Any]] = []

    def __call__(self, op: str, body: dict[str, Any]) -> Any:
        try:
            if op == "search":
                return {"packages": self.catalog.search(body.get("query", ""))}
            pkg = self.catalog.select(body["packageName"])
            if op == "describe":
                return describe_v3(pkg)
            if op == "install":
                options = resolve(pkg.name, pkg.config, {})
                if pkg.metronome_template is not None:
                    app = build_job(pkg, options, {})
                else:
                    app = build_app(pkg, options, {})
                if any(a["id"] == app["id"] for a in self.installed):
                    raise RuntimeError(f"Package [{pkg.name}] is already installed")
                self.installed.append(app)
                return {
                    "packageName": pkg.name,
                    "packageVersion": pkg.version,
                    "appId": app["id"],
                    "postInstallNotes": pkg.definition.get("postInstallNotes"),
                }
        except PackagesError as exc:
            raise RuntimeError(exc.message) from None
        raise AssertionError(op)


def test_rows_and_details_read_cosmos_answers() -> None:
    cosmos = FakeCosmos()
    table = rows(cosmos("search", {"query": ""}))
    assert table["hello-world"] == (
        "★ hello-world",
        "0.2.0",
        cosmos.catalog.select("hello-world").definition["description"],
    )
    text = details(cosmos("describe", {"packageName": "cron-echo"}))
    assert "(Metronome job)" in text
    assert '  job.cron = "*/5 * * * *"' in text
    assert "after install:" in text


def run(body: Callable[[DashboardApp, Any, FakeCosmos], Awaitable[None]]) -> None:
    cosmos = FakeCosmos()
    source = FakeSource()
    source.cosmos = cosmos  # type: ignore[attr-defined]

    async def main() -> None:
        app = DashboardApp(source, clock=lambda: 0.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await body(app, pilot, cosmos)

    asyncio.run(main())


async def until(pilot: Any, cond: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_c_opens_the_catalog_which_searches_describes_and_installs_with_defaults() -> None:
    async def body(app: DashboardApp, pilot: Any, cosmos: FakeCosmos) -> None:
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        table = screen.query_one("#catalog-table", DataTable)
        await until(pilot, lambda: table.row_count == 6, "the catalog's packages")
        info = screen.query_one("#catalog-details", Static)
        await until(pilot, lambda: "hello-world" in str(info.render()), "details")
        assert "service.port = 0" in str(info.render())

        # search narrows the list
        await pilot.click("#catalog-search")
        await pilot.press(*"redis-lite", "enter")
        await until(pilot, lambda: table.row_count == 1, "search results")
        await until(pilot, lambda: "redis.max_keys" in str(info.render()), "redis details")

        # i asks, n cancels, i + y installs
        await pilot.press("i")
        status = screen.query_one("#catalog-status", Static)
        assert "with its defaults? (y/n)" in str(status.render())
        await pilot.press("n")
        assert cosmos.installed == []
        await pilot.press("i", "y")
        await until(pilot, lambda: "installed /redis-lite" in str(status.render()), "install")
        assert [a["id"] for a in cosmos.installed] == ["/redis-lite"]
        # a second install of the same defaults is refused, and said so
        await pilot.press("i", "y")
        await until(pilot, lambda: "already installed" in str(status.render()), "the refusal")
        assert len(cosmos.installed) == 1

        await pilot.press("escape")
        assert not isinstance(app.screen, CatalogScreen)

    run(body)
