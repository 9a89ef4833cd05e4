"""Fixtures: a private dockerd (session), a work dir, helpers that poll with deadlines."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actors.agent._dockerd import DockerDaemon, DockerDaemonError

_DOCKERD: dict[str, object] = {}


@pytest.fixture(scope="session")
def dockerd() -> Iterator[DockerDaemon]:
    """The real Docker engine on a private socket with the busybox test image built."""
    if "error" in _DOCKERD:
        pytest.skip(str(_DOCKERD["error"]))
    d = DockerDaemon()
    try:
        d.start()
        d.build_test_image()
    except (DockerDaemonError, Exception) as e:
        d.stop()
        _DOCKERD["error"] = (
            f"dockerd could not start: {e}\n--- dockerd log tail ---\n{d.log_tail()}"
        )
        pytest.skip(str(_DOCKERD["error"]))
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path


def wait_for(cond: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
