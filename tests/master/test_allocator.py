"""The DRF allocator, rule by rule, with a manual clock (``now`` is a plain float)."""

from __future__ import annotations

import pytest

from actors.master import (
    ANY,
    Agent,
    AllocatorConfig,
    ClusterSnapshot,
    Framework,
    OfferFilter,
    Quota,
    RejectReason,
    allocate,
    decline_filter,
)
from actors.resources import ResourceError, Resources

R = Resources.parse
NODE = "cpus:8;mem:16384"


def agents(n: int, res: str = NODE, **kw: object) -> list[Agent]:
    return [Agent(f"a{i}", f"h{i}", R(res), **kw) for i in range(n)]  # type: ignore[arg-type]


def fw(fid: str, *roles: str, **kw: object) -> Framework:
    return Framework(fid, roles or ("*",), **kw)  # type: ignore[arg-type]


def by_agent(result: object) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for o in result.offers:  # type: ignore[attr-defined]
        out.setdefault(o.agent_id, []).append(o.framework_id)
    return out


def test_offers_each_agents_whole_free_resources_to_one_framework() -> None:
    """Mesos offers all available resources of an agent, minus what is allocated."""
    snap = ClusterSnapshot(
        agents=[
            Agent("a0", "h0", R("cpus:8;mem:1024;ports:[1-10]"), allocated=R("cpus:2;ports:[3-4]"))
        ],
        frameworks=[fw("f1")],
    )
    (offer,) = allocate(snap, now=0.0).offers
    assert offer.resources == R("cpus:6;mem:1024;ports:[1-2,5-10]")
    assert (offer.framework_id, offer.agent_id, offer.hostname, offer.role) == (
        "f1",
        "a0",
        "h0",
        "*",
    )


def test_role_with_lowest_weighted_dominant_share_goes_first() -> None:
    """DRF: 'batch' holds 50% of cpus, 'web' 25% of mem -> web is offered first."""
    snap = ClusterSnapshot(
        agents=agents(1, "cpus:4;mem:4096"),
        frameworks=[
            fw("fb", "batch", allocation={"batch": R("cpus:2")}),
            fw("fw", "web", allocation={"web": R("mem:1024")}),
        ],
    )
    # Totals here are just one agent's, so allocations are counted against it.
    assert [o.framework_id for o in allocate(snap, 0.0).offers] == ["fw"]


def test_weight_divides_the_dominant_share() -> None:
    """Mesos weights: with weight 3, 'batch' at 50% counts as 16.7% < web's 25%."""
    snap = ClusterSnapshot(
        agents=agents(1, "cpus:4;mem:4096"),
        frameworks=[
            fw("fb", "batch", allocation={"batch": R("cpus:2")}),
            fw("fw", "web", allocation={"web": R("mem:1024")}),
        ],
        weights={"batch": 3.0},
    )
    assert [o.framework_id for o in allocate(snap, 0.0).offers] == ["fb"]


def test_framework_with_lowest_share_inside_a_role_goes_first() -> None:
    snap = ClusterSnapshot(
        agents=agents(1),
        frameworks=[
            fw("big", "web", allocation={"web": R("cpus:4")}),
            fw("small", "web", allocation={"web": R("cpus:1")}),
        ],
    )
    assert [o.framework_id for o in allocate(snap, 0.0).offers] == ["small"]


def test_shares_are_updated_within_a_cycle() -> None:
    """Offered resources count as allocated at once, so agents alternate between equals."""
    snap = ClusterSnapshot(agents=agents(4), frameworks=[fw("f1"), fw("f2")])
    offers = allocate(snap, 0.0).offers
    assert [o.framework_id for o in offers] == ["f1", "f2", "f1", "f2"]


def test_static_reservation_is_only_offered_to_its_role() -> None:
    """Mesos: resources reserved for a role are offered to that role's frameworks only."""
    snap = ClusterSnapshot(
        agents=[Agent("a0", "h0", R("cpus:2;cpus(web):4;mem(web):1024;mem:1024"))],
        frameworks=[fw("fb", "batch"), fw("fw", "web", allocation={"web": R("cpus:100")})],
    )
    offers = {o.framework_id: o for o in allocate(snap, 0.0).offers}
    # batch has the lower share and takes the unreserved part; web still gets its own.
    assert offers["fb"].resources == R("cpus:2;mem:1024")
    assert offers["fw"].resources == R("cpus(web):4;mem(web):1024")
    assert offers["fw"].role == "web"


