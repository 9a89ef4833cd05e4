"""The actor's writes are sent without waiting (``MetronomeStore.write_batch_async``):
ZooKeeper's answer is read on kazoo's thread, which publishes the write's view and
answers its HTTP requests; the actor goes on meanwhile and runs the write's other
effects when told. Same outcomes as the synchronous write (the path a document that
must be chunked still takes), and still nothing acknowledged before it is stored.

In-process cluster (conftest): real ZooKeeper, the real gateway, HTTP clients.
"""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import pytest

from actors.metronome._store import MetronomeStore

from .conftest import MiniCluster, wait_for

CLIENTS = 4
STEPS = 30


def _spec(job_id: str, cmd: str = "sleep 60") -> dict[str, Any]:
    return {"id": job_id, "run": {"cmd": cmd, "cpus": 0.01, "mem": 32}}


def _script(seed: int) -> list[tuple[str, int]]:
    """A random sequence of (operation, job number) over a few jobs of one client."""
    rng = random.Random(seed)
    ops = ["create"] * 3 + ["run"] * 3 + ["stop"] * 2 + ["delete", "delete!", "put", "sched", "get"]
    return [(rng.choice(ops), rng.randrange(3)) for _ in range(STEPS)]


def _play(c: MiniCluster, prefix: str, script: list[tuple[str, int]]) -> list[Any]:
    """Carry out ``script`` on jobs ``<prefix>-<n>``: what each request answered, with
    the prefix taken out and run ids replaced by their order of creation."""
    out: list[Any] = []
    runs: dict[str, list[str]] = {}
    for op, n in script:
        jid = f"{prefix}-{n}"
        if op == "create":
            r = c.http("POST", "/v1/jobs", _spec(jid))
        elif op == "run":
            r = c.http("POST", f"/v1/jobs/{jid}/runs", {})
            if r.status == 201:
                runs.setdefault(jid, []).append(r.json()["id"])
        elif op == "stop":
            last = (runs.get(jid) or ["none"])[-1]
            r = c.http("POST", f"/v1/jobs/{jid}/runs/{last}/actions/stop")
        elif op == "delete":
            r = c.http("DELETE", f"/v1/jobs/{jid}")
        elif op == "delete!":
            r = c.http("DELETE", f"/v1/jobs/{jid}?stopCurrentJobRuns=true")
        elif op == "put":
            r = c.http("PUT", f"/v1/jobs/{jid}", _spec(jid, "sleep 61"))
        elif op == "sched":
            r = c.http("POST", f"/v1/jobs/{jid}/schedules", {"id": "s", "cron": "0 0 1 1 *"})
        else:
            r = c.http("GET", f"/v1/jobs/{jid}")
        body = r.body.decode().replace(prefix, "P")
        for i, run_id in enumerate(runs.get(jid, [])):
            body = body.replace(run_id, f"run{i}")
        # the parts of an answer that do not depend on timing (task states do)
        try:
            shape = r.json()
        except ValueError:
            shape = body
        if isinstance(shape, dict):
            keep = ("id", "jobId", "message", "cron", "run")
            shape = {k: str(v).replace(prefix, "P") for k, v in shape.items() if k in keep}
            for i, run_id in enumerate(runs.get(jid, [])):
                shape = {k: v.replace(run_id, f"run{i}") for k, v in shape.items()}
        out.append((op, n, r.status, shape))
    return out


def _stored(c: MiniCluster, prefix: str) -> dict[str, Any]:
    """The jobs of ``prefix`` in ZooKeeper: spec command, schedules, runs (active and
    finished)."""
    out = {}
    for jid, (doc, _, _) in MetronomeStore(c.zk).load_jobs().items():
        if not jid.startswith(prefix + "-"):
            continue
        runs = len(doc.get("runs", [])) + len(str(doc.get("history", "")).split('"id"')) - 1
        schedules = [s.get("id") for s in doc["job"].get("schedules", [])]
        out[jid.replace(prefix, "P")] = (doc["job"]["run"]["cmd"], schedules, runs)
    return out


