"""The dashboard's Actors view (key ``a``): users' cluster actors (issue 27) — name,
class, node, state, restarts, uptime, cpus/mem; the selected one's details (address,
incarnation, restart policy, group, last exit, why it waits); ``k`` then ``y`` kills it.

```
 ActorsScreen  every second ─ worker: GET /actors/v1/actors ─> table (kept in place)
               row highlighted ────────────────────────────────> details pane
               k, then y   ─ worker: DELETE /actors/v1/actors/{id} ─> status line
```

``rows`` and ``details`` are pure (tested without Textual); every call runs on a worker
thread, so a slow or failing-over cluster never freezes the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from console._actor_cmds import uptime_text

ActorsApi = Callable[[str, str], Any]
"""``api(method, path)`` -> the framework's answer (``GET ""`` lists, ``DELETE "/id"``
kills); raises with a one-line message when refused."""

COLUMNS = ("NAME", "CLASS", "NODE", "STATE", "RESTARTS", "UPTIME", "CPUS/MEM")
STATE_STYLE = {"RUNNING": "green", "RESTARTING": "yellow", "FAILED": "red", "PENDING": "cyan"}


def rows(listing: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """A ``GET /actors/v1/actors`` answer as table rows: actor id -> cells."""
    out: dict[str, tuple[str, ...]] = {}
    for a in listing.get("actors", []):
        state = str(a.get("state", ""))
        style = STATE_STYLE.get(state)
        name = a.get("name") or "-"
        if a.get("namespace") not in (None, "", "default"):
            name = f"{a['namespace']}/{name}"
        out[str(a["id"])] = (
            escape(str(name)),
            escape(str(a.get("class", "")).rsplit(":", 1)[-1]),
            escape(str(a.get("node") or "-")),
            f"[{style}]{state}[/{style}]" if style else state,
            str(a.get("restarts", 0)),
            uptime_text(a.get("uptime")),
            f"{a.get('cpus', 0):g}/{a.get('mem', 0):g}",
        )
    return out


def details(a: dict[str, Any]) -> str:
    """One actor (a row of the listing) as the details pane's markup."""
    lines = [
        f"[b]{escape(str(a.get('name') or a['id']))}[/b]  {escape(str(a.get('class', '')))}",
        f"id: {escape(str(a['id']))}   state: {escape(str(a.get('state')))}",
        f"node: {escape(str(a.get('node') or '-'))}"
        f"  agent: {escape(str(a.get('agent_id') or '-'))}",
        f"address: {escape(str(a.get('address') or '-'))}",
        f"incarnation {a.get('incarnation', 0)}, restarts {a.get('restarts', 0)}"
        f"/{a.get('max_restarts')} ({escape(str(a.get('restart', '')))})",
        f"lifetime: {escape(str(a.get('lifetime', '')))}"
        + (f"  group: {escape(str(a['group']))}" if a.get("group") else ""),
    ]
    if a.get("checkpoint_bytes"):
        lines.append(f"checkpoint: {a['checkpoint_bytes']} bytes")
    if a.get("last_exit"):
        lines.append(f"last exit: {escape(str(a['last_exit']))}")
    for host, why in (a.get("waiting") or {}).items():
        lines.append(f"waiting: {escape(str(host))}: {escape(str(why))}")
    return "\n".join(lines)


