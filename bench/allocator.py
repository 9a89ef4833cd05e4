"""Benchmark: one DRF allocation cycle over 1,000 agents and 5 frameworks in 2 roles.

Baseline, measured in the same run: a naive loop that hands each agent's free
resources to the next framework round-robin with no DRF, filters or quota. The ratio
shows what fairness costs; the target is an absolute cycle time <= 50 ms.

Run from the repo root: ``.venv/bin/python bench/allocator.py``. The last line is JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.master.allocator import (
    Agent,
    ClusterSnapshot,
    Framework,
    Offer,
    allocate,
    decline_filter,
)
from actors.resources import Resources

AGENTS = 1000
RUNS = 30
TARGET_MS = 50.0


def build_snapshot() -> ClusterSnapshot:
    """1,000 agents (a tenth partly used), 5 frameworks in 2 weighted roles, some filters."""
    total = Resources.parse("cpus:8;mem:16384")
    used = Resources.parse("cpus:2;mem:4096")
    agents = [
        Agent(
            agent_id=f"a{i}",
            hostname=f"host{i}",
            total=total,
            allocated=used if i % 10 == 0 else Resources(),
        )
        for i in range(AGENTS)
    ]
    roles = ("web", "web", "web", "batch", "batch")
    frameworks = []
    for j, role in enumerate(roles):
        flt = decline_filter(f"a{j}", now=0.0, refuse_seconds=5.0)
        assert flt is not None
        frameworks.append(
            Framework(
                framework_id=f"f{j}",
                roles=(role,),
                filters=(flt,),
                allocation={role: used} if j % 2 == 0 else {},
            )
        )
    return ClusterSnapshot(agents=agents, frameworks=frameworks, weights={"web": 2.0})


def naive(snapshot: ClusterSnapshot) -> list[Offer]:
    """Round-robin, no shares: the cheapest loop that still computes free resources."""
    fws = snapshot.frameworks
    offers = []
    for i, agent in enumerate(snapshot.agents):
        free = agent.total.saturating_sub(agent.allocated)
        fw = fws[i % len(fws)]
        offers.append(Offer(fw.framework_id, agent.agent_id, agent.hostname, fw.roles[0], free))
    return offers


def p50_ms(fn: Callable[[], object]) -> float:
    """Median wall time of ``fn`` over RUNS calls, in milliseconds."""
    samples = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> None:
    snapshot = build_snapshot()
    result = allocate(snapshot, 1.0)
    assert len(result.offers) == AGENTS, len(result.offers)
    naive(snapshot)
    cycle = p50_ms(lambda: allocate(snapshot, 1.0))
    base = p50_ms(lambda: naive(snapshot))
    per_fw: dict[str, int] = {}
    for o in result.offers:
        per_fw[o.framework_id] = per_fw.get(o.framework_id, 0) + 1
    print(f"agents={AGENTS} frameworks=5 roles=2 runs={RUNS}")
    print(f"offers per framework: {dict(sorted(per_fw.items()))}")
    print(f"allocate p50 {cycle:.2f} ms   naive p50 {base:.2f} ms")
    print(
        json.dumps(
            {
                "bench": "allocator",
                "alloc_cycle_ms": round(cycle, 2),
                "alloc_cycle_ratio_vs_naive": round(cycle / base, 2),
                "targets_met": cycle <= TARGET_MS,
            }
        )
    )


if __name__ == "__main__":
    main()
