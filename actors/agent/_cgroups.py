"""A per-task cgroup on v1 (one dir per controller) or v2 (one unified dir)."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

from runtime import real_now

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")
CFS_PERIOD_US = 100_000


_OPTIONAL_FILES = ("memory.swap.max", "memory.memsw.limit_in_bytes")
"""Limit files a kernel may lack (no swap accounting): written when present."""


def cgroup_limit_files(
    version: int,
    cpus: float,
    mem_mb: float,
    cpus_limit: float | None = None,
    mem_limit_mb: float | None = None,
) -> dict[tuple[str, str], str]:
    """The limit files of a task's cgroup, ``{(controller, file): text}`` in write order
    (pure). A limit of ``math.inf`` is the kernel's "none": ``max`` (v2) or ``-1`` (v1);
    None means the request is the limit. Swap stays off (v2 ``memory.swap.max`` 0; v1
    memsw = the memory limit), as Mesos' memory isolator."""
    cpu_lim = cpus if cpus_limit is None else max(cpus_limit, cpus)
    mem_lim = mem_mb if mem_limit_mb is None else max(mem_limit_mb, mem_mb)
    quota = None if math.isinf(cpu_lim) else max(1000, int(cpu_lim * CFS_PERIOD_US))
    mem = None if math.isinf(mem_lim) else int(mem_lim * 1024 * 1024)
    if version == 2:
        return {
            ("memory", "memory.max"): "max" if mem is None else str(mem),
            ("memory", "memory.swap.max"): "0",
            ("cpu", "cpu.max"): f"{'max' if quota is None else quota} {CFS_PERIOD_US}",
        }
    return {
        ("memory", "memory.limit_in_bytes"): "-1" if mem is None else str(mem),
        ("memory", "memory.memsw.limit_in_bytes"): "-1" if mem is None else str(mem),
        ("cpu", "cpu.cfs_period_us"): str(CFS_PERIOD_US),
        ("cpu", "cpu.cfs_quota_us"): "-1" if quota is None else str(quota),
        ("cpu", "cpu.shares"): str(max(2, int(cpus * 1024))),
    }


def detect_version(root: Path = CGROUP_ROOT) -> int | None:
    """2 for a unified hierarchy, 1 for v1 with memory+cpu mounted, None otherwise."""
    if (root / "cgroup.controllers").exists():
        return 2
    if (root / "memory" / "memory.limit_in_bytes").exists() and (root / "cpu").is_dir():
        return 1
    return None


class Cgroup:
    """Create, limit, inspect and destroy one task's cgroup."""

    def __init__(self, version: int, name: str, root: Path = CGROUP_ROOT) -> None:
        self.version = version
        self.name = name
        self.root = root

    def dirs(self) -> list[Path]:
        if self.version == 2:
            return [self.root / self.name]
        return [self.root / c / self.name for c in V1_CONTROLLERS if (self.root / c).is_dir()]

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs()]

    def _file(self, controller: str, name: str) -> Path:
        if self.version == 2:
            return self.root / self.name / name
        return self.root / controller / self.name / name

    def create(
        self,
        cpus: float,
        mem_mb: float,
        cpus_limit: float | None = None,
        mem_limit_mb: float | None = None,
    ) -> None:
        """Create the cgroup and write its limits. ``cpus_limit``/``mem_limit_mb``: the
        task's resource limits (None: the request itself, DC/OS' default hard CFS quota;
        ``math.inf``: no quota / no memory limit). The CPU weight (v1 shares) follows the
        request ``cpus`` either way: what is reserved is what a busy host shares out."""
        if self.version == 2:
            self._enable_v2_controllers()
        for d in self.dirs():
            d.mkdir(parents=True, exist_ok=True)
        files = cgroup_limit_files(self.version, cpus, mem_mb, cpus_limit, mem_limit_mb)
        for (controller, name), value in files.items():
            if name in _OPTIONAL_FILES:
                with contextlib.suppress(OSError):
                    self._file(controller, name).write_text(value)
            else:
                self._file(controller, name).write_text(value)

    def _enable_v2_controllers(self) -> None:
        parts = Path(self.name).parts
        cur = self.root
        for part in parts[:-1]:
            with contextlib.suppress(OSError):
                (cur / "cgroup.subtree_control").write_text("+memory +cpu +pids")
            cur = cur / part
            cur.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            (cur / "cgroup.subtree_control").write_text("+memory +cpu +pids")

    def exists(self) -> bool:
        return any(d.is_dir() for d in self.dirs())

    def pids(self) -> list[int]:
        seen: set[int] = set()
        for f in self.procs_files():
            try:
                seen.update(int(x) for x in Path(f).read_text().split())
            except (OSError, ValueError):
                continue
        return sorted(seen)

    def oom_killed(self) -> bool:
        """Did the kernel's OOM killer act in this cgroup (or the limit get hit hard)?"""
        try:
            if self.version == 2:
                for line in self._file("memory", "memory.events").read_text().splitlines():
                    k, _, v = line.partition(" ")
                    if k == "oom_kill" and int(v) > 0:
                        return True
                return False
            for line in self._file("memory", "memory.oom_control").read_text().splitlines():
                k, _, v = line.partition(" ")
                if k == "oom_kill" and int(v) > 0:
                    return True
            return False
        except (OSError, ValueError):
            return False

    def cpu_time_s(self) -> float:
        try:
            if self.version == 2:
                for line in self._file("cpu", "cpu.stat").read_text().splitlines():
                    k, _, v = line.partition(" ")
                    if k == "usage_usec":
                        return int(v) / 1e6
                return 0.0
            return int(self._file("cpuacct", "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            return 0.0

    def mem_bytes(self) -> int:
        try:
            if self.version == 2:
                return int(self._file("memory", "memory.current").read_text())
            return int(self._file("memory", "memory.usage_in_bytes").read_text())
        except (OSError, ValueError):
            return 0

    def kill_all(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def destroy(self, timeout: float = 5.0, now: Callable[[], float] = real_now) -> None:
        """SIGKILL whatever is left, then remove the directories (retrying while busy,
        for ``timeout`` seconds of ``now``: real time by default, as this thread blocks
        on the kernel)."""
        deadline = now() + timeout
        while True:
            self.kill_all(9)
            busy = False
            for d in self.dirs():
                try:
                    d.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    busy = True
            if not busy or now() > deadline:
                return
            time.sleep(0.02)
