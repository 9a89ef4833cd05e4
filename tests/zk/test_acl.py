"""Digest ACLs against the real ZooKeeper (issue 30, item 6).

Every znode the cluster writes carries ``digest:<user>:<hash>`` with all permissions:
a client without the cluster's credentials (another local user who can reach the
port) can neither read nor change the cluster's state; one with them can. The
election is the exception, as Mesos' master group is: anyone may read who leads,
nobody without the credentials may join, change or remove it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Permissions, make_digest_acl_credential

from runtime.testing import wait_for
from zk import (
    BadCredentials,
    Election,
    LeaderInfo,
    Registry,
    StateStore,
    ZkCredentials,
    ZooKeeperServer,
    close_quietly,
    connect,
    ensure_credentials,
    generate_credentials,
    protect_root,
    read_credentials,
    read_leader,
    resolve_credentials,
    secure_tree,
    write_credentials,
)

CREDS = ZkCredentials("pydcos", "s3cret-for-tests")


# -- the credentials file (no ZooKeeper) ------------------------------------------------


def test_a_written_credentials_file_is_mode_0600_and_reads_back(tmp_path: Path) -> None:
    creds = generate_credentials()
    path = write_credentials(tmp_path / "keys" / "zk.credentials", creds)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_credentials(path) == creds
    assert len(creds.password) >= 40 and creds.user == "pydcos"
    assert creds.password not in repr(creds)


def test_ensure_credentials_creates_once_then_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "zk.credentials"
    first = ensure_credentials(path)
    assert ensure_credentials(path) == first


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_credentials_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_credentials(tmp_path / "zk.credentials", CREDS)
    os.chmod(path, mode)
    with pytest.raises(BadCredentials, match=rf"mode {mode:04o}.*chmod 600"):
        read_credentials(path)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "one line user:password"),
        ("no-colon\n", "one line user:password"),
        (":password\n", "user ''"),
        ("user:\n", "password"),
        ("a:b\nc:d\n", "one line user:password"),
    ],
)
def test_a_malformed_credentials_file_is_refused_naming_the_file(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "zk.credentials"
    path.write_text(text)
    os.chmod(path, 0o600)
    with pytest.raises(BadCredentials, match=str(path)) as info:
        read_credentials(path)
    assert why in str(info.value)


def test_resolve_credentials_takes_the_argument_then_the_environment(tmp_path: Path) -> None:
    given = write_credentials(tmp_path / "a", CREDS)
    other = write_credentials(tmp_path / "b", ZkCredentials("other", "pw"))
    env = {"PYDCOS_ZK_CREDENTIALS": str(other)}
    assert resolve_credentials(given, env) == CREDS
    assert resolve_credentials(None, env) == ZkCredentials("other", "pw")
    assert resolve_credentials(None, {}) is None
    with pytest.raises(BadCredentials, match="does not exist"):
        resolve_credentials(tmp_path / "missing", {})


# -- against the real server -------------------------------------------------------------


def _digest_ids(acls: list[ACL]) -> dict[str, int]:
    return {f"{a.id.scheme}:{a.id.id}": a.perms for a in acls}


OURS = f"digest:{make_digest_acl_credential(CREDS.user, CREDS.password)}"


@pytest.fixture
def cluster_client(zk_connect: Callable[..., KazooClient]) -> KazooClient:
    return zk_connect(credentials=CREDS)


@pytest.fixture
def stranger(zk_connect: Callable[..., KazooClient]) -> KazooClient:
    """Another local user: reaches the port, has no (or other) credentials."""
    return zk_connect()


@pytest.mark.zk
def test_the_cluster_state_is_closed_to_a_client_without_the_credentials(
    cluster_client: KazooClient, stranger: KazooClient, zk_connect: Callable[..., KazooClient]
) -> None:
    store = StateStore(cluster_client, "/marathon")
    store.create("root", {"apps": ["/web"]})
    store.put("versions/_web", [{"id": "/web", "blob": "x" * 300_000}])  # chunked
    Registry(cluster_client).register("agents", "a1", {"host": "h"})
    doc = store.path("root")
    chunk = f"{store.chunks}/{cluster_client.get_children(store.chunks)[0]}"
    for path in ("/", "/marathon", doc, chunk, "/registry/agents/a1"):
        acls, _ = cluster_client.get_acls(path)
        assert _digest_ids(acls) == {OURS: Permissions.ALL}, path
        with pytest.raises(NoAuthError):
            stranger.get(path)
        with pytest.raises(NoAuthError):
            stranger.set(path, b"mine now")
        with pytest.raises(NoAuthError):
            stranger.create(f"{path.rstrip('/')}/intruder", b"x")
    with pytest.raises(NoAuthError):
        stranger.delete("/registry/agents/a1")
    with pytest.raises(NoAuthError):
        stranger.get_children(store.docs)
    with pytest.raises(NoAuthError):
        StateStore(stranger, "/marathon").get("root")
    wrong = zk_connect(credentials=ZkCredentials(CREDS.user, "guessed"))
    with pytest.raises(NoAuthError):
        wrong.get(doc)
    # The holder of the credentials reads and writes as before, from a new session too.
    again = StateStore(zk_connect(credentials=CREDS), "/marathon")
    assert again.require("root").value == {"apps": ["/web"]}
    assert again.require("versions/_web").chunked
    again.put("root", {"apps": []})
    assert store.require("root").value == {"apps": []}


@pytest.mark.zk
def test_anyone_can_read_who_leads_but_only_the_cluster_can_change_it(
    cluster_client: KazooClient, stranger: KazooClient
) -> None:
    info = LeaderInfo(address="tcp://127.0.0.1:1", http_url="http://127.0.0.1:2", hostname="m1")
    election = Election(cluster_client, info).start()
    try:
        wait_for(lambda: read_leader(cluster_client) is not None, what="a leader")
        leader = read_leader(stranger)  # world-readable, like Mesos' master group
        assert leader is not None and leader.address == info.address
        members = stranger.get_children("/election")
        assert len(members) == 1
        member = f"/election/{members[0]}"
        acls, _ = cluster_client.get_acls(member)  # ZooKeeper masks digests to others
        assert _digest_ids(acls) == {OURS: Permissions.ALL, "world:anyone": Permissions.READ}
        with pytest.raises(NoAuthError):
            stranger.set(member, b'{"address": "tcp://evil:1"}')
        with pytest.raises(NoAuthError):
            stranger.delete(member)
        with pytest.raises(NoAuthError):
            stranger.create("/election/member_0000000000", b"{}", sequence=True)
        assert read_leader(stranger) == leader
    finally:
        election.stop()


@pytest.mark.zk
def test_protect_root_lets_only_the_cluster_create_at_the_top(tmp_path: Path) -> None:
    """The development server ``cluster up`` starts is the cluster's own: nobody else
    may create znodes anywhere on it (and so fill its memory)."""
    with ZooKeeperServer(data_dir=tmp_path / "zk") as server:
        protect_root(server.hosts, CREDS)
        stranger = connect(server.hosts, chroot=None)
        ours = connect(server.hosts, credentials=CREDS)  # creates the /pydcos chroot
        try:
            with pytest.raises(NoAuthError):
                stranger.create("/elsewhere", b"x" * 1000)
            assert "pydcos" in stranger.get_children("/")  # reading the top is harmless
            with pytest.raises(NoAuthError):
                stranger.get_children("/pydcos")
            StateStore(ours).create("k", 1)
            assert StateStore(ours).require("k").value == 1
        finally:
            close_quietly(stranger)
            close_quietly(ours)


@pytest.mark.zk
def test_secure_tree_closes_znodes_written_before_acls_existed(
    zk_connect: Callable[..., KazooClient],
) -> None:
    """A rewrite keeps a znode's ACL, so a state dir from before ACLs would stay open:
    ``cluster up`` gives every existing znode the cluster's ACL (the election's: plus
    world READ)."""
    old = zk_connect()  # the cluster before this change: no credentials
    StateStore(old, "/marathon").create("root", {"apps": []})
    Registry(old).register("agents", "a1", {"host": "h"})
    old.ensure_path("/election")
    old.create("/election/member_x_0000000001", b'{"address": "tcp://h:1"}')
    ours = zk_connect(credentials=CREDS)
    assert secure_tree(ours) >= 8
    assert secure_tree(ours) == 0  # nothing left to change
    stranger = zk_connect()
    with pytest.raises(NoAuthError):
        stranger.get("/marathon/docs/root")
    with pytest.raises(NoAuthError):
        stranger.set("/registry/agents/a1", b"{}")
    assert stranger.get("/election/member_x_0000000001")[0].startswith(b"{")
    with pytest.raises(NoAuthError):
        stranger.delete("/election/member_x_0000000001")
    assert StateStore(ours, "/marathon").require("root").value == {"apps": []}
    with pytest.raises(BadCredentials, match="credentials"):
        secure_tree(stranger)
