"""Pure log arithmetic: bytes at an offset -> lines with offsets, where the last N lines
start, the query (``skip``, ``limit``, ``cursor``, ``Last-Event-ID``) and the three
output formats of dcos-log (plain text, JSON entries, server-sent events).

Offsets are byte offsets in the file. A line's ``end`` is the offset just past its
newline: the SSE event ``id`` and the JSON ``cursor``, so a client that reconnects with
``Last-Event-ID: <end>`` (or ``?cursor=<end>``) resumes at the next line, with nothing
lost or repeated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from actors.logs._errors import BadLogQuery

MAX_LINE_BYTES = 256 * 1024
"""A line longer than this is cut into pieces of this size (each its own entry)."""
MAX_LIMIT = 1_000_000
"""``?limit=`` larger than this is clamped to it; ``|skip|`` too."""
MAX_TAIL_SCAN = 64 * 1024 * 1024
"""How far back ``skip=-N`` looks for N lines before starting at what it found."""


@dataclass(frozen=True, slots=True)
class Line:
    """One log line: ``text`` without its newline, at bytes ``[offset, end)``."""

    offset: int
    end: int
    text: str


def split_lines(
    data: bytes, offset: int, final: bool = False, max_line: int = MAX_LINE_BYTES
) -> tuple[list[Line], int]:
    """The complete lines of ``data`` (read at ``offset``) and the offset to read next.

    An incomplete last line is left for the next read (its bytes are read again), unless
    ``final`` (the writer is done and this is the end of the file) or it is already
    ``max_line`` long (it is cut)."""
    lines: list[Line] = []
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos, pos + max_line)
        if nl < 0:
            if n - pos >= max_line:
                end = pos + max_line
            elif final:
                end = n
            else:
                break
            lines.append(Line(offset + pos, offset + end, _text(data[pos:end])))
            pos = end
            continue
        lines.append(Line(offset + pos, offset + nl + 1, _text(data[pos:nl])))
        pos = nl + 1
    return lines, offset + pos


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", errors="replace")


def utf8_safe_end(data: bytes) -> int:
    """The length of ``data`` without an incomplete UTF-8 character at its end, so a
    client that decodes each chunk and asks for the next at ``offset + that`` never
    sees a character cut in two (0..3 bytes are dropped; they come in the next read)."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        b = data[n - back]
        if b < 0x80:
            return n  # ASCII: complete
        if b >= 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return n if back >= need else n - back
    return n  # no lead byte in the last 4: not UTF-8 anyway; leave it


class TailFinder:
    """Where the last ``n`` (matching) lines before ``end`` start, fed the file's bytes
    backwards in chunks: ``feed(chunk, chunk_offset)`` returns the offset once found
    (or 0 when the start of the file is reached), else None: feed the chunk before."""

    def __init__(self, n: int, end: int, match: Callable[[str], bool] | None = None) -> None:
        self.n = n
        self.end = end
        self.match = match
        self.found = 0
        self._carry = b""
        self._first = True

    def feed(self, chunk: bytes, chunk_offset: int) -> int | None:
        if self.n <= 0:
            return self.end
        data = chunk + self._carry
        if self._first and data.endswith(b"\n"):
            data = data[:-1]  # the file's last newline ends the last line: no break
        self._first = False
        pos = len(data)
        while True:
            nl = data.rfind(b"\n", 0, pos)
            if nl < 0:
                break
            text = data[nl + 1 : pos].decode("utf-8", errors="replace")
            if self.match is None or self.match(text):
                self.found += 1
                if self.found >= self.n:
                    return chunk_offset + nl + 1
            pos = nl
        if chunk_offset <= 0:
            return 0
        self._carry = data[:pos]  # the line that began before this chunk
        return None


@dataclass(frozen=True, slots=True)
class LogQuery:
    """What a log request asks for (dcos-log v2's parameters)."""

    cursor: int | str = "BEG"
    """``BEG``, ``END`` or a byte offset to start from."""
    skip: int = 0
    """Lines to move from the cursor: negative = back (the last N lines), positive =
    forward."""
    limit: int | None = None
    """Lines to send at most (None: all, and with ``follow`` forever)."""
    resumed: bool = False
    """The cursor came from ``Last-Event-ID`` (a reconnecting SSE client)."""


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise BadLogQuery(f"{name}: {raw!r} is not an integer") from None


