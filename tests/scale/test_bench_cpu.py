"""The scale bench's CPU accounting (where the machine's cores went during a phase):
per-process CPU seconds from /proc, the machine's busy seconds, and the per-role
average cores of a phase."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from _scale_cluster import cpu_seconds, machine_busy_seconds  # noqa: E402

from bench.scale import cpu_share  # noqa: E402


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_process_cpu_seconds_grow_with_its_work_and_a_gone_one_reads_zero() -> None:
    before = cpu_seconds(os.getpid())
    busy_before = machine_busy_seconds()
    _spin(0.3)
    assert cpu_seconds(os.getpid()) - before >= 0.2
    assert machine_busy_seconds() - busy_before >= 0.2
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert cpu_seconds(child.pid) == 0.0  # reaped: no /proc entry
    assert cpu_seconds(None) == 0.0


def test_cpu_share_is_each_roles_average_cores_over_the_phase() -> None:
    c0 = {"leader": 10.0, "agents": 4.0, "busy": 100.0}
    c1 = {"leader": 15.0, "agents": 6.0, "busy": 118.0}
    assert cpu_share(c0, c1, 10.0) == {
        "cpu_leader_cores": 0.5,
        "cpu_agents_cores": 0.2,
        "cpu_busy_cores": 1.8,
    }
    assert cpu_share(c0, c1, 0.0) == {}


def test_job_post_hops_are_the_steps_means_in_ms() -> None:
    from bench.scale import job_post_hops

    row = {
        "tasks": 100000,
        "metronome_post_timed": 4,
        "metronome_post_queue_us": 2000,
        "metronome_post_wait_us": 800,
        "metronome_post_write_us": 16000,
        "metronome_post_answer_us": 2000,
        "metronome_post_http_us": 24000,
    }
    line = job_post_hops(row)
    assert line is not None
    assert "4 timed, mean 6.0 ms" in line
    assert "queue 0.5, wait 0.2, write 4.0, answer 0.5 ms" in line
    assert job_post_hops({"tasks": 10, "metronome_post_timed": 0}) is None
    assert job_post_hops({"tasks": 10}) is None
