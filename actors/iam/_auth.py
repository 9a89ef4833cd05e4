"""What the gateway asks of IAM on every request: who is this, may they do that.

``GatewayAuth`` is built by the IAM node service on every master and handed to the
gateway (``set_auth``); it reads the master's in-memory ``IamView`` (kept current by a
store watch on ``iam/state``), so a check is a few dict lookups and never touches
ZooKeeper. Pure apart from the audit file: no aiohttp, no kazoo.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from actors.iam._audit import AuditLog
from actors.iam._errors import Unauthenticated
from actors.iam._model import Policy
from actors.iam._tokens import TokenCache, parse_authorization, verify_token


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request."""

    uid: str
    kind: str
    """``user``, ``service`` (a service account) or ``node`` (masters and agents, whose
    transport keys are trusted)."""
    superuser: bool = False


class IamView:
    """The current IAM state of this master, compiled. Replaced whole on every change
    (one attribute assignment: readers on other threads see the old or the new one)."""

    def __init__(self, state: Mapping[str, Any] | None = None, version: int = -1) -> None:
        self.state: Mapping[str, Any] = state or {"users": {}, "groups": {}, "acls": {}}
        self.version = version
        self.policy = Policy(state)
        self.loaded = threading.Event()
        self._listeners: list[Callable[[IamView], None]] = []

    def update(self, state: Mapping[str, Any] | None, version: int) -> None:
        policy = Policy(state)
        self.state, self.version, self.policy = (
            state or {"users": {}, "groups": {}, "acls": {}},
            version,
            policy,
        )
        self.loaded.set()
        for fn in list(self._listeners):
            fn(self)

    def on_change(self, fn: Callable[[IamView], None]) -> None:
        self._listeners.append(fn)


class GatewayAuth:
    """Authentication and authorization for the gateway (CONTRACT section 1)."""

    def __init__(
        self,
        public_keys: Mapping[str, rsa.RSAPublicKey],
        view: IamView,
        audit_log: AuditLog,
        wall: Callable[[], float],
    ) -> None:
        self.public_keys = dict(public_keys)
        self.view = view
        self.audit_log = audit_log
        self.wall = wall
        self.cache = TokenCache()

    def authenticate(self, authorization: str | None) -> Principal:
        """``Authorization`` header value -> who; Unauthenticated says why not."""
        token = parse_authorization(authorization)
        if token is None:
            if authorization:
                raise Unauthenticated("Authorization header is not 'token=<jwt>' or 'Bearer <jwt>'")
            raise Unauthenticated("no Authorization header: log in (pydcos auth login)")
        now = self.wall()
        verified = self.cache.get(token, now)
        if verified is None:
            verified = verify_token(token, self.public_keys, now)
            self.cache.put(token, verified, now)
        account = self.view.policy.account(verified.uid)
        if account is None:
            raise Unauthenticated(f"uid {verified.uid!r} of the token does not exist (any more)")
        return Principal(account.uid, account.kind, account.superuser)

    def allowed(self, who: Principal, rid: str, action: str) -> bool:
        """Against the CURRENT state (a grant revoked a second ago no longer counts, even
        for a token issued before); nodes are trusted."""
        if who.kind == "node":
            return True
        return self.view.policy.allowed(who.uid, rid, action)

    def audit(self, who: Principal | None, what: str, allowed: bool, **detail: str) -> None:
        self.audit_log.append(who.uid if who else None, what, allowed, **detail)

    def principal_for_curve_key(self, z85_public_key: str) -> Principal | None:
        uid = self.view.policy.curve_keys.get(z85_public_key)
        if uid is None:
            return None
        account = self.view.policy.account(uid)
        if account is None:
            return None
        return Principal(account.uid, account.kind, account.superuser)
