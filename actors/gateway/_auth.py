"""Who may use which route: the gateway's authentication and Admin Router permissions.

DC/OS puts Admin Router in front of every component: a request without a valid token is
refused (401, ``WWW-Authenticate: acsjwt``) before it reaches any service, and a request
whose user lacks the route's Admin Router permission (``dcos:adminrouter:service:marathon``,
``dcos:adminrouter:ops:mesos``...) is refused with 403. Services then apply their own,
finer permissions (Marathon's ``dcos:service:marathon:marathon:services:/<group>``):
handlers ask ``permit(request, rid, action)`` and filter lists with ``reader(...)``.

The path -> resource table (``rid_for``) is pure and explicit: a path with no entry maps
to ``dcos:adminrouter:ops:<first segment>`` (so it is still guarded), and
``tests/gateway/test_route_auth.py`` fails for any mounted route without an entry.

The gateway never imports ``actors.iam`` (which imports the gateway): it is handed an
object with ``authenticate``/``allowed``/``audit`` (``actors.iam.GatewayAuth``) through
``HttpGateway.set_auth``. Without one (``--no-auth``) every request passes.
"""

from __future__ import annotations

import contextvars
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("actors.gateway.auth")

PUBLIC_PATHS = frozenset({"/acs/api/v1/auth/login", "/acs/api/v1/auth/jwks", "/ping"})
"""The only paths served without a token (as Admin Router: the login, the keys that
verify tokens, and the load balancers' liveness check)."""

ADMIN_ACTION = "full"
"""Admin Router checks its ``dcos:adminrouter:*`` resources with action ``full``."""


class Principal(Protocol):
    """Who sent a request (``actors.iam.Principal``)."""

    @property
    def uid(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def superuser(self) -> bool: ...


class Authenticator(Protocol):
    """What the gateway needs of IAM (``actors.iam.GatewayAuth``)."""

    def authenticate(self, authorization: str | None) -> Any: ...
    def allowed(self, who: Any, rid: str, action: str) -> bool: ...
    def audit(self, who: Any, what: str, allowed: bool, **detail: str) -> None: ...


# -- the Admin Router table (pure) ------------------------------------------------------

_MESOS = "dcos:adminrouter:ops:mesos"
_SLAVE = "dcos:adminrouter:ops:slave"
_LOGS = "dcos:adminrouter:ops:system-logs"
_METRICS = "dcos:adminrouter:ops:system-metrics"

_PREFIXES: tuple[tuple[str, str], ...] = (
    # DC/OS' services: Admin Router's /service/<name>/ and the components' own paths.
    ("/acs/api/v1", "dcos:adminrouter:acs"),
    ("/marathon", "dcos:adminrouter:service:marathon"),
    ("/service/marathon", "dcos:adminrouter:service:marathon"),
    ("/metronome", "dcos:adminrouter:service:metronome"),
    ("/service/metronome", "dcos:adminrouter:service:metronome"),
    ("/package", "dcos:adminrouter:package"),
    ("/cosmos", "dcos:adminrouter:package"),
    ("/service/cosmos", "dcos:adminrouter:package"),
    ("/service/package", "dcos:adminrouter:package"),
    ("/capabilities", "dcos:adminrouter:capabilities"),
    # Mesos: Admin Router's /mesos/, the master's own port paths, the v1 HTTP API.
    ("/mesos_dns", "dcos:adminrouter:ops:mesos-dns"),
    ("/mesos", _MESOS),
    ("/service/mesos", _MESOS),
    ("/master", _MESOS),
    ("/api/v1", _MESOS),
    ("/service/api/v1", _MESOS),
    ("/state", _MESOS),
    ("/state-summary", _MESOS),
    ("/slaves", _MESOS),
    ("/frameworks", _MESOS),
    ("/tasks", _MESOS),
    ("/roles", _MESOS),
    ("/flags", _MESOS),
    ("/health", _MESOS),
    ("/redirect", _MESOS),
    ("/version", _MESOS),
    ("/metrics/snapshot", _MESOS),
    # Agents (sandboxes, agent state) through the master: Admin Router's /agent/ and /slave/.
    ("/agent", _SLAVE),
    ("/slave", _SLAVE),
    # DC/OS' system APIs.
    ("/system/v1/logs", _LOGS),
    ("/system/v1/metrics", _METRICS),
    ("/system/health", "dcos:adminrouter:ops:system-health"),
    ("/metrics", _METRICS),
    ("/networking", "dcos:adminrouter:ops:networking"),
    ("/exhibitor", "dcos:adminrouter:ops:exhibitor"),
    ("/dcos-metadata", "dcos:adminrouter:ops:metadata"),
    # pydcos' own: calling any actor of the cluster is an operator's power.
    ("/actors", "dcos:adminrouter:ops:actors"),
    ("/service/actors", "dcos:adminrouter:ops:actors"),
)
"""(path prefix, resource), matched on whole segments; the longest prefix wins."""

_AGENT_SYSTEM = re.compile(r"^/system/v1/agent/[^/]+/(logs|metrics)(/|$)")
_SERVICE = re.compile(r"^/service/([^/]+)(/|$)")
_SEGMENT = re.compile(r"^/([^/]*)")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + ".")


