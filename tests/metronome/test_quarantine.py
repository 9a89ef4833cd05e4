"""Metronome quarantines stored jobs it cannot use (issue 30): real ZooKeeper, the
in-process cluster of ``conftest.py``; poison documents are written straight into the
store, then Metronome restarts on it the way a new leader would."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from actors.metronome._store import job_key
from zk import StateStore
from zk._store import MAGIC

from .conftest import FINISH, MiniCluster, wait_for

pytestmark = pytest.mark.zk


def raw_doc(value: Any) -> bytes:
    body = json.dumps(value, separators=(",", ":"), allow_nan=True)
    return json.dumps({"pydcos": MAGIC}).encode() + b"\n" + body.encode()


def test_poison_jobs_are_quarantined_kept_and_deletable_and_the_rest_runs(
    cluster: MiniCluster,
) -> None:
    c = cluster
    spec = {"id": "fine", "run": {"cmd": "true", "cpus": 0.1, "mem": 32}, "labels": FINISH}
    assert c.http("POST", "/v1/jobs", spec).status == 201
    store = StateStore(c.zk, "/metronome")
    good = store.require(job_key("fine")).value
    nan_doc = json.loads(json.dumps(good))
    nan_doc["job"]["id"] = "nan-cpus"
    nan_doc["job"]["run"]["cpus"] = math.nan
    cron_doc = json.loads(json.dumps(good))
    cron_doc["job"]["id"] = "bad-cron"
    cron_doc["job"]["schedules"] = [{"id": "s", "cron": "61 * * * *"}]
    poison = {
        "nan-cpus": raw_doc(nan_doc),
        "bad-cron": raw_doc(cron_doc),
        "not-json": b"\x00\x01 definitely not a document",
        "wrong-id": raw_doc({**good, "job": {**good["job"], "id": "someone-else"}}),
    }
    for job_id, data in poison.items():
        c.zk.create(store.path(job_key(job_id)), data)

    c.stop_metronome()
    c.start_metronome()

    report = {q["id"]: q for q in c.get("/v1/quarantine")["quarantined"]}
    assert sorted(report) == sorted(poison)
    assert "not a finite number" in report["nan-cpus"]["reason"]
    assert "cron" in report["bad-cron"]["reason"]
    assert "unreadable" in report["not-json"]["reason"]
    assert "someone-else" in report["wrong-id"]["reason"]
    assert report["nan-cpus"]["path"].endswith("/metronome/docs/jobs/nan-cpus")
    metrics = c.get("/v1/metrics")
    assert metrics["gauges"]["metronome.quarantined.gauge"]["value"] == 4
    # Kept byte for byte, and never served as a job.
    for job_id, data in poison.items():
        assert c.zk.get(store.path(job_key(job_id)))[0] == data
    assert [j["id"] for j in c.get("/v1/jobs")] == ["fine"]
    r = c.http("GET", "/v1/jobs/nan-cpus/runs")
    assert r.status == 404  # reads come from the published view: not there
    r = c.http("POST", "/v1/jobs/nan-cpus/runs")
    assert r.status == 409 and "quarantined" in r.json()["message"]
    r = c.http("POST", "/v1/jobs", {**spec, "id": "bad-cron"})
    assert r.status == 409 and "quarantined" in r.json()["message"]

    # The good job still runs.
    run = c.http("POST", "/v1/jobs/fine/runs").json()
    wait_for(lambda: c.run_json("fine", run["id"])["status"] == "SUCCESS", what="fine succeeds")

    # DELETE is the way out; the name can then be used again.
    assert c.http("DELETE", "/v1/jobs/bad-cron").status == 200
    assert c.zk.exists(store.path(job_key("bad-cron"))) is None
    assert "bad-cron" not in {q["id"] for q in c.get("/v1/quarantine")["quarantined"]}
    assert c.http("POST", "/v1/jobs", {**spec, "id": "bad-cron"}).status == 201
