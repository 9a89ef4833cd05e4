"""Importing the master's pure parts loads no I/O library (PEP 562 lazy packages).

Checked in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

IO_LIBRARIES = ("zmq", "kazoo", "aiohttp")


@pytest.mark.parametrize(
    "statement",
    [
        "import actors.master.allocator",
        "from actors.master import allocate, ClusterSnapshot, Quota, MasterError",
        "from actors.gateway import MasterAbout, build_info, master_flags",
    ],
)
def test_pure_imports_load_no_io_library(statement: str) -> None:
    code = (
        f"import sys; {statement}; print(sorted(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", statement


def test_lazy_names_resolve_and_unknown_ones_are_attribute_errors() -> None:
    import actors.gateway
    import actors.master

    for name in actors.master.__all__:
        assert getattr(actors.master, name) is not None, name
    for name in actors.gateway.__all__:
        assert getattr(actors.gateway, name) is not None, name
    with pytest.raises(AttributeError, match="nope"):
        _ = actors.master.nope  # type: ignore[attr-defined]
    assert actors.master.GetState is actors.master._actor.GetState  # the one-step re-export