@dataclass(frozen=True, slots=True)
class RouteResource:
    """The Admin Router resource guarding a path, and whether the table names it
    (``explicit``) or it fell to the ``dcos:adminrouter:ops:<segment>`` default."""

    rid: str
    explicit: bool


def rid_for(path: str) -> RouteResource:
    """Path -> its Admin Router resource (``/marathon/v2/apps`` ->
    ``dcos:adminrouter:service:marathon``; ``/service/hello/v1/plans`` ->
    ``dcos:adminrouter:service:hello``). Pure; a trailing slash does not matter."""
    p = path.rstrip("/") or "/"
    best = ""
    rid = ""
    for prefix, resource in _PREFIXES:
        if len(prefix) > len(best) and _under(p, prefix):
            best, rid = prefix, resource
    if rid:
        return RouteResource(rid, True)
    m = _AGENT_SYSTEM.match(p)
    if m:
        return RouteResource(_LOGS if m.group(1) == "logs" else _METRICS, True)
    m = _SERVICE.match(p)
    if m:
        return RouteResource(f"dcos:adminrouter:service:{_safe(m.group(1))}", True)
    seg = _SEGMENT.match(p)
    first = seg.group(1) if seg else ""
    return RouteResource(f"dcos:adminrouter:ops:{_safe(first) or 'root'}", False)


def _safe(name: str) -> str:
    """A path segment as a resource-id part: no ``:`` or other separators smuggled in."""
    return _SAFE_NAME.sub("_", name)[:128]


def is_public(path: str) -> bool:
    """Whether ``path`` is served without a token."""
    return (path.rstrip("/") or "/") in PUBLIC_PATHS


# -- calls a master makes to its own gateway -------------------------------------------


@dataclass(frozen=True, slots=True)
class NodePrincipal:
    """This master itself (``kind`` "node": trusted, as the nodes' CURVE keys are)."""

    uid: str = "pydcos_master"
    kind: str = "node"
    superuser: bool = True


INTERNAL = NodePrincipal()
_INTERNAL_TOKEN = "internal." + secrets.token_urlsafe(32)
"""Known only inside this process: a service calling its own master's gateway with no
request to act for (a background task) authenticates with it."""

_CALLER: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pydcos_gateway_caller", default=None
)
"""The ``Authorization`` of the request being served (set by the middleware), so that a
service calling another one on behalf of a request (Cosmos -> Marathon, as DC/OS' Cosmos
forwards its caller's token) acts as that caller, never with more rights."""


def forward_headers() -> dict[str, str]:
    """Headers for a request a service sends to its own master's gateway: the caller's
    ``Authorization`` inside a request (and in tasks it started), else this master's own
    identity. Harmless with auth off."""
    caller = _CALLER.get()
    return {"Authorization": caller or f"token={_INTERNAL_TOKEN}"}


def _internal(authorization: str | None) -> bool:
    return authorization is not None and hmac.compare_digest(
        authorization.encode(), f"token={_INTERNAL_TOKEN}".encode()
    )


# -- per-request helpers for handlers ---------------------------------------------------


def _keys() -> tuple[Any, Any]:
    from aiohttp import web

    return web.RequestKey("pydcos.auth", object), web.RequestKey("pydcos.principal", object)


_AUTH_KEY, _PRINCIPAL_KEY = _keys()
"""Where the middleware leaves the authenticator and the principal on a request (typed
keys, as aiohttp asks); handlers read them with ``principal()``/``permit()``."""


def principal(request: web.Request) -> Any:
    """Who sent ``request`` (an ``actors.iam.Principal``), or None when auth is off."""
    return request.get(_PRINCIPAL_KEY)


