"""Logs and sandbox files, read through actors from any master (issue 21).

```
 client ──HTTP──> any master's gateway ── routes of LogsService (a node service)
                    │  task -> agent (leader's tasks), agent -> address
                    │  ReadFile / BrowseFiles (ask) ───────────────> agent actor
                    │  FollowFile(reply_to=this master's logs actor) ─> agent actor
                    │                                   (FileServer: waits for data)
                    └─ FileChunk <── LogsActor (tcp://master/logs) <── told back
```

``_files`` (FileServer, path confinement) runs on agents and masters; ``_lines`` is the
pure arithmetic (lines and offsets, skip/limit/cursor, SSE framing); ``_service`` is
the gateway side (aiohttp, loaded only by masters). Imports are lazy (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime import lazy_exports

_EXPORTS: dict[str, str] = {
    "LogsError": "actors.logs._errors",
    "BadLogQuery": "actors.logs._errors",
    "FileServer": "actors.logs._files",
    "confine": "actors.logs._files",
    "Confined": "actors.logs._files",
    "Refused": "actors.logs._files",
    "set_component_log": "actors.logs._components",
    "component_logs": "actors.logs._components",
    "Line": "actors.logs._lines",
    "LogQuery": "actors.logs._lines",
    "TailFinder": "actors.logs._lines",
    "parse_query": "actors.logs._lines",
    "split_lines": "actors.logs._lines",
    "sse_event": "actors.logs._lines",
    "LogsService": "actors.logs._service",
    "LogsActor": "actors.logs._service",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from actors.logs._components import component_logs, set_component_log
    from actors.logs._errors import BadLogQuery, LogsError
    from actors.logs._files import Confined, FileServer, Refused, confine
    from actors.logs._lines import Line, LogQuery, TailFinder, parse_query, split_lines, sse_event
    from actors.logs._service import LogsActor, LogsService

__all__ = [
    "BadLogQuery",
    "Confined",
    "FileServer",
    "Line",
    "LogQuery",
    "LogsActor",
    "LogsError",
    "LogsService",
    "Refused",
    "TailFinder",
    "component_logs",
    "confine",
    "parse_query",
    "set_component_log",
    "split_lines",
    "sse_event",
]
