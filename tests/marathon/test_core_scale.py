"""MarathonCore, scaling: up queues launches, down kills the surplus in Marathon's
``killSelection`` order (unhealthy first, then YOUNGEST_FIRST or OLDEST_FIRST)."""

from __future__ import annotations

import pytest

from tests.marathon._core_kit import Sim, app, killed, launched


def _three_running(
    kill_selection: str, healthy: dict[int, bool] | None = None
) -> tuple[Sim, list[str]]:
    """Three instances started at t=0, 10 and 20 (in that order in the returned list)."""
    check = [{"protocol": "COMMAND", "command": {"value": "true"}}] if healthy else []
    order: list[str] = []
    sim = Sim()
    sim.subscribe()
    sim.api("create_app", body=app(instances=3, killSelection=kill_selection, healthChecks=check))
    tasks = [t.task_id for t in launched(sim.offers(sim.offer()))]
    for n, task_id in enumerate(tasks):
        sim.clock.advance(10)
        sim.update(task_id, "TASK_RUNNING", (healthy or {}).get(n, True) if healthy else None)
        order.append(task_id)
    return sim, order


@pytest.mark.parametrize(
    ("kill_selection", "healthy", "victims"),
    [
        ("YOUNGEST_FIRST", None, [2, 1]),
        ("OLDEST_FIRST", None, [0, 1]),
        ("YOUNGEST_FIRST", {0: False, 1: True, 2: True}, [0, 2]),
        ("OLDEST_FIRST", {0: True, 1: True, 2: False}, [2, 0]),
    ],
)
def test_scaling_down_kills_in_kill_selection_order_unhealthy_first(
    kill_selection: str, healthy: dict[int, bool] | None, victims: list[int]
) -> None:
    sim, order = _three_running(kill_selection, healthy)
    # force: with an unhealthy instance the app's deployment is still in progress
    effects = sim.request("put_app", "/web", {"instances": 1}, partial=True, force=True)
    assert sorted(killed(effects)) == sorted(order[i] for i in victims)
    assert sim.core.instances[order[victims[0]]].killing


def test_scaling_up_queues_only_the_missing_instances() -> None:
    sim, _order = _three_running("YOUNGEST_FIRST")
    sim.api("put_app", "/web", {"instances": 5}, partial=True)
    assert sim.core.queue == {"/web": 2}
    assert len(launched(sim.offers(sim.offer()))) == 2


def test_a_killed_surplus_instance_is_not_replaced() -> None:
    sim, order = _three_running("YOUNGEST_FIRST")
    victims = killed(sim.request("put_app", "/web", {"instances": 2}, partial=True))
    assert victims == [order[2]]
    sim.update(victims[0], "TASK_KILLED")
    assert sim.tasks() == sorted(order[:2]) and sim.core.queue == {}
    assert sim.core.runs == {}


def test_kills_are_resent_until_the_task_is_gone() -> None:
    sim, order = _three_running("YOUNGEST_FIRST")
    assert killed(sim.request("put_app", "/web", {"instances": 2}, partial=True)) == [order[2]]
    assert killed(sim.tick(1.0)) == []
    assert killed(sim.tick(sim.core.config.kill_retry_seconds)) == [order[2]]
