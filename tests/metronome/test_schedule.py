"""Schedules: cron in IANA time zones (DST both ways), starting deadlines, concurrency
policy, disabled schedules, and at-most-once firing across failovers.

Metronome rules cited: ScheduleSpec defaults (UTC, 900 s, ALLOW, enabled), FORBID
(not implemented in Metronome, issue #100), disabled jobs re-enabled by a failover
(PR #130).
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.metronome import (
    ScheduleSpec,
    ScheduleState,
    SkipReason,
    SlotSkipped,
    StartRun,
    ValidationFailed,
    next_fire,
    run_id_for_slot,
    scheduler_step,
    step_schedule,
)

BERLIN = ZoneInfo("Europe/Berlin")


def at(*parts: int, tz: ZoneInfo | None = None) -> float:
    return datetime(*parts, tzinfo=tz or UTC).timestamp()  # type: ignore[arg-type,misc]


def local(epoch: float, tz: ZoneInfo = BERLIN) -> str:
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M %Z")


def fires(spec: ScheduleSpec, start: float, end: float) -> list[float]:
    out, t = [], start
    while (t := next_fire(spec, t)) <= end:
        out.append(t)
    return out


def sched(cron: str, **kw: object) -> ScheduleSpec:
    return ScheduleSpec(id="s", cron=cron, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------- next_fire


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        ("*/15 * * * *", at(2024, 5, 1, 10, 7), at(2024, 5, 1, 10, 15)),
        ("*/15 * * * *", at(2024, 5, 1, 10, 15), at(2024, 5, 1, 10, 30)),
        ("0 0 * * 1", at(2024, 5, 1), at(2024, 5, 6)),
        ("0 12 1 * *", at(2024, 5, 1, 12), at(2024, 6, 1, 12)),
        ("0 0 29 2 *", at(2024, 3, 1), at(2028, 2, 29)),
    ],
)
def test_next_fire_is_the_first_slot_strictly_after(
    cron: str, after: float, expected: float
) -> None:
    assert next_fire(sched(cron), after) == expected


def test_next_fire_uses_the_schedules_time_zone() -> None:
    """09:00 New York is 14:00 UTC in winter and 13:00 UTC in summer."""
    spec = sched("0 9 * * *", timezone="America/New_York")
    assert next_fire(spec, at(2024, 1, 10)) == at(2024, 1, 10, 14)
    assert next_fire(spec, at(2024, 7, 10)) == at(2024, 7, 10, 13)


def test_next_fire_accepts_aware_datetimes_and_refuses_naive_ones() -> None:
    spec = sched("0 * * * *")
    assert next_fire(spec, datetime(2024, 5, 1, 10, 30, tzinfo=UTC)) == at(2024, 5, 1, 11)
    with pytest.raises(ValueError, match="naive"):
        next_fire(spec, datetime(2024, 5, 1, 10, 30))


def test_spring_forward_fixed_time_job_runs_shifted_by_the_gap() -> None:
    """02:30 does not exist in Berlin on 2024-03-31: it runs at 03:30 CEST (java.time's
    resolution), once, and at 02:30 CEST again the next day."""
    spec = sched("30 2 * * *", timezone="Europe/Berlin")
    got = fires(spec, at(2024, 3, 30, 12), at(2024, 4, 1, 12))
    assert [local(t) for t in got] == ["2024-03-31 03:30 CEST", "2024-04-01 02:30 CEST"]


def test_spring_forward_wildcard_job_skips_the_missing_hour() -> None:
    """Hourly `30 * * * *`: the missing 02:30 is skipped, 03:30 fires once (no double)."""
    spec = sched("30 * * * *", timezone="Europe/Berlin")
    got = fires(spec, at(2024, 3, 31, 0, tz=BERLIN), at(2024, 3, 31, 4, 45, tz=BERLIN))
    assert [local(t) for t in got] == [
        "2024-03-31 00:30 CET",
        "2024-03-31 01:30 CET",
        "2024-03-31 03:30 CEST",
        "2024-03-31 04:30 CEST",
    ]


def test_fall_back_fixed_time_job_fires_once_not_twice() -> None:
    """02:30 happens twice in Berlin on 2024-10-27; a daily 02:30 job runs once (the
    first occurrence)."""
    spec = sched("30 2 * * *", timezone="Europe/Berlin")
    got = fires(spec, at(2024, 10, 26, 12), at(2024, 10, 28, 12))
    assert [local(t) for t in got] == ["2024-10-27 02:30 CEST", "2024-10-28 02:30 CET"]


def test_fall_back_wildcard_job_keeps_real_time_spacing() -> None:
    """`*/30 * * * *` fires every 30 real minutes through the repeated hour."""
    spec = sched("*/30 * * * *", timezone="Europe/Berlin")
    got = fires(spec, at(2024, 10, 26, 22, 45), at(2024, 10, 27, 3, 15))
    assert [b - a for a, b in itertools.pairwise(got)] == [1800.0] * (len(got) - 1)
    assert len(got) == 9


def test_new_york_dst_both_ways_for_a_daily_job() -> None:
    """New York skips 02:00-03:00 in March and repeats 01:00-02:00 in November."""
    ny = ZoneInfo("America/New_York")
    spring = fires(
        sched("30 2 * * *", timezone="America/New_York"), at(2024, 3, 9, 12), at(2024, 3, 11, 12)
    )
    fall = fires(
        sched("30 1 * * *", timezone="America/New_York"), at(2024, 11, 2, 12), at(2024, 11, 4, 12)
    )
    assert [local(t, ny) for t in spring] == ["2024-03-10 03:30 EDT", "2024-03-11 02:30 EDT"]
    assert [local(t, ny) for t in fall] == ["2024-11-03 01:30 EDT", "2024-11-04 01:30 EST"]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
@given(start=st.integers(min_value=1_700_000_000, max_value=1_800_000_000))
@settings(max_examples=40, deadline=None)
def test_next_fire_is_strictly_increasing(zone: str, start: int) -> None:
    spec = sched("*/20 * * * *", timezone=zone)
    t = float(start)
    for _ in range(8):
        n = next_fire(spec, t)
        assert t < n <= t + 2 * 3600
        t = n


# ------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"id": "s", "cron": "not a cron"}, "/cron"),
        ({"id": "s", "cron": "0 0 * * * *"}, "/cron"),
        ({"id": "s", "cron": "0 25 * * *"}, "/cron"),
        ({"id": "s", "cron": "* * * * *", "timezone": "Europe/Nowhere"}, "/timezone"),
        ({"id": "s", "cron": "* * * * *", "timezone": ""}, "/timezone"),
        ({"id": "s", "cron": "* * * * *", "enabled": "yes"}, "/enabled"),
        ({"cron": "* * * * *"}, "/id"),
        ({"id": "s", "cron": "* * * * *", "bogus": 1}, "/bogus"),
    ],
)
def test_bad_schedule_input_names_its_field(data: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        ScheduleSpec.from_json(data)
    assert path in info.value.paths


def test_a_rendered_schedule_is_valid_input_and_shows_next_run_at() -> None:
    spec = ScheduleSpec.from_json({"id": "n", "cron": "0 3 * * *", "timezone": "Europe/Berlin"})
    body = spec.api_json(at(2024, 5, 1))
    assert body["nextRunAt"] == "2024-05-01T01:00:00.000+0000"
    assert ScheduleSpec.from_json(body) == spec


# ------------------------------------------------------------------ scheduler step

JOB = "prod.report"
T0 = at(2024, 5, 1, 0, 0, 1)  # the schedule is created one second after midnight


def state(cron: str = "0 * * * *", **kw: object) -> ScheduleState:
    return ScheduleState.new(JOB, sched(cron, **kw), T0)


def starts(effects: tuple[object, ...]) -> list[StartRun]:
    return [e for e in effects if isinstance(e, StartRun)]


def skips(effects: tuple[object, ...]) -> list[SlotSkipped]:
    return [e for e in effects if isinstance(e, SlotSkipped)]


def test_a_slot_fires_once_at_its_time_with_a_deterministic_run_id() -> None:
    s = state()
    s, effects = step_schedule(s, at(2024, 5, 1, 0, 59), 0)
    assert effects == ()
    s, effects = step_schedule(s, at(2024, 5, 1, 1) + 0.5, 0)
    slot = at(2024, 5, 1, 1)
    assert effects == (StartRun(JOB, "s", slot, run_id_for_slot(JOB, "s", slot)),)
    assert s.last_fired_slot == slot
    _, again = step_schedule(s, at(2024, 5, 1, 1, 5), 0)
    assert again == ()


def test_a_schedule_never_fires_slots_from_before_it_existed() -> None:
    s = ScheduleState.new(JOB, sched("0 * * * *"), at(2024, 5, 1, 0, 10))
    _, effects = step_schedule(s, at(2024, 5, 1, 0, 10, 5), 0)
    assert effects == ()


@pytest.mark.parametrize(("late", "fired"), [(0, True), (899, True), (900, True), (901, False)])
def test_starting_deadline_bounds_how_late_a_slot_may_start(late: int, fired: bool) -> None:
    """Metronome's startingDeadlineSeconds (default 900): later, the slot is skipped."""
    slot = at(2024, 5, 1, 1)
    _, effects = step_schedule(state(), slot + late, 0)
    assert bool(starts(effects)) is fired
    if not fired:
        (skip,) = skips(effects)
        assert (skip.slot, skip.reason) == (slot, SkipReason.MISSED_DEADLINE)


