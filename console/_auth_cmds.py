"""The console's identity verbs (issue 24): ``auth`` and ``security org`` (the DC/OS
Enterprise CLI's), and the CLI's token store.

Token store: ``$PYDCOS_HOME/auth.json`` (mode 0600), ``{"tokens": {<zk target>: jwt}}``
keyed by the cluster's ZooKeeper target (``127.0.0.1:2181/pydcos``), so one CLI can be
logged in to several clusters. ``$PYDCOS_TOKEN`` overrides it (scripts, tests).
"""

from __future__ import annotations

import argparse
import functools
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from console._client import ClientError, ClusterClient
from console._output import Out
from console._token_store import (
    TOKEN_ENV,
    forget_token,
    load_token,
    save_token,
    token_store_path,
)

__all__ = ["TOKEN_ENV", "add_commands", "forget_token", "load_token", "save_token"]

# -- verbs -------------------------------------------------------------------------------

ACS = "/acs/api/v1"


def _rid(rid: str) -> str:
    """A rid as one URL path segment (``/`` of Marathon paths encoded, as the Enterprise
    CLI sends it)."""
    return quote(rid, safe="")


def _seg(value: str, what: str) -> str:
    if not value or "/" in value or any(c.isspace() or not c.isprintable() for c in value):
        raise ClientError(f"{what}: {value[:80]!r} is not a valid {what}")
    return quote(value, safe="@._-")


def _secret_from_env(var: str, what: str) -> str:
    value = os.environ.get(var)
    if value is None:
        raise ClientError(f"--{what}-env: environment variable {var!r} is not set")
    return value


