"""Mesos' summary, roles, metrics and flags documents, rendered from the master core
(pure: no I/O, manual time). Field names are Mesos' (src/master/readonly_handler.cpp,
src/master/metrics.cpp)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actors import protocol as p
from actors.gateway import cluster_name, flag_value, master_flags
from actors.gateway._about import _git_head
from actors.master import MasterConfig, MasterCore, MasterOptions
from actors.master._state_json import master_metrics, roles_json, state_summary_json
from actors.master.allocator import Quota
from actors.task_states import TaskState
from tests.master.test_master_core import AGENT, AGENT2, Cluster, one
from transport import Security


def running_cluster(**config: Any) -> tuple[Cluster, str, str]:
    """One framework with one running task on the first of two agents."""
    c = Cluster(MasterCore("m1", MasterConfig(**config), now=1000.0))
    aid = c.add_agent(AGENT)
    c.add_agent(AGENT2, "cpus:2;mem:1024")
    fid = c.subscribe()
    offer = next(o for o in c.offers() if o.agent_id == aid)
    c.launch(offer, "t1", "cpus:1;mem:256")
    c.handle(p.StatusUpdate(fid, "t1", aid, "TASK_RUNNING", "u-1", c.now))
    return c, aid, fid


def test_state_summary_has_task_counts_and_cross_ids() -> None:
    c, aid, fid = running_cluster()
    doc = state_summary_json(c.core, hostname="m1", cluster="prod")
    assert list(doc) == ["hostname", "cluster", "slaves", "frameworks"]
    by_id = {s["id"]: s for s in doc["slaves"]}
    busy = by_id[aid]
    idle = next(s for s in doc["slaves"] if s["id"] != aid)
    assert busy["TASK_RUNNING"] == 1 and busy["framework_ids"] == [fid]
    assert idle["TASK_RUNNING"] == 0 and idle["framework_ids"] == []
    for key in (
        "TASK_STAGING",
        "TASK_STARTING",
        "TASK_KILLING",
        "TASK_FINISHED",
        "TASK_KILLED",
        "TASK_FAILED",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_UNREACHABLE",
    ):
        assert busy[key] == 0 and idle[key] == 0, key
    fw = one(doc["frameworks"])
    assert fw["id"] == fid and fw["slave_ids"] == [aid] and fw["TASK_RUNNING"] == 1
    assert fw["used_resources"]["cpus"] == 1.0 and fw["active"] is True


def test_state_summary_without_a_cluster_name_leaves_the_field_out() -> None:
    c, _, _ = running_cluster()
    assert "cluster" not in state_summary_json(c.core, hostname="m1", cluster=None)


def test_completed_tasks_count_in_the_summary() -> None:
    c, aid, fid = running_cluster()
    c.handle(p.StatusUpdate(fid, "t1", aid, "TASK_FAILED", "u-2", c.now))
    doc = state_summary_json(c.core, hostname="m1", cluster="prod")
    fw = one(doc["frameworks"])
    assert fw["TASK_RUNNING"] == 0 and fw["TASK_FAILED"] == 1
    assert fw["slave_ids"] == []  # no live task any more


def test_roles_list_configured_and_subscribed_roles() -> None:
    quota = Quota(guarantee={"cpus": 1.0}, limit={"cpus": 2.0})
    c, _, fid = running_cluster(weights={"ops": 2.5}, quotas={"ops": quota})
    doc = roles_json(c.core)
    names = [r["name"] for r in doc["roles"]]
    assert names == ["*", "ops"]
    star, ops = doc["roles"]
    assert star["frameworks"] == [fid] and star["weight"] == 1.0
    assert star["allocated"] == {"cpus": 1.0, "mem": 256.0}
    assert ops["weight"] == 2.5 and ops["frameworks"] == []
    assert ops["quota"] == {
        "role": "ops",
        "guarantee": {"cpus": 1.0},
        "limit": {"cpus": 2.0},
        "consumed": {},
    }


def test_metrics_gauges_follow_the_cluster() -> None:
    c, _, _ = running_cluster()
    m = master_metrics(c.core, elected=True, uptime_secs=12.5, ended={TaskState.KILLED: 2})
    assert m["master/elected"] == 1.0 and m["master/uptime_secs"] == 12.5
    assert m["master/slaves_active"] == 2 and m["master/slaves_unreachable"] == 0
    assert m["master/tasks_running"] == 1 and m["master/tasks_killed"] == 2
    assert m["master/cpus_total"] == 6 and m["master/cpus_used"] == 1
    assert m["master/mem_total"] == 5120 and m["master/mem_used"] == 256
    assert m["master/cpus_percent"] == 1 / 6
    assert m["master/gpus_total"] == 0 and m["master/gpus_percent"] == 0
    assert all(isinstance(v, float) for v in m.values())


def test_metrics_of_a_standby_are_zero_but_present() -> None:
    c, _, _ = running_cluster()
    leader = master_metrics(c.core, elected=True, uptime_secs=1.0)
    standby = master_metrics(None, elected=False, uptime_secs=1.0)
    assert set(standby) == set(leader)
    assert standby["master/elected"] == 0.0
    assert all(v == 0 for k, v in standby.items() if k != "master/uptime_secs")


def test_an_unreachable_agent_leaves_the_totals() -> None:
    c, _, _ = running_cluster(ping_interval=1.0, max_missed_pings=2)
    for _ in range(40):
        c.tick(0.5)  # nobody answers the pings
    m = master_metrics(c.core, elected=True, uptime_secs=1.0)
    assert m["master/slaves_unreachable"] == 2 and m["master/slaves_active"] == 0
    assert m["master/cpus_total"] == 0


def test_flags_are_the_options_as_mesos_strings() -> None:
    options = MasterOptions(
        zk="127.0.0.1:2181/prod",
        security=Security.plain(),
        hostname="m1",
        session_timeout=2.0,
        config=MasterConfig(ping_interval=0.25, max_missed_pings=4),
    )
    flags = master_flags(
        options,
        hostname="m1",
        http_host="127.0.0.1",
        http_port=5050,
        cluster="prod",
        log_dir="/var/log/pydcos",
    )
    assert all(isinstance(v, str) for v in flags.values())
    assert flags["zk"] == "zk://127.0.0.1:2181/prod" and flags["cluster"] == "prod"
    assert flags["hostname"] == "m1" and flags["ip"] == "127.0.0.1"
    assert flags["port"] == flags["http_port"] == "5050"
    assert flags["log_dir"] == "/var/log/pydcos"
    assert flags["ping_interval"] == "0.25" and flags["agent_ping_timeout"] == "0.25secs"
    assert flags["max_agent_ping_timeouts"] == "4"
    assert flags["zk_session_timeout"] == "2secs" and flags["services"] == ""
    assert "security" not in flags  # keys are never shown
    assert list(flags) == sorted(flags)


def test_flag_values_print_as_mesos_does() -> None:
    assert flag_value(True) == "true" and flag_value(None) == ""
    assert flag_value(5.0) == "5" and flag_value(0.05) == "0.05"
    assert flag_value({"b": 2, "a": 1.5}) == "a=1.5,b=2"


def test_cluster_is_named_after_the_zookeeper_chroot() -> None:
    assert cluster_name("127.0.0.1:2181/prod") == "prod"
    assert cluster_name("zk://a:2181,b:2181/dcos/east/") == "dcos-east"
    assert cluster_name("127.0.0.1:2181") == "pydcos"
    assert cluster_name("127.0.0.1:2181/") == "pydcos"


def test_git_head_is_read_from_refs_or_packed_refs(tmp_path: Path) -> None:
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    sha = "0123456789abcdef0123456789abcdef01234567"
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text(f"# pack-refs\n{sha} refs/heads/main\n")
    assert _git_head(git) == (sha, "main")
    (git / "refs" / "heads" / "main").write_text(sha.replace("0", "f") + "\n")
    assert _git_head(git) == (sha.replace("0", "f"), "main")
    (git / "HEAD").write_text(sha + "\n")  # detached
    assert _git_head(git) == (sha, None)
    assert _git_head(tmp_path / "nothing") == (None, None)
