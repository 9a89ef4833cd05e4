"""The cluster actors framework's decisions, on a manual clock (no I/O)."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from actors import protocol as p
from actors.cluster_actors._core import (
    ActorsCore,
    AgentGone,
    Assign,
    Changed,
    ClaimName,
    CoreConfig,
    Decline,
    ForgetActor,
    Kill,
    KillTask,
    Launch,
    Offers,
    OwnerDown,
    Reconcile,
    Registered,
    RegisterWorker,
    ReleaseName,
    Reply,
    Revive,
    SaveActor,
    SaveCheckpoint,
    Spawn,
    StopWorker,
    Supervise,
    Suppress,
    TaskStatus,
    Tick,
    Watch,
    Watchers,
    WorkerFailed,
    WorkerLost,
    WorkerReady,
)
from actors.cluster_actors._errors import InvalidActorSpec
from actors.cluster_actors._model import ActorConfig, ActorRecord, ActorState, Group
from actors.resources import Resources

OWNER = "tcp://127.0.0.1:5000/script"
_ids = itertools.count(1)


def offer(agent: str = "a1", cpus: float = 4, mem: float = 4096, **attrs: str) -> p.Offer:
    return p.Offer(
        offer_id=f"o{next(_ids)}",
        framework_id="fw",
        agent_id=agent,
        hostname=f"host-{agent}",
        resources=Resources.from_scalars({"cpus": cpus, "mem": mem, "disk": 1000}).to_dict(),
        attributes=dict(attrs),
    )


def config(**kw: Any) -> ActorConfig:
    base: dict[str, Any] = {"class_name": "app:Counter", "owner": OWNER}
    base.update(kw)
    return ActorConfig.checked(**base)


class Sim:
    """A core, a manual clock and helpers that play the master and the workers."""

    def __init__(self, **cfg: Any) -> None:
        cfg.setdefault("warm_per_agent", 0)  # the warm pool: tests/cluster_actors/test_core_warm.py
        self.core = ActorsCore(CoreConfig(**cfg))
        self.now = 100.0
        self.wall = 1_700_000_000.0
        self.effects: list[Any] = []

    def do(self, event: Any) -> list[Any]:
        out = self.core.handle(event, self.now, self.wall)
        self.effects.extend(out)
        return out

    def advance(self, seconds: float) -> list[Any]:
        self.now += seconds
        self.wall += seconds
        return self.do(Tick())

    def spawn(self, **kw: Any) -> str:
        gie = kw.pop("get_if_exists", False)
        out = self.do(Spawn(f"r{next(_ids)}", config(**kw), gie))
        reply = next(e for e in out if isinstance(e, Reply))
        assert reply.error is None, reply
        assert reply.actor_id is not None
        return reply.actor_id

    def place(self, agent: str = "a1", **kw: Any) -> list[p.TaskInfo]:
        out = self.do(Offers((offer(agent, **kw),)))
        return [t for e in out if isinstance(e, Launch) for t in e.tasks]

    def run(self, actor_id: str) -> None:
        """The current incarnation's worker registers and becomes ready."""
        r = self.core.actors[actor_id]
        out = self.do(RegisterWorker(actor_id, r.incarnation, f"tcp://w/{actor_id}", "ctl"))
        assert Assign("ctl", actor_id, r.incarnation) in out
        self.do(WorkerReady(actor_id, r.incarnation, f"tcp://w:{r.incarnation}/actor"))
        assert self.core.actors[actor_id].state is ActorState.RUNNING

    def end(
        self, actor_id: str, state: str = "TASK_FAILED", reason: str | None = None
    ) -> list[Any]:
        r = self.core.actors[actor_id]
        assert r.task_id is not None
        return self.do(TaskStatus(r.task_id, state, r.agent_id or "", reason, "exit 137"))

    def state(self, actor_id: str) -> str:
        r = self.core.get(actor_id)
        assert r is not None
        return self.core.shown_state(r)