def test_slots_missed_during_downtime_are_skipped_and_the_recent_one_fires() -> None:
    """No leader from 00:00:01 to 05:10: 01..04:00 are past the 900 s deadline and are
    recorded as skipped; 05:00 is still within it and fires."""
    _, effects = step_schedule(state(), at(2024, 5, 1, 5, 10), 0)
    assert [(e.slot, e.reason) for e in skips(effects)] == [
        (at(2024, 5, 1, h), SkipReason.MISSED_DEADLINE) for h in range(1, 5)
    ]
    assert [e.slot for e in starts(effects)] == [at(2024, 5, 1, 5)]


def test_several_due_slots_start_only_the_latest() -> None:
    s = state("* * * * *")
    _, effects = step_schedule(s, T0 + 5 * 60, 0)
    assert [e.reason for e in skips(effects)] == [SkipReason.SUPERSEDED] * 4
    assert [e.slot for e in starts(effects)] == [at(2024, 5, 1, 0, 5)]


def test_a_year_long_outage_is_summarised_not_enumerated() -> None:
    s = state("* * * * *")
    now = T0 + 365 * 86400
    s, effects = step_schedule(s, now, 0)
    assert len(skips(effects)) <= 101 + 15
    assert [e.slot for e in starts(effects)] == [next_fire(s.spec, now - 60)]
    assert s.last_fired_slot > now - 60


