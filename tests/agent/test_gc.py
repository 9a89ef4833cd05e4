"""Sandbox garbage collection: Mesos' gc_delay scaled down by disk use."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from actors.agent import _gc

DAY = 24 * 3600.0


def test_max_age_shrinks_as_the_disk_fills_but_never_below_the_floor() -> None:
    assert _gc.max_age(7 * DAY, 0.1, 0.0) == pytest.approx(0.9 * 7 * DAY)
    assert _gc.max_age(7 * DAY, 0.1, 0.5) == pytest.approx(0.4 * 7 * DAY)
    assert _gc.max_age(7 * DAY, 0.1, 0.95) == _gc.MIN_AGE  # past the headroom: at once
    assert _gc.max_age(1.0, 0.0, 0.0) == _gc.MIN_AGE


def test_due_skips_live_tasks_and_young_sandboxes() -> None:
    idle = {"old": 0.0, "live-old": 0.0, "young": 990.0}
    assert _gc.due(idle, {"live-old"}, now=1000.0, age=100.0) == ["old"]
    assert _gc.due(idle, set(), now=1000.0, age=5000.0) == []


def _sandbox(root: Path, task_id: str, idle_for: float) -> Path:
    d = root / "sandboxes" / task_id
    d.mkdir(parents=True)
    for name in ("stdout", "stderr"):
        (d / name).write_text("log\n")
    (d / "fetched").mkdir()
    t = time.time() - idle_for
    for p in (d / "stdout", d / "stderr", d):
        os.utime(p, (t, t))
    return d


def test_collect_removes_only_unused_sandboxes_idle_long_enough(tmp_path: Path) -> None:
    old = _sandbox(tmp_path, "old", 2 * DAY)
    live = _sandbox(tmp_path, "live", 2 * DAY)
    recent = _sandbox(tmp_path, "recent", 600.0)
    removed = _gc.collect(tmp_path, {"live"}, time.time(), gc_delay=DAY, headroom=0.1, used=0.0)
    assert removed == ["old"]
    assert not old.exists() and live.exists() and recent.exists()
    # A full disk: everything unused past the floor goes, the live one stays.
    assert _gc.collect(tmp_path, {"live"}, time.time(), DAY, 0.1, used=0.95) == ["recent"]
    assert live.exists()


def test_a_log_still_written_keeps_its_sandbox(tmp_path: Path) -> None:
    d = _sandbox(tmp_path, "chatty", 2 * DAY)
    os.utime(d / "stdout")  # written just now (a task the agent lost track of)
    assert _gc.collect(tmp_path, set(), time.time(), DAY, 0.1, used=0.0) == []
    assert d.exists()


def test_collect_without_sandboxes_and_disk_used(tmp_path: Path) -> None:
    assert _gc.collect(tmp_path / "missing", set(), time.time()) == []
    assert 0.0 <= _gc.disk_used(tmp_path) <= 1.0
    assert _gc.disk_used(tmp_path / "missing") == 0.0
