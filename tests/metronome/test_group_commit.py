"""Answers released together after one group-committed write (``Command.loop``: one
event-loop wake-up per write) are each request's own, and none is given before its write.

In-process cluster (conftest), real ZooKeeper and the real gateway: 8 HTTP clients POST
jobs and runs at once with bad requests interleaved; one job's document is put in
ZooKeeper behind the actor's back, so the write that creates it fails (NodeExists): its
POST must not be answered 201, and every job answered 201 is in ZooKeeper.
"""

from __future__ import annotations

import threading
from typing import Any

from actors.metronome._store import MetronomeStore
from zk import StateStore

from .conftest import MiniCluster, wait_for

CLIENTS = 8
JOBS = 20  # per client


def _spec(job_id: str) -> dict[str, Any]:
    return {"id": job_id, "run": {"cmd": "sleep 60", "cpus": 0.01, "mem": 32}}


def test_concurrent_posts_get_their_own_answers(cluster: MiniCluster) -> None:
    c = cluster
    answers: dict[str, tuple[int, Any]] = {}

    def client(k: int) -> None:
        for i in range(JOBS):
            jid = f"g-{k}-{i}"
            r = c.http("POST", "/v1/jobs", _spec(jid))
            answers[f"create {jid}"] = (r.status, r.json())
            r = c.http("POST", f"/v1/jobs/{jid}/runs", {})
            answers[f"run {jid}"] = (r.status, r.json())
            r = c.http("POST", "/v1/jobs", _spec(jid))
            answers[f"again {jid}"] = (r.status, r.json())
            r = c.http("POST", f"/v1/jobs/none-{k}-{i}/runs", {})
            answers[f"unknown {jid}"] = (r.status, r.json())

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == CLIENTS * JOBS * 4
    stored = MetronomeStore(c.zk).load_jobs()
    for k in range(CLIENTS):
        for i in range(JOBS):
            jid = f"g-{k}-{i}"
            status, body = answers[f"create {jid}"]
            assert status == 201 and body["id"] == jid, (jid, status, body)
            status, body = answers[f"run {jid}"]
            assert status == 201 and body["jobId"] == jid, (jid, status, body)
            assert body["id"] in {r["id"] for r in stored[jid][0]["runs"]}, jid
            status, body = answers[f"again {jid}"]
            assert status == 409 and jid in body["message"], (jid, status, body)
            status, body = answers[f"unknown {jid}"]
            assert status == 404 and f"none-{k}-{i}" in body["message"], (jid, status, body)


def test_a_post_whose_write_fails_is_not_answered_201(cluster: MiniCluster) -> None:
    c = cluster
    assert c.http("POST", "/v1/jobs", _spec("model")).status == 201
    doc = MetronomeStore(c.zk).load_jobs()["model"][0]
    doc["job"] = {**doc["job"], "id": "taken"}
    StateStore(c.zk, "/metronome").put("jobs/taken", doc)  # the actor does not know
    answers: dict[str, int] = {}

    def client(k: int) -> None:
        for i in range(10):
            jid = "taken" if (k, i) == (3, 5) else f"w-{k}-{i}"
            answers[jid] = c.http("POST", "/v1/jobs", _spec(jid)).status

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers["taken"] == 503  # its write failed: the actor restarts from ZooKeeper
    wait_for(lambda: c.http("GET", "/v1/jobs/taken").status == 200, what="a reloaded actor")
    stored = MetronomeStore(c.zk).load_jobs()
    for jid, status in answers.items():
        assert status in (201, 503), (jid, status)
        if status == 201:
            assert jid in stored, f"{jid} was answered 201 but is not in ZooKeeper"
    assert sum(s == 201 for s in answers.values()) >= CLIENTS  # the other batches landed