def test_forbid_skips_a_slot_while_a_run_is_active() -> None:
    """Metronome #100: FORBID was never implemented there; here it skips with a reason,
    and the skipped slot does not fire later when the run has finished."""
    s = state(concurrency_policy="FORBID")
    s, effects = step_schedule(s, at(2024, 5, 1, 1), active_runs=1)
    (skip,) = skips(effects)
    assert skip.reason is SkipReason.CONCURRENCY_FORBID and "FORBID" in skip.detail
    assert starts(effects) == []
    _, later = step_schedule(s, at(2024, 5, 1, 1, 5), active_runs=0)
    assert later == ()


def test_allow_starts_a_second_concurrent_run() -> None:
    _, effects = step_schedule(state(), at(2024, 5, 1, 1), active_runs=3)
    assert len(starts(effects)) == 1


def test_two_forbid_schedules_of_one_job_never_start_two_runs_in_one_step() -> None:
    a = ScheduleState.new(JOB, ScheduleSpec("a", "0 * * * *", concurrency_policy="FORBID"), T0)
    b = ScheduleState.new(JOB, ScheduleSpec("b", "0 * * * *", concurrency_policy="FORBID"), T0)
    _, effects = scheduler_step([a, b], at(2024, 5, 1, 1), {})
    assert len(starts(effects)) == 1
    assert [e.reason for e in skips(effects)] == [SkipReason.CONCURRENCY_FORBID]


def test_a_disabled_schedule_never_fires_and_a_failover_does_not_enable_it() -> None:
    """Metronome PR #130: disabled jobs came back enabled after a failover."""
    s = state(enabled=False)
    for hour in range(1, 24):
        s, effects = step_schedule(s, at(2024, 5, 1, hour), 0)
        assert effects == ()
        s = ScheduleState.from_json(s.to_json())  # failover: reload from ZooKeeper
        assert s.spec.enabled is False
    assert s.to_json()["schedule"]["enabled"] is False


def test_enabling_a_schedule_does_not_replay_the_slots_it_was_disabled_for() -> None:
    s = state(enabled=False)
    s, _ = step_schedule(s, at(2024, 5, 1, 5, 5), 0)
    s = s.updated(sched("0 * * * *", enabled=True), at(2024, 5, 1, 5, 5))
    _, effects = step_schedule(s, at(2024, 5, 1, 5, 6), 0)
    assert effects == ()
    _, effects = step_schedule(s, at(2024, 5, 1, 6), 0)
    assert [e.slot for e in starts(effects)] == [at(2024, 5, 1, 6)]


