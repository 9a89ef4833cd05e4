"""The ACS API on real masters (two ``pydcos master`` processes, the real ZooKeeper),
driven over HTTP with http.client and pyjwt's ``PyJWKClient`` (a real JWKS client): the
bootstrap superuser logs in, manages users, groups, service accounts and grants; login
attacks are refused and rate-limited; the audit log is served as a component log;
nothing secret reaches a log; everything survives a leader SIGKILL."""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from actors.iam import generate_cluster_key, generate_keypair, service_login_token, write_bootstrap
from tests.e2e.conftest import E2ECluster, HttpReply, Proc, wait_for

pytestmark = pytest.mark.slow

PASSWORD = "bootstrap-Pa55word-e2e"
ALICE_PW = "alice-Pa55word-e2e"
MARATHON = "dcos:service:marathon:marathon:services"


def call(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> HttpReply:
    import http.client

    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=10)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"token={token}"
    try:
        path = u.path + ("?" + u.query if u.query else "")
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return HttpReply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


class Acs:
    def __init__(self, cluster: E2ECluster) -> None:
        self.c = cluster

    def leader(self) -> Proc:
        def serving() -> Proc | None:
            m = self.c.leader()
            return m if call(f"{m.http_url}/acs/api/v1/auth/jwks").status == 200 else None

        result: Proc = wait_for(serving, 30, "the leader serving /acs")
        return result

    def url(self, path: str) -> str:
        return f"{self.leader().http_url}/acs/api/v1{path}"

    def login(self, uid: str, password: str) -> HttpReply:
        return call(self.url("/auth/login"), "POST", {"uid": uid, "password": password})

    def token(self, uid: str = "bootstrapuser", password: str = PASSWORD) -> str:
        r = self.login(uid, password)
        if r.status == 401 and uid == "bootstrapuser":
            # the IAM document the leader wrote may reach the serving master's view a
            # moment later: a few tries (under the 5 failures a minute per uid)
            r = wait_for(
                lambda: (a := self.login(uid, password)).status != 401 and a, 9, "login", 2.0
            )
        assert r.status == 200, r.body
        token: str = r.json()["token"]
        return token


@pytest.fixture(scope="module")
def acs(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Acs]:
    scratch = Path(tmp_path_factory.mktemp("iam"))
    key, boot = scratch / "cluster.key", scratch / "bootstrap.json"
    generate_cluster_key(key)
    write_bootstrap(boot, "bootstrapuser", PASSWORD)
    c = E2ECluster(zk_hosts, f"/t-{uuid.uuid4().hex[:12]}", scratch)
    try:
        for i in (1, 2):
            c.add_master(
                "--iam-key",
                str(key),
                "--iam-bootstrap",
                str(boot),
                "--log-file",
                str(c.logs / f"master-{i}.log"),
                "--iam-token-ttl",
                "3600",
            )
        for proc in c.masters:
            proc.wait_up()
        logs = [c.logs / f"master-{i}.log" for i in (1, 2)]

        def bootstrapped() -> bool:
            # The leader creates the superuser after it is elected (IamActor): a login
            # before that is a correct 401, and failed logins are rate-limited per uid,
            # so wait for the leader to say it made it rather than polling logins.
            done = "iam: bootstrap superuser 'bootstrapuser' created"
            return any(p.exists() and done in p.read_text(errors="replace") for p in logs)

        wait_for(bootstrapped, 60, "the bootstrap superuser created")
        yield Acs(c)
    finally:
        c.stop_all()


def test_bootstrap_superuser_logs_in_and_the_token_verifies_with_jwks(acs: Acs) -> None:
    token = acs.token()
    jwk_client = jwt.PyJWKClient(acs.url("/auth/jwks"))
    signing = jwk_client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, signing.key, algorithms=["RS256"], audience="pydcos", issuer="pydcos"
    )
    assert claims["uid"] == "bootstrapuser" and claims["exp"] - claims["iat"] == 3600
    users = call(acs.url("/users"), token=token).json()["array"]
    assert [u["uid"] for u in users] == ["bootstrapuser"]
    perms = call(acs.url("/users/bootstrapuser/permissions"), token=token).json()
    assert [(p["rid"], [a["name"] for a in p["actions"]]) for p in perms["direct"]] == [
        ("dcos:superuser", ["full"])
    ]


