"""Importing Marathon's pure modules loads no I/O library (``actors.marathon`` imports
lazily, PEP 562), so Metronome, the console or a test can use them cheaply."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "statement",
    [
        "import actors.marathon._plan",
        "import actors.marathon._app",
        "import actors.marathon._upgrade",
        "from actors.marathon import AppDefinition, Group, plan_deployment",
    ],
)
def test_pure_modules_load_no_aiohttp_kazoo_or_zmq(statement: str) -> None:
    code = (
        f"{statement}\n"
        "import sys\n"
        "print(sorted(m for m in ('aiohttp', 'kazoo', 'zmq') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_public_names_resolve() -> None:
    import actors.marathon as marathon

    for name in marathon.__all__:
        assert getattr(marathon, name) is not None, name
