"""Metronome's offer matching and task description, on the framework toolkit. Pure.

``match_offer(offer, pending)`` decides what one offer launches: the waiting run
attempts in queue order, each placed by ``actors.framework.place`` (resources, the
agent's containerizers, the job's constraints), each launched task taking its share of
the offer. Every attempt the offer could not take gets the toolkit's reason, which the
actor keeps per run as a ``Waiting`` record (``_view.py``) and shows in the run's JSON (field
``waiting``, next to Marathon's ``GET /v2/queue`` shapes), so a user sees why a run
sits in STARTING: ``{"reason": "mem: need 8192, offer has 4096", "reasons":
{"InsufficientMemory": 3}, "offersProcessed": 3, "lastUnusedOffers": [...]}``.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from actors import protocol as p
from actors._validation import MIN_CPUS, MIN_MEM_MB
from actors.framework import (
    Agent,
    Constraint,
    Demand,
    Fit,
    agent_of,
    build_task_info,
    command_spec,
    container_info,
    place,
)
from actors.resources import ResourceError, Resources

from ._job import JobSpec
from ._run import JobRun


def demand_of(job: JobSpec) -> Demand:
    """What one task of ``job`` asks of an offer."""
    rs = job.run
    return Demand(cpus=rs.cpus, mem=rs.mem, disk=rs.disk, gpus=float(rs.gpus))


def containerizer_of(job: JobSpec) -> str:
    return "docker" if job.run.docker is not None else "mesos"


ClassKey = tuple[Demand, tuple[Constraint, ...], str] | None
"""(demand, constraints, containerizer) of an attempt; None for one whose run is gone."""

Where = tuple[str, str]
"""(job id, run id) of a queued attempt."""

Head = tuple[int, str, Where]
"""(queue position, task id, where) of a queued attempt."""


def class_key(job: JobSpec) -> ClassKey:
    """What ``place`` reads of an attempt of ``job``: attempts with equal keys are placed
    or refused alike by one offer (``_queue.py``)."""
    return (demand_of(job), tuple(job.run.constraints), containerizer_of(job))


def task_info(run: JobRun, task_id: str, agent_id: str) -> p.TaskInfo:
    """The TaskInfo of one run attempt (labels: the job's, as Metronome copies them)."""
    rs = run.job.run
    volumes = [p.VolumeInfo(v.container_path, v.host_path, v.mode) for v in rs.volumes]
    container: p.ContainerInfo | None = None
    if rs.docker is not None:
        docker = p.DockerInfo(rs.docker.image, force_pull_image=rs.docker.force_pull_image)
        container = container_info("DOCKER", docker=docker, volumes=volumes)
    elif volumes:
        container = container_info("MESOS", volumes=volumes)
    command = command_spec(
        cmd=rs.cmd,
        args=None if rs.cmd is not None else list(rs.args or ()),
        env=rs.env,
        uris=[p.UriInfo(a.uri, a.executable, a.extract) for a in rs.artifacts],
        user=rs.user,
    )
    return build_task_info(
        task_id,
        run.job_id,
        agent_id,
        Resources.from_scalars(demand_of(run.job).scalars()),
        command,
        container=container,
        kill_grace_period=rs.task_kill_grace_period_seconds,
        labels=run.job.labels,
    )


@dataclass(frozen=True)
class Refusal:
    """One waiting attempt an offer could not take."""

    task_id: str
    reason: str
    """The toolkit's code (InsufficientMemory, UnfulfilledConstraint, ...)."""
    detail: str
    """What a user reads ("mem: need 8192, offer has 4096")."""


@dataclass(frozen=True)
class OfferPlan:
    """What to do with one offer."""

    launches: tuple[tuple[str, p.TaskInfo], ...] = ()
    """(task id, task) to launch on it, in queue order."""
    refusals: tuple[Refusal, ...] = ()
    """The waiting attempts it could not take, and why."""
    failed: tuple[tuple[str, BaseException], ...] = ()
    """(task id, error) of attempts whose job could not be described (a bug or a poison
    record: the actor counts it against the job)."""
    unreadable: str | None = None
    """Why the offer's resources could not be read (then nothing else is set)."""

    @property
    def decline_reason(self) -> str:
        """One line for the decline: the distinct details, most frequent first."""
        if self.unreadable is not None:
            return f"offer unreadable: {self.unreadable}"
        counts = Counter(r.detail for r in self.refusals)
        return "; ".join(detail for detail, _ in counts.most_common(3))


def place_run(run: JobRun, free: Resources, agent: Agent) -> Fit:
    """Where ``run``'s job fits in ``free`` on ``agent`` (``place``'s answer), the one
    placement both matchers make."""
    job = run.job
    return place(
        demand_of(job),
        free,
        agent,
        constraints=job.run.constraints,
        containerizer=containerizer_of(job),
    )


def match_offer(offer: p.Offer, pending: Sequence[tuple[str, JobRun]]) -> OfferPlan:
    """Place the waiting attempts ``pending`` ((task id, run), queue order) on ``offer``."""
    try:
        free = Resources.from_dict(offer.resources)
    except ResourceError as exc:
        return OfferPlan(unreadable=str(exc))
    agent = agent_of(offer)
    launches: list[tuple[str, p.TaskInfo]] = []
    refusals: list[Refusal] = []
    failed: list[tuple[str, BaseException]] = []
    for task_id, run in pending:
        try:
            got = place_run(run, free, agent)
            if got.resources is None:
                refusals.append(Refusal(task_id, got.reason, got.detail))
                continue
            launches.append((task_id, task_info(run, task_id, offer.agent_id)))
        except Exception as exc:
            failed.append((task_id, exc))
            continue
        free = free - got.resources
        left = free.scalars()
        if left.get("cpus", 0.0) < MIN_CPUS or left.get("mem", 0.0) < MIN_MEM_MB:
            break  # what is left is below the smallest valid job
    return OfferPlan(tuple(launches), tuple(refusals), tuple(failed))


@dataclass(frozen=True)
class QueuePlan:
    """What to do with one offer, matched against the queue by class (``match_queue``)."""

    launches: tuple[tuple[str, p.TaskInfo], ...] = ()
    """(task id, task) to launch on it, in queue order."""
    refused: tuple[tuple[ClassKey, str, str], ...] = ()
    """(class key, reason code, detail) of each class the offer could not take."""
    failed: tuple[tuple[str, BaseException], ...] = ()
    """(task id, error) of attempts whose job could not be described."""
    stale: tuple[str, ...] = ()
    """Task ids met in the queue whose run no longer waits (the caller drops them)."""
    unreadable: str | None = None
    """Why the offer's resources could not be read (then nothing else is set)."""

    @property
    def decline_reason(self) -> str:
        """One line for the decline: the distinct details, in queue order (three at most)."""
        if self.unreadable is not None:
            return f"offer unreadable: {self.unreadable}"
        details = dict.fromkeys(detail for _, _, detail in self.refused)
        return "; ".join(list(details)[:3])


def match_queue(
    offer: p.Offer,
    classes: Iterable[tuple[ClassKey, Iterator[Head]]],
    run_of: Callable[[str, Where], JobRun | None],
) -> QueuePlan:
    """Place queued attempts on ``offer``: the same launches, in the same order, as
    ``match_offer`` over every attempt in queue order, at O(classes + launches) cost.

    ``classes``: per class key, its attempts in queue order (lazily: nothing is taken out
    of the queue here); ``run_of(task_id, where)`` is the run whose attempt may still
    launch, else None (the task id goes to ``stale``). Attempts of one class meet the
    same placement (``class_key``), and what an offer refused it refuses once smaller:
    the first refusal stands for the whole class, which this offer is done with.
    """
    try:
        free = Resources.from_dict(offer.resources)
    except ResourceError as exc:
        return QueuePlan(unreadable=str(exc))
    agent = agent_of(offer)
    launches: list[tuple[str, p.TaskInfo]] = []
    refused: list[tuple[ClassKey, str, str]] = []
    failed: list[tuple[str, BaseException]] = []
    stale: list[str] = []

    def head(attempts: Iterator[Head]) -> tuple[int, str, JobRun] | None:
        for seq, task_id, where in attempts:
            run = run_of(task_id, where)
            if run is not None:
                return seq, task_id, run
            stale.append(task_id)
        return None

    heap: list[tuple[int, int, str, JobRun, ClassKey, Iterator[Head]]] = []
    for n, (key, attempts) in enumerate(classes):
        first = head(attempts)
        if first is not None:
            heap.append((first[0], n, first[1], first[2], key, attempts))
    heapq.heapify(heap)
    while heap:
        _, n, task_id, run, key, attempts = heapq.heappop(heap)
        try:
            got = place_run(run, free, agent)
            if got.resources is None:
                refused.append((key, got.reason, got.detail))
                continue  # and so would every later attempt of the class be
            launches.append((task_id, task_info(run, task_id, offer.agent_id)))
        except Exception as exc:
            failed.append((task_id, exc))
        else:
            free = free - got.resources
            left = free.scalars()
            if left.get("cpus", 0.0) < MIN_CPUS or left.get("mem", 0.0) < MIN_MEM_MB:
                break  # what is left is below the smallest valid job
        nxt = head(attempts)
        if nxt is not None:
            heapq.heappush(heap, (nxt[0], n, nxt[1], nxt[2], key, attempts))
    return QueuePlan(tuple(launches), tuple(refused), tuple(failed), tuple(stale))
