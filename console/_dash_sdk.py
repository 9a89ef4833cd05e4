"""The dashboard's SDK services view (key ``p``): every SDK service's plans and the
highlighted plan's phases and steps, refreshed every 2 s -- ``/service/<name>/v1/plans``
through the master, as ``pydcos service plan list|status`` shows them.

```
 PlansScreen  worker every 2 s: Marathon apps labelled DCOS_SERVICE_NAME
                -> GET /service/<name>/v1/plans, /plans/<plan> (an SDK scheduler answers)
              table: SERVICE PLAN STATUS STEPS     details: the plan's tree
```

``service_rows`` is pure (tested without Textual); every call runs on a worker thread.
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

from console._sdk_cmds import plan_lines

Fetch = Callable[[], dict[str, dict[str, dict[str, Any]]]]
"""``fetch()`` -> service name -> plan name -> PlanInfo (dcos-commons' shape)."""

REFRESH = 2.0


def service_rows(
    plans: dict[str, dict[str, dict[str, Any]]],
) -> dict[str, tuple[str, str, str, str]]:
    """Rows keyed ``service/plan``: (service, plan, status, complete/total steps)."""
    out = {}
    for service in sorted(plans):
        for plan, doc in plans[service].items():
            all_steps = [s for ph in doc.get("phases") or [] for s in ph.get("steps") or []]
            done = sum(1 for s in all_steps if s.get("status") == "COMPLETE")
            out[f"{service}/{plan}"] = (
                service,
                plan,
                str(doc.get("status", "?")),
                f"{done}/{len(all_steps)}",
            )
    return out


def fetch_for(source: Any) -> Fetch | None:
    """The data source's own ``sdk_plans`` (a fake's), else HTTP through its client."""
    own = getattr(source, "sdk_plans", None)
    if callable(own):
        return own  # type: ignore[no-any-return]
    client = getattr(source, "client", None)
    if client is None:
        return None

    def fetch() -> dict[str, dict[str, dict[str, Any]]]:
        apps = client.request("GET", "/marathon/v2/apps", what="apps").get("apps") or []
        names = sorted(
            {
                str((a.get("labels") or {}).get("DCOS_SERVICE_NAME"))
                for a in apps
                if (a.get("labels") or {}).get("DCOS_PACKAGE_FRAMEWORK_NAME")
                and (a.get("labels") or {}).get("DCOS_SERVICE_NAME")
            }
        )
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for name in names:
            try:
                plans = client.request("GET", f"/service/{name}/v1/plans", what=name)
                out[name] = {
                    plan: client.request("GET", f"/service/{name}/v1/plans/{plan}", what=plan)
                    for plan in plans
                }
            except Exception:  # not an SDK scheduler, or not up yet: not listed
                continue
        return out

    return fetch


class PlansScreen(ModalScreen[None]):
    """SDK services' plans, live."""

    DEFAULT_CSS = """
    PlansScreen { align: center middle; }
    #plans { width: 95%; height: 90%; background: $panel; border: thick $accent; }
    #plans-body { height: 1fr; }
    #plans-table { width: 1fr; }
    #plans-details { width: 1fr; padding: 0 1; }
    #plans-status { dock: bottom; height: 2; padding: 0 1; }
    """
    BINDINGS: ClassVar = [Binding("escape,q", "close", "Close")]

    def __init__(self, fetch: Fetch) -> None:
        super().__init__()
        self.fetch = fetch
        self.plans: dict[str, dict[str, dict[str, Any]]] = {}
        self.rows: dict[str, tuple[str, str, str, str]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="plans"):
            with Horizontal(id="plans-body"):
                yield DataTable(id="plans-table", cursor_type="row")
                yield Static("", id="plans-details")
            yield Static("loading SDK services...", id="plans-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#plans", Vertical).border_title = "SDK services: plans"
        table = self.query_one("#plans-table", DataTable)
        table.add_columns("SERVICE", "PLAN", "STATUS", "STEPS")
        table.focus()
        self.refresh_plans()
        self.set_interval(REFRESH, self.refresh_plans)

    def refresh_plans(self) -> None:
        def work() -> None:
            try:
                plans = self.fetch()
            except Exception as exc:
                self.app.call_from_thread(self.status, f"[red]{escape(str(exc))}[/red]")
                return
            self.app.call_from_thread(self.show, plans)

        self.run_worker(work, thread=True, exclusive=True, group="sdk-plans")

    def show(self, plans: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.plans = plans
        rows = service_rows(plans)
        table = self.query_one("#plans-table", DataTable)
        if list(rows) != list(self.rows):
            table.clear()
            for key, row in rows.items():
                table.add_row(*row, key=key)
        else:
            for key, row in rows.items():
                if row != self.rows.get(key):
                    for col, value in zip(table.columns, row, strict=False):
                        table.update_cell(key, col, value)
        self.rows = rows
        self.status(f"{len(plans)} SDK service(s)" if plans else "no SDK service is installed")
        self.details()

    def details(self) -> None:
        table = self.query_one("#plans-table", DataTable)
        if table.row_count == 0:
            self.query_one("#plans-details", Static).update("")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        service, _, plan = str(key).partition("/")
        doc = self.plans.get(service, {}).get(plan)
        text = "\n".join(escape(line) for line in plan_lines(plan, doc)) if doc else ""
        self.query_one("#plans-details", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.details()

    def status(self, text: str) -> None:
        self.query_one("#plans-status", Static).update(text)

    def action_close(self) -> None:
        self.dismiss(None)


def open_plans(app: Any) -> None:
    """The dashboard's ``p``: push the SDK plans view over the app's data source."""
    fetch = fetch_for(app.source)
    if fetch is None:
        app.notify("no cluster to ask for SDK services", severity="warning")
        return
    app.push_screen(PlansScreen(fetch))
