"""Concurrent POSTs against a real master (tests/metronome/_master_main.py) and the real
ZooKeeper: answers released together after one group-committed write are still each
request's own, and an answered POST is durable.

* 8 clients create jobs and start their runs at once, with bad requests interleaved (a
  duplicate job 409, a run of an unknown job 404, an invalid id 422): every request gets
  its own status and body;
* ZooKeeper is paused (SIGSTOP) while the clients are POSTing, the leader SIGKILLed
  once every client waits for an answer, ZooKeeper resumed: every job and run that was
  answered 201 is in ZooKeeper (read with the store, no master running), and a new
  leader serves them all. (A write already in ZooKeeper's socket lands after the
  resume, so this cannot tell an answer sent before its write from one sent after:
  test_group_commit.py's failed write does.)
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from actors.metronome._store import MetronomeStore
from actors.metronome._view import JobEntry
from zk import ZooKeeperServer, close_quietly, connect

from .conftest import wait_for
from .test_e2e import Cluster, _ok, request

pytestmark = [pytest.mark.slow, pytest.mark.zk]

CLIENTS = 8
PER_CLIENT = 400


class Client:
    """One keep-alive connection, like each of a scheduler's HTTP clients."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=20)

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body if body is not None else {})
        self.conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        return r.status, json.loads(r.read() or b"null")


class _Gone(Exception):
    pass


def _post_until_stopped(
    url: str,
    k: int,
    stop: threading.Event,
    acked: list[tuple[str, str]],
    wrong: list[str],
    waiting: dict[int, int],
) -> None:
    """Client ``k``: job + run pairs (and every 5th time three bad requests) until
    ``stop`` or the master goes away; every 201 is recorded as (job id, run id);
    ``waiting[k]`` counts the client's answers (odd: a request is out)."""
    c = Client(url)
    post = c.post

    def counted(path: str, body: Any = None) -> tuple[int, Any]:
        waiting[k] += 1
        try:
            status, body = post(path, body)
        finally:
            waiting[k] += 1
        if status == 503:  # ZooKeeper paused: the master lost it (retry later, says the body)
            raise _Gone(body)
        return status, body

    c.post = counted  # type: ignore[method-assign]
    base = "/metronome/v1/jobs"
    try:
        for i in range(PER_CLIENT):
            if stop.is_set():
                return
            jid = f"post-{k}-{i:03d}"
            status, body = c.post(
                base, {"id": jid, "run": {"cmd": "sleep 60", "cpus": 0.01, "mem": 32}}
            )
            if status != 201 or body.get("id") != jid:
                wrong.append(f"create {jid}: {status} {body}")
                continue
            acked.append((jid, ""))
            status, body = c.post(f"{base}/{jid}/runs")
            if status != 201 or body.get("jobId") != jid:
                wrong.append(f"run of {jid}: {status} {body}")
                continue
            acked.append((jid, body["id"]))
            if i % 5 == 0:
                status, body = c.post(base, {"id": jid, "run": {"cmd": "true"}})
                if status != 409 or jid not in body.get("message", ""):
                    wrong.append(f"duplicate {jid}: {status} {body}")
                status, body = c.post(f"{base}/nosuch-{k}-{i}/runs")
                if status != 404 or f"nosuch-{k}-{i}" not in body.get("message", ""):
                    wrong.append(f"run of nosuch-{k}-{i}: {status} {body}")
                status, body = c.post(base, {"id": f"Bad_{k}_{i}", "run": {"cmd": "true"}})
                if status != 422 or body["details"][0]["path"] != "/id":
                    wrong.append(f"bad id: {status} {body}")
    except (OSError, http.client.HTTPException, ValueError, _Gone):
        pass  # the master was killed or lost ZooKeeper: what was answered before counts
    finally:
        waiting[k] = -1  # done: counts as waiting for all_stuck


def test_every_answered_post_is_in_zookeeper_after_a_leader_kill(tmp_path: Path) -> None:
    with ZooKeeperServer() as zk, contextlib.ExitStack() as stack:
        c = Cluster(f"{zk.hosts}/posts", tmp_path)
        stack.callback(c.stop)
        _check_answered_posts_are_durable(zk, c)


def _check_answered_posts_are_durable(zk: ZooKeeperServer, cluster: Cluster) -> None:
    first = cluster.master()
    cluster.agent()
    cluster.wait_leader()
    cluster.wait_agents(first.url)
    acked: list[tuple[str, str]] = []
    wrong: list[str] = []
    waiting = dict.fromkeys(range(CLIENTS), 0)
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_post_until_stopped, args=(first.url, k, stop, acked, wrong, waiting)
        )
        for k in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    assert zk.pid is not None
    seen: list[dict[int, int]] = []

    def all_stuck() -> bool:
        """Every client has a request out, the same one as at the last look."""
        now = dict(waiting)
        stuck = all(n % 2 for n in now.values()) and seen[-1:] == [now]
        seen.append(now)
        return stuck

    try:
        wait_for(lambda: len(acked) >= 200 or wrong, timeout=60, what="200 answered POSTs")
        os.kill(zk.pid, signal.SIGSTOP)
        try:
            wait_for(all_stuck, timeout=30, what="every client waiting", interval=0.3)
            first.kill9()
        finally:
            os.kill(zk.pid, signal.SIGCONT)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert wrong == [], wrong[:5]
    answered = list(acked)
    assert len(answered) >= 200

    # Durable: the documents in ZooKeeper, no master running.
    client = connect(zk.hosts, chroot="/posts")
    try:
        docs = MetronomeStore(client).load_jobs()
    finally:
        close_quietly(client)
    entries = {jid: JobEntry.from_doc(doc) for jid, (doc, _, _) in docs.items()}
    for jid, run_id in answered:
        assert jid in entries, f"job {jid} was answered 201 but is not in ZooKeeper"
        if run_id:
            entry = entries[jid]
            assert entry.run(run_id) is not None or entry.hist.knows(run_id), (jid, run_id)

    # And a new leader serves them.
    second = cluster.master()
    cluster.wait_leader()
    jobs = _ok(request(second.url + "/metronome/v1/jobs?embed=activeRuns"))
    served = {j["id"]: {r["id"] for r in j["activeRuns"]} for j in jobs}
    for jid, run_id in answered:
        assert jid in served, jid
        if run_id:
            assert run_id in served[jid], (jid, run_id)
