"""The IAM state and every change to it, as pure functions (no ZooKeeper, no HTTP).

The whole IAM state is ONE JSON document (``iam/state`` in the state store), shaped::

    {"users":  {uid: {"description", "kind": "user"|"service", "password_hash",
                      "public_key", "curve_key"}},
     "groups": {gid: {"description", "members": [uid, ...]}},
     "acls":   {rid: {"description", "users": {uid: [action...]},
                      "groups": {gid: [action...]}}}}

Every change is ``change(state, ...) -> new state`` (a fresh copy; the input is never
modified), so the leader runs it inside the store's compare-and-set loop and a refused
change (bad input, a 409) leaves nothing behind. ``Policy`` is the compiled, read-only
form every master checks permissions against.

Resource ids (DC/OS' rids) are hierarchical where DC/OS' are:

- a path: a grant on ``dcos:service:marathon:marathon:services:/prod`` covers
  ``.../services:/prod/web`` and deeper (never ``/production``);
- the ``dcos:service:`` and ``dcos:mesos:`` families by ``:`` segment (at least three
  kept): ``dcos:mesos:master:framework`` covers ``dcos:mesos:master:framework:role:x``;
- everything else is exact: ``dcos:adminrouter:service:marathon`` is not covered by
  ``dcos:adminrouter:service``, as Admin Router checks each of its rids exactly.

``full`` implies every action; ``full`` on ``dcos:superuser`` allows everything.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from actors.iam._errors import Conflict, InvalidInput, NotFound

ACTIONS: tuple[str, ...] = ("create", "read", "update", "delete", "full")
SUPERUSER_RID = "dcos:superuser"
USER_KINDS = ("user", "service")

UID_MAX = 96
GID_MAX = 64
RID_MAX = 512
DESCRIPTION_MAX = 512
PASSWORD_MIN = 5
PASSWORD_MAX = 1024
PUBLIC_KEY_MAX = 16384
MEMO_LIMIT = 100_000

_UID_RE = re.compile(r"[A-Za-z0-9@._-]+")
_RID_RE = re.compile(r"dcos:[A-Za-z0-9@._:/*-]+")
_Z85_RE = re.compile(r"[0-9A-Za-z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")
_HIERARCHICAL = ("dcos:service:", "dcos:mesos:")


def empty_state() -> dict[str, Any]:
    return {"users": {}, "groups": {}, "acls": {}}


def _show(value: object) -> str:
    """A value for an error message: repr, cut short (an attacker's 10 kB uid is not
    echoed back whole)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- validation ----------------------------------------------------------------------


def check_uid(uid: object, field: str = "uid", limit: int = UID_MAX) -> str:
    """DC/OS' uid rule: letters, digits, ``@ . _ -``; 1..96 characters; no ``..`` (a uid
    is a URL path segment and a file-name-like key). Everything else is a 400 naming it."""
    if not isinstance(uid, str) or not uid:
        raise InvalidInput(f"{field}: {_show(uid)} is not a non-empty string")
    if len(uid) > limit:
        raise InvalidInput(f"{field}: {_show(uid)} is longer than {limit} characters")
    if not _UID_RE.fullmatch(uid):
        raise InvalidInput(
            f"{field}: {_show(uid)} may only contain letters, digits and '@', '.', '_', '-'"
        )
    if ".." in uid or uid in (".",):
        raise InvalidInput(f"{field}: {_show(uid)} must not contain '..' or be '.'")
    return uid


def check_gid(gid: object) -> str:
    return check_uid(gid, "gid", GID_MAX)


