"""The simulated hosts of a ``cluster up --hosts`` cluster: the Python API.

```
 Hosts.load(state_dir) ── cluster.json's ``network`` (console._netns.NetPlan)
   .partition(target, from_)   iptables DROP rules in the namespaces, both directions,
   .heal()                     recorded in <state-dir>/partitions.json, removed exactly
   .run_on(host, argv)         ip netns exec <host's namespace> argv
   .zk_stop(n) / .zk_start(n)  one ZooKeeper member, by PID (console._launcher)
```

For tests and ``bench/soak.py``::

    from console._hosts import Hosts
    hosts = Hosts.load(state_dir)
    hosts.partition("agent-1", from_=["master-1"])   # from_=None: from every other host
    hosts.heal()
    hosts.zk_stop(2); hosts.zk_start(2)

The planning (names, addresses, rules) and the namespace shell live in
``console._netns`` (the launcher uses them too); they are re-exported here.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from console._netns import (
    AGENT_BASE,
    BRIDGE,
    CLONE_NEWNET,
    DNS_PORT,
    GATEWAY,
    GATEWAY_HOST,
    MASTER_BASE,
    MAX_AGENTS,
    MAX_MASTERS,
    NODE_IF,
    PARTITIONS,
    RULE_COMMENT,
    SUBNET_BASE,
    TAG_PREFIX,
    UPLINK,
    ZK_CLIENT_PORT,
    ZK_ELECTION_PORT,
    ZK_QUORUM_PORT,
    HostsError,
    HostSpec,
    NetPlan,
    Rule,
    ZkMember,
    _run,
    advertise_host,
    cluster_tag,
    create_network,
    destroy_network,
    ensemble_hosts,
    enter_netns,
    hub_port,
    leftovers,
    merge_rules,
    netns_exec_argv,
    netns_unsupported,
    parse_routes,
    pick_subnet,
    plan_network,
    plan_partition,
    plan_zk_members,
    plan_zk_partition,
    remove_stale,
    root_routes,
    setup_commands,
    teardown_commands,
    unowned_advertise,
)

__all__ = [
    "AGENT_BASE",
    "BRIDGE",
    "CLONE_NEWNET",
    "DNS_PORT",
    "GATEWAY",
    "GATEWAY_HOST",
    "MASTER_BASE",
    "MAX_AGENTS",
    "MAX_MASTERS",
    "NODE_IF",
    "PARTITIONS",
    "RULE_COMMENT",
    "SUBNET_BASE",
    "TAG_PREFIX",
    "UPLINK",
    "ZK_CLIENT_PORT",
    "ZK_ELECTION_PORT",
    "ZK_QUORUM_PORT",
    "HostSpec",
    "Hosts",
    "HostsError",
    "NetPlan",
    "Rule",
    "ZkMember",
    "advertise_host",
    "cluster_tag",
    "create_network",
    "destroy_network",
    "ensemble_hosts",
    "enter_netns",
    "hub_port",
    "leftovers",
    "merge_rules",
    "netns_exec_argv",
    "netns_unsupported",
    "parse_routes",
    "pick_subnet",
    "plan_network",
    "plan_partition",
    "plan_zk_members",
    "plan_zk_partition",
    "remove_stale",
    "root_routes",
    "setup_commands",
    "teardown_commands",
    "unowned_advertise",
]


class Hosts:
    """The simulated hosts of a running ``cluster up --hosts`` (its state dir's record)."""

    def __init__(self, state_dir: Path, plan: NetPlan) -> None:
        self.state_dir = Path(state_dir)
        self.plan = plan

    @staticmethod
    def load(state_dir: Path | str) -> Hosts:
        from console import _state as st

        sd = Path(state_dir).expanduser()
        rec = st.load(sd)
        if rec is None:
            raise HostsError(
                f"no local cluster in {sd}; start one with 'pydcos cluster up --hosts'"
            )
        if not rec.network:
            raise HostsError(
                f"the cluster in {sd} runs on loopback (started without --hosts): "
                "it has no hosts to partition"
            )
        return Hosts(sd, NetPlan.from_dict(rec.network))

    # -- lookups ----------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.plan.hosts]

    def host(self, name: str) -> HostSpec:
        h = self.plan.host(name)
        if h is None:
            raise HostsError(f"no host {name!r} in this cluster; hosts: {', '.join(self.names)}")
        return h

    def ip(self, name: str) -> str:
        return self.host(name).ip

    def name_of(self, ip: str) -> str | None:
        return next((h.name for h in self.plan.hosts if h.ip == ip), None)

    def exec_argv(self, name: str, argv: Sequence[str]) -> list[str]:
        """Run ``argv`` on host ``name``: ``ip netns exec <its namespace> argv...``."""
        return netns_exec_argv(self.host(name).netns, argv)

    def run_on(self, name: str, argv: Sequence[str], timeout: float = 30.0) -> Any:
        """``subprocess.run`` of ``argv`` inside host ``name`` (text, captured)."""
        return subprocess.run(
            self.exec_argv(name, argv), capture_output=True, text=True, timeout=timeout
        )

    def tcp_connect(self, source: str, ip: str, port: int, timeout: float = 1.5) -> bool:
        """Can host ``source`` open a TCP connection to ``ip:port`` right now (from its
        own namespace)? For partition checks: a dropped SYN is a timeout, False."""
        import sys

        code = (
            "import socket,sys\n"
            f"s=socket.socket(); s.settimeout({float(timeout)!r})\n"
            f"sys.exit(0 if s.connect_ex(({ip!r},{int(port)}))==0 else 1)\n"
        )
        res = self.run_on(source, [sys.executable, "-c", code], timeout=timeout + 30)
        return bool(res.returncode == 0)

    # -- partitions -------------------------------------------------------------------

    @property
    def _partitions_path(self) -> Path:
        return self.state_dir / PARTITIONS

    def applied(self) -> list[Rule]:
        """The partition rules in force (as recorded)."""
        try:
            data = json.loads(self._partitions_path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise HostsError(f"{self._partitions_path} is unreadable ({exc})") from None
        return [Rule.from_dict(r) for r in data.get("rules", [])]

    def _save(self, rules: Sequence[Rule]) -> None:
        if not rules:
            with contextlib.suppress(FileNotFoundError):
                self._partitions_path.unlink()
            return
        fd, tmp = tempfile.mkstemp(prefix=".partitions.", dir=self.state_dir)
        with os.fdopen(fd, "w") as f:
            json.dump({"rules": [r.to_dict() for r in rules]}, f, indent=2)
        os.replace(tmp, self._partitions_path)

    def zk_member_specs(self) -> list[ZkMember]:
        from console import _state as st

        rec = st.load(self.state_dir)
        return [
            ZkMember(
                int(m["server_id"]),
                str(m.get("host", "")),
                str(m["ip"]),
                int(m["client_port"]),
                int(m["quorum_port"]),
                int(m["election_port"]),
            )
            for m in (rec.zk_members if rec is not None else [])
        ]

    def partition(self, target: str, from_: Sequence[str] | None = None) -> list[Rule]:
        """Cut ``target`` off from ``from_`` (None: every other host). ``zk-N`` cuts
        ZooKeeper member N off from everyone (clients and peers) while the master on its
        host keeps its other traffic (``from_`` must then be None). Returns the rules
        added (a repeated cut adds none)."""
        applied = self.applied()
        if target.startswith("zk-"):
            if from_:
                raise HostsError(f"--from: {target} is cut off from every client and peer")
            n = target.removeprefix("zk-")
            if not n.isdigit():
                raise HostsError(f"{target!r}: a ZooKeeper member is zk-1, zk-2, ...")
            planned = plan_zk_partition(self.plan, self.zk_member_specs(), int(n))
        else:
            planned = plan_partition(self.plan, target, from_)
        new = merge_rules(applied, planned)
        done: list[Rule] = []
        try:
            for r in new:
                _run(r.command("-I"))
                done.append(r)
        finally:
            self._save([*applied, *done])
        return done

    def heal(self) -> list[Rule]:
        """Remove every recorded partition rule. Raises HostsError if none is in force."""
        applied = self.applied()
        if not applied:
            raise HostsError("nothing to heal: no partition is in force")
        left: list[Rule] = []
        for r in applied:
            res = _run(r.command("-D"), check=False)
            if res.returncode != 0 and _run(r.command("-C"), check=False).returncode == 0:
                left.append(r)  # still there: keep it recorded
        self._save(left)
        if left:
            raise HostsError(f"{len(left)} rule(s) could not be removed; run heal again")
        return applied

    def partitioned(self) -> dict[str, list[str]]:
        """Host -> the IPs it drops (from the recorded rules)."""
        out: dict[str, list[str]] = {}
        for r in self.applied():
            if r.chain == "INPUT":
                out.setdefault(r.host, []).append(r.peer or " ".join(r.match))
        return out

    # -- ZooKeeper members ------------------------------------------------------------

    def zk_members(self) -> list[Any]:
        from console import _state as st

        rec = st.load(self.state_dir)
        return [] if rec is None else rec.by_kind("zk")

    def zk_stop(self, n: int) -> int:
        """SIGKILL ZooKeeper member ``n`` (1-based; its JVM and its wrapper). Returns the
        JVM's PID."""
        from console._launcher import Launcher

        return Launcher(self.state_dir).zk_stop(n)

    def zk_start(self, n: int, wait: bool = True) -> int:
        """Start member ``n`` again (same data dir, ports, host). Returns the new PID."""
        from console._launcher import Launcher

        return Launcher(self.state_dir).zk_start(n, wait=wait)
