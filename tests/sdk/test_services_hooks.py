"""The services' task hooks on real servers, without a cluster: what each task does in its
sandbox, run as the SDK runs it (same commands, same env variables), so a failure here
is the hook's, not the scheduler's.

- zookeeper: three members started one at a time form a quorum (kazoo); a member killed
  with SIGKILL restarts in place on its volume with its data; a member replaced on a
  fresh volume and new ports joins and the ensemble moves its line (``conf``).
- redis: a primary and two replicas from the config template; backup (the svc.yml's sh
  command: ``redis-cli --rdb``), FLUSHALL, restore: the keys are back on the primary and
  the replicas.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import chevron
import pytest
import yaml

from actors.sdk.services import service_dir
from actors.sdk.services.redis import logic as rl
from runtime.testing import wait_for
from zk import four_letter_word

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port free a moment ago (bound to 0 and read back)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


@dataclass
class Procs:
    """Every process group started here, killed at the end by PID (never by name)."""

    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(cwd / "stdout", "ab") as out:
            p = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**os.environ, "PYTHONPATH": str(REPO), **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.started.append(p)
        return p

    def kill9(self, p: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)

    def stop_all(self) -> None:
        for p in self.started:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for p in self.started:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9(p)


@pytest.fixture
def procs() -> Iterator[Procs]:
    ps = Procs()
    try:
        yield ps
    finally:
        ps.stop_all()


# ---------------------------------------------------------------------------- zookeeper

ZK_OPTIONS = {
    "TICK_TIME": "200",
    "INIT_LIMIT": "50",
    "SYNC_LIMIT": "10",
    "MAX_CLIENT_CONNECTIONS": "0",
    "MIN_SESSION_TIMEOUT": "400",
    "MAX_SESSION_TIMEOUT": "20000",
    "SNAP_COUNT": "10000",
}


@dataclass
class ZkMember:
    index: int
    sandbox: Path
    ports: dict[str, int]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def client(self) -> str:
        return f"127.0.0.1:{self.ports['CLIENT']}"


def sdk_env(members: list[ZkMember]) -> dict[str, str]:
    """What the SDK gives every zookeeper task: every instance's host and named ports."""
    env = {"SDK_ZOOKEEPER_COUNT": str(len(members))}
    for m in members:
        env[f"SDK_ZOOKEEPER_{m.index}_HOST"] = "127.0.0.1"
        for name, port in m.ports.items():
            env[f"SDK_ZOOKEEPER_{m.index}_PORT_{name}"] = str(port)
    return env


def task_env(m: ZkMember, members: list[ZkMember]) -> dict[str, str]:
    return {
        **sdk_env(members),
        **ZK_OPTIONS,
        "POD_INSTANCE_INDEX": str(m.index),
        "HOST": "127.0.0.1",
        "MESOS_SANDBOX": str(m.sandbox),
        "VOLUME_PATH": str(m.sandbox / "zookeeper-data"),
        "ZK_SUPER_PASSWORD": "test-secret",
        "ZK_HEAP_MB": "96",
        **{f"PORT_{k}": str(v) for k, v in m.ports.items()},
    }


def launch(procs: Procs, m: ZkMember, members: list[ZkMember]) -> None:
    """The task: the SDK renders zoo.cfg from the template, then runs the svc.yml cmd."""
    m.sandbox.mkdir(parents=True, exist_ok=True)
    env = task_env(m, members)
    template = (service_dir("zookeeper") / "zoo.cfg.mustache").read_text()
    (m.sandbox / "zoo.cfg").write_text(chevron.render(template, env))
    node = "actors.sdk.services.zookeeper.node"
    argv = [sys.executable, "-m", node, "start", "--volume", env["VOLUME_PATH"]]
    m.proc = procs.spawn([*argv, "--config", "zoo.cfg"], m.sandbox, env)