def normalize_rid(rid: object) -> str:
    """A valid rid, trailing ``/`` of its path dropped (``services:/prod/`` ==
    ``services:/prod``). Only ``dcos:`` ids; letters, digits and ``@ . _ : / * -``; no
    spaces, quotes, control characters, empty or ``.``/``..`` path segments."""
    if not isinstance(rid, str) or not rid:
        raise InvalidInput(f"rid: {_show(rid)} is not a non-empty string")
    if len(rid) > RID_MAX:
        raise InvalidInput(f"rid: {_show(rid)} is longer than {RID_MAX} characters")
    if not _RID_RE.fullmatch(rid):
        raise InvalidInput(
            f"rid: {_show(rid)} is not a resource id (dcos:..., letters, digits and "
            "'@', '.', '_', ':', '/', '*', '-')"
        )
    head, sep, path = rid.rpartition(":")
    if path.startswith("/"):
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        segments = path.split("/")[1:]
        if any(s in (".", "..") for s in segments) or "//" in path:
            raise InvalidInput(f"rid: {_show(rid)} has an empty, '.' or '..' path segment")
        rid = head + sep + path
    if "::" in rid or rid.endswith(":"):
        raise InvalidInput(f"rid: {_show(rid)} has an empty ':' segment")
    return rid


def check_action(action: object) -> str:
    if action not in ACTIONS:
        raise InvalidInput(f"action: {_show(action)} is not one of {', '.join(ACTIONS)}")
    assert isinstance(action, str)
    return action


def check_description(value: object, field: str = "description") -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: {_show(value)} is not a string")
    if len(value) > DESCRIPTION_MAX:
        raise InvalidInput(f"{field}: is longer than {DESCRIPTION_MAX} characters")
    if not value.isprintable():
        raise InvalidInput(f"{field}: {_show(value)} contains control characters")
    return value


def check_password(value: object) -> str:
    """A password's shape only; the message never contains it."""
    if not isinstance(value, str):
        raise InvalidInput("password: is not a string")
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise InvalidInput(
            f"password: must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long (got {len(value)})"
        )
    if "\x00" in value:
        raise InvalidInput("password: contains a NUL character")
    return value


