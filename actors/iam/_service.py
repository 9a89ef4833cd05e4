"""The IAM services of every master.

```
 every master: IamNodeService
   routes(ctx) (before the gateway serves): IamView <- store.watch("iam/state")
                GatewayAuth(cluster public key, view, audit log) -> gateway.set_auth
                (no --iam-key, or --no-auth: open gateway, one loud WARNING)
 leader only:  IamService
   routes:      /acs/api/v1/... (leader routes, prefix /acs/: standbys redirect)
   on_elected:  "iam" -> IamActor: creates the --iam-bootstrap superuser if no user exists
```

Settings (``pydcos master`` flags, ``from_settings(vars(args))``): ``iam_key`` (PEM RSA
private key of the cluster: signs tokens; every master derives the public key from it),
``iam_bootstrap`` (the first superuser, see ``_bootstrap``), ``no_auth``,
``iam_token_ttl`` (seconds, default 5 days), ``log_file`` (the audit log goes next to it).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from actors.iam import _model as m
from actors.iam._api import STATE_KEY, IamApi
from actors.iam._audit import AuditLog, audit_path
from actors.iam._auth import GatewayAuth, IamView
from actors.iam._bootstrap import read_bootstrap
from actors.iam._errors import IamConfigError
from actors.iam._tokens import DEFAULT_TTL, key_id, load_private_key
from runtime import Actor, ChildSpec, SystemClock

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from actors.master import ServiceContext

log = logging.getLogger("actors.iam")

STORE_ROOT = "/acs"
"""The IAM state store root, under the cluster chroot (document ``iam/state``)."""
IAM_ACTOR = "iam"
MIN_TTL = 60
MAX_TTL = 30 * 24 * 3600
AUTH_OFF_WARNING = "auth is OFF: anyone who reaches this port is superuser"

_warned = False


def _warn_auth_off(why: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning("%s (%s)", AUTH_OFF_WARNING, why)


def _ttl(value: Any) -> int:
    if value is None:
        return DEFAULT_TTL
    try:
        ttl = float(value)
    except (TypeError, ValueError):
        raise IamConfigError(f"iam-token-ttl: {value!r} is not a number of seconds") from None
    if not math.isfinite(ttl) or not MIN_TTL <= ttl <= MAX_TTL:
        raise IamConfigError(
            f"iam-token-ttl: {value!r} is not between {MIN_TTL} and {MAX_TTL} seconds"
        )
    return int(ttl)


def _store(zk: Any) -> Any:
    from zk import StateStore

    return StateStore(zk, STORE_ROOT)


def bootstrap_state(state: Mapping[str, Any] | None, uid: str, password_hash: str) -> Any:
    """The state with the first superuser, or unchanged when any user exists (pure; run
    inside the store's compare-and-set: two masters racing create it once)."""
    if state and state.get("users"):
        return state
    new = m.add_user(state, uid, description="bootstrap superuser", password_hash=password_hash)
    return m.grant(new, m.SUPERUSER_RID, "users", uid, "full")


class IamActor(Actor):
    """Runs on the leader: creates the bootstrap superuser once ZooKeeper answers."""

    def __init__(self, store: Any, bootstrap: tuple[str, str] | None, audit: AuditLog) -> None:
        super().__init__()
        self.store = store
        self.bootstrap = bootstrap
        self.audit = audit

    def started(self) -> None:
        self._bootstrap()

    def receive(self, message: Any) -> Any:
        if message == "bootstrap":
            self._bootstrap()
        return None

    def _bootstrap(self) -> None:
        if self.bootstrap is None or self.store is None:
            return
        uid, pw_hash = self.bootstrap
        try:
            before = self.store.get(STATE_KEY)
            if before is not None and (before.value or {}).get("users"):
                return
            self.store.update(STATE_KEY, lambda s: bootstrap_state(s, uid, pw_hash))
        except Exception as exc:  # ZooKeeper away: try again shortly, never crash-loop
            log.warning("iam: bootstrap of superuser %r failed (%s); retrying", uid, exc)
            self.send_after(1.0, "bootstrap")
            return
        self.audit.append(None, f"bootstrap superuser {uid}", True, uid=uid)
        log.info("iam: bootstrap superuser %r created", uid)


class _Config:
    """What both services read from the flags."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        key_file = settings.get("iam_key") or None
        self.no_auth = bool(settings.get("no_auth"))
        self.key: rsa.RSAPrivateKey | None = load_private_key(key_file) if key_file else None
        boot = settings.get("iam_bootstrap") or None
        self.bootstrap = read_bootstrap(boot) if boot else None
        self.token_ttl = _ttl(settings.get("iam_token_ttl"))
        self.audit_file = audit_path(settings.get("log_file") or None)


class IamService:
    """The ``LeaderService`` named ``iam``: the ACS API and the bootstrap."""

    name = "iam"
    prefixes: tuple[str, ...] = ("/acs/",)

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        cfg = _Config(settings or {})
        self.signing_key = cfg.key
        self.bootstrap = cfg.bootstrap
        self.token_ttl = cfg.token_ttl
        self.audit = AuditLog(cfg.audit_file, SystemClock().wall)
        self._zk: Any = None
        self._store: Any = None

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> IamService:
        return cls(settings)

    def store(self) -> Any:
        if self._store is None and self._zk is not None:
            self._store = _store(self._zk)
        return self._store

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        """On election: a store bound to this term's fence (a deposed leader's late
        write is refused, ``zk.Fenced`` -> 503), used by the API and the bootstrap."""
        self._zk = ctx.zk
        make = getattr(ctx, "store", None)
        if ctx.zk is not None:
            self._store = make(STORE_ROOT) if callable(make) else _store(ctx.zk)
        return [
            ChildSpec(
                IAM_ACTOR,
                IamActor,
                restart="permanent",
                shutdown=5.0,
                args=(self.store(), self.bootstrap, self.audit),
                name=IAM_ACTOR,
            )
        ]

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        self._zk = ctx.zk
        node = getattr(ctx, "node", None)
        clock = getattr(node, "clock", None)
        if clock is not None:
            self.audit.wall = clock.wall
        wall = clock.wall if clock is not None else SystemClock().wall
        return IamApi(self, wall).routes()


class IamNodeService:
    """The ``NodeService`` named ``iam``: every master's view of IAM and its gateway's
    authenticator."""

    name = "iam"

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        settings = settings or {}
        cfg = _Config(settings)
        self.key = cfg.key
        self.no_auth = cfg.no_auth
        self.audit_file = cfg.audit_file
        self.view = IamView()
        self.auth: GatewayAuth | None = None
        self.watch: Any = None

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> IamNodeService:
        return cls(settings)

    def _on_doc(self, doc: Any) -> None:
        try:
            self.view.update(doc.value if doc is not None else None, doc.version if doc else -1)
        except Exception as exc:  # a document we cannot compile: keep the last good view
            log.error(
                "iam: state version %s unreadable, keeping the previous one: %s",
                getattr(doc, "version", None),
                exc,
            )

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        """Runs before the gateway serves: the authenticator is in place for the very
        first request (``child_specs`` runs after the gateway listens)."""
        node = getattr(ctx, "node", None)
        clock = getattr(node, "clock", None)
        wall = clock.wall if clock is not None else SystemClock().wall
        audit = AuditLog(self.audit_file, wall)
        if self.audit_file is not None:
            from actors.logs import set_component_log

            set_component_log("iam-audit", self.audit_file)
        if ctx.zk is not None:
            self.watch = _store(ctx.zk).watch(STATE_KEY, self._on_doc)
        set_auth = getattr(ctx.gateway, "set_auth", None)
        if self.key is None or self.no_auth:
            _warn_auth_off("--no-auth" if self.no_auth else "no --iam-key")
            return []
        public = self.key.public_key()
        self.auth = GatewayAuth({key_id(public): public}, self.view, audit, wall)
        if set_auth is not None:
            set_auth(self.auth)
        else:
            log.error("iam: this gateway cannot enforce auth (no set_auth)")
        return []

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        return []
