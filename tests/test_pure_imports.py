"""Importing a pure decision or message module loads no I/O library.

The package ``__init__``s (``transport``, ``runtime``, ``zk``, ``actors.*``) are lazy
(PEP 562), so a module that only decides or declares messages can be imported, unit
tested and reused without ZeroMQ, kazoo, aiohttp, Docker or Textual. Each import runs in
a fresh interpreter: in this one, other tests have loaded everything already. msgpack is
allowed (the codec that ``actors.protocol`` registers its messages with).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

IO_LIBRARIES = ("zmq", "kazoo", "aiohttp", "docker", "textual")

PURE_MODULES = [
    "actors.protocol",
    "actors.task_states",
    "actors.resources",
    "actors._validation",
    "actors.master.allocator",
    "actors.master._master_core",
    "actors.marathon._core",
    "actors.marathon._plan",
    "actors.marathon._app",
    "actors.marathon._offers",
    "actors.marathon._upgrade",
    "actors.metronome._run",
    "actors.metronome._schedule",
    "actors.framework._placement",
    "actors.framework._task",
    "actors.agent._spec",
    "runtime._clock",
    "runtime._intensity",
    "runtime",
    "transport",
    "zk",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_importing_a_pure_module_loads_no_io_library(module: str) -> None:
    code = (
        f"import sys, {module}\nprint(','.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "", f"importing {module} loaded {out.stdout.strip()}"


@pytest.mark.parametrize("package", ["runtime", "transport", "zk"])
def test_every_public_name_of_a_lazy_package_resolves(package: str) -> None:
    module = __import__(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    assert set(module.__all__) <= set(dir(module))
