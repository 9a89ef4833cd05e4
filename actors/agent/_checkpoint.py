"""Task checkpoints under `<work_dir>/meta/tasks/<task_id>.json`, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def checkpoint_dir(work_dir: str | Path) -> Path:
    return Path(work_dir) / "meta" / "tasks"


def write_checkpoint(work_dir: str | Path, task_id: str, data: dict[str, Any]) -> Path:
    """Write temp + fsync + rename + fsync(dir): a reader sees the old or the new file."""
    return atomic_write_json(checkpoint_dir(work_dir) / f"{task_id}.json", data)


def atomic_write_json(path: Path, data: Any) -> Path:
    """``data`` as JSON at ``path``, atomically and durably (temp + fsync + rename +
    fsync of the directory), so a crash leaves the old file or the new one."""
    d = path.parent
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:100]}.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dfd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return path


def read_checkpoints(work_dir: str | Path) -> list[dict[str, Any]]:
    """All readable checkpoints; a corrupt one is skipped (it cannot be half-written)."""
    out: list[dict[str, Any]] = []
    d = checkpoint_dir(work_dir)
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*.json")):
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    return out


def remove_checkpoint(work_dir: str | Path, task_id: str) -> None:
    """Forget a task: its checkpoint and its exit-status file (native)."""
    for name in (f"{task_id}.json", f"{task_id}.exit"):
        try:
            (checkpoint_dir(work_dir) / name).unlink()
        except FileNotFoundError:
            pass
