"""The CLI through its real entry point against a real local cluster (3 masters, 2 agents).

Shaped like the dcos CLI: rich tables for people, ``--json`` for scripts, one line and a
non-zero exit for anything that does not exist.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.testing import wait_for
from tests.console.conftest import REPO, LocalCluster, pid_alive, pydcos

pytestmark = [pytest.mark.slow, pytest.mark.zk]


def test_cluster_up_reports_endpoints_and_status_shows_one_leader(
    local_cluster: LocalCluster,
) -> None:
    assert "cluster up" in local_cluster.up.stdout
    assert "zk://127.0.0.1:" in local_cluster.up.stdout
    r = local_cluster.cli("cluster", "status", "--json")
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    roles = [p["role"] for p in status["processes"] if p["kind"] == "master"]
    assert sorted(roles) == ["leader", "standby", "standby"]
    assert all(p["up"] for p in status["processes"])
    assert all(pid_alive(p["pid"]) for p in status["processes"])


def test_cluster_up_twice_says_already_up(local_cluster: LocalCluster) -> None:
    before = local_cluster.pids()
    r = local_cluster.cli("cluster", "up", "--insecure-dev")
    assert r.returncode == 0
    assert "already up" in r.stdout
    assert local_cluster.pids() == before


def test_node_list_shows_both_agents(local_cluster: LocalCluster) -> None:
    r = local_cluster.cli("node", "list", "--json")
    assert r.returncode == 0, r.stderr
    nodes = json.loads(r.stdout)
    # Local agents register with a hostname that resolves (Marathon's task ``host``).
    assert [n["hostname"] for n in nodes] == ["127.0.0.1", "127.0.0.1"]
    assert all(socket.gethostbyname(n["hostname"]) == "127.0.0.1" for n in nodes)
    assert len({n["id"] for n in nodes}) == 2
    table = local_cluster.cli("node", "list")
    assert "127.0.0.1" in table.stdout and "HOSTNAME" in table.stdout


def test_actor_ask_the_leading_master(local_cluster: LocalCluster) -> None:
    r = local_cluster.cli("actor", "ask", "master", '{"@type": "GetState", "what": "metrics"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["agents"] == 2
    listed = local_cluster.cli("actor", "list", "--json")
    names = [a["name"] for a in json.loads(listed.stdout)]
    assert names.count("agent") == 2 and "master" in names


def test_actor_ask_unknown_name_is_one_line_and_fails(local_cluster: LocalCluster) -> None:
    r = local_cluster.cli("actor", "ask", "nobody-here", "1")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("pydcos: no actor named 'nobody-here'")


def test_task_list_and_log_of_a_finished_task(local_cluster: LocalCluster) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYDCOS_ZK=local_cluster.zk)
    run = subprocess.run(
        [sys.executable, "examples/run_tasks.py", "--insecure-dev", "--tasks", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    tasks = json.loads(local_cluster.cli("task", "list", "--completed", "--json").stdout)
    assert {"task-0", "task-1"} <= {t["id"] for t in tasks}
    log = local_cluster.cli("task", "log", "task-1")
    assert log.returncode == 0, log.stderr
    assert "hello from task-1" in log.stdout


def test_task_log_of_unknown_task_is_one_line(local_cluster: LocalCluster) -> None:
    r = local_cluster.cli("task", "log", "no-such-task")
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "pydcos: no task with id 'no-such-task' (see 'pydcos task list --completed')"
    )


def test_cluster_logs_of_a_component(local_cluster: LocalCluster) -> None:
    r = local_cluster.cli("cluster", "logs", "master-1", "--lines", "200")
    assert r.returncode == 0 and "master tcp://" in r.stdout
    bad = local_cluster.cli("cluster", "logs", "master-9")
    assert bad.returncode == 1 and "no component 'master-9'" in bad.stderr


def test_unknown_command_and_flag_get_usage(local_cluster: LocalCluster) -> None:
    r = pydcos("node", "lst")
    assert r.returncode == 2 and r.stderr.startswith("usage: pydcos node")
    r = local_cluster.cli("node", "list", "--bogus")
    assert r.returncode == 2 and "usage:" in r.stderr and "--bogus" in r.stderr


def test_no_cluster_says_how_to_start_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYDCOS_ZK"}
    env["PYDCOS_HOME"] = str(tmp_path)
    r = pydcos("node", "list", env=env)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "pydcos cluster up" in lines[0]


def test_agent_gc_flags_are_validated_in_one_line(tmp_path: Path) -> None:
    for flag, value in (("--gc-delay", "-5"), ("--gc-delay", "nan"), ("--gc-disk-headroom", "2")):
        r = pydcos(
            "agent", "--zk", "127.0.0.1:1", "--insecure-dev", "--work-dir", str(tmp_path),
            flag, value,
        )  # fmt: skip
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1, r.stderr
        assert flag in lines[0] and value in lines[0]


def test_cluster_up_without_java_is_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, PATH="/nonexistent")
    r = pydcos(
        "cluster", "up", "--insecure-dev", "--no-auth", "--state-dir", str(tmp_path / "s"), env=env
    )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "java" in lines[0].lower(), r.stderr
    assert not (tmp_path / "s" / "cluster.json").exists()


def test_live_feed_reports_the_leader_and_nodes(local_cluster: LocalCluster) -> None:
    """The dashboard's real data source: leader from ZooKeeper, then one resync."""
    import threading

    from console import _model as m
    from console._client import resolve_target
    from console._feed import LiveSource

    got: list[object] = []
    seen = threading.Event()

    def emit(ev: object) -> None:
        got.append(ev)
        if isinstance(ev, m.Nodes) and len(ev.slaves) == 2:
            seen.set()

    source = LiveSource(resolve_target(state_dir=local_cluster.state_dir))
    source.start(emit)
    try:
        assert seen.wait(15), got
    finally:
        source.stop()
    leaders = [e for e in got if isinstance(e, m.LeaderChanged)]
    assert leaders and leaders[0].address and leaders[0].http_url


