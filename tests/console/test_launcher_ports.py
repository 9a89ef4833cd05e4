"""Local clusters' agents get port ranges that seldom collide (issue 17, item 9).

Two ``cluster up`` clusters on one machine used to offer the very same ranges
(31000-31099, ...). Each cluster now takes a block picked by its state dir; the agents'
check of the host's ports (tests/agent/test_host_ports.py) is what makes it correct.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from actors.resources import Resources
from console._launcher import PORT_SPAN, PORTS_PER_AGENT, agent_resources, cluster_first_port


def _ports(text: str) -> tuple[tuple[int, int], ...]:
    return Resources.parse(text).ranges("ports")


def test_a_clusters_block_is_stable_inside_the_span_and_disjoint_per_agent() -> None:
    first = cluster_first_port(Path("/srv/pydcos/one"), 3)
    assert first == cluster_first_port(Path("/srv/pydcos/one"), 3)
    ranges = [_ports(agent_resources(j, first))[0] for j in (1, 2, 3)]
    assert ranges[0] == (first, first + PORTS_PER_AGENT - 1)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
    assert PORT_SPAN[0] <= ranges[0][0] and ranges[-1][1] <= PORT_SPAN[1]


def test_different_state_dirs_mostly_get_different_blocks() -> None:
    firsts = {cluster_first_port(Path(f"/tmp/cluster-{i}"), 3) for i in range(20)}
    assert len(firsts) >= 10
    assert all(PORT_SPAN[0] <= f and f + 3 * PORTS_PER_AGENT - 1 <= PORT_SPAN[1] for f in firsts)
