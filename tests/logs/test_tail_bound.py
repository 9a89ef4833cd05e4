"""A non-streaming tail (``skip=-N``) ends where its lines were counted from: what the
task writes while the answer is read is not in it (``LogsApi._lines`` with ``until``)."""

from __future__ import annotations

import asyncio
from typing import Any

from actors import protocol as p
from actors.logs._lines import LogQuery
from actors.logs._service import LogsApi, Source


class _GrowingFile:
    """A log that gains a line after every read (a ticking task)."""

    def __init__(self, lines: int) -> None:
        self.data = b"".join(b"tick %d\n" % i for i in range(lines))
        self.ticks = lines

    async def read(self, src: Source, offset: int, length: int, timeout: float = 0) -> Any:
        chunk = self.data[offset : offset + length]
        size = len(self.data)
        self.data += b"tick %d\n" % self.ticks
        self.ticks += 1
        return p.FileChunk(status=200, message="", offset=offset, data=chunk, size=size)


class _Body:
    def __init__(self) -> None:
        self.out = b""

    async def write(self, data: bytes) -> None:
        self.out += data


def _tail(n: int, bounded: bool) -> list[str]:
    """The last ``n`` of 60 lines, counted at the probe; a line is written after it."""
    api = LogsApi(ctx=None, pending=None)
    grow = _GrowingFile(60)
    api._read = grow.read  # type: ignore[method-assign]
    end = len(grow.data)  # the probe's size: the tail is counted back from here
    start = end - sum(len(b"tick %d\n" % i) for i in range(60 - n, 60))
    grow.data += b"tick 60\n"  # written while the request goes on
    grow.ticks += 1
    body = _Body()
    src = Source(address="a", where="agent a", task_id="t")
    query = LogQuery(cursor="END", skip=-n)
    until = end if bounded else None
    asyncio.run(api._lines(body, src, "text", start, query, until))  # type: ignore[arg-type]
    return body.out.decode().splitlines()


def test_a_tail_answers_the_lines_it_counted_and_no_more() -> None:
    assert _tail(3, bounded=True) == ["tick 57", "tick 58", "tick 59"]
    # without the bound, what was written meanwhile came too (CI saw 4 lines for 3)
    assert _tail(3, bounded=False) == ["tick 57", "tick 58", "tick 59", "tick 60"]