# -- Marathon and Metronome (leader services on every master) ----------------------------


def test_app_add_list_scale_remove(local_cluster: LocalCluster, tmp_path: Path) -> None:
    app = {"id": "/sleepy", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1}
    f = tmp_path / "app.json"
    f.write_text(json.dumps(app))
    r = local_cluster.cli("marathon", "app", "add", str(f))
    assert r.returncode == 0, r.stderr
    assert "created app /sleepy" in r.stdout

    def running() -> int:
        apps = json.loads(local_cluster.cli("marathon", "app", "list", "--json").stdout)
        return next(a for a in apps if a["id"] == "/sleepy").get("tasksRunning", 0)

    _wait(lambda: running() == 1, "1 running instance")
    r = local_cluster.cli("marathon", "app", "update", "/sleepy", "instances=2", "--force")
    assert r.returncode == 0, r.stderr
    _wait(lambda: running() == 2, "2 running instances")
    tasks = json.loads(local_cluster.cli("marathon", "task", "list", "/sleepy", "--json").stdout)
    assert len(tasks) == 2
    r = local_cluster.cli("marathon", "app", "remove", "/sleepy", "--force")
    assert r.returncode == 0, r.stderr
    _wait(
        lambda: all(
            a["id"] != "/sleepy"
            for a in json.loads(local_cluster.cli("marathon", "app", "list", "--json").stdout)
        ),
        "the app gone",
    )
    missing = local_cluster.cli("marathon", "app", "show", "/sleepy")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_app_show_explains_why_instances_wait(local_cluster: LocalCluster, tmp_path: Path) -> None:
    """An app no agent can take (a zone no agent is in) says why it waits: per agent,
    the offer Marathon could not use and the master's last allocation for Marathon."""
    app = {
        "id": "/nowhere",
        "cmd": "sleep 1000",
        "cpus": 0.1,
        "mem": 32,
        "instances": 1,
        "constraints": [["zone", "LIKE", "nowhere"]],
    }
    f = tmp_path / "nowhere.json"
    f.write_text(json.dumps(app))
    assert local_cluster.cli("marathon", "app", "add", str(f)).returncode == 0
    agents = {a["id"] for a in json.loads(local_cluster.cli("node", "list", "--json").stdout)}
    assert len(agents) == 2

    def explained() -> dict[str, Any] | None:
        r = local_cluster.cli("marathon", "app", "show", "/nowhere", "--json")
        waiting = json.loads(r.stdout)["waiting"]
        seen = {a["agentId"] for a in waiting["agents"] if a["marathon"]} if waiting else set()
        return waiting if seen == agents else None

    try:
        waiting = _wait(explained, "both agents' offers declined for the constraint")
        assert waiting["count"] == 1 and waiting["appId"] == "/nowhere"
        assert waiting["allocationError"] is None and waiting["frameworkId"]
        for row in waiting["agents"]:
            assert "constraint zone:LIKE:nowhere" in row["marathon"], row
            assert isinstance(row["master"], list), row  # the master's side was asked
            assert row["free"] is not None, row  # as the master's last cycle saw the agent
        assert any(d["reason"] == "UnfulfilledConstraint" for d in waiting["declined"])
        assert "no offer matches" in waiting["reason"]

        human = local_cluster.cli("marathon", "app", "show", "/nowhere")
        assert human.returncode == 0, human.stderr
        assert "waiting: 1 instance(s) of /nowhere to launch" in human.stdout
        assert "UnfulfilledConstraint x" in human.stdout
        assert "FREE" in human.stdout and "MASTER (LAST ALLOCATION)" in human.stdout
        for agent_id in agents:
            assert agent_id in human.stdout
    finally:
        local_cluster.cli("marathon", "app", "remove", "/nowhere", "--force")


