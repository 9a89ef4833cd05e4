"""The IAM model and permission matcher, table-driven and pure (DC/OS' bouncer rules:
``full`` implies every action, ``dcos:superuser`` everything, groups inherit, a grant on
a Marathon group path covers the apps below it, Admin Router rids are exact)."""

from __future__ import annotations

from typing import Any

import pytest

from actors.iam import _model as m
from actors.iam._errors import Conflict, InvalidInput, NotFound

H = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"  # a hash's shape; never verified here
MARATHON = "dcos:service:marathon:marathon:services"


def state() -> dict[str, Any]:
    s = m.add_user(None, "root", password_hash=H)
    s = m.grant(s, m.SUPERUSER_RID, "users", "root", "full")
    for uid in ("alice", "bob", "carol"):
        s = m.add_user(s, uid, password_hash=H)
    s = m.add_group(s, "team-a")
    s = m.add_member(s, "team-a", "bob")
    s = m.grant(s, f"{MARATHON}:/team-a", "groups", "team-a", "full")
    s = m.grant(s, f"{MARATHON}:/prod", "users", "alice", "read")
    s = m.grant(s, "dcos:adminrouter:service:marathon", "users", "alice", "full")
    s = m.grant(s, "dcos:mesos:master:framework", "users", "carol", "create")
    return s


@pytest.mark.parametrize(
    ("uid", "rid", "action", "allowed"),
    [
        # superuser: everything
        ("root", "dcos:adminrouter:ops:mesos", "full", True),
        ("root", f"{MARATHON}:/anything", "delete", True),
        # direct grant, resource hierarchy along the path
        ("alice", f"{MARATHON}:/prod", "read", True),
        ("alice", f"{MARATHON}:/prod/web", "read", True),
        ("alice", f"{MARATHON}:/prod/web/deep/er", "read", True),
        ("alice", f"{MARATHON}:/production", "read", False),
        ("alice", f"{MARATHON}:/", "read", False),
        ("alice", f"{MARATHON}:/prod/web", "create", False),
        ("alice", f"{MARATHON}:/prod", "update", False),
        # Admin Router rids are exact
        ("alice", "dcos:adminrouter:service:marathon", "read", True),
        ("alice", "dcos:adminrouter:service:marathon:x", "read", False),
        ("alice", "dcos:adminrouter:service:metronome", "read", False),
        # group inheritance, full implies every action
        ("bob", f"{MARATHON}:/team-a/app", "create", True),
        ("bob", f"{MARATHON}:/team-a", "delete", True),
        ("bob", f"{MARATHON}:/team-b/app", "read", False),
        ("carol", f"{MARATHON}:/team-a/app", "read", False),
        # ':' hierarchy for dcos:mesos / dcos:service
        ("carol", "dcos:mesos:master:framework:role:web", "create", True),
        ("carol", "dcos:mesos:master:framework:role:web", "read", False),
        ("carol", "dcos:mesos:master:task", "create", False),
        # unknown users: nothing
        ("mallory", f"{MARATHON}:/prod", "read", False),
    ],
)
def test_permission_matcher(uid: str, rid: str, action: str, allowed: bool) -> None:
    assert m.Policy(state()).allowed(uid, rid, action) is allowed


def test_a_grant_on_the_root_group_covers_every_app() -> None:
    s = m.grant(state(), f"{MARATHON}:/", "users", "carol", "read")
    p = m.Policy(s)
    assert p.allowed("carol", f"{MARATHON}:/x/y", "read")
    assert not p.allowed("carol", f"{MARATHON}:/x/y", "update")


def test_removing_a_member_removes_what_the_group_gave() -> None:
    s = m.remove_member(state(), "team-a", "bob")
    assert not m.Policy(s).allowed("bob", f"{MARATHON}:/team-a/app", "read")


def test_covering_lists_ancestors_most_specific_first() -> None:
    assert m.covering(f"{MARATHON}:/a/b") == (
        f"{MARATHON}:/a/b",
        f"{MARATHON}:/a",
        f"{MARATHON}:/",
        MARATHON,
        "dcos:service:marathon:marathon",
        "dcos:service:marathon",
    )
    assert m.covering("dcos:adminrouter:ops:mesos") == ("dcos:adminrouter:ops:mesos",)


@pytest.mark.parametrize(
    "uid",
    [
        "",
        "a" * 97,
        "a/b",
        "..",
        "a..b",
        ".",
        "a b",
        "a\x00b",
        "a\nb",
        "a\tb",
        "é",
        "a;rm",
        "a'b",
        'a"b',
        "a%2Fb",
        None,
        7,
    ],
)
def test_bad_uids_are_refused_with_the_field_named(uid: object) -> None:
    with pytest.raises(InvalidInput, match=r"^uid: "):
        m.check_uid(uid)


