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
