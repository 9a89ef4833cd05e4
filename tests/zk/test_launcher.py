"""The embedded ZooKeeper launcher: clean start/stop, restarts, clear install errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zk import ZkNotInstalled, ZooKeeperServer, connect, four_letter_word
from zk._server import find_classpath

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.zk


def alive(pid: int) -> bool:
    """True if the pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_context_manager_starts_a_serving_server_and_leaves_no_process() -> None:
    with ZooKeeperServer() as server:
        pid = server.pid
        assert pid is not None and alive(pid)
        assert four_letter_word(server.host, server.port, "ruok") == "imok"
        assert server.mode() == "standalone"
        data_dir = server.data_dir
        assert data_dir is not None and data_dir.exists()
    assert not alive(pid)
    assert not data_dir.exists()


def test_a_failing_block_still_stops_the_server() -> None:
    server = ZooKeeperServer()
    with pytest.raises(RuntimeError), server:
        pid = server.pid
        raise RuntimeError("test failure inside the block")
    assert pid is not None and not alive(pid)


def test_restart_keeps_the_data() -> None:
    with ZooKeeperServer() as server:
        c = connect(server.hosts, chroot="/keep")
        c.create("/x", b"1")
        c.stop()
        c.close()
        old_pid = server.pid
        server.kill()
        assert old_pid is not None and not alive(old_pid)
        server.start()
        c = connect(server.hosts, chroot="/keep")
        assert c.get("/x")[0] == b"1"
        c.stop()
        c.close()


def test_missing_java_is_named_with_the_install_command(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    with pytest.raises(ZkNotInstalled) as info:
        ZooKeeperServer(env=env).start()
    msg = str(info.value)
    assert "java not found on PATH" in msg
    assert "apt-get install zookeeper default-jre-headless" in msg


def test_missing_java_in_a_process_whose_path_lacks_java(tmp_path: Path) -> None:
    code = (
        "import zk\n"
        "try:\n"
        "    zk.ZooKeeperServer().start()\n"
        "except zk.ZkNotInstalled as e:\n"
        "    print('ERR', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "ZOOKEEPER_HOME")}
    env["PATH"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.startswith("ERR java not found on PATH"), out.stdout + out.stderr
    assert "apt-get install zookeeper default-jre-headless" in out.stdout


def test_missing_jars_are_named(tmp_path: Path) -> None:
    with pytest.raises(ZkNotInstalled, match="no zookeeper jar under ZOOKEEPER_HOME"):
        find_classpath(str(tmp_path))
