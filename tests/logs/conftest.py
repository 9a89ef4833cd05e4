"""The e2e kit (``cluster``: masters and agents of one test in a fresh ZooKeeper chroot;
``dockerd``: the session's private Docker engine) for the logs tests that kill agents."""

from __future__ import annotations

from tests.e2e.conftest import cluster, dockerd, pytest_runtest_makereport

__all__ = ["cluster", "dockerd", "pytest_runtest_makereport"]
