"""The dashboard's metrics view (key ``m``): each node's CPU and memory, and each of its
tasks', over the last minutes, as sparklines, from the agents' metrics ring
(``/system/v1/agent/{id}/metrics/v0/history?seconds=N``, any master).

```
 MetricsScreen ── every REFRESH s, on a worker thread: fetch(agent_id, WINDOW) per node
                └─ on the UI thread: rows(nodes, tasks, docs) -> one block per node/task
                   (label with the latest figures, a CPU sparkline, a memory sparkline)
```

``rows`` is pure (tested without Textual); the screen only mounts, updates and removes
blocks by key, so a refresh never rebuilds what did not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Sparkline, Static

WINDOW = 300.0
"""Seconds of history shown (the agents keep 600)."""
REFRESH = 2.0
"""Seconds between two fetches (the agents' default sampling interval)."""
MiB = 1024 * 1024

Fetch = Callable[[str, float], dict[str, Any]]
"""``fetch(agent_id, seconds)`` -> that agent's history document (``GetMetrics`` scope
``history``): ``{"t": [...], "node": {...}, "containers": {id: {...}}}``."""


@dataclass(frozen=True, slots=True)
class Row:
    """One block of the view: a node or a task, with its two series."""

    key: str
    label: str
    cpu: tuple[float, ...]
    mem: tuple[float, ...]
    task: bool = False


def _mib(n: float) -> str:
    return f"{n / MiB:,.0f} MiB" if n < 10 * 1024 * MiB else f"{n / (1024 * MiB):.1f} GiB"


def rows(
    nodes: Mapping[str, str],
    tasks: Mapping[str, tuple[str, str]],
    docs: Mapping[str, dict[str, Any] | str],
) -> list[Row]:
    """``nodes``: agent id -> host name; ``tasks``: task id -> (name, host) for names;
    ``docs``: agent id -> history document, or the reason it could not be read. Nodes in
    host order, each followed by its tasks (those the history knows) in id order."""
    out: list[Row] = []
    for agent_id, host in sorted(nodes.items(), key=lambda kv: (kv[1], kv[0])):
        doc = docs.get(agent_id)
        if doc is None:
            continue
        if isinstance(doc, str):
            out.append(Row(f"n-{agent_id}", f"{host}  {agent_id}: {doc}", (), ()))
            continue
        node = doc.get("node") or {}
        cpu = tuple(float(x) for x in node.get("cpu_percent") or ())
        mem = tuple(float(x) for x in node.get("mem_used_bytes") or ())
        total = float(node.get("mem_total_bytes") or 0)
        latest = (
            f"CPU {cpu[-1]:.0f}% of {node.get('cores', '?')} cores, "
            f"mem {_mib(mem[-1])} of {_mib(total)}"
            if cpu and mem
            else "no samples yet"
        )
        out.append(Row(f"n-{agent_id}", f"[b]{host}[/b]  {agent_id}  {latest}", cpu, mem))
        series = doc.get("containers") or {}
        for tid in sorted(series):
            name = tasks.get(tid, (tid, agent_id))[0]
            s = series[tid]
            tcpu = tuple(float(x) for x in s.get("cpus") or ())
            tmem = tuple(float(x) for x in s.get("mem_bytes") or ())
            fig = f"{tcpu[-1]:.2f} cores, {_mib(tmem[-1])}" if tcpu and tmem else ""
            out.append(Row(f"t-{tid}", f"  {name}  {tid}  {fig}", tcpu, tmem, task=True))
    return out


class Block(Vertical):
    """A row on screen: its label and two labelled sparklines."""

    def __init__(self, row: Row) -> None:
        super().__init__(classes="task" if row.task else "node")
        self.row = row

    def compose(self) -> ComposeResult:
        yield Static(self.row.label, classes="label")
        yield Static("cpu", classes="axis")
        yield Sparkline(list(self.row.cpu), classes="cpu")
        yield Static("mem", classes="axis")
        yield Sparkline(list(self.row.mem), classes="mem")

    def update_row(self, row: Row) -> None:
        if row == self.row:
            return
        self.row = row
        self.query_one(".label", Static).update(row.label)
        self.query_one(".cpu", Sparkline).data = list(row.cpu)
        self.query_one(".mem", Sparkline).data = list(row.mem)


class MetricsScreen(ModalScreen[None]):
    """CPU and memory over the last ``WINDOW`` seconds; ``esc``/``q``/``m`` closes it."""

    BINDINGS: ClassVar = [Binding("escape,q,m", "close", "Close")]
    DEFAULT_CSS = """
    MetricsScreen { align: center middle; }
    #metrics { width: 95%; height: 95%; background: $panel; border: thick $accent; }
    #metrics Block {
        height: 2; layout: grid; grid-size: 4 2; grid-columns: 4 1fr 4 1fr; grid-gutter: 0 1;
    }
    #metrics Block.node { margin-top: 1; }
    #metrics .label { height: 1; column-span: 4; }
    #metrics .axis { height: 1; color: $text-muted; }
    #metrics Sparkline { height: 1; }
    """

    def __init__(
        self,
        fetch: Fetch | None,
        nodes: Callable[[], Mapping[str, str]],
        tasks: Callable[[], Mapping[str, tuple[str, str]]],
    ) -> None:
        super().__init__()
        self.fetch = fetch
        self.nodes = nodes
        self.tasks = tasks
        self.blocks: dict[str, Block] = {}
        self.fetches = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="metrics"):
            yield Static("metrics: loading...", id="metrics-status")

    def on_mount(self) -> None:
        self.query_one(
            "#metrics", VerticalScroll
        ).border_title = f"Metrics: CPU and memory, last {WINDOW / 60:.0f} minutes (esc closes)"
        if self.fetch is None:
            self.query_one("#metrics-status", Static).update(
                "metrics: this data source has no metrics"
            )
            return
        self.refresh_metrics()
        self.set_interval(REFRESH, self.refresh_metrics)

    def refresh_metrics(self) -> None:
        nodes, tasks, fetch = dict(self.nodes()), dict(self.tasks()), self.fetch
        if fetch is None:
            return

        def work() -> None:
            docs: dict[str, dict[str, Any] | str] = {}
            for agent_id in nodes:
                try:
                    docs[agent_id] = fetch(agent_id, WINDOW)
                except Exception as exc:  # an agent away: say so in its row
                    docs[agent_id] = f"unavailable ({exc})"
            self.app.call_from_thread(self.show, rows(nodes, tasks, docs))

        self.run_worker(work, thread=True, exclusive=True, group="metrics")

    def show(self, new: list[Row]) -> None:
        self.fetches += 1
        box = self.query_one("#metrics", VerticalScroll)
        status = self.query_one("#metrics-status", Static)
        status.update("" if new else "metrics: no agent answered yet")
        status.display = not new
        keys = [r.key for r in new]
        for key in [k for k in self.blocks if k not in keys]:
            self.blocks.pop(key).remove()
        for r in new:
            block = self.blocks.get(r.key)
            if block is None:
                block = self.blocks[r.key] = Block(r)
                box.mount(block)
            else:
                block.update_row(r)
        # keep the order (a new task goes under its node)
        for i, key in enumerate(keys):
            box.move_child(self.blocks[key], after=i)

    def action_close(self) -> None:
        self.dismiss(None)


