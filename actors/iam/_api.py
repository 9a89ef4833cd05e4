"""The ACS API, ``/acs/api/v1`` as DC/OS' bouncer shapes it, on the leading master.

Reads go to ZooKeeper (``iam/state``, one document); every change is a pure function of
``_model`` run inside the store's compare-and-set loop (``StateStore.update``), so two
concurrent changes never lose one another and a refused change stores nothing. Changes
need ``full`` on ``dcos:adminrouter:acs`` (a superuser has it) when auth is on; each is
written to the audit log with who made it.

Blocking work (ZooKeeper, argon2) runs on the executor, never on the gateway's loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from actors.gateway import permit, principal
from actors.iam import _model as m
from actors.iam._errors import (
    Forbidden,
    IamError,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from actors.iam._passwords import hash_password, verify_password
from actors.iam._ratelimit import LoginLimiter
from actors.iam._tokens import (
    check_public_key,
    issue_token,
    jwks,
    verify_service_login,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from actors.iam._audit import AuditLog

log = logging.getLogger("actors.iam")

BASE = "/acs/api/v1"
STATE_KEY = "iam/state"
ACS_RID = "dcos:adminrouter:acs"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(exc: IamError) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    if isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": "acsjwt"}
    return web.json_response(exc.body(), status=exc.status, headers=headers)


def _guard(fn: Handler) -> Handler:
    """IAM errors -> their JSON status; a store that cannot be reached -> 503."""

    @functools.wraps(fn)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except _StoreDown as exc:
            return web.json_response(
                {"message": f"the IAM state could not be read or written: {exc}"},
                status=503,
                headers={"Retry-After": "1"},
            )
        except IamError as exc:
            return _error(exc)

    return wrapped


class _StoreDown(IamError):
    """ZooKeeper could not be read or written (503, nothing changed)."""

    status = 503
    code = "ERR_SERVICE_UNAVAILABLE"


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        doc = await request.json(loads=json.loads)
    except ValueError:
        raise InvalidInput("body: is not JSON") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InvalidInput(f"body: {type(doc).__name__} is not a JSON object")
    return doc


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise InvalidInput(f"body: unknown field {extra[0]!r} (accepted: {', '.join(allowed)})")


class Backend(Protocol):
    """What the routes need of the leader service (``IamService``)."""

    signing_key: rsa.RSAPrivateKey | None
    token_ttl: int
    audit: AuditLog

    def store(self) -> Any: ...


class IamApi:
    """The routes; ``service`` holds the store, the signing key and the audit log."""

    def __init__(self, service: Backend, wall: Callable[[], float]) -> None:
        self.service = service
        self.wall = wall
        self.limiter = LoginLimiter()
        self._limiter_lock = threading.Lock()

    # -- store ---------------------------------------------------------------------

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def _read_sync(self) -> dict[str, Any]:
        store = self.service.store()
        if store is None:
            raise _StoreDown("no ZooKeeper")
        try:
            doc = store.get(STATE_KEY)
        except Exception as exc:
            raise _StoreDown(str(exc)) from None
        return m._copy(doc.value if doc is not None else None)

    async def _state(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._run(self._read_sync)
        return result

    def _update_sync(self, fn: Callable[[Any], Any]) -> None:
        store = self.service.store()
        if store is None:
            raise _StoreDown("no ZooKeeper")
        try:
            store.update(STATE_KEY, fn)
        except IamError:
            raise
        except Exception as exc:  # ZooKeeper: connection lost, session expired...
            raise _StoreDown(str(exc)) from None

    async def _change(
        self, request: web.Request, what: str, fn: Callable[[Any], Any], **detail: str
    ) -> None:
        """Check the caller may change IAM, apply ``fn`` with compare-and-set, audit it."""
        who = principal(request)
        uid = getattr(who, "uid", None)
        if not permit(request, ACS_RID, "full"):
            raise Forbidden(f"forbidden: {uid!r} may not full {ACS_RID} (IAM changes)")
        try:
            await self._run(self._update_sync, fn)
        except IamError as exc:
            self.service.audit.append(uid, what, False, status=str(exc.status), **detail)
            raise
        self.service.audit.append(uid, what, True, **detail)
        log.info("iam: %s by %s (%s)", what, uid or "anonymous", detail)

    # -- auth ----------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        _only(body, ("uid", "password", "token"))
        uid = body.get("uid")
        if not isinstance(uid, str) or not uid:
            raise InvalidInput(f"uid: {m._show(uid)} is not a non-empty string")
        if len(uid) > m.UID_MAX:
            raise InvalidInput(f"uid: {m._show(uid)} is longer than {m.UID_MAX} characters")
        password, token = body.get("password"), body.get("token")
        if (password is None) == (token is None):
            raise InvalidInput("body: give uid with exactly one of password or token")
        if password is not None and not isinstance(password, str):
            raise InvalidInput("password: is not a string")
        if token is not None and not isinstance(token, str):
            raise InvalidInput("token: is not a string")
        address = request.remote or "-"
        now = self.wall()
        with self._limiter_lock:
            wait, by = self.limiter.retry_after(uid, address, now)
        if wait:
            self.service.audit.append(
                None, "login", False, uid=uid, address=address, reason=f"rate-limited ({by})"
            )
            raise RateLimited(
                f"too many failed logins for this {by}: retry in {wait} s", retry_after=wait
            )
        key = self.service.signing_key
        if key is None:
            return web.json_response(
                {"message": "this cluster has no signing key (--iam-key): auth is off"},
                status=503,
            )
        try:
            jwt_ = await self._run(self._login_sync, uid, password, token, now)
        except Unauthenticated as exc:
            with self._limiter_lock:
                self.limiter.fail(uid, address, now)
            self.service.audit.append(
                None, "login", False, uid=uid, address=address, reason=exc.message
            )
            raise
        self.service.audit.append(uid, "login", True, address=address)
        return web.json_response({"token": jwt_})

    def _login_sync(self, uid: str, password: str | None, token: str | None, now: float) -> str:
        """One executor call: read the account, check the password (argon2id, against a
        dummy hash when there is none) or the service account's JWT, sign the token."""
        store = self.service.store()
        key = self.service.signing_key
        if store is None or key is None:
            raise _StoreDown("no ZooKeeper or no signing key")
        try:
            doc = store.get(STATE_KEY)
        except Exception as exc:  # ZooKeeper: connection lost, session expired...
            raise _StoreDown(str(exc)) from None
        users = (doc.value or {}).get("users", {}) if doc is not None else {}
        user = users.get(uid) if isinstance(users, dict) else None
        if password is not None:
            stored = user.get("password_hash") if user and user.get("kind") == "user" else None
            if not verify_password(stored, password):
                raise Unauthenticated("login failed: wrong uid or password")
        else:
            pem = user.get("public_key") if user and user.get("kind") == "service" else None
            verify_service_login(str(token), uid, pem, now)
        return issue_token(key, uid, now, self.service.token_ttl)

    async def get_jwks(self, request: web.Request) -> web.StreamResponse:
        key = self.service.signing_key
        if key is None:
            return web.json_response({"keys": []})
        return web.json_response(jwks(key.public_key()))

    # -- users ---------------------------------------------------------------------

    async def list_users(self, request: web.Request) -> web.StreamResponse:
        kind = request.query.get("type", "")
        if kind not in ("", "user", "service"):
            raise InvalidInput(f"type: {m._show(kind)} is not 'service' (or absent)")
        want = "service" if kind == "service" else "user"
        state = await self._state()
        users = [
            m.user_doc(uid, u)
            for uid, u in sorted(state["users"].items())
            if u.get("kind", "user") == want
        ]
        return web.json_response({"array": users})

    async def get_user(self, request: web.Request) -> web.StreamResponse:
        uid = m.check_uid(request.match_info["uid"])
        state = await self._state()
        user = state["users"].get(uid)
        if user is None:
            raise NotFound(f"uid: user {uid!r} does not exist")
        return web.json_response(m.user_doc(uid, user))

    async def put_user(self, request: web.Request) -> web.StreamResponse:
        uid = m.check_uid(request.match_info["uid"])
        body = await _body(request)
        _only(body, ("description", "password", "public_key", "curve_public_key"))
        description = m.check_description(body.get("description"))
        password, public_key = body.get("password"), body.get("public_key")
        if (password is None) == (public_key is None):
            raise InvalidInput(
                "body: give exactly one of password (a user) or public_key (a service)"
            )
        pw_hash = pem = None
        if password is not None:
            pw_hash = await self._run(hash_password, m.check_password(password))
        else:
            pem = check_public_key(public_key)
        curve = m.check_curve_key(body.get("curve_public_key"))
        kind = "service" if pem else "user"
        await self._change(
            request,
            f"create {kind} {uid}",
            lambda s: m.add_user(
                s,
                uid,
                description=description,
                password_hash=pw_hash,
                public_key=pem,
                curve_key=curve,
            ),
            uid=uid,
        )
        return web.Response(status=201)

    async def patch_user(self, request: web.Request) -> web.StreamResponse:
        uid = m.check_uid(request.match_info["uid"])
        body = await _body(request)
        _only(body, ("description", "password", "public_key"))
        description = body.get("description")
        if description is not None:
            description = m.check_description(description)
        pw_hash = pem = None
        if body.get("password") is not None:
            pw_hash = await self._run(hash_password, m.check_password(body["password"]))
        if body.get("public_key") is not None:
            pem = check_public_key(body["public_key"])
        changed = ",".join(k for k in ("description", "password", "public_key") if k in body)
        await self._change(
            request,
            f"update user {uid}",
            lambda s: m.update_user(
                s, uid, description=description, password_hash=pw_hash, public_key=pem
            ),
            uid=uid,
            fields=changed,
        )
        return web.Response(status=204)

    async def delete_user(self, request: web.Request) -> web.StreamResponse:
        uid = m.check_uid(request.match_info["uid"])
        await self._change(request, f"delete user {uid}", lambda s: m.delete_user(s, uid), uid=uid)
        return web.Response(status=204)

    async def user_permissions(self, request: web.Request) -> web.StreamResponse:
        uid = m.check_uid(request.match_info["uid"])
        return web.json_response(m.permissions_doc(await self._state(), uid))

    async def user_groups(self, request: web.Request) -> web.StreamResponse:
        uid = m.check_uid(request.match_info["uid"])
        state = await self._state()
        if uid not in state["users"]:
            raise NotFound(f"uid: user {uid!r} does not exist")
        out = [
            {
                "membershipurl": f"{BASE}/groups/{gid}/users/{uid}",
                "group": _group_doc(gid, g),
            }
            for gid, g in sorted(state["groups"].items())
            if uid in g.get("members", [])
        ]
        return web.json_response({"array": out})

    # -- groups --------------------------------------------------------------------

    async def list_groups(self, request: web.Request) -> web.StreamResponse:
        state = await self._state()
        return web.json_response(
            {"array": [_group_doc(gid, g) for gid, g in sorted(state["groups"].items())]}
        )

    async def get_group(self, request: web.Request) -> web.StreamResponse:
        gid = m.check_gid(request.match_info["gid"])
        g = (await self._state())["groups"].get(gid)
        if g is None:
            raise NotFound(f"gid: group {gid!r} does not exist")
        return web.json_response(_group_doc(gid, g))

    async def put_group(self, request: web.Request) -> web.StreamResponse:
        gid = m.check_gid(request.match_info["gid"])
        body = await _body(request)
        _only(body, ("description",))
        desc = m.check_description(body.get("description"))
        await self._change(
            request, f"create group {gid}", lambda s: m.add_group(s, gid, desc), gid=gid
        )
        return web.Response(status=201)

    async def delete_group(self, request: web.Request) -> web.StreamResponse:
        gid = m.check_gid(request.match_info["gid"])
        await self._change(
            request, f"delete group {gid}", lambda s: m.delete_group(s, gid), gid=gid
        )
        return web.Response(status=204)

    async def group_users(self, request: web.Request) -> web.StreamResponse:
        gid = m.check_gid(request.match_info["gid"])
        state = await self._state()
        g = state["groups"].get(gid)
        if g is None:
            raise NotFound(f"gid: group {gid!r} does not exist")
        out = [
            {
                "membershipurl": f"{BASE}/groups/{gid}/users/{uid}",
                "user": m.user_doc(uid, state["users"].get(uid, {})),
            }
            for uid in g.get("members", [])
        ]
        return web.json_response({"array": out})

    async def put_member(self, request: web.Request) -> web.StreamResponse:
        gid = m.check_gid(request.match_info["gid"])
        uid = m.check_uid(request.match_info["uid"])
        await self._change(
            request,
            f"add {uid} to group {gid}",
            lambda s: m.add_member(s, gid, uid),
            gid=gid,
            uid=uid,
        )
        return web.Response(status=204)

    async def delete_member(self, request: web.Request) -> web.StreamResponse:
        gid = m.check_gid(request.match_info["gid"])
        uid = m.check_uid(request.match_info["uid"])
        await self._change(
            request,
            f"remove {uid} from group {gid}",
            lambda s: m.remove_member(s, gid, uid),
            gid=gid,
            uid=uid,
        )
        return web.Response(status=204)

    # -- acls ----------------------------------------------------------------------

    async def list_acls(self, request: web.Request) -> web.StreamResponse:
        state = await self._state()
        return web.json_response(
            {"array": [_acl_doc(rid, a) for rid, a in sorted(state["acls"].items())]}
        )

    async def get_acl(self, request: web.Request) -> web.StreamResponse:
        rid = m.normalize_rid(request.match_info["rid"])
        acl = (await self._state())["acls"].get(rid)
        if acl is None:
            raise NotFound(f"rid: {rid!r} does not exist")
        return web.json_response(_acl_doc(rid, acl))

    async def put_acl(self, request: web.Request) -> web.StreamResponse:
        rid = m.normalize_rid(request.match_info["rid"])
        body = await _body(request)
        _only(body, ("description",))
        desc = m.check_description(body.get("description"))
        await self._change(request, f"create acl {rid}", lambda s: m.add_acl(s, rid, desc), rid=rid)
        return web.Response(status=201)

    async def delete_acl(self, request: web.Request) -> web.StreamResponse:
        rid = m.normalize_rid(request.match_info["rid"])
        await self._change(request, f"delete acl {rid}", lambda s: m.delete_acl(s, rid), rid=rid)
        return web.Response(status=204)

    async def acl_permissions(self, request: web.Request) -> web.StreamResponse:
        rid = m.normalize_rid(request.match_info["rid"])
        return web.json_response(m.acl_permissions_doc(await self._state(), rid))

    def _grant_args(self, request: web.Request, kind: str) -> tuple[str, str, str]:
        rid = m.normalize_rid(request.match_info["rid"])
        who = request.match_info["who"]
        who = m.check_uid(who) if kind == "users" else m.check_gid(who)
        return rid, who, m.check_action(request.match_info["action"])

    async def check_grant(self, request: web.Request, kind: str) -> web.StreamResponse:
        """DC/OS' "is this action allowed": ``{"allowed": bool}``. For a user, the
        effective answer (superuser, groups, rid hierarchy, ``full``); for a group, its
        own grants."""
        rid, who, action = self._grant_args(request, kind)
        state = await self._state()
        if kind == "users":
            if who not in state["users"]:
                raise NotFound(f"uid: user {who!r} does not exist")
            allowed = m.Policy(state).allowed(who, rid, action)
        else:
            if who not in state["groups"]:
                raise NotFound(f"gid: group {who!r} does not exist")
            held: list[str] = []
            for r in m.covering(rid):
                held += state["acls"].get(r, {}).get("groups", {}).get(who, [])
            allowed = action in held or "full" in held
        return web.json_response({"allowed": allowed})

    async def put_grant(self, request: web.Request, kind: str) -> web.StreamResponse:
        rid, who, action = self._grant_args(request, kind)
        await self._change(
            request,
            f"grant {action} on {rid} to {kind[:-1]} {who}",
            lambda s: m.grant(s, rid, kind, who, action),
            rid=rid,
            action=action,
            **{kind[:-1]: who},
        )
        return web.Response(status=204)

    async def delete_grant(self, request: web.Request, kind: str) -> web.StreamResponse:
        rid, who, action = self._grant_args(request, kind)
        await self._change(
            request,
            f"revoke {action} on {rid} from {kind[:-1]} {who}",
            lambda s: m.revoke(s, rid, kind, who, action),
            rid=rid,
            action=action,
            **{kind[:-1]: who},
        )
        return web.Response(status=204)

    # -- table ---------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        g = _guard
        b = BASE
        out = [
            web.post(f"{b}/auth/login", g(self.login)),
            web.get(f"{b}/auth/jwks", g(self.get_jwks)),
            web.get(f"{b}/users", g(self.list_users)),
            web.get(f"{b}/users/{{uid}}", g(self.get_user)),
            web.put(f"{b}/users/{{uid}}", g(self.put_user)),
            web.patch(f"{b}/users/{{uid}}", g(self.patch_user)),
            web.delete(f"{b}/users/{{uid}}", g(self.delete_user)),
            web.get(f"{b}/users/{{uid}}/permissions", g(self.user_permissions)),
            web.get(f"{b}/users/{{uid}}/groups", g(self.user_groups)),
            web.get(f"{b}/groups", g(self.list_groups)),
            web.get(f"{b}/groups/{{gid}}", g(self.get_group)),
            web.put(f"{b}/groups/{{gid}}", g(self.put_group)),
            web.delete(f"{b}/groups/{{gid}}", g(self.delete_group)),
            web.get(f"{b}/groups/{{gid}}/users", g(self.group_users)),
            web.put(f"{b}/groups/{{gid}}/users/{{uid}}", g(self.put_member)),
            web.delete(f"{b}/groups/{{gid}}/users/{{uid}}", g(self.delete_member)),
            web.get(f"{b}/acls", g(self.list_acls)),
            web.get(f"{b}/acls/{{rid}}", g(self.get_acl)),
            web.put(f"{b}/acls/{{rid}}", g(self.put_acl)),
            web.delete(f"{b}/acls/{{rid}}", g(self.delete_acl)),
            web.get(f"{b}/acls/{{rid}}/permissions", g(self.acl_permissions)),
        ]
        for kind in ("users", "groups"):
            path = f"{b}/acls/{{rid}}/{kind}/{{who}}/{{action}}"
            out += [
                web.get(path, g(functools.partial(self.check_grant, kind=kind))),
                web.put(path, g(functools.partial(self.put_grant, kind=kind))),
                web.delete(path, g(functools.partial(self.delete_grant, kind=kind))),
            ]
        return out


def _group_doc(gid: str, g: dict[str, Any]) -> dict[str, Any]:
    return {
        "gid": gid,
        "url": f"{BASE}/groups/{gid}",
        "description": g.get("description", ""),
        "provider_type": "internal",
    }


def _acl_doc(rid: str, acl: dict[str, Any]) -> dict[str, Any]:
    return {"rid": rid, "url": f"{BASE}/acls/{rid}", "description": acl.get("description", "")}
