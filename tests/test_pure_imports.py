"""Importing a pure decision or message module loads no I/O library.

The package ``__init__``s (``transport``, ``runtime``, ``zk``, ``actors.*``) are lazy
(PEP 562), so a module that only decides or declares messages can be imported, unit
tested and reused without ZeroMQ, kazoo, aiohttp, Docker or Textual. Each import runs in
a fresh interpreter: in this one, other tests have loaded everything already. msgpack is
allowed (the codec that ``actors.protocol`` registers its messages with).
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

IO_LIBRARIES = ("zmq", "kazoo", "aiohttp", "docker", "textual")

PURE_IMPORTS = [
    "import actors.protocol",
    "import actors.task_states",
    "import actors.resources",
    "import actors._validation",
    "import actors.master.allocator",
    "import actors.master._master_core",
    "from actors.master import allocate, ClusterSnapshot, Quota, MasterError",
    "from actors.gateway import MasterAbout, build_info, master_flags",
    "import actors.marathon._core",
    "import actors.marathon._plan",
    "import actors.marathon._app",
    "import actors.marathon._offers",
    "import actors.marathon._upgrade",
    "from actors.marathon import AppDefinition, Group, plan_deployment",
    "import actors.metronome",
    "import actors.metronome._run",
    "import actors.metronome._job",
    "import actors.metronome._schedule",
    "import actors.framework",
    "import actors.framework._placement",
    "import actors.framework._backoff",
    "import actors.framework._task",
    "import actors.agent._spec",
    "import runtime._clock",
    "import runtime._intensity",
    "import runtime",
    "import transport",
    "import zk",
    "import actors.iam._model",
    "import actors.iam._tokens",
    "from actors.iam import GatewayAuth, Principal, Unauthenticated, hash_password",
    "from actors.sdk import load_spec, check_update, ServiceCore, plan_json, SdkError",
    "import actors.sdk._core",
]

LAZY_PACKAGES = [
    "runtime",
    "transport",
    "zk",
    "actors.agent",
    "actors.framework",
    "actors.gateway",
    "actors.iam",
    "actors.marathon",
    "actors.master",
    "actors.metronome",
    "actors.sdk",
]


@pytest.mark.parametrize("statement", PURE_IMPORTS)
def test_importing_a_pure_module_loads_no_io_library(statement: str) -> None:
    loaded = f"print(','.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    code = f"import sys; {statement}\n{loaded}\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "", f"{statement!r} loaded {out.stdout.strip()}"


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_of_a_lazy_package_resolves(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert missing == []
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="nope"):
        _ = module.nope
