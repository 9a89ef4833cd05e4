"""``pydcos dashboard``: a Textual console in the spirit of k9s and the DC/OS UI.

```
 DataSource (LiveSource | a test's fake) --emit(event)--> FeedEvent message (thread-safe)
   on_feed_event: Model.apply(event) -> dirty tables            (no I/O on the UI thread)
   flush() every 100 ms: only dirty tables, only changed rows/cells (DataTable keys)
 keys: s scale  r restart  k kill task (asks y/n)  l task log  / filter  ? help  q quit
```

Masters come from ZooKeeper's election and the local state dir, so a dead master stays
listed, as ``down``; the header and the Masters panel say "electing" from the moment the
leader stops answering until ZooKeeper names its successor. Column widths are fixed (a
panel never reflows as rows arrive) and fit a 120-column terminal.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, RichLog, Static

from console import _model as m
from console._feed import DataSource

FLUSH_INTERVAL = 0.1
NODE_BAR = 6
"""Cells of a usage bar: three bars, their figures and the node's name fit in 76."""


class FeedEvent(Message):
    """An event from the data source, delivered on the UI thread."""

    def __init__(self, event: object) -> None:
        super().__init__()
        self.event = event


def bar(used: float, total: float, width: int = 8) -> Text:
    frac = 0.0 if total <= 0 else max(0.0, min(1.0, used / total))
    full = round(frac * width)
    color = "green" if frac < 0.7 else ("yellow" if frac < 0.9 else "red")
    t = Text("█" * full, style=color)
    t.append("░" * (width - full), style="grey37")
    t.append(f" {used:g}/{total:g}")
    return t


def _scalar(res: Any, name: str) -> float:
    v = res.get(name, 0) if isinstance(res, dict) else 0
    return float(v) if isinstance(v, int | float) else 0.0


class TableSync:
    """Keeps a DataTable equal to a dict of rows, touching only what changed."""

    def __init__(
        self, table: DataTable[Any], columns: Sequence[tuple[str, str, int | None]]
    ) -> None:
        self.table = table
        self.keys = [k for _, k, _ in columns]
        self.auto = {k for _, k, w in columns if w is None}
        """Columns sized by content: they must grow when a cell is updated, not only
        when a row is added (else "0.1/2" shows as "0.1")."""
        for label, key, width in columns:
            table.add_column(label, key=key, width=width)
        self.rows: dict[str, tuple[Any, ...]] = {}

    def sync(self, rows: dict[str, tuple[Any, ...]]) -> None:
        t = self.table
        gone = [k for k in self.rows if k not in rows]
        if len(gone) > 32 and len(gone) * 2 > len(self.rows):
            t.clear()  # one clear beats many removals (each is O(rows))
            self.rows = {}
        else:
            for key in gone:
                t.remove_row(key)
                del self.rows[key]
        for key, row in rows.items():
            old = self.rows.get(key)
            if old is None:
                t.add_row(*row, key=key)
            elif old != row:
                for col, a, b in zip(self.keys, old, row, strict=True):
                    if a != b:
                        t.update_cell(key, col, b, update_width=col in self.auto)
            self.rows[key] = row

    def selected_key(self) -> str | None:
        t = self.table
        if t.row_count == 0:
            return None
        try:
            row_key, _ = t.coordinate_to_cell_key(t.cursor_coordinate)
        except Exception:
            return None
        return None if row_key.value is None else str(row_key.value)


class PromptScreen(ModalScreen[str | None]):
    """One line of input (the new instance count)."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, value: str = "") -> None:
        super().__init__()
        self.prompt, self.value = prompt, value

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Static(self.prompt)
            yield Input(value=self.value, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question (before anything that can't be undone, like killing a task)."""

    BINDINGS: ClassVar = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.question)
            yield Static("[b]y[/b] yes    [b]n[/b] / esc no", classes="keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


HELP = """\
[b]pydcos dashboard[/b]: live from Marathon's events and ZooKeeper

  s    scale the selected service (asks for the count)
  r    restart the selected service
  k    kill the selected task (asks y/n first)
  l    follow the selected task's output (esc closes)
  m    CPU and memory plots of nodes and tasks (esc closes)
  c    package catalog: search, describe, install (esc closes)
  a    users' cluster actors; k kills one (esc closes)
  p    SDK services' plans, live (esc closes)
  /    filter services and tasks (esc clears)
  tab  move between panels
  ?    this help (esc closes)
  q    quit (the cluster keeps running)

Masters: leader, standby, electing (no leader yet), down
Apps: RUNNING is running/instances; DEPLOYMENT deploying or -"""
"""One column, lines of at most 62 cells: readable, unwrapped, at 80x24."""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP)

    def action_close(self) -> None:
        self.dismiss(None)


