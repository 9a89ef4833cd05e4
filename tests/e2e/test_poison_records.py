"""Issue 30: nothing stored can crash a leader.

Poison records are written straight into ZooKeeper (bypassing every API check) in the
layout the stores use (``actors/marathon/_store.py``, ``actors/metronome/_store.py`` over
``zk/_store.py``): an app with ``"cpus": NaN`` in the root group and in its versions,
a deployment and a job that are not JSON at all, a job whose schedule is not a cron,
then a root group with a garbage field. The leader is SIGKILLed so that another master
loads them: it stays up, answers, keeps the other apps and jobs working, reports each
poison record (``GET /marathon/v2/quarantine``, ``GET /metronome/v1/quarantine``) and
leaves it stored; ``DELETE`` of the quarantined app or job is the way out.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tests.e2e.conftest import E2ECluster, Proc, http_request, wait_for
from zk import MAGIC, StateStore

pytestmark = [pytest.mark.slow, pytest.mark.zk]

APPS = "/marathon/v2/apps"
JOBS = "/metronome/v1/jobs"


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One HTTP request (no redirects followed); the JSON body or None."""
    data = None if body is None else json.dumps(body).encode()
    r = http_request(base + path, method, data, timeout=10)
    try:
        return r.status, r.json() if r.body else None
    except ValueError:
        return r.status, r.body


def ok(base: str, method: str, path: str, body: Any = None, want: int = 200) -> Any:
    status, doc = call(base, method, path, body)
    assert status == want, f"{method} {path}: {status} {doc!r:.500}"
    return doc


def raw_doc(value: Any) -> bytes:
    """A state-store document as ``zk.StateStore`` lays it out (header line + JSON),
    with NaN written as the bare JSON token ``NaN`` that no API accepts any more."""
    body = json.dumps(value, separators=(",", ":"), allow_nan=True)
    return json.dumps({"pydcos": MAGIC}).encode() + b"\n" + body.encode()


def put_raw(client: Any, path: str, data: bytes) -> None:
    client.ensure_path(path.rsplit("/", 1)[0])
    if client.exists(path):
        client.set(path, data)
    else:
        client.create(path, data)


def running(base: str, app_id: str) -> int:
    status, doc = call(base, "GET", f"{APPS}{app_id}")
    return int(doc["app"]["tasksRunning"]) if status == 200 else -1


def quarantined(base: str, service: str) -> list[dict[str, Any]]:
    path = "/marathon/v2/quarantine" if service == "marathon" else "/metronome/v1/quarantine"
    status, doc = call(base, "GET", path)
    return list(doc["quarantined"]) if status == 200 else []


def fail_over(cluster: E2ECluster) -> tuple[Proc, Proc]:
    """SIGKILL the leader; (it, the new leader once its Marathon and Metronome answer)."""
    old = cluster.leader()
    old.kill9()
    new = cluster.leader(timeout=30)
    assert new is not old
    wait_for(lambda: call(new.http_url, "GET", APPS)[0] == 200, 30, "Marathon on the new leader")
    wait_for(lambda: call(new.http_url, "GET", JOBS)[0] == 200, 30, "Metronome on the new leader")
    return old, new


def stays_up(cluster: E2ECluster, leader: Proc, killed: Proc, seconds: float = 3.0) -> None:
    """The leader keeps leading and serving for ``seconds`` of Marathon uptime (longer
    than a crash-looping Marathon took to take its master down) and no master but the
    one the test killed is gone."""

    def uptime() -> bool:
        doc = ok(leader.http_url, "GET", "/marathon/metrics")
        return bool(doc["gauges"]["marathon.uptime.gauge"]["value"] >= seconds)

    wait_for(uptime, 30, f"{seconds} s of Marathon uptime")
    assert cluster.leader() is leader
    assert [m.name for m in cluster.masters if not m.alive] == [killed.name]


