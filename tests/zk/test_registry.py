"""Registry of ephemeral members (agents, frameworks, named actors)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kazoo.client import KazooClient

from runtime.testing import wait_for
from zk import Entry, Registry, expire_session

pytestmark = pytest.mark.zk


def test_register_list_and_watch_agents(zk_connect: Callable[..., KazooClient]) -> None:
    observer = Registry(zk_connect())
    seen: list[dict[str, Entry]] = []
    observer.watch("agents", seen.append)
    agent_client = zk_connect()
    agent = Registry(agent_client)
    agent.register("agents", "a1", {"address": "tcp://a1:5051", "cpus": 4})
    wait_for(lambda: seen and "a1" in seen[-1], what="a1 registered")
    assert seen[-1]["a1"].data == {"address": "tcp://a1:5051", "cpus": 4}
    assert observer.get("agents", "a1") is not None
    # The agent process dies: its session ends, its entry vanishes.
    agent_client.stop()
    wait_for(lambda: seen[-1] == {}, what="a1 gone")
    assert observer.list("agents") == {}


def test_entries_come_back_after_the_session_is_lost(
    zk_connect: Callable[..., KazooClient],
) -> None:
    client = zk_connect()
    reg = Registry(client)
    reg.register("actors", "marathon", {"address": "tcp://m1:7000"})
    expire_session(client)
    wait_for(lambda: reg.get("actors", "marathon") is not None, what="re-registered")
    entry = reg.get("actors", "marathon")
    assert entry is not None and entry.owner == client.client_id[0]


def test_a_restarted_member_replaces_its_old_entry(zk_connect: Callable[..., KazooClient]) -> None:
    Registry(zk_connect()).register("agents", "a1", {"v": 1})
    newer = Registry(zk_connect())
    newer.register("agents", "a1", {"v": 2})
    entry = newer.get("agents", "a1")
    assert entry is not None and entry.data == {"v": 2}


def test_corrupt_entries_are_skipped(
    zk_connect: Callable[..., KazooClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = zk_connect()
    reg = Registry(client)
    reg.register("frameworks", "good", {"name": "marathon"})
    client.create("/registry/frameworks/bad", b"<xml/>")
    assert list(reg.list("frameworks")) == ["good"]
    assert "/registry/frameworks/bad" in caplog.text
    reg.close()
    assert list(reg.list("frameworks")) == []
