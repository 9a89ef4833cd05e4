"""The dashboard's log pane (``l``): the selected task's stdout, followed remotely.

On a live cluster the lines come through any master's logs API (a server-sent-events
follow, the CLI's ``LogReader``: another master and ``Last-Event-ID`` when the one
serving it goes away), so the pane works wherever the dashboard runs. A source with no
cluster client (the tests' fake) shows its local sandbox file instead.

```
 l ─> open_task_log(app, task_id) ─> TaskLogScreen(lines)
                                        thread: for line in lines(stop): RichLog.write
 lines = remote_lines (LiveSource.client: LogReader.follow)  |  file_lines (fake)
```
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import RichLog, Static

from console._obs_cmds import LogEnd, LogError, LogReader, master_urls

Lines = Callable[[threading.Event], Iterator[str]]
"""``lines(stop)``: the log's last lines, then new ones as they come, until ``stop``."""

TAIL = 200
"""Lines shown when the pane opens."""
NO_OUTPUT = "no output yet (stdout and stderr are empty); new lines will show here"
QUIET_HINT_AFTER = 0.3
FLUSH_EVERY = 0.05
"""Seconds between two writes of queued lines to the view."""
MAX_PENDING = 5000
"""Seconds without a line before the pane says the task printed nothing yet."""


class TaskLogScreen(ModalScreen[None]):
    """A task's stdout, followed until closed (esc)."""

    BINDINGS: ClassVar = [Binding("escape,q", "close", "Close")]
    DEFAULT_CSS = """
    TaskLogScreen { align: center middle; }
    TaskLogScreen #log { width: 90%; height: 90%; background: $panel;
                         border: thick $accent; padding: 1; }
    """

    def __init__(self, task_id: str, lines: Lines | None, where: str = "") -> None:
        super().__init__()
        self.task_id = task_id
        self.lines = lines
        self.where = where
        self.stop = threading.Event()
        self.shown = 0
        """Lines written so far (tests read it)."""
        self._pending: deque[str | Text] = deque(maxlen=MAX_PENDING)
        """Lines the reader thread got and the UI has not written yet (bounded: a flood
        drops the oldest, as the view keeps only its last lines anyway)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="log"):
            where = f" {self.where}" if self.where else ""
            yield Static(f"log of {self.task_id}{where}  (esc closes)", classes="title")
            yield RichLog(id="log-view", max_lines=5000, wrap=False)

    def on_mount(self) -> None:
        view = self.query_one(RichLog)
        if self.lines is None:
            view.write(Text(f"no log source for {self.task_id}", style="italic"))
            return
        threading.Thread(target=self._follow, name="dashboard-log", daemon=True).start()
        self.set_interval(FLUSH_EVERY, self._drain)
        self.set_timer(QUIET_HINT_AFTER, self._hint)

    def _hint(self) -> None:
        if self.shown == 0 and not self._pending and not self.stop.is_set():
            self.query_one(RichLog).write(Text(NO_OUTPUT, style="italic"))

    def _drain(self) -> None:
        """Write what the reader thread queued (on the UI thread, a batch at a time)."""
        items: list[str | Text] = []
        while self._pending:
            items.append(self._pending.popleft())
        if not items or self.stop.is_set():
            return
        view = self.query_one(RichLog)
        text = [x for x in items if isinstance(x, str)]
        self.shown += len(text)
        batch: list[str] = []
        for x in items:
            if isinstance(x, str):
                batch.append(x)
                continue
            if batch:
                view.write("\n".join(batch))
                batch = []
            view.write(x)
        if batch:
            view.write("\n".join(batch))

    def _follow(self) -> None:
        assert self.lines is not None
        try:
            for line in self.lines(self.stop):
                if self.stop.is_set():
                    return
                self._pending.append(line)
            self._pending.append(Text("(the log ended)", style="italic"))
        except (LogEnd, LogError, OSError) as exc:
            self._pending.append(Text(str(exc), style="bold red"))

    def action_close(self) -> None:
        self.stop.set()
        self.dismiss(None)


def remote_lines(client: Any, task_id: str, prefer: str | None = None) -> Lines:
    """Follow ``task_id``'s stdout through any master's logs API."""
    path = f"/system/v1/logs/v2/task/{quote(task_id, safe='')}"

    def lines(stop: threading.Event) -> Iterator[str]:
        reader = LogReader(
            master_urls(client, prefer), path, TAIL, stop=stop, headers=client.auth_headers()
        )
        for line in reader.follow():
            yield line.text

    return lines


def file_lines(path: Path, poll: float = 0.25) -> Lines:
    """Follow a local file (a source without a cluster: the tests' fake)."""

    def lines(stop: threading.Event) -> Iterator[str]:
        with open(path, "rb") as f:
            yield from f.read().decode(errors="replace").splitlines()[-TAIL:]
            while not stop.wait(poll):
                chunk = f.read()
                if chunk:
                    yield from chunk.decode(errors="replace").rstrip("\n").split("\n")

    return lines


def lines_for(source: Any, task_id: str) -> tuple[Lines | None, str]:
    """How to follow ``task_id`` for this dashboard source, and where from."""
    client = getattr(source, "client", None)
    if client is not None and hasattr(client, "zk"):
        return remote_lines(client, task_id), "(through the masters' logs API)"
    log_path = getattr(source, "log_path", None)
    path = log_path(task_id) if log_path is not None else None
    if path is not None:
        return file_lines(Path(path)), ""
    return None, ""


def open_task_log(app: App[Any], source: Any, task_id: str) -> TaskLogScreen:
    """Push the log pane for ``task_id`` (the dashboard's ``l``)."""
    lines, where = lines_for(source, task_id)
    screen = TaskLogScreen(task_id, lines, where)
    app.push_screen(screen)
    return screen