def check_curve_key(value: object) -> str | None:
    """A CURVE public key in Z85 (40 characters), or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _Z85_RE.fullmatch(value):
        raise InvalidInput(f"curve_public_key: {_show(value)} is not a Z85 CURVE key (40 chars)")
    return value


# -- the compiled policy -------------------------------------------------------------


@lru_cache(maxsize=65536)
def covering(rid: str) -> tuple[str, ...]:
    """Every rid whose grant covers ``rid``: itself, then its ancestors (see module doc).
    Cached: the gateway asks for the same few rids all day."""
    out = [rid]
    head, sep, path = rid.rpartition(":")
    if sep and path.startswith("/"):
        parts = [p for p in path.split("/") if p]
        for i in range(len(parts) - 1, -1, -1):
            out.append(head + ":/" + "/".join(parts[:i]) if i else head + ":/")
        if rid.startswith(_HIERARCHICAL):
            out.append(head)
        rest = head
    else:
        rest = rid
    if rid.startswith(_HIERARCHICAL):
        segments = rest.split(":")
        for i in range(len(segments) - 1, 2, -1):
            parent = ":".join(segments[:i])
            if parent not in out:
                out.append(parent)
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class Account:
    """What the gateway needs to know of one user or service account."""

    uid: str
    kind: str
    superuser: bool
    grants: Mapping[str, frozenset[str]]
    """rid -> actions, direct and through groups merged."""


class Policy:
    """The read-only, compiled form of a state: accounts with merged grants, CURVE keys.

    Built once per state version (every master, on every change of ``iam/state``);
    ``allowed`` is a few dict lookups."""

    def __init__(self, state: Mapping[str, Any] | None) -> None:
        state = state or empty_state()
        users: Mapping[str, Any] = state.get("users", {})
        groups: Mapping[str, Any] = state.get("groups", {})
        acls: Mapping[str, Any] = state.get("acls", {})
        member_of: dict[str, list[str]] = {}
        for gid, g in groups.items():
            for uid in g.get("members", []):
                member_of.setdefault(uid, []).append(gid)
        grants: dict[str, dict[str, set[str]]] = {uid: {} for uid in users}
        for rid, acl in acls.items():
            for uid, actions in acl.get("users", {}).items():
                if uid in grants:
                    grants[uid].setdefault(rid, set()).update(actions)
            for gid, actions in acl.get("groups", {}).items():
                for uid in groups.get(gid, {}).get("members", []):
                    if uid in grants:
                        grants[uid].setdefault(rid, set()).update(actions)
        self.accounts: dict[str, Account] = {}
        self.curve_keys: dict[str, str] = {}
        for uid, u in users.items():
            g = {rid: frozenset(a) for rid, a in grants[uid].items()}
            su = "full" in g.get(SUPERUSER_RID, frozenset())
            self.accounts[uid] = Account(uid, u.get("kind", "user"), su, g)
            if u.get("curve_key"):
                self.curve_keys[u["curve_key"]] = uid
        self.groups_of = member_of
        self.memo: dict[tuple[str, str, str], bool] = {}
        """Answers of ``allowed`` for this policy (a new state is a new Policy, so the
        memo never outlives the grants it was computed from)."""

    def account(self, uid: str) -> Account | None:
        return self.accounts.get(uid)

    def allowed(self, uid: str, rid: str, action: str) -> bool:
        """Memoised: a list view asks the same (uid, rid) on every request."""
        key = (uid, rid, action)
        hit = self.memo.get(key)
        if hit is None:
            acc = self.accounts.get(uid)
            hit = acc is not None and account_allowed(acc, rid, action)
            if len(self.memo) >= MEMO_LIMIT:
                self.memo.clear()
            self.memo[key] = hit
        return hit

    def superusers(self) -> list[str]:
        return sorted(uid for uid, a in self.accounts.items() if a.superuser)


def account_allowed(acc: Account, rid: str, action: str) -> bool:
    """May ``acc`` do ``action`` on ``rid``? Superuser: yes; else a grant of ``action``
    or ``full`` on ``rid`` or on an rid covering it."""
    if acc.superuser:
        return True
    grants = acc.grants
    if not grants:
        return False
    for r in covering(rid):
        actions = grants.get(r)
        if actions is not None and (action in actions or "full" in actions):
            return True
    return False


# -- changes -------------------------------------------------------------------------


def _copy(state: Mapping[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(dict(state)) if state else empty_state()
    for k in ("users", "groups", "acls"):
        out.setdefault(k, {})
    return out


def _keep_a_superuser(before: Mapping[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """Refuse (409) a change that would leave no superuser where there was one: nobody
    could manage the cluster any more."""
    had = Policy(before).superusers()
    if had and not Policy(after).superusers():
        raise Conflict(
            "this change would remove the last superuser "
            f"({', '.join(had)}): grant dcos:superuser full to another account first"
        )
    return after


def _require_user(state: Mapping[str, Any], uid: str) -> dict[str, Any]:
    user = state["users"].get(uid)
    if user is None:
        raise NotFound(f"uid: user {uid!r} does not exist")
    return dict(user)


def _require_group(state: Mapping[str, Any], gid: str) -> dict[str, Any]:
    group = state["groups"].get(gid)
    if group is None:
        raise NotFound(f"gid: group {gid!r} does not exist")
    return dict(group)


def add_user(
    state: Mapping[str, Any] | None,
    uid: str,
    *,
    description: str = "",
    password_hash: str | None = None,
    public_key: str | None = None,
    curve_key: str | None = None,
) -> dict[str, Any]:
    """A user (``password_hash``) or a service account (``public_key``); 409 if the uid
    exists, 409 if the CURVE key already belongs to another account."""
    uid = check_uid(uid)
    new = _copy(state)
    if uid in new["users"]:
        raise Conflict(f"uid: {uid!r} already exists")
    if (password_hash is None) == (public_key is None):
        raise InvalidInput("body: give exactly one of password (a user) or public_key (a service)")
    curve_key = check_curve_key(curve_key)
    if curve_key is not None and any(
        u.get("curve_key") == curve_key for u in new["users"].values()
    ):
        raise Conflict("curve_public_key: already registered to another account")
    new["users"][uid] = {
        "description": check_description(description),
        "kind": "service" if public_key is not None else "user",
        "password_hash": password_hash,
        "public_key": public_key,
        "curve_key": curve_key,
    }
    return new


def update_user(
    state: Mapping[str, Any] | None,
    uid: str,
    *,
    description: str | None = None,
    password_hash: str | None = None,
    public_key: str | None = None,
) -> dict[str, Any]:
    """PATCH: change the description, a user's password hash or a service's key."""
    uid = check_uid(uid)
    new = _copy(state)
    user = _require_user(new, uid)
    if description is not None:
        user["description"] = check_description(description)
    if password_hash is not None:
        if user["kind"] != "user":
            raise InvalidInput(f"password: {uid!r} is a service account (it has a public_key)")
        user["password_hash"] = password_hash
    if public_key is not None:
        if user["kind"] != "service":
            raise InvalidInput(f"public_key: {uid!r} is a user (it has a password)")
        user["public_key"] = public_key
    new["users"][uid] = user
    return new


def delete_user(state: Mapping[str, Any] | None, uid: str) -> dict[str, Any]:
    """Remove the account, its group memberships and its grants (409: last superuser)."""
    uid = check_uid(uid)
    new = _copy(state)
    _require_user(new, uid)
    del new["users"][uid]
    for g in new["groups"].values():
        g["members"] = [m for m in g.get("members", []) if m != uid]
    for acl in new["acls"].values():
        acl.get("users", {}).pop(uid, None)
    return _keep_a_superuser(state, new)


def add_group(state: Mapping[str, Any] | None, gid: str, description: str = "") -> dict[str, Any]:
    gid = check_gid(gid)
    new = _copy(state)
    if gid in new["groups"]:
        raise Conflict(f"gid: {gid!r} already exists")
    new["groups"][gid] = {"description": check_description(description), "members": []}
    return new


def delete_group(state: Mapping[str, Any] | None, gid: str) -> dict[str, Any]:
    gid = check_gid(gid)
    new = _copy(state)
    _require_group(new, gid)
    del new["groups"][gid]
    for acl in new["acls"].values():
        acl.get("groups", {}).pop(gid, None)
    return _keep_a_superuser(state, new)


def add_member(state: Mapping[str, Any] | None, gid: str, uid: str) -> dict[str, Any]:
    gid, uid = check_gid(gid), check_uid(uid)
    new = _copy(state)
    group = _require_group(new, gid)
    _require_user(new, uid)
    members = list(group.get("members", []))
    if uid not in members:
        members.append(uid)
    group["members"] = sorted(members)
    new["groups"][gid] = group
    return new


def remove_member(state: Mapping[str, Any] | None, gid: str, uid: str) -> dict[str, Any]:
    gid, uid = check_gid(gid), check_uid(uid)
    new = _copy(state)
    group = _require_group(new, gid)
    if uid not in group.get("members", []):
        raise NotFound(f"uid: {uid!r} is not a member of group {gid!r}")
    group["members"] = [m for m in group["members"] if m != uid]
    new["groups"][gid] = group
    return _keep_a_superuser(state, new)


def add_acl(state: Mapping[str, Any] | None, rid: str, description: str = "") -> dict[str, Any]:
    rid = normalize_rid(rid)
    new = _copy(state)
    if rid in new["acls"]:
        raise Conflict(f"rid: {rid!r} already exists")
    new["acls"][rid] = {"description": check_description(description), "users": {}, "groups": {}}
    return new


def delete_acl(state: Mapping[str, Any] | None, rid: str) -> dict[str, Any]:
    rid = normalize_rid(rid)
    new = _copy(state)
    if rid not in new["acls"]:
        raise NotFound(f"rid: {rid!r} does not exist")
    del new["acls"][rid]
    return _keep_a_superuser(state, new)


def grant(
    state: Mapping[str, Any] | None, rid: str, kind: str, who: str, action: str
) -> dict[str, Any]:
    """Grant ``action`` on ``rid`` to a user (``kind`` "users") or group ("groups").
    The ACL is created if it does not exist yet (the Enterprise CLI's grant does that in
    two calls; one here)."""
    rid, action = normalize_rid(rid), check_action(action)
    new = _copy(state)
    if kind == "users":
        _require_user(new, check_uid(who))
    elif kind == "groups":
        _require_group(new, check_gid(who))
    else:
        raise InvalidInput(f"kind: {_show(kind)} is not users or groups")
    acl = new["acls"].setdefault(rid, {"description": "", "users": {}, "groups": {}})
    actions = set(acl.setdefault(kind, {}).get(who, []))
    actions.add(action)
    acl[kind][who] = sorted(actions)
    return new


def revoke(
    state: Mapping[str, Any] | None, rid: str, kind: str, who: str, action: str
) -> dict[str, Any]:
    rid, action = normalize_rid(rid), check_action(action)
    if kind not in ("users", "groups"):
        raise InvalidInput(f"kind: {_show(kind)} is not users or groups")
    new = _copy(state)
    acl = new["acls"].get(rid)
    held = (acl or {}).get(kind, {}).get(who, [])
    if action not in held:
        raise NotFound(f"{kind[:-1]} {who!r} has no {action!r} on {rid!r}")
    rest = [a for a in held if a != action]
    if rest:
        acl[kind][who] = rest  # type: ignore[index]
    else:
        del acl[kind][who]  # type: ignore[index]
    return _keep_a_superuser(state, new)


# -- reading -------------------------------------------------------------------------


def user_doc(uid: str, user: Mapping[str, Any], base: str = "/acs/api/v1") -> dict[str, Any]:
    """DC/OS' user object (``GET /users/{uid}``); never the password hash."""
    out: dict[str, Any] = {
        "uid": uid,
        "url": f"{base}/users/{uid}",
        "description": user.get("description", ""),
        "is_remote": False,
        "is_service": user.get("kind") == "service",
        "provider_type": "internal",
        "provider_id": "",
    }
    if user.get("kind") == "service":
        out["public_key"] = user.get("public_key")
        if user.get("curve_key"):
            out["curve_public_key"] = user["curve_key"]
    return out


