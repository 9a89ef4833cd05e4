"""Simulated hosts for ``cluster up --hosts``: one Linux network namespace per node.

```
 root namespace (the CLI, tests, dig)        <tag>-hub namespace           <tag>-master-1 ...
   <tag> veth 10.213.X.1/24  ───────────── uplink ─┐                        eth0 10.213.X.11/24
                                                   br0 ── m1 ───────────────┘  lo up
                                                    ├──── a1 ─────────────── <tag>-agent-1
                                                    └──── ...                   eth0 10.213.X.101/24
```

Every node is a "host": its own namespace, its own address on a private /24 picked so that
no route of this machine overlaps it. The bridge lives in a namespace of its own (``hub``),
so this machine's firewall (Docker's ``FORWARD`` policy DROP with ``br_netfilter``) never
sees the hosts' traffic and nothing is added to the root namespace's rules. One veth joins
the root namespace to the bridge (address ``.1``) so the CLI, tests and ``dig`` reach the
nodes, as an operator's workstation on the same LAN would; nothing is routed beyond it.

Names derive from the state dir (``pd`` + 6 hex digits of a CRC, 8 characters, within
IFNAMSIZ), so two clusters on one machine never collide. ``cluster down`` deletes the
namespaces (which takes their veths and the bridge with them) and the root veth.

Partitions are iptables DROP rules inside the namespaces, both directions, on both sides
of the cut, tagged with a comment; the applied rules are recorded in
``<state-dir>/partitions.json`` so ``heal`` (from any process) removes exactly those.

The planning functions are pure (no subprocess): names, addresses, rules, commands.
``console._hosts.Hosts`` (the Python API, re-exporting this module) is the thin shell
used by ``pydcos cluster partition|heal|zk`` and by tests and ``bench/soak.py``::

    from console._hosts import Hosts
    hosts = Hosts.load(state_dir)
    hosts.partition("agent-1", from_=["master-1"])   # from_=None: from every other host
    hosts.heal()
    hosts.zk_stop(2); hosts.zk_start(2)              # one ZooKeeper member, by PID
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import shutil
import subprocess
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from console._errors import ConsoleError

TAG_PREFIX = "pd"
SUBNET_BASE = "10.213"
"""The hosts' /24s are ``10.213.X.0/24``: X from the state dir, moved on past any that a
route of this machine overlaps."""
GATEWAY_HOST = 1
"""``.1``: the root namespace's end of the uplink (where the CLI and tests sit)."""
MASTER_BASE = 10
"""master-i is ``.(10+i)``."""
AGENT_BASE = 100
"""agent-j is ``.(100+j)``."""
MAX_MASTERS = AGENT_BASE - MASTER_BASE - 1
MAX_AGENTS = 254 - AGENT_BASE
BRIDGE = "br0"
UPLINK = "uplink"
NODE_IF = "eth0"
GATEWAY = "gateway"
"""The pseudo host name of the root namespace in ``--from`` lists."""
RULE_COMMENT = "pydcos-partition"
PARTITIONS = "partitions.json"
ZK_CLIENT_PORT = 2181
ZK_QUORUM_PORT = 2888
ZK_ELECTION_PORT = 3888
"""ZooKeeper's usual ports: each host is a namespace created empty by ``cluster up``, so
nothing else can hold them (members that share a host take the next ports)."""
DNS_PORT = 53
VIP_NETWORK = "127.128.0.0/9"
"""The named VIPs' range (``actors.l4lb.NAMED_NETWORK``; a test checks they agree)."""
CLONE_NEWNET = 0x40000000


class HostsError(ConsoleError):
    """A hosts/namespace operation was refused or failed; the message is one line."""


# ------------------------------------------------------------------------------ pure


@dataclass(frozen=True, slots=True)
class HostSpec:
    """One simulated host."""

    name: str
    """``master-1``, ``agent-2``..."""
    role: str
    """``master`` or ``agent``."""
    ip: str
    netns: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> HostSpec:
        return HostSpec(str(d["name"]), str(d["role"]), str(d["ip"]), str(d["netns"]))


