"""What the Metronome actor knows of one job, and the read-only view the REST API serves.

`JobEntry` is immutable: the actor replaces an entry on every change and publishes a
new `MetronomeView` (a dict copy of the entries) after each write to ZooKeeper, so HTTP
handlers read a consistent, persisted snapshot on their own thread without asking the
actor anything. Rendered JSON is cached per entry (entries never change, so the cache
never goes stale), which is what keeps ``GET /v1/jobs?embed=history`` over 1,000 jobs
cheap: the response is the cached bytes of each job joined with commas.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._history import JobHistory
from ._job import JobSpec
from ._run import JobRun
from ._schedule import ScheduleSpec, ScheduleState, next_fire
from ._time import format_time

if TYPE_CHECKING:  # the protocol module loads the transport: types only
    from actors import protocol as p

EMBEDS = ("activeRuns", "schedules", "history", "historySummary")
"""Metronome's ``embed`` values for ``GET /v1/jobs`` and ``GET /v1/jobs/{id}``."""
RECENT_FINISHED = 10
"""Finished runs kept in memory per job so ``GET .../runs/{runId}`` can still show them."""
SKIPS_KEPT = 20
LAST_UNUSED_KEPT = 5
"""Offers kept per waiting run in ``lastUnusedOffers`` (Marathon keeps 10 per app)."""


@dataclass(frozen=True)
class Waiting:
    """Why one run's current attempt waits for an offer (memory only, never stored)."""

    task_id: str
    """The waiting attempt's task."""
    processed: int = 0
    """Offers considered for it since it was queued."""
    reasons: tuple[tuple[str, int], ...] = ()
    """Refusals per reason code, since it was queued."""
    last_unused: tuple[dict[str, Any], ...] = ()
    """The newest offers it could not use (newest last)."""

    def refused(self, offer: p.Offer, reason: str, detail: str, wall: float) -> Waiting:
        """One more offer this attempt could not use, and why."""
        counts = Counter(dict(self.reasons))
        counts[reason] += 1
        unused = {
            "offer": {"id": offer.offer_id, "agentId": offer.agent_id, "hostname": offer.hostname},
            "timestamp": format_time(wall),
            "reason": [detail],
        }
        return dataclasses.replace(
            self,
            processed=self.processed + 1,
            reasons=tuple(sorted(counts.items())),
            last_unused=(*self.last_unused, unused)[-LAST_UNUSED_KEPT:],
        )

    def to_json(self) -> dict[str, Any]:
        """The run JSON's ``waiting`` object."""
        latest = self.last_unused[-1]["reason"][0] if self.last_unused else None
        return {
            "reason": latest,
            "reasons": dict(self.reasons),
            "offersProcessed": self.processed,
            "lastUnusedOffers": list(self.last_unused),
        }


def _backoff_json(run: JobRun, until: float) -> dict[str, Any]:
    """``waiting`` of a run whose next attempt is held back by the launch backoff."""
    return {
        "reason": f"launch backoff after {run.failures} failed attempt(s), "
        f"until {format_time(until)}",
        "reasons": {"Backoff": 1},
        "offersProcessed": 0,
        "lastUnusedOffers": [],
        "delayedUntil": format_time(until),
    }