def test_users_groups_and_grants_with_dcos_shapes(acs: Acs) -> None:
    t = acs.token()
    assert (
        call(acs.url("/users/alice"), "PUT", {"description": "A", "password": ALICE_PW}, t).status
        == 201
    )
    r = call(acs.url("/users/alice"), "PUT", {"password": ALICE_PW}, t)
    assert r.status == 409 and "alice" in r.json()["message"]
    doc = call(acs.url("/users/alice"), token=t).json()
    assert doc == {
        "uid": "alice",
        "url": "/acs/api/v1/users/alice",
        "description": "A",
        "is_remote": False,
        "is_service": False,
        "provider_type": "internal",
        "provider_id": "",
    }
    assert call(acs.url("/groups/team-a"), "PUT", {"description": "team A"}, t).status == 201
    assert call(acs.url("/groups/team-a/users/alice"), "PUT", None, t).status == 204
    members = call(acs.url("/groups/team-a/users"), token=t).json()["array"]
    assert [m["user"]["uid"] for m in members] == ["alice"]
    rid = urllib.parse.quote(f"{MARATHON}:/team-a", safe="")
    assert call(acs.url(f"/acls/{rid}/groups/team-a/full"), "PUT", None, t).status == 204
    check = call(
        acs.url(
            f"/acls/{urllib.parse.quote(MARATHON + ':/team-a/web', safe='')}/users/alice/create"
        ),
        token=t,
    )
    assert check.json() == {"allowed": True}
    other = urllib.parse.quote(f"{MARATHON}:/team-b", safe="")
    assert call(acs.url(f"/acls/{other}/users/alice/read"), token=t).json() == {"allowed": False}
    perms = call(acs.url("/users/alice/permissions"), token=t).json()
    assert perms["groups"][0]["rid"] == f"{MARATHON}:/team-a"
    # alice (no dcos:adminrouter:acs) may not change IAM
    ta = acs.token("alice", ALICE_PW)
    r = call(acs.url("/users/mallory"), "PUT", {"password": "whatever1"}, ta)
    assert r.status == 403 and "dcos:adminrouter:acs" in r.json()["message"]


