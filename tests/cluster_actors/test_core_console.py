"""The console's views of user actors, without a cluster: the dashboard's Actors view
(key ``a``) headless with Textual's pilot over a fake framework API, and the pure row
and detail builders of ``pydcos actor`` (the live CLI is driven in test_cluster_e2e)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual.widgets import DataTable, Static

from console._actor_cmds import USER_COLUMNS, is_json, uptime_text, user_rows
from console._dash_actors import ActorsScreen, details, rows
from console._dashboard import HELP, DashboardApp
from console._fake import FakeSource


def actor(actor_id: str, name: str, state: str = "RUNNING", **kw: Any) -> dict[str, Any]:
    doc = {
        "id": actor_id,
        "name": name,
        "namespace": "default",
        "class": "app:Counter",
        "state": state,
        "node": "agent-1",
        "agent_id": "S1",
        "address": f"tcp://127.0.0.1:4000/{actor_id}",
        "incarnation": 1,
        "restarts": 0,
        "max_restarts": 5,
        "restart": "permanent",
        "lifetime": "owned",
        "uptime": 75.0,
        "cpus": 0.5,
        "mem": 128.0,
        "group": "",
        "last_exit": "",
        "checkpoint_bytes": 0,
        "waiting": {},
    }
    doc.update(kw)
    return doc


class FakeFramework:
    """GET lists, DELETE kills (the actor turns STOPPED and leaves the live list)."""

    def __init__(self) -> None:
        self.actors = {
            "counter-1": actor("counter-1", "counter"),
            "hog-2": actor(
                "hog-2",
                "",
                "RESTARTING",
                restarts=1,
                last_exit="OOM-killed (memory limit)",
                waiting={"agent-2": "mem: need 4096, offer has 900"},
            ),
        }
        self.killed: list[str] = []

    def __call__(self, method: str, path: str) -> Any:
        if method == "GET":
            live = [a for a in self.actors.values() if a["state"] != "STOPPED"]
            return {"actors": live, "counts": {"RUNNING": 1, "RESTARTING": 1}}
        if method == "DELETE":
            actor_id = path.strip("/")
            if actor_id not in self.actors:
                raise RuntimeError(f"no actor {actor_id!r}")
            self.killed.append(actor_id)
            self.actors[actor_id]["state"] = "STOPPED"
            return {"id": actor_id, "state": "STOPPED"}
        raise AssertionError(method)


def test_rows_and_details_show_what_the_framework_says() -> None:
    fw = FakeFramework()
    table = rows(fw("GET", ""))
    assert table["counter-1"] == (
        "counter",
        "Counter",
        "agent-1",
        "[green]RUNNING[/green]",
        "0",
        "75s",
        "0.5/128",
    )
    assert table["hog-2"][0] == "-" and "RESTARTING" in table["hog-2"][3]
    text = details(fw.actors["hog-2"])
    assert "last exit: OOM-killed (memory limit)" in text
    assert "waiting: agent-2: mem: need 4096" in text


def test_cli_rows_uptime_and_the_ask_form() -> None:
    (row,) = user_rows([actor("c-1", "counter", uptime=7300.0)])
    assert len(row) == len(USER_COLUMNS)
    assert row[:5] == ("counter", "c-1", "app:Counter", "agent-1", "RUNNING")
    assert row[6:] == ("2h", "0.5/128")
    assert [uptime_text(x) for x in (None, 5, 600, 200000)] == ["-", "5s", "10m", "2d"]
    assert is_json('{"@type": "GetState"}') and is_json("1") and not is_json("incr")


def test_help_names_the_actors_key() -> None:
    assert "  a    users' cluster actors" in HELP


def run(body: Callable[[DashboardApp, Any, FakeFramework], Awaitable[None]]) -> None:
    fw = FakeFramework()
    source = FakeSource()
    source.actors_api = fw  # type: ignore[attr-defined]

    async def main() -> None:
        app = DashboardApp(source, clock=lambda: 0.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await body(app, pilot, fw)

    asyncio.run(main())


async def until(pilot: Any, cond: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if cond():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_opens_the_actors_view_which_lists_details_and_kills() -> None:
    async def body(app: DashboardApp, pilot: Any, fw: FakeFramework) -> None:
        await pilot.press("a")
        screen = app.screen
        assert isinstance(screen, ActorsScreen)
        table = screen.query_one("#actors-table", DataTable)
        await until(pilot, lambda: table.row_count == 2, "the actors")
        info = screen.query_one("#actors-details", Static)
        await until(pilot, lambda: "counter-1" in str(info.render()), "details")
        status = screen.query_one("#actors-status", Static)
        assert "2 actors (1 restarting, 1 running)" in str(status.render())

        await pilot.press("down")
        await until(pilot, lambda: "OOM-killed" in str(info.render()), "the second's details")

        # k asks, n cancels, k + y kills the selected one
        await pilot.press("k")
        assert "kill actor hog-2? (y/n)" in str(status.render())
        await pilot.press("n")
        assert fw.killed == []
        await pilot.press("k", "y")
        await until(pilot, lambda: fw.killed == ["hog-2"], "the kill")
        await until(pilot, lambda: table.row_count == 1, "the list without it")

        await pilot.press("escape")
        assert not isinstance(app.screen, ActorsScreen)

    run(body)
