"""Refuse a bad service spec at install (issue 28): Cosmos asks this of every Marathon
app it is about to create. An app that runs the SDK scheduler (``-m
actors.sdk.scheduler --spec FILE``) has its spec rendered with the app's own ``env``
(what the scheduler will see) and validated; a ``SpecError`` names the YAML path, and
nothing is installed. Specs the master cannot read (fetched into the sandbox at run
time) are left to the scheduler, which refuses them the same way when it starts."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from actors.sdk._errors import SpecError


def scheduler_spec_path(app: dict[str, Any]) -> Path | None:
    """The ``--spec`` file of an SDK scheduler app, if the master can read it."""
    cmd = app.get("cmd")
    if not isinstance(cmd, str) or "actors.sdk.scheduler" not in cmd:
        return None
    try:
        words = shlex.split(cmd)
    except ValueError:
        return None
    for i, word in enumerate(words):
        value = None
        if word == "--spec" and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith("--spec="):
            value = word.partition("=")[2]
        if value:
            path = Path(value)
            if not path.is_absolute():
                path = Path(__file__).resolve().parents[2] / path
            return path if path.is_file() else None
    return None


def check_scheduler_app(app: dict[str, Any]) -> tuple[Path, SpecError] | None:
    """(spec file, the first problem) of an SDK scheduler app whose spec is invalid,
    else None."""
    from actors.sdk._spec import load_spec

    path = scheduler_spec_path(app)
    if path is None:
        return None
    env = {str(k): v for k, v in (app.get("env") or {}).items() if isinstance(v, str)}
    try:
        load_spec(path.read_text(), env, path.parent)
    except SpecError as exc:
        return path, exc
    except OSError:
        return None
    return None
