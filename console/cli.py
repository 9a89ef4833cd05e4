"""``pydcos``: the command line.

Process commands (``master``, ``agent``, ``zk``) run in the foreground until SIGTERM or
SIGINT; ``cluster keys`` writes the transport's CURVE keys. ``cluster up|down|status|logs``
run a local cluster; ``node``, ``task``, ``marathon``, ``job`` and ``actor`` are the
dcos-shaped verbs (rich tables, ``--json`` for scripts); ``dashboard`` is the Textual
console. Every error is one readable line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from console._errors import ConsoleError

DEFAULT_HOME = Path(os.environ.get("PYDCOS_HOME", str(Path.home() / ".pydcos")))


class CliError(ConsoleError):
    """A user-facing failure: printed as one line, exit status 1."""


def _keys_dir(args: argparse.Namespace) -> Path:
    return Path(args.keys or os.environ.get("PYDCOS_KEYS") or DEFAULT_HOME / "keys")


def node_security(args: argparse.Namespace) -> Any:
    """CURVE from the key directory, unless --insecure-dev says plain."""
    from transport import Security, TransportError

    if args.insecure_dev:
        return Security.plain()
    keys = _keys_dir(args)
    secret = keys / "cluster.key_secret"
    if not secret.exists():
        raise CliError(
            f"no transport keys in {keys}: run 'pydcos cluster keys --dir {keys}' "
            "or pass --insecure-dev for local development"
        )
    try:
        return Security.curve(secret, keys / "authorized_keys")
    except TransportError as exc:
        raise CliError(f"transport keys in {keys}: {exc}") from None


def _banner(line: str) -> None:
    """A process' ready line, in ONE write: print() writes the text and the newline
    separately, and with unbuffered output a log line from another thread (the
    election, a node service) could land between them, gluing itself to the address."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _wait_for_signal() -> None:
    """Return once SIGTERM or SIGINT came. The handler only sets a flag: it runs in the
    main thread between two bytecodes, and an ``Event.set`` there could wait for the
    Event's own lock, held by the very ``wait`` it interrupted (a node services companion
    hung that way when its master's death and ``cluster down`` signalled it at once)."""
    done: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        done.append(signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not done:
        time.sleep(0.2)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--zk", required=True, help="ZooKeeper hosts[/chroot], e.g. 127.0.0.1:2181/pydcos"
    )
    p.add_argument("--bind", default="tcp://127.0.0.1:0", help="transport address to listen on")
    p.add_argument("--advertise", default=None, help="address peers should use, if not --bind")
    p.add_argument("--hostname", default="", help="host name to publish")
    p.add_argument("--keys", default=None, help="transport key directory (CURVE)")
    p.add_argument("--insecure-dev", action="store_true", help="plain transport (dev only)")
    p.add_argument("--session-timeout", type=float, default=2.0, help="ZooKeeper session (s)")
    p.add_argument(
        "--zk-credentials",
        default=None,
        metavar="FILE",
        help="ZooKeeper digest credentials (user:password, mode 0600) "
        "($PYDCOS_ZK_CREDENTIALS; none: open ACLs)",
    )


def master_config(args: argparse.Namespace) -> Any:
    """``MasterConfig`` from the master's timing flags (its defaults where one is absent)."""
    import dataclasses
    import math

    from actors.master import MasterConfig

    config = MasterConfig()
    changes: dict[str, Any] = {}
    if args.ping_interval is not None:
        if not (math.isfinite(args.ping_interval) and args.ping_interval > 0):
            raise CliError(f"--ping-interval: {args.ping_interval!r} must be a positive number")
        changes["ping_interval"] = args.ping_interval
    if args.max_missed_pings is not None:
        if args.max_missed_pings < 1:
            raise CliError(f"--max-missed-pings: {args.max_missed_pings!r} must be at least 1")
        changes["max_missed_pings"] = args.max_missed_pings
    if args.agent_reregister_timeout is not None:
        t = args.agent_reregister_timeout
        if not (math.isfinite(t) and t >= 0):
            raise CliError(f"--agent-reregister-timeout: {t!r} must be a number >= 0")
        changes["agent_reregister_timeout"] = t
    offer_timeout = getattr(args, "offer_timeout", None)
    if offer_timeout is not None:
        changes["offer_timeout"] = offer_timeout_seconds(offer_timeout)
    return dataclasses.replace(config, **changes)


