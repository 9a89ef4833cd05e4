"""Every route of a fully built master is guarded: no token -> 401, a token without the
route's Admin Router permission -> 403 naming it; every path has an explicit resource.

The route table is enumerated from ``gateway.app.router`` after EVERY registered leader
and node service has mounted its routes, so a route added later without an entry in
``actors/gateway/_auth.py`` (or served without the middleware) fails here.

The authenticator is a small stand-in for ``actors.iam.GatewayAuth`` (its own tests are
H1's): tokens ``good-<uid>``, grants as (uid, rid prefix, action)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from actors.gateway import (
    HttpGateway,
    forward_headers,
    is_public,
    permit,
    principal,
    reader,
    rid_for,
)
from actors.gateway._auth import _AUTH_KEY, _PRINCIPAL_KEY, check
from actors.master import LEADER_SERVICES, NODE_SERVICES, ServiceContext
from actors.master._leader_services import leader_services, node_services
from runtime import Node


@dataclass(frozen=True, slots=True)
class FakePrincipal:
    uid: str
    kind: str = "user"
    superuser: bool = False


class Unauthenticated(Exception):
    pass


class FakeAuth:
    def __init__(self, grants: set[tuple[str, str, str]]) -> None:
        self.grants = grants
        self.audited: list[tuple[str | None, str, bool, dict[str, str]]] = []

    def authenticate(self, authorization: str | None) -> FakePrincipal:
        if not authorization:
            raise Unauthenticated("no Authorization header")
        scheme, _, token = authorization.partition("=")
        if scheme != "token" or not token.startswith("good-"):
            raise Unauthenticated("invalid token")
        uid = token.removeprefix("good-")
        return FakePrincipal(uid, superuser=uid == "root")

    def allowed(self, who: FakePrincipal, rid: str, action: str) -> bool:
        if who.superuser:
            return True
        for uid, granted, act in self.grants:
            if uid != who.uid or act not in (action, "full"):
                continue
            if rid == granted or rid.startswith(granted + "/") or rid.startswith(granted + ":"):
                return True
        return False

    def audit(self, who: Any, what: str, allowed: bool, **detail: str) -> None:
        self.audited.append((getattr(who, "uid", None), what, allowed, detail))


_VAR = re.compile(r"\{[^}]*\}")


def _sample(canonical: str) -> str:
    """A concrete path for a route pattern: every ``{var}`` becomes ``x`` (``{rest}``
    tails of catch-all routes become empty)."""
    return _VAR.sub(lambda m: "" if m.group(0).startswith("{rest") else "x", canonical)


def _all_routes(gw: HttpGateway) -> list[tuple[str, str]]:
    out = set()
    for route in gw.app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        canonical = route.resource.canonical if route.resource is not None else ""
        out.add(("GET" if route.method == "*" else route.method, canonical))
    return sorted(out)


def master_gateway() -> HttpGateway:
    """A gateway with the routes of EVERY registered leader and node service mounted, as
    a master running all of them mounts them (not started)."""
    node = Node("master")
    gw = HttpGateway(leader=lambda: None, is_leader=lambda: True, master=lambda: None)
    ctx = ServiceContext(
        node=node,
        zk=None,
        master_address="tcp://127.0.0.1:1/master",
        hostname="h",
        gateway=gw,
    )
    for service in leader_services(",".join(LEADER_SERVICES)):
        gw.add_leader_routes(service.prefixes, service.routes(ctx))
    for node_service in node_services(",".join(NODE_SERVICES)):
        gw.add_routes(node_service.routes(ctx))
    return gw


def master_routes() -> list[tuple[str, str]]:
    """(method, concrete path) of every route a master mounts, public ones excluded."""
    return [(m, _sample(c)) for m, c in _all_routes(master_gateway()) if not is_public(_sample(c))]


@pytest.fixture(scope="module")
def built() -> Iterator[tuple[HttpGateway, FakeAuth]]:
    gw = master_gateway()
    auth = FakeAuth({("alice", "dcos:adminrouter:service:marathon", "full")})
    gw.set_auth(auth)
    gw.start()
    yield gw, auth
    gw.stop()


def _request(url: str, method: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, data=b"{}" if method != "GET" else None)
    if token is not None:
        req.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_every_route_has_an_explicit_admin_router_resource(
    built: tuple[HttpGateway, FakeAuth],
) -> None:
    gw, _ = built
    routes = _all_routes(gw)
    assert len(routes) > 100  # the whole master: Mesos, Marathon, Metronome, logs...
    unmapped = [(m, c) for m, c in routes if not is_public(c) and not rid_for(_sample(c)).explicit]
    assert unmapped == [], f"routes without an Admin Router resource in _auth.py: {unmapped}"


def test_every_route_without_a_token_is_401_acsjwt(built: tuple[HttpGateway, FakeAuth]) -> None:
    gw, _ = built
    served = []
    for method, canonical in _all_routes(gw):
        path = _sample(canonical)
        if is_public(path):
            continue
        status, headers, body = _request(gw.url + path, method)
        assert status == 401, (method, path, status, body[:200])
        assert headers.get("WWW-Authenticate") == "acsjwt", (method, path)
        assert "authentication required" in json.loads(body)["message"]
        served.append(path)
    assert any(p.startswith("/marathon/v2/apps") for p in served)
    # A wrong scheme or a bad token is no better than none.
    for bad in ("Basic YWxpY2U6eA==", "token=forged", "token="):
        status, _, _ = _request(gw.url + "/marathon/v2/apps", "GET", bad)
        assert status == 401, bad


def test_ping_is_public_and_unknown_paths_still_need_a_token(
    built: tuple[HttpGateway, FakeAuth],
) -> None:
    gw, _ = built
    assert _request(gw.url + "/ping", "GET")[0] == 200
    assert _request(gw.url + "/no/such/route", "GET")[0] == 401
    assert _request(gw.url + "/no/such/route", "GET", "token=good-root")[0] == 404


def test_a_token_without_the_route_permission_is_403_naming_rid_and_action(
    built: tuple[HttpGateway, FakeAuth],
) -> None:
    gw, auth = built
    status, _, body = _request(gw.url + "/mesos/master/flags", "GET", "token=good-alice")
    assert status == 403
    doc = json.loads(body)
    assert doc["rid"] == "dcos:adminrouter:ops:mesos" and doc["action"] == "full"
    assert "alice" in doc["message"] and "dcos:adminrouter:ops:mesos" in doc["message"]
    assert ("alice", "GET /mesos/master/flags", False) in [a[:3] for a in auth.audited]
    # Her grant opens Marathon at both of Admin Router's paths.
    assert _request(gw.url + "/marathon/ping", "GET", "token=good-alice")[0] == 200
    assert _request(gw.url + "/service/marathon/ping", "GET", "token=good-alice")[0] == 200
    # The superuser passes everywhere the route itself answers.
    assert _request(gw.url + "/mesos/master/flags", "GET", "token=good-root")[0] == 200


@pytest.mark.parametrize(
    ("path", "rid"),
    [
        ("/marathon/v2/apps", "dcos:adminrouter:service:marathon"),
        ("/service/marathon/v2/apps/", "dcos:adminrouter:service:marathon"),
        ("/metronome/v1/jobs", "dcos:adminrouter:service:metronome"),
        ("/service/metronome/v1/jobs", "dcos:adminrouter:service:metronome"),
        ("/package/list", "dcos:adminrouter:package"),
        ("/cosmos/package/list", "dcos:adminrouter:package"),
        ("/capabilities", "dcos:adminrouter:capabilities"),
        ("/acs/api/v1/users", "dcos:adminrouter:acs"),
        ("/mesos/master/state", "dcos:adminrouter:ops:mesos"),
        ("/master/state.json", "dcos:adminrouter:ops:mesos"),
        ("/state.json", "dcos:adminrouter:ops:mesos"),
        ("/api/v1/scheduler", "dcos:adminrouter:ops:mesos"),
        ("/mesos/api/v1/scheduler", "dcos:adminrouter:ops:mesos"),
        ("/metrics/snapshot", "dcos:adminrouter:ops:mesos"),
        ("/mesos_dns/v1/version", "dcos:adminrouter:ops:mesos-dns"),
        ("/agent/a1/files/read", "dcos:adminrouter:ops:slave"),
        ("/slave/a1/state", "dcos:adminrouter:ops:slave"),
        ("/system/v1/logs/v2/component/x", "dcos:adminrouter:ops:system-logs"),
        ("/system/v1/agent/a1/logs/v2/task/t", "dcos:adminrouter:ops:system-logs"),
        ("/system/v1/agent/a1/metrics/v0/node", "dcos:adminrouter:ops:system-metrics"),
        ("/metrics", "dcos:adminrouter:ops:system-metrics"),
        ("/networking/api/v1/vips", "dcos:adminrouter:ops:networking"),
        ("/service/hello-world/v1/plans", "dcos:adminrouter:service:hello-world"),
        ("/service/a:b/x", "dcos:adminrouter:service:a_b"),
        ("/actors/v1/actors", "dcos:adminrouter:ops:actors"),
    ],
)
def test_admin_router_table(path: str, rid: str) -> None:
    got = rid_for(path)
    assert got.rid == rid and got.explicit


def test_unknown_paths_fall_to_ops_segment_and_are_not_explicit() -> None:
    assert rid_for("/brand-new/thing") == rid_for("/brand-new")
    assert rid_for("/brand-new/thing").rid == "dcos:adminrouter:ops:brand-new"
    assert not rid_for("/brand-new/thing").explicit
    assert not rid_for("/mesosx").explicit  # whole segments only


def test_helpers_when_auth_is_off_and_on() -> None:
    class Req(dict[str, Any]):
        method = "GET"
        path = "/marathon/v2/apps"

    off = Req()
    assert permit(off, "dcos:x", "read") is True  # type: ignore[arg-type]
    assert principal(off) is None  # type: ignore[arg-type]
    assert reader(off, lambda i: i) is None  # type: ignore[arg-type]
    auth = FakeAuth({("bob", "dcos:service:marathon:marathon:services:/team-b", "read")})
    on = Req({_AUTH_KEY: auth, _PRINCIPAL_KEY: FakePrincipal("bob")})
    visible = reader(on, lambda i: "dcos:service:marathon:marathon:services:" + i)  # type: ignore[arg-type]
    assert visible is not None
    assert visible("/team-b/web") and not visible("/team-a/web")
    assert permit(on, "dcos:service:marathon:marathon:services:/team-b", "read")  # type: ignore[arg-type]
    assert not permit(on, "dcos:service:marathon:marathon:services:/team-a", "delete")  # type: ignore[arg-type]
    assert auth.audited[-1][0] == "bob" and auth.audited[-1][2] is False
    root = Req({_AUTH_KEY: auth, _PRINCIPAL_KEY: FakePrincipal("root", superuser=True)})
    assert reader(root, lambda i: i) is None  # type: ignore[arg-type]


async def _ok(request: Any) -> Any:
    from aiohttp import web

    return web.Response(text="ok")


def test_check_is_a_no_op_without_auth() -> None:
    import asyncio

    class Req(dict[str, Any]):
        path = "/x"

    resp = asyncio.run(check(None, Req(), _ok))  # type: ignore[arg-type]
    assert resp.status == 200


def test_a_master_calling_itself_is_trusted_and_a_forged_internal_token_is_not(
    built: tuple[HttpGateway, FakeAuth],
) -> None:
    gw, _ = built
    internal = forward_headers()["Authorization"]  # outside any request: the master's own
    assert internal.startswith("token=internal.")
    assert _request(gw.url + "/mesos/master/flags", "GET", internal)[0] == 200
    assert _request(gw.url + "/mesos/master/flags", "GET", "token=internal.forged")[0] == 401