def test_changing_the_cron_starts_afresh_but_a_deadline_change_keeps_the_cursor() -> None:
    s = state()
    s, _ = step_schedule(s, at(2024, 5, 1, 1), 0)
    moved = s.updated(sched("30 * * * *"), at(2024, 5, 1, 1, 10))
    assert moved.last_fired_slot == at(2024, 5, 1, 1, 10)
    kept = s.updated(sched("0 * * * *", starting_deadline_seconds=120), at(2024, 5, 1, 1, 10))
    assert kept.last_fired_slot == at(2024, 5, 1, 1)


def test_after_a_failover_a_fired_slot_does_not_fire_again() -> None:
    """The new leader reloads last_fired_slot and steps at the same moment."""
    s, effects = step_schedule(state(), at(2024, 5, 1, 1, 0, 3), 0)
    assert len(starts(effects)) == 1
    reloaded = ScheduleState.from_json(s.to_json())
    assert reloaded == s
    _, again = step_schedule(reloaded, at(2024, 5, 1, 1, 0, 4), 0)
    assert again == ()


def test_a_step_lost_before_persisting_refires_with_the_same_run_id() -> None:
    """If the leader died before persisting, the new leader decides the slot again with
    the same run id, so a run that did get written is recognised, not duplicated."""
    s = state()
    _, first = step_schedule(s, at(2024, 5, 1, 1), 0)
    _, second = step_schedule(ScheduleState.from_json(s.to_json()), at(2024, 5, 1, 1, 1), 0)
    assert starts(first)[0].run_id == starts(second)[0].run_id


# -------------------------------------------------------------- failover property

CRONS = ["* * * * *", "*/7 * * * *", "30 2 * * *", "*/30 * * * *", "0 * * * *"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York"]
STARTS = [at(2024, 3, 31, 0, 10), at(2024, 10, 27, 0, 10), at(2024, 5, 1, 12), at(2024, 3, 10, 5)]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.integers(min_value=0, max_value=5000)),
        st.tuples(st.just("reload"), st.just(0)),
        st.tuples(st.just("crash"), st.integers(min_value=0, max_value=5000)),
        st.tuples(st.just("run-ends"), st.just(0)),
    ),
    max_size=40,
)


@given(
    cron=st.sampled_from(CRONS),
    zone=st.sampled_from(ZONES),
    t0=st.sampled_from(STARTS),
    policy=st.sampled_from(["ALLOW", "FORBID"]),
    deadline=st.sampled_from([60, 900, 3600]),
    script=ops,
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_each_slot_fires_at_most_once_across_ticks_and_failovers(
    cron: str, zone: str, t0: float, policy: str, deadline: int, script: list[tuple[str, int]]
) -> None:
    """The actor persists each step's state with its runs atomically; a "crash" loses a
    step's result entirely; a "reload" is a failover from ZooKeeper. Every slot is then
    decided exactly once (fired or skipped) and fired at most once."""
    spec = ScheduleSpec("s", cron, zone, deadline, policy)
    durable = ScheduleState.new(JOB, spec, t0).to_json()
    live = ScheduleState.from_json(durable)
    now, active = t0, 0
    fired: set[float] = set()
    decided: list[float] = []
    for op, dt in script:
        if op == "reload":
            live = ScheduleState.from_json(durable)
            continue
        if op == "run-ends":
            active = max(0, active - 1)
            continue
        now += dt
        (new,), effects = scheduler_step([live], now, {JOB: active})
        if op == "crash":
            live = ScheduleState.from_json(durable)
            continue
        for effect in effects:
            assert effect.slot not in fired
            assert effect.slot <= now
            decided.append(effect.slot)
            if isinstance(effect, SlotSkipped) and effect.detail.endswith("not listed"):
                # A long outage: one entry stands for every later slot before the window.
                window = math.nextafter(now - deadline, -math.inf)
                decided.extend(fires(spec, effect.slot, window))
            if isinstance(effect, StartRun):
                assert now - effect.slot <= deadline
                assert not (policy == "FORBID" and active)
                fired.add(effect.slot)
                active += 1
        live, durable = new, new.to_json()
    expected = fires(spec, t0, live.last_fired_slot)
    assert decided == expected


def test_property_helper_sanity() -> None:
    assert fires(sched("0 * * * *"), at(2024, 1, 1), at(2024, 1, 1, 3)) == [
        at(2024, 1, 1, h) for h in (1, 2, 3)
    ]
