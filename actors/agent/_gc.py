"""Sandbox garbage collection, as the Mesos agent does it (``--gc_delay``,
``--gc_disk_headroom``).

The sandbox of a task the agent no longer tracks is removed once it has been idle for
``gc_delay * max(0, 1 - gc_disk_headroom - disk_used)``: a week by default, sooner as
the disk fills, at once when less than the headroom is left. "Idle" is the newest
modification time of the sandbox and its logs. A sandbox younger than ``MIN_AGE`` is
never removed, so one being created for a launching task is safe even on a full disk.

`max_age` and `due` decide (pure); `collect` does the file system work.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path

log = logging.getLogger("actors.agent")

DEFAULT_GC_DELAY = 7 * 24 * 3600.0
"""Seconds (Mesos' default ``--gc_delay``: 1 week)."""
DEFAULT_GC_DISK_HEADROOM = 0.1
"""Fraction of the disk to keep free (Mesos' default ``--gc_disk_headroom``)."""
MIN_AGE = 60.0
"""Seconds: a sandbox idle for less is never removed."""


def max_age(gc_delay: float, headroom: float, disk_used: float) -> float:
    """How long an unused sandbox is kept, given the used fraction of its disk."""
    return max(MIN_AGE, gc_delay * max(0.0, 1.0 - headroom - disk_used))


def due(
    idle_since: Mapping[str, float], live: Collection[str], now: float, age: float
) -> list[str]:
    """The sandboxes (task ids) to remove: not live, idle for longer than ``age``."""
    return sorted(t for t, since in idle_since.items() if t not in live and now - since > age)


def _idle_since(sandbox: Path) -> float:
    newest = sandbox.stat().st_mtime
    for name in ("stdout", "stderr"):
        try:
            newest = max(newest, (sandbox / name).stat().st_mtime)
        except OSError:
            pass
    return newest


def disk_used(path: str | Path) -> float:
    """The used fraction of the file system holding ``path`` (0 if unknown)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return 0.0
    if st.f_blocks == 0:
        return 0.0
    return 1.0 - st.f_bavail / st.f_blocks


def collect(
    work_dir: str | Path,
    live: Collection[str],
    now: float,
    gc_delay: float = DEFAULT_GC_DELAY,
    headroom: float = DEFAULT_GC_DISK_HEADROOM,
    used: float | None = None,
) -> list[str]:
    """Remove the sandboxes under ``<work_dir>/sandboxes`` that are due; ``now`` is wall
    time (file times are). Returns the task ids removed."""
    root = Path(work_dir) / "sandboxes"
    idle: dict[str, float] = {}
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        entries = []
    for entry in entries:
        try:
            if entry.is_dir() and not entry.is_symlink():
                idle[entry.name] = _idle_since(entry)
        except OSError:
            continue  # removed meanwhile
    fraction = disk_used(root) if used is None else used
    age = max_age(gc_delay, headroom, fraction)
    removed = []
    for task_id in due(idle, live, now, age):
        try:
            shutil.rmtree(root / task_id)
        except OSError as exc:
            log.warning("sandbox gc: cannot remove %s: %s", root / task_id, exc)
            continue
        removed.append(task_id)
    if removed:
        log.info(
            "sandbox gc: removed %d sandboxes idle for over %.0fs (disk %.0f%% used)",
            len(removed),
            age,
            fraction * 100,
        )
    if (Path(work_dir) / "images").is_dir():
        # The image store's roots and layers, by the same rules (issue 19).
        from actors.agent._images import ImageStore

        ImageStore.for_agent(work_dir, overlay=False).gc(live, now, age)
    return removed
