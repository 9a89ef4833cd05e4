"""The dashboard headless (``App.run_test()``), fed by a fake source: events in, rows out."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import DataTable

from console import _model as m
from console._dashboard import HELP, ConfirmScreen, DashboardApp, screen_text, terminal_size
from console._fake import FakeSource, sample_masters
from console._feed import RefreshPlan

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
        if any(t._require_update_dimensions or t._updated_cells for t in app.query(DataTable)):
            continue  # column widths are measured when the app is idle: not yet
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


def test_k_asks_for_confirmation_and_n_keeps_the_task() -> None:
    source = FakeSource(apps=1, tasks=2)

    async def body(app: DashboardApp, pilot: Any) -> None:
        app.query_one("#tasks").focus()
        await pilot.press("k")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "kill task svc-0.task-00000 of /svc-0?" in screen_text(app)
        await pilot.press("n")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert source.calls == []
        assert app.syncs["tasks"].table.row_count == 2

    run(source, body)


def test_k_then_y_kills_the_selected_task() -> None:
    source = FakeSource(apps=1, tasks=2)

    async def body(app: DashboardApp, pilot: Any) -> None:
        app.query_one("#tasks").focus()
        await pilot.press("k")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert source.calls[0] == ("kill", "svc-0.task-00000", "/svc-0")
        assert app.syncs["tasks"].table.row_count == 1

    run(source, body)


def master_roles(app: DashboardApp) -> dict[str, str]:
    return {str(row[0]): str(row[1]) for row in app.syncs["masters"].rows.values()}


def test_killed_leader_shows_electing_then_down_after_the_election() -> None:
    """3 masters, SIGKILL the leader: "electing" from the moment it stops answering until
    ZooKeeper names the successor, then the dead master stays listed as down."""
    source = FakeSource()

    async def body(app: DashboardApp, pilot: Any) -> None:
        assert master_roles(app) == {
            "master-1": "leader",
            "master-2": "standby",
            "master-3": "standby",
        }
        source.kill_leader()
        await settle(app, pilot)
        text = screen_text(app)
        assert "electing a leader: master-1 is gone" in text
        assert "Masters: electing a leader" in text
        assert master_roles(app) == {
            "master-1": "down",
            "master-2": "electing",
            "master-3": "electing",
        }
        source.elect("master-3")
        await settle(app, pilot)
        text = screen_text(app)
        assert "leader master-3" in text and "electing" not in text.splitlines()[0]
        assert master_roles(app) == {
            "master-1": "down",
            "master-2": "standby",
            "master-3": "leader",
        }
        assert "masters 2/3" in text  # up/known: the dead one still counts

    run(source, body)


def test_a_master_known_from_the_state_dir_but_not_in_the_election_is_down() -> None:
    async def body(app: DashboardApp, pilot: Any) -> None:
        masters = sample_masters()
        app.post_event(m.Masters([{**masters[0], "leader": True}], masters))
        await settle(app, pilot)
        assert master_roles(app) == {"master-1": "leader", "master-2": "down", "master-3": "down"}

    run(FakeSource(), body)


def test_zookeeper_losing_the_leader_shows_an_election_and_recovers() -> None:
    async def body(app: DashboardApp, pilot: Any) -> None:
        app.post_event(m.LeaderChanged(None))
        await settle(app, pilot)
        assert "being elected" in screen_text(app)
        app.post_event(m.LeaderChanged("tcp://127.0.0.1:5052", "http://127.0.0.1:6063", "master-3"))
        await settle(app, pilot)
        text = screen_text(app)
        assert "leader master-3" in text and "being elected" not in text

    run(FakeSource(), body)


def test_after_a_rollback_the_apps_panel_converges_to_the_api() -> None:
    """Scale 2 -> 3 gets stuck (2/3 deploying); the rollback reverts to 2 instances.
    Marathon sends no event that sets instances back or ends the stuck deployment: only
    the re-read of /v2/apps and /v2/deployments does."""
    source = FakeSource(apps=1, tasks=2)

    async def body(app: DashboardApp, pilot: Any) -> None:
        source.stuck = True
        source.scale_app("/svc-0", 3)
        await settle(app, pilot)
        row = app.syncs["apps"].rows["/svc-0"]
        assert (str(row[1]), str(row[4])) == ("2/3", "deploying")
        source.rollback(source.deployments[0]["id"])
        await settle(app, pilot)
        row = app.syncs["apps"].rows["/svc-0"]
        assert (str(row[1]), str(row[3]), str(row[4])) == ("2/2", "0", "-")
        assert app.model.apps["/svc-0"].instances == 2
        assert app.syncs["tasks"].table.row_count == 2

    run(source, body)


def test_a_repeated_task_running_is_not_logged_again() -> None:
    async def body(app: DashboardApp, pilot: Any) -> None:
        before = len(app.model.events)
        update = {
            "eventType": "status_update_event",
            "appId": "/svc-0",
            "taskId": "svc-0.task-00000",
            "taskStatus": "TASK_RUNNING",
        }
        app.post_event(m.MarathonEvent(update))  # already running (from /v2/tasks)
        await settle(app, pilot)
        assert len(app.model.events) == before
        app.post_event(m.MarathonEvent({**update, "taskStatus": "TASK_KILLED"}))
        app.post_event(
            m.MarathonEvent({**update, "taskId": "svc-0.new", "taskStatus": "TASK_RUNNING"})
        )
        await settle(app, pilot)
        logged = [text for _, text in list(app.model.events)[before:]]
        assert logged == ["/svc-0 0.task-00000 TASK_KILLED", "/svc-0 svc-0.new TASK_RUNNING"]

    run(FakeSource(apps=1, tasks=1), body)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_help_is_readable_unwrapped(size: tuple[int, int]) -> None:
    lines = [Text.from_markup(x).plain.strip() for x in HELP.splitlines() if x.strip()]

    async def body(app: DashboardApp, pilot: Any) -> None:
        await pilot.press("question_mark")
        await settle(app, pilot)
        text = screen_text(app)
        for line in lines:
            assert line in text, f"help line cut or wrapped at {size}: {line!r}"
        await pilot.press("escape")

    run(FakeSource(), body, size=size)


def test_app_columns_keep_their_width_and_headers_at_120() -> None:
    source = FakeSource(apps=2, tasks=2)

    async def body(app: DashboardApp, pilot: Any) -> None:
        header = next(x for x in screen_text(app).splitlines() if "SERVICE" in x and "RUNNING" in x)
        app.post_event(
            m.Apps(
                [
                    {"id": "/a-very-long-service-name/web", "instances": 12, "healthChecks": []},
                    {"id": "/b", "instances": 1, "container": {"type": "DOCKER"}},
                ]
            )
        )
        app.post_event(m.Deployments([{"id": "d1", "affectedApps": ["/b"]}]))
        await settle(app, pilot)
        after = next(x for x in screen_text(app).splitlines() if "SERVICE" in x and "RUNNING" in x)
        assert after == header
        assert "CONTAINER" in after

    run(source, body)


def test_log_of_a_task_without_output_says_so(tmp_path: Path) -> None:
    task_id = "svc-0.task-00000"
    (tmp_path / task_id).mkdir()
    (tmp_path / task_id / "stdout").write_text("")
    (tmp_path / task_id / "stderr").write_text("")

    async def body(app: DashboardApp, pilot: Any) -> None:
        app.query_one("#tasks").focus()
        await pilot.press("l")
        await pilot.pause(0.5)
        assert "no output yet (stdout and stderr are empty)" in screen_text(app)
        await pilot.press("escape")

    run(FakeSource(apps=1, tasks=1, log_dir=tmp_path), body)


def test_terminal_size_comes_from_a_terminal_when_stdout_is_a_pipe() -> None:
    """`pydcos dashboard | tee` drew at 80x25 in a 120x40 terminal: stdout is a pipe,
    but stderr (where Textual draws) is the terminal."""
    master, slave = os.openpty()
    r, w = os.pipe()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        assert terminal_size([w, slave], env={}) == (120, 40)
        assert terminal_size([w], env={}) == (80, 24)
        assert terminal_size([slave], env={"COLUMNS": "100", "LINES": "30"}) == (100, 30)
    finally:
        for fd in (master, slave, r, w):
            os.close(fd)


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


@pytest.mark.parametrize(
    ("address", "up", "leader", "electing", "lost", "state"),
    [
        ("a", {"a", "b"}, "a", False, None, "leader"),
        ("b", {"a", "b"}, "a", False, None, "standby"),
        ("c", {"a", "b"}, "a", False, None, "down"),  # in the state dir, not in the election
        ("a", {"a", "b"}, "a", True, "a", "down"),  # stopped answering, ZooKeeper not yet aware
        ("b", {"a", "b"}, "a", True, "a", "electing"),
        ("a", {"a", "b"}, "b", False, "a", "down"),  # replaced, its session not yet expired
    ],
)
def test_master_state(
    address: str, up: set[str], leader: str, electing: bool, lost: str | None, state: str
) -> None:
    assert m.master_state(address, up, leader, electing, lost) == state


def test_refresh_plan_rereads_after_deployment_events_and_periodically() -> None:
    plan = RefreshPlan(now=100.0, every=5.0, delay=0.5)
    assert plan.due(100.0) is None and plan.wait(100.0) == 5.0
    assert not plan.event("status_update_event", 101.0)  # task updates: events suffice
    assert plan.due(101.0) is None
    assert plan.event("deployment_success", 101.0)
    assert plan.event("deployment_info", 101.2)  # a burst: still one read
    assert plan.due(101.4) is None and plan.wait(101.4) == pytest.approx(0.1)
    assert plan.due(101.5) == "marathon"
    plan.done("marathon", 101.5)
    assert plan.due(104.9) is None
    assert plan.due(105.0) == "full"
    plan.done("full", 105.0)
    assert plan.due(109.9) is None and plan.due(110.0) == "full"


PROBE = """
import os
import sys
sys.path.insert(0, {repo!r})
from console._dashboard import DashboardApp, _sized_driver
from console._fake import FakeSource