COLUMNS: dict[str, list[tuple[str, str, int | None]]] = {
    "masters": [("MASTER", "host", 10), ("ROLE", "role", 8), ("HTTP", "http", 15)],
    "nodes": [
        ("NODE", "host", None),
        ("STATE", "state", None),
        ("CPU", "cpu", None),
        ("MEM", "mem", None),
        ("DISK", "disk", None),
        ("TASKS", "tasks", None),
    ],
    "apps": [
        ("SERVICE", "id", 14),
        ("RUNNING", "running", 7),
        ("HEALTHY", "healthy", 7),
        ("STAGED", "staged", 6),
        ("DEPLOYMENT", "deployment", 10),
        ("CONTAINER", "container", 9),
    ],
    "jobs": [
        ("JOB", "id", 14),
        ("STATUS", "status", 9),
        ("SCHEDULE", "cron", 11),
        ("OK/FAIL", "runs", 7),
    ],
    "tasks": [
        ("TASK", "id", 48),
        ("SERVICE", "app", 16),
        ("STATE", "state", 8),
        ("HEALTH", "health", 9),
        ("HOST", "host", 16),
    ],
}
"""Fixed widths (cells; each column also has 1 cell of padding on both sides): a panel
never reflows as rows arrive, and every header fits at 120 columns with room for a
scroll bar. Nodes size to their (similar) usage bars.
Masters show their HTTP address without the scheme, so ROLE fits "electing"."""


def _masters_up(masters: list[dict[str, Any]]) -> str:
    """``3``, or ``2/3`` (up/known) when some are down."""
    up = sum(1 for x in masters if x["state"] != "down")
    return str(up) if up == len(masters) else f"{up}/{len(masters)}"


