"""The universal container runtime (issue 19): launch to TASK_RUNNING of a busybox image
with no Docker engine, against ``docker run`` of the same image on the real engine.

ucr_warm:   NativeContainerizer.launch(image task) -> TASK_RUNNING, layers cached
ucr_cold:   the same with the agent's image cache emptied before each launch (the
            tarball is read, digests checked, layers unpacked, root provisioned)
docker_run: ``docker -H <private dockerd> run -d`` of the same image (``docker load``ed
            from the same tarball), until the engine answers (the container started)
native:     a native task with no image -> TASK_RUNNING
pod_ratio:  a 2-container pod to RUNNING / a single task (``bench/_pods.py``'s
            ``measure()`` from the pods work, when it exists; null otherwise)
Targets: warm <= 1.0x docker run, cold <= 2x, pod <= 1.5x.
Run from the repo root: .venv/bin/python bench/ucr.py
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.agent import (
    IMAGE_REGISTRY_ENV,
    TASK_RUNNING,
    DockerDaemon,
    NativeContainerizer,
    TaskSpec,
    import_image,
)
from tests.ucr._image import HOSTNAME_IN_IMAGE, busybox_image

ROUNDS = 11
IMAGE = "pydcos-ucr-busybox:latest"
COMMAND = 'echo x > "$MESOS_SANDBOX/marker"; sleep 30'


def launch_to_running(c: NativeContainerizer, spec: TaskSpec, timeout: float = 30.0) -> Any:
    """(seconds to TASK_RUNNING, seconds until the command ran: its marker file in the
    sandbox, handle); raises with the task's message if it fails."""
    running = threading.Event()
    failed: list[str] = []

    def on_update(state: str, reason: str | None, message: str) -> None:
        if state == TASK_RUNNING:
            running.set()
        elif state not in ("TASK_STARTING",):
            failed.append(f"{state} {reason}: {message}")
            running.set()

    t0 = time.perf_counter()
    h = c.launch(spec, None, on_update)
    if not running.wait(timeout):
        raise TimeoutError(f"{spec.task_id} not RUNNING after {timeout}s")
    elapsed = time.perf_counter() - t0
    if failed:
        raise RuntimeError(f"{spec.task_id}: {failed[0]}")
    marker = Path(c.work_dir) / "sandboxes" / spec.task_id / "marker"
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{spec.task_id} never ran its command")
        time.sleep(0.0002)
    return elapsed, time.perf_counter() - t0, h


def stop(h: Any) -> None:
    h.kill(0)
    h.wait(15)


def empty_image_cache(work: Path) -> None:
    images = work / "images"
    for sub in ("layers", "index"):
        shutil.rmtree(images / sub, ignore_errors=True)
        (images / sub).mkdir(parents=True, exist_ok=True)


def bench_runtime(work: Path) -> dict[str, float]:
    c = NativeContainerizer(work / "agent", cgroup_root=f"pydcos-bench-ucr-{os.getpid()}")
    runs: dict[str, list[float]] = {k: [] for k in ("native", "warm", "cold")}
    execs: dict[str, list[float]] = {k: [] for k in ("native", "warm", "cold")}

    def run(kind: str, task_id: str, image: str | None) -> None:
        spec = TaskSpec(task_id=task_id, command=COMMAND, cpus=0.1, mem=32, image=image)
        t, t_exec, h = launch_to_running(c, spec)
        stop(h)
        runs[kind].append(t)
        execs[kind].append(t_exec)

    try:
        run("native", "n-warmup", None)
        run("warm", "w-warmup", IMAGE)  # fills the cache
        for k in runs:
            runs[k].clear()
            execs[k].clear()
        for i in range(ROUNDS):  # interleaved: a load spike hits every kind alike
            run("native", f"n{i}", None)
            run("warm", f"w{i}", IMAGE)
            empty_image_cache(work / "agent")
            run("cold", f"c{i}", IMAGE)
        # once, untimed: the task really ran inside the image
        spec = TaskSpec(
            task_id="proof",
            command='cat /etc/hostname > "$MESOS_SANDBOX/hostname"; ' + COMMAND,
            cpus=0.1,
            mem=32,
            image=IMAGE,
        )
        *_, h = launch_to_running(c, spec)
        proof = work / "agent" / "sandboxes" / "proof" / "hostname"
        deadline = time.monotonic() + 10
        while not proof.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        stop(h)
        seen = proof.read_text().strip() if proof.exists() else "(nothing)"
        if seen != HOSTNAME_IN_IMAGE:
            raise RuntimeError(f"the image task saw /etc/hostname = {seen!r}")
    finally:
        c.remove_cgroup_root(kill_tasks=True)
    med = statistics.median
    out = {k: med(v) for k, v in runs.items()}
    out.update({f"{k}_exec": med(v) for k, v in execs.items()})
    return out


def bench_docker(tar: Path) -> float:
    times = []
    with DockerDaemon() as d:
        docker = ["docker", "-H", d.url]
        subprocess.run([*docker, "load", "-q", "-i", str(tar)], check=True, capture_output=True)
        for i in range(ROUNDS + 1):
            t0 = time.perf_counter()
            cid = subprocess.run(
                [*docker, "run", "-d", "--name", f"ucr-{i}", IMAGE, "sleep", "30"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            t = time.perf_counter() - t0
            subprocess.run([*docker, "rm", "-f", cid], capture_output=True)
            if i:
                times.append(t)
    return statistics.median(times)


def pod_ratio() -> float | None:
    if not (Path(__file__).resolve().parent / "_pods.py").exists():
        return None
    from _pods import measure  # type: ignore[import-not-found]

    value = measure()
    return None if value is None else float(value)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="pydcos-bench-ucr-"))
    try:
        tar = busybox_image(work / "busybox.tar", name=IMAGE)
        import_image(work / "registry", tar, IMAGE)
        os.environ[IMAGE_REGISTRY_ENV] = str(work / "registry")
        r = bench_runtime(work)
        for k in ("warm", "cold", "native"):
            print(
                f"{'ucr ' + k if k != 'native' else 'native (no image)'}: launch->RUNNING "
                f"p50 {r[k] * 1e3:.1f} ms, command running after {r[k + '_exec'] * 1e3:.1f} ms"
            )
        docker_run = bench_docker(tar)
        print(f"docker run -d of the same image: p50 {docker_run * 1e3:.1f} ms")
        pods = pod_ratio()
        print(f"pod (2 containers) / single task to RUNNING: {pods}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    met = (
        r["warm"] <= 1.0 * docker_run
        and r["cold"] <= 2.0 * docker_run
        and pods is not None
        and pods <= 1.5
    )
    print(
        json.dumps(
            {
                "bench": "ucr",
                "ucr_warm_ms": round(r["warm"] * 1e3, 2),
                "ucr_cold_ms": round(r["cold"] * 1e3, 2),
                "docker_run_ms": round(docker_run * 1e3, 2),
                "native_ms": round(r["native"] * 1e3, 2),
                "pod_ratio": None if pods is None else round(pods, 3),
                "ucr_warm_exec_ms": round(r["warm_exec"] * 1e3, 2),
                "ucr_cold_exec_ms": round(r["cold_exec"] * 1e3, 2),
                "targets_met": met,
            }
        )
    )


if __name__ == "__main__":
    main()
