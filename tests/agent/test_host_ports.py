"""Host ports another process holds are never given to a task (issue 17, item 9).

The incident: with a second cluster running on the same machine, apps of the test suite
never reached RUNNING. Both clusters' agents offered the same fixed port ranges; a port
the other cluster's task listened on was offered anyway, Marathon took the lowest
offered port, the launch failed on it ("port 31000 is not free"), and every retry was
given the same busy port again.

Now an agent leaves ports another process holds out of what it registers and tells the
master when that set changes (``UpdateAgent``, Mesos' UpdateSlaveMessage); a port taken
between the offer and the launch fails the task naming the port, and the agent stops
offering it before the framework hears of the failure.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors import protocol as p
from actors.agent import AgentActor, Containerizers, ContainerRunner, GetAgentState, _ports
from actors.master._master_core import MasterConfig, MasterCore, Send
from actors.resources import Resources
from runtime import ActorRef, Node
from tests._wait import wait_for
from tests.agent.conftest import RecordingMaster, acking
from tests.marathon.test_marathon_e2e import APPS, E2E, _app

MASTER = "tcp://h:1/master"
AGENT = "tcp://h:1/agent"
FW = "fw-1"

# ------------------------------------------------------------------------------ pure

TCP_TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid
   0: 0100007F:7918 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0
   1: 00000000:7A1D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0
   2: 0100007F:8CA4 0100007F:7918 01 00000000:00000000 00:00000000 00000000     0
"""
TCP6_TABLE = """\
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:7919 00000000000000000000000000000000:0000 0A
"""


def test_the_kernels_socket_tables_name_every_local_port() -> None:
    assert _ports.ports_in_table(TCP_TABLE) == {0x7918, 0x7A1D, 0x8CA4}
    assert _ports.ports_in_table(TCP6_TABLE) == {31001}
    assert _ports.ports_in_table("header only\n") == set()


def test_ports_are_taken_out_of_every_roles_ranges() -> None:
    r = Resources.parse("cpus:1;ports:[31000-31005];ports(web):[32000-32002]")
    out = _ports.without_ports(r, {31000, 31003, 32001, 40000})
    assert out.ranges("ports", "*") == ((31001, 31002), (31004, 31005))
    assert out.ranges("ports", "web") == ((32000, 32000), (32002, 32002))
    assert out.scalar("cpus") == 1
    assert _ports.without_ports(r, set()) is r
    assert _ports.to_ranges([5, 3, 4, 9]) == [[3, 5], [9, 9]]


def test_a_listener_makes_its_port_busy_and_only_the_candidates_are_probed() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert _ports.in_use(port)
        assert _ports.busy_ports([port]) == {port}
        # Not in the socket tables given: not probed, whatever the port's state.
        assert _ports.busy_ports([port], with_sockets=set()) == set()
        assert _ports.first_busy([port]) == f"port {port} is already in use on this host"


# ------------------------------------------------------------------------------ master


def test_master_rescinds_offers_and_offers_the_agents_new_total() -> None:
    """Mesos' UpdateSlaveMessage: offers of the old total are rescinded, the next one
    comes from the new total."""
    now = 1000.0
    core = MasterCore("m1", MasterConfig(), now=now)
    addr, fw = "tcp://127.0.0.1:7001/agent", "tcp://127.0.0.1:7100/sched"
    res = Resources.parse("cpus:2;mem:1024;ports:[31000-31002]")
    out = core.handle(p.RegisterAgent("a1", addr, res.to_dict()), now)
    aid = next(e.message.agent_id for e in out if isinstance(e, Send))
    core.handle(p.Subscribe(p.FrameworkInfo("t", ["*"], 60.0), fw), now)

    def offers(at: float) -> list[p.Offer]:
        sent = [e.message for e in core.tick(at) if isinstance(e, Send)]
        return [o for m in sent if isinstance(m, p.Offers) for o in m.offers]

    first = offers(now + 1)
    assert [Resources.from_dict(o.resources).ranges("ports") for o in first] == [((31000, 31002),)]
    smaller = _ports.without_ports(res, {31000})
    out = core.handle(p.UpdateAgent(aid, smaller.to_dict()), now + 2)
    rescinds = [e.message for e in out if isinstance(e, Send) and isinstance(e.message, p.Rescind)]
    assert [r.offer_id for r in rescinds] == [first[0].offer_id]
    again = offers(now + 3)
    assert [Resources.from_dict(o.resources).ranges("ports") for o in again] == [((31001, 31002),)]
    # Unknown agents and malformed totals change nothing.
    assert core.handle(p.UpdateAgent("nobody", res.to_dict()), now + 4) == []
    core.handle(p.UpdateAgent(aid, {"ports": [[5, 1]]}), now + 4)
    assert core.agents[aid].total == smaller


# ------------------------------------------------------------------------------ agent


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("test")
    yield n
    n.shutdown(timeout=5)


def start_agent(
    node: Node, work: Path, ports: str, log: list[Any], check_interval: float
) -> ActorRef:
    node.spawn(RecordingMaster, log, name="master")
    runner = ContainerRunner(
        Containerizers(work, ["mesos"], cgroup_root=f"pydcos-test-{os.getpid()}")
    )
    agent = node.spawn(
        AgentActor,
        hostname="h",
        address=AGENT,
        resources=Resources.parse(f"cpus:2;mem:1024;ports:{ports}"),
        runner=runner,
        master=MASTER,
        work_dir=str(work),
        resolve=lambda address: node.ref(address.rsplit("/", 1)[1]),
        register_retry_interval=0.2,
        port_check_interval=check_interval,
        name="agent",
    )
    wait_for(lambda: agent.ask(GetAgentState(), timeout=5)["registered"], 10, "registration")
    return agent


