"""The zookeeper and redis services without a cluster: their Universe packages render to a
scheduler app whose env makes a valid svc.yml, their config templates render, and the
pure decisions of their tasks (ensemble membership, readiness, backup names, INFO)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import chevron
import pytest

from actors.packages import BUNDLED_UNIVERSE, Catalog, build_app, parse_repository, resolve_options
from actors.sdk import SpecError, load_spec
from actors.sdk.services import service_dir
from actors.sdk.services.redis import logic as rl
from actors.sdk.services.redis.feed import parse_command, parse_reply, reply_to
from actors.sdk.services.zookeeper import ensemble as ze
from actors.sdk.services.zookeeper.node import static_config, super_digest

CLUSTER = {
    "python": "/opt/py/bin/python",
    "root": "/opt/pydcos",
    "zk": "zk://127.0.0.1:2181/pydcos",
    "keys_uri": "",
    "insecure": True,
    "user": "svc",
}


def app_for(name: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
    catalog = Catalog(
        [parse_repository(json.loads(BUNDLED_UNIVERSE.read_text()), BUNDLED_UNIVERSE.as_uri())]
    )
    pkg = catalog.select(name)
    options = resolve_options(name, pkg.config, user or {})
    return build_app(pkg, options, user or {}, cluster=CLUSTER)


# ------------------------------------------------------------------ packages -> svc.yml


@pytest.mark.parametrize("name", ["zookeeper", "redis"])
def test_the_package_starts_the_sdk_scheduler_on_the_services_svc_yml(name: str) -> None:
    app = app_for(name)
    assert app["id"] == f"/{name}"
    assert app["cmd"].startswith("exec /opt/py/bin/python -m actors.sdk.scheduler --spec ")
    assert f"/opt/pydcos/actors/sdk/services/{name}/svc.yml" in app["cmd"]
    assert "--insecure-dev" in app["cmd"] and app["fetch"] == []
    assert app["labels"]["DCOS_PACKAGE_FRAMEWORK_NAME"] == name
    spec = load_spec((service_dir(name) / "svc.yml").read_text(), app["env"])
    assert spec.name == name
    assert set(spec.plans) >= {"deploy", "update"}


def test_zookeeper_defaults_to_three_members_one_per_agent_on_volumes() -> None:
    app = app_for("zookeeper")
    spec = load_spec((service_dir("zookeeper") / "svc.yml").read_text(), app["env"])
    pod = spec.pods["zookeeper"]
    assert pod.count == 3 and pod.quorum == 2
    assert pod.placement == (("@agentid", "UNIQUE"),)
    assert [v.path for v in pod.volumes] == ["zookeeper-data"]
    steps = [s.name for p in spec.plans["deploy"].phases for s in p.steps]
    assert steps == ["zookeeper-0:[server]", "zookeeper-1:[server]", "zookeeper-2:[server]"]
    assert spec.plans["deploy"].strategy == "serial"


def test_zookeeper_options_reach_the_spec_hostname_placement_and_counts() -> None:
    app = app_for("zookeeper", {"node": {"unique_by": "hostname", "count": 5}})
    spec = load_spec((service_dir("zookeeper") / "svc.yml").read_text(), app["env"])
    assert spec.pods["zookeeper"].placement == (("hostname", "UNIQUE"),)
    assert spec.pods["zookeeper"].count == 5


def test_redis_has_a_primary_replicas_and_backup_restore_plans_on_a_tools_pod() -> None:
    app = app_for("redis", {"backup": {"dir": "/var/backups/r"}})
    assert app["env"]["BACKUP_DIR"] == "/var/backups/r"
    spec = load_spec((service_dir("redis") / "svc.yml").read_text(), app["env"])
    assert spec.pods["primary"].count == 1 and spec.pods["replica"].count == 2
    assert [p.pod for p in spec.plans["deploy"].phases] == ["primary", "replica"]
    assert spec.plans["backup"].phases[0].pod == "tools"
    assert spec.plans["restore"].phases[0].steps[0].tasks == ("restore",)
    assert {t.goal for t in spec.pods["tools"].tasks.values()} == {"FINISH"}


def test_a_bad_service_name_or_placement_field_is_refused_by_the_package_schema() -> None:
    from actors.packages import JsonSchemaMismatch

    with pytest.raises(JsonSchemaMismatch):
        app_for("zookeeper", {"node": {"unique_by": 'x"]]'}})
    with pytest.raises(JsonSchemaMismatch):
        app_for("redis", {"service": {"name": "Bad_Name"}})
    with pytest.raises(JsonSchemaMismatch):
        app_for("zookeeper", {"node": {"count": 2}})  # an even ensemble: refused


def test_a_spec_rendered_without_the_options_is_refused_naming_the_path() -> None:
    with pytest.raises(SpecError) as e:
        load_spec((service_dir("zookeeper") / "svc.yml").read_text(), {})
    assert e.value.path


# ----------------------------------------------------------------------- config templates


def test_zoo_cfg_template_renders_the_options_and_the_hook_owns_membership() -> None:
    env = {
        "TICK_TIME": "2000",
        "INIT_LIMIT": "10",
        "SYNC_LIMIT": "5",
        "MAX_CLIENT_CONNECTIONS": "60",
        "MIN_SESSION_TIMEOUT": "4000",
        "MAX_SESSION_TIMEOUT": "40000",
        "SNAP_COUNT": "100000",
    }
    text = chevron.render((service_dir("zookeeper") / "zoo.cfg.mustache").read_text(), env)
    assert "tickTime=2000\n" in text and "maxClientCnxns=60\n" in text
    cfg = static_config(
        text + "dataDir=/elsewhere\nserver.9=x:1:2\n", Path("/v/data"), Path("/v/zoo.cfg.dynamic.1")
    )
    lines = cfg.splitlines()
    assert "dataDir=/v/data" in lines and "dataDir=/elsewhere" not in lines
    assert "dynamicConfigFile=/v/zoo.cfg.dynamic.1" in lines
    assert "standaloneEnabled=false" in lines and "reconfigEnabled=true" in lines
    assert not [ln for ln in lines if ln.startswith("server.")]
    assert any(ln.startswith("4lw.commands.whitelist=") and "srvr" in ln for ln in lines)


def test_redis_conf_template_makes_replicas_replicate_primary_0() -> None:
    env = {
        "HOST": "10.0.0.2",
        "PORT_REDIS": "31001",
        "VOLUME_PATH": "/sandbox/redis-data",
        "REDIS_APPENDONLY": "no",
        "REDIS_SAVE": "3600 1",
        "REDIS_MAXMEMORY_MB": "200",
        "SDK_PRIMARY_0_HOST": "10.0.0.1",
        "SDK_PRIMARY_0_PORT_REDIS": "31000",
    }
    template = (service_dir("redis") / "redis.conf.mustache").read_text()
    primary = chevron.render(template, env)
    assert "port 31001\n" in primary and "dir /sandbox/redis-data\n" in primary
    assert "save 3600 1\n" in primary and "replicaof" not in primary
    replica = chevron.render(template, {**env, "REDIS_REPLICA": "yes"})
    assert "replicaof 10.0.0.1 31000\n" in replica
    assert 'save ""\n' in chevron.render(template, {**env, "REDIS_SAVE": ""})


# ------------------------------------------------------------------ zookeeper membership

ME = ze.Member(2, "127.0.0.1", 4002, 5002, 3002)
M1 = "127.0.0.1:4001:5001:participant;127.0.0.1:3001"
M3 = "127.0.0.1:4003:5003:participant;127.0.0.1:3003"


@pytest.mark.parametrize(
    ("stored", "peer", "members", "version", "join"),
    [
        # nothing anywhere: member founds a one-member ensemble
        (None, None, {2: ME.line()}, ze.BOOTSTRAP_VERSION, False),
        # back in place, the ensemble lists me: its membership and version, no reconfig
        ({2: ME.line()}, {1: M1, 2: ME.line(), 3: M3}, {1: M1, 2: ME.line(), 3: M3}, 0x10, False),
        # a new member: join below every version, then reconfig
        (None, {1: M1}, {1: M1, 2: ME.line()}, ze.JOIN_VERSION, True),
        # replaced on new ports: the ensemble has my old line, I join with the new one
        (None, {1: M1, 2: "127.0.0.1:1:2:participant;127.0.0.1:3", 3: M3},
         {1: M1, 2: ME.line(), 3: M3}, ze.JOIN_VERSION, True),
        # everyone down, my volume knows the ensemble: restart from it
        ({1: M1, 2: ME.line(), 3: M3}, None, {1: M1, 2: ME.line(), 3: M3}, 0x7, False),
    ],
)  # fmt: skip
def test_how_a_member_starts(
    stored: dict[int, str] | None,
    peer: dict[int, str] | None,
    members: dict[int, str],
    version: int,
    join: bool,
) -> None:
    plan = ze.plan_start(ME, stored, 0x7 if stored else None, peer, 0x10 if peer else None)
    assert (plan.members, plan.version, plan.join) == (members, version, join)
    assert plan.file_name == f"zoo.cfg.dynamic.{version:x}"


def test_membership_and_versions_parse_as_zookeeper_writes_them() -> None:
    conf = (
        "clientPort=3002\nmembership: \nserver.1="
        + M1
        + "\nserver.2="
        + ME.line()
        + ("\nversion=100000003\n")
    )
    assert ze.membership_of_conf(conf) == {1: M1, 2: ME.line()}
    assert ze.parse_version(conf.partition("membership:")[2]) == 0x100000003
    names = ["zoo.cfg", "zoo.cfg.dynamic.1", "zoo.cfg.dynamic.100000003", "zoo.cfg.dynamic.x"]
    assert ze.latest_dynamic(names) == "zoo.cfg.dynamic.100000003"
    assert ze.latest_dynamic(["zoo.cfg"]) is None
    assert ze.voters({1: M1, 4: "h:1:2:observer;h:3"}) == {1}


def test_ready_means_serving_as_a_voter_at_my_own_address() -> None:
    conf = f"membership: \nserver.1={M1}\nserver.2={ME.line()}\nversion=1\n"
    assert ze.ready(ME, "Mode: follower\n", conf)[0]
    assert not ze.ready(ME, "Mode: observer\n", conf)[0]
    assert not ze.ready(ME, "", conf)[0]  # not answering
    old = "membership: \nserver.2=127.0.0.1:1:2:participant;127.0.0.1:3\n"
    ok, why = ze.ready(ME, "Mode: leader\n", old)
    assert not ok and "server.2" in why


def test_member_identity_and_peers_come_from_the_sdk_env() -> None:
    env = {
        "POD_INSTANCE_INDEX": "1",
        "HOST": "127.0.0.1",
        "PORT_CLIENT": "3002",
        "PORT_QUORUM": "4002",
        "PORT_ELECTION": "5002",
        "SDK_ZOOKEEPER_COUNT": "3",
        "SDK_ZOOKEEPER_0_HOST": "127.0.0.1",
        "SDK_ZOOKEEPER_0_PORT_CLIENT": "3001",
        "SDK_ZOOKEEPER_1_HOST": "127.0.0.1",
        "SDK_ZOOKEEPER_1_PORT_CLIENT": "3002",
        "SDK_ZOOKEEPER_2_HOST": "127.0.0.1",
        "SDK_ZOOKEEPER_2_PORT_CLIENT": "3003",
    }
    me = ze.member_from_env(env)
    assert me == ME
    assert ze.peers_from_env(env, me) == [("127.0.0.1", 3001), ("127.0.0.1", 3003)]
    assert ze.peers_from_env({**env, "ZK_PEERS": "h:9"}, me) == [("h", 9)]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"POD_INSTANCE_INDEX": "x"}, "POD_INSTANCE_INDEX"),
        ({"PORT_QUORUM": ""}, "PORT_QUORUM"),
        ({"PORT_CLIENT": "70000"}, "PORT_CLIENT"),
        ({"ZK_PEERS": "nohostport"}, "host:port"),
    ],
)
def test_a_bad_task_env_is_refused_naming_the_variable(change: dict[str, str], named: str) -> None:
    env = {"POD_INSTANCE_INDEX": "0", "PORT_CLIENT": "1", "PORT_QUORUM": "2", "PORT_ELECTION": "3"}
    env.update(change)
    with pytest.raises(ze.EnsembleError, match=named):
        me = ze.member_from_env(env)
        ze.peers_from_env(env, me)


def test_super_digest_is_zookeepers_digest_scheme() -> None:
    # what ZooKeeper prints: java ...DigestAuthenticationProvider super:secret
    assert super_digest("secret") == "super:lK75jTNcA+U9vtVEw5vB51mj/w4="


# ------------------------------------------------------------------------------ redis


@pytest.mark.parametrize("bad", ["", "../x", "a b", "-lead", "x" * 101, "a/b"])
def test_a_bad_backup_name_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(rl.RedisServiceError, match="BACKUP_NAME"):
        rl.backup_name({"BACKUP_NAME": bad})


def test_backups_go_outside_the_tasks_private_tmp() -> None:
    assert rl.backup_dir({"FRAMEWORK_NAME": "cache"}) == "/var/tmp/pydcos-backups/cache"
    assert rl.backup_dir({"BACKUP_DIR": "/srv/b/"}) == "/srv/b"
    with pytest.raises(rl.RedisServiceError, match="private tmpfs"):
        rl.backup_dir({"BACKUP_DIR": "/tmp/b"})
    with pytest.raises(rl.RedisServiceError, match="absolute"):
        rl.backup_dir({"BACKUP_DIR": "rel"})


INFO_REPLICA = """# Replication\r
role:slave\r
master_host:10.0.0.1\r
master_port:31000\r
master_link_status:up\r
master_sync_in_progress:0\r
"""


def test_replica_readiness_follows_the_link_to_its_primary() -> None:
    info = rl.parse_info(INFO_REPLICA)
    primary = rl.Address("10.0.0.1", 31000)
    assert rl.replica_synced(info, primary)[0]
    assert not rl.replica_synced(info, rl.Address("10.0.0.9", 31000))[0]
    assert not rl.replica_synced({**info, "master_link_status": "down"}, primary)[0]
    assert not rl.replica_synced({**info, "master_sync_in_progress": "1"}, primary)[0]
    assert not rl.replica_synced({"role": "master"}, primary)[0]
    assert rl.primary_ready({"role": "master", "loading": "0"})[0]
    assert not rl.primary_ready({"role": "master", "loading": "1"})[0]


def test_keys_count_every_database_of_info_keyspace() -> None:
    info = rl.parse_info("# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb2:keys=4,expires=1\r\n")
    assert rl.keys_of(info) == 7
    assert rl.keys_of({}) == 0


def test_sdk_addresses_name_the_missing_variable() -> None:
    env = {"SDK_PRIMARY_0_HOST": "h", "SDK_PRIMARY_0_PORT_REDIS": "1", "SDK_REPLICA_COUNT": "2"}
    assert rl.sdk_address(env, "primary", 0, "redis") == rl.Address("h", 1)
    assert rl.sdk_count(env, "replica") == 2
    with pytest.raises(rl.RedisServiceError, match="SDK_REPLICA_0_HOST"):
        rl.sdk_address(env, "replica", 0, "redis")


def test_the_snapshot_feed_parses_a_replicas_handshake() -> None:
    stream = b"*1\r\n$4\r\nPING\r\n*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n6380"
    words, rest = parse_command(stream)
    assert words == [b"PING"]
    assert parse_command(rest) == (None, rest)  # incomplete: wait for more bytes
    words, rest = parse_command(rest + b"\r\n" + b"PSYNC ? -1\r\n")
    assert words == [b"REPLCONF", b"listening-port", b"6380"]
    assert parse_command(rest) == ([b"PSYNC", b"?", b"-1"], b"")
    with pytest.raises(rl.RedisServiceError, match="RESP"):
        parse_command(b"*x\r\n")


def test_the_snapshot_feed_answers_as_a_master_and_sends_the_file_on_psync() -> None:
    assert reply_to([b"PING"], "r" * 40, 0) == (b"+PONG\r\n", False)
    assert reply_to([b"replconf", b"capa", b"eof"], "r" * 40, 0) == (b"+OK\r\n", False)
    assert reply_to([b"PSYNC", b"?", b"-1"], "r" * 40, 0) == (
        b"+FULLRESYNC " + b"r" * 40 + b" 0\r\n",
        True,
    )
    answer, snapshot = reply_to([b"SET", b"k", b"v"], "r" * 40, 0)
    assert answer.startswith(b"-ERR") and not snapshot


def test_the_restore_reads_each_kind_of_redis_reply_and_waits_for_a_whole_one() -> None:
    assert parse_reply(b"+OK\r\n:42\r\n") == ("OK", b":42\r\n")
    assert parse_reply(b":42\r\n") == (42, b"")
    assert parse_reply(b"$5\r\nrole:\r\nrest") == ("role:", b"rest")
    assert parse_reply(b"$-1\r\n") == (None, b"")
    assert parse_reply(b"*2\r\n$1\r\na\r\n:1\r\n") == (["a", 1], b"")
    for partial in (b"", b"+OK", b"$5\r\nrol", b"*2\r\n$1\r\na\r\n"):
        assert parse_reply(partial) is None  # incomplete: read more bytes
    got = parse_reply(b"-LOADING Redis is loading the dataset in memory\r\n")
    assert got is not None and isinstance(got[0], rl.RedisServiceError)
    assert "LOADING" in str(got[0])
    with pytest.raises(rl.RedisServiceError, match="RESP"):
        parse_reply(b"?what\r\n")