# -- specs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("cpus", 0, "cpus"),
        ("mem", "lots", "mem"),
        ("restart", "sometimes", "restart"),
        ("lifetime", "forever", "lifetime"),
        ("max_restarts", -2, "max_restarts"),
        ("constraints", [["zone", "NEAR", "a"]], "constraints[0]"),
        ("constraints", [["zone"]], "constraints[0]"),
        ("name", "a/b", "name"),
        ("code_sha", "abc", "code_sha"),
    ],
)
def test_a_bad_field_is_refused_by_name(field: str, value: Any, named: str) -> None:
    with pytest.raises(InvalidActorSpec, match="^" + re.escape(named)) as info:
        config(**{field: value})
    assert repr(value)[:20] in str(info.value) or named.startswith("constraints")


def test_an_owned_actor_needs_an_owner() -> None:
    with pytest.raises(InvalidActorSpec, match="owner"):
        ActorConfig.checked(class_name="C", lifetime="owned")
    assert ActorConfig.checked(class_name="C", lifetime="detached").owner == ""


def test_a_record_survives_its_document() -> None:
    sim = Sim()
    a = sim.spawn(name="c", constraints=[["zone", "IS", "a"]], max_restarts=-1)
    sim.place()
    r = sim.core.actors[a]
    back = ActorRecord.from_doc(r.to_doc())
    assert back.to_doc() == r.to_doc()
    assert back.spec.constraints == r.spec.constraints


# -- placement -------------------------------------------------------------------------


def test_spawn_is_persisted_named_and_answered_at_once() -> None:
    sim = Sim()
    out = sim.do(Spawn("r1", config(name="counter")))
    kinds = [type(e) for e in out]
    assert kinds.index(SaveActor) < kinds.index(ClaimName) < kinds.index(Reply)
    assert Watch(OWNER) in out
    reply = next(e for e in out if isinstance(e, Reply))
    assert sim.state(reply.actor_id or "") == "PENDING"


def test_an_offer_launches_the_worker_task_with_the_actor_resources() -> None:
    sim = Sim(worker_command=("py", "-m", "runtime.worker", "--framework", "F"))
    a = sim.spawn(cpus=0.5, mem=128)
    out = sim.do(Offers((offer("a1"),)))
    assert isinstance(out[0], SaveActor) and out[0].record["state"] == "STARTING"
    (task,) = [t for e in out if isinstance(e, Launch) for t in e.tasks]
    assert task.task_id == f"{a}.1"
    assert Resources.from_dict(task.resources).scalars()["cpus"] == 0.5
    assert task.command is not None
    assert task.command.args[:5] == ["py", "-m", "runtime.worker", "--framework", "F"]
    assert task.command.args[5:] == [
        "--actor-id",
        a,
        "--incarnation",
        "1",
        "--task-id",
        task.task_id,
    ]
    assert task.labels["pydcos.actor.id"] == a


def test_one_offer_places_several_actors_while_resources_last() -> None:
    sim = Sim()
    ids = [sim.spawn(cpus=1, mem=256) for _ in range(3)]
    tasks = sim.place(cpus=2.5, mem=4096)
    assert [t.task_id for t in tasks] == [f"{ids[0]}.1", f"{ids[1]}.1"]
    assert sim.state(ids[2]) == "PENDING"


def test_constraints_pick_the_agent() -> None:
    sim = Sim()
    a = sim.spawn(constraints=[["zone", "IS", "zone-b"]])
    out = sim.do(Offers((offer("a1", zone="zone-a"),)))
    assert isinstance(out[-1], Decline) and "zone" in out[-1].reason
    assert sim.place("a2", zone="zone-b")
    assert sim.core.actors[a].agent_id == "a2"


def test_no_offer_that_fits_fails_the_spawn_naming_the_resource() -> None:
    sim = Sim()
    a = sim.spawn(mem=99999, placement_timeout=5)
    sim.place("a1", mem=4096)
    sim.advance(4.0)
    assert sim.state(a) == "PENDING"
    out = sim.advance(1.5)
    assert sim.state(a) == "FAILED"
    assert ForgetActor(a) in out and Changed(a) in out
    why = sim.core.get(a).last_exit  # type: ignore[union-attr]
    assert "mem=99999" in why and "host-a1/a1: mem: need 99999" in why


def test_an_unmet_constraint_is_named_when_the_spawn_fails() -> None:
    sim = Sim()
    a = sim.spawn(constraints=[["zone", "IS", "mars"]], placement_timeout=1, name="x")
    sim.do(Offers((offer("a1", zone="zone-a"),)))
    out = sim.advance(2)
    why = sim.core.get(a).last_exit  # type: ignore[union-attr]
    assert "constraint zone:IS:mars" in why
    assert ReleaseName("default/x", a) in out


