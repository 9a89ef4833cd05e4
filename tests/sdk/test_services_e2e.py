"""The bundled SDK services on a real ``pydcos cluster up`` (3 agents, native tasks):

- ``pydcos package install zookeeper``: three members, one per agent, deployed one at a
  time, form one quorum (four-letter words, kazoo writes); a member's task killed with
  SIGKILL comes back in place on its volume with the ensemble's data; a config change
  (the scheduler app's env, as Cosmos' service update does) rolls one member at a time
  while a kazoo client keeps writing and no two members are ever down together; a
  forced ``pod replace`` gives a member a fresh volume, and it rejoins with the data.
- ``pydcos package install redis``: keys written to the primary reach the replicas;
  ``backup`` plan, FLUSHALL, a SIGKILL of the leading master, ``restore`` plan through
  the next leader: the keys are back on all three; a healthy replica's ``pod replace``
  is refused without force, and forced, the new replica syncs every key.

Clients: kazoo and ZooKeeper's 4lw on the members' ports, redis-cli, plain HTTP on the
master's ``/service/<name>/v1`` API (dcos-commons' paths).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, get, http_json, leader, started_cluster
from zk import four_letter_word

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("sdk-services")
    with started_cluster(state, "--no-docker", "--agents", "3") as c:
        yield c


@pytest.fixture(scope="module")
def base(cluster: LocalCluster) -> str:
    return str(leader(cluster)["http_url"]).rstrip("/")


def plan(base: str, service: str, name: str) -> dict[str, Any]:
    status, body = get(f"{base}/service/{service}/v1/plans/{name}")
    assert status in (200, 202), (status, body[:300])
    return dict(json.loads(body))


def plan_complete(base: str, service: str, name: str) -> bool:
    return plan(base, service, name).get("status") == "COMPLETE"


def endpoints(base: str, service: str, name: str) -> list[str]:
    status, body = get(f"{base}/service/{service}/v1/endpoints/{name}")
    return [str(a) for a in json.loads(body).get("address", [])] if status == 200 else []


def install(cluster: LocalCluster, package: str, options: dict[str, Any], tmp: Path) -> None:
    opts = tmp / f"{package}-options.json"
    opts.write_text(json.dumps(options))
    done = cluster.cli("package", "install", package, "--options", str(opts), "--yes")
    assert done.returncode == 0, done.stderr
    assert f"Installed Marathon app /{package}" in done.stdout


def listener_pid(port: int) -> int | None:
    import psutil

    for c in psutil.net_connections(kind="tcp"):
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return int(c.pid)
    return None


def kill_task_of(port: int) -> int:
    """SIGKILL the task serving ``port``: the process its cmd exec'd (the JVM's parent)."""
    import psutil

    server = listener_pid(port)
    assert server is not None, f"nothing listens on {port}"
    parent = psutil.Process(server).parent()
    victim = (
        parent.pid
        if parent is not None and "zookeeper.node" in " ".join(parent.cmdline())
        else server
    )
    os.kill(victim, signal.SIGKILL)
    return server


# ---------------------------------------------------------------------------- zookeeper


def srvr_mode(address: str) -> str | None:
    host, port = address.rsplit(":", 1)
    with contextlib.suppress(OSError):
        for line in four_letter_word(host, int(port), "srvr", 1.0).splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
    return None


def conf(address: str) -> str:
    host, port = address.rsplit(":", 1)
    try:
        return str(four_letter_word(host, int(port), "conf", 1.0))
    except OSError:
        return ""


def voters(address: str) -> int:
    members = conf(address).partition("membership:")[2]
    return sum(1 for ln in members.splitlines() if ln.startswith("server.") and "participant" in ln)


def alive(address: str) -> bool:
    """The member's process answers ``ruok`` (two tries: a loaded machine may be slow to
    answer one; a member that is down refuses both)."""
    host, port = address.rsplit(":", 1)
    for _ in range(2):
        with contextlib.suppress(OSError):
            if four_letter_word(host, int(port), "ruok", 2.0) == "imok":
                return True
    return False


def quorum_of_three(addresses: list[str]) -> bool:
    return len(addresses) == 3 and all(
        srvr_mode(a) in ("leader", "follower") and voters(a) == 3 for a in addresses
    )


def test_zookeeper_installs_serves_survives_a_kill_and_rolls_a_config_change(
    cluster: LocalCluster, base: str, tmp_path: Path
) -> None:
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry

    install(cluster, "zookeeper", {"zookeeper": {"tick_time": 500}}, tmp_path)
    wait_for(lambda: plan_complete(base, "zookeeper", "deploy"), 150, "zookeeper deploy")
    addresses = endpoints(base, "zookeeper", "client")
    wait_for(lambda: quorum_of_three(addresses), 30, "3 voters serving")
    assert sorted(srvr_mode(a) or "" for a in addresses) == ["follower", "follower", "leader"]
    # one member per agent: three distinct agents run the pod instances
    tasks = http_json(f"{base}/mesos/master/tasks")["tasks"]
    servers = [
        t for t in tasks if t["name"].startswith("zookeeper-") and t["state"] == "TASK_RUNNING"
    ]
    assert len({t["slave_id"] for t in servers}) == 3, servers

    client = KazooClient(hosts=",".join(addresses), connection_retry=KazooRetry(max_tries=-1))
    client.start(timeout=30)
    try:
        client.create("/kept", b"before the kill")

        # kill -9 one member's task: recovered in place (same port: same reservation),
        # on its volume: it serves the znode written before, as a voter of 3 again.
        victim = addresses[1]
        old_server = kill_task_of(int(victim.rsplit(":", 1)[1]))
        wait_for(lambda: listener_pid(int(victim.rsplit(":", 1)[1])) != old_server, 30, "gone")
        wait_for(lambda: srvr_mode(victim) in ("leader", "follower") and voters(victim) == 3,
                 90, "member back in the ensemble")  # fmt: skip
        alone = KazooClient(hosts=victim)
        alone.start(timeout=30)
        try:
            assert alone.get("/kept")[0] == b"before the kill"
        finally:
            alone.stop()
            alone.close()

        # roll a config change: the scheduler app's env changes, the update plan restarts
        # one member at a time; a writer keeps writing through it all.
        assert "maxClientCnxns=60" in conf(addresses[0])
        client.create("/counter", b"0")
        writes: list[int] = []
        down_together: list[int] = []
        stop = threading.Event()

        def writer() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                client.retry(client.set, "/counter", str(n).encode())
                writes.append(n)
                time.sleep(0.02)

        def watcher() -> None:
            while not stop.is_set():
                down_together.append(sum(1 for a in addresses if not alive(a)))
                time.sleep(0.05)

        threads = [threading.Thread(target=writer), threading.Thread(target=watcher)]
        for t in threads:
            t.start()
        try:
            app = http_json(f"{base}/marathon/v2/apps/zookeeper")["app"]
            env = {**app["env"], "MAX_CLIENT_CONNECTIONS": "80"}
            http_json(f"{base}/marathon/v2/apps/zookeeper", "PUT", {"env": env})
            wait_for(lambda: all("maxClientCnxns=80" in conf(a) for a in addresses), 180, "rolled")
            wait_for(lambda: plan_complete(base, "zookeeper", "update"), 60, "update plan")
            wait_for(lambda: quorum_of_three(addresses), 60, "3 voters after the roll")
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert max(down_together) <= 1, "two members were down at once during the roll"
        assert writes and client.get("/counter")[0] == str(writes[-1]).encode()
        assert client.get("/kept")[0] == b"before the kill"

        # pod replace (forced: the member is healthy): a fresh volume, maybe new ports;
        # the new member joins through a live peer and gets the ensemble's data.
        status, body = post(f"{base}/service/zookeeper/v1/pod/zookeeper-2/replace?force=true")
        assert status == 200, (status, body)

        def replaced() -> bool:
            now = endpoints(base, "zookeeper", "client")
            fresh = now[2] if len(now) == 3 else ""
            if not fresh or not quorum_of_three(now):
                return False
            alone = KazooClient(hosts=fresh)
            try:
                alone.start(timeout=10)
                return bool(alone.get("/kept")[0] == b"before the kill")
            finally:
                alone.stop()
                alone.close()

        wait_for(replaced, 120, "replaced member serving the ensemble's data")
    finally:
        client.stop()
        client.close()


# -------------------------------------------------------------------------------- redis


@pytest.fixture
def backup_root() -> Iterator[Path]:
    """Outside /tmp (a task's /tmp is its own private tmpfs), writable by task users."""
    path = Path(tempfile.mkdtemp(prefix="pydcos-test-backups-", dir="/var/tmp"))
    os.chmod(path, 0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def redis_cli(address: str, *args: str) -> str:
    host, port = address.rsplit(":", 1)
    done = subprocess.run(
        ["redis-cli", "-h", host, "-p", port, *args], capture_output=True, text=True, timeout=30
    )
    return done.stdout.strip()


def run_id(address: str) -> str:
    """The server process' run id (``INFO server``): a new process, a new id."""
    for line in redis_cli(address, "INFO", "server").splitlines():
        if line.startswith("run_id:"):
            return line.split(":", 1)[1].strip()
    return ""


def post(url: str) -> tuple[int, str]:
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def start_plan(base: str, service: str, name: str, params: dict[str, str]) -> Any:
    """``plans/<name>/start`` with the plan's parameters; its answer (raises on an error)."""
    return http_json(f"{base}/service/{service}/v1/plans/{name}/start", "POST", params) or True


def cpu_quota(address: str) -> str:
    """The CFS quota of the cgroup of the process listening on ``address`` (a task's
    server), read from the kernel: ``-1``/``max`` = none."""
    import psutil

    port = int(address.rsplit(":", 1)[1])
    pid = next(
        c.pid
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
    )
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2 (unified): cpu.max "<quota> <period>"
            cg = Path("/sys/fs/cgroup") / path.lstrip("/") / "cpu.max"
            if cg.exists() and (Path("/sys/fs/cgroup") / "cgroup.controllers").exists():
                return cg.read_text().split()[0]
        elif "cpu" in controllers.split(","):
            d = Path("/sys/fs/cgroup") / controllers / path.lstrip("/")
            return (d / "cpu.cfs_quota_us").read_text().strip()
    raise AssertionError(f"no cpu cgroup for pid {pid}")


def test_redis_installs_replicates_and_restores_a_backup_after_a_flush(
    cluster: LocalCluster, base: str, tmp_path: Path, backup_root: Path
) -> None:
    install(cluster, "redis", {"backup": {"dir": str(backup_root / "redis")}}, tmp_path)
    wait_for(lambda: plan_complete(base, "redis", "deploy"), 120, "redis deploy")
    servers = endpoints(base, "redis", "redis")
    assert len(servers) == 3
    roles = {a: redis_cli(a, "ROLE").splitlines()[0] for a in servers}
    assert sorted(roles.values()) == ["master", "slave", "slave"], roles
    primary = next(a for a, r in roles.items() if r == "master")
    if os.geteuid() == 0:  # node.cpus_limit "unlimited": reserved 0.5 cpus, no CFS quota
        assert {cpu_quota(a) for a in servers} <= {"-1", "max"}

    for i in range(0, 1000, 250):
        batch = [x for k in range(i, i + 250) for x in (f"k{k}", f"v{k}")]
        assert redis_cli(primary, "MSET", *batch) == "OK"
    wait_for(lambda: all(redis_cli(a, "DBSIZE") == "1000" for a in servers), 30, "replicated")

    start_plan(base, "redis", "backup", {"BACKUP_NAME": "before-flush"})
    wait_for(lambda: plan_complete(base, "redis", "backup"), 60, "backup plan")
    assert (backup_root / "redis" / "before-flush.rdb").is_file()
    meta = json.loads((backup_root / "redis" / "before-flush.json").read_text())
    assert meta["keys"] == 1000

    assert redis_cli(primary, "FLUSHALL") == "OK"
    wait_for(lambda: all(redis_cli(a, "DBSIZE") == "0" for a in servers), 30, "flushed")

    # The leading master dies (SIGKILL): the restore runs through the next leader, the
    # scheduler having re-registered with it, the servers having kept running.
    old = leader(cluster)
    os.kill(old["pid"], signal.SIGKILL)
    base = wait_for(lambda: str(leader(cluster)["http_url"]).rstrip("/"), 60, "new leader")
    assert base != str(old["http_url"]).rstrip("/")
    wait_for(lambda: start_plan(base, "redis", "restore", {"BACKUP_NAME": "before-flush"}),
             60, "restore started through the new leader")  # fmt: skip
    wait_for(lambda: plan_complete(base, "redis", "restore"), 90, "restore plan")
    for a in servers:
        assert redis_cli(a, "DBSIZE") == "1000", a
        assert redis_cli(a, "GET", "k999") == "v999", a
    assert redis_cli(primary, "ROLE").splitlines()[0] == "master"
    assert redis_cli(primary, "SET", "after-restore", "1") == "OK"

    # pod replace of a healthy replica: refused without force; forced, the new replica
    # (fresh volume) finds the primary through the SDK's env and syncs every key
    def run_ids() -> set[str]:
        return {run_id(a) for a in endpoints(base, "redis", "redis")}

    before = run_ids()
    status, body = post(f"{base}/service/redis/v1/pod/replica-1/replace")
    assert status == 409, (status, body)
    status, body = post(f"{base}/service/redis/v1/pod/replica-1/replace?force=true")
    assert status == 200, (status, body)

    def replaced_in_sync() -> bool:
        now = endpoints(base, "redis", "redis")
        new_process = len(run_ids() - before) == 1
        return new_process and [redis_cli(a, "DBSIZE") for a in now] == ["1001"] * 3

    wait_for(replaced_in_sync, 90, "replaced replica in sync")