def task(task_id: str, port: int, command: str = "sleep 600") -> p.TaskInfo:
    res = Resources.parse(f"cpus:0.1;mem:32;ports:[{port}-{port}]")
    return p.TaskInfo(task_id, task_id, "agent-1", res.to_dict(), p.CommandSpec(command))


def ports_of(message: Any) -> set[int]:
    return set(_ports.offered_ports(Resources.from_dict(message.resources)))


def test_a_port_held_before_registration_is_not_registered(node: Node, tmp_path: Path) -> None:
    with socket.socket() as held, socket.socket() as spare:
        held.bind(("0.0.0.0", 0))
        held.listen()
        spare.bind(("0.0.0.0", 0))
        busy, free = held.getsockname()[1], spare.getsockname()[1]
        spare.close()
        log: list[Any] = []
        start_agent(node, tmp_path, f"[{busy}-{busy},{free}-{free}]", log, 600.0)
        reg = next(m for m in log if isinstance(m, p.RegisterAgent))
        assert ports_of(reg) == {free}


def test_a_port_taken_after_the_offer_fails_the_task_naming_it(node: Node, tmp_path: Path) -> None:
    """The race: the port was free when offered and is taken before the launch. The
    task fails saying which port, and the agent withdraws the port BEFORE the failure
    reaches the master (so the framework's retry is never offered it again); once the
    port is free again it is offered again, and a port the agent's own task listens on
    stays offered (the master accounts for it)."""
    log: list[Any] = []
    with socket.socket() as held, socket.socket() as spare:
        # Bound but not listening: invisible in the socket tables, so still offered.
        held.bind(("0.0.0.0", 0))
        spare.bind(("0.0.0.0", 0))
        taken, own = held.getsockname()[1], spare.getsockname()[1]
        spare.close()
        agent = start_agent(node, tmp_path, f"[{taken}-{taken},{own}-{own}]", log, 0.2)
        reg = next(m for m in log if isinstance(m, p.RegisterAgent))
        assert ports_of(reg) == {taken, own}
        held.listen()  # the other process starts serving on it
        with acking(lambda: [m for m in list(log) if isinstance(m, p.StatusUpdate)], lambda: agent):
            agent.tell(p.RunTask(FW, "tcp://fw:1/fw", task("t1", taken)))
            failed = wait_for(
                lambda: next(
                    (m for m in list(log) if isinstance(m, p.StatusUpdate) and m.task_id == "t1"),
                    None,
                ),
                20,
                "t1's status update",
            )
            assert failed.state == "TASK_FAILED"
            assert failed.reason == "REASON_CONTAINER_LAUNCH_FAILED"
            assert failed.message == f"port {taken} is already in use on this host"
            update = next(m for m in log if isinstance(m, p.UpdateAgent))
            assert log.index(update) < log.index(failed)
            assert ports_of(update) == {own}

            # The agent's own task listens on `own`: not "another process".
            # busybox, not sys.executable: a native task has a private /tmp, and a clone
            # (and its venv) under /tmp is not there inside the task.
            server = f"exec /bin/busybox httpd -f -p 127.0.0.1:{own} -h /bin"
            agent.tell(p.RunTask(FW, "tcp://fw:1/fw", task("t2", own, server)))
            wait_for(lambda: _ports.in_use(own), 20, "t2 listening")
    # `taken` is free again: offered again, with `own` still in.
    back = wait_for(
        lambda: [m for m in list(log) if isinstance(m, p.UpdateAgent) and taken in ports_of(m)],
        10,
        "the freed port offered again",
    )
    assert ports_of(back[0]) == {taken, own}
    assert agent.ask(GetAgentState(), timeout=5)["tasks"]["t2"] == "TASK_RUNNING"
    agent.tell(p.KillTask(FW, "t2", 0.5))
    wait_for(lambda: not _ports.in_use(own), 20, "t2 killed")


# ------------------------------------------------------------------------------ end to end


@pytest.fixture
def e2e(zk_hosts: str, zk_chroot: str, zk_client: Any, tmp_path: Path) -> Iterator[E2E]:
    cluster = E2E(f"{zk_hosts}{zk_chroot}", tmp_path, zk_client)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.slow
@pytest.mark.zk
def test_marathon_app_runs_beside_a_process_holding_the_lowest_offered_port(e2e: E2E) -> None:
    """Before the fix the app never ran: Marathon took the lowest offered port, busy,
    on every retry."""
    with socket.socket() as a, socket.socket() as b:
        a.bind(("0.0.0.0", 0))
        b.bind(("0.0.0.0", 0))
        busy, free = sorted((a.getsockname()[1], b.getsockname()[1]))
        held = a if a.getsockname()[1] == busy else b
        held.listen()
        (b if held is a else a).close()
        e2e.master()
        e2e.agent(f"cpus:2;mem:512;ports:[{busy}-{busy},{free}-{free}]", containerizers="mesos")
        http = e2e.http()
        wait_for(lambda: http.get("/marathon/v2/info")["frameworkId"], what="Marathon up")
        app = {"id": "p", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "backoffSeconds": 1}
        assert http("POST", APPS, app)[0] == 201
        running = wait_for(
            lambda: [t for t in _app(http, "/p")["tasks"] if t["state"] == "TASK_RUNNING"],
            timeout=30,
            what=f"running (held port {busy})",
        )
        assert running[0]["ports"] == [free]
        assert _app(http, "/p").get("lastTaskFailure") is None