def is_ready(m: ZkMember, members: list[ZkMember]) -> bool:
    """The svc.yml readiness-check command, exit status 0."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **task_env(m, members)}
    argv = [sys.executable, "-m", "actors.sdk.services.zookeeper.node", "ready"]
    return subprocess.run(argv, env=env, capture_output=True, timeout=20).returncode == 0


def new_member(base: Path, index: int, tag: str = "") -> ZkMember:
    ports = {name: free_port() for name in ("CLIENT", "QUORUM", "ELECTION")}
    return ZkMember(index, base / f"zookeeper-{index}{tag}", ports)


def membership(m: ZkMember) -> str:
    host, port = m.client.split(":")
    return four_letter_word(host, int(port), "conf", 2.0).partition("membership:")[2]


def test_zookeeper_members_grow_an_ensemble_recover_in_place_and_move(
    procs: Procs, tmp_path: Path
) -> None:
    from kazoo.client import KazooClient

    members = [new_member(tmp_path, i) for i in range(3)]
    for m in members:  # one at a time, as the serial deploy plan: next only when ready
        launch(procs, m, members)
        wait_for(partial(is_ready, m, members), 90, f"zookeeper-{m.index} ready")
    modes = sorted(
        four_letter_word("127.0.0.1", m.ports["CLIENT"], "srvr").split("Mode: ")[1].split()[0]
        for m in members
    )
    assert modes == ["follower", "follower", "leader"]
    client = KazooClient(hosts=",".join(m.client for m in members))
    client.start(timeout=20)
    try:
        client.create("/kept", b"before the kill")

        # kill -9 member 1 (launcher and JVM): relaunched in place, same volume and ports
        victim = members[1]
        assert victim.proc is not None
        procs.kill9(victim.proc)
        launch(procs, victim, members)
        wait_for(lambda: is_ready(victim, members), 90, "zookeeper-1 back")
        alone = KazooClient(hosts=victim.client)
        alone.start(timeout=20)
        try:
            assert alone.get("/kept")[0] == b"before the kill"
        finally:
            alone.stop()
            alone.close()

        # replace member 2: a fresh volume on new ports; the ensemble moves its line
        old = members[2]
        assert old.proc is not None
        procs.kill9(old.proc)
        moved = new_member(tmp_path, 2, "-replaced")
        members[2] = moved
        launch(procs, moved, members)
        wait_for(lambda: is_ready(moved, members), 90, "replaced zookeeper-2 ready")
        conf = membership(members[0])
        assert f"127.0.0.1:{moved.ports['CLIENT']}" in conf
        assert f"127.0.0.1:{old.ports['CLIENT']}" not in conf
        client.set("/kept", b"after the move")
        fresh = KazooClient(hosts=moved.client)
        fresh.start(timeout=20)
        try:
            wait_for(lambda: fresh.get("/kept")[0] == b"after the move", 20, "synced")
        finally:
            fresh.stop()
            fresh.close()
    finally:
        client.stop()
        client.close()


# -------------------------------------------------------------------------------- redis


def redis_cli(port: int, *args: str) -> str:
    out = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.stdout.strip()


@pytest.fixture
def backup_root() -> Iterator[Path]:
    """Backups live outside /tmp (a task's /tmp is a private tmpfs; the hook refuses it)."""
    path = Path(tempfile.mkdtemp(prefix="pydcos-test-backups-", dir="/var/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_redis_backup_flushall_restore_brings_the_keys_back_everywhere(
    procs: Procs, tmp_path: Path, backup_root: Path
) -> None:
    ports = {"primary": free_port(), "replica-0": free_port(), "replica-1": free_port()}
    sdk = {
        "SDK_PRIMARY_0_HOST": "127.0.0.1",
        "SDK_PRIMARY_0_PORT_REDIS": str(ports["primary"]),
        "SDK_REPLICA_COUNT": "2",
        "FRAMEWORK_NAME": "redis",
    }
    for j in range(2):
        sdk[f"SDK_REPLICA_{j}_HOST"] = "127.0.0.1"
        sdk[f"SDK_REPLICA_{j}_PORT_REDIS"] = str(ports[f"replica-{j}"])
    template = (service_dir("redis") / "redis.conf.mustache").read_text()
    for name, port in ports.items():
        sandbox = tmp_path / name
        (sandbox / "redis-data").mkdir(parents=True)
        env = {
            **sdk,
            "HOST": "127.0.0.1",
            "PORT_REDIS": str(port),
            "VOLUME_PATH": str(sandbox / "redis-data"),
            "REDIS_APPENDONLY": "no",
            "REDIS_SAVE": "3600 1",
            "REDIS_MAXMEMORY_MB": "100",
            **({"REDIS_REPLICA": "yes"} if name.startswith("replica") else {}),
        }
        (sandbox / "redis.conf").write_text(chevron.render(template, env))
        procs.spawn(["redis-server", "redis.conf"], sandbox, env)

    def hook(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO), **sdk, "HOST": "127.0.0.1", **extra}
        env["MESOS_SANDBOX"] = str(tmp_path / "tools")
        argv = [sys.executable, "-m", "actors.sdk.services.redis.node", *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    def ready(role: str, server: str) -> bool:
        return hook("ready", role, PORT_REDIS=str(ports[server])).returncode == 0

    for role, server in (
        ("primary", "primary"),
        ("replica", "replica-0"),
        ("replica", "replica-1"),
    ):
        wait_for(partial(ready, role, server), 30, f"{server} ready")
    # The svc.yml's readiness checks (redis-cli + awk) follow the same rules.
    pods = yaml.safe_load(chevron.render((service_dir("redis") / "svc.yml").read_text(), {}))

    def check(pod: str, server: str) -> int:
        cmd = pods["pods"][pod]["tasks"]["server"]["readiness-check"]["cmd"]
        env = {**os.environ, **sdk, "HOST": "127.0.0.1", "PORT_REDIS": str(ports[server])}
        return subprocess.run(["/bin/sh", "-c", cmd], env=env, timeout=30).returncode

    assert [check("primary", s) for s in ("primary", "replica-0")] == [0, 1]
    assert [check("replica", s) for s in ("replica-0", "replica-1", "primary")] == [0, 0, 1]
    keys = [f"k{i}" for i in range(500)]
    for i in range(0, len(keys), 100):
        batch = [x for k in keys[i : i + 100] for x in (k, f"v-{k}")]
        assert redis_cli(ports["primary"], "MSET", *batch) == "OK"
    backups = backup_root / "redis"

    def backup(name: str, directory: str) -> subprocess.CompletedProcess[str]:
        """The svc.yml's backup task: its sh command with the SDK's env."""
        cmd = pods["pods"]["tools"]["tasks"]["backup"]["cmd"]
        env = {**os.environ, **sdk, "BACKUP_NAME": name, "BACKUP_DIR": directory}
        return subprocess.run(
            ["/bin/sh", "-c", cmd], env=env, capture_output=True, text=True, timeout=120
        )

    # Refused as logic.backup_name / backup_dir refuse them, with their messages.
    for name, directory in (("-x", str(backups)), ("a b", str(backups)), ("b1", "/tmp/b")):
        refused = backup(name, directory)
        with pytest.raises(rl.RedisServiceError) as why:
            rl.backup_dir({"BACKUP_DIR": directory}) and rl.backup_name({"BACKUP_NAME": name})
        assert refused.returncode == 1 and str(why.value) in refused.stderr, refused.stderr
    assert backup("b1", "relative").returncode == 1
    assert not backups.exists()
    done = backup("b1", str(backups) + "/")
    assert done.returncode == 0, done.stderr
    assert "500 keys" in done.stdout and (backups / "b1.rdb").is_file()
    record = json.loads((backups / "b1.json").read_text())
    assert record["keys"] == 500 and record["name"] == "b1"
    assert record["bytes"] == (backups / "b1.rdb").stat().st_size
    assert not list(backups.glob("*.partial"))

    assert redis_cli(ports["primary"], "FLUSHALL") == "OK"
    wait_for(lambda: redis_cli(ports["replica-1"], "DBSIZE") == "0", 10, "flush replicated")

    bad = hook("restore", BACKUP_NAME="nope", BACKUP_DIR=str(backups), PORT_RESTORE="1")
    assert bad.returncode == 1 and "no backup 'nope'" in bad.stderr and "b1" in bad.stderr
    done = hook("restore", BACKUP_NAME="b1", BACKUP_DIR=str(backups), PORT_RESTORE=str(free_port()))
    assert done.returncode == 0, done.stderr
    for port in ports.values():
        assert redis_cli(port, "DBSIZE") == "500"
        assert redis_cli(port, "GET", "k499") == "v-k499"
    assert redis_cli(ports["primary"], "ROLE").splitlines()[0] == "master"
    assert redis_cli(ports["primary"], "SET", "after", "1") == "OK"  # writable again
    assert (backups / "b1.rdb").stat().st_size > 0  # the backup itself untouched