class ActorsScreen(ModalScreen[None]):
    """The user actors, refreshed every second; ``k`` + ``y`` kills the selected one."""

    DEFAULT_CSS = """
    ActorsScreen { align: center middle; }
    #actors { width: 95%; height: 90%; background: $panel; border: thick $accent; }
    #actors-body { height: 1fr; }
    #actors-table { width: 2fr; }
    #actors-details { width: 1fr; padding: 0 1; }
    #actors-status { dock: bottom; height: 2; padding: 0 1; }
    """
    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close"),
        Binding("k", "kill", "Kill"),
        Binding("y", "confirm", "Yes", show=False),
        Binding("n", "cancel_kill", "No", show=False),
    ]

    def __init__(self, api: ActorsApi, interval: float = 1.0) -> None:
        super().__init__()
        self.api = api
        self.interval = interval
        self.actors: dict[str, dict[str, Any]] = {}
        self.pending: str | None = None
        """The actor a kill waits on ``y`` for."""

    def compose(self) -> ComposeResult:
        with Vertical(id="actors"):
            with Horizontal(id="actors-body"):
                yield DataTable(id="actors-table", cursor_type="row")
                yield Static("", id="actors-details")
            yield Static("", id="actors-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#actors", Vertical).border_title = "Actors"
        table = self.query_one("#actors-table", DataTable)
        table.add_columns(*COLUMNS)
        table.focus()
        self.refresh_actors()
        self.set_interval(self.interval, self.refresh_actors)

    # -- calls, on worker threads -----------------------------------------------------

    def _call(self, method: str, path: str, done: Callable[[Any], None]) -> None:
        def work() -> None:
            try:
                answer = self.api(method, path)
            except Exception as exc:
                self.app.call_from_thread(self.status, f"[red]{escape(str(exc))}[/red]")
                return
            self.app.call_from_thread(done, answer)

        self.run_worker(work, thread=True, exclusive=True, group=f"actors-{method}")

    def refresh_actors(self) -> None:
        self._call("GET", "", self._show)

    def _show(self, listing: dict[str, Any]) -> None:
        self.actors = {str(a["id"]): a for a in listing.get("actors", [])}
        table = self.query_one("#actors-table", DataTable)
        keep = self.selected()
        new = rows(listing)
        existing = {str(k.value) for k in table.rows}
        for actor_id in existing - set(new):
            table.remove_row(actor_id)
        for actor_id, cells in new.items():
            if actor_id in existing:
                for col, cell in zip(table.columns, cells, strict=False):
                    table.update_cell(actor_id, col, cell)
            else:
                table.add_row(*cells, key=actor_id)
        counts = listing.get("counts") or {}
        live = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()) if n)
        if self.pending is None:
            self.status(f"{len(new)} actors ({live or 'none'})  k: kill the selected one")
        self._details(keep or self.selected())

    def _details(self, actor_id: str | None) -> None:
        a = self.actors.get(actor_id) if actor_id else None
        self.query_one("#actors-details", Static).update(details(a) if a else "")

    def _killed(self, answer: dict[str, Any]) -> None:
        self.status(f"[green]actor {escape(str(answer.get('id')))} {answer.get('state')}[/green]")
        self.refresh_actors()

    # -- UI ---------------------------------------------------------------------------

    def status(self, text: str) -> None:
        self.query_one("#actors-status", Static).update(text)

    def selected(self) -> str | None:
        table = self.query_one("#actors-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return None if key.value is None else str(key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._details(str(event.row_key.value))

    def action_kill(self) -> None:
        actor_id = self.selected()
        if actor_id is None:
            self.status("no actor selected")
            return
        self.pending = actor_id
        self.status(f"kill actor [b]{escape(actor_id)}[/b]? (y/n)")

    def action_confirm(self) -> None:
        if self.pending is None:
            return
        actor_id, self.pending = self.pending, None
        self.status(f"killing {escape(actor_id)}...")
        self._call("DELETE", f"/{actor_id}", self._killed)

    def action_cancel_kill(self) -> None:
        if self.pending is not None:
            self.pending = None
            self.status("kill cancelled")

    def action_close(self) -> None:
        self.dismiss(None)


def actors_api_for(source: Any) -> ActorsApi | None:
    """The data source's own ``actors_api`` (a fake's), else HTTP through its client."""
    own = getattr(source, "actors_api", None)
    if callable(own):
        return own  # type: ignore[no-any-return]
    client = getattr(source, "client", None)
    if client is None:
        return None

    def call(method: str, path: str) -> Any:
        return client.request(method, f"/actors/v1/actors{path}", what=f"actors {method}")

    return call


def open_actors(app: Any) -> None:
    """The dashboard's ``a``: push the Actors view over the app's data source."""
    api = actors_api_for(app.source)
    if api is None:
        app.notify("no cluster to ask for actors", severity="warning")
        return
    app.push_screen(ActorsScreen(api))
