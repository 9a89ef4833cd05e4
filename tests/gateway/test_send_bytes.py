"""``send_bytes`` (and ``send_chunks``, the same body in pieces) answers exactly what
``web.Response(body=...)`` would: same status line, same headers (``Content-Length``,
``Content-Type``; only ``Date`` may differ), same body, byte for byte, on a real socket;
small and large bodies, GET and HEAD, keep-alive."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
from aiohttp import web

from actors.gateway import send_bytes
from actors.gateway._body import SLICE, SMALL, send_chunks

BODIES = {
    "empty": b"",
    "small": b'{"tasks": []}',
    "edge": b"x" * SMALL,
    "large": os.urandom(3 * SLICE + 12345),
}
KINDS: dict[str, dict[str, Any]] = {
    "plain": {},
    "charset": {"charset": "utf-8"},
    "created": {"status": 201, "headers": {"X-Marathon-Leader": "http://127.0.0.1:1"}},
}


def _pieces(body: bytes) -> list[bytes]:
    """``body`` cut as ``/master/state``'s pieces are: empty, tiny, one slice and more."""
    cuts = sorted({0, 1, 7, SLICE - 3, SLICE + 5, 2 * SLICE + 1, len(body)})
    cuts = [c for c in cuts if c <= len(body)]
    return [b""] + [body[a:b] for a, b in pairwise(cuts)] + [b""]


def _old(body: bytes, kw: dict[str, Any]) -> web.Response:
    return web.Response(
        status=kw.get("status", 200),
        body=body,
        headers=kw.get("headers"),
        content_type="application/json",
        charset=kw.get("charset"),
    )


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = BODIES[request.match_info["body"]]
        kw = KINDS[request.match_info["kind"]]
        if request.match_info["how"] == "old":
            return _old(body, kw)
        if request.match_info["how"] == "chunks":
            return await send_chunks(request, _pieces(body), **kw)
        return await send_bytes(request, body, **kw)

    app = web.Application()
    app.router.add_get("/{how}/{body}/{kind}", handle)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", port
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def _exchange(addr: tuple[str, int], requests: list[tuple[str, str]]) -> list[bytes]:
    """Send each request on one keep-alive connection; the raw answers, ``Date`` cut."""
    out = []
    with socket.create_connection(addr, timeout=10) as sock:
        reader = sock.makefile("rb")
        for method, path in requests:
            sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += reader.readline()
            lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"date:")]
            sizes = [
                int(ln.split(b":", 1)[1])
                for ln in lines
                if ln.lower().startswith(b"content-length:")
            ]
            length = sizes[0] if sizes else 0  # a HEAD of an empty body has none
            body = reader.read(length) if method == "GET" else b""
            out.append(b"\r\n".join(lines) + body)
    return out


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("body", sorted(BODIES))
def test_same_bytes_as_a_response(server: tuple[str, int], body: str, kind: str) -> None:
    hows = ("old", "new", "chunks")
    requests = [(m, f"/{how}/{body}/{kind}") for m in ("GET", "HEAD", "GET") for how in hows]
    answers = _exchange(server, requests)
    for old, new, chunks in zip(answers[::3], answers[1::3], answers[2::3], strict=True):
        assert new == old
        assert chunks == old
    assert answers[0].endswith(BODIES[body])
    assert b"Transfer-Encoding" not in answers[1]
