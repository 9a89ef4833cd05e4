"""The HTTP gateway over real loopback sockets: Mesos paths, redirects, errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from actors.gateway import HttpGateway, LeaderInfo
from actors.master._actor import MasterActor, MemoryRegistryStore
from runtime import ActorRef, Node


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def get(url: str) -> tuple[int, dict[str, str], Any]:
    try:
        with _opener.open(url, timeout=5) as resp:
            body = resp.read()
            return resp.status, dict(resp.headers), json.loads(body) if body else None
    except urllib.error.HTTPError as err:
        body = err.read()
        ctype = err.headers.get("Content-Type", "")
        parsed = json.loads(body) if body and "json" in ctype else body
        return err.code, dict(err.headers), parsed


@pytest.fixture
def cluster() -> Iterator[tuple[HttpGateway, HttpGateway, dict[str, Any]]]:
    node = Node("gw", on_fatal=lambda reason: None)
    master = node.spawn(
        MasterActor, "m1", MemoryRegistryStore(), address="tcp://127.0.0.1:1/master", name="master"
    )
    state: dict[str, Any] = {"leader": None}
    leader_gw = HttpGateway(
        leader=lambda: state["leader"], is_leader=lambda: True, master=lambda: master
    ).start()
    standby_ref: ActorRef | None = None
    standby_gw = HttpGateway(
        leader=lambda: state["leader"], is_leader=lambda: False, master=lambda: standby_ref
    ).start()
    state["leader"] = LeaderInfo(leader_gw.url, "tcp://127.0.0.1:1/master")
    yield leader_gw, standby_gw, state
    leader_gw.stop()
    standby_gw.stop()
    node.shutdown(5)


def test_leader_serves_mesos_state(cluster: Any) -> None:
    leader, _, _ = cluster
    status, _, doc = get(leader.url + "/mesos/master/state")
    assert status == 200
    assert doc["id"] == "m1" and doc["slaves"] == [] and doc["frameworks"] == []
    for what in ("slaves", "frameworks", "tasks"):
        status, _, doc = get(f"{leader.url}/mesos/master/{what}")
        assert status == 200 and what in doc


def test_standby_redirects_to_the_leader(cluster: Any) -> None:
    leader, standby, _ = cluster
    status, headers, _ = get(standby.url + "/mesos/master/state?x=1")
    assert status == 307
    assert headers["Location"] == leader.url + "/mesos/master/state?x=1"
    status, headers, _ = get(standby.url + "/mesos/master/redirect")
    assert status == 307 and headers["Location"] == leader.url + "/mesos/master"


def test_no_leader_means_503_with_a_message(cluster: Any) -> None:
    _, standby, state = cluster
    state["leader"] = None
    status, _, doc = get(standby.url + "/mesos/master/state")
    assert status == 503 and "election" in doc["message"]


@pytest.mark.parametrize(
    ("query", "needle"),
    [("limit=ten", "'ten'"), ("limit=-1", "-1"), ("order=sideways", "'sideways'")],
)
def test_bad_query_values_get_400_naming_the_value(cluster: Any, query: str, needle: str) -> None:
    leader, _, _ = cluster
    status, _, doc = get(f"{leader.url}/mesos/master/tasks?{query}")
    assert status == 400 and needle in doc["message"]


def test_unknown_path_is_404_json(cluster: Any) -> None:
    leader, _, _ = cluster
    status, _, doc = get(leader.url + "/mesos/master/nope")
    assert status == 404 and "message" in doc
