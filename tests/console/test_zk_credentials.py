"""The cluster's ZooKeeper credentials, from ``cluster up`` to every process (issue 30).

``cluster up`` writes ``<state-dir>/keys/zk.credentials`` (mode 0600) beside the CURVE
keys and hands it to every master and agent (``--zk-credentials``); the CLI and the
dashboard find it through the state dir. Another local user, without the file, can
reach ZooKeeper's port but neither read nor change the cluster's state, nor create
znodes anywhere on the development server; it can still see who leads.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from kazoo.exceptions import NoAuthError

from console._launcher import Launcher, LauncherError, UpOptions, credentials_path
from tests.console.conftest import LocalCluster, pydcos
from zk import (
    StateStore,
    ZkCredentials,
    close_quietly,
    connect,
    read_credentials,
    read_leader,
    write_credentials,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cluster_up_makes_the_credentials_once_with_mode_0600(tmp_path: Path) -> None:
    launcher = Launcher(tmp_path / "state")
    path, creds = launcher.ensure_zk_credentials(UpOptions(state_dir=launcher.state_dir))
    assert path == credentials_path(launcher.state_dir) == tmp_path / "state/keys/zk.credentials"
    assert _mode(path) == 0o600 and read_credentials(path) == creds
    again = launcher.ensure_zk_credentials(UpOptions(state_dir=launcher.state_dir))
    assert again == (path, creds)


def test_cluster_up_copies_given_credentials_into_the_state_dir(tmp_path: Path) -> None:
    given = write_credentials(tmp_path / "ensemble.credentials", ZkCredentials("ops", "pw1"))
    launcher = Launcher(tmp_path / "state")
    path, creds = launcher.ensure_zk_credentials(
        UpOptions(state_dir=launcher.state_dir, zk_credentials=given)
    )
    assert creds == ZkCredentials("ops", "pw1")
    assert read_credentials(path) == creds and _mode(path) == 0o600
    os.chmod(given, 0o644)
    with pytest.raises(LauncherError, match=r"mode 0644.*chmod 600"):
        launcher.ensure_zk_credentials(
            UpOptions(state_dir=launcher.state_dir, zk_credentials=given)
        )


def test_cluster_keys_writes_the_zookeeper_credentials_beside_the_curve_keys(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    out = pydcos("cluster", "keys", "--dir", str(keys))
    assert out.returncode == 0, out.stderr
    creds = keys / "zk.credentials"
    assert _mode(creds) == 0o600 and read_credentials(creds).user == "pydcos"
    assert f"--zk-credentials {creds}" in out.stdout
    creds.unlink()  # a key dir made before the file existed gets one on the next run
    out = pydcos("cluster", "keys", "--dir", str(keys))
    assert out.returncode == 0 and "already exist" in out.stdout
    assert _mode(creds) == 0o600


@pytest.mark.slow
@pytest.mark.zk
def test_a_local_cluster_is_closed_to_other_users_and_open_to_its_own_tools(
    local_cluster: LocalCluster,
) -> None:
    record = local_cluster.record()
    path = credentials_path(local_cluster.state_dir)
    assert _mode(path) == 0o600
    for proc in record["processes"]:
        if proc["kind"] in ("master", "agent"):
            i = proc["argv"].index("--zk-credentials")
            assert proc["argv"][i + 1] == str(path)
    hosts, chroot = record["zk_hosts"], record["chroot"]
    stranger = connect(hosts, chroot=None)
    ours = connect(hosts, chroot=chroot, credentials=read_credentials(path))
    try:
        with pytest.raises(NoAuthError):
            stranger.get_children(f"{chroot}/marathon/docs")
        with pytest.raises(NoAuthError):
            stranger.get(f"{chroot}/registry")
        with pytest.raises(NoAuthError):
            stranger.create("/squatter", b"x")
        assert StateStore(ours, "/marathon").list() != []
        # Who leads stays readable (Mesos' master group is too): clients find the leader.
        leader = read_leader(ours)
        assert leader is not None
        stranger_view = connect(hosts, chroot=chroot)
        try:
            assert read_leader(stranger_view) == leader
        finally:
            close_quietly(stranger_view)
    finally:
        close_quietly(stranger)
        close_quietly(ours)
    status = local_cluster.cli("cluster", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["leader"]["address"] == leader.address
    nodes = local_cluster.cli("node", "list", "--json")
    assert nodes.returncode == 0, nodes.stderr
