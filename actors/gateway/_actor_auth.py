"""The actor API's permissions: a script connecting with a service account's CURVE key
acts as that service account.

The transport authenticates every connection's CURVE key (ZAP) and hands each message
from a key that is not a node's (``Security.authorized``: masters, agents, the cluster's
own client key) to ``ActorApiAuth.policy`` together with that key. The key names the
service account (``GatewayAuth.principal_for_curve_key``, registered with
``curve_public_key``); the message needs the permissions its HTTP twin needs at Admin
Router, so the actor API is never a way around the gateway:

- master ``GetState`` (``/mesos/master/state``...): ``dcos:adminrouter:ops:mesos``;
- master ``Subscribe`` (``/api/v1/scheduler`` SUBSCRIBE): ``...:ops:mesos`` and
  ``create`` on ``dcos:mesos:master:framework:role:<role>`` for each of its roles, and
  the framework's ``principal``, when given, must be the service account;
- framework calls (``Accept`` with its launches, ``Kill``, ``Teardown``, ``Decline``...,
  any message naming a ``framework_id``): ``dcos:adminrouter:ops:mesos`` (the operator
  endpoints ``/master/teardown`` and the operator API need the same);
- anything else a node sends a master (agent registration, status updates): refused;
- any other actor (``/actors/v1`` calls it over HTTP): ``dcos:adminrouter:ops:actors``.

A refusal is audited and the ask answered with ``Forbidden`` naming resource and action.
Pure apart from the authenticator it is given; runs on the transport's I/O thread, so
each check costs a dict lookup and the IAM view's microsecond ``allowed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors import protocol as p
from actors.gateway._auth import Authenticator

MESOS = "dcos:adminrouter:ops:mesos"
ACTORS = "dcos:adminrouter:ops:actors"
ROLE = "dcos:mesos:master:framework:role"
FULL = "full"

Needs = list[tuple[str, str]]
"""(resource, action) pairs a message needs, every one of them."""


def master_needs(body: Any) -> Needs | str:
    """What a message to the master actor needs; a str: refused whatever the grants."""
    if isinstance(body, p.GetState):
        return [(MESOS, FULL)]
    if isinstance(body, p.Subscribe):
        roles = list(body.info.roles) or ["*"]
        return [(MESOS, FULL), *((f"{ROLE}:{r}", "create") for r in roles)]
    if getattr(body, "framework_id", None) is not None:
        return [(MESOS, FULL)]
    return f"only cluster nodes may send {type(body).__name__} to the master"


RULES: dict[str, Callable[[Any], Needs | str]] = {p.MASTER_ACTOR: master_needs}
"""Actor name -> what a message to it needs; other actors: ``dcos:adminrouter:ops:actors``."""


class ActorApiAuth:
    """``key_check``/``policy`` for ``Node.set_peer_policy`` (``transport.PeerPolicy``)."""

    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth

    def key_check(self, key: str) -> bool:
        """Whether a CURVE key that is not a node's may connect: a service account's."""
        return self._principal(key) is not None

    def _principal(self, key: str) -> Any:
        find = getattr(self.auth, "principal_for_curve_key", None)
        return find(key) if find is not None else None

    def policy(self, key: str, env: Any) -> str | None:
        """None: deliver ``env``; else why not (the ``Forbidden`` error's message)."""
        who = self._principal(key)
        if who is None:
            return f"CURVE key {key[:8]}... belongs to no service account (any more)"
        rule = RULES.get(env.target)
        needs = rule(env.body) if rule is not None else [(ACTORS, FULL)]
        what = f"actor {env.target} {type(env.body).__name__}"
        if isinstance(needs, str):
            self.auth.audit(who, what, False, reason=needs)
            return f"forbidden: {needs}"
        if isinstance(env.body, p.Subscribe):
            principal = env.body.info.principal
            if principal and principal != who.uid:
                why = f"framework principal {principal!r} is not the service account {who.uid!r}"
                self.auth.audit(who, what, False, reason=why)
                return f"forbidden: {why}"
        for rid, action in needs:
            if not self.auth.allowed(who, rid, action):
                self.auth.audit(who, what, False, rid=rid, action=action)
                return f"forbidden: {who.uid!r} may not {action} {rid}"
        return None