@dataclass(frozen=True, slots=True)
class NetPlan:
    """Everything ``cluster up --hosts`` creates, and so everything ``down`` removes."""

    tag: str
    subnet: str
    """``10.213.X.0/24``."""
    gateway_ip: str
    hub: str
    """The bridge's namespace."""
    uplink: str
    """The root namespace's veth (named ``tag``)."""
    hosts: tuple[HostSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hosts"] = [h.to_dict() for h in self.hosts]
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> NetPlan:
        return NetPlan(
            tag=str(d["tag"]),
            subnet=str(d["subnet"]),
            gateway_ip=str(d["gateway_ip"]),
            hub=str(d["hub"]),
            uplink=str(d["uplink"]),
            hosts=tuple(HostSpec.from_dict(h) for h in d.get("hosts", [])),
        )

    def host(self, name: str) -> HostSpec | None:
        return next((h for h in self.hosts if h.name == name), None)

    @property
    def masters(self) -> list[HostSpec]:
        return [h for h in self.hosts if h.role == "master"]

    @property
    def agents(self) -> list[HostSpec]:
        return [h for h in self.hosts if h.role == "agent"]

    @property
    def netns_names(self) -> list[str]:
        return [h.netns for h in self.hosts] + [self.hub]


def cluster_tag(state_dir: Path | str) -> str:
    """``pd`` + 6 hex digits of the state dir's CRC: short enough for an interface name
    (IFNAMSIZ 15), stable for a state dir, different for (almost all) others."""
    path = str(Path(state_dir).expanduser().resolve())
    return f"{TAG_PREFIX}{zlib.crc32(path.encode()) & 0xFFFFFF:06x}"


def parse_routes(text: str) -> list[str]:
    """The destination prefixes of ``ip route`` output (``default`` skipped)."""
    types = {"unicast", "local", "broadcast", "multicast", "anycast", "nat", "throw"}
    types |= {"unreachable", "blackhole", "prohibit"}
    out = []
    for line in text.splitlines():
        words = line.split()
        if words and words[0] in types:  # ``local 127.0.0.0/8 ...`` (table all)
            words = words[1:]
        if not words or words[0] == "default":
            continue
        dst = words[0]
        try:
            out.append(str(ipaddress.ip_network(dst, strict=False)))
        except ValueError:
            continue
    return out


def pick_subnet(tag: str, taken: Sequence[str]) -> str:
    """A ``10.213.X.0/24`` that overlaps none of ``taken`` (route prefixes), starting at
    an X derived from ``tag``. Raises HostsError when all 254 are taken."""
    nets = []
    for t in taken:
        with contextlib.suppress(ValueError):
            nets.append(ipaddress.ip_network(t, strict=False))
    start = zlib.crc32(tag.encode()) % 254
    for k in range(254):
        x = (start + k) % 254 + 1
        candidate = ipaddress.ip_network(f"{SUBNET_BASE}.{x}.0/24")
        if not any(candidate.overlaps(n) for n in nets if n.version == 4):
            return str(candidate)
    raise HostsError(f"no free /24 in {SUBNET_BASE}.0.0/16: every one overlaps a route")


def plan_network(tag: str, masters: int, agents: int, taken: Sequence[str] = ()) -> NetPlan:
    """Names and addresses for ``masters`` + ``agents`` hosts (pure)."""
    if not 1 <= masters <= MAX_MASTERS:
        raise HostsError(f"--masters {masters}: --hosts supports 1 to {MAX_MASTERS}")
    if not 0 <= agents <= MAX_AGENTS:
        raise HostsError(f"--agents {agents}: --hosts supports 0 to {MAX_AGENTS}")
    subnet = pick_subnet(tag, taken)
    base = subnet.rsplit(".", 1)[0]
    hosts = [
        HostSpec(f"master-{i}", "master", f"{base}.{MASTER_BASE + i}", f"{tag}-master-{i}")
        for i in range(1, masters + 1)
    ] + [
        HostSpec(f"agent-{j}", "agent", f"{base}.{AGENT_BASE + j}", f"{tag}-agent-{j}")
        for j in range(1, agents + 1)
    ]
    return NetPlan(
        tag=tag,
        subnet=subnet,
        gateway_ip=f"{base}.{GATEWAY_HOST}",
        hub=f"{tag}-hub",
        uplink=tag,
        hosts=tuple(hosts),
    )


def hub_port(host: HostSpec) -> str:
    """The bridge port of ``host`` inside the hub namespace (``m1``, ``a12``)."""
    kind, _, n = host.name.partition("-")
    return f"{kind[0]}{n}"


def setup_commands(plan: NetPlan) -> list[list[str]]:
    """The ``ip`` commands that create ``plan`` (pure; run in order)."""
    prefix = plan.subnet.split("/")[1]
    cmds: list[list[str]] = [
        ["ip", "netns", "add", plan.hub],
        ["ip", "-n", plan.hub, "link", "set", "lo", "up"],
        ["ip", "-n", plan.hub, "link", "add", BRIDGE, "type", "bridge"],
        ["ip", "-n", plan.hub, "link", "set", BRIDGE, "up"],
    ]
    for h in plan.hosts:
        port = hub_port(h)
        cmds += [
            ["ip", "netns", "add", h.netns],
            ["ip", "-n", h.netns, "link", "set", "lo", "up"],
            # Both ends are created directly in their namespaces: no name in the root one.
            [
                *("ip", "link", "add", NODE_IF, "netns", h.netns, "type", "veth"),
                *_peer(port, plan.hub),
            ],
            ["ip", "-n", plan.hub, "link", "set", port, "master", BRIDGE, "up"],
            ["ip", "-n", h.netns, "addr", "add", f"{h.ip}/{prefix}", "dev", NODE_IF],
            ["ip", "-n", h.netns, "link", "set", NODE_IF, "up"],
        ]
    cmds += vip_route_commands(plan)
    cmds += [
        ["ip", "link", "add", plan.uplink, "type", "veth", *_peer(UPLINK, plan.hub)],
        ["ip", "-n", plan.hub, "link", "set", UPLINK, "master", BRIDGE, "up"],
        ["ip", "addr", "add", f"{plan.gateway_ip}/{prefix}", "dev", plan.uplink],
        ["ip", "link", "set", plan.uplink, "up"],
    ]
    return cmds


def vip_master(plan: NetPlan, agent: HostSpec) -> HostSpec:
    """The master whose HAProxy serves ``agent``'s named VIPs: agent j -> master
    ``(j-1) % masters + 1`` (round robin, fixed: predictable in tests and demos)."""
    j = int(agent.name.rsplit("-", 1)[1])
    return plan.masters[(j - 1) % len(plan.masters)]


def vip_route_commands(plan: NetPlan) -> list[list[str]]:
    """Named VIPs (``VIP_NETWORK``) for tasks on agent hosts. The load balancer runs
    on masters, where HAProxy binds the VIPs on loopback; an agent host routes the VIP
    range to its master instead of keeping it local:

    - agent: loopback keeps 127.0.0.0/9 only; ``VIP_NETWORK`` goes via the master on
      ``eth0`` (``route_localnet`` lets 127/8 leave loopback) and is masqueraded to the
      agent's address, so replies come back;
    - master: ``route_localnet`` accepts 127/8 destinations arriving on ``eth0``, and
      its HAProxy, bound to the VIP, answers.

    IP VIPs (``127.x`` outside the named range) stay on each host's own loopback."""
    cmds: list[list[str]] = []
    if not plan.masters:
        return cmds
    localnet = ["sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1"]
    localnet += [f"net.ipv4.conf.{NODE_IF}.route_localnet=1"]
    for m in plan.masters:
        cmds.append(["ip", "netns", "exec", m.netns, *localnet])
    for a in plan.agents:
        via = vip_master(plan, a)
        ns = a.netns
        cmds += [
            ["ip", "netns", "exec", ns, *localnet],
            ["ip", "-n", ns, "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local"],
            ["ip", "-n", ns, "route", "add", "local", "127.0.0.0/9", "dev", "lo", "table", "local"],
            ["ip", "-n", ns, "route", "add", VIP_NETWORK, "via", via.ip, "dev", NODE_IF],
            [
                *("ip", "netns", "exec", ns, "iptables", "-w", "-t", "nat", "-A", "POSTROUTING"),
                *("-o", NODE_IF, "-d", VIP_NETWORK, "-j", "MASQUERADE"),
            ],
        ]
    return cmds


def _peer(name: str, netns: str) -> list[str]:
    return ["peer", "name", name, "netns", netns]


def teardown_commands(plan: NetPlan) -> list[list[str]]:
    """What ``down`` runs: deleting a namespace deletes its veths (and so their peers)
    and the bridge; the root veth is deleted explicitly (namespace cleanup is
    asynchronous in the kernel)."""
    cmds = [["ip", "link", "del", plan.uplink]]
    cmds += [["ip", "netns", "del", ns] for ns in plan.netns_names]
    return cmds


@dataclass(frozen=True, slots=True)
class Rule:
    """One iptables DROP rule inside ``netns``: INPUT from ``peer`` or OUTPUT to it
    (``peer`` '': any address), narrowed by ``match`` (ports, interface) if given."""

    netns: str
    chain: str
    peer: str
    """The peer's IP ('' for a ZooKeeper member's port rules)."""
    host: str = ""
    """Whose namespace (the host's name, or ``zk-N``), for messages."""
    match: tuple[str, ...] = ()
    """More iptables match arguments (``-o eth0 -p tcp -m multiport --dports ...``)."""

    def spec(self) -> list[str]:
        """The rule's match and target (what ``-I``/``-D``/``-C`` take after the chain)."""
        side = "-s" if self.chain == "INPUT" else "-d"
        where = [side, f"{self.peer}/32"] if self.peer else []
        tail = ["-m", "comment", "--comment", RULE_COMMENT, "-j", "DROP"]
        return [*where, *self.match, *tail]

    def argv(self, action: str) -> list[str]:
        """``ip netns exec NS iptables -w ACTION CHAIN ...`` (``-I``, ``-D`` or ``-C``)."""
        return ["ip", "netns", "exec", self.netns, "iptables", "-w", action, self.chain]

    def command(self, action: str) -> list[str]:
        return [*self.argv(action), *self.spec()]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["match"] = list(self.match)
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Rule:
        match = tuple(str(x) for x in d.get("match", ()))
        return Rule(str(d["netns"]), str(d["chain"]), str(d["peer"]), str(d.get("host", "")), match)


def plan_partition(
    plan: NetPlan, target: str, from_hosts: Sequence[str] | None = None
) -> list[Rule]:
    """The DROP rules that cut ``target`` off from ``from_hosts`` (None or empty: from
    every other host; ``gateway`` names the root namespace, which is never cut unless
    named). Both directions, on both sides: the target drops what comes from and goes
    to each peer, and each peer (the gateway has no namespace of ours) drops the same."""
    names = [h.name for h in plan.hosts]
    tgt = plan.host(target)
    if tgt is None:
        raise HostsError(f"no host {target!r} in this cluster; hosts: {', '.join(names)}")
    peers: list[tuple[str, str, str | None]] = []  # (name, ip, netns or None)
    wanted = list(from_hosts or [])
    if not wanted:
        wanted = [n for n in names if n != target]
    seen: set[str] = set()
    for name in wanted:
        if name in seen:
            continue
        seen.add(name)
        if name == target:
            raise HostsError(f"--from: {name!r} is the host being partitioned")
        if name == GATEWAY:
            peers.append((GATEWAY, plan.gateway_ip, None))
            continue
        h = plan.host(name)
        if h is None:
            raise HostsError(
                f"--from: no host {name!r} in this cluster; hosts: {', '.join(names)}, {GATEWAY}"
            )
        peers.append((h.name, h.ip, h.netns))
    if not peers:
        raise HostsError(f"{target!r} has no other host to be partitioned from")
    rules: list[Rule] = []
    for name, ip, netns in peers:
        rules.append(Rule(tgt.netns, "INPUT", ip, tgt.name))
        rules.append(Rule(tgt.netns, "OUTPUT", ip, tgt.name))
        if netns is not None:
            rules.append(Rule(netns, "INPUT", tgt.ip, name))
            rules.append(Rule(netns, "OUTPUT", tgt.ip, name))
    return rules


def merge_rules(applied: Sequence[Rule], new: Sequence[Rule]) -> list[Rule]:
    """``new`` rules not already applied (a repeated partition adds no duplicate)."""
    have = set(applied)
    out: list[Rule] = []
    for r in new:
        if r not in have:
            have.add(r)
            out.append(r)
    return out


@dataclass(frozen=True, slots=True)
class ZkMember:
    """One ZooKeeper ensemble member: id, host (name and IP) and its three ports."""

    server_id: int
    host: str
    ip: str
    client_port: int
    quorum_port: int
    election_port: int

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.client_port}"

    def peer_arg(self) -> str:
        return (
            f"{self.server_id}={self.ip}:{self.client_port}:{self.quorum_port}:{self.election_port}"
        )