DEFAULT_OFFER_TIMEOUT = 120.0
"""DC/OS runs its Mesos masters with ``MESOS_OFFER_TIMEOUT=2mins`` (dcos-config): an offer a
framework neither uses nor declines is rescinded, so one silent framework cannot hold the
cluster's resources away from the others for ever."""


def offer_timeout_seconds(value: float) -> float | None:
    """``--offer-timeout`` as ``MasterConfig.offer_timeout``: seconds, 0 = none (Mesos'
    own default, offers kept until used); a negative or non-finite value is an error."""
    if not (math.isfinite(value) and value >= 0):
        raise CliError(f"--offer-timeout: {value!r} must be a number of seconds >= 0 (0: none)")
    return value or None


def cmd_master(args: argparse.Namespace) -> int:
    from actors.master import (
        DEFAULT_NODE_SERVICES,
        DEFAULT_SERVICES,
        NODE_SERVICES,
        MasterError,
        MasterProcess,
        leader_services,
        node_services,
        shuffled_hosts,
    )

    config = master_config(args)
    if args.advertise:
        from console._hosts import unowned_advertise

        if why := unowned_advertise(args.advertise):
            raise CliError(f"master refuses to start: {why}")
    spec = ",".join(DEFAULT_SERVICES) if args.services is None else args.services
    node_spec = (
        ",".join(DEFAULT_NODE_SERVICES) if args.node_services is None else args.node_services
    )
    try:
        services = leader_services(spec, vars(args))
        on_every_master = node_services(node_spec, vars(args))
    except (MasterError, ValueError) as exc:
        raise CliError(f"--{exc}") from None
    apart_names = [n.strip() for n in args.node_services_apart.split(",") if n.strip()]
    for name in apart_names:
        if name not in NODE_SERVICES:
            known = ", ".join(sorted(NODE_SERVICES))
            raise CliError(f"--node-services-apart: {name!r} is not one of {known}")
    if args.companion_of is not None:
        return _run_companion(args, on_every_master, node_security(args))
    apart = [s for s in on_every_master if getattr(s, "name", "") in apart_names]
    security = node_security(args)
    tenure = args.min_leader_tenure
    if not (math.isfinite(tenure) and tenure >= 0):
        raise CliError(f"--min-leader-tenure: {tenure!r} must be a number of seconds >= 0")
    dns = _named(on_every_master, "dns")
    reserve = getattr(dns, "reserve", None)
    if reserve is not None:
        # Bound before ZooKeeper is reached and reported at once: `cluster up` starts the
        # agents (whose tasks get $PYDCOS_DNS) as soon as every master told its DNS port.
        try:
            _banner(f"dns {reserve()}")
        except Exception as exc:
            raise CliError(f"master failed to start: {exc}") from None
    # One order of the ZooKeeper servers for this master's sessions and its companion's.
    zk_hosts = shuffled_hosts(args.zk)
    here = tuple(s for s in on_every_master if s not in apart)
    if apart:
        here += (_companion_service(args, apart, dns, zk_hosts),)
    proc = MasterProcess(
        _master_options(
            args,
            security,
            zk=zk_hosts,
            min_leader_tenure=args.min_leader_tenure,
            config=config,
            services=services,
            node_services=here,
        )
    )

    def ready() -> str:
        line = f"master {proc.address} http {proc.gateway.url if proc.gateway else '-'}"
        server = getattr(dns, "server", None)
        if server is not None:
            line += f" dns {server.address}"
        elif dns is not None and dns in apart:
            line += f" dns {getattr(dns, 'host', '')}:{getattr(dns, 'port', '')}"
        return line

    return _serve(proc, "master", ready)


def _named(services: Any, name: str) -> Any:
    """The node service called ``name`` among ``services``, or None."""
    return next((s for s in services if getattr(s, "name", "") == name), None)


def _master_options(args: argparse.Namespace, security: Any, **over: Any) -> Any:
    """``MasterOptions`` from a master's flags (its ZooKeeper servers in the order given:
    the caller shuffled them, see ``cmd_master``), with ``over`` on top."""
    from actors.master import MasterOptions

    return MasterOptions(
        security=security,
        bind=args.bind,
        advertise=args.advertise,
        http_host=args.http_host,
        http_port=args.http_port,
        hostname=args.hostname,
        session_timeout=args.session_timeout,
        zk_credentials=args.zk_credentials,
        zk_order_fixed=True,
        **over,
    )


