"""An in-process cluster for the Metronome actor: master actor, simulated agents, the
Metronome actor on the real ZooKeeper, and the REST API through the real gateway.

Local refs stand in for the transport (as in tests/master/test_inprocess_cluster.py);
the wall clock Metronome reads is a `ManualClock`'s ``wall`` the test advances, and its
tick runs every 20 ms of real time, so "every minute" takes one `advance(60)`.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from kazoo.client import KazooClient

from actors.agent import AgentActor, GetAgentState
from actors.gateway import HttpGateway
from actors.master import MasterActor, MasterConfig, MemoryRegistryStore, ServiceContext
from actors.metronome import MetronomeConfig, MetronomeService
from actors.protocol import METRONOME_ACTOR
from actors.resources import Resources
from runtime import ActorRef, ManualClock, Node
from runtime.testing import wait_for

FINISH = {"pydcos.simulated.exit": "TASK_FINISHED"}
FAIL = {"pydcos.simulated.exit": "TASK_FAILED"}


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class MiniCluster:
    node: Node
    zk: KazooClient
    clock: ManualClock
    service: MetronomeService
    gateway: HttpGateway
    agents: Sequence[ActorRef]
    ctx: ServiceContext
    prefix: str = "/metronome"
    started: list[str] = field(default_factory=list)

    def http(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=20)
        try:
            data = raw if raw is not None else (None if body is None else json.dumps(body))
            headers = {"Content-Type": "application/json"} if data is not None else {}
            full = path if path.startswith(("/metronome/", "/service/")) else self.prefix + path
            conn.request(method, full, body=data, headers=headers)
            r = conn.getresponse()
            return Reply(r.status, r.read())
        finally:
            conn.close()

    def get(self, path: str) -> Any:
        r = self.http("GET", path)
        assert r.status == 200, (path, r.status, r.body)
        return r.json()

    def start_metronome(self) -> None:
        for spec in self.service.child_specs(self.ctx):
            self.node.root.start_child(spec)
        wait_for(lambda: self.service.board.view is not None, what="metronome view")

    def stop_metronome(self) -> None:
        """What a revoked leader does: stop the actor (its driver fails over)."""
        self.node.root.terminate_child(METRONOME_ACTOR)
        self.node.root.delete_child(METRONOME_ACTOR)

    def agent_tasks(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for a in self.agents:
            out.update(a.ask(GetAgentState())["tasks"])
        return out

    def run_json(self, job_id: str, run_id: str) -> Any:
        return self.get(f"/v1/jobs/{job_id}/runs/{run_id}")


def _resolver(node: Node) -> Callable[[str], ActorRef]:
    return lambda address: node.ref(address.rsplit("/", 1)[1])


@pytest.fixture
def cluster(zk_client: KazooClient) -> Iterator[MiniCluster]:
    node = Node("metronome-test", on_fatal=lambda reason: None)
    resolve = _resolver(node)
    node.spawn(
        MasterActor,
        "m1",
        MemoryRegistryStore(),
        address="tcp://h:1/master",
        config=MasterConfig(ping_interval=0.2),
        resolve=resolve,
        name="master",
    )
    agents = [
        node.spawn(
            AgentActor,
            hostname=f"agent{i}",
            address=f"tcp://h:1/agent{i}",
            resources=Resources.parse("cpus:4;mem:4096"),
            master="tcp://h:1/master",
            resolve=resolve,
            update_retry_interval=0.2,
            name=f"agent{i}",
        )
        for i in range(2)
    ]
    clock = ManualClock(wall_start=1_700_000_000.0)
    service = MetronomeService(
        MetronomeConfig(tick_interval=0.02, reconcile_interval=3600.0, revive_interval=0.05),
        clock=clock.wall,
        actor_kwargs={
            "resolve": resolve,
            "address": "tcp://h:1/metronome",
        },
    )
    ctx = ServiceContext(node=node, zk=zk_client, master_address="tcp://h:1/master", hostname="t")
    gateway = HttpGateway(
        leader=lambda: None, is_leader=lambda: True, master=lambda: node.ref("master")
    )
    gateway.add_leader_routes(service.prefixes, service.routes(ctx))
    gateway.start()
    mc = MiniCluster(node, zk_client, clock, service, gateway, agents, ctx)
    mc.start_metronome()
    try:
        yield mc
    finally:
        gateway.stop()
        node.shutdown(timeout=5)