def parse_query(params: Mapping[str, str], last_event_id: str | None = None) -> LogQuery:
    """``?cursor=&skip=&limit=`` and the ``Last-Event-ID`` header (which wins, as in
    dcos-log: a reconnecting client resumes where it was, whatever its URL says).
    Invalid values raise ``BadLogQuery`` naming the parameter; huge ones are clamped."""
    limit: int | None = None
    if params.get("limit"):
        limit = _int("limit", params["limit"])
        if limit < 0:
            raise BadLogQuery(f"limit: {limit} is negative")
        limit = min(limit, MAX_LIMIT)
    if last_event_id is not None and last_event_id.strip():
        offset = _int("Last-Event-ID", last_event_id.strip())
        if offset < 0:
            raise BadLogQuery(f"Last-Event-ID: {offset} is negative")
        return LogQuery(offset, 0, limit, resumed=True)
    skip = 0
    if params.get("skip"):
        skip = max(-MAX_LIMIT, min(MAX_LIMIT, _int("skip", params["skip"])))
    raw = params.get("cursor", "")
    cursor: int | str
    if raw in ("", "BEG"):
        cursor = "END" if skip < 0 and raw == "" else "BEG"
    elif raw == "END":
        cursor = "END"
    else:
        cursor = _int("cursor", raw)
        if cursor < 0:
            raise BadLogQuery(f"cursor: {cursor} is negative (BEG, END or a byte offset)")
    return LogQuery(cursor, skip, limit)


def cursor_offset(cursor: int | str, size: int) -> int:
    """The byte offset a cursor names in a file of ``size`` bytes (clamped to it)."""
    if cursor == "BEG":
        return 0
    if cursor == "END":
        return size
    return min(int(cursor), size)


# -- formats ------------------------------------------------------------------------

FORMATS = {"text/plain": "text", "application/json": "json", "text/event-stream": "sse"}


def negotiate(accept: str | None) -> str:
    """``text``, ``json`` or ``sse`` from an Accept header (default text, as dcos-log)."""
    for part in (accept or "").split(","):
        kind = part.split(";")[0].strip().lower()
        if kind in FORMATS:
            return FORMATS[kind]
    return "text"


def text_line(line: Line) -> bytes:
    return line.text.encode() + b"\n"


def json_entry(line: Line, read_at: float, stream: str) -> bytes:
    """One JSON entry (a line of the response): dcos-log's journal entry shape with the
    file offsets: ``cursor`` (resume here) and ``offset`` (where the line starts)."""
    doc = {
        "fields": {"MESSAGE": line.text, "STREAM": stream},
        "cursor": str(line.end),
        "offset": line.offset,
        "realtime_timestamp": int(read_at * 1_000_000),
    }
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


def sse_event(line: Line) -> bytes:
    """``id: <end>`` then the line as ``data:`` (a carriage return inside starts another
    ``data:`` field, which an SSE client joins with a newline)."""
    parts = line.text.split("\r")
    body = "".join(f"data: {x}\n" for x in parts)
    return f"id: {line.end}\n{body}\n".encode()


def sse_named(event: str, payload: Mapping[str, object]) -> bytes:
    """A named event (``error``, ``done``) with a JSON ``data`` (no id: it is no line)."""
    return f"event: {event}\ndata: {json.dumps(dict(payload))}\n\n".encode()


SSE_KEEPALIVE = b": keepalive\n\n"
"""An SSE comment: keeps proxies from closing an idle stream, and finds a gone client."""

_LOGGER = re.compile(r"^\S+ \S+ \S+ (\S+?):")


def component_filter(component: str) -> Callable[[str], bool] | None:
    """Marathon and Metronome run inside the leading master: their log is the master
    log's lines whose logger (``%(name)s``) is theirs. None: every line."""
    if component not in ("marathon", "metronome"):
        return None
    prefix = f"actors.{component}"

    def match(text: str) -> bool:
        m = _LOGGER.match(text)
        return m is not None and (m.group(1) == prefix or m.group(1).startswith(prefix + "."))

    return match