def permissions_doc(
    state: Mapping[str, Any] | None, uid: str, base: str = "/acs/api/v1"
) -> dict[str, Any]:
    """DC/OS' ``GET /users/{uid}/permissions``: direct grants, and grants via groups."""
    st = _copy(state)
    _require_user(st, check_uid(uid))
    direct: list[dict[str, Any]] = []
    via: list[dict[str, Any]] = []
    gids = [gid for gid, g in st["groups"].items() if uid in g.get("members", [])]
    for rid in sorted(st["acls"]):
        acl = st["acls"][rid]
        aclurl = f"{base}/acls/{rid}"
        held = acl.get("users", {}).get(uid)
        if held:
            direct.append(
                {
                    "rid": rid,
                    "description": acl.get("description", ""),
                    "aclurl": aclurl,
                    "actions": _actions(held, f"{aclurl}/users/{uid}"),
                }
            )
        for gid in gids:
            held = acl.get("groups", {}).get(gid)
            if held:
                via.append(
                    {
                        "rid": rid,
                        "description": acl.get("description", ""),
                        "aclurl": aclurl,
                        "gid": gid,
                        "membershipurl": f"{base}/groups/{gid}/users/{uid}",
                        "actions": _actions(held, f"{aclurl}/groups/{gid}"),
                    }
                )
    return {"direct": direct, "groups": via}


def acl_permissions_doc(
    state: Mapping[str, Any] | None, rid: str, base: str = "/acs/api/v1"
) -> dict[str, Any]:
    """DC/OS' ``GET /acls/{rid}/permissions``: who holds what on one rid."""
    st = _copy(state)
    rid = normalize_rid(rid)
    acl = st["acls"].get(rid)
    if acl is None:
        raise NotFound(f"rid: {rid!r} does not exist")
    aclurl = f"{base}/acls/{rid}"
    return {
        "users": [
            {"uid": u, "actions": _actions(a, f"{aclurl}/users/{u}")}
            for u, a in sorted(acl.get("users", {}).items())
        ],
        "groups": [
            {"gid": g, "actions": _actions(a, f"{aclurl}/groups/{g}")}
            for g, a in sorted(acl.get("groups", {}).items())
        ],
    }


def _actions(actions: Iterable[str], url: str) -> list[dict[str, str]]:
    return [{"name": a, "url": f"{url}/{a}"} for a in sorted(actions)]
