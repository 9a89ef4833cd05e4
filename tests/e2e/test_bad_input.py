"""Bad input across the wire: the master refuses it, says why, and keeps serving."""

from __future__ import annotations

import os
import struct

import msgpack
import pytest
import zmq

from actors import protocol as p
from tests.e2e._tasks import task
from tests.e2e.conftest import E2ECluster, Framework, http_get, wait_for

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