def permit(request: web.Request, rid: str, action: str, *, audit: bool = True) -> bool:
    """Whether the request's principal may do ``action`` on ``rid``; True when auth is off.
    A refusal is written to the audit log (unless ``audit`` is False: a probe)."""
    auth: Authenticator | None = request.get(_AUTH_KEY)
    if auth is None:
        return True
    who = request.get(_PRINCIPAL_KEY)
    if who is None:
        return False
    if auth.allowed(who, rid, action):
        return True
    if audit:
        auth.audit(who, f"{request.method} {request.path}", False, rid=rid, action=action)
    return False


def reader(request: web.Request, rid_of: Callable[[str], str]) -> Callable[[str], bool] | None:
    """A ``visible(object id) -> bool`` predicate for list views (read permission on
    ``rid_of(id)``), or None when everything is visible (auth off, superuser)."""
    auth: Authenticator | None = request.get(_AUTH_KEY)
    who = request.get(_PRINCIPAL_KEY)
    if auth is None or (who is not None and getattr(who, "superuser", False)):
        return None
    if who is None:
        return lambda _id: False
    allowed = auth.allowed
    return lambda oid: allowed(who, rid_of(oid), "read")


def requires(rid: str, action: str, handler: Handler) -> Handler:
    """``handler`` guarded by one fixed permission (``dcos:mesos:agent:sandbox`` read for
    the sandbox files API): 403 naming it when the caller lacks it; a no-op with auth off."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if not permit(request, rid, action):
            return forbidden(rid, action, principal(request))
        return await handler(request)

    guarded.__doc__ = handler.__doc__
    return guarded


def forbidden(rid: str, action: str, who: Any = None) -> web.Response:
    """The 403 every check answers: JSON naming the resource and the action."""
    from aiohttp import web

    uid = getattr(who, "uid", None)
    by = f"{uid!r} " if uid else ""
    return web.json_response(
        {
            "message": f"forbidden: {by}may not {action} {rid}",
            "rid": rid,
            "action": action,
        },
        status=403,
    )


def unauthenticated(reason: str) -> web.Response:
    """The 401 of Admin Router: ``WWW-Authenticate: acsjwt`` and a JSON reason."""
    from aiohttp import web

    return web.json_response(
        {"message": f"authentication required: {reason}", "code": "ERR_UNAUTHORIZED"},
        status=401,
        headers={"WWW-Authenticate": "acsjwt"},
    )


Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


def resource_of(request: web.Request) -> RouteResource:
    """The Admin Router resource of the route aiohttp matched (its pattern, e.g.
    ``/marathon/v2/apps/{id}``: the path the router acted on), else of the raw path."""
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    canonical = getattr(resource, "canonical", None) if resource is not None else None
    if not canonical or canonical.startswith("/service/{"):
        return rid_for(request.path)
    return rid_for(canonical)


async def check(
    auth: Authenticator | None, request: web.Request, handler: Handler
) -> web.StreamResponse:
    """The middleware's body: authenticate, check the route's Admin Router permission,
    then run ``handler`` with ``request["principal"]`` set."""
    if auth is None:
        return await handler(request)
    request[_AUTH_KEY] = auth
    if is_public(request.path):
        return await handler(request)
    header = request.headers.get("Authorization")
    if _internal(header):
        request[_PRINCIPAL_KEY] = INTERNAL
        return await handler(request)
    try:
        who = auth.authenticate(header)
    except Exception as exc:
        if type(exc).__name__ == "Unauthenticated":
            reason = str(exc) or "invalid token"
        else:  # a verifier bug: fail closed, say nothing about the token
            log.exception("authenticating %s %s failed", request.method, request.path)
            reason = "the token could not be verified"
        auth.audit(None, f"{request.method} {request.path}", False, reason=reason)
        return unauthenticated(reason)
    request[_PRINCIPAL_KEY] = who
    res = resource_of(request)
    if not auth.allowed(who, res.rid, ADMIN_ACTION):
        auth.audit(who, f"{request.method} {request.path}", False, rid=res.rid, action=ADMIN_ACTION)
        return forbidden(res.rid, ADMIN_ACTION, who)
    caller = _CALLER.set(header)  # the handler (and tasks it starts) act as the caller
    try:
        return await handler(request)
    finally:
        _CALLER.reset(caller)