@pytest.mark.parametrize(
    ("path", "method", "body", "status", "names"),
    [
        ("/users/a%2Fb", "PUT", {"password": "xxxxxxx"}, 400, "uid"),
        ("/users/" + "a" * 97, "PUT", {"password": "xxxxxxx"}, 400, "uid"),
        ("/users/a..b", "PUT", {"password": "xxxxxxx"}, 400, "uid"),
        ("/users/ok1", "PUT", {"password": "x"}, 400, "password"),
        ("/users/ok1", "PUT", {"password": "xxxxxxx", "admin": True}, 400, "admin"),
        ("/users/ok1", "PUT", {"public_key": "not pem"}, 400, "public_key"),
        ("/users/ok1", "PUT", [1], 400, "body"),
        ("/acls/dcos:x%27%20or%201=1", "PUT", {}, 400, "rid"),
        ("/acls/notdcos", "PUT", {}, 400, "rid"),
        ("/acls/dcos:x/users/bootstrapuser/own", "PUT", None, 400, "action"),
        ("/acls/dcos:x/users/nobody/read", "PUT", None, 404, "nobody"),
        ("/users/nobody", "DELETE", None, 404, "nobody"),
        ("/users/bootstrapuser", "DELETE", None, 409, "superuser"),
        ("/acls/dcos:superuser", "DELETE", None, 409, "superuser"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    acs: Acs, path: str, method: str, body: Any, status: int, names: str
) -> None:
    t = acs.token()
    before = call(acs.url("/users"), token=t).json()
    r = call(acs.url(path), method, body, t)
    assert r.status == status, r.body
    assert names in r.json()["message"]
    assert call(acs.url("/users"), token=t).json() == before
    assert acs.login("bootstrapuser", PASSWORD).status == 200


def test_service_account_logs_in_with_its_key(acs: Acs) -> None:
    t = acs.token()
    priv, pub = generate_keypair()
    r = call(acs.url("/users/jobs-sa"), "PUT", {"description": "svc", "public_key": pub}, t)
    assert r.status == 201, r.body
    listed = call(acs.url("/users?type=service"), token=t).json()["array"]
    assert [u["uid"] for u in listed] == ["jobs-sa"] and listed[0]["is_service"]
    login = service_login_token(priv, "jobs-sa", time.time())
    r = call(acs.url("/auth/login"), "POST", {"uid": "jobs-sa", "token": login})
    assert r.status == 200
    assert jwt.decode(r.json()["token"], options={"verify_signature": False})["uid"] == "jobs-sa"
    other_priv, _ = generate_keypair()
    forged = service_login_token(other_priv, "jobs-sa", time.time())
    r = call(acs.url("/auth/login"), "POST", {"uid": "jobs-sa", "token": forged})
    assert r.status == 401 and r.headers.get("www-authenticate") == "acsjwt"
    # a service account has no password
    assert acs.login("jobs-sa", "anything1").status == 401


def test_brute_force_is_rate_limited_per_uid(acs: Acs) -> None:
    t = acs.token()
    call(acs.url("/users/victim"), "PUT", {"password": "victim-Pa55"}, t)
    statuses = [acs.login("victim", f"guess-{i}").status for i in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    r = acs.login("victim", "victim-Pa55")  # even the right password waits
    assert r.status == 429 and int(r.headers["retry-after"]) >= 1
    assert "victim" not in r.json()["message"] or "retry" in r.json()["message"]
    # unknown uids answer exactly like wrong passwords (no user enumeration)
    a = acs.login("no-such-user", "x" * 8)
    b = acs.login("bootstrapuser", "x" * 8)
    assert (
        (a.status, a.json()["message"])
        == (b.status, b.json()["message"])
        == (
            401,
            "login failed: wrong uid or password",
        )
    )


def test_standby_verifies_tokens_and_redirects_acs_to_the_leader(acs: Acs) -> None:
    t = acs.token()
    leader = acs.leader()
    (standby,) = [m for m in acs.c.masters if m.alive and m is not leader]
    r = call(f"{standby.http_url}/acs/api/v1/users", token=t)
    assert r.status == 307 and r.headers["location"].startswith(leader.http_url)
    assert call(f"{standby.http_url}/mesos/version", token=t).status == 200
    r = call(f"{standby.http_url}/mesos/version")
    assert r.status == 401 and r.headers.get("www-authenticate") == "acsjwt"


def test_audit_log_is_a_component_log_and_no_secret_is_logged(acs: Acs) -> None:
    t = acs.token()
    assert acs.login("bootstrapuser", "not-the-password").status == 401
    call(acs.url("/groups/audited"), "PUT", {}, t)
    leader = acs.leader()

    def audited() -> list[dict[str, Any]] | None:
        r = call(f"{leader.http_url}/system/v1/logs/v2/component/iam-audit", token=t)
        if r.status != 200:
            return None
        lines = [json.loads(x) for x in r.body.decode().splitlines() if x.startswith("{")]
        return lines if any(e["what"] == "create group audited" for e in lines) else None

    lines = wait_for(audited, 10, "the audit entry through the component log API")
    entry = next(e for e in lines if e["what"] == "create group audited")
    assert entry["who"] == "bootstrapuser" and entry["allowed"] is True and entry["time"] > 0
    assert any(e["what"] == "login" and e["allowed"] is False for e in lines)
    denied = [e for e in lines if e["who"] == "alice" and e["allowed"] is False]
    assert denied and denied[0]["rid"] == "dcos:adminrouter:acs"
    assert denied[0]["what"] == "PUT /acs/api/v1/users/mallory"
    for path in acs.c.logs.iterdir():
        text = path.read_text(errors="replace")
        for secret in (PASSWORD, ALICE_PW, "victim-Pa55", t, t.split(".")[2]):
            assert secret not in text, f"{secret[:6]}... found in {path.name}"


def test_iam_survives_a_leader_sigkill(acs: Acs) -> None:
    t = acs.token()
    old = acs.leader()
    old.kill9()
    new = acs.leader()
    assert new is not old
    assert call(f"{new.http_url}/acs/api/v1/users/alice", token=t).status == 200
    assert acs.login("alice", ALICE_PW).status == 200
    old.start().wait_up()


def pydcos(acs: Acs, home: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    import os
    import subprocess
    import sys

    e = dict(os.environ, PYDCOS_HOME=str(home), **(env or {}))
    e.pop("PYDCOS_TOKEN", None)
    e.pop("PYDCOS_ZK", None)
    argv = [sys.executable, "-m", "console.cli", *args]
    if args[-3:-2] != ("keypair",):
        argv += ["--zk", acs.c.zk, "--insecure-dev"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=e)


def test_cli_login_grant_and_service_account(acs: Acs, tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = pydcos(acs, home, "auth", "list-users")
    assert r.returncode != 0 and "log in" in r.stderr
    r = pydcos(
        acs,
        home,
        "auth",
        "login",
        "--username",
        "bootstrapuser",
        "--password-env",
        "BOOT_PW",
        env={"BOOT_PW": PASSWORD},
    )
    assert r.returncode == 0, r.stderr
    assert "Login successful!" in r.stdout
    assert (home / "auth.json").stat().st_mode & 0o777 == 0o600
    r = pydcos(
        acs,
        home,
        "security",
        "org",
        "users",
        "create",
        "bob",
        "--password-env",
        "BOB_PW",
        env={"BOB_PW": "bob-Pa55word"},
    )
    assert r.returncode == 0, r.stderr
    rid = f"{MARATHON}:/team-b"
    r = pydcos(acs, home, "security", "org", "users", "grant", "bob", rid, "full")
    assert r.returncode == 0, r.stderr
    r = pydcos(acs, home, "security", "org", "users", "show", "bob", "--json")
    doc = json.loads(r.stdout)
    assert [p["rid"] for p in doc["permissions"]["direct"]] == [rid]
    r = pydcos(acs, home, "auth", "list-users")
    assert "bob" in r.stdout and "bootstrapuser" in r.stdout
    # a bad rid is one line and a non-zero exit, and nothing was granted
    r = pydcos(acs, home, "security", "org", "users", "grant", "bob", "dcos:x y", "full")
    assert r.returncode != 0 and "rid" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    # a service account from a keypair the CLI made, logging in with its key
    priv, pub = tmp_path / "sa.key", tmp_path / "sa.pub"
    r = pydcos(acs, home, "security", "org", "service-accounts", "keypair", str(priv), str(pub))
    assert r.returncode == 0 and priv.stat().st_mode & 0o777 == 0o600
    r = pydcos(acs, home, "security", "org", "service-accounts", "create", "cli-sa", "-p", str(pub))
    assert r.returncode == 0, r.stderr
    sa_home = tmp_path / "sa-home"
    r = pydcos(acs, sa_home, "auth", "login", "--username", "cli-sa", "--private-key", str(priv))
    assert r.returncode == 0, r.stderr
    token = pydcos(acs, sa_home, "auth", "token").stdout.strip()
    assert jwt.decode(token, options={"verify_signature": False})["uid"] == "cli-sa"
    r = pydcos(acs, home, "auth", "logout")
    assert r.returncode == 0 and "Logged out" in r.stdout
    assert pydcos(acs, home, "auth", "token").returncode != 0