def _serve(
    proc: Any, what: str, ready: Callable[[], str], orphaned: Callable[[], bool] | None = None
) -> int:
    """Start ``proc`` (a failure is one line naming ``what``), print its ready line, run
    until SIGTERM/SIGINT, stop it. If ``orphaned()`` says so once the signal came, exit
    at once instead (``_exit_now``)."""
    try:
        proc.start()
    except Exception as exc:
        proc.stop()
        raise CliError(f"{what} failed to start: {exc}") from None
    _banner(ready())
    try:
        _wait_for_signal()
        if orphaned is not None and orphaned():
            _exit_now(what)  # never returns
    finally:
        proc.stop()
    return 0


def _exit_now(what: str) -> NoReturn:
    """Exit without stopping anything: a node services companion whose master is gone
    (SIGKILLed: ``PR_SET_PDEATHSIG`` signalled it) has nothing to hand over, and its
    orderly stop, tearing down a DNS table of 100,000 tasks, held a core for 2.6-3.7 s
    (a full garbage collection of 1.6 million objects) while a standby beside it was
    being elected (bench/scale.py at 10k agents). The kernel closes its sockets; its
    ZooKeeper session, holding nothing, expires."""
    log = logging.getLogger("console")
    log.warning("%s: the master is gone: exiting at once", what)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _companion_service(args: argparse.Namespace, apart: list[Any], dns: Any, zk_hosts: str) -> Any:
    """The node service standing, in this master, for ``apart`` run in a companion
    process (its command line: this one's, see ``actors.master.companion_argv``)."""
    from actors.master import Companion, CompanionService, companion_argv

    extra: list[str] = ["--zk", zk_hosts]
    fds: tuple[int, ...] = ()
    if dns is not None and dns in apart:
        got = dns.inherited_fds()
        if got is not None:
            fds = got
            extra += ["--dns-fds", f"{got[0]},{got[1]}"]
        extra += ["--dns-host", dns.host, "--dns-port", str(dns.port)]
    argv = companion_argv(args.argv, [s.name for s in apart], extra)
    return CompanionService(apart, Companion(argv, pass_fds=fds))


def _run_companion(args: argparse.Namespace, on_every_master: Any, security: Any) -> int:
    """``pydcos master ... --companion-of PID``: the node services a master runs apart
    (``--node-services-apart``), beside it, never standing for election."""
    from actors.master import MasterProcess, die_with_parent

    if not die_with_parent(args.companion_of):
        return 0  # the master is already gone
    if args.dns_fds:
        dns = _named(on_every_master, "dns")
        fds = args.dns_fds.split(",")
        if dns is None or len(fds) != 2 or not all(f.isdigit() for f in fds):
            raise CliError(f"--dns-fds: {args.dns_fds!r} is not UDP,TCP descriptors for dns")
        try:
            dns.adopt_fds(int(fds[0]), int(fds[1]))
        except Exception as exc:
            raise CliError(f"--dns-fds: {exc}") from None
    # --zk: its master's order of the servers (see _companion_service)
    proc = MasterProcess(
        _master_options(
            args, security, zk=args.zk, node_services=tuple(on_every_master), contend=False
        )
    )
    return _serve(
        proc,
        "node services companion",
        lambda: f"companion http {proc.gateway.url if proc.gateway else '-'}",
        orphaned=lambda: os.getppid() != args.companion_of,
    )


