"""Schedules: the spec, cron evaluation in a time zone, and the scheduler step.

Cron slots are computed on the schedule's *wall clock* (croniter over naive local
times, zone rules from the stdlib `zoneinfo`), then mapped to instants:

- **Spring forward (the wall time does not exist)**: a fixed-time job (minute and hour
  fields not starting with ``*``) fires shifted forward by the gap, as java.time's
  ``ZonedDateTime`` (which Metronome uses) resolves it: ``30 2 * * *`` in
  Europe/Berlin fires at 03:30 CEST that day, so a daily job still runs daily.
  Wildcard jobs (``*/15 * * * *``, ``30 * * * *``) skip the missing wall times,
  because real time keeps flowing for them (Vixie cron's rule).
- **Fall back (the wall time occurs twice)**: a fixed-time job fires once, at the
  first occurrence; a wildcard job fires on both occurrences (again Vixie's rule), so
  ``*/30 * * * *`` keeps running every 30 real minutes.
- Instants are strictly increasing: two wall times mapping to one instant fire once.

The scheduler is a step function over `ScheduleState` (spec plus the persisted
``last_fired_slot`` cursor): `scheduler_step(states, now, active_runs)` returns new
states and effects (`StartRun`, `SlotSkipped`). Rules:

- a slot fires at most once: the cursor moves past every slot it decides (fired or
  skipped), and the run id of a slot is a function of the slot (`run_id_for_slot`);
- a slot fires only if ``now - slot <= startingDeadlineSeconds``; older slots (e.g.
  passed while no leader ran) are skipped with reason MISSED_DEADLINE;
- when several slots are due in one step (catch-up after downtime) only the latest
  fires; the earlier ones are SUPERSEDED (a burst of stale runs helps nobody;
  Kubernetes CronJob chooses the same);
- FORBID skips a due slot while a run of the job is active (CONCURRENCY_FORBID);
  ALLOW starts it anyway (Metronome's schema only knew ALLOW, FORBID was issue #100);
- a disabled schedule never fires, and nothing here ever sets ``enabled``: only a user
  update does (Metronome PR #130 fixed failover re-enabling disabled jobs).

Ordering contract for the actor: persist the new states together with the runs they
start in one ZooKeeper transaction (``multi``), or the states FIRST. A crash in between
then loses a slot instead of doubling it (at most once), and the deterministic run id
lets the actor spot a run it had already created.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter  # type: ignore[import-untyped]

from ._errors import MetronomeError, ValidationFailed
from ._ids import run_id_for_slot
from ._schema import SCHEDULE_VALIDATOR, schema_problems
from ._time import format_time, to_epoch

DEFAULT_TIMEZONE = "UTC"
DEFAULT_STARTING_DEADLINE_SECONDS = 900
"""Metronome's ``ScheduleSpec.DefaultStartingDeadline = 15.minutes``."""
DEFAULT_CONCURRENCY_POLICY = "ALLOW"
MAX_SKIPS_LISTED = 100
"""Missed slots listed one by one per step; a longer outage is summarised."""

_DST_MARGIN = timedelta(hours=3)
_NEAR = 4 * 3600.0
_SLACK = timedelta(seconds=1)


# ------------------------------------------------------------------------ the spec