def test_app_show_of_a_placed_app_has_no_waiting(local_cluster: LocalCluster) -> None:
    r = local_cluster.cli(
        "marathon",
        "app",
        "add",
        "-",
        stdin='{"id": "/placed", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1}',
    )
    assert r.returncode == 0, r.stderr
    try:

        def running() -> dict[str, Any] | None:
            r = local_cluster.cli("marathon", "app", "show", "/placed", "--json")
            doc = json.loads(r.stdout)
            return doc if doc.get("tasksRunning") == 1 else None

        doc = _wait(running, "the app running")
        assert doc["id"] == "/placed" and doc["waiting"] is None
        human = local_cluster.cli("marathon", "app", "show", "/placed")
        assert "waiting:" not in human.stdout
    finally:
        local_cluster.cli("marathon", "app", "remove", "/placed", "--force")


def test_invalid_app_gets_the_api_validation_message(local_cluster: LocalCluster) -> None:
    r = local_cluster.cli(
        "marathon", "app", "add", "-", stdin='{"id": "/x", "cmd": "true", "instances": -1}'
    )
    assert r.returncode == 1
    assert "/instances" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_job_run_and_history(local_cluster: LocalCluster, tmp_path: Path) -> None:
    job = {"id": "hello", "run": {"cmd": "echo hi", "cpus": 0.1, "mem": 32, "disk": 0}}
    f = tmp_path / "job.json"
    f.write_text(json.dumps(job))
    assert local_cluster.cli("job", "add", str(f)).returncode == 0
    r = local_cluster.cli("job", "run", "hello")
    assert r.returncode == 0 and "started run" in r.stdout

    def succeeded() -> bool:
        h = json.loads(local_cluster.cli("job", "history", "hello", "--json").stdout)
        return h["history"].get("successCount", 0) >= 1

    _wait(succeeded, "a successful run")
    table = local_cluster.cli("job", "history", "hello")
    assert "SUCCESS" in table.stdout
    missing = local_cluster.cli("job", "show", "nope")
    assert missing.returncode == 1 and "no job with id 'nope'" in missing.stderr
    assert local_cluster.cli("job", "remove", "hello").returncode == 0


def _wait(cond: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """``runtime.testing.wait_for`` at the pace of a CLI run per poll."""
    return wait_for(cond, timeout=timeout, what=what, interval=0.3)
