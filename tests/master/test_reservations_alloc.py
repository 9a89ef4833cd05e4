"""The allocator with dynamic reservations and volumes (issue 23): table-driven, pure.

Agents holding reservations take a split-by-role path when no quota is in play; the
generic path runs when some quota exists. Both must make the same offers.
"""

from __future__ import annotations

import random

import pytest

from actors.master.allocator import (
    Agent,
    ClusterSnapshot,
    Framework,
    Quota,
    allocate,
    decline_filter,
)
from actors.resources import Resources

R = Resources.parse


def dyn(text: str, role: str) -> Resources:
    return R(text).reserve_dynamic(role, "ops", {"owner": role})


def agent(i: int, reserved: dict[str, str], used: str = "") -> Agent:
    total = R("cpus:4;mem:4096;disk:1000;ports:[31000-31009]")
    ckpt = Resources()
    for role, text in reserved.items():
        ckpt = ckpt + dyn(text, role)
    base = ckpt.base_form()
    return Agent(f"a{i}", f"h{i}", total - base + ckpt, R(used) if used else Resources())


@pytest.mark.parametrize(
    ("roles", "reserved", "expected"),
    [
        # role -> what it must be offered on the one agent
        (("web",), {"web": "cpus:1"}, {"web": "cpus:4"}),
        (("db",), {"web": "cpus:1"}, {"db": "cpus:3"}),
        (("web", "db"), {"web": "cpus:1", "db": "cpus:2"}, {"web": None, "db": None}),
        (("web", "batch"), {"web": "cpus:1;mem:512"}, {"web": None, "batch": None}),
    ],
)
def test_reservations_go_to_their_role_only(
    roles: tuple[str, ...], reserved: dict[str, str], expected: dict[str, str | None]
) -> None:
    snap = ClusterSnapshot(
        agents=[agent(0, reserved)],
        frameworks=[Framework(f"f-{r}", (r,)) for r in roles],
    )
    offers = {o.role: o.resources for o in allocate(snap, 1.0).offers}
    assert set(offers) == set(expected)
    for role, res in offers.items():
        assert res.roles() <= {"*", role}
        mine = reserved.get(role)
        if mine:
            assert res.contains(dyn(mine, role))  # its whole reservation, every time
        if expected[role] is not None:
            assert res.scalar("cpus") == R(str(expected[role])).scalar("cpus")
    assert sum(o.scalar("cpus") for o in offers.values()) <= 4.0


def test_a_filtered_role_leaves_the_unreserved_part_to_the_next() -> None:
    flt = decline_filter("a0", now=0.0, refuse_seconds=10.0)
    assert flt is not None
    snap = ClusterSnapshot(
        agents=[agent(0, {"web": "cpus:1"})],
        frameworks=[Framework("f-web", ("web",), filters=(flt,)), Framework("f-db", ("db",))],
    )
    result = allocate(snap, 1.0)
    (offer,) = result.offers
    assert offer.role == "db" and offer.resources.scalar("cpus") == 3.0
    assert any(
        r.framework_id == "f-web" and r.reason.value == "filtered" for r in result.rejections
    )


def test_a_volume_is_offered_whole_to_its_role() -> None:
    vol = dyn("disk:100", "pg").create_volume("pgdata", "data")
    a = agent(0, {"pg": "cpus:1;disk:100"})
    total = a.total - dyn("disk:100", "pg") + vol
    snap = ClusterSnapshot(
        agents=[Agent("a0", "h0", total)], frameworks=[Framework("f-pg", ("pg",))]
    )
    (offer,) = allocate(snap, 1.0).offers
    assert offer.resources.volumes()[0].volume.persistence_id == "pgdata"


@pytest.mark.parametrize("seed", range(6))
def test_split_path_matches_the_generic_path(seed: int) -> None:
    """Same offers with or without an (irrelevant) quota forcing the generic path."""
    rnd = random.Random(seed)
    roles = ["r1", "r2", "r3", "web"]
    agents = []
    for i in range(30):
        reserved = {
            r: f"cpus:{rnd.choice([0.5, 1])};mem:{rnd.choice([128, 256])}"
            for r in roles[:3]
            if rnd.random() < 0.6
        }
        used = rnd.choice(["", "cpus:0.5;mem:64"])
        a = agent(i, reserved, used)
        if rnd.random() < 0.3:  # a static reservation too (agent flag cpus(web):1)
            a = Agent(a.agent_id, a.hostname, a.total + R("cpus(web):1"), a.allocated)
        agents.append(a)
    fws = [Framework(f"f{j}", (rnd.choice(roles),)) for j in range(5)]
    plain = allocate(ClusterSnapshot(agents=agents, frameworks=fws), 1.0)
    quota = {"unused-role": Quota(limit={"cpus": 1.0})}
    generic = allocate(ClusterSnapshot(agents=agents, frameworks=fws, quotas=quota), 1.0)

    def table(offers: tuple) -> set[tuple[str, str, str, Resources]]:  # type: ignore[type-arg]
        return {(o.framework_id, o.agent_id, o.role, o.resources) for o in offers}

    assert table(plain.offers) == table(generic.offers)
