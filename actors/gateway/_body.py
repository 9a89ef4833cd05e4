"""``send_bytes``: an encoded answer written to the client without copying it whole.

Why: ``web.Response(body=data)`` hands the whole body to the transport in one write. On
the CPython 3.11 the masters run, aiohttp joins the headers and the body first (its
``writelines`` fallback: one copy), the socket takes a few MB of it, asyncio slices the
rest (a second copy) and appends it to its own buffer (a third). At 100,000 tasks
``/v2/tasks`` is 42 MB and ``/master/state`` 62 MB: each copy lands on fresh pages, and
those three copies were 1/3 of the leader's CPU while the answers were read (the 10k/
100k run's GET profile: ``_SelectorSocketTransport.write`` + ``StreamWriter._writelines``,
with the HTTP loop holding the GIL the actors need). Writing memoryview slices of the
same bytes object, waiting for the socket to drain between them, copies at most one
slice's unsent tail, and the client gets exactly the bytes and headers
``web.Response`` would have sent (``Content-Length``, no chunking, no compression).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web

SMALL = 256 * 1024
"""Bodies up to this size go out as one ``web.Response`` (one small copy is cheaper
than a drain per slice)."""

SLICE = 1024 * 1024
"""Bytes per write of a large body: the loopback socket's buffer takes about this much
at once, so most slices are sent from the caller's bytes without being buffered."""


async def send_bytes(
    request: web.Request,
    body: bytes,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    charset: str | None = None,
) -> web.StreamResponse:
    """Answer ``body`` (already encoded) with the headers ``web.Response(body=body,
    status=status, headers=headers, content_type=content_type, charset=charset)``
    sends; a large body is written in slices of that same bytes object."""
    return await send_chunks(
        request,
        (body,),
        status=status,
        headers=headers,
        content_type=content_type,
        charset=charset,
    )


async def send_chunks(
    request: web.Request,
    chunks: Sequence[bytes],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    charset: str | None = None,
) -> web.StreamResponse:
    """``send_bytes(request, b"".join(chunks), ...)`` without the join: the pieces of
    ``/master/state`` (61 MB at 100,000 tasks, mostly kept from the last render) are
    written as they are, a large one in slices, behind one ``Content-Length``."""
    length = sum(map(len, chunks))
    if length <= SMALL:
        return web.Response(
            status=status,
            body=b"".join(chunks),
            headers=headers,
            content_type=content_type,
            charset=charset,
        )
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = content_type
    if charset is not None:
        response.charset = charset
    response.content_length = length
    try:
        await response.prepare(request)
        if request.method != "HEAD":
            for chunk in chunks:
                view = memoryview(chunk)
                for start in range(0, len(chunk), SLICE):
                    await response.write(view[start : start + SLICE])
        await response.write_eof()
    except ConnectionError:
        # The client went away mid-answer: nothing to tell it (aiohttp's
        # ClientConnectionResetError is a ConnectionResetError).
        pass
    return response
