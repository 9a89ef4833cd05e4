"""The dashboard's package catalog (key ``c``): search the repositories, read a
package's details, install it with its defaults -- Cosmos' ``search``, ``describe`` and
``install`` (``POST /package/<op>`` on the leader).

```
 CatalogScreen  search box (enter) ─ worker: search ─> table of packages
                row highlighted    ─ worker: describe ─> details (versions, options, notes)
                i, then y          ─ worker: install  ─> status line (app id, notes or error)
```

``rows`` and ``details`` are pure (tested without Textual); the screen only moves
Cosmos' answers into widgets. Every call runs on a worker thread, so a slow cluster never
freezes the dashboard.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Static

Cosmos = Callable[[str, dict[str, Any]], Any]
"""``cosmos(op, body)`` -> Cosmos' answer (``op``: ``search``, ``describe``, ``install``);
raises with a one-line message when Cosmos says no."""


def rows(search: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """A ``search`` answer as table rows: name -> (name, version, description)."""
    out = {}
    for p in search.get("packages", []):
        name = str(p.get("name", ""))
        mark = "★ " if p.get("selected") else ""
        out[name] = (mark + name, str(p.get("currentVersion", "")), str(p.get("description", "")))
    return out


def _options(schema: dict[str, Any], prefix: str = "") -> list[str]:
    lines = []
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if prop.get("type") == "object" and "properties" in prop:
            lines.extend(_options(prop, f"{prefix}{key}."))
        elif "default" in prop:
            lines.append(f"  {prefix}{key} = {json.dumps(prop['default'])}")
        else:
            lines.append(f"  {prefix}{key}")
    return lines


def details(describe: dict[str, Any]) -> str:
    """A ``describe`` answer (v3: ``{"package": ...}``) as the details pane's markup."""
    pkg = describe.get("package", describe)
    kind = "Metronome job" if "metronome" in pkg else "Marathon app"
    lines = [
        f"[b]{escape(str(pkg.get('name')))}[/b] {escape(str(pkg.get('version')))}  ({kind})",
        escape(str(pkg.get("description", ""))),
        "",
        f"tags: {escape(', '.join(pkg.get('tags', [])))}",
        f"maintainer: {escape(str(pkg.get('maintainer', '')))}",
    ]
    options = _options(pkg.get("config") or {})
    if options:
        lines += ["", "options (defaults):", *(escape(o) for o in options)]
    if pkg.get("postInstallNotes"):
        lines += ["", "after install:", escape(str(pkg["postInstallNotes"]))]
    return "\n".join(lines)


class CatalogScreen(ModalScreen[None]):
    """Search, describe, install with defaults."""

    DEFAULT_CSS = """
    CatalogScreen { align: center middle; }
    #catalog { width: 95%; height: 90%; background: $panel; border: thick $accent; }
    #catalog-search { dock: top; }
    #catalog-body { height: 1fr; }
    #catalog-table { width: 1fr; }
    #catalog-details { width: 1fr; padding: 0 1; }
    #catalog-status { dock: bottom; height: 3; padding: 0 1; }
    """
    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close"),
        Binding("i", "install", "Install"),
        Binding("y", "confirm", "Yes", show=False),
        Binding("n", "cancel_install", "No", show=False),
    ]

    def __init__(self, cosmos: Cosmos) -> None:
        super().__init__()
        self.cosmos = cosmos
        self.packages: dict[str, tuple[str, str, str]] = {}
        self.pending: str | None = None
        """The package an install waits on ``y`` for."""
        self.described: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="catalog"):
            yield Input(placeholder="search packages (enter)", id="catalog-search")
            with Horizontal(id="catalog-body"):
                yield DataTable(id="catalog-table", cursor_type="row")
                yield Static("", id="catalog-details")
            yield Static("", id="catalog-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#catalog", Vertical).border_title = "Catalog"
        table = self.query_one("#catalog-table", DataTable)
        table.add_columns("NAME", "VERSION", "DESCRIPTION")
        self.search("")
        table.focus()

    # -- Cosmos calls, on worker threads ----------------------------------------------

    def _call(self, op: str, body: dict[str, Any], done: Callable[[Any], None]) -> None:
        def work() -> None:
            try:
                answer = self.cosmos(op, body)
            except Exception as exc:
                self.app.call_from_thread(self.status, f"[red]{escape(str(exc))}[/red]")
                return
            self.app.call_from_thread(done, answer)

        self.run_worker(work, thread=True, exclusive=False, group=f"catalog-{op}")

    def search(self, query: str) -> None:
        self.status(f"searching {escape(query)!s}..." if query else "loading the catalog...")
        self._call("search", {"query": query}, self._show_search)

    def _show_search(self, answer: dict[str, Any]) -> None:
        self.packages = rows(answer)
        table = self.query_one("#catalog-table", DataTable)
        table.clear()
        for name, row in self.packages.items():
            table.add_row(*row, key=name)
        self.status(f"{len(self.packages)} packages  (i: install the selected one with defaults)")
        if self.packages:
            self.describe(next(iter(self.packages)))

    def describe(self, name: str) -> None:
        self.described = name
        self._call("describe", {"packageName": name}, self._show_details)

    def _show_details(self, answer: dict[str, Any]) -> None:
        pkg = answer.get("package", answer)
        if pkg.get("name") != self.described:
            return  # an older answer, for a row no longer highlighted
        self.query_one("#catalog-details", Static).update(details(answer))

    def _installed(self, answer: dict[str, Any]) -> None:
        notes = answer.get("postInstallNotes") or ""
        self.status(
            f"[green]installed {escape(str(answer.get('appId')))}[/green] "
            f"({escape(str(answer.get('packageName')))} "
            f"{escape(str(answer.get('packageVersion')))}) {escape(notes)}"
        )

    # -- UI ---------------------------------------------------------------------------

    def status(self, text: str) -> None:
        self.query_one("#catalog-status", Static).update(text)

    def selected(self) -> str | None:
        table = self.query_one("#catalog-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return None if key.value is None else str(key.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "catalog-search":
            self.search(event.value.strip())
            self.query_one("#catalog-table", DataTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.describe(str(event.row_key.value))

    def action_install(self) -> None:
        name = self.selected()
        if name is None:
            self.status("no package selected")
            return
        self.pending = name
        self.status(f"install [b]{escape(name)}[/b] with its defaults? (y/n)")

    def action_confirm(self) -> None:
        if self.pending is None:
            return
        name, self.pending = self.pending, None
        self.status(f"installing {escape(name)}...")
        self._call("install", {"packageName": name}, self._installed)

    def action_cancel_install(self) -> None:
        if self.pending is not None:
            self.pending = None
            self.status("install cancelled")

    def action_close(self) -> None:
        self.dismiss(None)


def cosmos_for(source: Any) -> Cosmos | None:
    """The data source's own ``cosmos`` (a fake's), else HTTP through its client."""
    own = getattr(source, "cosmos", None)
    if callable(own):
        return own  # type: ignore[no-any-return]
    client = getattr(source, "client", None)
    if client is None:
        return None

    def call(op: str, body: dict[str, Any]) -> Any:
        return client.request("POST", f"/package/{op}", body=body, what=f"package {op}")

    return call


def open_catalog(app: Any) -> None:
    """The dashboard's ``c``: push the catalog over the app's data source."""
    cosmos = cosmos_for(app.source)
    if cosmos is None:
        app.notify("no cluster to ask for packages", severity="warning")
        return
    app.push_screen(CatalogScreen(cosmos))