def _read_file(path: str, flag: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ClientError(f"{flag}: cannot read {path!r}: {exc.strerror}") from None


def auth_login(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    """DC/OS' ``dcos auth login``: a user with a password (``--password-env`` or a
    prompt), or a service account with its private key (``--private-key``)."""
    import getpass
    import time

    try:
        uid = args.username or input("Username: ").strip()
    except EOFError:
        raise ClientError("--username: not given and no terminal to ask on") from None
    if not uid:
        raise ClientError("--username: empty")
    body: dict[str, str] = {"uid": uid}
    if args.private_key:
        from actors.iam import service_login_token

        pem = _read_file(args.private_key, "--private-key")
        try:
            body["token"] = service_login_token(pem, uid, time.time())
        except (ValueError, TypeError) as exc:
            raise ClientError(
                f"--private-key: {args.private_key!r} is not a PEM RSA key: {exc}"
            ) from None
    elif args.password_env:
        body["password"] = _secret_from_env(args.password_env, "password")
    else:
        try:
            body["password"] = getpass.getpass("Password: ")
        except EOFError:
            raise ClientError("--password-env: not given and no terminal to ask on") from None
    doc = client.request("POST", f"{ACS}/auth/login", body, what="login")
    token = doc.get("token") if isinstance(doc, dict) else None
    if not isinstance(token, str) or not token:
        raise ClientError("login: the cluster answered no token")
    save_token(client.target.zk, token)
    out.result({"uid": uid, "token_store": str(token_store_path())}, "Login successful!")
    return 0


def auth_logout(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    had = forget_token(client.target.zk)
    out.result({"logged_out": had}, "Logged out." if had else "Not logged in.")
    return 0


def auth_token(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    token = load_token(client.target.zk)
    if token is None:
        raise ClientError("not logged in: run 'pydcos auth login'")
    out.result({"token": token}, token)
    return 0


def _users(client: ClusterClient, kind: str | None = None) -> list[dict[str, Any]]:
    doc = client.get(f"{ACS}/users", type=kind)
    rows = doc.get("array") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise ClientError(f"{ACS}/users answered {str(doc)[:80]!r}, not DC/OS' user list")
    return rows


def list_users(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    rows = _users(client, "service" if getattr(args, "service", False) else None)
    if out.as_json:
        out.json(rows)
        return 0
    out.table(
        ["UID", "DESCRIPTION"], [[str(u.get("uid")), str(u.get("description", ""))] for u in rows]
    )
    return 0


def users_create(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    import getpass

    uid = _seg(args.uid, "uid")
    if args.password is not None:
        password = args.password
    elif args.password_env:
        password = _secret_from_env(args.password_env, "password")
    else:
        try:
            password = getpass.getpass(f"Password for {args.uid}: ")
        except EOFError:
            raise ClientError("--password-env: not given and no terminal to ask on") from None
    body = {"description": args.description or "", "password": password}
    client.request("PUT", f"{ACS}/users/{uid}", body, what=f"create user {args.uid}")
    out.result({"uid": args.uid}, f"user {args.uid} created")
    return 0


def users_delete(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    uid = _seg(args.uid, "uid")
    client.request("DELETE", f"{ACS}/users/{uid}", what=f"delete {args.uid}")
    out.result({"uid": args.uid}, f"{args.uid} deleted")
    return 0


def users_show(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    uid = _seg(args.uid, "uid")
    doc = client.get(f"{ACS}/users/{uid}")
    perms = client.get(f"{ACS}/users/{uid}/permissions")
    groups = client.get(f"{ACS}/users/{uid}/groups")
    if out.as_json:
        out.json({"user": doc, "permissions": perms, "groups": groups})
        return 0
    out.line(f"{doc.get('uid')}: {doc.get('description') or '-'}")
    out.line(f"  type:   {'service account' if doc.get('is_service') else 'user'}")
    names = [g["group"]["gid"] for g in (groups or {}).get("array", [])]
    out.line(f"  groups: {', '.join(names) or '-'}")
    rows = [
        [p["rid"], ",".join(a["name"] for a in p["actions"]), "direct"]
        for p in perms.get("direct", [])
    ] + [
        [p["rid"], ",".join(a["name"] for a in p["actions"]), f"group {p['gid']}"]
        for p in perms.get("groups", [])
    ]
    if rows:
        out.table(["RID", "ACTIONS", "VIA"], rows)
    return 0


def _grant(client: ClusterClient, out: Out, args: argparse.Namespace, kind: str, on: bool) -> int:
    who = _seg(args.uid if kind == "users" else args.gid, "uid" if kind == "users" else "gid")
    name = args.uid if kind == "users" else args.gid
    path = f"{ACS}/acls/{_rid(args.rid)}/{kind}/{who}/{args.action}"
    verb = "granted" if on else "revoked"
    client.request("PUT" if on else "DELETE", path, what="grant" if on else "revoke")
    out.result(
        {"rid": args.rid, kind[:-1]: name, "action": args.action, verb: True},
        f"{args.action} on {args.rid} {verb} {'to' if on else 'from'} {name}",
    )
    return 0


def groups_list(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    doc = client.get(f"{ACS}/groups")
    rows = doc.get("array", []) if isinstance(doc, dict) else []
    if out.as_json:
        out.json(rows)
        return 0
    out.table(["GID", "DESCRIPTION"], [[g["gid"], g.get("description", "")] for g in rows])
    return 0


def groups_create(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    gid = _seg(args.gid, "gid")
    client.request("PUT", f"{ACS}/groups/{gid}", {"description": args.description or ""})
    out.result({"gid": args.gid}, f"group {args.gid} created")
    return 0


def groups_delete(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    gid = _seg(args.gid, "gid")
    client.request("DELETE", f"{ACS}/groups/{gid}")
    out.result({"gid": args.gid}, f"group {args.gid} deleted")
    return 0


def groups_member(client: ClusterClient, out: Out, args: argparse.Namespace, on: bool) -> int:
    gid, uid = _seg(args.gid, "gid"), _seg(args.uid, "uid")
    client.request("PUT" if on else "DELETE", f"{ACS}/groups/{gid}/users/{uid}")
    text = f"{args.uid} added to {args.gid}" if on else f"{args.uid} removed from {args.gid}"
    out.result({"gid": args.gid, "uid": args.uid, "member": on}, text)
    return 0


def sa_create(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    uid = _seg(args.uid, "uid")
    body: dict[str, str] = {
        "description": args.description or "",
        "public_key": _read_file(args.public_key, "-p/--public-key"),
    }
    if args.curve_key:
        body["curve_public_key"] = args.curve_key
    client.request("PUT", f"{ACS}/users/{uid}", body, what=f"create service account {args.uid}")
    out.result({"uid": args.uid}, f"service account {args.uid} created")
    return 0


def sa_list(client: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    args.service = True
    return list_users(client, out, args)


def keypair(args: argparse.Namespace) -> int:
    """``security org service-accounts keypair PRIV PUB``: no cluster needed."""
    from actors.iam import generate_keypair

    priv, pub = generate_keypair()
    for path, text, mode in ((args.private, priv, 0o600), (args.public, pub, 0o644)):
        p = Path(path).expanduser()
        if p.exists() and not args.force:
            raise ClientError(f"{path}: exists (use --force to replace it)")
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(p, mode)
    print(f"private key: {args.private} (mode 0600)\npublic key:  {args.public}")
    return 0


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    """``pydcos auth ...`` and ``pydcos security org ...`` (the DC/OS Enterprise CLI's)."""
    from actors.iam import ACTIONS

    leaf, group = groups["leaf"], groups["group"]
    auth = group(sub, "auth", "log in to the cluster, log out, list users")
    p = leaf(auth, "login", "log in: a user (password) or a service account (key)", auth_login)
    p.add_argument("--username", default=None, metavar="UID")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password-env", default=None, metavar="VAR", help="password from $VAR")
    how.add_argument("--private-key", default=None, metavar="FILE", help="a service account key")
    leaf(auth, "logout", "forget this cluster's token", auth_logout)
    leaf(auth, "list-users", "the cluster's users", list_users)
    leaf(auth, "token", "print the token the CLI sends", auth_token)

    sec = group(sub, "security", "identity and access (DC/OS Enterprise CLI verbs)")
    org = group(sec, "org", "users, groups, service accounts and their permissions")

    def grant_args(p: argparse.ArgumentParser, who: str) -> None:
        p.add_argument(who, metavar=who.upper())
        p.add_argument(
            "rid", metavar="RID", help="e.g. dcos:service:marathon:marathon:services:/prod"
        )
        p.add_argument("action", metavar="ACTION", choices=ACTIONS)

    users = group(org, "users", "users")
    p = leaf(users, "create", "create a user", users_create)
    p.add_argument("uid", metavar="UID")
    p.add_argument("-d", "--description", default="")
    pw = p.add_mutually_exclusive_group()
    pw.add_argument("-p", "--password", default=None, help="(visible in ps: prefer --password-env)")
    pw.add_argument("--password-env", default=None, metavar="VAR")
    for name, fn, hlp in (
        ("delete", users_delete, "delete a user"),
        ("show", users_show, "a user, groups, permissions"),
    ):
        p = leaf(users, name, hlp, fn)
        p.add_argument("uid", metavar="UID")
    leaf(users, "list", "users", list_users)
    p = leaf(
        users,
        "grant",
        "grant ACTION on RID to a user",
        lambda c, o, a: _grant(c, o, a, "users", True),
    )
    grant_args(p, "uid")
    p = leaf(
        users,
        "revoke",
        "revoke ACTION on RID from a user",
        lambda c, o, a: _grant(c, o, a, "users", False),
    )
    grant_args(p, "uid")

    grp = group(org, "groups", "groups")
    leaf(grp, "list", "groups", groups_list)
    p = leaf(grp, "create", "create a group", groups_create)
    p.add_argument("gid", metavar="GID")
    p.add_argument("-d", "--description", default="")
    p = leaf(grp, "delete", "delete a group", groups_delete)
    p.add_argument("gid", metavar="GID")
    for name, on in (("add_user", True), ("remove_user", False)):
        p = leaf(
            grp, name, f"{'add' if on else 'remove'} a member", functools.partial(_member, on=on)
        )
        p.add_argument("gid", metavar="GID")
        p.add_argument("uid", metavar="UID")
    p = leaf(
        grp,
        "grant",
        "grant ACTION on RID to a group",
        lambda c, o, a: _grant(c, o, a, "groups", True),
    )
    grant_args(p, "gid")
    p = leaf(
        grp,
        "revoke",
        "revoke ACTION on RID from a group",
        lambda c, o, a: _grant(c, o, a, "groups", False),
    )
    grant_args(p, "gid")

    sa = group(org, "service-accounts", "service accounts (RSA keys)")
    p = leaf(sa, "create", "create a service account from a public key", sa_create)
    p.add_argument("uid", metavar="UID")
    p.add_argument("-p", "--public-key", required=True, metavar="PUBLIC_KEY_FILE")
    p.add_argument("-d", "--description", default="")
    p.add_argument("--curve-key", default=None, metavar="Z85", help="its CURVE key (actor API)")
    p = leaf(sa, "delete", "delete a service account", users_delete)
    p.add_argument("uid", metavar="UID")
    leaf(sa, "list", "service accounts", sa_list)
    p = sa.add_parser("keypair", help="write a new RSA keypair (PRIV mode 0600, PUB)")
    p.add_argument("private", metavar="PRIVATE_KEY_FILE")
    p.add_argument("public", metavar="PUBLIC_KEY_FILE")
    p.add_argument("--force", action="store_true")
    p.set_defaults(fn=keypair)


def _member(client: ClusterClient, out: Out, args: argparse.Namespace, on: bool) -> int:
    return groups_member(client, out, args, on)
