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
    d = checkpoint_dir(work_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{task_id}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{task_id}.", suffix=".tmp", dir=d)
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
    try:
        (checkpoint_dir(work_dir) / f"{task_id}.json").unlink()
    except FileNotFoundError:
        pass
