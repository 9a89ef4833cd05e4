"""The DNS package's pure modules load no I/O library (as tests/test_pure_imports.py
checks for the other packages), and its lazy public names all resolve."""

from __future__ import annotations

import subprocess
import sys

import pytest

import actors.dns

IO_LIBRARIES = ("zmq", "kazoo", "aiohttp", "docker", "textual")


@pytest.mark.parametrize(
    "statement",
    [
        "import actors.dns",
        "import actors.dns._names",
        "import actors.dns._records",
        "import actors.dns._wire",
        "from actors.dns import build_table, apply_event, Answerer, make_query, app_dns_name",
        "import actors.dns._index",
        "from actors.dns import TableIndex, Changes, VipNames; VipNames('s').l4lb.named_vips",
    ],
)
def test_pure_dns_modules_load_no_io_library(statement: str) -> None:
    loaded = f"print(','.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", f"import sys; {statement}\n{loaded}\n"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "", f"{statement!r} loaded {out.stdout.strip()}"


def test_every_public_name_resolves() -> None:
    missing = [n for n in actors.dns.__all__ if getattr(actors.dns, n, None) is None]
    assert missing == []