def cmd_agent(args: argparse.Namespace) -> int:
    from actors.agent import (
        DEFAULT_GC_DELAY,
        DEFAULT_GC_DISK_HEADROOM,
        AgentOptions,
        AgentProcess,
        check_checkpointed_resources,
        check_default_user,
        default_resources,
        default_task_user,
        parse_agent_attributes,
    )
    from actors.resources import ResourceError, Resources

    try:
        resources = (
            Resources.parse(args.resources) if args.resources else default_resources(args.work_dir)
        )
        attributes = parse_agent_attributes(args.attributes or "")
    except ResourceError as exc:
        raise CliError(str(exc)) from None
    names = tuple(n.strip() for n in args.containerizers.split(",") if n.strip())
    for n in names:
        if n not in ("mesos", "docker", "simulated"):
            raise CliError(f"--containerizers: {n!r} is not one of mesos, docker, simulated")
    if "simulated" in names and len(names) > 1:
        raise CliError("--containerizers: 'simulated' cannot be combined with others")
    cgroup_root = args.cgroup_root.strip("/")
    if not cgroup_root or ".." in cgroup_root.split("/") or not cgroup_root.isprintable():
        raise CliError(f"--cgroup-root: {args.cgroup_root!r} is not a cgroup name")
    args.cgroup_root = cgroup_root
    gc_delay = DEFAULT_GC_DELAY if args.gc_delay is None else args.gc_delay
    if not (0 < gc_delay < float("inf")):
        raise CliError(f"--gc-delay: {gc_delay!r} is not a positive number of seconds")
    headroom = DEFAULT_GC_DISK_HEADROOM if args.gc_disk_headroom is None else args.gc_disk_headroom
    if not (0 <= headroom <= 1):
        raise CliError(f"--gc-disk-headroom: {headroom!r} is not between 0 and 1")
    if not (0.1 <= args.disk_watch_interval <= 86400):
        raise CliError(
            f"--disk-watch-interval: {args.disk_watch_interval!r} "
            "is not between 0.1 and 86400 seconds"
        )
    if args.work_dir and (bad := check_checkpointed_resources(args.work_dir, resources)):
        raise CliError(f"agent refuses to start: {bad}")
    if not (0.1 <= args.metrics_interval <= 3600):
        raise CliError(
            f"--metrics-interval: {args.metrics_interval!r} is not between 0.1 and 3600 seconds"
        )
    try:
        user = check_default_user(args.default_user) if args.default_user else default_task_user()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.log_file:
        from actors.logs import set_component_log

        set_component_log("agent", args.log_file)
    security = node_security(args)
    proc = AgentProcess(
        AgentOptions(
            zk=args.zk,
            security=security,
            resources=resources,
            attributes=attributes,
            work_dir=args.work_dir,
            containerizers=names,
            docker_url=args.docker_url,
            cgroup_root=args.cgroup_root,
            bind=args.bind,
            advertise=args.advertise,
            hostname=args.hostname,
            session_timeout=args.session_timeout,
            zk_credentials=args.zk_credentials,
            gc_delay=gc_delay,
            gc_disk_headroom=headroom,
            default_user=user,
            metrics_interval=args.metrics_interval,
            enforce_disk_quota=args.enforce_disk_quota,
            disk_watch_interval=args.disk_watch_interval,
        )
    )
    return _serve(proc, "agent", lambda: f"agent {proc.node.address} resources {resources}")


def cmd_zk(args: argparse.Namespace) -> int:
    from zk import ZkError, ZooKeeperServer

    kwargs: dict[str, Any] = {}
    if args.port:
        kwargs["port"] = args.port
    if args.data_dir:
        Path(args.data_dir).mkdir(parents=True, exist_ok=True)
        kwargs["data_dir"] = args.data_dir
    if args.host:
        kwargs["host"] = args.host
    if args.peers:  # one member of an ensemble (cluster up --hosts / --zk-ensemble)
        from zk import parse_peers

        try:
            kwargs["peers"] = parse_peers(args.peers)
        except ValueError as exc:
            raise CliError(f"--peers: {exc}") from None
        me = [p for p in kwargs["peers"] if p.server_id == args.server_id]
        if not me:
            raise CliError(f"--server-id: {args.server_id!r} is not one of --peers' ids")
        kwargs["server_id"] = args.server_id
        kwargs.setdefault("port", me[0].client_port)
        kwargs.setdefault("host", me[0].host)
    server = ZooKeeperServer(**kwargs)
    try:
        server.start(serving=not args.peers)  # a member alone has no quorum yet
    except ZkError as exc:
        server.close()
        raise CliError(str(exc)) from None
    _banner(f"zookeeper {server.hosts} pid {server.pid}")
    try:
        _wait_for_signal()
    finally:
        server.close()  # a temporary data dir goes too; --data-dir is kept
    return 0


