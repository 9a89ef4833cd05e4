"""The l4lb's pure modules load no I/O library (Marathon and the DNS import them): each
import runs in a fresh interpreter, as tests/test_pure_imports.py does."""

from __future__ import annotations

import subprocess
import sys

import pytest

IO_LIBRARIES = ("zmq", "kazoo", "aiohttp", "docker", "textual")


@pytest.mark.parametrize(
    "statement",
    [
        "import actors.l4lb._labels",
        "import actors.l4lb._table",
        "import actors.l4lb._haproxy",
        "from actors.l4lb import parse_vip, port_vips, vip_dns_records, plan, render_config",
    ],
)
def test_pure_l4lb_modules_load_no_io_library(statement: str) -> None:
    check = (
        f"{statement}\nimport sys\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {IO_LIBRARIES!r}))"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
