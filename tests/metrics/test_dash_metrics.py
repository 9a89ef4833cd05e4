"""The dashboard's metrics view: the pure rows, and the screen under Textual's pilot fed
by a fake source that answers history documents (the shape the agents' ring gives)."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.widgets import Sparkline

from console._dash_metrics import MetricsScreen, Row, rows
from console._dashboard import DashboardApp, screen_text
from console._fake import FakeSource

GiB = 1024**3


def history(cpu: list[float], tasks: dict[str, list[float]]) -> dict[str, Any]:
    return {
        "t": [float(i) for i in range(len(cpu))],
        "node": {
            "cpu_percent": cpu,
            "mem_used_bytes": [GiB * (1 + i) for i in range(len(cpu))],
            "mem_total_bytes": 8 * GiB,
            "cores": 2,
        },
        "containers": {
            tid: {"t": [0.0] * len(v), "cpus": v, "mem_bytes": [64 << 20] * len(v)}
            for tid, v in tasks.items()
        },
    }


def test_rows_nodes_then_their_tasks() -> None:
    docs: dict[str, Any] = {
        "S1": history([10.0, 50.0], {"web.2": [0.1, 0.9], "web.1": [0.0, 0.5]}),
        "S0": "unavailable (timed out)",
    }
    out = rows(
        {"S0": "agent-0", "S1": "agent-1", "S2": "agent-2"},
        {"web.1": ("web", "S1"), "web.2": ("web", "S1")},
        docs,
    )
    assert [r.key for r in out] == ["n-S0", "n-S1", "t-web.1", "t-web.2"]
    assert "unavailable" in out[0].label and out[0].cpu == ()
    node = out[1]
    assert node.cpu == (10.0, 50.0) and node.mem == (GiB, 2 * GiB)
    assert "CPU 50% of 2 cores" in node.label and "2.0 GiB" not in node.label
    assert out[2] == Row(
        "t-web.1", "  web  web.1  0.50 cores, 64 MiB", (0.0, 0.5), (64 << 20,) * 2, True
    )


class MetricsFake(FakeSource):
    def __init__(self) -> None:
        super().__init__(apps=1, tasks=2)
        self.asked: list[tuple[str, float]] = []

    def metrics_history(self, agent_id: str, seconds: float) -> dict[str, Any]:
        self.asked.append((agent_id, seconds))
        return history([20.0, 40.0, 80.0], {"svc-0.task-00000": [0.2, 0.4, 0.97]})


def test_the_m_key_shows_sparklines_and_escape_closes() -> None:
    source = MetricsFake()

    async def main() -> None:
        app = DashboardApp(source, clock=lambda: 0.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.flush()
            await pilot.pause()
            await pilot.press("m")
            for _ in range(100):
                await pilot.pause(0.05)
                if isinstance(app.screen, MetricsScreen) and app.screen.fetches:
                    break
            screen = app.screen
            assert isinstance(screen, MetricsScreen)
            assert {a for a, _ in source.asked} == {"S1", "S2"}
            lines = [s.data for s in screen.query(Sparkline)]
            assert [20.0, 40.0, 80.0] in lines  # a node's CPU
            assert [0.2, 0.4, 0.97] in lines  # the task's cores
            text = screen_text(app)
            assert "agent-1" in text and "svc-0.task-00000" in text and "0.97 cores" in text
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, MetricsScreen)

    asyncio.run(main())