def test_no_offer_at_all_says_so() -> None:
    sim = Sim()
    a = sim.spawn(placement_timeout=1)
    sim.advance(1)
    assert "no offer arrived" in sim.core.get(a).last_exit  # type: ignore[union-attr]


def test_an_idle_framework_declines_for_long_and_suppresses_offers() -> None:
    sim = Sim(idle_decline_seconds=60)
    d, s = sim.do(Offers((offer(),)))
    assert isinstance(d, Decline) and d.refuse_seconds == 60 and s == Suppress()
    assert Suppress() in sim.do(Registered())
    a = sim.spawn()
    assert Revive() in sim.effects
    out = sim.do(Offers((offer(),)))
    assert Suppress() in out and sim.state(a) == "STARTING"


# -- names and lifetimes ----------------------------------------------------------------


def test_a_name_is_unique_and_get_if_exists_returns_the_holder() -> None:
    sim = Sim()
    first = sim.spawn(name="counter")
    out = sim.do(Spawn("r2", config(name="counter", owner="tcp://other/s")))
    (reply,) = [e for e in out if isinstance(e, Reply)]
    assert reply.error == "DuplicateName" and first in reply.message
    assert sim.spawn(name="counter", get_if_exists=True) == first
    assert sim.spawn(name="counter", namespace="other") != first
    assert len(sim.core.actors) == 2


def test_killing_frees_the_name_at_once_and_stops_when_the_task_ends() -> None:
    sim = Sim()
    a = sim.spawn(name="c")
    sim.place()
    sim.run(a)
    out = sim.do(Kill("k", a))
    assert ReleaseName("default/c", a) in out
    assert StopWorker("ctl", a, "killed") in out
    assert KillTask(f"{a}.1", "a1") in out and Reply("k", a) in out
    assert sim.state(a) == "STOPPED"
    b = sim.spawn(name="c")
    assert b != a
    sim.end(a, "TASK_KILLED")
    assert a not in sim.core.actors and sim.core.finished[a].state is ActorState.STOPPED
    assert sim.core.names["default/c"] == b


def test_killing_an_unplaced_actor_forgets_it() -> None:
    sim = Sim()
    a = sim.spawn()
    out = sim.do(Kill("k", a))
    assert ForgetActor(a) in out and sim.state(a) == "STOPPED"
    (reply,) = [e for e in sim.do(Kill("k2", "nope")) if isinstance(e, Reply)]
    assert reply.error == "ActorNotFound"


def test_owner_down_stops_owned_actors_only() -> None:
    sim = Sim()
    owned = sim.spawn()
    detached = sim.spawn(lifetime="detached", owner="")
    other = sim.spawn(owner="tcp://someone/else")
    sim.place()
    for a in (owned, detached, other):
        sim.run(a)
    out = sim.do(OwnerDown(OWNER))
    assert KillTask(f"{owned}.1", "a1") in out
    assert all(f"{detached}.1" != getattr(e, "task_id", "") for e in out)
    assert sim.state(owned) == "STOPPED"
    assert sim.state(detached) == "RUNNING" and sim.state(other) == "RUNNING"


# -- restarts -----------------------------------------------------------------------------


def test_a_crashed_worker_restarts_in_place_first() -> None:
    sim = Sim(in_place_wait=3.0)
    a = sim.spawn(max_restarts=2)
    sim.place("a1")
    sim.run(a)
    sim.end(a)
    r = sim.core.actors[a]
    assert r.state is ActorState.RESTARTING and r.restarts == 1
    out = sim.do(Offers((offer("a2"),)))
    assert isinstance(out[-1], Decline) and "own agent" in out[-1].reason
    (task,) = sim.place("a1")
    assert task.task_id == f"{a}.2" and task.agent_id == "a1"


def test_a_restart_takes_another_agent_after_the_in_place_wait() -> None:
    sim = Sim(in_place_wait=3.0)
    a = sim.spawn(max_restarts=2)
    sim.place("a1")
    sim.run(a)
    sim.end(a)
    sim.advance(3.5)
    (task,) = sim.place("a2")
    assert task.agent_id == "a2"