def plan_zk_members(masters: Sequence[HostSpec], size: int) -> list[ZkMember]:
    """``size`` members on the master hosts, round robin: member i on master
    ``(i-1) % len(masters) + 1``. With fewer masters than members, members sharing a host
    take the next ports (2182/2889/3889...), as co-located servers would."""
    if size < 1:
        raise HostsError(f"--zk-ensemble {size}: need at least 1 member")
    if not masters:
        raise HostsError("a ZooKeeper ensemble on hosts needs at least one master host")
    out = []
    for i in range(1, size + 1):
        k = (i - 1) // len(masters)
        h = masters[(i - 1) % len(masters)]
        out.append(
            ZkMember(i, h.name, h.ip, ZK_CLIENT_PORT + k, ZK_QUORUM_PORT + k, ZK_ELECTION_PORT + k)
        )
    return out


def plan_zk_partition(plan: NetPlan, members: Sequence[ZkMember], n: int) -> list[Rule]:
    """Cut ZooKeeper member ``n`` off from every client and peer while its host (the
    master beside it) keeps its other traffic: in that host's namespace, on its link
    (``eth0``: the host's own master still reaches it over loopback, where it finds no
    quorum), drop TCP to and from the member's three ports, and to and from the other
    members' quorum and election ports (the connections the member opens itself). The
    master on the same host still reaches the other members' client ports."""
    me = next((m for m in members if m.server_id == n), None)
    if me is None:
        ids = ", ".join(f"zk-{m.server_id}" for m in members) or "none"
        raise HostsError(f"no ZooKeeper member zk-{n} in this cluster; members: {ids}")
    host = plan.host(me.host)
    if host is None:
        raise HostsError(f"zk-{n} runs on loopback, not on a host of ours: nothing to cut")
    own = f"{me.client_port},{me.quorum_port},{me.election_port}"
    others = sorted(
        {str(p) for m in members if m.server_id != n for p in (m.quorum_port, m.election_port)}
    )
    name = f"zk-{n}"
    tcp = ("-p", "tcp", "-m", "multiport")
    rules = [
        Rule(host.netns, "INPUT", "", name, ("-i", NODE_IF, *tcp, "--dports", own)),
        Rule(host.netns, "OUTPUT", "", name, ("-o", NODE_IF, *tcp, "--sports", own)),
    ]
    if others:
        peer_ports = ",".join(others)
        rules += [
            Rule(host.netns, "OUTPUT", "", name, ("-o", NODE_IF, *tcp, "--dports", peer_ports)),
            Rule(host.netns, "INPUT", "", name, ("-i", NODE_IF, *tcp, "--sports", peer_ports)),
        ]
    return rules


