"""The gateway's request body limit over a real loopback socket (issue 30, item 2).

A body above ``MAX_BODY_BYTES`` (1 MiB) is answered 413 with a JSON message naming the
limit before any handler sees it; one of exactly the limit is served.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from actors.gateway import HttpGateway
from actors.gateway._server import MAX_BODY_BYTES
from zk import DEFAULT_MAX_BYTES


@pytest.fixture
def gateway() -> Iterator[tuple[HttpGateway, list[int]]]:
    seen: list[int] = []

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(len(body))
        return web.json_response({"bytes": len(body)})

    gw = HttpGateway(leader=lambda: None, is_leader=lambda: True, master=lambda: None)
    gw.add_leader_routes(("/svc/",), [web.post("/svc/echo", echo)])
    gw.start()
    try:
        yield gw, seen
    finally:
        gw.stop()


def post(gw: HttpGateway, body: bytes, chunked: bool = False) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(gw.host, gw.port, timeout=30)
    try:
        if chunked:
            conn.putrequest("POST", "/svc/echo")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.putheader("Content-Type", "application/json")
            conn.endheaders()
            for i in range(0, len(body), 65536):
                part = body[i : i + 65536]
                conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            conn.send(b"0\r\n\r\n")
        else:
            conn.request("POST", "/svc/echo", body=body)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_a_body_of_exactly_the_limit_is_served(gateway: tuple[HttpGateway, list[int]]) -> None:
    gw, seen = gateway
    assert post(gw, b"x" * MAX_BODY_BYTES) == (200, {"bytes": MAX_BODY_BYTES})
    assert seen == [MAX_BODY_BYTES]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_one_byte_over_the_limit_is_413_json_naming_the_limit(
    gateway: tuple[HttpGateway, list[int]], chunked: bool
) -> None:
    gw, seen = gateway
    status, body = post(gw, b"x" * (MAX_BODY_BYTES + 1), chunked=chunked)
    assert status == 413
    assert f"limit of {MAX_BODY_BYTES} bytes" in body["message"]
    assert body["limit"] == MAX_BODY_BYTES
    if not chunked:
        assert f"of {MAX_BODY_BYTES + 1} bytes" in body["message"]
    assert seen == []  # the handler never got a body
    assert post(gw, b"{}") == (200, {"bytes": 2})  # and the gateway serves the next one


def test_what_one_body_becomes_fits_one_stored_document() -> None:
    """Marathon's deployment holds the root group before and after a change: a body's
    worth twice over, plus defaults, stays under the store's document limit."""
    assert MAX_BODY_BYTES == 1024 * 1024
    assert 2 * MAX_BODY_BYTES + 64 * 1024 <= DEFAULT_MAX_BYTES
