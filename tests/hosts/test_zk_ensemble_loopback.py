"""``cluster up --zk-ensemble 3`` without ``--hosts``: three real ZooKeeper servers on
loopback (free ports, read back from each server's banner), one killed and restarted by
``cluster zk stop|start``; ``--hosts`` falling back to loopback without root/netns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from console import _launcher
from console._launcher import Launcher, LauncherError, UpOptions
from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, pydcos, started_cluster


def _auth_off() -> list[str]:
    return ["--no-auth"] if "--no-auth" in pydcos("cluster", "up", "--help").stdout else []


@pytest.fixture(scope="module")
def ens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("ensemble")
    up = ["--zk-ensemble", "3", "--masters", "2", "--agents", "1", "--no-docker"]
    with started_cluster(state, *up, "--insecure-dev", *_auth_off(), check_left=True) as c:
        yield c


def status(c: LocalCluster) -> dict:  # type: ignore[type-arg]
    return dict(json.loads(c.cli("cluster", "status", "--json").stdout))


@pytest.mark.slow
def test_ensemble_on_loopback_survives_one_member(ens: LocalCluster) -> None:
    rec = ens.record()
    members = rec["zk_members"]
    assert [m["server_id"] for m in members] == [1, 2, 3]
    ports = {m["client_port"] for m in members}
    assert len(ports) == 3 and all(m["ip"] == "127.0.0.1" for m in members)
    assert rec["zk_hosts"] == ",".join(f"127.0.0.1:{m['client_port']}" for m in members)
    assert sorted(m["mode"] for m in status(ens)["zk_members"]) == [
        "follower",
        "follower",
        "leader",
    ]
    stop = ens.cli("cluster", "zk", "stop", "3")
    assert stop.returncode == 0, stop.stderr
    again = ens.cli("cluster", "zk", "stop", "3")
    assert again.returncode != 0 and "not running" in again.stderr
    try:
        assert status(ens)["zk_members"][2]["mode"] == "down"
        add = ens.cli(
            "marathon",
            "app",
            "add",
            "-",
            stdin=json.dumps(
                {"id": "/one-down", "cmd": "sleep 600", "cpus": 0.1, "mem": 32, "instances": 1}
            ),
        )
        assert add.returncode == 0, add.stderr

        def running() -> bool:
            tasks = json.loads(ens.cli("task", "list", "--json").stdout)
            rows = tasks if isinstance(tasks, list) else tasks.get("tasks", [])
            return any(
                "one-down" in json.dumps(t) and "TASK_RUNNING" in json.dumps(t) for t in rows
            )

        wait_for(running, 40, "the app's task running with a ZooKeeper member down")
    finally:
        start = ens.cli("cluster", "zk", "start", "3")
        assert start.returncode == 0, start.stderr
    wait_for(
        lambda: (
            sorted(m["mode"] for m in status(ens)["zk_members"])
            == ["follower", "follower", "leader"]
        ),
        30,
        "member 3 back in the quorum",
    )


@pytest.mark.slow
def test_partition_refuses_a_loopback_cluster(ens: LocalCluster) -> None:
    res = ens.cli("cluster", "partition", "agent-1")
    assert res.returncode != 0 and "runs on loopback" in res.stderr


def test_hosts_fall_back_to_loopback_without_netns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_launcher, "netns_unsupported", lambda: "--hosts needs root (test)")
    launcher = Launcher(tmp_path)
    assert launcher.plan_hosts(UpOptions(hosts=True, state_dir=tmp_path)) is None
    assert "falling back to loopback" in launcher.hosts_note
    assert launcher.plan_hosts(UpOptions(hosts=False, state_dir=tmp_path)) is None
    assert launcher.hosts_note == ""


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"zk_ensemble": 3, "zk": "127.0.0.1:2181"}, "not with --zk"),
        ({"zk_ensemble": 12}, "between 1 and 9"),
    ],
)
def test_bad_ensemble_options_are_refused(tmp_path: Path, opts: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(LauncherError, match=message):
        Launcher(tmp_path).check_prerequisites(UpOptions(state_dir=tmp_path, **opts))