def ensemble_hosts(members: Sequence[ZkMember]) -> str:
    """The connection string: ``ip:port,ip:port,...``."""
    return ",".join(m.address for m in members)


# ------------------------------------------------------------------------------ shell


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise HostsError(f"{cmd[0]} is not installed (needed for --hosts)") from None
    except subprocess.TimeoutExpired:
        raise HostsError(f"{' '.join(cmd)} did not finish within 30 s") from None
    if check and res.returncode != 0:
        raise HostsError(f"{' '.join(cmd)} failed: {(res.stderr or res.stdout).strip()}")
    return res


def netns_unsupported() -> str | None:
    """Why ``--hosts`` cannot run here (None: it can): root, ``ip``, ``iptables`` and
    the kernel's network namespaces are all needed."""
    if os.geteuid() != 0:
        return "--hosts needs root (network namespaces, veths, iptables)"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"--hosts needs {tool!r} (not found on PATH)"
    if not Path("/proc/self/ns/net").exists():
        return "--hosts needs network namespaces (no /proc/self/ns/net)"
    return None


def root_routes() -> list[str]:
    return parse_routes(_run(["ip", "-4", "route", "show", "table", "all"], check=False).stdout)


def create_network(plan: NetPlan) -> None:
    """Create ``plan``; on failure remove what was made and raise HostsError."""
    try:
        for cmd in setup_commands(plan):
            _run(cmd)
    except HostsError:
        destroy_network(plan)
        raise


