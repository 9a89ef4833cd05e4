"""``pydcos node dns``'s input checks (pure: no cluster)."""

from __future__ import annotations

import pytest

from console._client import ClientError
from console._net_cmds import parse_server, query_name


def test_app_ids_become_their_mesos_dns_names() -> None:
    assert query_name("/shop/web", "A") == "web-shop.marathon.mesos"
    assert query_name("/shop/web", "SRV") == "_web-shop._tcp.marathon.mesos"
    assert query_name("leader.mesos", "A") == "leader.mesos"


@pytest.mark.parametrize("bad", ["", "a b.mesos", "x" * 300, "a" * 64 + ".mesos", "/"])
def test_bad_names_are_one_clear_error(bad: str) -> None:
    with pytest.raises(ClientError, match="NAME"):
        query_name(bad, "A")


def test_servers() -> None:
    assert parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_server("127.0.0.2") == ("127.0.0.2", 53)
    for bad in ("localhost:53", "127.0.0.1:0", "127.0.0.1:x", "127.0.0.1:70000"):
        with pytest.raises(ClientError, match="--server"):
            parse_server(bad)


def test_app_ids_are_sanitised_as_the_server_names_them() -> None:
    assert query_name("/Prod/My_App", "A") == "my-app-prod.marathon.mesos"
