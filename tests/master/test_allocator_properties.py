"""Allocator invariants under random clusters, and DRF behaviour over many cycles."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.master import (
    Agent,
    Allocation,
    ClusterSnapshot,
    Framework,
    OfferFilter,
    Quota,
    allocate,
)
from actors.resources import Resources

ROLES = ("web", "batch", "db")
NOW = 50.0


@st.composite
def clusters(draw: st.DrawFn) -> ClusterSnapshot:
    """Agents with optional reservations and partial use, frameworks with filters."""
    agents = []
    for i in range(draw(st.integers(0, 12))):
        cpus = draw(st.integers(0, 16))
        mem = draw(st.integers(0, 8)) * 1024
        text = f"cpus:{cpus};mem:{mem};ports:[31000-31010]"
        role = draw(st.sampled_from((None, *ROLES)))
        if role:
            text += f";cpus({role}):{draw(st.integers(1, 4))};mem({role}):512"
        total = Resources.parse(text)
        used = Resources.parse(
            f"cpus:{draw(st.integers(0, cpus)) * 0.5};mem:{draw(st.integers(0, mem // 2))};"
            "ports:[31000-31002]"
        )
        agents.append(Agent(f"a{i}", f"h{i}", total, used, reachable=draw(st.booleans())))
    frameworks = []
    for j in range(draw(st.integers(1, 5))):
        roles = tuple(draw(st.sets(st.sampled_from(ROLES), min_size=1, max_size=2)))
        filters = tuple(
            OfferFilter(f"a{k}", until=draw(st.floats(0, 100)))
            for k in draw(st.sets(st.integers(0, 11), max_size=4))
        )
        frameworks.append(
            Framework(
                f"f{j}",
                roles,
                active=draw(st.booleans()) or j == 0,
                suppressed_roles=frozenset(draw(st.sets(st.sampled_from(roles), max_size=1))),
                filters=filters,
                allocation={roles[0]: Resources.parse(f"cpus:{draw(st.integers(0, 20))}")},
            )
        )
    quotas = {}
    for role in draw(st.sets(st.sampled_from(ROLES))):
        limit = {"cpus": float(draw(st.integers(0, 40))), "mem": draw(st.integers(0, 16)) * 1024.0}
        guarantee = {"cpus": float(draw(st.integers(0, int(limit["cpus"]))))}
        quotas[role] = Quota(guarantee=guarantee if draw(st.booleans()) else {}, limit=limit)
    weights = {r: draw(st.sampled_from((0.5, 1.0, 2.0, 3.0))) for r in ROLES}
    return ClusterSnapshot(agents, frameworks, weights=weights, quotas=quotas)


def _offered(result: Allocation, agent_id: str) -> list[Resources]:
    return [o.resources for o in result.offers if o.agent_id == agent_id]


@settings(max_examples=300, deadline=None)
@given(clusters())
def test_never_offers_a_resource_twice_nor_over_commits_an_agent(snap: ClusterSnapshot) -> None:
    result = allocate(snap, NOW)
    for agent in snap.agents:
        free = agent.total.saturating_sub(agent.allocated)
        for res in _offered(result, agent.agent_id):
            assert free.contains(res), (free, res)  # also: offers on one agent are disjoint
            free = free - res
        if not agent.reachable:
            assert not _offered(result, agent.agent_id)


@settings(max_examples=300, deadline=None)
@given(clusters())
def test_offers_respect_roles_filters_suppression_and_min_allocatable(
    snap: ClusterSnapshot,
) -> None:
    frameworks = {f.framework_id: f for f in snap.frameworks}
    seen = set()
    for o in allocate(snap, NOW).offers:
        f = frameworks[o.framework_id]
        assert f.active and o.role in f.roles and o.role not in f.suppressed_roles
        assert o.resources.roles() <= {"*", o.role}  # reservations stay with their role
        assert not any(flt.agent_id == o.agent_id and flt.until > NOW for flt in f.filters), (
            "filtered agent offered"
        )
        assert o.resources.scalar("cpus") >= 0.01 or o.resources.scalar("mem") >= 32
        assert (o.framework_id, o.agent_id, o.role) not in seen
        seen.add((o.framework_id, o.agent_id, o.role))


@settings(max_examples=300, deadline=None)
@given(clusters())
def test_quota_limit_is_never_exceeded_by_offers(snap: ClusterSnapshot) -> None:
    """The unreserved resources offered to a role fit in limit - consumed (Mesos 1.9+)."""
    result = allocate(snap, NOW)
    for role, quota in snap.quotas.items():
        consumed: dict[str, float] = {}
        for f in snap.frameworks:
            for name, v in f.allocation.get(role, Resources()).scalars().items():
                consumed[name] = consumed.get(name, 0.0) + v
        for a in snap.agents:
            if a.reachable:
                mine = a.total.saturating_sub(a.allocated).for_role(role)
                for name, v in mine.scalars().items():
                    consumed[name] = consumed.get(name, 0.0) + v
        offered: dict[str, float] = {}
        for o in result.offers:
            if o.role == role:
                for name, v in o.resources.unreserved().scalars().items():
                    offered[name] = offered.get(name, 0.0) + v
        for name, limit in quota.limit.items():
            if offered.get(name, 0.0) > 0:
                assert consumed.get(name, 0.0) + offered[name] <= limit + 1e-9


# --------------------------------------------------------------------------- simulations

TASK = Resources.parse("cpus:1;mem:256")


def simulate(snap: ClusterSnapshot, cycles: int = 200) -> dict[str, int]:
    """Frameworks launch one TASK per offer and decline the rest without a filter
    (refuse_seconds=0), until the cluster is full. Returns tasks per framework."""
    agents = {a.agent_id: a for a in snap.agents}
    fws = {f.framework_id: f for f in snap.frameworks}
    tasks = dict.fromkeys(fws, 0)
    for step in range(cycles):
        snapshot = ClusterSnapshot(list(agents.values()), list(fws.values()), snap.weights)
        launched = 0
        for o in allocate(snapshot, float(step)).offers:
            if not o.resources.contains(TASK):
                continue
            a, f = agents[o.agent_id], fws[o.framework_id]
            agents[o.agent_id] = Agent(a.agent_id, a.hostname, a.total, a.allocated + TASK)
            alloc = dict(f.allocation)
            alloc[o.role] = alloc.get(o.role, Resources()) + TASK
            fws[o.framework_id] = Framework(f.framework_id, f.roles, allocation=alloc)
            tasks[o.framework_id] += 1
            launched += 1
        if not launched:
            return tasks
    raise AssertionError("cluster never filled up")


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5), st.integers(1, 8), st.integers(1, 12))
def test_equal_demands_converge_to_equal_task_counts(
    n_frameworks: int, n_agents: int, cpus: int
) -> None:
    """DRF: frameworks with identical demands end within one task of each other."""
    snap = ClusterSnapshot(
        agents=[
            Agent(f"a{i}", f"h{i}", Resources.parse(f"cpus:{cpus};mem:65536"))
            for i in range(n_agents)
        ],
        frameworks=[Framework(f"f{j}", ("web",)) for j in range(n_frameworks)],
    )
    tasks = simulate(snap)
    assert sum(tasks.values()) == n_agents * cpus
    assert max(tasks.values()) - min(tasks.values()) <= 1, tasks


@settings(max_examples=20, deadline=None)
@given(st.integers(3, 10))
def test_weight_two_role_gets_about_twice_the_share(n_agents: int) -> None:
    """Mesos weights: a role of weight 2 converges to twice the share of a weight-1 role."""
    snap = ClusterSnapshot(
        agents=[
            Agent(f"a{i}", f"h{i}", Resources.parse("cpus:6;mem:65536")) for i in range(n_agents)
        ],
        frameworks=[Framework("heavy", ("gold",)), Framework("light", ("bronze",))],
        weights={"gold": 2.0},
    )
    tasks = simulate(snap)
    assert abs(tasks["heavy"] - 2 * tasks["light"]) <= 2, tasks
