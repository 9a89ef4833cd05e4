"""The gateway's error middleware: whatever a handler raises, the client gets JSON; a
write refused because the master stopped leading (``zk.Fenced``) is a 503 with
``Retry-After`` (Marathon answers 503 while it has no leader, and its clients retry
it), never a 500. Served over a real loopback HTTP server, read with urllib."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from aiohttp import web

from actors.gateway._server import _errors
from zk import Fenced


async def _fenced(request: web.Request) -> web.StreamResponse:
    raise Fenced("/marathon/docs/apps/x", 3, "this writer stopped leading")


async def _broken(request: web.Request) -> web.StreamResponse:
    raise ValueError("a bug")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    loop = asyncio.new_event_loop()
    app = web.Application(middlewares=[_errors])
    app.router.add_post("/fenced", _fenced)
    app.router.add_get("/broken", _broken)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _call(url: str, method: str = "GET") -> urllib.error.HTTPError:
    req = urllib.request.Request(url, data=b"{}" if method == "POST" else None, method=method)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    return info.value


def test_a_fenced_write_is_503_with_retry_after_and_names_the_refusal(base_url: str) -> None:
    err = _call(f"{base_url}/fenced", "POST")
    assert err.code == 503
    assert err.headers["Retry-After"] == "1"
    assert err.headers["Content-Type"].startswith("application/json")
    message = json.loads(err.read())["message"]
    assert "not leading" in message and "/marathon/docs/apps/x" in message
    assert "term 3" in message


def test_any_other_error_is_still_a_500_without_retry_after(base_url: str) -> None:
    err = _call(f"{base_url}/broken")
    assert err.code == 500
    assert "Retry-After" not in err.headers
    assert json.loads(err.read())["message"] == "internal error: ValueError: a bug"
