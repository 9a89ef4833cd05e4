"""Every test module that starts a private Docker engine is in conftest's DOCKER_MODULES,
so that ``make test``'s parallel workers never run two engines at once."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import DOCKER_MODULES

ROOT = Path(__file__).resolve().parents[1]
USES_ENGINE = re.compile(r"\bdockerd\b|DockerDaemon|acquire_dockerd")


def test_every_module_with_a_private_docker_engine_is_listed() -> None:
    found = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("test_*.py")
        if USES_ENGINE.search(path.read_text())
    }
    found.discard("tests/test_conftest_docker.py")
    assert found == set(DOCKER_MODULES)
