"""A scheduler stream's bookkeeping (``Subscription``): what it streams for each master
message, which offers it holds, and the bound that cuts off a client that stops reading.
Driven directly (the loop-side handler), with no HTTP server or master."""

from __future__ import annotations

import json
from collections import deque
from types import SimpleNamespace
from typing import Any

from actors import protocol as p
from actors.mesos_api import decode_all
from actors.mesos_api._scheduler import Subscription


def subscription(max_queued_bytes: int = 1 << 20) -> tuple[Subscription, Any]:
    api = SimpleNamespace(
        max_queued_bytes=max_queued_bytes,
        by_framework={},
        offer_times=deque(maxlen=10),
        events_streamed=0,
        streams_cut=0,
        loop=None,
        master_info=lambda master_id: {"id": master_id},
    )
    sub = Subscription(api, "stream-1", p.FrameworkInfo("fw", roles=["dev"]))  # type: ignore[arg-type]
    return sub, api


def streamed(sub: Subscription) -> list[dict[str, Any]]:
    events = [json.loads(r) for r in decode_all(b"".join(sub.queue))]
    sub.queue.clear()
    sub.queued = 0
    return events


def offer(oid: str, agent: str = "A1") -> p.Offer:
    return p.Offer(oid, "F1", agent, "h", {"cpus": 1.0, "mem": 64.0})


def test_subscribed_names_the_framework_and_takes_the_stream_over() -> None:
    sub, api = subscription()
    older, _ = subscription()
    api.by_framework["F1"] = older
    sub._on_event("subscribed", p.Subscribed("F1", "M1", 5.0))
    (event,) = streamed(sub)
    assert event == {
        "type": "SUBSCRIBED",
        "subscribed": {
            "framework_id": {"value": "F1"},
            "heartbeat_interval_seconds": 5.0,
            "master_info": {"id": "M1"},
        },
    }
    assert api.by_framework["F1"] is sub and sub.framework_id == "F1"
    assert older.closed == "the framework subscribed again on another stream"


def test_offers_are_held_until_rescinded_and_only_held_ones_are_rescinded() -> None:
    sub, api = subscription()
    sub._on_event("offers", (p.Offers([offer("O1"), offer("O2", "A2")]), 12.5))
    (event,) = streamed(sub)
    assert [o["id"]["value"] for o in event["offers"]["offers"]] == ["O1", "O2"]
    assert event["offers"]["offers"][0]["allocation_info"] == {"role": "dev"}
    assert set(sub.offers) == {"O1", "O2"}
    assert list(api.offer_times) == [("O1", 12.5), ("O2", 12.5)]
    sub._on_event("rescind", p.Rescind("O1"))
    sub._on_event("rescind", p.Rescind("O-unknown"))
    assert streamed(sub) == [{"type": "RESCIND", "rescind": {"offer_id": {"value": "O1"}}}]
    sub._on_event("failure", p.AgentLost("A2"))
    assert streamed(sub) == [{"type": "FAILURE", "failure": {"agent_id": {"value": "A2"}}}]
    assert sub.offers == {}


def test_update_framework_rescinds_what_the_master_took_back_silently() -> None:
    sub, _ = subscription()
    sub._on_event("offers", (p.Offers([offer("O1")]), 1.0))
    streamed(sub)
    sub._on_event("updated", p.Subscribed("F1", "M1", 5.0))
    assert streamed(sub) == [{"type": "RESCIND", "rescind": {"offer_id": {"value": "O1"}}}]


def test_a_refused_subscription_is_an_error_event_then_the_end_of_the_stream() -> None:
    sub, _ = subscription()
    sub._on_event("error", p.FrameworkError("FrameworkInfo: name '' ...", "Subscribe"))
    assert streamed(sub) == [{"type": "ERROR", "error": {"message": "FrameworkInfo: name '' ..."}}]
    assert sub.closed is not None and sub.closed.startswith("the master ended the framework")


def test_a_client_that_stops_reading_is_cut_off_at_the_bound() -> None:
    sub, api = subscription(max_queued_bytes=1000)
    pushed = 0
    while sub.closed is None:
        sub._on_event("heartbeat", None)
        pushed += 1
        assert pushed < 100, "the queue grew past its bound"
    assert sub.queued == 0 and not sub.queue  # what waited is freed at once
    assert "read too slowly" in sub.closed
    assert (api.streams_cut, api.events_streamed) == (1, pushed)
    sub._on_event("heartbeat", None)  # a closed stream queues nothing more
    assert not sub.queue