@dataclass(frozen=True)
class ScheduleSpec:
    """One cron schedule of a job (Metronome's ScheduleSpec)."""

    id: str
    cron: str
    timezone: str = DEFAULT_TIMEZONE
    starting_deadline_seconds: int = DEFAULT_STARTING_DEADLINE_SECONDS
    concurrency_policy: str = DEFAULT_CONCURRENCY_POLICY
    enabled: bool = True

    @classmethod
    def from_json(cls, data: Any) -> ScheduleSpec:
        """Validate schedule JSON (``POST /v1/jobs/{id}/schedules``) or raise 422."""
        problems = schedule_problems(data)
        if problems:
            raise ValidationFailed(problems)
        return cls(
            id=data["id"],
            cron=" ".join(data["cron"].split()),
            timezone=data.get("timezone", DEFAULT_TIMEZONE),
            starting_deadline_seconds=data.get(
                "startingDeadlineSeconds", DEFAULT_STARTING_DEADLINE_SECONDS
            ),
            concurrency_policy=data.get("concurrencyPolicy", DEFAULT_CONCURRENCY_POLICY),
            enabled=data.get("enabled", True),
        )

    def to_json(self) -> dict[str, Any]:
        """Persisted and API form; ``enabled`` is always written, never defaulted."""
        return {
            "id": self.id,
            "cron": self.cron,
            "timezone": self.timezone,
            "startingDeadlineSeconds": self.starting_deadline_seconds,
            "concurrencyPolicy": self.concurrency_policy,
            "enabled": self.enabled,
        }

    def api_json(self, now: datetime | float) -> dict[str, Any]:
        """`to_json` plus Metronome's computed ``nextRunAt``."""
        return {**self.to_json(), "nextRunAt": format_time(next_fire(self, now))}

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def wildcard(self) -> bool:
        """Vixie cron's "wildcard job": minute or hour field starts with ``*``."""
        minute, hour = self.cron.split()[:2]
        return minute.startswith("*") or hour.startswith("*")


def _cron_problem(expression: str) -> str | None:
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"invalid cron expression {expression!r}: needs 5 fields "
            "(minute hour day-of-month month day-of-week)"
        )
    if not croniter.is_valid(expression):
        return f"invalid cron expression {expression!r}"
    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
    except Exception:  # croniter's "no such date" errors have no common public base
        return f"cron expression {expression!r} never fires"
    return None


def _zone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'"
    return None