def test_an_actor_whose_agent_dies_is_replaced_elsewhere_at_once() -> None:
    sim = Sim()
    a = sim.spawn(max_restarts=1)
    sim.place("a1")
    sim.run(a)
    out = sim.do(AgentGone("a1"))
    assert StopWorker("ctl", a, "its agent was lost; replaced") in out
    assert sim.state(a) == "RESTARTING"
    assert "agent lost" in sim.core.actors[a].last_exit
    (task,) = sim.place("a2")
    assert task.task_id == f"{a}.2"
    # The late TASK_LOST of the old incarnation changes nothing.
    sim.do(TaskStatus(f"{a}.1", "TASK_LOST", "a1"))
    assert sim.state(a) == "STARTING" and sim.core.stats.replaced == 1


def test_a_worker_that_stops_answering_probes_is_replaced_anywhere_at_once() -> None:
    sim = Sim()
    a = sim.spawn(max_restarts=2)
    sim.place("a1")
    sim.run(a)
    out = sim.do(WorkerLost(a, 1, "2 probes unanswered"))
    assert KillTask(f"{a}.1", "a1") in out
    r = sim.core.actors[a]
    assert r.state is ActorState.RESTARTING and r.prefer_agent is None and r.restarts == 1
    assert "worker unreachable" in r.last_exit
    out = sim.do(Offers((offer("a1"),)))  # the dead agent's offer, not yet rescinded
    assert isinstance(out[-1], Decline) and "stopped answering" in out[-1].reason
    (task,) = sim.place("a2")
    assert task.task_id == f"{a}.2"
    # The agent's late word on the old incarnation changes nothing; a stale probe neither.
    sim.do(TaskStatus(f"{a}.1", "TASK_UNREACHABLE", "a1"))
    sim.do(WorkerLost(a, 1, "late"))
    assert sim.state(a) == "STARTING" and sim.core.actors[a].restarts == 1


def test_max_restarts_bounds_the_restarts() -> None:
    sim = Sim(restart_backoff=0.0)
    a = sim.spawn(max_restarts=1)
    sim.place()
    sim.run(a)
    sim.end(a)
    sim.place()
    sim.run(a)
    sim.end(a)
    assert sim.state(a) == "FAILED"
    assert "max_restarts=1 reached" in sim.core.get(a).last_exit  # type: ignore[union-attr]


def test_unbounded_restarts_back_off_while_crash_looping() -> None:
    sim = Sim(restart_backoff=0.5, restart_backoff_factor=2.0, stable_seconds=10)
    a = sim.spawn(max_restarts=-1)
    delays = []
    for _ in range(6):
        sim.place()
        sim.run(a)
        sim.end(a)
        r = sim.core.actors[a]
        delays.append(r.not_before - sim.now)
        sim.now = r.not_before
    assert delays == [0.0, 0.0, 0.0, 0.5, 1.0, 2.0]
    sim.place()
    sim.run(a)
    sim.now += 11  # a stable incarnation resets the streak
    sim.end(a)
    assert sim.core.actors[a].not_before == sim.now


@pytest.mark.parametrize(
    ("restart", "state", "expect"),
    [
        ("permanent", "TASK_FINISHED", "RESTARTING"),
        ("permanent", "TASK_FAILED", "RESTARTING"),
        ("transient", "TASK_FINISHED", "STOPPED"),
        ("transient", "TASK_FAILED", "RESTARTING"),
        ("temporary", "TASK_FINISHED", "STOPPED"),
        ("temporary", "TASK_FAILED", "FAILED"),
    ],
)
def test_restart_types(restart: str, state: str, expect: str) -> None:
    sim = Sim()
    a = sim.spawn(restart=restart, max_restarts=5)
    sim.place()
    sim.run(a)
    sim.end(a, state)
    assert sim.state(a) == expect


def test_an_oom_kill_is_reported_as_such_and_restarted() -> None:
    sim = Sim()
    a = sim.spawn(max_restarts=1, mem=64)
    sim.place()
    sim.run(a)
    sim.end(a, "TASK_FAILED", "REASON_CONTAINER_LIMITATION_MEMORY")
    r = sim.core.actors[a]
    assert r.state is ActorState.RESTARTING and r.last_exit.startswith("OOM-killed")
    assert r.last_reason == "REASON_CONTAINER_LIMITATION_MEMORY"
    assert sim.core.stats.oom_kills == 1