class DashboardApp(App[None]):
    """The console. ``source`` is injectable: a ``LiveSource`` or a test's fake."""

    TITLE = "pydcos"
    CSS = """
    #header { height: 1; background: $primary-background; padding: 0 1; }
    #header.electing { background: darkorange; color: black; }
    .row1 { height: 8; }
    .row2 { height: 9; }
    DataTable { height: 1fr; border: round $panel; }
    DataTable:focus { border: round $accent; }
    #masters { width: 42; }
    #apps { width: 69; }
    #events { height: 7; border: round $panel; }
    #filter { dock: bottom; display: none; }
    #filter.shown { display: block; }
    #prompt, #log, #help, #confirm { background: $panel; border: thick $accent; padding: 1; }
    #prompt { width: 50; height: 9; }
    #confirm { width: auto; max-width: 100%; height: auto; padding: 1 2; }
    #confirm Static { width: auto; }
    #confirm .keys { margin-top: 1; }
    #log { width: 90%; height: 90%; }
    PromptScreen, HelpScreen, ConfirmScreen { align: center middle; }
    #help { width: 68; max-width: 100%; height: auto; max-height: 100%; padding: 0 1; }
    """
    BINDINGS: ClassVar = [
        Binding("s", "scale", "Scale"),
        Binding("r", "restart", "Restart"),
        Binding("k", "kill", "Kill task"),
        Binding("l", "log", "Log"),
        Binding("slash", "filter", "Filter"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("m", "metrics", "Metrics", show=False),
        Binding("c", "catalog", "Catalog", show=False),
        Binding("n", "names", "Names", show=False),
        Binding("a", "actors", "Actors", show=False),
        Binding("p", "plans", "Plans", show=False),
    ]

    def __init__(
        self,
        source: DataSource,
        *,
        clock: Callable[[], float] = time.time,
        driver_class: Any = None,
    ) -> None:
        super().__init__(driver_class=driver_class)
        self.source = source
        self.model = m.Model(clock=clock)
        self.clock = clock
        self.dirty: set[str] = set()
        self.filter = ""
        self.syncs: dict[str, TableSync] = {}
        self.last_flush_ms = 0.0

    # -- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("pydcos: connecting...", id="header")
        with Horizontal(classes="row1"):
            yield DataTable(id="masters", cursor_type="row")
            yield DataTable(id="nodes", cursor_type="row")
        with Horizontal(classes="row2"):
            yield DataTable(id="apps", cursor_type="row")
            yield DataTable(id="jobs", cursor_type="row")
        yield DataTable(id="tasks", cursor_type="row")
        yield RichLog(id="events", max_lines=500, wrap=False)
        yield Input(placeholder="filter apps and tasks (enter: keep, esc: clear)", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        for name, columns in COLUMNS.items():
            table = self.query_one(f"#{name}", DataTable)
            table.border_title = name.capitalize()
            self.syncs[name] = TableSync(table, columns)
        self.query_one("#events", RichLog).border_title = "Events"
        self.set_interval(FLUSH_INTERVAL, self.flush)
        self.source.start(self.post_event)
        self.query_one("#apps", DataTable).focus()

    def post_event(self, event: object) -> None:
        """The source's ``emit``: any thread."""
        self.post_message(FeedEvent(event))

    def on_feed_event(self, message: FeedEvent) -> None:
        self.dirty |= self.model.apply(message.event)

    def on_unmount(self) -> None:
        self.source.stop()

    # -- rendering --------------------------------------------------------------------

    def flush(self) -> None:
        """Redraw what changed since the last flush (called every 100 ms)."""
        if not self.dirty and not self.model.new_events:
            return
        started = time.perf_counter()
        dirty, self.dirty = self.dirty, set()
        if "header" in dirty or "masters" in dirty or "apps" in dirty or "tasks" in dirty:
            self._header()
        if "masters" in dirty:
            self.syncs["masters"].sync(self._master_rows())
        if "nodes" in dirty:
            self.syncs["nodes"].sync(self._node_rows())
        if "apps" in dirty or "tasks" in dirty:
            self.syncs["apps"].sync(self._app_rows())
        if "tasks" in dirty:
            self.syncs["tasks"].sync(self._task_rows())
        if "jobs" in dirty:
            self.syncs["jobs"].sync(self._job_rows())
        if self.model.new_events:
            log = self.query_one("#events", RichLog)
            for ts, text in self.model.new_events[-50:]:
                log.write(f"{time.strftime('%H:%M:%S', time.localtime(ts))} {text}")
            self.model.new_events.clear()
        self.last_flush_ms = (time.perf_counter() - started) * 1000.0

    def _header(self) -> None:
        md = self.model
        header = self.query_one("#header", Static)
        masters = self.query_one("#masters", DataTable)
        if md.electing:
            header.add_class("electing")
            masters.border_title = "Masters: electing a leader"
            if md.leader is None:
                header.update("pydcos  connecting: waiting for a leader...")
            else:
                header.update(
                    f"pydcos  ⚠ electing a leader: {m.leader_name(md.leader)} is gone, "
                    "a new leader is being elected..."
                )
            return
        masters.border_title = "Masters"
        header.remove_class("electing")
        leader = md.leader
        name = (leader.hostname or leader.address) if leader else "?"
        url = leader.http_url if leader else ""
        header.update(
            f"pydcos  leader [b]{name}[/b] {url}   masters {_masters_up(md.masters)}   "
            f"nodes {len(md.nodes)}   services {len(md.apps)}   tasks {len(md.tasks)}   "
            f"jobs {len(md.jobs)}"
            + (f"   [b red]⚠ quarantined {md.quarantine_count}[/]" if md.quarantine_count else "")
            + (f"   filter: {self.filter}" if self.filter else "")
        )

    def _match(self, *values: str) -> bool:
        f = self.filter.lower()
        return not f or any(f in v.lower() for v in values)

    def _master_rows(self) -> dict[str, tuple[Any, ...]]:
        styles = {"leader": "bold green", "down": "bold red", "electing": "yellow"}
        return {
            str(x["address"]): (
                x.get("hostname", ""),
                Text(x["state"], style=styles.get(x["state"], "")),
                str(x.get("http_url", "")).removeprefix("http://"),
            )
            for x in self.model.masters
        }

    def _node_rows(self) -> dict[str, tuple[Any, ...]]:
        out: dict[str, tuple[Any, ...]] = {}
        names = Counter(str(a.get("hostname", "")) for a in self.model.nodes.values())
        for node_id, a in sorted(
            self.model.nodes.items(), key=lambda kv: (str(kv[1].get("hostname")), kv[0])
        ):
            total, used = a.get("resources") or {}, a.get("used_resources") or {}
            host = str(a.get("hostname", node_id))
            if names[host] > 1:  # agents of one machine (a local cluster): tell them apart
                host = f"{host} {node_id.rsplit('-', 1)[-1]}"
            out[node_id] = (
                host,
                "active" if a.get("active") else Text("unreachable", style="red"),
                bar(_scalar(used, "cpus"), _scalar(total, "cpus"), NODE_BAR),
                bar(_scalar(used, "mem"), _scalar(total, "mem"), NODE_BAR),
                bar(_scalar(used, "disk"), _scalar(total, "disk"), NODE_BAR),
                str(a.get("task_count", "")),
            )
        return out

    def _app_rows(self) -> dict[str, tuple[Any, ...]]:
        out: dict[str, tuple[Any, ...]] = {}
        for app_id, app in sorted(self.model.apps.items()):
            if not self._match(app_id, app.cmd):
                continue
            running, staged, healthy = self.model.app_counts(app_id)
            ok = running >= app.instances
            out[app_id] = (
                app_id,
                Text(f"{running}/{app.instances}", style="green" if ok else "yellow"),
                f"{healthy}" if app.has_health else "-",
                str(staged),
                (Text("deploying", style="yellow") if app.deployments else "-"),
                app.container,
            )
        return out

    def _task_rows(self) -> dict[str, tuple[Any, ...]]:
        out: dict[str, tuple[Any, ...]] = {}
        for task_id, t in self.model.tasks.items():
            if self.filter and not self._match(task_id, t.app, t.host, t.state):
                continue
            health = "-" if t.healthy is None else ("healthy" if t.healthy else "unhealthy")
            out[task_id] = (task_id, t.app, t.state.removeprefix("TASK_"), health, t.host)
        return out

    def _job_rows(self) -> dict[str, tuple[Any, ...]]:
        out: dict[str, tuple[Any, ...]] = {}
        for job_id, j in sorted(self.model.jobs.items()):
            schedules = j.get("schedules") or []
            summary = j.get("historySummary") or {}
            out[job_id] = (
                job_id,
                "running" if j.get("activeRuns") else ("scheduled" if schedules else "idle"),
                ",".join(s.get("cron", "") for s in schedules) or "-",
                f"{summary.get('successCount', 0)}/{summary.get('failureCount', 0)}",
            )
        return out

    # -- actions ----------------------------------------------------------------------

    def _selected(self, table: str) -> str | None:
        return self.syncs[table].selected_key() if table in self.syncs else None

    def _act(self, what: str, fn: Callable[[], str]) -> None:
        def run() -> None:
            try:
                text = fn()
            except Exception as exc:
                text = f"{what} failed: {exc}"
            self.post_event(m.FeedNote(text))

        threading.Thread(target=run, name=f"dashboard-{what}", daemon=True).start()

    def action_scale(self) -> None:
        app_id = self._selected("apps")
        if app_id is None:
            self.notify("select a service first", severity="warning")
            return
        current = self.model.apps[app_id].instances if app_id in self.model.apps else 0

        def done(value: str | None) -> None:
            if value is None:
                return
            try:
                n = int(value)
                if n < 0:
                    raise ValueError
            except ValueError:
                self.notify(f"{value!r} is not a number of instances", severity="error")
                return
            self._act("scale", lambda: self.source.scale_app(app_id, n))

        self.push_screen(PromptScreen(f"instances of {app_id}:", str(current)), done)

    def action_restart(self) -> None:
        app_id = self._selected("apps")
        if app_id is not None:
            self._act("restart", lambda: self.source.restart_app(app_id))

    def action_kill(self) -> None:
        task_id = self._selected("tasks")
        if task_id is None:
            self.notify("select a task first (tab to the Tasks panel)", severity="warning")
            return
        t = self.model.tasks.get(task_id)
        app = t.app if t is not None and t.framework == "marathon" else ""

        def done(yes: bool | None) -> None:
            if yes:
                self._act("kill", lambda: self.source.kill_task(task_id, app))

        where = f" of {app}" if app else ""
        self.push_screen(ConfirmScreen(f"kill task {task_id}{where}?"), done)

    def action_log(self) -> None:
        task_id = self._selected("tasks")
        if task_id is not None:
            from console._dash_logs import open_task_log  # remote: any master's logs API

            open_task_log(self, self.source, task_id)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter = event.value.strip()
            self.dirty |= {"apps", "tasks", "header"}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one("#tasks", DataTable).focus()

    def on_key(self, event: Any) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.remove_class("shown")
            self.query_one("#apps", DataTable).focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_metrics(self) -> None:
        from console._dash_metrics import open_metrics

        open_metrics(self)

    def action_names(self) -> None:
        """The selected service's DNS and VIP names, in the events log (issue 20)."""
        app_id = self._selected("apps")
        app = self.model.apps.get(app_id) if app_id is not None else None
        if app is None:
            self.notify("select a service first", severity="warning")
            return
        self.query_one("#events", RichLog).write(f"{app.id}: {'  '.join(m.app_names(app))}")

    def action_catalog(self) -> None:
        from console._dash_catalog import open_catalog

        open_catalog(self)

    def action_actors(self) -> None:
        from console._dash_actors import open_actors  # users' cluster actors (issue 27)

        open_actors(self)

    def action_plans(self) -> None:
        from console._dash_sdk import open_plans  # SDK services' plans (issue 28)

        open_plans(self)


def screen_text(app: App[Any]) -> str:
    """The current screen as plain text (for snapshot tests and the benchmark)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)


def terminal_size(
    fds: Iterable[int], env: dict[str, str] | None = None, fallback: tuple[int, int] = (80, 24)
) -> tuple[int, int]:
    """(columns, lines) of the first of ``fds`` that is a terminal.

    Textual asks stdout only, so with stdout piped (``pydcos dashboard | tee x``) it drew
    at 80x25 inside a larger terminal, although it draws on stderr. ``COLUMNS``/``LINES``
    win, as in ``shutil.get_terminal_size``.
    """
    vars_: Any = os.environ if env is None else env
    try:
        cols, lines = int(vars_.get("COLUMNS", "0")), int(vars_.get("LINES", "0"))
    except ValueError:
        cols = lines = 0
    if cols > 0 and lines > 0:
        return cols, lines
    for fd in fds:
        try:
            size = os.get_terminal_size(fd)
        except (OSError, ValueError):
            continue
        if size.columns > 0 and size.lines > 0:
            return size.columns, size.lines
    return fallback


def _tty_fds() -> list[int]:
    """stderr (where Textual draws), stdin, stdout, then the controlling terminal."""
    fds = []
    for stream in (sys.__stderr__, sys.__stdin__, sys.__stdout__):
        try:
            if stream is not None:
                fds.append(stream.fileno())
        except (OSError, ValueError):
            continue
    return fds


def _sized_driver() -> Any:
    """Textual's Linux driver, sized by ``terminal_size`` (None elsewhere: the default)."""
    if sys.platform == "win32":
        return None
    from textual.drivers.linux_driver import LinuxDriver

    class SizedDriver(LinuxDriver):
        def _get_terminal_size(self) -> tuple[int, int]:
            fds = _tty_fds()
            try:
                tty = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
            except OSError:
                return terminal_size(fds)
            try:
                return terminal_size([*fds, tty])
            finally:
                os.close(tty)

    return SizedDriver


def run_dashboard(target: Any) -> int:
    from console._feed import LiveSource

    source = LiveSource(target)
    DashboardApp(source, driver_class=_sized_driver()).run()
    where = "" if target.local is None else f" --state-dir {target.local.state_dir}"
    print(
        "dashboard closed; the cluster keeps running. Stop it with 'make down' or "
        f"'pydcos cluster down{where}'."
    )
    return 0