def destroy_network(plan: NetPlan) -> list[str]:
    """Remove every namespace and the root veth of ``plan`` (idempotent). Returns what is
    still there afterwards (empty when all went)."""
    for cmd in teardown_commands(plan):
        _run(cmd, check=False)
    return leftovers(plan)


def remove_stale(tag: str) -> list[str]:
    """Remove namespaces and the uplink of an earlier cluster with this ``tag`` (this
    state dir) that ``down`` never cleaned (a killed ``up``, a reboot of the record).
    Only called when no process of the state dir's record runs. Returns what went."""
    gone = []
    listed = _run(["ip", "netns", "list"], check=False).stdout.split()
    for ns in (x for x in listed if x.startswith(f"{tag}-")):
        if _run(["ip", "netns", "del", ns], check=False).returncode == 0:
            gone.append(ns)
    link = Path(f"/sys/class/net/{tag}").exists()
    if link and _run(["ip", "link", "del", tag], check=False).returncode == 0:
        gone.append(f"link {tag}")
    return gone


def leftovers(plan: NetPlan) -> list[str]:
    left = []
    listed = _run(["ip", "netns", "list"], check=False).stdout.split()
    left += [ns for ns in plan.netns_names if ns in listed]
    if Path(f"/sys/class/net/{plan.uplink}").exists():
        left.append(f"link {plan.uplink}")
    return left