def test_a_worker_that_cannot_build_its_class_fails_the_spawn_and_is_killed() -> None:
    sim = Sim()
    a = sim.spawn(max_restarts=5)
    sim.place()
    sim.do(RegisterWorker(a, 1, "tcp://w/actor", "ctl"))
    out = sim.do(WorkerFailed(a, 1, "cannot unpickle app:Counter: No module named 'app'"))
    assert sim.state(a) == "FAILED" and KillTask(f"{a}.1", "a1") in out
    assert "No module named 'app'" in sim.core.get(a).last_exit  # type: ignore[union-attr]
    assert a not in sim.core.tasks


def test_a_worker_ending_before_it_was_ready_fails_the_spawn() -> None:
    sim = Sim()
    a = sim.spawn(max_restarts=5)
    sim.place()
    sim.end(a, "TASK_FAILED")
    assert sim.state(a) == "FAILED" and "before it was ready" in sim.core.get(a).last_exit  # type: ignore[union-attr]


def test_a_stale_worker_is_told_to_stop() -> None:
    sim = Sim()
    a = sim.spawn(max_restarts=1)
    sim.place()
    sim.run(a)
    sim.end(a)
    (stop,) = sim.do(RegisterWorker(a, 1, "tcp://old/actor", "old-ctl"))
    assert stop == StopWorker("old-ctl", a, "this incarnation is not wanted")
    (kill,) = sim.do(TaskStatus("ghost.3", "TASK_RUNNING", "a9"))
    assert kill == KillTask("ghost.3", "a9")


def test_a_worker_that_never_gets_ready_counts_as_crashed() -> None:
    sim = Sim(start_timeout=10)
    a = sim.spawn(max_restarts=1)
    sim.place()
    sim.run(a)
    sim.end(a)
    sim.place()
    out = sim.advance(11)
    assert KillTask(f"{a}.2", "a1") in out and sim.state(a) == "FAILED"


def test_checkpoints_are_bounded_and_bound_to_the_incarnation() -> None:
    sim = Sim(max_checkpoint_bytes=100)
    a = sim.spawn()
    sim.place()
    sim.run(a)
    out = sim.do(SaveCheckpoint("c1", a, 1, 50))
    assert Reply("c1", a) in out and sim.core.actors[a].checkpoint_size == 50
    (big,) = [e for e in sim.do(SaveCheckpoint("c2", a, 1, 101)) if isinstance(e, Reply)]
    assert big.error == "CheckpointRefused" and "101 bytes" in big.message
    (stale,) = sim.do(SaveCheckpoint("c3", a, 7, 5))
    assert isinstance(stale, Reply) and stale.error == "Stale"


# -- supervision groups -----------------------------------------------------------------


def supervise(
    sim: Sim, strategy: str, n: int = 3, intensity: int = 3, period: float = 5
) -> list[str]:
    children = tuple(Spawn(f"s{i}", config(name=f"child{i}", max_restarts=10)) for i in range(n))
    group = Group.checked("g1", strategy, intensity, period, ["pending"], OWNER)
    out = sim.do(Supervise("sup", group, children))
    assert Reply("sup", "g1") in out
    ids = list(sim.core.groups["g1"].children)
    for i, a in enumerate(ids):
        sim.place(f"a{i % 2 + 1}", cpus=0.15)
        sim.run(a)
    return ids


def test_one_for_one_restarts_the_crashed_child_only() -> None:
    sim = Sim()
    a, b, c = supervise(sim, "one_for_one")
    sim.end(b)
    assert [sim.state(x) for x in (a, b, c)] == ["RUNNING", "RESTARTING", "RUNNING"]