@dataclass(frozen=True)
class JobEntry:
    """One job: spec, schedule cursors, active runs, history (what its document holds)."""

    job: JobSpec
    cursors: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    """Schedule id -> last_fired_slot (the persisted cursor of `ScheduleState`)."""
    runs: tuple[JobRun, ...] = ()
    """Active runs, oldest first."""
    history: JobHistory | None = None
    skipped: tuple[dict[str, Any], ...] = ()
    """The newest slots that did not fire, and why (newest first)."""
    recent: tuple[JobRun, ...] = ()
    """Finished runs (memory only, newest first)."""
    waiting: Mapping[str, Waiting] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )
    """Run id -> why its current attempt waits for an offer (memory only)."""
    _cache: dict[Any, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def job_id(self) -> str:
        return self.job.id

    @property
    def hist(self) -> JobHistory:
        return self.history if self.history is not None else JobHistory(self.job.id)

    def run(self, run_id: str) -> JobRun | None:
        for r in self.runs:
            if r.id == run_id:
                return r
        return None

    def finished_run(self, run_id: str) -> JobRun | None:
        for r in self.recent:
            if r.id == run_id:
                return r
        return None

    def run_json(self, run: JobRun) -> dict[str, Any]:
        """The run's JSON, with ``waiting`` while its attempt waits for a usable offer."""
        out = run.api_json()
        waiting = self.waiting.get(run.id)
        task = run.current_task
        if waiting is not None and task is not None and task.id == waiting.task_id:
            out["waiting"] = waiting.to_json()  # cleared when the attempt launches
        elif task is None and run.next_launch_at is not None and not run.status.finished:
            out["waiting"] = _backoff_json(run, run.next_launch_at)
        return out

    def schedule_states(self) -> list[ScheduleState]:
        return [
            ScheduleState(self.job.id, s, self.cursors.get(s.id, 0.0)) for s in self.job.schedules
        ]

    # -- persisted form --------------------------------------------------------------

    def to_doc(self) -> dict[str, Any]:
        return {
            "job": self.job.to_json(),
            "cursors": dict(self.cursors),
            "runs": [r.to_json() for r in self.runs],
            "history": self.hist.to_json(),
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> JobEntry:
        job = JobSpec.from_json(doc["job"])
        history = JobHistory.from_json(doc["history"]) if doc.get("history") else None
        return cls(
            job=job,
            cursors=MappingProxyType({str(k): float(v) for k, v in doc["cursors"].items()}),
            runs=tuple(JobRun.from_json(r) for r in doc.get("runs", [])),
            history=history,
            skipped=tuple(doc.get("skipped", [])),
        )

    # -- API rendering -----------------------------------------------------------------

    def schedules_json(self, now: float) -> list[dict[str, Any]]:
        return [schedule_json(s, now, self._cache) for s in self.job.schedules]

    def api_json(self, embeds: Iterable[str], now: float) -> dict[str, Any]:
        """Metronome's job JSON with the requested embeds."""
        out = dict(self._base())
        for embed in embeds:
            if embed == "activeRuns":
                out["activeRuns"] = [self.run_json(r) for r in self.runs]
            elif embed == "schedules":
                out["schedules"] = self.schedules_json(now)
            elif embed == "history":
                out["history"] = self._cached("history", lambda: self.hist.api_json())
            elif embed == "historySummary":
                out["historySummary"] = self._cached(
                    "historySummary", lambda: self.hist.summary_json()
                )
        return out

    def api_bytes(self, embeds: tuple[str, ...], now: float) -> bytes:
        """`api_json` encoded; cached (until the next schedule slot when schedules are
        embedded, since ``nextRunAt`` moves)."""
        key = ("bytes", embeds)
        hit = self._cache.get(key)
        if hit is not None and now < hit[1]:
            return hit[0]  # type: ignore[no-any-return]
        body = json.dumps(self.api_json(embeds, now), separators=(",", ":")).encode()
        until = float("inf")
        if "schedules" in embeds:
            slots = [next_fire(s, now) for s in self.job.schedules]
            until = min(slots, default=until)
        self._cache[key] = (body, until)
        return body

    def _base(self) -> dict[str, Any]:
        return self._cached("base", lambda: self.job.to_json(embed_schedules=False))  # type: ignore[no-any-return]

    def _cached(self, key: str, make: Any) -> Any:
        value = self._cache.get(key)
        if value is None:
            value = make()
            self._cache[key] = value
        return value


def schedule_json(spec: ScheduleSpec, now: float, cache: dict[Any, Any]) -> dict[str, Any]:
    """Metronome's schedule JSON (with ``nextRunAt``), cached until that moment."""
    key = ("schedule", spec)
    hit = cache.get(key)
    if hit is not None and now < hit[1]:
        return hit[0]  # type: ignore[no-any-return]
    rendered = spec.api_json(now)
    cache[key] = (rendered, next_fire(spec, now))
    return rendered


@dataclass(frozen=True)
class MetronomeView:
    """A persisted snapshot of every job, published by the actor for the REST API."""

    entries: Mapping[str, JobEntry]
    leading: bool = True

    def get(self, job_id: str) -> JobEntry | None:
        return self.entries.get(job_id)

    def jobs_bytes(self, embeds: tuple[str, ...], now: float) -> bytes:
        """``GET /v1/jobs`` body: the cached bytes of each job, sorted by id."""
        parts = [self.entries[k].api_bytes(embeds, now) for k in sorted(self.entries)]
        return b"[" + b",".join(parts) + b"]"


class ViewBoard:
    """Where the actor publishes its view and the HTTP handlers read it (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._view: MetronomeView | None = None
        self.actor: Any = None
        """The running actor's ref while one runs (commands go there)."""
        self.http_hop = [0, 0, 0, 0]
        """Commands answered 2xx by the HTTP side: count, total, max microseconds from
        telling the actor to the answer, how many over 20 ms (the loop's thread only)."""

    @property
    def view(self) -> MetronomeView | None:
        return self._view

    def publish(self, view: MetronomeView | None, actor: Any = None) -> None:
        with self._lock:
            self._view = view
            self.actor = actor if view is not None else None
