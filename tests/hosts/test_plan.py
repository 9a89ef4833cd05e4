"""Pure planning of simulated hosts (issue 26): names, addresses, commands, partition
rules, ZooKeeper members, node install files. Nothing here runs ``ip`` or iptables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console._hosts import (
    GATEWAY,
    HostsError,
    NetPlan,
    Rule,
    advertise_host,
    cluster_tag,
    merge_rules,
    netns_unsupported,
    parse_routes,
    pick_subnet,
    plan_network,
    plan_partition,
    plan_zk_members,
    plan_zk_partition,
    remove_stale,
    setup_commands,
    teardown_commands,
    unowned_advertise,
)
from console._node_install import parse_zk_url, plan_install, write_install
from zk import Peer, ZooKeeperServer, parse_peers

REPO = Path(__file__).resolve().parents[2]
IFNAMSIZ = 15
ADV = ("--insecure-dev", "--advertise", "tcp://192.0.2.254:5050")

ROUTES = """default via 192.0.2.1 dev eth0
10.200.222.0/24 dev pyd27808 proto kernel scope link src 10.200.222.1 linkdown
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
"""


def plan(masters: int = 3, agents: int = 3) -> NetPlan:
    return plan_network("pdabc123", masters, agents, parse_routes(ROUTES))


# -- naming -----------------------------------------------------------------------------


def test_cluster_tag_is_short_stable_and_differs_between_state_dirs(tmp_path: Path) -> None:
    a, b = cluster_tag(tmp_path / "one"), cluster_tag(tmp_path / "two")
    assert a == cluster_tag(tmp_path / "one")
    assert a != b
    assert len(a) <= IFNAMSIZ and a.startswith("pd") and a.isalnum()


def test_every_interface_name_fits_ifnamsiz() -> None:
    p = plan(9, 154)
    names = {p.uplink}
    for cmd in setup_commands(p):
        if cmd[:3] == ["ip", "link", "add"] or (len(cmd) > 4 and cmd[3:5] == ["link", "add"]):
            names.update(w for i, w in enumerate(cmd) if i > 0 and cmd[i - 1] in ("add", "name"))
    assert names and all(len(n) <= IFNAMSIZ for n in names), names


def test_parse_routes_reads_destinations_and_skips_default() -> None:
    assert parse_routes(ROUTES) == ["10.200.222.0/24", "192.0.2.0/24", "127.0.0.0/8"]


def test_subnet_avoids_every_routed_prefix() -> None:
    tag = "pdabc123"
    first = pick_subnet(tag, [])
    assert first.startswith("10.213.") and first.endswith(".0/24")
    # The preferred /24 routed here already (another cluster, a VPN): the next one.
    second = pick_subnet(tag, [first])
    assert second != first
    # A wider route covering the whole 10.213/16 leaves nothing.
    with pytest.raises(HostsError, match="no free /24"):
        pick_subnet(tag, ["10.0.0.0/8"])


def test_plan_gives_each_node_its_own_address_and_namespace() -> None:
    p = plan()
    ips = [h.ip for h in p.hosts]
    assert len(set(ips)) == 6 and p.gateway_ip not in ips
    assert [h.name for h in p.masters] == ["master-1", "master-2", "master-3"]
    assert [h.name for h in p.agents] == ["agent-1", "agent-2", "agent-3"]
    assert all(h.netns.startswith("pdabc123-") for h in p.hosts)
    assert p.hub == "pdabc123-hub" and p.uplink == "pdabc123"
    net = p.subnet.rsplit(".", 1)[0]
    assert all(ip.startswith(net + ".") for ip in [*ips, p.gateway_ip])
    assert NetPlan.from_dict(json.loads(json.dumps(p.to_dict()))) == p


@pytest.mark.parametrize(("masters", "agents"), [(0, 1), (90, 1), (1, 155), (1, -1)])
def test_plan_refuses_counts_the_subnet_cannot_hold(masters: int, agents: int) -> None:
    with pytest.raises(HostsError, match="--hosts supports"):
        plan(masters, agents)


def test_setup_brings_loopback_up_everywhere_and_teardown_removes_what_setup_made() -> None:
    p = plan()
    cmds = setup_commands(p)
    for ns in p.netns_names:
        assert ["ip", "netns", "add", ns] in cmds
        assert ["ip", "-n", ns, "link", "set", "lo", "up"] in cmds
    down = teardown_commands(p)
    assert {c[-1] for c in down if c[:3] == ["ip", "netns", "del"]} == set(p.netns_names)
    assert ["ip", "link", "del", p.uplink] in down


# -- partitions -------------------------------------------------------------------------


def test_partition_drops_both_directions_on_both_sides() -> None:
    p = plan()
    a1, m1 = p.host("agent-1"), p.host("master-1")
    assert a1 is not None and m1 is not None
    rules = plan_partition(p, "agent-1", ["master-1"])
    assert set(rules) == {
        Rule(a1.netns, "INPUT", m1.ip, "agent-1"),
        Rule(a1.netns, "OUTPUT", m1.ip, "agent-1"),
        Rule(m1.netns, "INPUT", a1.ip, "master-1"),
        Rule(m1.netns, "OUTPUT", a1.ip, "master-1"),
    }
    cmd = rules[0].command("-I")
    assert cmd[:5] == ["ip", "netns", "exec", a1.netns, "iptables"]
    assert cmd[-2:] == ["-j", "DROP"] and "pydcos-partition" in cmd


def test_partition_from_nobody_named_cuts_every_other_host_but_not_the_gateway() -> None:
    p = plan()
    rules = plan_partition(p, "master-2")
    peers = {r.peer for r in rules if r.host == "master-2"}
    assert peers == {h.ip for h in p.hosts if h.name != "master-2"}
    assert p.gateway_ip not in peers
    gw = plan_partition(p, "master-2", [GATEWAY])
    assert {r.peer for r in gw} == {p.gateway_ip}  # the root namespace: target side only
    assert {r.netns for r in gw} == {p.host("master-2").netns}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("target", "from_", "message"),
    [
        ("agent-9", None, "no host 'agent-9' in this cluster; hosts: master-1"),
        ("agent-1", ["nobody"], "--from: no host 'nobody'"),
        ("agent-1", ["agent-1"], "is the host being partitioned"),
    ],
)
def test_partition_refuses_unknown_hosts(
    target: str, from_: list[str] | None, message: str
) -> None:
    with pytest.raises(HostsError, match=message):
        plan_partition(plan(), target, from_)


def test_a_repeated_partition_adds_no_duplicate_rule() -> None:
    p = plan()
    first = plan_partition(p, "agent-1", ["master-1"])
    again = merge_rules(first, plan_partition(p, "agent-1", ["master-1", "master-2"]))
    assert again and not set(again) & set(first)
    assert all("master-2" in (r.host,) or r.peer == p.host("master-2").ip for r in again)  # type: ignore[union-attr]


def test_rules_round_trip() -> None:
    r = Rule("ns", "OUTPUT", "10.213.1.11", "agent-1")
    assert Rule.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert r.spec()[:2] == ["-d", "10.213.1.11/32"]


# -- ZooKeeper members ----------------------------------------------------------------


def test_zk_members_one_per_master_host() -> None:
    p = plan()
    members = plan_zk_members(p.masters, 3)
    assert [(m.host, m.ip, m.client_port) for m in members] == [
        (h.name, h.ip, 2181) for h in p.masters
    ]
    assert parse_peers(",".join(m.peer_arg() for m in members)) == [
        Peer(m.server_id, m.client_port, m.quorum_port, m.election_port, m.ip) for m in members
    ]


def test_zk_members_share_hosts_on_the_next_ports_with_fewer_masters() -> None:
    members = plan_zk_members(plan(1, 0).masters, 3)
    assert len({m.ip for m in members}) == 1
    assert [m.client_port for m in members] == [2181, 2182, 2183]
    assert len({(m.quorum_port, m.election_port) for m in members}) == 3
    with pytest.raises(HostsError, match="at least 1 member"):
        plan_zk_members(plan().masters, 0)


@pytest.mark.parametrize(
    "bad", ["1=h:1:2", "x=h:1:2:3", "1=:1:2:3", "0=h:1:2:3", "1=h:1:2:70000", "1=h:1:2:3,1=g:1:2:3"]
)
def test_parse_peers_names_the_bad_item(bad: str) -> None:
    with pytest.raises(ValueError, match=r"ID=HOST|id must be|appears twice"):
        parse_peers(bad)


def test_ensemble_config_names_each_members_own_address(tmp_path: Path) -> None:
    peers = [Peer(1, 2181, 2888, 3888, "10.0.0.11"), Peer(2, 2181, 2888, 3888, "10.0.0.12")]
    server = ZooKeeperServer(
        host="10.0.0.11", port=2181, data_dir=tmp_path, server_id=1, peers=peers
    )
    cfg = server.config_text()
    assert "server.1=10.0.0.11:2888:3888\n" in cfg and "server.2=10.0.0.12:2888:3888\n" in cfg
    assert "clientPortAddress=10.0.0.11\n" in cfg and "4lw.commands.whitelist=*\n" in cfg


# -- --advertise ownership ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("adv", "host"),
    [("tcp://10.1.2.3:5050", "10.1.2.3"), ("tcp://10.1.2.3", "10.1.2.3"), ("h:1", "h"), ("h", "h")],
)
def test_advertise_host(adv: str, host: str) -> None:
    assert advertise_host(adv) == host


def test_advertise_ownership_probe() -> None:
    assert unowned_advertise("tcp://127.0.0.1:5050") is None
    why = unowned_advertise("tcp://192.0.2.254:5050")  # TEST-NET-1: owned by nobody here
    assert why is not None and "does not own 192.0.2.254" in why
    assert "wildcard" in (unowned_advertise("tcp://0.0.0.0:1") or "")


def test_master_refuses_an_advertise_address_it_does_not_own() -> None:
    res = subprocess.run(
        [*(sys.executable, "-m", "console.cli", "master", "--zk", "127.0.0.1:1"), *ADV],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "refuses to start" in lines[0] and "192.0.2.254" in lines[0]


# -- node install -----------------------------------------------------------------------


def test_parse_zk_url() -> None:
    hosts, chroot = parse_zk_url("zk://10.0.0.1,10.0.0.2:2182,10.0.0.3/pydcos")
    assert hosts == [("10.0.0.1", 2181), ("10.0.0.2", 2182), ("10.0.0.3", 2181)]
    assert chroot == "/pydcos"
    for bad, why in [
        ("10.0.0.1/pydcos", "expected zk://"),
        ("zk://a,b", "name the chroot"),
        ("zk://a:x/p", "not a number"),
        ("zk://a,,b/p", "empty host"),
    ]:
        with pytest.raises(HostsError, match=why):
            parse_zk_url(bad)


def _keys(tmp_path: Path) -> Path:
    from transport import generate_keys

    keys = tmp_path / "keys"
    generate_keys(keys)
    (keys / "zk.credentials").write_text("pydcos:secret\n")
    return keys


def test_node_install_master_writes_units_and_keys(tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    files = plan_install(
        "master",
        "zk://10.0.0.1,10.0.0.2,10.0.0.3/pydcos",
        "10.0.0.2",
        python="/opt/pydcos/.venv/bin/python",
        repo="/opt/pydcos",
        keys_dir=keys,
        key_files=["cluster.key", "cluster.key_secret", "zk.credentials"],
    )
    root = tmp_path / "root"
    write_install(root, files)
    unit = (root / "etc/systemd/system/pydcos-master.service").read_text()
    assert "ExecStart=/opt/pydcos/.venv/bin/python -m console.cli master" in unit
    assert "--advertise tcp://10.0.0.2:5050" in unit and "--dns-port 53" in unit
    assert "--zk 10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181/pydcos" in unit
    assert "After=network-online.target pydcos-zookeeper.service" in unit
    zk = (root / "etc/systemd/system/pydcos-zookeeper.service").read_text()
    assert "--server-id 2" in zk and "2=10.0.0.2:2181:2888:3888" in zk
    secret = root / "etc/pydcos/keys/cluster.key_secret"
    assert secret.read_bytes() == (keys / "cluster.key_secret").read_bytes()
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (root / "etc/pydcos/keys/zk.credentials").stat().st_mode & 0o777 == 0o600
    assert (root / "etc/pydcos/keys/authorized_keys/client.key").exists()
    assert not (root / "etc/pydcos/keys/client.key_secret").exists()  # operators keep it


def test_node_install_agent_and_a_master_outside_the_ensemble(tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    kw = {
        "python": "py",
        "repo": "/r",
        "keys_dir": keys,
        "key_files": ["cluster.key", "cluster.key_secret"],
    }
    agent = plan_install("agent", "zk://10.0.0.1/pydcos", "10.0.0.9", **kw)  # type: ignore[arg-type]
    paths = {f.path for f in agent}
    assert "etc/systemd/system/pydcos-agent.service" in paths
    assert not any("zookeeper" in p for p in paths)
    master = plan_install("master", "zk://10.0.0.1/pydcos", "10.0.0.9", **kw)  # type: ignore[arg-type]
    assert not any("zookeeper" in f.path for f in master)
    with pytest.raises(HostsError, match="--role 'web'"):
        plan_install("web", "zk://10.0.0.1/pydcos", "10.0.0.9", **kw)  # type: ignore[arg-type]
    with pytest.raises(HostsError, match="--ip 'ten'"):
        plan_install("agent", "zk://10.0.0.1/pydcos", "ten", **kw)  # type: ignore[arg-type]
    kw["key_files"] = []
    with pytest.raises(HostsError, match="pydcos cluster keys --dir"):
        plan_install("agent", "zk://10.0.0.1/pydcos", "10.0.0.9", **kw)  # type: ignore[arg-type]


def test_node_install_cli(tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    root = tmp_path / "root"
    argv = [sys.executable, "-m", "console.cli", "node", "install", "--role", "agent"]
    argv += ["--zk", "zk://10.0.0.1,10.0.0.2,10.0.0.3/pydcos", "--ip", "10.0.0.7"]
    argv += ["--keys", str(keys), "--root", str(root), "--json"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["units"] == ["pydcos-agent.service"]
    unit = (root / "etc/systemd/system/pydcos-agent.service").read_text()
    assert "--bind tcp://10.0.0.7:5051" in unit and "--work-dir /var/lib/pydcos/agent" in unit
    bad = subprocess.run(
        [*argv[:-1], "--zk", "10.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )
    assert bad.returncode != 0 and "expected zk://" in bad.stderr


def test_a_zk_member_partition_drops_only_zookeeper_ports_on_the_link() -> None:
    p = plan()
    members = plan_zk_members(p.masters, 3)
    rules = plan_zk_partition(p, members, 2)
    m2 = p.host("master-2")
    assert m2 is not None and {r.netns for r in rules} == {m2.netns}
    assert {r.host for r in rules} == {"zk-2"} and all(r.peer == "" for r in rules)
    specs = [" ".join(r.spec()) for r in rules]
    assert all(("-i eth0" in x or "-o eth0" in x) and "-p tcp" in x for x in specs)
    assert any("--dports 2181,2888,3888" in x for x in specs)  # nobody reaches it
    assert any("--dports 2888,3888" in x and "-o eth0" in x for x in specs)  # it reaches no peer
    assert not any(
        "--dports 2181" in x and "-o eth0" in x for x in specs
    )  # master-2 reaches zk-1/3
    assert Rule.from_dict(json.loads(json.dumps(rules[0].to_dict()))) == rules[0]
    with pytest.raises(HostsError, match="no ZooKeeper member zk-7"):
        plan_zk_partition(p, members, 7)


@pytest.mark.skipif(netns_unsupported() is not None, reason=str(netns_unsupported()))
def test_stale_namespaces_of_this_state_dir_are_removed(tmp_path: Path) -> None:
    tag = cluster_tag(tmp_path)
    other = cluster_tag(tmp_path / "other")
    try:  # every setup step inside: a failed one leaves nothing behind either
        subprocess.run(["ip", "netns", "add", f"{tag}-agent-1"], check=True)
        veth = ["ip", "link", "add", tag, "type", "veth", "peer", "name", f"{tag}p"]
        subprocess.run(veth, check=True)
        subprocess.run(["ip", "netns", "add", f"{other}-agent-1"], check=True)
        assert set(remove_stale(tag)) == {f"{tag}-agent-1", f"link {tag}"}
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert f"{tag}-" not in listed and f"{other}-agent-1" in listed  # not another's
        assert not Path(f"/sys/class/net/{tag}").exists()
    finally:
        subprocess.run(["ip", "netns", "del", f"{tag}-agent-1"], capture_output=True)
        subprocess.run(["ip", "link", "del", tag], capture_output=True)
        subprocess.run(["ip", "netns", "del", f"{other}-agent-1"], capture_output=True)


def test_agent_hosts_route_named_vips_to_a_master() -> None:
    from actors.l4lb import NAMED_NETWORK
    from console._netns import VIP_NETWORK, vip_master, vip_route_commands

    assert str(NAMED_NETWORK) == VIP_NETWORK
    p = plan(2, 3)
    assert [vip_master(p, a).name for a in p.agents] == ["master-1", "master-2", "master-1"]
    cmds = [" ".join(c) for c in vip_route_commands(p)]
    a1, m1 = p.host("agent-1"), p.host("master-1")
    assert a1 is not None and m1 is not None
    assert f"ip -n {a1.netns} route add {VIP_NETWORK} via {m1.ip} dev eth0" in cmds
    assert any(a1.netns in c and "MASQUERADE" in c and VIP_NETWORK in c for c in cmds)
    assert any(m1.netns in c and "route_localnet=1" in c for c in cmds)
    # Loopback keeps 127.0.0.0/9 (127.0.0.1, IP VIPs) on every agent host.
    assert f"ip -n {a1.netns} route add local 127.0.0.0/9 dev lo table local" in cmds
    lone = plan(1, 0)  # no agent: only the master accepts 127/8 on its link
    sysctl = ["net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.eth0.route_localnet=1"]
    assert vip_route_commands(lone) == [
        ["ip", "netns", "exec", lone.masters[0].netns, "sysctl", "-qw", *sysctl]
    ]
