"""GET /mesos/master/state as a real client reads it, at a size where the gateway writes
it in pieces (``send_chunks``: more than one 1 MB slice, never joined), on a real
cluster, before and after a SIGKILL of the leading master (issue 29)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import E2ECluster, Proc, http_request, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]

INSTANCES = 200
BLOB = "x" * 6000
"""A label every task carries (Marathon copies app labels to its tasks): 200 tasks make
the state ~1.4 MB."""


def _curl_state(master: Proc, scratch: Path) -> tuple[int, dict[str, Any] | None, int]:
    """``curl`` (an unmodified client) reads the state: HTTP status, the JSON (None if
    not 200), and the bytes it read. curl fails (exit 18) when fewer bytes than
    ``Content-Length`` arrive; a trailing excess would not parse as JSON."""
    body = scratch / "state.json"
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            "20",
            "-o",
            str(body),
            "-w",
            "%{http_code} %{size_download}",
            f"{master.http_url}/mesos/master/state",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr)
    status, size = (int(v) for v in done.stdout.split())
    if status != 200:
        return status, None, size
    raw = body.read_bytes()
    assert len(raw) == size
    return status, json.loads(raw), size


def _running_with_blob(doc: dict[str, Any]) -> int:
    return sum(
        1
        for fw in doc["frameworks"]
        for t in fw["tasks"]
        if t["state"] == "TASK_RUNNING" and {"key": "blob", "value": BLOB} in t["labels"]
    )


def test_state_in_pieces_reads_whole_with_curl_before_and_after_a_leader_sigkill(
    cluster: E2ECluster, tmp_path: Path
) -> None:
    for _ in range(2):
        cluster.add_master()
    cluster.add_agent("simulated", "cpus:8;mem:16384;disk:1000")  # 200 x (0.01 cpus, 32 MB)
    for proc in cluster.masters + cluster.agents:
        proc.wait_up()
    cluster.wait_agents(1)
    leader = cluster.serving_leader()
    app = {
        "id": "/big",
        "cmd": "sleep 1000",
        "cpus": 0.01,
        "mem": 32,
        "instances": INSTANCES,
        "portDefinitions": [],
        "labels": {"blob": BLOB},
    }
    r = http_request(
        leader.http_url + "/marathon/v2/apps", "POST", json.dumps(app).encode(), timeout=10
    )
    assert r.status == 201, r.body[:300]

    def all_running(master: Proc) -> int | None:
        _status, doc, size = _curl_state(master, tmp_path)
        if doc is None or _running_with_blob(doc) != INSTANCES:
            return None
        return size

    size = wait_for(lambda: all_running(leader), 60, f"{INSTANCES} running tasks in the state")
    assert size > 1024 * 1024, "large enough to be written in several slices"
    # The same answer again (cached pieces, the same bytes).
    assert _curl_state(leader, tmp_path)[1] is not None

    leader.kill9()
    new = cluster.serving_leader(timeout=40)
    assert new is not leader
    size = wait_for(lambda: all_running(new), 60, "the new leader's state with every task")
    assert size > 1024 * 1024

    # The new leader's state follows the changes after its adoption of the tasks: the
    # answers between renders re-render only the tasks marked (S), so 50 kills must
    # show as 150 running and 50 killed in the pieces curl reads.
    r = http_request(
        new.http_url + "/marathon/v2/apps/big",
        "PUT",
        json.dumps({"instances": INSTANCES - 50}).encode(),
        timeout=10,
    )
    assert r.status in (200, 201), r.body[:300]

    def scaled_down() -> dict[str, Any] | None:
        _status, doc, _size = _curl_state(new, tmp_path)
        if doc is None or _running_with_blob(doc) != INSTANCES - 50:
            return None
        killed = [
            t
            for fw in doc["frameworks"]
            for t in fw["completed_tasks"]
            if t["state"] == "TASK_KILLED"
        ]
        return doc if len(killed) >= 50 else None

    doc = wait_for(scaled_down, 60, "50 tasks killed in the new leader's state")
    ids = [t["id"] for fw in doc["frameworks"] for t in fw["tasks"]]
    assert len(ids) == len(set(ids)) == INSTANCES - 50