def cmd_cluster_keys(args: argparse.Namespace) -> int:
    from transport import generate_keys

    if not args.dir and not args.keys:
        # A local cluster made by `cluster up` keeps its keys in its state dir.
        from console import _state

        rec = _state.load(Path(args.state_dir) if args.state_dir else _state.default_state_dir())
        if rec is not None and rec.keys:
            print(f"keys of the local cluster in {rec.state_dir}: {rec.keys}")
            print(f"  clients: pydcos ... (found through the state dir) or --keys {rec.keys}")
            return 0
    directory = Path(args.dir) if args.dir else _keys_dir(args)
    if (directory / "cluster.key_secret").exists() and not args.force:
        from zk import CREDENTIALS_FILE, ensure_credentials

        ensure_credentials(directory / CREDENTIALS_FILE)  # key dirs made before it existed
        print(f"keys already exist in {directory} (use --force to replace them)")
        return 0
    from zk import CREDENTIALS_FILE, generate_credentials, write_credentials

    files = generate_keys(directory)
    creds = write_credentials(directory / CREDENTIALS_FILE, generate_credentials())
    print(f"cluster keypair: {files.server_secret}")
    print(f"client keypair:  {files.client_secret}")
    print(f"authorized keys: {files.authorized_keys_dir}")
    print(f"ZooKeeper ACL:   {creds} (mode 0600; --zk-credentials {creds})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pydcos", description="pydcos: a datacenter operating system on actors"
    )
    parser.add_argument("--log-level", default=os.environ.get("PYDCOS_LOG"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    m = sub.add_parser("master", help="run a master (joins the leader election)")
    _add_common(m)
    m.add_argument("--http-host", default="127.0.0.1")
    m.add_argument("--http-port", type=int, default=0, help="HTTP port (0: a free one)")
    m.add_argument(
        "--services",
        default=None,
        help="leader services to run, e.g. marathon (default: marathon,metronome, "
        "as DC/OS masters do)",
    )
    m.add_argument(
        "--node-services",
        default=None,
        help="services this master runs whether it leads or not (default: all of them)",
    )
    m.add_argument(
        "--node-services-apart",
        default="dns",
        metavar="NAMES",
        help="node services run in a process of their own beside this master (a child "
        "restarted if it dies, gone with the master), as DC/OS runs Mesos-DNS apart from "
        "the Mesos master: the leader's GIL is not theirs (default: dns; '': none)",
    )
    m.add_argument("--companion-of", type=int, default=None, help=argparse.SUPPRESS)
    m.add_argument("--dns-fds", default=None, help=argparse.SUPPRESS)
    m.add_argument(
        "--iam-key",
        default=None,
        metavar="FILE",
        help="the cluster's RSA private key (PEM): signs login tokens; auth is on with it",
    )
    m.add_argument(
        "--iam-bootstrap",
        default=None,
        metavar="FILE",
        help="first superuser ({uid, password_hash}, mode 0600), created if no user exists",
    )
    m.add_argument(
        "--no-auth",
        action="store_true",
        help="open gateway: no login, anyone who reaches it is superuser (dev clusters)",
    )
    m.add_argument(
        "--iam-token-ttl",
        type=float,
        default=None,
        metavar="SECONDS",
        help="lifetime of login tokens (432000: 5 days, as DC/OS)",
    )
    m.add_argument("--dns-port", type=int, default=0, help="DNS port, UDP and TCP (0: a free one)")
    m.add_argument("--dns-host", default=None, help="DNS address (default: --http-host)")
    m.add_argument(
        "--dns-upstream",
        default=None,
        metavar="IP[:PORT],...",
        help="resolvers for names outside mesos/thisdcos.directory (default: /etc/resolv.conf)",
    )
    m.add_argument("--dns-ttl", type=int, default=5, help="TTL of DNS answers, seconds (5)")
    m.add_argument(
        "--log-file",
        default=None,
        help="the file this master's output goes to: served as its component log",
    )
    m.add_argument(
        "--zk-log-file",
        default=None,
        help="the ZooKeeper server's log file: served as the zookeeper component log",
    )
    m.add_argument(
        "--ping-interval", type=float, default=None, help="seconds between agent pings (1)"
    )
    m.add_argument(
        "--max-missed-pings",
        type=int,
        default=None,
        help="unanswered pings after which an agent is unreachable (5)",
    )
    m.add_argument(
        "--agent-reregister-timeout",
        type=float,
        default=None,
        help="after a failover, seconds agents have to re-register (10)",
    )
    m.add_argument(
        "--offer-timeout",
        type=float,
        default=DEFAULT_OFFER_TIMEOUT,
        metavar="SECONDS",
        help="rescind offers a framework holds longer than this (120, as DC/OS; 0: never)",
    )
    m.add_argument(
        "--min-leader-tenure",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="a new leader refuses DELETE /v2/leader (429) for this long (30)",
    )
    m.add_argument(
        "--actors-warm-workers",
        type=int,
        default=1,
        metavar="N",
        help="idle cluster-actor workers kept per agent while actors are in use (1; 0: none)",
    )
    m.add_argument(
        "--actors-warm-size",
        default="1:128",
        metavar="CPUS:MEM",
        help="a warm worker's task resources; it hosts actors asking <= CPUS and exactly MEM",
    )
    m.set_defaults(fn=cmd_master)

    a = sub.add_parser("agent", help="run an agent (offers this machine's resources)")
    _add_common(a)
    a.add_argument("--resources", default="", help="e.g. 'cpus:4;mem:8192;ports:[31000-32000]'")
    a.add_argument("--attributes", default="", help="e.g. 'zone:a;rack:r1'")
    a.add_argument("--work-dir", default=None, help="sandboxes and checkpoints")
    a.add_argument(
        "--log-file",
        default=None,
        help="the file this agent's output goes to: served as its component log",
    )
    a.add_argument("--containerizers", default="mesos,docker", help="mesos,docker | simulated")
    a.add_argument("--docker-url", default=None, help="Docker engine, e.g. unix:///run/docker.sock")
    a.add_argument(
        "--cgroup-root",
        default="pydcos",
        help="parent cgroup of native tasks (/sys/fs/cgroup/<controller>/<root>/<task>)",
    )
    a.add_argument(
        "--gc-delay",
        type=float,
        default=None,
        help="seconds an unused sandbox is kept while the disk is empty (604800: a week)",
    )
    a.add_argument(
        "--gc-disk-headroom",
        type=float,
        default=None,
        help="disk fraction to keep free; sandboxes go sooner as the disk fills (0.1)",
    )
    a.add_argument(
        "--enforce-disk-quota",
        action="store_true",
        help="kill a task whose persistent volume outgrows its size (else only reported)",
    )
    a.add_argument(
        "--disk-watch-interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds between two disk usage checks of persistent volumes (15)",
    )
    a.add_argument(
        "--metrics-interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between two samples of node and container metrics (2)",
    )
    a.add_argument(
        "--default-user",
        default=None,
        metavar="USER",
        help="user of native tasks that name none (default: nobody when the agent runs "
        "as root, else the agent's own user; 'root' only if given here)",
    )
    a.set_defaults(fn=cmd_agent)

    z = sub.add_parser("zk", help="run a development ZooKeeper (the real server)")
    z.add_argument("--port", type=int, default=0)
    z.add_argument("--host", default=None, help="address to serve on (default 127.0.0.1)")
    z.add_argument("--server-id", type=int, default=None, help="this member's id (ensemble)")
    z.add_argument("--peers", default=None, help="ensemble: ID=HOST:CLIENT:QUORUM:ELECTION,...")
    z.add_argument("--data-dir", default=None, help="keep ZooKeeper's data here (else a temp dir)")
    z.set_defaults(fn=cmd_zk)

    c = sub.add_parser("cluster", help="local cluster tools")
    csub = c.add_subparsers(dest="cluster_command", metavar="SUBCOMMAND")
    csub.required = True
    k = csub.add_parser("keys", help="generate the transport's CURVE keys")
    k.add_argument("--dir", default=None)
    k.add_argument("--keys", default=None, help=argparse.SUPPRESS)
    k.add_argument("--force", action="store_true")
    k.add_argument("--state-dir", default=None, help=argparse.SUPPRESS)
    k.set_defaults(fn=cmd_cluster_keys)

    from console._commands import add_console_commands

    add_console_commands(sub, csub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.log_level is None:
        # Processes log their life; the console's verbs keep stderr for errors.
        quiet = getattr(args, "quiet_logs", False)
        args.log_level = "WARNING" if quiet else "INFO"
    level = getattr(logging, str(args.log_level).upper(), None)
    if not isinstance(level, int):
        print(f"pydcos: --log-level: {args.log_level!r} is not a log level", file=sys.stderr)
        return 2
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.fn(args))
    except CliError as exc:
        print(f"pydcos: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from console._commands import user_error

        message = user_error(exc)
        if message is None:
            raise
        print(f"pydcos: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
