"""Bad input across the wire: the master refuses it, says why, and keeps serving."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq

from actors import protocol as p
from tests.e2e._tasks import task
from tests.e2e.conftest import E2ECluster, Framework, Proc, http_get, http_request, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]


def update(fw: Framework, task_id: str, timeout: float = 20.0) -> p.StatusUpdate:
    """The first status update of ``task_id``."""
    return wait_for(lambda: fw.sched.of(task_id) and fw.sched.of(task_id)[0], timeout, task_id)


def test_invalid_launches_are_refused_with_a_reason_and_the_master_serves_the_next_valid_one(
    cluster: E2ECluster,
) -> None:
    """Mesos validates every LAUNCH before it reaches an agent: an invalid offer drops the
    whole call (FrameworkError + TASK_DROPPED/REASON_INVALID_OFFERS); an invalid task is
    TASK_ERROR/REASON_TASK_INVALID with a message naming the field and the value; the
    valid tasks of the same call are launched."""
    cluster.start(masters=1, agents=1)
    fw = cluster.framework("careless")
    driver = fw.driver

    # An offer id that was never made.
    offer = fw.wait_offers()[0]
    agent_id = offer.agent_id
    driver.launch(["no-such-offer"], [task("ghost", agent_id)])
    ghost = update(fw, "ghost")
    assert (ghost.state, ghost.reason) == ("TASK_DROPPED", "REASON_INVALID_OFFERS")
    assert "unknown offer 'no-such-offer'" in ghost.message
    wait_for(lambda: fw.sched.errors, 10, "FrameworkError")
    assert "offer_ids: unknown offer 'no-such-offer'" in fw.sched.errors[0]

    # One call mixing every kind of bad task with good ones.
    bad: dict[str, dict[str, object]] = {
        "too-big": {"cpus": 1000.0, "mem": 32.0},  # more than was offered
        "negative": {"cpus": -1.0, "mem": 32.0},
        "absurd": {"cpus": 1e308, "mem": 32.0},
        "not-a-number": {"cpus": float("nan"), "mem": 32.0},
        "infinite": {"mem": float("inf")},
        "wrong-type": {"cpus": 0.1, "mem": "lots"},
        "reversed-ports": {"cpus": 0.1, "ports": [[31010, 31000]]},
        "nothing": {},
    }
    tasks = [task(tid, agent_id, resources=res) for tid, res in bad.items()]
    tasks += [
        task("twice", agent_id),
        task("twice", agent_id),  # the same id again in the same call
        task("elsewhere", "agent-that-does-not-exist"),
        task("fine-1", agent_id),
    ]
    driver.launch([offer.offer_id], tasks)
    for tid in [*bad, "elsewhere"]:
        u = update(fw, tid)
        assert (u.state, u.reason, u.source) == (
            "TASK_ERROR",
            "REASON_TASK_INVALID",
            "SOURCE_MASTER",
        ), u
    messages = {tid: update(fw, tid).message for tid in [*bad, "elsewhere"]}
    assert "exceed what is left of the offers" in messages["too-big"]
    assert "cpus" in messages["negative"] and "-1" in messages["negative"]
    assert "cpus" in messages["absurd"], messages["absurd"]
    assert "cpus" in messages["not-a-number"] and "nan" in messages["not-a-number"]
    assert "mem" in messages["infinite"] and "inf" in messages["infinite"]
    assert "mem" in messages["wrong-type"] and "lots" in messages["wrong-type"]
    assert "ports" in messages["reversed-ports"], messages["reversed-ports"]
    assert "empty" in messages["nothing"]
    assert "agent_id 'agent-that-does-not-exist'" in messages["elsewhere"]
    wait_for(lambda: len(fw.sched.of("twice")) >= 2, 20, "both 'twice' tasks answered")
    twice = sorted(fw.sched.states("twice"))
    assert twice[:2] == ["TASK_ERROR", "TASK_RUNNING"], twice
    err = next(u for u in fw.sched.of("twice") if u.state == "TASK_ERROR")
    assert "task_id: 'twice' is already used by a live task" in err.message
    assert update(fw, "fine-1").state == "TASK_RUNNING"

    # The offer is used up now: accepting it again is an unknown offer; a live id reused
    # in a later call is refused too.
    driver.launch([offer.offer_id], [task("late", agent_id)])
    assert update(fw, "late").state == "TASK_DROPPED"
    offer = fw.wait_offers()[0]
    driver.launch([offer.offer_id], [task("fine-1", agent_id), task("fine-2", agent_id)])
    wait_for(lambda: len(fw.sched.of("fine-1")) >= 2, 20, "fine-1 answered again")
    again = fw.sched.of("fine-1")[1]
    assert again.state == "TASK_ERROR" and "already used by a live task" in again.message
    assert update(fw, "fine-2").state == "TASK_RUNNING"

    # Only the valid tasks ever reached the agent.
    live = {tid for tid, t in cluster.tasks().items() if t["state"] == "TASK_RUNNING"}
    assert live == {"twice", "fine-1", "fine-2"}
    assert cluster.leader().alive and cluster.agents[0].alive


def garbage_frames() -> list[list[bytes]]:
    """Multipart messages a confused or hostile peer might send to a ROUTER."""
    envelope_like = msgpack.packb([1, 7, None, "tcp://127.0.0.1:1", None, "master", 1, "", {}])
    wrong_type = msgpack.packb(
        [1, 8, None, "tcp://127.0.0.1:1", None, "master", 1, "no.such.Type", {"a": 1}]
    )
    bad_fields = msgpack.packb(
        [1, 9, None, "tcp://127.0.0.1:1", None, "master", 1, "actors.protocol.Accept", {"x": 1}]
    )
    wrong_field_types = msgpack.packb(
        [
            1,
            10,
            None,
            "tcp://127.0.0.1:1",
            None,
            "master",
            1,
            "actors.protocol.Accept",
            {"framework_id": 3, "offer_ids": "x", "operations": None, "refuse_seconds": "y"},
        ]
    )
    return [
        [b""],
        [b"\x00"],
        [os.urandom(64)],
        [os.urandom(4096), os.urandom(17), b""],
        [b"\xc1" * 100],  # a byte msgpack never uses
        [b"\xdd\xff\xff\xff\xff"],  # an array announcing 4 G elements
        [struct.pack(">BI", 0xDB, 2**31) + b"x"],  # a str announcing 2 GB
        [msgpack.packb({"hello": "master"})],
        [msgpack.packb([1, 2, 3])],
        [envelope_like, wrong_type],
        [bad_fields, wrong_field_types],
        [os.urandom(3 * 1024 * 1024)],  # an oversized frame
    ]


def test_garbage_frames_on_the_masters_transport_port_do_not_take_it_down(
    cluster: E2ECluster,
) -> None:
    """ARCHITECTURE.md: decoding is strict, and a bad frame is rejected and counted; it
    never kills the receiving process. Send every kind of junk with a raw DEALER."""
    cluster.start(masters=1, agents=1)
    leader = cluster.leader()
    before = cluster.get("state", leader)
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, 5000)
        sock.connect(leader.address)
        for _ in range(3):
            for frames in garbage_frames():
                sock.send_multipart(frames)
        # A second connection that sends half a multipart and hangs up.
        other = ctx.socket(zmq.DEALER)
        other.setsockopt(zmq.LINGER, 1000)
        other.connect(leader.address)
        other.send(b"first part", zmq.SNDMORE)
        other.send(os.urandom(10))
        other.close()
        sock.close()
    finally:
        ctx.term()

    # Still the leader, still answering HTTP, and still serving frameworks.
    def answers() -> bool:
        r = http_get(f"{leader.http_url}/mesos/master/state")
        return r.status == 200 and r.json()["activated_slaves"] == 1

    wait_for(answers, 20, "the master to answer /mesos/master/state")
    assert leader.alive and cluster.leader() is leader
    # Not even the master actor restarted (a restart would rebuild it from the registry).
    after = cluster.get("state", leader)
    assert (after["id"], after["start_time"]) == (before["id"], before["start_time"])
    fw = cluster.framework("after-garbage")
    offer = fw.wait_offers()[0]
    fw.driver.launch([offer.offer_id], [task("still-works", offer.agent_id)])
    assert update(fw, "still-works").state == "TASK_RUNNING"
    assert leader.alive


# ------------------------------------------------- issue 30: poison input over HTTP
#
# One cluster for the whole table (3 masters, no agents: seeded apps have 0 instances, so
# nothing runs and every GET is stable). Each row sends one bad body to one endpoint and
# checks: the status, that the answer names the field, that Marathon's apps and groups
# and Metronome's jobs read the same before and after, and that every master is up.

POISON_APP = {"id": "/keep", "cmd": "sleep 100", "cpus": 0.1, "mem": 32, "instances": 0}
POISON_GROUP = {"id": "/grp", "apps": [{"id": "/grp/a", "cmd": "sleep 100", "instances": 0}]}
POISON_JOB = {"id": "keep", "run": {"cmd": "sleep 1", "cpus": 0.1, "mem": 32}}


@pytest.fixture(scope="module")
def poison_cluster(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    c = E2ECluster(zk_hosts, f"/poison-{os.getpid()}", tmp_path_factory.mktemp("poison"))
    try:
        c.start(masters=3, agents=0)
        leader = c.leader()
        for method, path, body in [
            ("POST", "/marathon/v2/apps", POISON_APP),
            ("POST", "/marathon/v2/groups", POISON_GROUP),
            ("POST", "/metronome/v1/jobs", POISON_JOB),
        ]:
            status, answer = _send(leader, method, path, json.dumps(body).encode())
            assert status == 201, (path, status, answer)
        wait_for(lambda: _deployments(c) == [], 30, "the seed deployments to finish")
        yield c
    except Exception:
        print(c.log_tails())
        raise
    finally:
        c.stop_all()


def _send(master: Proc, method: str, path: str, body: bytes) -> tuple[int, Any]:
    r = http_request(master.http_url + path, method, body, timeout=20)
    try:
        return r.status, r.json()
    except ValueError:
        return r.status, r.body.decode(errors="replace")


def _deployments(c: E2ECluster) -> Any:
    return http_get(f"{c.leader().http_url}/marathon/v2/deployments").json()


def _stored(c: E2ECluster) -> dict[str, Any]:
    """What a user can read back of everything stored."""
    base = c.leader().http_url
    out = {}
    for path in (
        "/marathon/v2/apps",
        "/marathon/v2/groups",
        "/marathon/v2/deployments",
        "/metronome/v1/jobs?embed=schedules",
    ):
        r = http_get(base + path)
        assert r.status == 200, (path, r.status, r.body[:300])
        out[path] = r.json()
    return out


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# (name, the field's raw JSON text, where it goes, expected status, what the answer names)
_FIELDS: list[tuple[str, str, str, int, str]] = [
    ("nan", "NaN", "cpus", 400, "cpus"),
    ("infinity", "Infinity", "mem", 400, "mem"),
    ("minus-infinity", "-Infinity", "disk", 400, "disk"),
    ("1e309", "1e309", "cpus", 400, "cpus"),
    ("huge-int", str(10**30), "cpus", 422, "cpus"),
    ("negative", "-1", "cpus", 422, "cpus"),
    ("zero-cpus", "0", "cpus", 422, "cpus"),
    ("mem-16", "16", "mem", 422, "mem"),
    ("deep-1000", _nested(1000), "env", 400, "nested deeper"),
    ("deep-100000", _nested(100_000), "env", 400, "nested deeper"),
]
_APP_ONLY: list[tuple[str, str, str, int, str]] = [
    ("instances-1e12", str(10**12), "instances", 422, "instances"),
    ("instances-huge", str(10**30), "instances", 422, "instances"),
    ("instances-negative", "-1", "instances", 422, "instances"),
    ("port-70000", "[70000]", "ports", 422, "ports"),
    ("health-checks-17", json.dumps([{"protocol": "TCP"}] * 17), "healthChecks", 422, "health"),
]
_IDS: list[tuple[str, str]] = [
    ("dot-dot", "/keep/../other"),
    ("dot", "/./keep"),
    ("nul", "/ke\u0000ep"),
    ("control", "/ke\u0001ep"),
    ("newline", "/keep\n"),
    ("uppercase", "/KEEP"),
    ("5000-chars", "/" + "a" * 5000),
]
_JOB_IDS: list[tuple[str, str]] = [
    ("dot-dot", "a..b"),
    ("nul", "ke\u0000ep"),
    ("control", "ke\u0001ep"),
    ("newline", "keep\n"),
    ("uppercase", "KEEP"),
    ("5000-chars", "a" * 5000),
]


def _with(doc: dict[str, Any], field: str, raw: str) -> str:
    """``doc`` as JSON text with ``"field": raw`` added (raw may be any JSON text, even
    the NaN Python's json would write)."""
    text = json.dumps({k: v for k, v in doc.items() if k != field})
    return f'{text[:-1]}, "{field}": {raw}}}'


def _cases() -> list[Any]:
    app = {k: v for k, v in POISON_APP.items()}
    cases = []
    for name, raw, field, status, says in _FIELDS + _APP_ONLY:
        cases.append(
            pytest.param(
                "POST",
                "/marathon/v2/apps",
                _with(app, field, raw),
                status,
                says,
                id=f"app-post-{name}",
            )
        )
        body = _with({k: v for k, v in app.items() if k != "id"}, field, raw)
        cases.append(
            pytest.param("PUT", "/marathon/v2/apps/keep", body, status, says, id=f"app-put-{name}")
        )
        cases.append(
            pytest.param(
                "PATCH",
                "/marathon/v2/apps/keep",
                "{" + f'"{field}": {raw}' + "}",
                status,
                says,
                id=f"app-patch-{name}",
            )
        )
        inner = _with({"id": "b", "cmd": "x", "instances": 0}, field, raw)
        group = '{"id": "/grp", "apps": [' + inner + "]}"
        cases.append(
            pytest.param(
                "PUT", "/marathon/v2/groups/grp", group, status, says, id=f"group-put-{name}"
            )
        )
        cases.append(
            pytest.param(
                "POST",
                "/marathon/v2/groups",
                group.replace('"/grp"', '"/grp2"'),
                status,
                says,
                id=f"group-post-{name}",
            )
        )
        if (name, raw, field, status, says) in _FIELDS:
            run = _with({"cmd": "x"}, field, raw)
            job = '{"id": "keep", "run": ' + run + "}"
            cases.append(
                pytest.param(
                    "PUT", "/metronome/v1/jobs/keep", job, status, says, id=f"job-put-{name}"
                )
            )
            cases.append(
                pytest.param(
                    "POST",
                    "/metronome/v1/jobs",
                    job.replace('"keep"', '"new"'),
                    status,
                    says,
                    id=f"job-post-{name}",
                )
            )
    for name, bad in _IDS:
        raw = json.dumps(bad)
        cases.append(
            pytest.param(
                "POST",
                "/marathon/v2/apps",
                _with(app, "id", raw),
                422,
                "/id",
                id=f"app-post-id-{name}",
            )
        )
        cases.append(
            pytest.param(
                "PUT",
                "/marathon/v2/apps/keep",
                _with(app, "id", raw),
                422,
                "/id",
                id=f"app-put-id-{name}",
            )
        )
        cases.append(
            pytest.param(
                "POST",
                "/marathon/v2/groups",
                '{"id": ' + raw + "}",
                422,
                "/id",
                id=f"group-post-id-{name}",
            )
        )
    for name, bad in _JOB_IDS:
        job = '{"id": ' + json.dumps(bad) + ', "run": {"cmd": "x"}}'
        cases.append(
            pytest.param("POST", "/metronome/v1/jobs", job, 422, "/id", id=f"job-post-id-{name}")
        )
    cases.append(
        pytest.param("PUT", "/marathon/v2/apps/KEEP", "{}", 422, "/id", id="app-put-url-uppercase")
    )
    cases.append(
        pytest.param(
            "PUT",
            "/metronome/v1/jobs/KEEP",
            '{"run": {"cmd": "x"}}',
            422,
            "/id",
            id="job-put-url-uppercase",
        )
    )
    return cases


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), _cases())
def test_poison_input_is_refused_naming_the_field_and_changes_nothing(
    poison_cluster: E2ECluster, method: str, path: str, body: str, status: int, says: str
) -> None:
    """Issue 30: `"cpus": NaN` was stored and then killed every master that loaded it;
    10^12 instances, 5,000-character ids, `/a/../b` and mem 16 were stored; 100,000
    levels of nesting answered 500. Each is refused before anything is stored."""
    c = poison_cluster
    before = _stored(c)
    got, answer = _send(c.leader(), method, path, body.encode())
    assert got == status, (got, answer)
    text = json.dumps(answer)
    assert says in text, answer
    if isinstance(answer, dict) and "details" in answer:
        assert answer["details"] and all(d["path"] for d in answer["details"]), answer
    assert _stored(c) == before
    assert all(m.alive for m in c.masters), [m.name for m in c.masters if not m.alive]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/marathon/v2/apps/keep", '{"disk": -0}'),
        ("PATCH", "/marathon/v2/apps/keep", '{"disk": -0.0}'),
        (
            "PUT",
            "/metronome/v1/jobs/keep",
            '{"run": {"cmd": "sleep 1", "cpus": 0.1, "mem": 32, "disk": -0.0}}',
        ),
    ],
)
def test_minus_zero_is_zero(poison_cluster: E2ECluster, method: str, path: str, body: str) -> None:
    """-0 is 0 where 0 is allowed: accepted, and stored as the 0 that was there."""
    c = poison_cluster
    got, answer = _send(c.leader(), method, path, body.encode())
    assert got in (200, 201), (got, answer)
    wait_for(lambda: _deployments(c) == [], 30, "no deployment left")
    stored = _stored(c)
    apps = {a["id"]: a for a in stored["/marathon/v2/apps"]["apps"]}
    assert apps["/keep"]["disk"] == 0 and str(apps["/keep"]["disk"]) in ("0", "0.0")
    jobs = {j["id"]: j for j in stored["/metronome/v1/jobs?embed=schedules"]}
    assert jobs["keep"]["run"]["disk"] == 0 and str(jobs["keep"]["run"]["disk"]) == "0.0"
    assert all(m.alive for m in c.masters)
