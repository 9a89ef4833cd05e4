"""Offer matching, pure (``match_offers``), and what MarathonCore makes of it: launches,
declines with their reasons and filters, the backoff delay, and ``GET /v2/queue``
saying why an app's instances wait."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from actors import protocol as p
from actors.marathon import AppDefinition, LaunchBackoff
from actors.marathon._messages import Decline, Revive
from actors.marathon._offers import QueueEntry, match_offers, offer_resources
from actors.resources import ResourceError, Resources
from tests.marathon._core_kit import Sim, app, declined, launched, of


def _offer(host: str, res: str, attrs: dict[str, Any] | None = None) -> p.Offer:
    if "ports" not in res:
        res += ";ports:[31000-31009]"  # the default app asks for one port
    return p.Offer(
        f"o-{host}", "fw", f"id-{host}", host, Resources.parse(res).to_dict(), attrs or {}
    )


def _app(**over: Any) -> AppDefinition:
    return AppDefinition.from_json(app(**over), version="2026-01-01T00:00:00.000Z")


@pytest.mark.parametrize(
    ("over", "res", "reason", "detail"),
    [
        ({"cpus": 2}, "cpus:1;mem:1024", "InsufficientCpus", "cpus: need 2, offer has 1"),
        ({"mem": 2048}, "cpus:4;mem:1024", "InsufficientMemory", "mem: need 2048, offer has 1024"),
        (
            {"portDefinitions": [{"port": 0}, {"port": 0}]},
            "cpus:4;mem:1024;ports:[31000-31000]",
            "InsufficientPorts",
            "ports: need 2 port(s), offer has 1",
        ),
        (
            {"requirePorts": True, "portDefinitions": [{"port": 8080}]},
            "cpus:4;mem:1024;ports:[31000-31005]",
            "InsufficientPorts",
            "ports: host port 8080 is not offered",
        ),
        (
            {"constraints": [["rack", "CLUSTER", "r2"]]},
            "cpus:4;mem:1024",
            "UnfulfilledConstraint",
            "constraint rack:CLUSTER:r2",
        ),
    ],
)
def test_an_offer_that_cannot_take_an_instance_says_why(
    over: dict[str, Any], res: str, reason: str, detail: str
) -> None:
    offer = _offer("a1", res, {"rack": "r1"})
    plan = match_offers([QueueEntry(_app(**over), 1)], [offer], {}, now=0.0)
    assert plan.launches == [] and plan.declines == [offer.offer_id]
    [rejection] = plan.rejections
    assert (rejection.reason, rejection.offer) == (reason, offer)
    assert rejection.detail.startswith(detail)
    assert plan.left == {"/web": 1}


def test_one_offer_takes_several_instances_and_unique_hostname_spreads_them() -> None:
    unique = _app(instances=3, constraints=[["hostname", "UNIQUE"]])
    packed = _app(instances=3)
    offers = [_offer("a1", "cpus:4;mem:4096"), _offer("a2", "cpus:4;mem:4096")]
    plan = match_offers([QueueEntry(packed, 3)], offers, {}, now=0.0)
    assert [len(pl) for _, pl in plan.launches] == [3] and plan.declines == ["o-a2"]
    plan = match_offers([QueueEntry(unique, 3)], offers, {}, now=0.0)
    assert [o.hostname for o, _ in plan.launches] == ["a1", "a2"]
    assert plan.left == {"/web": 1}
    assert plan.reasons["/web"][0].startswith("constraint hostname:UNIQUE")


def test_an_app_in_backoff_is_not_matched_until_its_delay_is_over() -> None:
    backoff = LaunchBackoff.for_app(_app()).task_failed(now=100.0)
    entry = QueueEntry(_app(), 1, backoff)
    offer = _offer("a1", "cpus:4;mem:4096")
    assert match_offers([entry], [offer], {}, now=100.5).launches == []
    assert backoff.deadline is not None
    assert len(match_offers([entry], [offer], {}, now=backoff.deadline).launches) == 1


def test_declines_carry_the_reasons_and_the_queue_explains_the_wait() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(constraints=[["rack", "CLUSTER", "r2"]]))
    effects = sim.offers(sim.offer("agent1", attrs={"rack": "r1"}))
    [decline] = of(Decline, effects)
    assert decline.refuse_seconds == sim.core.config.decline_refuse_seconds  # work waits
    assert "constraint rack:CLUSTER:r2" in decline.reason
    [entry] = sim.api("queue").body["queue"]
    assert entry["waitingReason"].startswith("waiting for offers: no offer matches: constraint")
    summary = entry["processedOffersSummary"]
    assert summary["rejectSummaryLastOffers"] == [
        {"reason": "UnfulfilledConstraint", "declined": 1, "processed": 1}
    ]
    assert entry["lastUnusedOffers"][0]["offer"]["hostname"] == "agent1"
    deployments = sim.api("deployments", embed=["waitingFor"]).body
    assert "constraint rack:CLUSTER:r2" in deployments[0]["currentActions"][0]["waitingFor"]


def test_each_offer_is_declined_with_its_own_reason() -> None:
    """The master quotes a decline's reason on that agent's FILTERED row, so an offer's
    reason must speak of that offer only; offers refused alike share one Decline."""
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(constraints=[["rack", "CLUSTER", "r9"]]))
    effects = sim.offers(
        sim.offer("agent1", attrs={"rack": "r1"}),
        sim.offer("agent2", attrs={"rack": "r2"}),
        sim.offer("agent3", attrs={"rack": "r1"}),
    )
    by_reason = {d.reason: sorted(d.offer_ids) for d in of(Decline, effects)}
    assert len(by_reason) == 2
    [(r1, ids1)] = [(r, ids) for r, ids in by_reason.items() if "not rack=r1" in r]
    [(r2, ids2)] = [(r, ids) for r, ids in by_reason.items() if "not rack=r2" in r]
    assert "r2" not in r1.replace("r9", "") and "r1" not in r2.replace("r9", "")
    assert len(ids1) == 2 and len(ids2) == 1


def test_offers_with_nothing_to_launch_are_declined_for_longer() -> None:
    sim = Sim()
    sim.subscribe()
    [decline] = of(Decline, sim.offers(sim.offer()))
    assert decline.refuse_seconds == sim.core.config.idle_refuse_seconds


def test_a_failing_app_backs_off_then_relaunches_after_a_revive() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(backoffSeconds=10, backoffFactor=2))
    [task] = launched(sim.offers(sim.offer()))
    sim.update(task.task_id, "TASK_FAILED")
    assert sim.core.queue == {"/web": 1}
    assert launched(sim.offers(sim.offer())) == []
    [entry] = sim.api("queue").body["queue"]
    assert entry["waitingReason"].startswith("backoff: next launch in 10.0s after 1")
    assert entry["delay"]["overdue"] is False
    assert not of(Revive, sim.tick(5.0))
    assert of(Revive, sim.tick(5.0)), "the delay is over: our decline filters are cleared"
    [again] = launched(sim.offers(sim.offer()))
    sim.update(again.task_id, "TASK_FAILED")
    [entry] = sim.api("queue").body["queue"]
    assert "next launch in 20.0s after 2" in entry["waitingReason"]
    assert sim.api("get_app", "/web").body["app"]["lastTaskFailure"]["state"] == "TASK_FAILED"


def test_a_reset_delay_launches_at_once() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(backoffSeconds=60))
    [task] = launched(sim.offers(sim.offer()))
    sim.update(task.task_id, "TASK_FAILED")
    assert sim.api("reset_delay", "/web").status == 204
    assert len(launched(sim.offers(sim.offer()))) == 1


def test_bad_offer_resources_are_declined_not_leaked() -> None:
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app())
    bad = p.Offer("o-bad", "fw", "id-x", "x", {"cpus": "lots"}, {})
    effects = sim.offers(bad)
    assert declined(effects) == ["o-bad"] and launched(effects) == []


def test_an_offer_is_parsed_once_and_as_from_dict() -> None:
    """``offer_resources``: the resident matcher and ``match_offers`` share one parse
    per offer object; the result is ``Resources.from_dict``'s, a bad offer raises."""
    sim = Sim()
    offer = sim.offer("agent1")
    first = offer_resources(offer)
    assert first == Resources.from_dict(offer.resources)
    assert offer_resources(offer) is first, "the same offer: parsed once"
    twin = dataclasses.replace(offer)  # equal, but another offer object
    assert offer_resources(twin) == first
    bad = dataclasses.replace(offer, resources={"cpus": -1.0})
    with pytest.raises(ResourceError):
        offer_resources(bad)
    with pytest.raises(ResourceError):
        offer_resources(bad)