def test_poison_records_in_zookeeper_are_quarantined_and_the_leader_stays_up(
    cluster: E2ECluster,
) -> None:
    cluster.start(masters=3, agents=1)
    base = cluster.leader().http_url
    app = {"id": "/good", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 2}
    ok(base, "POST", APPS, app, want=201)
    wait_for(lambda: running(base, "/good") == 2, 30, "/good running")
    good_tasks = {t["id"] for t in ok(base, "GET", f"{APPS}/good")["app"]["tasks"]}
    job = {
        "id": "good-job",
        "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "disk": 0},
        "schedules": [{"id": "nightly", "cron": "0 3 * * *"}],
    }
    ok(base, "POST", JOBS, job, want=201)

    zk = cluster.zk_client()
    marathon = StateStore(zk, "/marathon")
    metronome = StateStore(zk, "/metronome")
    # 1. an app with cpus NaN inside the stored root group, and in its version history
    root = marathon.require("root").value
    poison = {"id": "/poison", "cmd": "sleep 1", "cpus": math.nan, "mem": 32, "instances": 1}
    root["apps"] = [*root.get("apps", []), poison]
    put_raw(zk, marathon.path("root"), raw_doc(root))
    put_raw(zk, marathon.path("versions/_poison"), raw_doc([poison]))
    # 2. a deployment and a job that are not JSON at all
    junk = b"\x00\xffnot json at all"
    put_raw(zk, marathon.path("deployments/bogus"), junk)
    put_raw(zk, metronome.path("jobs/poison-bytes"), junk)
    # 3. a job whose schedule is not a cron (copied from the good one's document)
    good_doc = metronome.require("jobs/good-job").value
    bad_doc = json.loads(json.dumps(good_doc))
    bad_doc["job"]["id"] = "poison-cron"
    bad_doc["job"]["schedules"][0]["cron"] = "every full moon"
    put_raw(zk, metronome.path("jobs/poison-cron"), raw_doc(bad_doc))
    stored = {
        p: zk.get(p)[0]
        for p in (
            marathon.path("versions/_poison"),
            marathon.path("deployments/bogus"),
            metronome.path("jobs/poison-bytes"),
            metronome.path("jobs/poison-cron"),
        )
    }

    killed, leader = fail_over(cluster)
    base = leader.http_url
    stays_up(cluster, leader, killed)

    # The API answers and the other app is untouched (same tasks, still running).
    assert running(base, "/good") == 2
    assert {t["id"] for t in ok(base, "GET", f"{APPS}/good")["app"]["tasks"]} == good_tasks
    assert [a["id"] for a in ok(base, "GET", APPS)["apps"]] == ["/good"]
    # Each poison record is reported with where it is stored and why.
    report = {(q["kind"], q.get("id")): q for q in quarantined(base, "marathon")}
    assert report[("app", "/poison")]["path"].endswith("/marathon/docs/root")
    assert "cpus" in report[("app", "/poison")]["reason"], report
    assert "not a finite number" in report[("versions", "/poison")]["reason"]
    assert report[("deployment", "bogus")]["path"].endswith("/marathon/docs/deployments/bogus")
    assert "unreadable" in report[("deployment", "bogus")]["reason"]
    metrics = ok(base, "GET", "/marathon/metrics")
    assert metrics["gauges"]["marathon.quarantined.gauge"]["value"] == len(report)
    status, doc = call(base, "GET", f"{APPS}/poison")
    assert status == 409 and "quarantined" in doc["message"], (status, doc)
    log = leader.log_path.read_text(errors="replace")
    assert "QUARANTINED app" in log and "(/poison)" in log and "QUARANTINED job poison-cron" in log
    jobs = {(q["id"], q["path"].rsplit("/", 1)[-1]): q for q in quarantined(base, "metronome")}
    assert set(jobs) == {("poison-bytes", "poison-bytes"), ("poison-cron", "poison-cron")}
    assert "cron" in jobs[("poison-cron", "poison-cron")]["reason"]

    # Other apps and jobs still work: a new app deploys, the good job runs.
    ok(base, "POST", APPS, {**app, "id": "/after", "instances": 1}, want=201)
    wait_for(lambda: running(base, "/after") == 1, 30, "/after running")
    run = ok(base, "POST", f"{JOBS}/good-job/runs", want=201)
    assert ok(base, "GET", f"{JOBS}/good-job/runs/{run['id']}")["status"] != "FAILED"
    # ...and every poison record is still stored, byte for byte (the root was rewritten
    # for /after, with the quarantined app written back into it).
    for path, data in stored.items():
        assert zk.get(path)[0] == data, path
    root_now = marathon.require("root").value
    kept = [a for a in root_now["apps"] if a["id"] == "/poison"]
    assert len(kept) == 1 and math.isnan(kept[0]["cpus"])
    assert {a["id"] for a in root_now["apps"]} >= {"/good", "/after", "/poison"}

    # The way out is an ordinary request, not zkCli.
    ok(base, "DELETE", f"{APPS}/poison")
    wait_for(
        lambda: (
            ("app", "/poison")
            not in {(q["kind"], q.get("id")) for q in quarantined(base, "marathon")}
        ),
        10,
        "/poison out of quarantine",
    )
    assert all(a["id"] != "/poison" for a in marathon.require("root").value["apps"])
    ok(base, "DELETE", "/marathon/v2/deployments/bogus", want=202)
    assert zk.exists(marathon.path("deployments/bogus")) is None
    ok(base, "DELETE", f"{JOBS}/poison-cron")
    assert zk.exists(metronome.path("jobs/poison-cron")) is None
    assert [q["id"] for q in quarantined(base, "metronome")] == ["poison-bytes"]

    # 4. a root group with a garbage field: the next leader rebuilds it from versions.
    cluster.restart(killed)
    root = marathon.require("root").value
    root["garbage"] = {"nested": [1, 2, 3]}
    put_raw(zk, marathon.path("root"), raw_doc(root))
    root_bytes = zk.get(marathon.path("root"))[0]
    killed, leader = fail_over(cluster)
    base = leader.http_url
    stays_up(cluster, leader, killed)
    report = {(q["kind"], q.get("id")): q for q in quarantined(base, "marathon")}
    assert "garbage" in report[("root", None)]["reason"], report
    assert zk.get(marathon.path("root"))[0] == root_bytes
    assert sorted(a["id"] for a in ok(base, "GET", APPS)["apps"]) == ["/after", "/good"]
    assert running(base, "/good") == 2 and running(base, "/after") == 1
    assert {t["id"] for t in ok(base, "GET", f"{APPS}/good")["app"]["tasks"]} == good_tasks