class Probe(DashboardApp):
    def on_ready(self) -> None:
        os.write(1, f"{{self.size.width}}x{{self.size.height}}\\n".encode())  # stdout: the pipe
        self.exit()

Probe(FakeSource(), driver_class=_sized_driver()).run()
"""


def test_piped_stdout_draws_at_the_terminals_size() -> None:
    """`pydcos dashboard | cat` in a 120x40 terminal: the app is 120x40, not 80x24 (what
    Textual's own driver finds, asking the piped stdout)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE.format(repo=str(Path(__file__).resolve().parents[2]))],
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    os.close(slave)

    def drain() -> None:  # read what it draws, so the terminal's buffer never fills
        with contextlib.suppress(OSError):
            while os.read(master, 65536):
                pass

    threading.Thread(target=drain, daemon=True).start()
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert out.strip().splitlines()[-1] == "120x40"


def test_quarantined_records_are_counted_in_the_header_and_logged_once() -> None:
    """Issue 30: a record the leader refused to load is reported in the dashboard too."""
    bad = {
        "path": "/marathon/versions/_bad",
        "kind": "app",
        "id": "/bad",
        "reason": "/cpus: NaN is not allowed",
        "since": "2026-12-06T00:00:00.000Z",
    }

    async def body(app: DashboardApp, pilot: Any) -> None:
        app.post_event(m.Quarantined("marathon", [bad]))
        await settle(app, pilot)
        assert "quarantined 1" in screen_text(app).splitlines()[0]
        logged = [text for _, text in app.model.events if "quarantined" in text]
        assert logged == ["marathon quarantined app /bad: /cpus: NaN is not allowed"]
        app.post_event(m.Quarantined("marathon", [bad]))  # the next periodic read
        app.post_event(m.Quarantined("metronome", []))
        await settle(app, pilot)
        assert len([t for _, t in app.model.events if "quarantined" in t]) == 1
        app.post_event(m.Quarantined("marathon", []))  # deleted or replaced
        await settle(app, pilot)
        assert "quarantined" not in screen_text(app).splitlines()[0]

    run(FakeSource(apps=1, tasks=1), body)


def test_agents_sharing_a_hostname_are_told_apart_by_their_id() -> None:
    """A local cluster's agents all register as 127.0.0.1 (a name that resolves)."""
    nodes = [
        {"id": f"c0ffee-S{i}", "hostname": "127.0.0.1", "active": True, "resources": {}}
        for i in (1, 2)
    ] + [{"id": "c0ffee-S3", "hostname": "10.0.0.7", "active": True, "resources": {}}]

    async def body(app: DashboardApp, pilot: Any) -> None:
        app.post_event(m.Nodes(nodes))
        await settle(app, pilot)
        names = [row[0] for row in app._node_rows().values()]
        assert names == ["10.0.0.7", "127.0.0.1 S1", "127.0.0.1 S2"]

    run(FakeSource(apps=1, tasks=1), body)
