"""Metronome's offers: the pure matcher (why an attempt cannot use an offer), and the
actor against the FrameworkHarness playing the master (runs show why they wait)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient

from actors import protocol as p
from actors.framework.testing import Declined, FrameworkHarness, Launched
from actors.metronome import JobRun, JobSpec, MetronomeActor, MetronomeConfig, ViewBoard
from actors.metronome._actor import Command
from actors.metronome._offers import match_offer
from runtime import Node
from runtime.testing import wait_for


def run_of(job_id: str, **run: Any) -> JobRun:
    spec: dict[str, Any] = {"id": job_id, "run": {"cmd": "true", "cpus": 1, "mem": 128, **run}}
    return JobRun(f"{job_id}-r1", JobSpec.from_json(spec), 0.0)


def offer(resources: str, **attributes: Any) -> p.Offer:
    from actors.resources import Resources

    return p.Offer(
        "o1", "f", "a1", "agent1", Resources.parse(resources).to_dict(), attributes=attributes
    )


MATCH_ROWS: list[tuple[str, p.Offer, list[JobRun], list[str], list[tuple[str, str]]]] = [
    # (case, offer, waiting runs, launched jobs, refusals (reason code, detail fragment))
    ("fits", offer("cpus:2;mem:512"), [run_of("a")], ["a"], []),
    (
        "too little memory",
        offer("cpus:2;mem:64"),
        [run_of("a")],
        [],
        [("InsufficientMemory", "mem: need 128, offer has 64")],
    ),
    (
        "one offer, two tasks, until it runs out",
        offer("cpus:2;mem:256"),
        [run_of("a"), run_of("b"), run_of("c")],
        ["a", "b"],
        [],
    ),
    (
        "a docker job on a mesos-only agent",
        offer("cpus:2;mem:512", containerizers="mesos"),
        [run_of("d", cmd=None, docker={"image": "busybox"})],
        [],
        [("UnsupportedContainerizer", "the task needs docker")],
    ),
    (
        "a constraint the agent misses",
        offer("cpus:2;mem:512", rack="r1"),
        [
            run_of(
                "c",
                placement={"constraints": [{"attribute": "rack", "operator": "IS", "value": "r2"}]},
            )
        ],
        [],
        [("UnfulfilledConstraint", "rack:IS:r2: rack=r1, needs exactly r2")],
    ),
    (
        "the big one waits, the small one goes",
        offer("cpus:2;mem:256"),
        [run_of("big", mem=1024), run_of("small")],
        ["small"],
        [("InsufficientMemory", "mem: need 1024")],
    ),
]


@pytest.mark.parametrize(
    ("case", "the_offer", "runs", "launched", "refused"),
    MATCH_ROWS,
    ids=[r[0] for r in MATCH_ROWS],
)
def test_match_offer(
    case: str,
    the_offer: p.Offer,
    runs: list[JobRun],
    launched: list[str],
    refused: list[tuple[str, str]],
) -> None:
    plan = match_offer(the_offer, [(f"{r.job_id}.task", r) for r in runs])
    assert [task.name for _, task in plan.launches] == launched
    assert [r.reason for r in plan.refusals] == [code for code, _ in refused]
    for (_, fragment), refusal in zip(refused, plan.refusals, strict=True):
        assert fragment in refusal.detail
    assert plan.failed == ()
    if refused and not launched:
        assert refused[0][1] in plan.decline_reason


def test_an_unreadable_offer_is_declined_with_why() -> None:
    bad = p.Offer("o1", "f", "a1", "agent1", {"cpus": -1})
    plan = match_offer(bad, [("a.task", run_of("a"))])
    assert plan.launches == () and plan.unreadable
    assert plan.decline_reason.startswith("offer unreadable: ")


def test_a_run_in_backoff_says_until_when() -> None:
    """ON_FAILURE: after a failed attempt the next one waits out the launch backoff."""
    from actors.metronome import JobEntry, TaskUpdate, Tick, step

    run = run_of("flaky", restart={"policy": "ON_FAILURE"})
    run, _ = step(run, Tick(), 100.0)
    assert run.current_task is not None
    run, _ = step(run, TaskUpdate(run.current_task.id, "TASK_FAILED"), 101.0)
    assert run.current_task is None and run.next_launch_at == 102.0
    waiting = JobEntry(run.job, runs=(run,)).run_json(run)["waiting"]
    assert waiting["reasons"] == {"Backoff": 1}
    assert waiting["reason"].startswith("launch backoff after 1 failed attempt(s), until 1970-")
    assert waiting["delayedUntil"] == waiting["reason"].rsplit("until ", 1)[1]


# ------------------------------------------------------------- the actor, on a harness


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("metronome-harness", on_fatal=lambda reason: None)
    yield n
    n.shutdown(timeout=5)


def command(ref: Any, op: str, *args: Any) -> tuple[int, Any]:
    reply: concurrent.futures.Future[tuple[int, Any]] = concurrent.futures.Future()
    ref.tell(Command(op, args, reply))
    return reply.result(timeout=10)


def spawn_metronome(
    node: Node,
    zk_client: KazooClient,
    harness: FrameworkHarness,
    config: MetronomeConfig,
    board: ViewBoard | None = None,
) -> Any:
    """A Metronome actor whose master is ``harness``, subscribed."""
    ref = node.spawn(
        MetronomeActor,
        zk_client,
        master=harness.address,
        board=board or ViewBoard(),
        config=config,
        resolve=harness.resolve,
        address="tcp://h:1/metronome",
        name="metronome",
    )
    assert harness.wait_subscribed(5)
    return ref


@pytest.mark.zk
def test_a_run_shows_why_it_waits_until_an_offer_fits(node: Node, zk_client: KazooClient) -> None:
    harness = FrameworkHarness(node)
    board = ViewBoard()
    ref = spawn_metronome(
        node,
        zk_client,
        harness,
        MetronomeConfig(tick_interval=0.05, reconcile_interval=3600.0),
        board,
    )
    spec = JobSpec.from_json({"id": "big", "run": {"cmd": "true", "cpus": 1, "mem": 8192}})
    assert command(ref, "create_job", spec)[0] == 201
    status, run = command(ref, "start_run", "big")
    assert status == 201
    wait_for(lambda: harness.count(p.Revive) >= 1, what="revive for the waiting run")

    small = harness.offer("cpus:4;mem:4096", hostname="agent1")
    declined = wait_for(harness.waiter(small.offer_id), what="the small offer declined")
    assert isinstance(declined, Declined)
    assert declined.reason == "mem: need 8192, offer has 4096"

    def waiting() -> Any:
        view = board.view
        entry = view.get("big") if view is not None else None
        return entry.run_json(entry.runs[0]).get("waiting") if entry and entry.runs else None

    shown = wait_for(waiting, what="the run shows why it waits")
    assert shown["reason"] == "mem: need 8192, offer has 4096"
    assert shown["reasons"] == {"InsufficientMemory": 1}
    assert shown["lastUnusedOffers"][0]["offer"] == {
        "id": small.offer_id,
        "agentId": "agent-1",
        "hostname": "agent1",
    }

    big = harness.offer("cpus:4;mem:16384", agent_id="agent-2", hostname="agent2")
    launched = wait_for(harness.waiter(big.offer_id), what="the big offer used")
    assert isinstance(launched, Launched)
    (task,) = launched.tasks
    assert (task.name, task.agent_id) == ("big", "agent-2")
    assert task.task_id in {t["id"] for t in run["tasks"]}
    wait_for(lambda: waiting() is None, what="no longer waiting once launched")

    update = harness.update(task.task_id, "TASK_FINISHED", agent_id="agent-2")
    wait_for(lambda: update.uuid in harness.acknowledged, what="acknowledged after the write")
    view = board.view
    assert view is not None and view.get("big") is not None
    assert view.get("big").runs == ()  # type: ignore[union-attr]


@pytest.mark.zk
def test_an_unusable_offer_is_filtered_long_and_revives_are_spared(
    node: Node, zk_client: KazooClient
) -> None:
    """An offer no waiting attempt can use is declined for ``decline_seconds`` (the
    master lifts the filter if the agent frees resources); another attempt of a class it
    was useless for does not revive (the filters hide nothing it could use); an attempt
    of a new class does, once ``revive_interval`` after the last revive."""
    harness = FrameworkHarness(node)
    config = MetronomeConfig(tick_interval=0.05, reconcile_interval=3600.0, revive_interval=0.3)
    ref = spawn_metronome(node, zk_client, harness, config)
    for job_id, mem in (("big", 8192), ("big2", 8192), ("small", 64)):
        spec = JobSpec.from_json({"id": job_id, "run": {"cmd": "true", "cpus": 1, "mem": mem}})
        assert command(ref, "create_job", spec)[0] == 201
    assert command(ref, "start_run", "big")[0] == 201
    wait_for(lambda: harness.count(p.Revive) >= 1, what="revive for the waiting run")
    revives = harness.count(p.Revive)
    small = harness.offer("cpus:4;mem:4096", hostname="agent1")
    declined = wait_for(harness.waiter(small.offer_id), what="the small offer declined")
    assert isinstance(declined, Declined)
    assert declined.refuse_seconds == config.decline_seconds
    # Same shape as the waiting one: the filter hides nothing it could use.
    assert command(ref, "start_run", "big2")[0] == 201
    assert command(ref, "metrics")[1]["gauges"]["metronome.launch-queue.gauge"]["value"] == 2
    ticks = command(ref, "metrics")[1]["counters"]["metronome.ticks.counter"]["count"]
    wait_for(
        lambda: (
            command(ref, "metrics")[1]["counters"]["metronome.ticks.counter"]["count"] >= ticks + 10
        ),
        what="ten ticks",
    )
    assert harness.count(p.Revive) == revives
    # A new shape may fit what was declined: revived.
    assert command(ref, "start_run", "small")[0] == 201
    wait_for(lambda: harness.count(p.Revive) > revives, what="revive for a new class")
    launched = wait_for(
        harness.waiter(harness.offer("cpus:4;mem:4096", hostname="agent1").offer_id),
        what="the small run launched",
    )
    assert isinstance(launched, Launched)
    assert [t.name for t in launched.tasks] == ["small"]


@pytest.mark.zk
def test_a_batch_of_offers_is_declined_in_one_call_per_kind(
    node: Node, zk_client: KazooClient
) -> None:
    """A revive brings every agent's offer at once: the offers of one batch that no run
    can use go back in ONE Decline (per refuse time and reason), each decided as it
    was when each had its own Decline: the one a waiting run fits launches it, the
    others are declined for ``decline_seconds``."""
    harness = FrameworkHarness(node)
    config = MetronomeConfig(
        tick_interval=0.05,
        reconcile_interval=3600.0,
        decline_seconds=77.0,
        linger_seconds=0.0,  # every unused offer declined long (lingering: the next test)
    )
    ref = spawn_metronome(node, zk_client, harness, config)

    def batch(n: int, first: int) -> list[p.Offer]:
        return [
            p.Offer(
                offer_id=f"batch-{first + i}",
                framework_id=harness._fid(),
                agent_id=f"agent-{first + i}",
                hostname=f"agent{first + i}",
                resources={"cpus": 4.0, "mem": 4096.0},
                attributes={},
                ip="127.0.0.1",
            )
            for i in range(n)
        ]

    idle = batch(40, 0)
    ref.tell(p.Offers(idle))  # nothing waits to launch
    wait_for(lambda: all(harness.decided(o.offer_id) for o in idle), what="all declined")
    assert len(harness.calls(p.Decline)) == 1
    (declined,) = harness.declines
    assert set(declined.offer_ids) == {o.offer_id for o in idle}
    assert declined.refuse_seconds == 77.0

    spec = JobSpec.from_json({"id": "small", "run": {"cmd": "true", "cpus": 1, "mem": 64}})
    assert command(ref, "create_job", spec)[0] == 201
    assert command(ref, "start_run", "small")[0] == 201
    wait_for(lambda: harness.count(p.Revive) >= 1, what="revive for the waiting run")
    busy = batch(10, 100)
    ref.tell(p.Offers(busy))
    wait_for(lambda: all(harness.decided(o.offer_id) for o in busy), what="all decided")
    (launched,) = harness.launches
    assert launched.offer_ids == ("batch-100",) and launched.tasks[0].name == "small"
    assert len(harness.calls(p.Decline)) == 2
    assert set(harness.declines[1].offer_ids) == {o.offer_id for o in busy[1:]}
    assert harness.declines[1].refuse_seconds == 77.0


@pytest.mark.zk
def test_a_stream_of_runs_launches_on_lingering_offers_without_reviving(
    node: Node, zk_client: KazooClient
) -> None:
    """While runs keep coming, a few unused offers are declined with the short linger
    filter (the rest for ``decline_seconds``) and Metronome stays unsuppressed: the
    next run launches on a lingering agent's offer with no revive (a revive brings
    every agent's offer). Once runs stop for ``linger_seconds``: suppressed, and the
    next run revives."""
    harness, ref = lingering_metronome(
        node,
        zk_client,
        jobs="abc",
        revive_interval=0.2,
        linger_seconds=1.0,
        linger_offers=2,
        linger_revive_interval=60.0,  # no race: the lingering offer has all the time
    )
    assert command(ref, "start_run", "a")[0] == 201
    wait_for(lambda: harness.count(p.Revive) >= 1, what="revive for the first run")
    revives = harness.count(p.Revive)
    suppresses = harness.count(p.Suppress)  # the one at subscription, nothing waiting

    offers = [
        harness.offer("cpus:4;mem:4096", agent_id=f"agent-{i}", hostname=f"agent{i}")
        for i in range(5)
    ]
    wait_for(lambda: all(harness.decided(o.offer_id) for o in offers), what="all decided")
    (launched,) = harness.launches
    assert [t.name for t in launched.tasks] == ["a"]
    assert launched.refuse_seconds == 5.0  # what is left of that agent comes back soon
    short = [d for d in harness.declines if d.refuse_seconds == 5.0]
    long = [d for d in harness.declines if d.refuse_seconds == 77.0]
    assert sum(len(d.offer_ids) for d in short) == 1  # linger_offers = 2, one is launched on
    assert sum(len(d.offer_ids) for d in long) == 3
    assert harness.count(p.Suppress) == suppresses

    # The next run: no revive; the lingering agent's offer comes back and takes it.
    assert command(ref, "start_run", "b")[0] == 201
    lingering = short[0].offer_ids[0]
    agent = next(o for o in offers if o.offer_id == lingering).agent_id
    again = harness.offer("cpus:4;mem:4096", agent_id=agent, hostname="back")
    took = wait_for(harness.waiter(again.offer_id), what="the lingering offer decided")
    assert isinstance(took, Launched) and [t.name for t in took.tasks] == ["b"]
    assert harness.count(p.Revive) == revives

    # Runs stopped: suppressed once linger_seconds are over; the next run revives.
    wait_for(lambda: harness.count(p.Suppress) > suppresses, timeout=30, what="suppressed")
    assert command(ref, "start_run", "c")[0] == 201
    wait_for(lambda: harness.count(p.Revive) > revives, timeout=30, what="revive for c")


def lingering_metronome(
    node: Node, zk_client: KazooClient, jobs: str, **settings: Any
) -> tuple[FrameworkHarness, Any]:
    """A Metronome with a job per letter of ``jobs`` (1 cpu, 64 MB: one class) that
    declines unused offers for 77 s, or 5 s on its lingering agents; by default it
    lingers a minute after each run and may revive every 0.3 s while lingering
    (``settings`` override any ``MetronomeConfig`` field)."""
    harness = FrameworkHarness(node)
    config = MetronomeConfig(
        **{
            "tick_interval": 0.05,
            "reconcile_interval": 3600.0,
            "revive_interval": 0.1,
            "decline_seconds": 77.0,
            "linger_seconds": 60.0,
            "linger_refuse_seconds": 5.0,
            "linger_revive_interval": 0.3,
            **settings,
        }
    )
    ref = spawn_metronome(node, zk_client, harness, config)
    for job_id in jobs:
        spec = JobSpec.from_json({"id": job_id, "run": {"cmd": "true", "cpus": 1, "mem": 64}})
        assert command(ref, "create_job", spec)[0] == 201
    return harness, ref


def run_a_on_a_revives_offers(harness: FrameworkHarness, ref: Any, agents: int) -> None:
    """Start a run of job ``a``; once Metronome revives, offer ``agents`` agents
    (``agent-0`` first) and wait until each offer is decided."""
    assert command(ref, "start_run", "a")[0] == 201
    wait_for(lambda: harness.count(p.Revive) >= 1, what="revive for the first run")
    offers = [
        harness.offer("cpus:4;mem:4096", agent_id=f"agent-{i}", hostname=f"agent{i}")
        for i in range(agents)
    ]
    wait_for(lambda: all(harness.decided(o.offer_id) for o in offers), what="all decided")


def quiet_for(ref: Any, ticks: int) -> None:
    """Wait until Metronome has ticked ``ticks`` more times (``/v1/metrics``)."""

    def seen() -> int:
        return int(command(ref, "metrics")[1]["counters"]["metronome.ticks.counter"]["count"])

    start = seen()
    wait_for(lambda: seen() >= start + ticks, what=f"{ticks} Metronome ticks")


@pytest.mark.zk
def test_a_class_the_lingering_offers_serve_is_not_revived_for(
    node: Node, zk_client: KazooClient
) -> None:
    """Once a lingering agent's offer launched a run of a class, runs of that class
    wait for those offers however long the stream lasts: no revive every
    ``linger_revive_interval`` (each brings every agent's offer, though the other
    agents' offers were declined long). A lingering offer that refuses the class ends
    that: the next tick revives."""
    harness, ref = lingering_metronome(node, zk_client, linger_offers=1, jobs="abcd")
    run_a_on_a_revives_offers(harness, ref, agents=4)
    (launched,) = harness.launches
    assert launched.refuse_seconds == 5.0  # agent-0 lingers; agents 1-3 declined for 77 s
    assert sum(len(d.offer_ids) for d in harness.declines if d.refuse_seconds == 77.0) == 3

    assert command(ref, "start_run", "b")[0] == 201
    back = harness.offer("cpus:3;mem:4000", agent_id="agent-0", hostname="agent0")
    took = wait_for(harness.waiter(back.offer_id), what="b launched on the lingering offer")
    assert isinstance(took, Launched) and [t.name for t in took.tasks] == ["b"]
    revives = harness.count(p.Revive)

    # c waits past linger_revive_interval: the lingering offer serves its class
    assert command(ref, "start_run", "c")[0] == 201
    quiet_for(ref, 12)  # 0.6 s
    assert harness.count(p.Revive) == revives

    # the lingering offer is now too small for the class: the next tick revives
    small = harness.offer("cpus:0.5;mem:4000", agent_id="agent-0", hostname="agent0")
    wait_for(harness.waiter(small.offer_id), what="the small offer declined")
    wait_for(lambda: harness.count(p.Revive) > revives, timeout=30, what="revive for c")


@pytest.mark.zk
def test_a_full_lingering_agent_stops_lingering_and_the_others_keep_serving(
    node: Node, zk_client: KazooClient
) -> None:
    """A lingering agent whose offer no waiting run fits (it is full) stops lingering
    (declined long, its place free for a fresh one); while another lingering agent
    still serves the class, no revive."""
    harness, ref = lingering_metronome(node, zk_client, linger_offers=2, jobs="abcde")
    run_a_on_a_revives_offers(harness, ref, agents=3)
    # agent-0 launched a and lingers, agent-1 lingers, agent-2 declined long

    def launch_on(agent: str, job_id: str) -> None:
        assert command(ref, "start_run", job_id)[0] == 201
        o = harness.offer("cpus:2;mem:4000", agent_id=agent, hostname=agent)
        took = wait_for(harness.waiter(o.offer_id), what=f"{job_id} launched on {agent}")
        assert isinstance(took, Launched) and [t.name for t in took.tasks] == [job_id]

    launch_on("agent-0", "b")
    launch_on("agent-1", "c")
    revives = harness.count(p.Revive)
    # agent-0 is full now: its offer fits nothing, it is declined for decline_seconds
    assert command(ref, "start_run", "d")[0] == 201
    full = harness.offer("cpus:0.5;mem:4000", agent_id="agent-0", hostname="agent0")
    declined = wait_for(harness.waiter(full.offer_id), what="the full agent's offer declined")
    assert isinstance(declined, Declined) and declined.refuse_seconds == 77.0
    quiet_for(ref, 12)  # 0.6 s
    assert harness.count(p.Revive) == revives  # agent-1 still serves the class
    o = harness.offer("cpus:2;mem:4000", agent_id="agent-1", hostname="agent1")
    took = wait_for(harness.waiter(o.offer_id), what="d launched on agent-1")
    assert isinstance(took, Launched) and [t.name for t in took.tasks] == ["d"]
