"""Shared fixtures. ZooKeeper: one real server per test session, a fresh chroot per test.

Fixtures (all need the real server; mark tests ``@pytest.mark.zk``):

* ``zk_server``  (session)  the running ``zk.ZooKeeperServer``
* ``zk_hosts``   (session)  its connection string, ``127.0.0.1:PORT``
* ``zk_chroot``  (function) a fresh chroot path such as ``/t-3f2a...``
* ``zk_client``  (function) a started ``KazooClient`` inside that chroot (2 s session)
* ``zk_connect`` (function) factory ``zk_connect(**kwargs) -> KazooClient`` for more
  clients in the same chroot; every client it made is closed after the test
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient

from zk import ZooKeeperServer, close_quietly, connect

DOCKER_MODULES = frozenset(
    {
        "tests/agent/test_docker.py",
        "tests/agent/test_task_user.py",
        "tests/agent/test_volumes_docker.py",
        "tests/e2e/test_agent_recovery.py",
        "tests/logs/test_docker_logs.py",
        "tests/marathon/test_marathon_e2e.py",
        "tests/metrics/test_collect_docker.py",
        "tests/ucr/test_images_e2e.py",
    }
)
"""The test modules that start a private Docker engine (tests/test_conftest_docker.py
checks the list). ``make test`` runs the suite on pytest-xdist workers, a module per
worker; these modules go to ONE worker, in turn: two engines on one machine share the
kernel's iptables chains (each one's start rewrites DOCKER's), and a bridge app's port
mapping then broke under the other engine (/tmp/ci22)."""


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's: unknown when it is not loaded
def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
    """``--dist loadfile``, except that every module in DOCKER_MODULES is one unit
    (other ``--dist`` modes are left to xdist)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class _DockerTogether(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "docker-engine" if path in DOCKER_MODULES else path

    return _DockerTogether(config, log)


@pytest.fixture(scope="session")
def zk_server() -> Iterator[ZooKeeperServer]:
    with ZooKeeperServer() as server:
        yield server


@pytest.fixture(scope="session")
def zk_hosts(zk_server: ZooKeeperServer) -> str:
    return zk_server.hosts


@pytest.fixture
def zk_chroot() -> str:
    return f"/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def zk_connect(zk_hosts: str, zk_chroot: str) -> Iterator[Callable[..., KazooClient]]:
    made: list[KazooClient] = []

    def factory(**kwargs: Any) -> KazooClient:
        kwargs.setdefault("chroot", zk_chroot)
        client = connect(zk_hosts, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        try:
            close_quietly(client)
        except Exception:
            pass


@pytest.fixture
def zk_client(zk_connect: Callable[..., KazooClient]) -> KazooClient:
    return zk_connect()