def schedule_problems(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """All problems of schedule JSON as ``(pointer, message)``; empty when valid."""
    problems = [(prefix + path, msg) for path, msg in schema_problems(SCHEDULE_VALIDATOR, data)]
    if not isinstance(data, Mapping):
        return problems
    bad = {path for path, _ in problems}
    cron = data.get("cron")
    if isinstance(cron, str) and prefix + "/cron" not in bad:
        message = _cron_problem(cron)
        if message:
            problems.append((prefix + "/cron", message))
    zone = data.get("timezone")
    if isinstance(zone, str) and prefix + "/timezone" not in bad:
        message = _zone_problem(zone)
        if message:
            problems.append((prefix + "/timezone", message))
    return problems


# ----------------------------------------------------------------- cron evaluation


def _offset(zone: ZoneInfo, epoch: float) -> timedelta | None:
    return datetime.fromtimestamp(epoch, zone).utcoffset()


def _instants(wall: datetime, zone: ZoneInfo, wildcard: bool) -> tuple[float, list[float]]:
    """``(fold0 instant, instants to fire)`` of one wall-clock slot (see module doc)."""
    first = wall.replace(tzinfo=zone, fold=0).timestamp()
    exists = datetime.fromtimestamp(first, zone).replace(tzinfo=None) == wall
    if not exists:  # in a spring-forward gap; fold=0 means "shifted forward by the gap"
        return first, [] if wildcard else [first]
    second = wall.replace(tzinfo=zone, fold=1).timestamp()
    if wildcard and second != first:
        return first, [first, second]
    return first, [first]


def _wall(epoch: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch, zone).replace(tzinfo=None, fold=0)


def slots_between(
    schedule: ScheduleSpec, start: float, end: float, limit: int | None = None
) -> list[float]:
    """Firing instants of `schedule` in ``(start, end]``, ascending (at most `limit`).

    One croniter pass over the wall-clock times covering the interval. Wall order is
    instant order except within a few hours of a DST change, so only there is the
    scan widened by `_DST_MARGIN` on that side to catch wall times that map across.
    """
    zone = schedule.zone
    wildcard = schedule.wildcard

    def quiet(t: float) -> bool:
        return _offset(zone, t - _NEAR) == _offset(zone, t + _NEAR)

    # One second of slack: fromtimestamp rounds to microseconds, which could otherwise
    # hide a slot just after `start`; the instant filter below keeps the bounds exact.
    low = _wall(start, zone) - (_SLACK if quiet(start) else _DST_MARGIN)
    high = _wall(end, zone) + (timedelta(0) if quiet(end) else _DST_MARGIN)
    walls = croniter(schedule.cron, low)
    found: list[float] = []
    cutoff: datetime | None = None
    while True:
        try:
            wall = walls.get_next(datetime)
        except CroniterBadDateError:
            break
        if wall > high or (cutoff is not None and wall > cutoff):
            break
        _, candidates = _instants(wall, zone, wildcard)
        found.extend(t for t in candidates if start < t <= end)
        if limit is not None and cutoff is None and len(found) >= limit:
            cutoff = wall if quiet(max(found)) else wall + _DST_MARGIN
    ordered = sorted(set(found))
    return ordered if limit is None else ordered[:limit]


_HORIZONS = (2 * 86400.0, 40 * 86400.0, 400 * 86400.0, 3000 * 86400.0)


def next_fire(schedule: ScheduleSpec, after: datetime | float) -> float:
    """The first slot of `schedule` strictly after `after`, as epoch seconds.

    Evaluated on the schedule's wall clock; DST gaps and folds as in the module doc.
    """
    after_ts = to_epoch(after)
    for horizon in _HORIZONS:
        found = slots_between(schedule, after_ts, after_ts + horizon, limit=1)
        if found:
            return found[0]
    raise MetronomeError(f"cron expression {schedule.cron!r} never fires")


# ------------------------------------------------------------------ scheduler step


class SkipReason(StrEnum):
    """Why a cron slot did not start a run."""

    MISSED_DEADLINE = "MISSED_DEADLINE"
    """Noticed more than startingDeadlineSeconds after the slot (e.g. no leader)."""
    SUPERSEDED = "SUPERSEDED"
    """A later slot was due in the same step; only the latest fires."""
    CONCURRENCY_FORBID = "CONCURRENCY_FORBID"
    """concurrencyPolicy FORBID and a run of the job was active."""


@dataclass(frozen=True)
class StartRun:
    """Create and start a run of `job_id` for cron slot `slot` with this exact id."""

    job_id: str
    schedule_id: str
    slot: float
    run_id: str


@dataclass(frozen=True)
class SlotSkipped:
    """Record (event, log, metrics) that slot `slot` did not fire, and why."""

    job_id: str
    schedule_id: str
    slot: float
    reason: SkipReason
    detail: str


ScheduleEffect = StartRun | SlotSkipped


@dataclass(frozen=True)
class ScheduleState:
    """A schedule as the scheduler persists it: the spec and its slot cursor."""

    job_id: str
    spec: ScheduleSpec
    last_fired_slot: float
    """Cursor: the latest slot decided (fired or skipped), or the moment the schedule
    was created, enabled or re-timed. Slots at or before it never fire."""

    @classmethod
    def new(cls, job_id: str, spec: ScheduleSpec, now: float) -> ScheduleState:
        """A schedule created at `now`: slots before its creation never fire."""
        return cls(job_id, spec, float(now))

    def updated(self, spec: ScheduleSpec, now: float) -> ScheduleState:
        """Follow a user update. Enabling or changing cron/time zone starts at `now`,
        so neither replays the slots that passed while disabled or under the old cron."""
        retimed = (spec.cron, spec.timezone) != (self.spec.cron, self.spec.timezone)
        enabling = spec.enabled and not self.spec.enabled
        cursor = max(self.last_fired_slot, float(now)) if retimed or enabling else None
        return dataclasses.replace(
            self, spec=spec, last_fired_slot=self.last_fired_slot if cursor is None else cursor
        )

    def next_slot(self) -> float:
        """The next slot this schedule would decide."""
        return next_fire(self.spec, self.last_fired_slot)

    def to_json(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "schedule": self.spec.to_json(),
            "lastFiredSlot": self.last_fired_slot,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScheduleState:
        return cls(
            job_id=data["jobId"],
            spec=ScheduleSpec.from_json(data["schedule"]),
            last_fired_slot=float(data["lastFiredSlot"]),
        )


def step_schedule(
    state: ScheduleState, now: float, active_runs: int
) -> tuple[ScheduleState, tuple[ScheduleEffect, ...]]:
    """Decide every slot of one schedule in ``(last_fired_slot, now]``.

    `active_runs` counts the job's runs not yet finished (for FORBID).
    """
    spec = state.spec
    if not spec.enabled:
        return state, ()
    window_start = now - spec.starting_deadline_seconds
    before_window = math.nextafter(window_start, -math.inf)
    effects: list[ScheduleEffect] = []
    cursor = state.last_fired_slot
    if cursor < before_window:
        missed = slots_between(spec, cursor, before_window, limit=MAX_SKIPS_LISTED + 1)
        for slot in missed[:MAX_SKIPS_LISTED]:
            effects.append(_skip(state, slot, SkipReason.MISSED_DEADLINE, _late(now, slot, spec)))
        if len(missed) > MAX_SKIPS_LISTED:
            # A long outage: summarise the rest instead of listing every slot.
            effects.append(
                _skip(
                    state,
                    missed[MAX_SKIPS_LISTED],
                    SkipReason.MISSED_DEADLINE,
                    f"this and later slots until {format_time(window_start)} missed; not listed",
                )
            )
        if missed:
            cursor = before_window
    due = slots_between(spec, max(cursor, before_window), now)
    for slot in due[:-1]:
        effects.append(
            _skip(state, slot, SkipReason.SUPERSEDED, f"slot {format_time(due[-1])} also due")
        )
    if due:
        slot = due[-1]
        if spec.concurrency_policy == "FORBID" and active_runs > 0:
            effects.append(
                _skip(
                    state,
                    slot,
                    SkipReason.CONCURRENCY_FORBID,
                    f"concurrencyPolicy FORBID and {active_runs} run(s) active",
                )
            )
        else:
            effects.append(
                StartRun(state.job_id, spec.id, slot, run_id_for_slot(state.job_id, spec.id, slot))
            )
    new_cursor = due[-1] if due else cursor
    if new_cursor == state.last_fired_slot:
        return state, tuple(effects)
    return dataclasses.replace(state, last_fired_slot=new_cursor), tuple(effects)


def _late(now: float, slot: float, spec: ScheduleSpec) -> str:
    return (
        f"noticed {now - slot:.0f}s after the slot, "
        f"startingDeadlineSeconds is {spec.starting_deadline_seconds}"
    )


def _skip(state: ScheduleState, slot: float, reason: SkipReason, detail: str) -> SlotSkipped:
    return SlotSkipped(state.job_id, state.spec.id, slot, reason, detail)


def scheduler_step(
    states: Sequence[ScheduleState], now: datetime | float, active_runs: Mapping[str, int]
) -> tuple[tuple[ScheduleState, ...], tuple[ScheduleEffect, ...]]:
    """One scheduler tick over all schedules: new states (same order) and effects.

    `active_runs` maps job id to its unfinished runs; runs started earlier in the same
    step count too, so two schedules of one FORBID job never start two runs at once.
    """
    at = to_epoch(now)
    active = dict(active_runs)
    new_states: list[ScheduleState] = []
    effects: list[ScheduleEffect] = []
    for state in states:
        new_state, produced = step_schedule(state, at, active.get(state.job_id, 0))
        new_states.append(new_state)
        for effect in produced:
            if isinstance(effect, StartRun):
                active[effect.job_id] = active.get(effect.job_id, 0) + 1
        effects.extend(produced)
    return tuple(new_states), tuple(effects)