def enter_netns(netns: str) -> Callable[[], None]:
    """A ``preexec_fn`` that moves the child into ``netns`` (network only: unlike ``ip
    netns exec`` it keeps the mount namespace, so /sys/fs/cgroup and the agents' mounts
    stay those of this machine). libc is loaded here, in the parent: the child, forked
    from a process with threads, only makes system calls (no dlopen and its locks)."""
    path = f"/run/netns/{netns}"
    setns = ctypes.CDLL("libc.so.6", use_errno=True).setns

    def enter() -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            if setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {path}")
        finally:
            os.close(fd)

    return enter


def netns_exec_argv(netns: str, argv: Sequence[str]) -> list[str]:
    """``ip netns exec NS argv...`` (for one-off commands: curl, dig, python -c)."""
    return ["ip", "netns", "exec", netns, *argv]


# ------------------------------------------------------------------------------ advertise


def advertise_host(advertise: str) -> str:
    """The host part of a transport ``--advertise`` (``tcp://HOST[:PORT]``, ``HOST``)."""
    rest = advertise.strip()
    if "://" in rest:
        rest = rest.split("://", 1)[1]
    rest = rest.split("/", 1)[0]
    if rest.startswith("["):  # [v6]:port
        return rest[1:].split("]", 1)[0]
    host, sep, port = rest.rpartition(":")
    return host if sep and port.isdigit() and host.count(":") == 0 else rest


def unowned_advertise(advertise: str) -> str | None:
    """Why this machine (this network namespace) cannot be ``advertise`` (None: it can):
    an address peers would dial but that no interface here holds. Probed by binding it,
    which fails with EADDRNOTAVAIL for an address the host does not own."""
    import socket

    host = advertise_host(advertise)
    if not host or host in ("*", "0.0.0.0", "::"):
        return f"--advertise {advertise!r}: a wildcard address is not one peers can dial"
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"--advertise {advertise!r}: {host!r} does not resolve ({exc})"
    for family, _, _, _, addr in infos:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((addr[0], 0))
                return None
            except OSError:
                continue
    ips = ", ".join(sorted({str(i[4][0]) for i in infos}))
    return (
        f"--advertise {advertise!r}: this host does not own {ips} (no interface has it); "
        "peers would reach another machine or none"
    )