def http_fetch(client: Any) -> Fetch:
    """A ``Fetch`` over a ``ClusterClient``: any master answers."""

    def fetch(agent_id: str, seconds: float) -> dict[str, Any]:
        from urllib.parse import quote

        path = f"/system/v1/agent/{quote(agent_id, safe='')}/metrics/v0/history"
        doc: dict[str, Any] = client.get(path, seconds=int(seconds))
        return doc

    return fetch


def fetch_for(source: Any) -> Fetch | None:
    """The data source's own ``metrics_history`` (a fake's), else HTTP through its
    client (``LiveSource``), else None."""
    own = getattr(source, "metrics_history", None)
    if callable(own):
        return own  # type: ignore[no-any-return]
    client = getattr(source, "client", None)
    return http_fetch(client) if client is not None else None


def open_metrics(app: Any) -> None:
    """The dashboard's ``m``: push the metrics view over its model's nodes and tasks."""
    model = app.model

    def nodes() -> dict[str, str]:
        return {aid: str(a.get("hostname", aid)) for aid, a in model.nodes.items()}

    def tasks() -> dict[str, tuple[str, str]]:
        return {
            tid: (t.app.rsplit("/", 1)[-1] or tid, t.host)
            for tid, t in model.tasks.items()
            if t.state == "TASK_RUNNING"
        }

    app.push_screen(MetricsScreen(fetch_for(app.source), nodes, tasks))
