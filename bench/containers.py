"""Launch latency of the containerizers against their baselines, measured in one run.

native: launch() -> TASK_RUNNING reported, vs a bare subprocess.Popen of the same
        command until it has written a marker file (the native task's own marker time
        is printed too, as native_exec_ms).
docker: launch() -> TASK_RUNNING reported, vs `docker -H ... run -d` of the same image.
Run from the repo root: .venv/bin/python bench/containers.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.agent import (
    TASK_RUNNING,
    TEST_IMAGE,
    DockerContainerizer,
    DockerDaemon,
    NativeContainerizer,
    TaskSpec,
)

ROUNDS = 15


def wait_file(p: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not p.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(p)
        time.sleep(0.0002)


def bench_native(work: Path) -> tuple[float, float, float]:
    c = NativeContainerizer(work / "agent", cgroup_root=f"pydcos-bench-{os.getpid()}")
    bare, launch, exec_ = [], [], []
    for i in range(ROUNDS + 1):
        marker = work / f"bare-{i}"
        t0 = time.perf_counter()
        p = subprocess.Popen(
            ["/bin/sh", "-c", f"echo x > {marker}; sleep 30"], start_new_session=True
        )
        wait_file(marker)
        t_bare = time.perf_counter() - t0
        p.kill()
        p.wait()
        marker = work / "agent" / "sandboxes" / f"b{i}" / "marker"  # the task has its own /tmp
        running = threading.Event()

        def on_update(
            state: str, reason: str | None, message: str, ev: threading.Event = running
        ) -> None:
            if state == TASK_RUNNING:
                ev.set()

        t0 = time.perf_counter()
        h = c.launch(
            TaskSpec(task_id=f"b{i}", command="echo x > marker; sleep 30", cpus=1.0, mem=64),
            None,
            on_update,
        )
        running.wait(10)
        t_run = time.perf_counter() - t0
        wait_file(marker)
        t_exec = time.perf_counter() - t0
        h.kill(0)
        h.wait(10)
        if i:  # round 0 warms caches
            bare.append(t_bare)
            launch.append(t_run)
            exec_.append(t_exec)
    c.remove_cgroup_root(kill_tasks=True)
    med = statistics.median
    return med(bare) * 1e3, med(launch) * 1e3, med(exec_) * 1e3


def bench_docker(work: Path, d: DockerDaemon) -> tuple[float, float]:
    c = DockerContainerizer(work / "agent", d.url, agent_id="bench")
    run_t, launch_t = [], []
    for i in range(ROUNDS + 1):
        t0 = time.perf_counter()
        cid = subprocess.run(
            ["docker", "-H", d.url, "run", "-d", "--name", f"bare-{i}", TEST_IMAGE, "sleep", "30"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        t_run = time.perf_counter() - t0
        subprocess.run(["docker", "-H", d.url, "rm", "-f", cid], capture_output=True)
        running = threading.Event()

        def on_update(
            state: str, reason: str | None, message: str, ev: threading.Event = running
        ) -> None:
            if state == TASK_RUNNING:
                ev.set()

        t0 = time.perf_counter()
        h = c.launch(
            TaskSpec(
                task_id=f"d{i}",
                command="sleep 30",
                container_type="DOCKER",
                image=TEST_IMAGE,
                mem=64,
            ),
            None,
            on_update,
        )
        running.wait(30)
        t_launch = time.perf_counter() - t0
        h.kill(0)
        h.wait(30)
        if i:
            run_t.append(t_run)
            launch_t.append(t_launch)
    return statistics.median(run_t) * 1e3, statistics.median(launch_t) * 1e3


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="pydcos-bench-"))
    bare, native, native_exec = bench_native(work)
    print(
        f"native: launch->RUNNING p50 {native:.1f} ms (command running after "
        f"{native_exec:.1f} ms), bare Popen->exec p50 {bare:.1f} ms"
    )
    docker_run = docker_launch = float("nan")
    with DockerDaemon() as d:
        d.build_test_image()
        docker_run, docker_launch = bench_docker(work, d)
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"docker: launch->RUNNING p50 {docker_launch:.1f} ms, docker run -d p50 {docker_run:.1f} ms"
    )
    native_ratio = native / bare
    docker_ratio = docker_launch / docker_run
    met = native <= 1.5 * bare + 20 and docker_ratio <= 1.2
    print(
        json.dumps(
            {
                "bench": "containers",
                "native_launch_ms": round(native, 2),
                "native_ratio": round(native_ratio, 3),
                "native_bare_ms": round(bare, 2),
                "native_exec_ms": round(native_exec, 2),
                "docker_launch_ms": round(docker_launch, 2),
                "docker_ratio": round(docker_ratio, 3),
                "docker_run_ms": round(docker_run, 2),
                "targets_met": met,
            }
        )
    )


if __name__ == "__main__":
    main()
