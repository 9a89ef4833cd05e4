"""A master logs a cyclic collection that held the GIL for long (``tune_gc``'s callback):
the leader's lease heartbeat, actor thread and HTTP loop all stop while it runs."""

from __future__ import annotations

import gc
import logging

import pytest

from actors.master import _process


def test_a_long_collection_is_logged_with_its_generation(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    times = iter([10.0, 10.1, 20.0, 20.0 + _process.GC_PAUSE_WARNING + 0.5])
    monkeypatch.setattr(_process, "real_now", lambda: next(times))
    pauses = _process._GcPauses()
    with caplog.at_level(logging.WARNING, logger="actors.master"):
        pauses("start", {"generation": 0})
        pauses("stop", {"generation": 0, "collected": 3})  # 0.1 s: not worth a line
        assert "gc:" not in caplog.text
        pauses("start", {"generation": 2})
        pauses("stop", {"generation": 2, "collected": 7})
    assert "generation 2 collection held the GIL for 0.75 s (7 collected)" in caplog.text
    assert pauses.longest == pytest.approx(0.75)


def test_tune_gc_registers_its_callback_once() -> None:
    before, thresholds = list(gc.callbacks), gc.get_threshold()
    try:
        _process.tune_gc()
        _process.tune_gc()
        assert gc.callbacks.count(_process.GC_PAUSES) == 1
    finally:
        gc.callbacks[:] = before
        gc.set_threshold(*thresholds)