def test_multi_role_framework_gets_one_offer_per_role_it_is_owed() -> None:
    snap = ClusterSnapshot(
        agents=[Agent("a0", "h0", R("cpus:2;cpus(web):4;cpus(db):1;mem(db):64"))],
        frameworks=[fw("f", "web", "db")],
    )
    roles = sorted((o.role, str(o.resources)) for o in allocate(snap, 0.0).offers)
    # Equal (zero) shares tie-break by role name: db takes the unreserved cpus too.
    assert roles == [("db", "cpus:2;cpus(db):1;mem(db):64"), ("web", "cpus(web):4")]


# --------------------------------------------------------------------------- filters


def test_decline_filter_hides_agent_until_it_expires() -> None:
    """Mesos Filters.refuse_seconds: the declined agent is not re-offered before expiry."""
    flt = decline_filter("a0", now=100.0, refuse_seconds=5.0)
    assert flt == OfferFilter("a0", 105.0)
    snap = ClusterSnapshot(agents=agents(2), frameworks=[fw("f1", filters=(flt,))])
    early = allocate(snap, now=104.9)
    assert [o.agent_id for o in early.offers] == ["a1"]
    assert early.explain("f1", "a0") == "filtered: filtered until 105"
    late = allocate(snap, now=105.0)
    assert sorted(o.agent_id for o in late.offers) == ["a0", "a1"]


def test_filtered_agent_goes_to_the_next_framework() -> None:
    flt = OfferFilter("a0", until=10.0)
    snap = ClusterSnapshot(agents=agents(1), frameworks=[fw("f1", filters=(flt,)), fw("f2")])
    assert by_agent(allocate(snap, 0.0)) == {"a0": ["f2"]}


def test_filter_with_resources_lapses_when_more_is_free() -> None:
    """Mesos RefusedOfferFilter: only offers contained in the declined resources are hidden."""
    flt = OfferFilter("a0", until=10.0, resources=R("cpus:4;mem:8192"))
    small = ClusterSnapshot(
        agents=agents(1, "cpus:4;mem:8192"), frameworks=[fw("f1", filters=(flt,))]
    )
    big = ClusterSnapshot(agents=agents(1), frameworks=[fw("f1", filters=(flt,))])
    assert allocate(small, 0.0).offers == ()
    assert len(allocate(big, 0.0).offers) == 1


def test_filter_for_another_role_does_not_apply() -> None:
    flt = OfferFilter("a0", until=10.0, role="db")
    snap = ClusterSnapshot(agents=agents(1), frameworks=[fw("f1", "web", filters=(flt,))])
    assert len(allocate(snap, 0.0).offers) == 1


@pytest.mark.parametrize(
    ("refuse", "until"),
    [
        (None, 5.0),  # default 5 s
        (-1.0, 5.0),  # invalid -> default, as Mesos does
        (float("nan"), 5.0),
        (2.5, 2.5),
        (1e12, 365 * 24 * 3600.0),  # capped at one year
        (0.0, None),  # no filter at all
    ],
)
def test_decline_filter_refuse_seconds_rules(refuse: float | None, until: float | None) -> None:
    flt = decline_filter("a0", now=0.0, refuse_seconds=refuse)
    assert (flt.until if flt else None) == until


# --------------------------------------------------------------- min allocatable / status


def test_crumbs_below_min_allocatable_are_not_offered() -> None:
    """Mesos --min_allocatable_resources default cpus:0.01|mem:32."""
    snap = ClusterSnapshot(
        agents=[
            Agent("crumbs", "h0", R("cpus:8;mem:64;ports:[1-9]"), allocated=R("cpus:7.995;mem:40")),
            Agent("memonly", "h1", R("cpus:1;mem:64"), allocated=R("cpus:1")),
        ],
        frameworks=[fw("f1")],
    )
    result = allocate(snap, 0.0)
    assert [o.agent_id for o in result.offers] == ["memonly"]
    (rej,) = result.reasons("f1", "crumbs")
    assert rej.reason is RejectReason.NO_FREE_RESOURCES
    assert rej.framework_id == ANY
    assert "ports:[1-9]" in rej.detail


def test_min_allocatable_is_configurable() -> None:
    snap = ClusterSnapshot(agents=agents(1, "cpus:1;mem:64"), frameworks=[fw("f1")])
    cfg = AllocatorConfig(min_allocatable=({"cpus": 2.0},))
    assert allocate(snap, 0.0, cfg).offers == ()


def test_unreachable_agent_is_not_offered_and_says_why() -> None:
    snap = ClusterSnapshot(
        agents=[Agent("down", "hd", R(NODE), reachable=False), *agents(1)],
        frameworks=[fw("f1")],
    )
    result = allocate(snap, 0.0)
    assert [o.agent_id for o in result.offers] == ["a0"]
    assert result.explain("f1", "down") == "agent unreachable: hd"