def test_one_for_all_restarts_every_child_across_agents() -> None:
    sim = Sim()
    a, b, c = supervise(sim, "one_for_all")
    assert {sim.core.actors[x].agent_id for x in (a, b, c)} == {"a1", "a2"}
    out = sim.end(b)
    kills = {e.task_id for e in out if isinstance(e, KillTask)}
    assert kills == {f"{a}.1", f"{c}.1"}
    assert [sim.state(x) for x in (a, b, c)] == ["RESTARTING"] * 3
    sim.end(a, "TASK_KILLED")
    sim.end(c, "TASK_KILLED")
    assert all(sim.core.actors[x].state is ActorState.RESTARTING for x in (a, b, c))
    sim.place("a1")
    sim.place("a2")
    assert all(sim.core.actors[x].incarnation == 2 for x in (a, b, c))


def test_rest_for_one_restarts_the_children_started_after() -> None:
    sim = Sim()
    a, b, c = supervise(sim, "rest_for_one")
    out = sim.end(b)
    assert {e.task_id for e in out if isinstance(e, KillTask)} == {f"{c}.1"}
    assert sim.state(a) == "RUNNING"


def test_a_group_past_its_intensity_stops_every_child() -> None:
    sim = Sim()
    a, b = supervise(sim, "one_for_one", n=2, intensity=1, period=10)
    sim.end(a)
    sim.place("a1")
    sim.run(a)
    sim.now += 1
    sim.wall += 1
    out = sim.end(a)
    assert sim.state(a) == "FAILED" and "gave up" in sim.core.get(a).last_exit  # type: ignore[union-attr]
    assert KillTask(f"{b}.1", sim.core.actors[b].agent_id or "") in out
    sim.end(b, "TASK_KILLED")
    assert sim.state(b) == "FAILED" and "g1" not in sim.core.groups


def test_restarts_outside_the_period_do_not_count() -> None:
    sim = Sim()
    a, _ = supervise(sim, "one_for_one", n=2, intensity=1, period=10)
    for _ in range(3):
        sim.end(a)
        sim.place(sim.core.actors[a].prefer_agent or "a1")
        sim.run(a)
        sim.wall += 11
    assert sim.state(a) == "RUNNING" and sim.core.actors[a].restarts == 3


# -- watchers, failover -------------------------------------------------------------------


def test_watchers_hear_of_changes_and_are_dropped_with_their_node() -> None:
    sim = Sim()
    a = sim.spawn(lifetime="detached", owner="")
    out = sim.do(Watchers("tcp://watcher/w", (a,)))
    assert Changed(a) in out and Watch("tcp://watcher/w") in out
    assert sim.core.watchers[a] == {"tcp://watcher/w"}
    sim.do(OwnerDown("tcp://watcher/w"))
    assert sim.core.watchers[a] == set()


def test_a_new_leader_adopts_the_persisted_actors() -> None:
    sim = Sim()
    a = sim.spawn(name="counter", max_restarts=3)
    b = sim.spawn(lifetime="detached", owner="")
    sim.place()
    sim.run(a)
    docs = [r.to_doc() for r in sim.core.actors.values()]

    new = Sim()
    out = new.core.restore([ActorRecord.from_doc(d) for d in docs], [], new.now)
    assert Watch(OWNER) in out
    assert new.core.names["default/counter"] == a
    rec = new.core.actors[a]
    assert rec.state is ActorState.RUNNING and rec.address == "tcp://w:1/actor"
    reconcile, implicit, suppress = new.do(Registered())
    assert suppress == Suppress()  # nothing waits for a place
    assert implicit == Reconcile(())  # unknown tasks (a previous leader's warm workers)
    assert set(reconcile.task_ids) == {f"{a}.1", f"{b}.1"}  # type: ignore[union-attr]
    # The worker re-registers as ready with the new leader: nothing is relaunched.
    out = new.do(RegisterWorker(a, 1, "tcp://w:1/actor", "ctl", ready=True))
    assert not any(isinstance(e, Assign | Launch) for e in out)
    assert new.core.actors[a].control == "ctl"
    # A task the old leader launched but that died meanwhile is restarted per policy.
    new.do(TaskStatus(f"{a}.1", "TASK_LOST", "a1"))
    assert new.core.actors[a].state is ActorState.RESTARTING


def test_counts_by_state() -> None:
    sim = Sim()
    a = sim.spawn()
    sim.spawn()
    sim.place(cpus=0.1, mem=64)
    sim.run(a)
    assert sim.core.counts()["RUNNING"] == 1 and sim.core.counts()["PENDING"] == 1
