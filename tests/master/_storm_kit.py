"""What the re-registration storm tests share: a new leader's core that recovered
``agents`` agent records (``a0``, ``a1``... at ``agent_address(i)``) and one framework."""

from __future__ import annotations

from actors.master._master_core import MasterConfig, MasterCore
from actors.resources import Resources

RES = Resources.parse("cpus:4;mem:4096").to_dict()
"""Each recovered agent's resources."""
FID = "fw-1"
"""The recovered framework."""


def agent_address(i: int) -> str:
    return f"tcp://127.0.0.1:{7000 + i}/agent"


def new_leader(agents: int, *, reregister_timeout: float, address: str = "") -> MasterCore:
    """Master ``m2`` just elected, its registry read: every agent recovering."""
    docs = [
        {"agent_id": f"a{i}", "hostname": f"h{i}", "address": agent_address(i), "resources": RES}
        for i in range(agents)
    ]
    fws = [{"framework_id": FID, "name": "marathon", "failover_timeout": 600.0}]
    return MasterCore(
        "m2",
        MasterConfig(agent_reregister_timeout=reregister_timeout),
        now=0.0,
        recovered_agents=docs,
        recovered_frameworks=fws,
        address=address,
    )