@pytest.mark.parametrize(
    ("framework", "reason"),
    [
        (fw("f1", "web", active=False), RejectReason.FRAMEWORK_INACTIVE),
        (fw("f1", "web", suppressed_roles=frozenset({"web"})), RejectReason.FRAMEWORK_SUPPRESSED),
    ],
)
def test_inactive_or_suppressed_framework_gets_nothing(
    framework: Framework, reason: RejectReason
) -> None:
    """Mesos: SUPPRESS stops offers for the role; deactivated frameworks get none."""
    result = allocate(ClusterSnapshot(agents=agents(2), frameworks=[framework]), 0.0)
    assert result.offers == ()
    assert [r.reason for r in result.reasons("f1", "a1")] == [reason]
    assert result.explain("f1", "a1").startswith(reason.value)


def test_explain_names_the_winner() -> None:
    snap = ClusterSnapshot(agents=agents(1), frameworks=[fw("f1"), fw("f2")])
    result = allocate(snap, 0.0)
    assert result.explain("f1", "a0").startswith("offered cpus:8")
    assert result.explain("f2", "a0") == "offered to f1 (lower weighted dominant share)"


def test_allocate_does_not_modify_the_snapshot() -> None:
    snap = ClusterSnapshot(agents=agents(3), frameworks=[fw("f1", allocation={"*": R("cpus:1")})])
    before = repr(snap)
    allocate(snap, 0.0)
    assert repr(snap) == before


def test_bad_weight_raises() -> None:
    with pytest.raises(ResourceError, match="weight"):
        allocate(ClusterSnapshot(agents=[], frameworks=[], weights={"web": 0}), 0.0)


# --------------------------------------------------------------------------- quota


def test_quota_limit_shrinks_then_stops_offers() -> None:
    """Mesos quota limits: a role is never offered beyond its limit; offers are shrunk."""
    snap = ClusterSnapshot(
        agents=agents(3),
        frameworks=[fw("f1", "web")],
        quotas={"web": Quota(limit={"cpus": 10, "mem": 20480})},
    )
    result = allocate(snap, 0.0)
    assert [o.resources for o in result.offers] == [R(NODE), R("cpus:2;mem:4096")]
    (rej,) = result.reasons("f1", "a2")
    assert rej.reason is RejectReason.QUOTA_LIMIT


def test_quota_limit_counts_existing_allocation_and_unallocated_reservations() -> None:
    """Mesos 1.9+: consumed quota = allocation + reservations not yet allocated."""
    snap = ClusterSnapshot(
        agents=[Agent("a0", "h0", R("cpus(web):2;cpus:8;mem:1024")), *agents(1)],
        frameworks=[fw("f1", "web", allocation={"web": R("cpus:3")})],
        quotas={"web": Quota(limit={"cpus": 6})},
    )
    total_cpus = sum(o.resources.scalar("cpus") for o in allocate(snap, 0.0).offers)
    assert total_cpus == 6 - 3 - 2 + 2  # 1 unreserved headroom plus its own reservation


def test_quota_guarantee_is_served_before_fair_share() -> None:
    """Mesos quota guarantees: a role below its guarantee is offered first, and other
    roles may not eat into the headroom it still needs."""
    snap = ClusterSnapshot(
        agents=agents(4),
        frameworks=[
            fw("fa", "analytics", allocation={"analytics": R("cpus:8")}),
            fw("fw", "web"),
        ],
        quotas={"analytics": Quota(guarantee={"cpus": 24})},
    )
    result = allocate(snap, 0.0)
    got: dict[str, float] = {}
    for o in result.offers:
        got[o.framework_id] = got.get(o.framework_id, 0.0) + o.resources.scalar("cpus")
    assert got["fa"] == 16  # the missing 16 cpus of the guarantee, despite a higher share
    assert got["fw"] == 16


def test_quota_headroom_is_held_back_from_other_roles() -> None:
    """Mesos quota headroom: unreserved resources still needed by an unmet guarantee are
    not handed to other roles, even while the guaranteed role declines them."""
    declined = tuple(OfferFilter(f"a{i}", until=99.0) for i in range(2))
    snap = ClusterSnapshot(
        agents=agents(2),
        frameworks=[fw("fa", "analytics", filters=declined), fw("fw", "web")],
        quotas={"analytics": Quota(guarantee={"cpus": 8})},
    )
    result = allocate(snap, 0.0)
    assert {o.framework_id for o in result.offers} == {"fw"}
    assert sum(o.resources.scalar("cpus") for o in result.offers) == 8  # 16 - 8 held back
    assert sum(o.resources.scalar("mem") for o in result.offers) == 2 * 16384


def test_quota_guarantee_above_limit_is_rejected() -> None:
    with pytest.raises(ResourceError, match="exceeds limit"):
        Quota(guarantee={"cpus": 4}, limit={"cpus": 2})
    with pytest.raises(ResourceError):
        Quota(limit={"cpus": -1})
