"""Output for people (rich tables) and scripts (``--json``: one JSON document on stdout)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    # Not a terminal (pipes, tests): a wide fixed width, so columns are not squeezed.
    return Console(file=stream, width=None if tty else 160, soft_wrap=not tty)


class Out:
    """Where a verb writes: ``table`` and ``line`` for people, ``json`` for scripts."""

    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json
        self.console = console()

    def json(self, doc: Any) -> None:
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
        sys.stdout.flush()

    def table(
        self, columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None
    ) -> None:
        # No caption above the table: the dcos CLI prints none, and the command says
        # what is listed (``title`` only names the rows in "(no apps)").
        t = Table(header_style="bold", box=None, pad_edge=False)
        for c in columns:
            t.add_column(c, overflow="fold")
        n = 0
        for row in rows:
            t.add_row(*("" if v is None else str(v) for v in row))
            n += 1
        if n == 0:
            self.console.print(f"[dim](no {title.lower() if title else 'rows'})[/dim]")
            return
        self.console.print(t)

    def line(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def result(self, doc: Any, text: str) -> None:
        """``doc`` as JSON for scripts, else ``text`` for people."""
        if self.as_json:
            self.json(doc)
        else:
            self.line(text)


def scalar(resources: Any, name: str) -> float:
    """A scalar from Mesos' resources JSON (``{"cpus": 1.0, "mem": 128, ...}``)."""
    if isinstance(resources, dict):
        v = resources.get(name, 0)
        return float(v) if isinstance(v, int | float) else 0.0
    return 0.0


def fmt_num(v: float) -> str:
    return f"{v:g}" if v == int(v) else f"{v:.2f}"
