"""Enforcement end to end (issue 24) on a real ``pydcos cluster up`` with auth ON (its
default): two masters, one agent, CURVE keys, the CLI logged in by ``cluster up``.

```
 cluster up (auth on) ── bootstrapuser (password printed once, file 0600), CLI token saved
 alice: marathon + services:/team-a      bob (group team-b): marathon + services:/team-b
   REST (http.client), the CLI (PYDCOS_TOKEN / auth login), the public `marathon` client
 service account "ci": RSA key login -> token -> Metronome job ci.hello runs
 every route a master mounts, without a token -> 401 acsjwt (leader and standby)
 leader SIGKILL -> the same tokens keep working on the new leader
```
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from actors.iam import generate_keypair, service_login_token
from runtime.testing import wait_for
from tests.console.conftest import REPO, LocalCluster, pid_alive, pydcos, started_cluster
from tests.gateway.test_route_auth import master_routes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MARATHON_RID = "dcos:service:marathon:marathon:services"
ALICE_PW = "alice-Pa55word-enforce"
BOB_PW = "bob-Pa55word-enforce"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def call(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> Reply:
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=15)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"token={token}"
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(
            method, u.path + ("?" + u.query if u.query else ""), body=data, headers=headers
        )
        r = conn.getresponse()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


@dataclass
class World:
    cluster: LocalCluster
    home: Path
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    def masters(self) -> list[dict[str, Any]]:
        return [
            p
            for p in self.cluster.record()["processes"]
            if p["kind"] == "master" and pid_alive(p["pid"])
        ]

    def leader_url(self) -> str:
        def leading() -> str | None:
            for p in self.masters():
                r = call(p["http_url"] + "/ping")
                if r.status != 200:
                    continue
                # Any valid token: /metrics/snapshot is Admin Router's ops:mesos.
                doc = call(p["http_url"] + "/metrics/snapshot", token=self.root()).json()
                if doc.get("master/elected") == 1:
                    return str(p["http_url"])
            return None

        url: str = wait_for(leading, timeout=30, what="a leading master")
        return url

    def root(self) -> str:
        if "root" not in self.tokens:
            password = (self.cluster.state_dir / "bootstrap-password").read_text().strip()
            self.tokens["root"] = self.login("bootstrapuser", password)
        return self.tokens["root"]

    def login(self, uid: str, password: str) -> str:
        def logged_in() -> str | None:
            for master in self.masters():  # a standby redirects the login: ask the leader
                url = master["http_url"] + "/acs/api/v1/auth/login"
                r = call(url, "POST", {"uid": uid, "password": password})
                if r.status == 200:
                    return str(r.json()["token"])
            return None

        token: str = wait_for(logged_in, timeout=30, what=f"{uid} to log in")
        return token

    def acs(self, method: str, path: str, body: Any = None) -> Reply:
        r = call(self.leader_url() + "/acs/api/v1" + path, method, body, self.root())
        assert r.status in (200, 201, 204), (method, path, r.status, r.body[:300])
        return r

    def grant(self, kind: str, who: str, rid: str, action: str = "full") -> None:
        self.acs("PUT", f"/acls/{urllib.parse.quote(rid, safe='')}/{kind}/{who}/{action}")

    def cli(self, *args: str, token: str | None = None) -> Any:
        env = dict(self.env)
        if token is not None:
            env["PYDCOS_TOKEN"] = token
        return pydcos(*args, env=env)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("iam-enforce")
    env = dict(os.environ, PYTHONPATH=str(REPO), PYDCOS_HOME=str(home))
    for var in ("PYDCOS_ZK", "PYDCOS_TOKEN", "PYDCOS_KEYS"):
        env.pop(var, None)
    state = home / "cluster"
    up_args = ("--no-docker", "--masters", "2", "--agents", "1")
    with started_cluster(state, *up_args, auth=True, env=env) as cluster:
        w = World(cluster, home, env)
        app = {"cmd": "sleep 1000", "cpus": 0.01, "mem": 32, "instances": 0}
        w.acs("PUT", "/users/alice", {"password": ALICE_PW, "description": "team a"})
        w.acs("PUT", "/users/bob", {"password": BOB_PW, "description": "team b"})
        w.acs("PUT", "/groups/team-b", {"description": "team b"})
        w.acs("PUT", "/groups/team-b/users/bob")
        w.grant("users", "alice", "dcos:adminrouter:service:marathon")
        w.grant("users", "alice", f"{MARATHON_RID}:/team-a")
        w.grant("groups", "team-b", "dcos:adminrouter:service:marathon")
        w.grant("groups", "team-b", f"{MARATHON_RID}:/team-b")
        for app_id in ("/team-a/web", "/team-b/web", "/ops/db"):
            r = call(w.leader_url() + "/marathon/v2/apps", "POST", {**app, "id": app_id}, w.root())
            assert r.status == 201, r.body
        w.tokens["alice"] = w.login("alice", ALICE_PW)
        w.tokens["bob"] = w.login("bob", BOB_PW)
        yield w


def _ids(doc: Any) -> list[str]:
    return sorted(a["id"] for a in doc["apps"])


def _group_apps(group: dict[str, Any]) -> list[str]:
    out = [a["id"] for a in group.get("apps", [])]
    for g in group.get("groups", []):
        out += _group_apps(g)
    return sorted(out)


def test_cluster_up_made_a_superuser_printed_once_and_logged_the_cli_in(world: World) -> None:
    state = world.cluster.state_dir
    pw_file = state / "bootstrap-password"
    password = pw_file.read_text().strip()
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((world.home / "auth.json").stat().st_mode) == 0o600
    out = world.cluster.up.stdout
    assert out.count(password) == 1 and "bootstrapuser" in out
    assert password not in world.cluster.up.stderr
    for log in (state / "logs").glob("*.log"):
        assert password not in log.read_text(errors="replace"), log
    # The CLI uses the token cluster up stored: no login needed, every app visible.
    r = world.cli("marathon", "app", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert {a["id"] for a in json.loads(r.stdout)} >= {"/team-a/web", "/team-b/web", "/ops/db"}


def test_every_mounted_route_without_a_token_is_401_on_every_master(world: World) -> None:
    routes = master_routes()
    assert len(routes) > 200
    for master in world.masters():  # the standby verifies too (before any redirect)
        for method, path in routes:
            r = call(master["http_url"] + path, method, {} if method != "GET" else None)
            assert r.status == 401, (master["name"], method, path, r.status, r.body[:200])
            assert r.headers.get("www-authenticate") == "acsjwt", (method, path)
        assert call(master["http_url"] + "/ping").status == 200
        bad = call(master["http_url"] + "/marathon/v2/apps", token="not.a.jwt")
        assert bad.status == 401


def test_each_team_sees_and_changes_only_its_group_through_rest(world: World) -> None:
    base = world.leader_url() + "/marathon/v2"
    alice = world.tokens["alice"]
    assert _ids(call(base + "/apps", token=alice).json()) == ["/team-a/web"]
    assert _group_apps(call(base + "/groups", token=alice).json()) == ["/team-a/web"]
    assert call(base + "/apps/team-a/web", token=alice).status == 200
    denied = call(base + "/apps/team-b/web", token=alice)
    assert denied.status == 403
    assert denied.json()["rid"] == f"{MARATHON_RID}:/team-b/web"
    assert denied.json()["action"] == "read"

    app = {"cmd": "sleep 1000", "cpus": 0.01, "mem": 32, "instances": 0}
    assert call(base + "/apps", "POST", {**app, "id": "/team-a/api"}, alice).status == 201
    r = call(base + "/apps", "POST", {**app, "id": "/team-b/api"}, alice)
    assert r.status == 403 and r.json()["action"] == "create", r.body
    assert call(base + "/apps/team-a/web", "PUT", {"cmd": "sleep 999"}, alice).status == 200
    r = call(base + "/apps/team-b/web", "PUT", {"cmd": "sleep 1"}, alice)
    assert r.status == 403 and r.json()["action"] == "update"
    r = call(base + "/apps/team-b/web", "DELETE", token=alice)
    assert r.status == 403 and r.json()["rid"] == f"{MARATHON_RID}:/team-b/web"
    r = call(base + "/groups/team-b", "DELETE", token=alice)
    assert r.status == 403 and r.json()["action"] == "delete"
    # Nothing of team b changed, nothing of ops is visible to either team.
    root_view = call(base + "/apps/team-b/web", token=world.root()).json()["app"]
    assert root_view["cmd"] == "sleep 1000"
    # Admin Router's own resources: alice has no Mesos, no Metronome.
    r = call(world.leader_url() + "/mesos/master/state", token=alice)
    assert r.status == 403 and r.json()["rid"] == "dcos:adminrouter:ops:mesos"
    assert call(world.leader_url() + "/metronome/v1/jobs", token=alice).status == 403


def test_each_team_sees_and_changes_only_its_group_through_the_cli(
    world: World, tmp_path: Path
) -> None:
    # bob logs in as a user does (his group grants him team-b)...
    env_pw = {"BOB_PASSWORD": BOB_PW}
    world.env.update(env_pw)
    r = world.cli("auth", "login", "--username", "bob", "--password-env", "BOB_PASSWORD")
    assert r.returncode == 0, r.stderr
    r = world.cli("marathon", "app", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert sorted(a["id"] for a in json.loads(r.stdout)) == ["/team-b/web"]
    spec = tmp_path / "app.json"
    spec.write_text(json.dumps({"id": "/team-b/cli", "cmd": "sleep 9", "mem": 32, "cpus": 0.01}))
    assert world.cli("marathon", "app", "add", str(spec)).returncode == 0
    r = world.cli("marathon", "app", "remove", "/team-a/web")
    assert r.returncode != 0
    assert "dcos:service:marathon:marathon:services:/team-a/web" in r.stderr, r.stderr
    # ... while a script sets PYDCOS_TOKEN (alice's), which wins over the stored login.
    r = world.cli("marathon", "app", "list", "--json", token=world.tokens["alice"])
    assert sorted(a["id"] for a in json.loads(r.stdout)) == ["/team-a/api", "/team-a/web"]
    # Back to the superuser for the other tests' CLI calls.
    password = (world.cluster.state_dir / "bootstrap-password").read_text().strip()
    world.env["ROOT_PASSWORD"] = password
    r = world.cli("auth", "login", "--username", "bootstrapuser", "--password-env", "ROOT_PASSWORD")
    assert r.returncode == 0, r.stderr


def test_a_service_account_logs_in_with_its_key_and_launches_a_job(world: World) -> None:
    private, public = generate_keypair()
    world.acs("PUT", "/users/ci", {"public_key": public, "description": "ci robot"})
    world.grant("users", "ci", "dcos:adminrouter:service:metronome")
    world.grant("users", "ci", "dcos:service:metronome:metronome:jobs:ci")
    base = world.leader_url()
    login = {"uid": "ci", "token": service_login_token(private, "ci", time.time())}
    r = call(base + "/acs/api/v1/auth/login", "POST", login)
    assert r.status == 200, r.body
    ci = str(r.json()["token"])
    job = {"id": "ci.hello", "run": {"cmd": "echo hello", "cpus": 0.01, "mem": 32, "disk": 0}}
    assert call(base + "/metronome/v1/jobs", "POST", job, ci).status == 201
    other = {**job, "id": "team-a.nightly"}
    r = call(base + "/metronome/v1/jobs", "POST", other, ci)
    assert r.status == 403 and r.json()["rid"].endswith("jobs:team-a/nightly"), r.body
    assert call(base + "/metronome/v1/jobs", "POST", other, world.root()).status == 201
    assert [j["id"] for j in call(base + "/metronome/v1/jobs", token=ci).json()] == ["ci.hello"]
    assert call(base + "/metronome/v1/jobs/ci.hello/runs", "POST", {}, ci).status == 201

    def succeeded() -> bool:
        doc = call(base + "/metronome/v1/jobs/ci.hello?embed=history", token=ci).json()
        return int(doc.get("history", {}).get("successCount", 0)) >= 1

    wait_for(succeeded, timeout=60, what="the service account's job run to succeed")
    r = call(base + "/metronome/v1/jobs/team-a.nightly/runs", "POST", {}, ci)
    assert r.status == 403


def test_mesos_roles_on_subscribe_and_the_sandbox_permission(world: World) -> None:
    """Mesos' own resources behind Admin Router's: a framework subscribing on the v1
    HTTP API needs create on its role; the files API needs dcos:mesos:agent:sandbox."""
    world.acs("PUT", "/users/fw", {"password": "fw-Pa55word-enforce"})
    world.grant("users", "fw", "dcos:adminrouter:ops:mesos")
    world.grant("users", "fw", "dcos:adminrouter:ops:slave")
    fw = world.login("fw", "fw-Pa55word-enforce")
    base = world.leader_url()
    info = {"user": "root", "name": "probe", "roles": ["analytics"]}
    subscribe = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    r = call(base + "/api/v1/scheduler", "POST", subscribe, fw)
    assert r.status == 403, r.body
    assert r.json()["rid"] == "dcos:mesos:master:framework:role:analytics"
    assert r.json()["action"] == "create"
    agent = call(base + "/mesos/master/slaves", token=fw).json()["slaves"][0]["id"]
    files = f"{base}/agent/{agent}/files/browse?path=/"
    r = call(files, token=fw)
    assert r.status == 403 and r.json()["rid"] == "dcos:mesos:agent:sandbox", r.body
    world.grant("users", "fw", "dcos:mesos:agent:sandbox", "read")

    def past_the_permission() -> bool:  # the files API itself answers now (any status)
        reply = call(files, token=fw)
        return reply.status != 403 or "rid" not in (reply.json() or {})

    wait_for(past_the_permission, timeout=20, what="the sandbox grant to apply")


def test_an_unmodified_marathon_client_with_a_token(world: World) -> None:
    marathon = pytest.importorskip("marathon", reason="the public Marathon client (dev extra)")
    client = marathon.MarathonClient(
        world.leader_url() + "/marathon", auth_token=world.tokens["alice"]
    )
    assert sorted(a.id for a in client.list_apps()) == ["/team-a/api", "/team-a/web"]
    anonymous = marathon.MarathonClient(world.leader_url() + "/marathon")
    with pytest.raises(marathon.exceptions.MarathonHttpError) as err:
        anonymous.list_apps()
    assert err.value.status_code == 401


def test_a_script_with_a_service_account_curve_key_acts_as_that_account(
    world: World, tmp_path: Path
) -> None:
    """The actor API: a script connects with its own CURVE keypair, registered on the
    service account ``robot``; what it asks the leading master is checked against
    robot's permissions (the HTTP twin's), an unregistered key cannot connect at all."""
    import shutil

    import zmq.auth

    from actors import protocol as p
    from runtime import AskTimeout, RemoteError
    from runtime import connect as connect_cluster

    keys = tmp_path / "robot-keys"
    keys.mkdir()
    public, _ = zmq.auth.create_certificates(keys, "client")
    shutil.copy(world.cluster.state_dir / "keys" / "cluster.key", keys / "cluster.key")
    curve = zmq.auth.load_certificate(public)[0].decode()
    _, rsa_public = generate_keypair()
    world.acs("PUT", "/users/robot", {"public_key": rsa_public, "curve_public_key": curve})
    url = f"zk://{world.cluster.zk}"
    creds = str(world.cluster.state_dir / "keys" / "zk.credentials")
    script = connect_cluster(url, keys=keys, zk_credentials=creds)
    try:
        master = script.actor(p.MASTER_ACTOR)
        with pytest.raises(RemoteError, match="'robot' may not full dcos:adminrouter:ops:mesos"):
            master.ask(p.GetState("frameworks"), timeout=10)
        teardown = p.Teardown("some-framework")
        with pytest.raises(RemoteError, match="dcos:adminrouter:ops:mesos"):
            master.ask(teardown, timeout=10)
        world.grant("users", "robot", "dcos:adminrouter:ops:mesos")
        doc = wait_for(
            lambda: master.ask(p.GetState("frameworks"), timeout=10),
            timeout=30,
            what="robot's new grant to reach the leader's IAM view",
        )
        assert {f["name"] for f in doc["frameworks"]} >= {"marathon"}
        # Any other actor (cluster actors, Marathon's) is an operator's: ops:actors.
        with pytest.raises(RemoteError, match="dcos:adminrouter:ops:actors"):
            script.actor("marathon").ask(p.GetState("frameworks"), timeout=10)
    finally:
        script.close()
    # The audit log names the refusals (served as the iam-audit component log).
    r = call(world.leader_url() + "/system/v1/logs/v2/component/iam-audit", token=world.root())
    assert r.status == 200 and b"robot" in r.body and b"ops:mesos" in r.body
    # A key no service account registered: ZAP refuses the connection itself.
    stranger = tmp_path / "stranger-keys"
    stranger.mkdir()
    zmq.auth.create_certificates(stranger, "client")
    shutil.copy(world.cluster.state_dir / "keys" / "cluster.key", stranger / "cluster.key")
    other = connect_cluster(url, keys=stranger, zk_credentials=creds)
    try:
        with pytest.raises(AskTimeout):
            other.actor(p.MASTER_ACTOR).ask(p.GetState("frameworks"), timeout=3)
    finally:
        other.close()
    # The same script launches tasks as robot once robot may register in role "*":
    # examples/run_tasks.py (a framework on the actor API), unchanged, with robot's keys.
    run = [sys.executable, str(REPO / "examples" / "run_tasks.py"), url, "--keys", str(keys)]
    run += ["--tasks", "2", "--timeout", "30"]
    refused = subprocess.run([*run[:-1], "5"], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0  # Subscribe dropped: no role grant yet
    world.grant("users", "robot", "dcos:mesos:master:framework:role:*", "create")
    done = subprocess.run(run, capture_output=True, text=True, timeout=90, env=world.env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "done: 2 finished, 0 failed" in done.stdout


def test_tokens_still_work_after_a_leader_sigkill(world: World) -> None:
    old = world.leader_url()
    pid = next(p["pid"] for p in world.masters() if p["http_url"] == old)
    os.kill(pid, signal.SIGKILL)

    def new_leader() -> str | None:
        url = world.leader_url()
        return url if url != old else None

    new = wait_for(new_leader, timeout=60, what="a new leader")
    alice = world.tokens["alice"]

    def serving() -> bool:
        return call(new + "/marathon/v2/apps", token=alice).status == 200

    wait_for(serving, timeout=60, what="Marathon on the new leader")
    assert _ids(call(new + "/marathon/v2/apps", token=alice).json()) == [
        "/team-a/api",
        "/team-a/web",
    ]
    assert call(new + "/marathon/v2/apps/team-b/web", token=alice).status == 403
    assert call(new + "/marathon/v2/apps", token=None).status == 401
    r = world.cli("marathon", "app", "list", "--json", token=world.tokens["bob"])
    assert r.returncode == 0, r.stderr
    assert sorted(a["id"] for a in json.loads(r.stdout)) == ["/team-b/cli", "/team-b/web"]
