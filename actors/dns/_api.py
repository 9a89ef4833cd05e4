"""Mesos-DNS' HTTP API on every master's gateway, under ``/mesos_dns``.

Shapes as Mesos-DNS' ``resolver/http_plugin.go``: ``/v1/version``, ``/v1/config``,
``/v1/hosts/{host}`` (``[{"host", "ip"}]``), ``/v1/services/{service}``
(``[{"service", "host", "ip", "port"}]``, the port a string) and ``/v1/enumerate``
(``{"frameworks": [{"name", "tasks": [{"name", "id", "records": [{"name", "host",
"rtype"}]}]}]}``). A name with no records answers Mesos-DNS' one blank entry.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from aiohttp import web

from actors.dns._records import RecordTable
from actors.dns._wire import MAX_NAME

VERSION = "pydcos-0.1.0"
PREFIX = "/mesos_dns/v1"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def _fqdn(raw: str, what: str) -> str | web.Response:
    name = raw.strip().lower()
    if not name or len(name) > MAX_NAME or any(c.isspace() for c in name):
        return _error(400, f"{what}: {raw[:80]!r} is not a DNS name (1-{MAX_NAME} characters)")
    return name if name.endswith(".") else name + "."


def api_routes(
    table: Callable[[], RecordTable | None], config: Callable[[], dict[str, Any]]
) -> list[web.RouteDef]:
    """``table()``: the table served now (None before the server listens)."""

    def current() -> RecordTable | web.Response:
        t = table()
        if t is None or not t.ready:
            return _error(503, "DNS has no state from the leading master yet")
        return t

    async def version(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "Service": "Mesos-DNS",
                "URL": "https://github.com/mesosphere/mesos-dns",
                "Version": VERSION,
            }
        )

    async def get_config(request: web.Request) -> web.StreamResponse:
        return web.json_response(config())

    async def hosts(request: web.Request) -> web.StreamResponse:
        name = _fqdn(request.match_info["host"], "host")
        if isinstance(name, web.Response):
            return name
        t = current()
        if isinstance(t, web.Response):
            return t
        ips = list(t.a.get(name, ()))
        random.shuffle(ips)
        out = [{"host": name, "ip": ip} for ip in ips] or [{"host": "", "ip": ""}]
        return web.json_response(out)

    async def services(request: web.Request) -> web.StreamResponse:
        raw = request.match_info["service"]
        name = _fqdn(raw, "service")
        if isinstance(name, web.Response):
            return name
        t = current()
        if isinstance(t, web.Response):
            return t
        srvs = list(t.srv.get(name, ()))
        random.shuffle(srvs)
        out = [
            {
                "service": raw,
                "host": s.target,
                "ip": (t.a.get(s.target) or ("",))[0],
                "port": str(s.port),
            }
            for s in srvs
        ] or [{"service": "", "host": "", "ip": "", "port": ""}]
        return web.json_response(out)

    async def enumerate_(request: web.Request) -> web.StreamResponse:
        t = current()
        if isinstance(t, web.Response):
            return t
        return web.json_response(t.enumerate)

    return [
        web.get(f"{PREFIX}/version", version),
        web.get(f"{PREFIX}/config", get_config),
        web.get(f"{PREFIX}/hosts/{{host}}", hosts),
        web.get(f"{PREFIX}/services/{{service}}", services),
        web.get(f"{PREFIX}/enumerate", enumerate_),
    ]