def _play_all(c: MiniCluster, prefix: str, seed: int) -> list[Any]:
    results: list[Any] = [None] * CLIENTS

    def client(k: int) -> None:
        results[k] = _play(c, f"{prefix}{k}", _script(seed * 100 + k))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


@pytest.mark.parametrize("seed", range(2))
def test_async_writes_answer_like_synchronous_ones_on_random_sequences(
    cluster: MiniCluster, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """The same random request sequences (4 concurrent clients, each its own jobs) once
    with writes answered on kazoo's thread, once forced through the synchronous batch:
    the same statuses and bodies, the same documents in ZooKeeper; and every job
    answered 201 is there."""
    c = cluster
    answers_async = _play_all(c, "a", seed)
    stored_async = {k: _stored(c, f"a{k}") for k in range(CLIENTS)}
    assert c.get("/v1/metrics")["counters"]["metronome.post_timed.counter"]["count"] > 0
    monkeypatch.setattr(MetronomeStore, "write_batch_async", lambda self, ops, done: False)
    answers_sync = _play_all(c, "s", seed)
    stored_sync = {k: _stored(c, f"s{k}") for k in range(CLIENTS)}
    assert answers_async == answers_sync
    assert stored_async == stored_sync
    for k in range(CLIENTS):
        created = {n for op, n, status, _ in answers_async[k] if op == "create" and status == 201}
        deleted = {n for op, n, status, _ in answers_async[k] if "delete" in op and status == 200}
        assert {f"P-{n}" for n in created - deleted} <= set(stored_async[k])


def test_a_write_that_fails_is_retried_and_answered_only_once_stored(
    cluster: MiniCluster,
) -> None:
    """The jobs' parent znode removed behind the actor's back: the create's multi fails
    (ZooKeeper refuses it: no parent); the POST is not answered until the tick's retry
    made the parent again and stored the job, then 201."""
    c = cluster
    store = MetronomeStore(c.zk)
    c.zk.delete(store.state.path("jobs"), recursive=True)
    flushes = c.get("/v1/metrics")["counters"]["metronome.flushes.counter"]["count"]
    r = c.http("POST", "/v1/jobs", _spec("after-a-failure"))
    assert r.status == 201
    assert "after-a-failure" in store.load_jobs()
    counters = c.get("/v1/metrics")["counters"]
    assert counters["metronome.flushes.counter"]["count"] > flushes
    wait_for(lambda: c.http("GET", "/v1/jobs/after-a-failure").status == 200, what="the view")


def test_concurrent_posts_on_one_job_wait_for_its_write_in_flight(cluster: MiniCluster) -> None:
    """Writes of different jobs fly together, but a job whose write is in flight waits
    for the version it returns: 4 clients starting runs of ONE job at once (and 4 others
    creating jobs beside them) all get 201, nothing conflicts (a write from a stale
    version would fail and answer 503), and ZooKeeper holds every run answered."""
    c = cluster
    assert c.http("POST", "/v1/jobs", _spec("shared")).status == 201
    statuses: list[int] = []
    run_ids: list[str] = []

    def runner() -> None:
        for _ in range(8):
            r = c.http("POST", "/v1/jobs/shared/runs", {})
            statuses.append(r.status)
            if r.status == 201:
                run_ids.append(r.json()["id"])

    def creator(k: int) -> None:
        for i in range(8):
            statuses.append(c.http("POST", "/v1/jobs", _spec(f"beside-{k}-{i}")).status)

    threads = [threading.Thread(target=runner) for _ in range(4)]
    threads += [threading.Thread(target=creator, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [201] * 64
    stored = json.dumps(MetronomeStore(c.zk).load_jobs()["shared"][0])  # active or history
    assert len(run_ids) == 32 and all(f'"{rid}"' in stored for rid in run_ids)
    counters = c.get("/v1/metrics")["counters"]
    assert counters["metronome.in_flight_max.counter"]["count"] >= 1
