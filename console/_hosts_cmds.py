"""Many hosts (issue 26): ``cluster up --hosts|--zk-ensemble N``, ``cluster partition``,
``cluster heal``, ``cluster zk stop|start N`` and ``node install``.

The work is in ``console._hosts`` (namespaces, partitions), ``console._launcher``
(processes) and ``console._node_install`` (systemd units); these are the faces.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from console._hosts import GATEWAY, Hosts, HostsError
from console._launcher import Launcher, LauncherError
from console._output import Out


def _state_dir(args: argparse.Namespace) -> Path:
    from console._state import default_state_dir

    return Path(args.state_dir).expanduser() if args.state_dir else default_state_dir()


def _fail(exc: Exception) -> LauncherError:
    """A HostsError as the launcher's one-line user error (printed, exit 1)."""
    return LauncherError(str(exc))


def cmd_partition(args: argparse.Namespace) -> int:
    out = Out(args.json)
    from_ = [x.strip() for x in (args.from_ or "").split(",") if x.strip()] or None
    try:
        hosts = Hosts.load(_state_dir(args))
        added = hosts.partition(args.host, from_)
    except HostsError as exc:
        raise _fail(exc) from None
    if args.host.startswith("zk-"):
        member = next(m for m in hosts.zk_member_specs() if f"zk-{m.server_id}" == args.host)
        peers = ["every ZooKeeper client and peer"]
        where = f"{member.address} on {member.host}"
    else:
        peers = sorted({hosts.name_of(r.peer) or r.peer for r in added if r.host == args.host})
        where = hosts.ip(args.host)
    out.result(
        {"host": args.host, "from": peers, "rules": [r.to_dict() for r in added]},
        f"partitioned {args.host} ({where}) from {', '.join(peers) or '-'}: "
        f"{len(added)} DROP rule(s); 'pydcos cluster heal' removes them",
    )
    return 0


def cmd_heal(args: argparse.Namespace) -> int:
    out = Out(args.json)
    try:
        hosts = Hosts.load(_state_dir(args))
        removed = hosts.heal()
    except HostsError as exc:
        raise _fail(exc) from None
    cut = sorted({r.host for r in removed if r.host})
    out.result(
        {"removed": [r.to_dict() for r in removed]},
        f"healed: removed {len(removed)} DROP rule(s) ({', '.join(cut)})",
    )
    return 0


def cmd_zk(args: argparse.Namespace) -> int:
    out = Out(args.json)
    launcher = Launcher(_state_dir(args))
    if args.action == "stop":
        pid = launcher.zk_stop(args.member)
        out.result(
            {"member": args.member, "stopped_pid": pid},
            f"ZooKeeper member {args.member} killed (java pid {pid})",
        )
    else:
        pid = launcher.zk_start(args.member)
        out.result(
            {"member": args.member, "pid": pid},
            f"ZooKeeper member {args.member} started (java pid {pid})",
        )
    return 0


def cmd_node_install(args: argparse.Namespace) -> int:
    from console._node_install import KEY_FILES, plan_install, write_install
    from console._state import pydcos_home

    out = Out(args.json)
    keys = Path(args.keys or pydcos_home() / "keys").expanduser()
    present = [f for f in KEY_FILES if (keys / f).exists()]
    try:
        files = plan_install(
            args.role,
            args.zk,
            args.ip,
            python=args.python or sys.executable,
            repo=args.repo or str(Path(__file__).resolve().parents[1]),
            keys_dir=keys,
            key_files=present,
            hostname=args.hostname or "",
            resources=args.resources or "",
            attributes=args.attributes or "",
            iam_key=args.iam_key or "",
        )
    except HostsError as exc:
        raise _fail(exc) from None
    root = Path(args.root)
    try:
        written = write_install(root, files)
    except OSError as exc:
        raise LauncherError(f"node install: cannot write under {root}: {exc}") from None
    units = [p.name for p in written if p.suffix == ".service"]
    out.result(
        {"root": str(root), "files": [str(p) for p in written], "units": units},
        f"wrote {len(written)} file(s) under {root}: units {', '.join(units)}",
    )
    if not args.json:
        out.line(
            "next: systemctl daemon-reload && systemctl enable --now "
            + " ".join(units)
            + "   (docs/deploy.md: ports to open)"
        )
    return 0


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    up = groups["up"]
    up.add_argument(
        "--hosts",
        action="store_true",
        help="every master and agent on its own simulated host (network namespace, own IP; "
        "root needed, else loopback)",
    )
    up.add_argument(
        "--zk-ensemble",
        type=int,
        default=0,
        metavar="N",
        help="start N ZooKeeper servers (default: 3 with --hosts, else 1)",
    )
    csub = groups["cluster"]
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument(
        "--state-dir", default=None, help="default ~/.pydcos/cluster ($PYDCOS_HOME/cluster)"
    )
    state.add_argument("--json", action="store_true", help="JSON output for scripts")
    state.set_defaults(quiet_logs=True)
    p = csub.add_parser(
        "partition",
        help="cut a host off the network (iptables DROP, both ways; --hosts clusters)",
        parents=[state],
    )
    p.add_argument(
        "host", metavar="HOST", help="master-1, agent-2, ...; zk-N: one ZooKeeper member only"
    )
    p.add_argument(
        "--from",
        dest="from_",
        default=None,
        metavar="HOST,...",
        help=f"only from these hosts (default: every other host; '{GATEWAY}' = this machine)",
    )
    p.set_defaults(fn=cmd_partition)
    h = csub.add_parser("heal", help="remove every partition", parents=[state])
    h.set_defaults(fn=cmd_heal)
    z = csub.add_parser(
        "zk", help="kill or restart one ZooKeeper member of the ensemble", parents=[state]
    )
    z.add_argument("action", choices=("stop", "start"))
    z.add_argument("member", type=int, metavar="N", help="member id (1, 2, 3...)")
    z.set_defaults(fn=cmd_zk)

    node = groups["node"]
    i = node.add_parser(
        "install",
        help="write systemd units and key files that make this machine a master or agent",
    )
    i.add_argument("--role", required=True, choices=("master", "agent"))
    i.add_argument("--zk", required=True, help="zk://h1,h2,h3/pydcos (the ensemble)")
    i.add_argument("--ip", required=True, help="this host's address (bound and advertised)")
    i.add_argument("--root", default="/", help="install under this directory (tests, images)")
    i.add_argument("--keys", default=None, help="the cluster's key dir (pydcos cluster keys)")
    i.add_argument("--hostname", default=None, help="name to publish (default: --ip)")
    i.add_argument("--resources", default=None, help="agent: e.g. 'cpus:8;mem:16384'")
    i.add_argument("--attributes", default=None, help="agent: e.g. 'zone:a;rack:r1'")
    i.add_argument("--iam-key", default=None, help="master: the cluster's IAM signing key")
    i.add_argument("--python", default=None, help="interpreter (default: this one)")
    i.add_argument("--repo", default=None, help="pydcos checkout (default: this one)")
    i.add_argument("--json", action="store_true", help="JSON output for scripts")
    i.set_defaults(fn=cmd_node_install, quiet_logs=True)