@pytest.mark.parametrize("uid", ["a", "bootstrapuser", "jane.doe@example.com", "svc_1-x", "a" * 96])
def test_good_uids(uid: str) -> None:
    assert m.check_uid(uid) == uid


@pytest.mark.parametrize(
    "rid",
    [
        "",
        "superuser",
        "marathon:services:/prod",
        "dcos",
        "dcos:",
        "dcos::x",
        "dcos:service:marathon:marathon:services:/prod/../etc",
        "dcos:service:marathon:marathon:services://prod",
        "dcos:x y",
        "dcos:x'or'1'='1",
        'dcos:x"',
        "dcos:x\n",
        "dcos:x\x00",
        "dcos:x;drop",
        "dcos:x?y=1",
        "dcos:x#y",
        "dcos:x%2F",
        "dcos:" + "a" * 600,
        None,
    ],
)
def test_bad_rids_are_refused(rid: object) -> None:
    with pytest.raises(InvalidInput, match=r"^rid: "):
        m.normalize_rid(rid)


@pytest.mark.parametrize(
    ("rid", "normal"),
    [
        ("dcos:superuser", "dcos:superuser"),
        (f"{MARATHON}:/prod/", f"{MARATHON}:/prod"),
        (f"{MARATHON}:/", f"{MARATHON}:/"),
        ("dcos:adminrouter:ops:system-logs", "dcos:adminrouter:ops:system-logs"),
    ],
)
def test_rids_are_normalized(rid: str, normal: str) -> None:
    assert m.normalize_rid(rid) == normal


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda s: m.delete_user(s, "root"), Conflict),
        (lambda s: m.revoke(s, m.SUPERUSER_RID, "users", "root", "full"), Conflict),
        (lambda s: m.delete_acl(s, m.SUPERUSER_RID), Conflict),
        (lambda s: m.add_user(s, "alice", password_hash=H), Conflict),
        (lambda s: m.add_group(s, "team-a"), Conflict),
        (lambda s: m.add_member(s, "team-a", "nobody"), NotFound),
        (lambda s: m.add_member(s, "nogroup", "alice"), NotFound),
        (lambda s: m.grant(s, "dcos:x", "users", "nobody", "read"), NotFound),
        (lambda s: m.grant(s, "dcos:x", "users", "alice", "own"), InvalidInput),
        (lambda s: m.grant(s, "dcos:x", "roles", "alice", "read"), InvalidInput),
        (lambda s: m.revoke(s, "dcos:x", "users", "alice", "read"), NotFound),
        (lambda s: m.remove_member(s, "team-a", "alice"), NotFound),
        (lambda s: m.add_user(s, "x", password_hash=H, public_key="k"), InvalidInput),
        (lambda s: m.add_user(s, "x", description="a\x07"), InvalidInput),
    ],
)
def test_refused_changes_leave_the_state_unchanged(change: Any, error: type) -> None:
    before = state()
    snapshot = repr(before)
    with pytest.raises(error):
        change(before)
    assert repr(before) == snapshot


def test_the_last_superuser_may_go_once_another_exists() -> None:
    s = m.grant(state(), m.SUPERUSER_RID, "users", "alice", "full")
    s = m.delete_user(s, "root")
    assert m.Policy(s).superusers() == ["alice"]
    with pytest.raises(Conflict):
        m.delete_user(s, "alice")


def test_a_superuser_through_a_group_counts_and_is_protected() -> None:
    s = m.add_group(state(), "admins")
    s = m.add_member(s, "admins", "alice")
    s = m.grant(s, m.SUPERUSER_RID, "groups", "admins", "full")
    s = m.delete_user(s, "root")
    assert m.Policy(s).superusers() == ["alice"]
    for change in (
        lambda t: m.delete_group(t, "admins"),
        lambda t: m.remove_member(t, "admins", "alice"),
        lambda t: m.revoke(t, m.SUPERUSER_RID, "groups", "admins", "full"),
    ):
        with pytest.raises(Conflict):
            change(s)


def test_deleting_a_user_drops_memberships_and_grants() -> None:
    s = m.delete_user(state(), "bob")
    assert s["groups"]["team-a"]["members"] == []
    s = m.delete_user(s, "alice")
    assert "alice" not in s["acls"][f"{MARATHON}:/prod"]["users"]


def test_permissions_document_lists_direct_and_group_grants() -> None:
    doc = m.permissions_doc(state(), "bob")
    assert doc["direct"] == []
    (g,) = doc["groups"]
    assert (g["rid"], g["gid"], [a["name"] for a in g["actions"]]) == (
        f"{MARATHON}:/team-a",
        "team-a",
        ["full"],
    )


def test_user_document_never_shows_the_hash() -> None:
    s = state()
    doc = m.user_doc("alice", s["users"]["alice"])
    assert H not in repr(doc) and doc["is_service"] is False
