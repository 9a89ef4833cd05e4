"""Large documents against a real master and the real ZooKeeper (issue 30, item 2).

Before: the gateway took 8 MiB bodies and the store wrote ~1 MB chunks; a 7 MB app and
one PATCH of it ran the 256 MB development ZooKeeper out of memory, three times. Now a
body is at most 1 MiB (413 above, before anything is parsed or stored), every write the
store sends is at most 128 KiB, a document at most 8 MiB (Marathon keeps the app
versions that fit), and ZooKeeper's heap is sized for those limits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from actors.gateway import MAX_BODY_BYTES
from tests.e2e.conftest import E2ECluster, http_request, wait_for
from zk import (
    DEFAULT_MAX_BYTES,
    DEFAULT_NODE_LIMIT,
    StateStore,
    ZooKeeperServer,
    close_quietly,
    connect,
    four_letter_word,
    generate_credentials,
    write_credentials,
)

pytestmark = [pytest.mark.slow, pytest.mark.zk]

ENV_VALUE = 30_000
"""Characters per environment value (Marathon's per-value limit is 32 KiB)."""


def app_body(app_id: str, size: int, tag: str) -> bytes:
    """An app whose JSON body is exactly ``size`` bytes, mostly environment values."""
    env: dict[str, str] = {}
    app: dict[str, Any] = {
        "id": app_id,
        "cmd": "sleep 1000",
        "instances": 0,
        "cpus": 0.1,
        "mem": 32,
        "env": env,
    }

    def encoded() -> bytes:
        return json.dumps(app, separators=(",", ":")).encode()

    n = 0
    while len(encoded()) + ENV_VALUE + 20 < size:
        env[f"V{n:03d}"] = (tag * ENV_VALUE)[:ENV_VALUE]
        n += 1
    env["PAD"] = ""
    env["PAD"] = "p" * (size - len(encoded()))
    body = encoded()
    assert len(body) == size
    return body


def request(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    r = http_request(base + path, method, body, timeout=60)
    return r.status, r.json() if r.body else None


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def test_zookeeper_and_the_leader_hold_through_100_creates_and_updates_of_the_largest_app(
    cluster: E2ECluster, zk_server: ZooKeeperServer, tmp_path: Path
) -> None:
    creds_file = write_credentials(tmp_path / "zk.credentials", generate_credentials())
    master = cluster.add_master("--zk-credentials", str(creds_file)).wait_up()
    base = cluster.leader().http_url
    wait_for(lambda: request(base, "GET", "/marathon/v2/apps")[0] == 200, 30, "Marathon up")
    zk_pid = zk_server.pid
    rss_before = rss_mb(master.pid)

    writes = 0
    for round_ in range(10):
        status, body = request(
            base, "POST", "/marathon/v2/apps", app_body("/big", MAX_BODY_BYTES, "c")
        )
        assert status == 201, (round_, status, str(body)[:300])
        writes += 1
        for update in range(9):
            tag = "abcdefghi"[update]
            status, body = request(
                base,
                "PUT",
                "/marathon/v2/apps/big?force=true",
                app_body("/big", MAX_BODY_BYTES, tag),
            )
            assert status == 200, (round_, update, status, str(body)[:300])
            writes += 1
        assert zk_server.running and zk_server.pid == zk_pid, "ZooKeeper exited"
        assert master.alive, "the master exited"
        status, body = request(base, "GET", "/marathon/v2/apps/big")
        assert status == 200 and body["app"]["env"]["V000"].startswith("i"), round_
        if round_ < 9:
            assert request(base, "DELETE", "/marathon/v2/apps/big?force=true")[0] == 200
    assert writes == 100
    assert four_letter_word(zk_server.host, zk_server.port, "ruok") == "imok"

    # What is stored: every document within the limit, every znode within one write.
    client = connect(cluster.zk_hosts, chroot=cluster.chroot, credentials=_read(creds_file))
    try:
        store = StateStore(client, "/marathon")
        versions = store.require("versions/_big")
        assert versions.size <= DEFAULT_MAX_BYTES
        assert 1 < len(versions.value) < 10  # the newest that fit, not all ten
        assert versions.value[-1]["env"]["V000"].startswith("i")
        for name in client.get_children(store.chunks):
            _, stat = client.get(f"{store.chunks}/{name}")
            assert stat.dataLength <= DEFAULT_NODE_LIMIT
        status, body = request(base, "GET", "/marathon/v2/apps/big/versions")
        assert status == 200 and len(body["versions"]) == len(versions.value)

        # One byte over the limit: 413 naming the limit, and nothing stored.
        before = store.require("root").version
        status, body = request(
            base, "POST", "/marathon/v2/apps", app_body("/over", MAX_BODY_BYTES + 1, "o")
        )
        assert status == 413
        assert str(MAX_BODY_BYTES) in body["message"] and body["limit"] == MAX_BODY_BYTES
        assert request(base, "GET", "/marathon/v2/apps/over")[0] == 404
        assert store.require("root").version == before
        assert "_over" not in store.list("versions")
    finally:
        close_quietly(client)
    assert master.alive and zk_server.pid == zk_pid
    print(f"leader RSS {rss_before} MB -> {rss_mb(master.pid)} MB after 100 writes of 1 MiB")

    # The largest app survives a leader SIGKILL: the next leader loads it whole.
    stored = request(base, "GET", "/marathon/v2/apps/big")[1]["app"]
    standby = cluster.add_master("--zk-credentials", str(creds_file)).wait_up()
    master.kill9()
    wait_for(lambda: cluster.leader() == standby, 60, "the standby leading")

    def served() -> Any:
        status, body = request(standby.http_url, "GET", "/marathon/v2/apps/big")
        return body["app"] if status == 200 else None

    after = wait_for(served, 60, "the largest app served by the new leader")
    assert after["env"] == stored["env"] and after["version"] == stored["version"]
    assert zk_server.pid == zk_pid


def _read(path: Path) -> Any:
    from zk import read_credentials

    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    return read_credentials(path)


def test_a_change_too_large_for_one_document_is_422_naming_size_and_limit(
    cluster: E2ECluster, tmp_path: Path
) -> None:
    """Marathon's root group holds every app and a deployment holds the root twice (as
    Marathon refuses a plan above --zk_max_node_size): the store refuses the deployment,
    the first document written, so nothing of the change is stored."""
    creds_file = write_credentials(tmp_path / "zk.credentials", generate_credentials())
    master = cluster.add_master("--zk-credentials", str(creds_file)).wait_up()
    base = cluster.leader().http_url
    wait_for(lambda: request(base, "GET", "/marathon/v2/apps")[0] == 200, 30, "Marathon up")
    accepted = 0
    for i in range(10):
        status, body = request(
            base, "POST", "/marathon/v2/apps", app_body(f"/big-{i}", MAX_BODY_BYTES, "r")
        )
        if status != 201:
            break
        accepted += 1
    assert 2 <= accepted < 5, accepted
    assert status == 422, (status, str(body)[:300])
    assert f"above the limit of {DEFAULT_MAX_BYTES} bytes" in body["message"]
    assert body["details"][0]["errors"][0].startswith("value for /marathon/docs/deployments/")
    assert request(base, "GET", f"/marathon/v2/apps/big-{accepted}")[0] == 404
    client = connect(cluster.zk_hosts, chroot=cluster.chroot, credentials=_read(creds_file))
    try:
        store = StateStore(client, "/marathon")
        root = store.require("root")
        assert f"/big-{accepted}" not in json.dumps(root.value)
        assert f"_big-{accepted}" not in store.list("versions")
    finally:
        close_quietly(client)
    # The way out is the ordinary one: deleting an app makes room again.
    assert request(base, "DELETE", "/marathon/v2/apps/big-0?force=true")[0] == 200
    status, _ = request(base, "POST", "/marathon/v2/apps", app_body("/small", 2000, "s"))
    assert status == 201 and master.alive
