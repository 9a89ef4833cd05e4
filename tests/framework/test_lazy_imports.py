"""Importing a pure module loads no I/O library (the package __init__s are lazy)."""

from __future__ import annotations

import subprocess
import sys

import pytest

IO_LIBRARIES = ("aiohttp", "kazoo", "zmq")


@pytest.mark.parametrize(
    "module",
    [
        "actors.framework",
        "actors.framework._placement",
        "actors.framework._backoff",
        "actors.metronome",
        "actors.metronome._run",
        "actors.metronome._job",
        "actors.metronome._schedule",
    ],
)
def test_a_pure_import_loads_no_io_library(module: str) -> None:
    code = (
        f"import sys, {module}\nprint(','.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "", f"importing {module} loaded {out.stdout.strip()}"


def test_the_public_names_still_resolve() -> None:
    import actors.framework as framework
    import actors.metronome as metronome

    missing = [n for n in framework.__all__ if not hasattr(framework, n)]
    missing += [n for n in metronome.__all__ if not hasattr(metronome, n)]
    assert missing == []
