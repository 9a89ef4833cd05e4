"""The launch queue by class (``_queue.py``, ``_offers.match_queue``) against the
per-attempt matcher it replaced (``match_offer`` over every waiting attempt, and one
``Waiting.refused`` per attempt per refused offer), on seeded random queues and offers."""

from __future__ import annotations

import random
from typing import Any

import pytest

from actors import protocol as p
from actors.metronome import JobRun, JobSpec
from actors.metronome._offers import class_key, match_offer, match_queue
from actors.metronome._queue import LaunchQueue
from actors.metronome._view import Waiting
from actors.resources import Resources


def random_job(rng: random.Random, n: int) -> JobSpec:
    run: dict[str, Any] = {
        "cmd": "true",
        "cpus": rng.choice([0.1, 0.5, 1, 2]),
        "mem": rng.choice([32, 128, 1024]),
    }
    if rng.random() < 0.3:
        rack = rng.choice(["r1", "r2"])
        run["placement"] = {"constraints": [{"attribute": "rack", "operator": "IS", "value": rack}]}
    if rng.random() < 0.2:
        run["cmd"] = None
        run["docker"] = {"image": "busybox"}
    return JobSpec.from_json({"id": f"j{n}", "run": run})


def random_offer(rng: random.Random, n: int) -> p.Offer:
    cpus = rng.choice([0.05, 0.5, 1, 3, 8])
    mem = rng.choice([16, 100, 512, 4096])
    attributes: dict[str, Any] = {"rack": rng.choice(["r1", "r2"])}
    if rng.random() < 0.3:
        attributes["containerizers"] = "mesos"
    res = Resources.parse(f"cpus:{cpus};mem:{mem}").to_dict()
    return p.Offer(f"o{n}", "f", f"a{n % 5}", f"agent{n % 5}", res, attributes=attributes)


@pytest.mark.parametrize("seed", range(12))
def test_match_queue_launches_what_match_offer_launches(seed: int) -> None:
    rng = random.Random(seed)
    jobs = [random_job(rng, n) for n in range(8)]  # few shapes: classes of many attempts
    queue = LaunchQueue()
    runs: dict[str, JobRun] = {}
    gone: set[str] = set()
    for step in range(200):
        for _ in range(rng.randrange(4)):
            job = rng.choice(jobs)
            task_id = f"{job.id}.t{step}.{len(runs)}"
            runs[task_id] = JobRun(f"r{len(runs)}", job, 0.0)
            queue.add(task_id, (job.id, runs[task_id].id), class_key(job))
        for task_id in rng.sample(sorted(runs), min(len(runs), rng.randrange(2))):
            gone.add(task_id)  # stopped: still queued, dropped when met
        offer = random_offer(rng, step)
        live = [
            (t, runs[t]) for t in runs if t in queue and t not in gone
        ]  # queue order: insertion order of runs
        old = match_offer(offer, live)
        new = match_queue(offer, queue.heads(), lambda t, w: None if t in gone else runs[t])
        assert [t for t, _ in new.launches] == [t for t, _ in old.launches]
        assert [task for _, task in new.launches] == [task for _, task in old.launches]
        assert set(new.stale) <= gone
        # Each class refused stands for attempts the old matcher refused alike.
        old_by_class: dict[Any, list[tuple[str, str]]] = {}
        for r in old.refusals:
            old_by_class.setdefault(class_key(runs[r.task_id].job), []).append((r.reason, r.detail))
        for key, reason, detail in new.refused:
            assert old_by_class[key][0] == (reason, detail)
        if not old.launches:  # then every old refusal's class is refused here
            assert set(old_by_class) == {key for key, _, _ in new.refused}
        for t in new.stale:
            queue.pop(t)
        for t, _ in new.launches:
            assert queue.pop(t) is not None
            runs.pop(t)


def test_a_class_refused_is_tried_once_per_offer() -> None:
    job = JobSpec.from_json({"id": "j", "run": {"cmd": "true", "cpus": 1, "mem": 128}})
    queue = LaunchQueue()
    for n in range(1000):
        queue.add(f"t{n}", ("j", f"r{n}"), class_key(job))
    asked: list[str] = []

    def run_of(task_id: str, where: tuple[str, str]) -> JobRun:
        asked.append(task_id)
        return JobRun(where[1], job, 0.0)

    full = p.Offer("o", "f", "a", "h", Resources.parse("cpus:0.5;mem:4096").to_dict())
    plan = match_queue(full, queue.heads(), run_of)
    assert asked == ["t0"] and plan.launches == ()
    assert plan.decline_reason == "cpus: need 1, offer has 0.5"


@pytest.mark.parametrize("seed", range(8))
def test_waiting_is_what_per_attempt_records_said(seed: int) -> None:
    """Every attempt waiting when its class is refused counts that refusal, from the
    moment it was queued: the same ``Waiting`` as one ``refused`` per attempt."""
    rng = random.Random(seed)
    keys = [class_key(random_job(rng, n)) for n in range(3)]
    queue = LaunchQueue()
    model: dict[str, tuple[Any, Waiting]] = {}  # task id -> (class, per-attempt record)
    shown: dict[str, Waiting] = {}
    for step in range(300):
        roll = rng.random()
        if roll < 0.35:
            key = rng.choice(keys)
            task_id = f"t{step}"
            queue.add(task_id, ("job", task_id), key)
            model[task_id] = (key, Waiting(task_id))
        elif roll < 0.5 and model:
            task_id = rng.choice(sorted(model))
            assert queue.pop(task_id) == ("job", task_id)
            del model[task_id]
            shown.pop(task_id, None)
        elif roll < 0.9:
            key = rng.choice(keys)
            offer = p.Offer(f"o{step}", "f", "a1", "agent1", {})
            reason = rng.choice(["InsufficientCpus", "InsufficientMemory"])
            stamp = f"2026-12-06T15:00:{step % 60:02d}.000+0000"
            queue.refused(key, offer, reason, f"{reason} {step}", stamp)
            for task_id, (k, w) in list(model.items()):
                if k == key:
                    model[task_id] = (k, refused_at(w, offer, reason, f"{reason} {step}", stamp))
        else:
            for runs in queue.waiting_updates().values():
                for run_id, waiting in runs.items():
                    shown[run_id] = waiting
            for task_id, (_, w) in model.items():
                if w.processed:
                    assert shown[task_id] == w
                else:
                    assert task_id not in shown
    assert len(queue) == len(model)


def refused_at(w: Waiting, offer: p.Offer, reason: str, detail: str, stamp: str) -> Waiting:
    """``Waiting.refused`` with the timestamp as given (it formats a wall time)."""
    out = w.refused(offer, reason, detail, 0.0)
    last = {**out.last_unused[-1], "timestamp": stamp}
    return Waiting(out.task_id, out.processed, out.reasons, (*out.last_unused[:-1], last))
