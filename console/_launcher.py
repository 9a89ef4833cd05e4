"""``pydcos cluster up|down|status|logs``: a local cluster of detached processes.

```
 cluster up ──spawn (start_new_session)──> pydcos zk        (unless --zk)    logs/zk.log
            ──spawn, at the same time ───> pydcos master x N (ZooKeeper: retried)
            ──spawn, at the same time ───> pydcos agent  x M (own work dir, ports, zone)
            ──poll: banners, leader (ZooKeeper), active agents (/mesos/master/slaves)
            ──write cluster.json (PIDs + start times, addresses, logs)
 cluster down: agents ─> native tasks + containers ─> masters ─> ZooKeeper
               each tier: SIGTERM, wait, SIGKILL the process group; verified by PID
```

Everything is started in parallel: masters and agents retry ZooKeeper until it serves,
so the JVM's start-up overlaps the Python imports of the other processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console import _state as st
from console._errors import ConsoleError
from console._netns import (
    DNS_PORT,
    PARTITIONS,
    HostsError,
    HostSpec,
    NetPlan,
    cluster_tag,
    create_network,
    destroy_network,
    enter_netns,
    netns_unsupported,
    plan_network,
    plan_zk_members,
    remove_stale,
    root_routes,
)
from console._state import ClusterRecord, ProcRecord

REPO = Path(__file__).resolve().parents[1]

AGENT_CPUS = 2
AGENT_MEM = 2048
AGENT_DISK = 4096
PORTS_PER_AGENT = 100
FIRST_PORT = 31000
PORT_SPAN = (20000, 32767)
"""Where a cluster's agents' port ranges lie: above Marathon's service ports
(10000-20000), below Linux's ephemeral ports (32768-60999). Each cluster takes a block
picked by its state dir (``cluster_first_port``), so two local clusters seldom offer
the same ports; agents also never offer a port another process holds (actors/agent/_ports)."""
ZONES = ("zone-a", "zone-b", "zone-c")

STOP_GRACE = {"agent": 1.2, "master": 1.2, "zk": 1.0}
"""Seconds a tier gets after SIGTERM before SIGKILL (down must take <= 3 s)."""


class LauncherError(ConsoleError):
    """``cluster up``/``down`` failed; the message is one line for the user."""


@dataclass
class UpOptions:
    masters: int = 3
    agents: int = 3
    zk: str | None = None
    """An existing ensemble ``host:port,...``; None starts one."""
    state_dir: Path = field(default_factory=st.default_state_dir)
    docker: bool = True
    docker_url: str | None = None
    insecure_dev: bool = False
    session_timeout: float = 2.0
    timeout: float = 60.0
    default_user: str | None = None
    """``--default-user`` of every agent; None: the agent's default (``nobody`` when
    running as root, else the invoking user)."""
    zk_credentials: Path | None = None
    """ZooKeeper digest credentials to use (an external ensemble's; copied into the state
    dir); None: the state dir's own, created on the first ``up``
    (``<state-dir>/keys/zk.credentials``, mode 0600)."""
    dns_port: int = 0
    """Every master's DNS port; 0: a free one each. A fixed port (``53``) is bound on
    127.0.0.<i> by master i, since they share one machine (all of 127/8 is loopback)."""
    dns_upstream: str | None = None
    """The masters' DNS upstreams (``ip[:port],...``); None: their /etc/resolv.conf."""
    hosts: bool = False
    """Every master and agent on its own simulated host (a network namespace with its own
    address, ``console._hosts``); falls back to loopback, saying so, without root/netns."""
    auth: bool = True
    """Masters require login (issue 24): ``cluster up`` makes the cluster key and the first
    superuser and logs the CLI in; False (``--no-auth``): an open dev cluster."""
    zk_ensemble: int = 0
    """ZooKeeper servers to start: 0 = the default (3 with ``hosts``, else 1); N > 1 on
    loopback gives an ensemble on free loopback ports."""
    offer_timeout: float = 120.0
    """Every master's ``--offer-timeout``: seconds before an unused offer is rescinded
    (DC/OS' ``MESOS_OFFER_TIMEOUT=2mins``); 0: never, as plain Mesos."""


# ------------------------------------------------------------------------------ helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dns_bindings(masters: int, port: int) -> list[tuple[str, int]]:
    """Where each master's DNS listens: ``("127.0.0.1", 0)`` each for ``port`` 0 (the
    master binds a free port itself and prints it in its ready line: a port picked here
    and released could be taken before the master binds it), or ``port`` on 127.0.0.<i>
    (checked free; below 1024 only as root)."""
    if port == 0:
        return [("127.0.0.1", 0) for _ in range(masters)]
    if not 0 < port < 65536:
        raise LauncherError(f"--dns-port: {port} is not a port (1-65535, or 0: free ports)")
    if port < 1024 and os.geteuid() != 0:
        raise LauncherError(f"--dns-port {port}: ports below 1024 need root; use 0 (free ports)")
    out = []
    for i in range(1, masters + 1):
        host = f"127.0.0.{i}"
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as sock:
                try:
                    sock.bind((host, port))
                except OSError as exc:
                    raise LauncherError(
                        f"--dns-port {port}: {host}:{port} is taken: {exc}"
                    ) from None
        out.append((host, port))
    return out


def dns_address(p: ProcRecord) -> str:
    """A master's DNS address (``ip:port``): the one its ready line reported, else the
    one its flags name ('' when neither names a port)."""
    if p.dns:
        return p.dns
    flags = dict(zip(p.argv, p.argv[1:], strict=False))
    port = flags.get("--dns-port", "")
    if port.isdigit() and int(port) > 0:
        return f"{flags.get('--dns-host', '127.0.0.1')}:{port}"
    return ""


def dns_addresses(rec: ClusterRecord) -> list[str]:
    """Each master's DNS address (``ip:port``) as its ready line reported it (a free
    port it bound itself), or as its flags named it (a fixed ``--dns-port``)."""
    return [a for a in (dns_address(p) for p in rec.by_kind("master")) if a]


def credentials_path(state_dir: Path) -> Path:
    """Where ``cluster up`` keeps the cluster's ZooKeeper credentials: beside the CURVE
    keys, in the state dir (mode 0600)."""
    from zk import CREDENTIALS_FILE

    return Path(state_dir) / "keys" / CREDENTIALS_FILE


def record_credentials(rec: ClusterRecord) -> Any:
    """The recorded cluster's ``zk.ZkCredentials`` (None if its state dir has none)."""
    from zk import read_credentials

    path = credentials_path(Path(rec.state_dir))
    return read_credentials(path) if path.exists() else None


def cli_argv(*args: str) -> list[str]:
    """``python -m console.cli ...`` with this interpreter."""
    return [sys.executable, "-m", "console.cli", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + path if path else "")
    return env


def probe_docker(url: str | None) -> tuple[bool, str]:
    """Is a Docker engine reachable (``url`` or the default socket)? (ok, why not)."""
    try:
        import docker

        client = (
            docker.DockerClient(base_url=url, timeout=2)
            if url
            else docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=2)
        )
        try:
            client.ping()
        finally:
            client.close()
        return True, ""
    except Exception as exc:
        where = url or "unix:///var/run/docker.sock"
        return False, f"no Docker engine at {where} ({type(exc).__name__})"


AGENT_HOSTNAME = "127.0.0.1"
"""The hostname every local agent registers with: the address it listens on. It is
what Marathon gives as a task's ``host`` (and tasks get as ``$HOST``), so it must
resolve and reach the task, which a made-up name (``agent-1``) does not; local agents
share the machine, as agents started on one host do (Mesos' ``--hostname_lookup=false``
also names an agent by its IP). ``rack``/``zone`` attributes still tell them apart."""


def cluster_first_port(state_dir: Path, agents: int) -> int:
    """The first port of this cluster's agents: a block of ``agents * PORTS_PER_AGENT``
    ports in ``PORT_SPAN``, stable for a state dir and different for most others."""
    size = max(1, agents) * PORTS_PER_AGENT
    slots = (PORT_SPAN[1] + 1 - PORT_SPAN[0]) // size
    if slots < 1:
        return FIRST_PORT
    slot = zlib.crc32(str(Path(state_dir).expanduser().resolve()).encode()) % slots
    return PORT_SPAN[0] + slot * size


def agent_resources(index: int, first_port: int = FIRST_PORT) -> str:
    lo = first_port + (index - 1) * PORTS_PER_AGENT
    hi = lo + PORTS_PER_AGENT - 1
    return f"cpus:{AGENT_CPUS};mem:{AGENT_MEM};disk:{AGENT_DISK};ports:[{lo}-{hi}]"


def agent_attributes(index: int) -> str:
    return f"zone:{ZONES[(index - 1) % len(ZONES)]};rack:rack-{index}"


def read_banner(path: Path, offset: int, word: str) -> list[str] | None:
    """The words of the first line starting with ``word`` written after ``offset``."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == word and len(words) >= 2:
            return words
    return None


def log_tail(path: str | Path, lines: int = 5) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def http_json(url: str, timeout: float = 2.0, token: str | None = None) -> Any:
    headers = {"Authorization": f"token={token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as r:
        return json.loads(r.read())


LOGIN_PATIENCE = 15.0
"""Seconds ``cluster up`` keeps retrying a refused bootstrap login (the leader's IAM
service creates the superuser a moment after its election) before giving up on it."""


# ------------------------------------------------------------------------------ up


@dataclass
class _Started:
    rec: ProcRecord
    popen: subprocess.Popen[bytes]
    offset: int
    banner: str


Progress = Callable[[str, int, int], None]
"""progress(step, done, total): ``zk``, ``masters``, ``leader``, ``agents``."""


class Launcher:
    """Start, inspect and stop the local cluster recorded in ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir).expanduser()
        self.iam: Any = None
        """``console._iam_setup.IamSetup`` of the last ``up`` with auth on (None: off)."""
        self.token: str | None = None
        """The bootstrap superuser's token ``up`` logged the CLI in with."""
        self.login_error = ""
        """Why ``up`` could not log the CLI in ('' when it did, or auth is off)."""

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    def record(self) -> ClusterRecord | None:
        return st.load(self.state_dir)

    def running(self) -> ClusterRecord | None:
        """The record, if any of its processes is still alive."""
        rec = self.record()
        if rec is not None and any(st.alive(p) for p in rec.processes):
            return rec
        return None

    # -- up -------------------------------------------------------------------------

    def check_prerequisites(self, opts: UpOptions) -> None:
        if not (isinstance(opts.offer_timeout, (int, float)) and 0 <= opts.offer_timeout < 1e12):
            raise LauncherError(
                f"--offer-timeout: {opts.offer_timeout!r} must be a number of seconds >= 0"
                " (0: none)"
            )
        if opts.zk is None:
            from zk import ZkNotInstalled, find_classpath, find_java

            try:
                find_java()
                find_classpath()
            except ZkNotInstalled as exc:
                raise LauncherError(f"cannot start ZooKeeper: {exc}") from None
        if opts.dns_upstream:
            from actors.dns import DnsConfigError, parse_upstreams

            try:
                parse_upstreams(opts.dns_upstream)
            except DnsConfigError as exc:
                raise LauncherError(f"--{exc}") from None
        if opts.zk_ensemble and opts.zk is not None:
            raise LauncherError(
                f"--zk-ensemble {opts.zk_ensemble}: not with --zk (that ensemble is yours)"
            )
        if not 0 <= opts.zk_ensemble <= 9:
            raise LauncherError(f"--zk-ensemble {opts.zk_ensemble}: between 1 and 9 servers")
        if opts.masters < 1 or opts.agents < 0:
            raise LauncherError(
                f"--masters {opts.masters} --agents {opts.agents}: need at least one master"
            )

    def _spawn(
        self,
        name: str,
        kind: str,
        argv: list[str],
        banner: str,
        env: dict[str, str] | None = None,
        netns: str = "",
    ) -> _Started:
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name}.log"
        with open(log_path, "ab") as log:
            log.write(f"---- start {name} {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
            log.flush()
            offset = log.tell()
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(REPO),
                env={**child_env(), **(env or {})},
                start_new_session=True,
                close_fds=True,
                preexec_fn=enter_netns(netns) if netns else None,
            )
        rec = ProcRecord(
            name=name,
            kind=kind,
            pid=popen.pid,
            started=st.start_time(popen.pid),
            log=str(log_path),
            argv=argv,
            netns=netns,
        )
        return _Started(rec, popen, offset, banner)

    def up(self, opts: UpOptions, progress: Progress | None = None) -> ClusterRecord:
        """Start everything and wait until a leader is elected and every agent is active.

        On failure every started process is stopped again before the error is raised."""
        progress = progress or (lambda step, done, total: None)
        self.check_prerequisites(opts)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        keys = ""
        if not opts.insecure_dev:
            keys = str(self.ensure_keys())
        creds_file, creds = self.ensure_zk_credentials(opts)
        from console import _iam_setup

        self.iam = _iam_setup.prepare(self.state_dir) if opts.auth else None
        self.token, self.login_error = None, ""
        secure = ["--insecure-dev"] if opts.insecure_dev else ["--keys", keys]
        plan = self.plan_hosts(opts)
        containerizers, note = "mesos", "Docker disabled (--no-docker): agents run native tasks"
        if plan is not None:
            note = (
                "Docker disabled with --hosts: containers would run in this machine's "
                "network, not on their agent's host; agents run native (mesos) tasks"
            )
        elif opts.docker:
            ok, why = probe_docker(opts.docker_url)
            if ok:
                containerizers, note = "mesos,docker", ""
            else:
                note = f"{why}: agents run native (mesos) tasks only"
        record = ClusterRecord(
            state_dir=str(self.state_dir),
            zk_hosts=opts.zk or "",
            insecure_dev=opts.insecure_dev,
            keys=keys,
            containerizers=containerizers,
            docker_note=note,
            hosts_note=self.hosts_note,
        )
        started: list[_Started] = []
        try:
            if plan is not None:
                record.network = plan.to_dict()
                st.save(record)  # from now on `cluster down` removes the namespaces
                create_network(plan)
            started += self._spawn_zk(opts, record, plan)
            zk = record.zk
            common = ["--zk", zk, *secure, "--session-timeout", str(opts.session_timeout)]
            common += ["--zk-credentials", str(creds_file)]
            from actors.master import DEFAULT_SERVICES

            services = ["--services", ",".join(DEFAULT_SERVICES)]
            if plan is not None:
                dns = [(h.ip, DNS_PORT) for h in plan.masters]
            else:
                dns = dns_bindings(opts.masters, opts.dns_port)
            members = record.zk_members
            for i in range(1, opts.masters + 1):
                argv = cli_argv("master", *common, "--hostname", f"master-{i}", *services)
                argv += _iam_setup.master_flags(self.iam)
                dns_host, dns_port = dns[i - 1]
                argv += ["--dns-host", dns_host, "--dns-port", str(dns_port)]
                argv += ["--offer-timeout", repr(float(opts.offer_timeout))]
                if opts.dns_upstream:
                    argv += ["--dns-upstream", opts.dns_upstream]
                argv += ["--log-file", str(self.logs / f"master-{i}.log")]  # served (logs)
                host = plan.masters[i - 1] if plan is not None else None
                if host is not None:
                    argv += ["--bind", f"tcp://{host.ip}:0", "--advertise", f"tcp://{host.ip}"]
                    argv += ["--http-host", host.ip]
                if opts.zk is None:
                    # The master serves the log of the ZooKeeper member on its host.
                    zk_log = (
                        f"zk-{members[(i - 1) % len(members)]['server_id']}" if members else "zk"
                    )
                    argv += ["--zk-log-file", str(self.logs / f"{zk_log}.log")]
                s = self._spawn(
                    f"master-{i}", "master", argv, "master", netns=host.netns if host else ""
                )
                s.rec.host = host.name if host else ""
                started.append(s)

            def spawn_agents(dns_servers: list[str]) -> None:
                self._spawn_agents(opts, plan, common, containerizers, dns_servers, started)
                record.processes = [s.rec for s in started]
                st.save(record)

            pending: Callable[[list[str]], None] | None = None
            if all(port for _, port in dns):
                spawn_agents([f"{h}:{p}" for h, p in dns])
            else:
                # Tasks get the DNS servers' addresses in $PYDCOS_DNS: the agents start once
                # every master reported the free port it bound (``dns IP:PORT``, an early
                # line: the agents' start-up still overlaps ZooKeeper's).
                pending = spawn_agents
                record.processes = [s.rec for s in started]
                st.save(record)  # from now on `cluster down` can stop them
            self._wait_ready(record, started, opts, progress, creds, pending)
        except BaseException:
            self._stop_started(started)
            if plan is not None:
                destroy_network(plan)
            st.forget(self.state_dir)
            raise
        st.save(record)
        if self.token:
            from console._token_store import save_token

            save_token(record.zk, self.token)
        return record

    def _spawn_agents(
        self,
        opts: UpOptions,
        plan: NetPlan | None,
        common: list[str],
        containerizers: str,
        dns_servers: list[str],
        started: list[_Started],
    ) -> None:
        """Start the agents (appended to ``started``); their tasks find the cluster's DNS
        servers in $PYDCOS_DNS (the agent passes it on)."""
        agent_env = {"PYDCOS_DNS": ",".join(dns_servers)}
        # Image names resolve in the cluster's local registry (`pydcos image import`).
        agent_env["PYDCOS_IMAGE_REGISTRY"] = str(self.state_dir.resolve() / "images")
        first_port = cluster_first_port(self.state_dir, opts.agents)
        for j in range(1, opts.agents + 1):
            work = self.state_dir / "agents" / f"agent-{j}"
            ahost = plan.agents[j - 1] if plan is not None else None
            argv = cli_argv(
                "agent",
                *common,
                "--hostname",
                ahost.ip if ahost else AGENT_HOSTNAME,
                "--work-dir",
                str(work),
                "--log-file",
                str(self.logs / f"agent-{j}.log"),
                "--resources",
                agent_resources(j, first_port),
                "--attributes",
                agent_attributes(j),
                "--containerizers",
                containerizers,
                *(["--docker-url", opts.docker_url] if opts.docker_url else []),
                *(["--default-user", opts.default_user] if opts.default_user else []),
            )
            if ahost is not None:
                argv += ["--bind", f"tcp://{ahost.ip}:0", "--advertise", f"tcp://{ahost.ip}"]
            s = self._spawn(
                f"agent-{j}", "agent", argv, "agent", agent_env, ahost.netns if ahost else ""
            )
            s.rec.work_dir, s.rec.resources = str(work), agent_resources(j, first_port)
            s.rec.attributes = agent_attributes(j)
            s.rec.host = ahost.name if ahost else ""
            started.append(s)

    hosts_note = ""
    """Why ``--hosts`` fell back to loopback (set by ``plan_hosts``), '' otherwise."""

    def plan_hosts(self, opts: UpOptions) -> NetPlan | None:
        """The hosts to create for ``--hosts`` (None: loopback). Without root or network
        namespaces, ``hosts_note`` says so and the cluster runs on loopback."""
        self.hosts_note = ""
        if not opts.hosts:
            return None
        why = netns_unsupported()
        if why is not None:
            self.hosts_note = f"{why}: falling back to loopback (127.0.0.1) for every node"
            return None
        if opts.dns_port not in (0, DNS_PORT):
            raise LauncherError(
                f"--dns-port {opts.dns_port}: with --hosts every master serves DNS on its "
                f"own address, port {DNS_PORT}"
            )
        tag = cluster_tag(self.state_dir)
        try:
            remove_stale(tag)  # no process of this state dir runs (up checked)
            return plan_network(tag, opts.masters, opts.agents, root_routes())
        except HostsError as exc:
            raise LauncherError(str(exc)) from None

    def _spawn_zk(
        self, opts: UpOptions, record: ClusterRecord, plan: NetPlan | None
    ) -> list[_Started]:
        """Start the cluster's ZooKeeper: none with ``--zk``; one server on loopback by
        default; an ensemble (``zk-1``...) with ``--zk-ensemble N`` (loopback, free ports)
        or ``--hosts`` (one member per master host, 3 by default)."""
        if opts.zk is not None:
            return []
        size = opts.zk_ensemble or (3 if plan is not None else 1)
        data = self.state_dir / "zk"
        if size == 1 and plan is None:
            port = free_port()
            record.zk_hosts = f"127.0.0.1:{port}"
            data.mkdir(parents=True, exist_ok=True)
            argv = cli_argv("zk", "--port", str(port), "--data-dir", str(data))
            return [self._spawn("zk", "zk", argv, "zookeeper")]
        from zk import Peer, loopback_peers

        if plan is not None:
            members = plan_zk_members(plan.masters, size)
            peers = [
                Peer(m.server_id, m.client_port, m.quorum_port, m.election_port, m.ip)
                for m in members
            ]
            on: dict[int, HostSpec] = {}
            for m in members:
                spec = plan.host(m.host)
                if spec is not None:
                    on[m.server_id] = spec
        else:
            peers = loopback_peers(size)
            on = {}
        record.zk_members = [
            {
                "server_id": p.server_id,
                "host": on[p.server_id].name if p.server_id in on else "",
                "ip": p.host,
                "client_port": p.client_port,
                "quorum_port": p.quorum_port,
                "election_port": p.election_port,
            }
            for p in peers
        ]
        record.zk_hosts = ",".join(f"{p.host}:{p.client_port}" for p in peers)
        peer_arg = ",".join(p.to_arg() for p in peers)
        out = []
        for p in peers:
            d = data / f"zk-{p.server_id}"
            d.mkdir(parents=True, exist_ok=True)
            argv = cli_argv("zk", "--data-dir", str(d), "--server-id", str(p.server_id))
            argv += ["--peers", peer_arg]
            host = on.get(p.server_id)
            s = self._spawn(
                f"zk-{p.server_id}", "zk", argv, "zookeeper", netns=host.netns if host else ""
            )
            s.rec.host = host.name if host else ""
            out.append(s)
        return out

    def _wait_ready(
        self,
        record: ClusterRecord,
        started: list[_Started],
        opts: UpOptions,
        progress: Progress,
        creds: Any = None,
        spawn_agents: Callable[[list[str]], None] | None = None,
    ) -> None:
        """Wait for banners, ZooKeeper, the leader, the login and every agent. With
        ``spawn_agents``, the agents start once every master reported the DNS address it
        bound (its ``dns IP:PORT`` line, printed before it reaches ZooKeeper, or else
        its ready line), given those addresses."""
        deadline = time.monotonic() + opts.timeout
        masters = [s for s in started if s.rec.kind == "master"]
        agents = [s for s in started if s.rec.kind == "agent"]
        zk_procs = [s for s in started if s.rec.kind == "zk"]
        zk_up = not zk_procs
        # An ensemble's members drop connections while they elect their leader: expected.
        quiet = quiet_kazoo(len(zk_procs) > 1)
        quiet.__enter__()
        client: Any = None
        leader: Any = None
        active = 0
        waiting_for = "ZooKeeper"
        try:
            while True:
                for s in started:
                    if s.popen.poll() is not None:
                        tail = log_tail(s.rec.log, 3).replace("\n", " | ")
                        raise LauncherError(
                            f"{s.rec.name} exited with status {s.popen.returncode} "
                            f"(log {s.rec.log}): {tail}"
                        )
                    if not s.rec.address and not (s.rec.kind == "zk" and s.rec.child_pid):
                        words = read_banner(Path(s.rec.log), s.offset, s.banner)
                        if words is not None:
                            self._take_banner(s.rec, words)
                for s in masters:
                    if not s.rec.dns:  # "dns IP:PORT", printed once its sockets are bound
                        words = read_banner(Path(s.rec.log), s.offset, "dns")
                        s.rec.dns = words[1] if words is not None else ""
                if spawn_agents is not None and all(s.rec.dns or s.rec.address for s in masters):
                    spawn_agents([a for a in (dns_address(s.rec) for s in masters) if a])
                    spawn_agents = None
                    agents = [s for s in started if s.rec.kind == "agent"]
                if zk_procs and all(z.rec.child_pid for z in zk_procs):
                    zk_up = True
                progress("zk", int(zk_up), 1)
                progress("masters", sum(bool(s.rec.address) for s in masters), len(masters))
                progress("agents", active, len(agents))
                if zk_up and client is None:
                    from zk import connect as zk_connect

                    if zk_procs and creds is not None:
                        self._protect_root(record.zk_hosts, creds)
                    client = zk_connect(
                        record.zk_hosts,
                        chroot=record.chroot,
                        session_timeout=5.0,
                        credentials=creds,
                    )
                    if creds is not None:
                        from zk import secure_tree

                        # A state dir from before ACLs: its znodes are still open.
                        secure_tree(client)
                if client is not None and all(s.rec.address for s in masters):
                    from zk import read_leader

                    leader = read_leader(client)
                    waiting_for = "a leader"
                    progress("leader", int(leader is not None), 1)
                    if leader is not None and leader.http_url and not self._logged_in(leader):
                        waiting_for = "the bootstrap superuser's login"
                    elif leader is not None and leader.http_url and spawn_agents is None:
                        waiting_for = "agents to register"
                        if self.login_error:  # no token to read the agents with
                            if all(s.rec.address for s in agents):
                                return
                            active = 0
                        else:
                            try:
                                slaves = http_json(
                                    f"{leader.http_url}/mesos/master/slaves", token=self.token
                                )
                                active = sum(1 for a in slaves.get("slaves", []) if a.get("active"))
                            except Exception:
                                active = 0
                        progress("agents", active, len(agents))
                        if active >= len(agents) and all(s.rec.address for s in agents):
                            return
                elif not zk_up:
                    waiting_for = "ZooKeeper"
                else:
                    waiting_for = "masters to start"
                if time.monotonic() > deadline:
                    raise LauncherError(
                        f"the cluster was not ready within {opts.timeout:g} s (waiting for "
                        f"{waiting_for}); logs in {self.logs}"
                    )
                time.sleep(0.05)
        finally:
            quiet.__exit__(None, None, None)
            if client is not None:
                from zk import close_quietly

                with contextlib.suppress(Exception):
                    close_quietly(client)

    _refused_since: float | None = None

    def _logged_in(self, leader: Any) -> bool:
        """With auth on, log in as the bootstrap superuser at the leader (once); True
        when there is nothing more to try (logged in, auth off, or refused for
        ``LOGIN_PATIENCE`` s: ``login_error`` says why)."""
        if self.iam is None or self.token or self.login_error:
            return True
        from console._iam_setup import LoginRefused, login

        try:
            self.token = login(leader.http_url, self.iam.uid, self.iam.password)
        except LoginRefused as exc:
            now = time.monotonic()
            if self._refused_since is None:
                self._refused_since = now
            elif now - self._refused_since > LOGIN_PATIENCE:
                self.login_error = str(exc)
                return True
        return self.token is not None

    @staticmethod
    def _take_banner(rec: ProcRecord, words: list[str]) -> None:
        if rec.kind == "zk":
            # "zookeeper 127.0.0.1:PORT pid JAVA_PID"
            rec.address = words[1]
            if len(words) >= 4 and words[3].isdigit():
                rec.child_pid = int(words[3])
            else:
                rec.child_pid = -1
        elif rec.kind == "master":
            # "master tcp://... http http://... [dns IP:PORT]"
            if words[1].startswith("tcp://"):
                rec.address = words[1]
                rec.http_url = words[3] if len(words) >= 4 else ""
                if len(words) >= 6 and words[4] == "dns":
                    rec.dns = words[5]
        elif words[1].startswith("tcp://"):
            rec.address = words[1]

    def _stop_started(self, started: list[_Started]) -> None:
        recs = [s.rec for s in started]
        self.stop_processes(recs)
        for s in started:
            with contextlib.suppress(Exception):
                s.popen.wait(0.1)

    def _protect_root(self, hosts: str, creds: Any) -> None:
        """Our own server: only the cluster may create znodes at its top, ``/``."""
        from kazoo.exceptions import NoAuthError

        from zk import protect_root

        try:
            protect_root(hosts, creds)
        except NoAuthError:
            raise LauncherError(
                f"ZooKeeper's data in {self.state_dir / 'zk'} belongs to other credentials "
                f"than {credentials_path(self.state_dir)}: restore that file, or remove "
                "the data dir to start afresh"
            ) from None

    def ensure_zk_credentials(self, opts: UpOptions) -> tuple[Path, Any]:
        """The credentials file every process gets (``--zk-credentials``) and what it
        holds: the one given, else the state dir's, created with mode 0600."""
        from zk import BadCredentials, ensure_credentials, read_credentials, write_credentials

        path = credentials_path(self.state_dir)
        try:
            if opts.zk_credentials is None:
                return path, ensure_credentials(path)
            given = read_credentials(opts.zk_credentials)
            # A copy in the state dir: status, down and the CLI find it there.
            if not path.exists() or read_credentials(path) != given:
                write_credentials(path, given)
            return path, given
        except BadCredentials as exc:
            raise LauncherError(str(exc)) from None

    def ensure_keys(self) -> Path:
        from transport import generate_keys

        keys = self.state_dir / "keys"
        if not (keys / "cluster.key_secret").exists():
            generate_keys(keys)
        return keys

    # -- down -----------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop what the record names: agents, their tasks, masters, ZooKeeper.

        Returns the names of the processes that were running. Raises LauncherError if
        a recorded process survived SIGKILL (it never should)."""
        rec = self.record()
        if rec is None:
            return []
        was_up = [p.name for p in rec.processes if st.alive(p)]
        self.stop_processes(rec.processes)
        for agent in rec.by_kind("agent"):
            if agent.work_dir:
                kill_tasks(Path(agent.work_dir))
                from actors.agent import release_image_roots  # overlay mounts (issue 19)

                release_image_roots(Path(agent.work_dir))
        remove_empty_cgroup_root()
        left = [p.name for p in rec.processes if st.alive(p)]
        for zk in rec.by_kind("zk"):
            if zk.child_pid > 0 and st.process_alive(zk.child_pid):
                left.append(f"{zk.name} (java pid {zk.child_pid})")
        if rec.network:
            # The hosts: their namespaces (veths and bridge go with them) and the uplink.
            plan = NetPlan.from_dict(rec.network)
            left += destroy_network(plan)
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / PARTITIONS).unlink()
        if left:
            raise LauncherError(f"still running after SIGKILL: {', '.join(left)}")
        st.forget(self.state_dir)
        return was_up

    def stop_processes(self, procs: list[ProcRecord]) -> None:
        """Agents first, then masters, then ZooKeeper; SIGTERM, wait, SIGKILL."""
        for kind in ("agent", "master", "zk"):
            tier = [p for p in procs if p.kind == kind and st.alive(p)]
            stop_tier(tier, STOP_GRACE[kind])
            if kind == "zk":
                for p in procs:
                    if p.kind == "zk" and p.child_pid > 0 and st.process_alive(p.child_pid):
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(p.child_pid, signal.SIGKILL)

    # -- one ZooKeeper member ---------------------------------------------------------

    def _zk_member(self, rec: ClusterRecord, n: int) -> ProcRecord:
        p = rec.get(f"zk-{n}")
        if p is None:
            names = ", ".join(x.name for x in rec.by_kind("zk")) or "none"
            raise LauncherError(
                f"no ZooKeeper member {n} in this cluster (members: {names}; an ensemble "
                "comes with --hosts or --zk-ensemble N)"
            )
        return p

    def _record_or_fail(self) -> ClusterRecord:
        rec = self.record()
        if rec is None:
            raise LauncherError(
                f"no local cluster in {self.state_dir}; start one with 'pydcos cluster up'"
            )
        return rec

    def zk_stop(self, n: int) -> int:
        """SIGKILL ZooKeeper member ``n`` (its JVM, then its ``pydcos zk`` wrapper): a
        crash. Returns the JVM's PID. Raises LauncherError if it is not running."""
        rec = self._record_or_fail()
        p = self._zk_member(rec, n)
        if not st.alive(p):
            raise LauncherError(f"ZooKeeper member {n} is not running (pid {p.pid} is gone)")
        java = p.child_pid
        if java > 0 and st.process_alive(java):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(java, signal.SIGKILL)
        stop_tier([p], 0.0)
        deadline = time.monotonic() + 5.0
        while java > 0 and st.process_alive(java) and time.monotonic() < deadline:
            time.sleep(0.02)
        return java

    def zk_start(self, n: int, wait: bool = True, timeout: float = 30.0) -> int:
        """Start member ``n`` again: same argv, data dir, ports and host. Returns the new
        JVM's PID (0 if ``wait`` is False). Raises LauncherError if it is running."""
        rec = self._record_or_fail()
        p = self._zk_member(rec, n)
        if st.alive(p):
            raise LauncherError(f"ZooKeeper member {n} is already running (pid {p.pid})")
        s = self._spawn(p.name, "zk", p.argv, "zookeeper", netns=p.netns)
        s.rec.host = p.host
        deadline = time.monotonic() + timeout
        while wait and not s.rec.child_pid:
            if s.popen.poll() is not None:
                raise LauncherError(
                    f"{p.name} exited with status {s.popen.returncode} (log {p.log}): "
                    + log_tail(p.log, 3).replace("\n", " | ")
                )
            words = read_banner(Path(s.rec.log), s.offset, "zookeeper")
            if words is not None:
                self._take_banner(s.rec, words)
            elif time.monotonic() > deadline:
                raise LauncherError(f"{p.name} did not start within {timeout:g} s (log {p.log})")
            else:
                time.sleep(0.05)
        # Re-read: another command may have changed the record meanwhile.
        fresh = self._record_or_fail()
        fresh.processes = [s.rec if x.name == p.name else x for x in fresh.processes]
        st.save(fresh)
        return s.rec.child_pid if wait else 0

    # -- status ---------------------------------------------------------------------

    def status(self, rec: ClusterRecord, zk_timeout: float = 3.0) -> dict[str, Any]:
        """Who is up (by PID) and who leads (from ZooKeeper)."""
        leader: Any = None
        contenders: list[Any] = []
        zk_error = ""
        # An ensemble with a member down or cut off: kazoo may try that one first.
        zk_timeout = max(zk_timeout, 2.5 * len(rec.zk_members))
        try:
            from zk import close_quietly, read_contenders
            from zk import connect as zk_connect

            with quiet_kazoo(len(rec.zk_members) > 1):
                client = zk_connect(
                    rec.zk_hosts,
                    chroot=rec.chroot,
                    session_timeout=5.0,
                    connect_timeout=zk_timeout,
                    credentials=record_credentials(rec),
                )
            try:
                contenders = read_contenders(client)
                leader = contenders[0] if contenders else None
            finally:
                close_quietly(client)
        except Exception as exc:
            zk_error = f"ZooKeeper at {rec.zk_hosts} unreachable: {type(exc).__name__}"
        joined = {c.address for c in contenders}
        rows = []
        for p in rec.processes:
            up = st.alive(p)
            role = ""
            if p.kind == "master":
                if leader is not None and p.address == leader.address:
                    role = "leader"
                elif p.address in joined:
                    role = "standby"
                elif up:
                    role = "not in election"
            rows.append(
                {
                    "name": p.name,
                    "kind": p.kind,
                    "pid": p.pid,
                    "up": up,
                    "role": role,
                    "address": p.address,
                    "http_url": p.http_url,
                    "work_dir": p.work_dir,
                    "log": p.log,
                }
            )
        return {
            "state_dir": rec.state_dir,
            "zk": rec.zk,
            "zk_members": zk_member_health(rec),
            "hosts": rec.hosts,
            "leader": (
                {
                    "address": leader.address,
                    "http_url": leader.http_url,
                    "hostname": leader.hostname,
                }
                if leader is not None
                else None
            ),
            "zk_error": zk_error,
            "insecure_dev": rec.insecure_dev,
            "keys": rec.keys,
            "containerizers": rec.containerizers,
            "processes": rows,
        }


@contextlib.contextmanager
def quiet_kazoo(on: bool = True) -> Iterator[None]:
    """kazoo's "Connection dropped" warnings off (an ensemble electing, a member down:
    expected, and the CLI's table says it better)."""
    import logging

    logger = logging.getLogger("kazoo.client")
    level = logger.level
    if on:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def zk_member_health(rec: ClusterRecord, timeout: float = 0.5) -> list[dict[str, Any]]:
    """Each ZooKeeper server of the cluster: its ``srvr`` mode (``leader``,
    ``follower``, ``standalone``; ``down`` when it does not answer; ``not serving`` when
    it runs without a quorum) and the znode count and latency from ``mntr``."""
    from zk import four_letter_word

    members = rec.zk_members or [
        {"server_id": 0, "host": "", "ip": h.rsplit(":", 1)[0], "client_port": h.rsplit(":", 1)[1]}
        for h in rec.zk_hosts.split(",")
        if ":" in h
    ]
    out = []
    for m in members:
        row: dict[str, Any] = {
            "id": m["server_id"],
            "host": m.get("host", ""),
            "address": f"{m['ip']}:{m['client_port']}",
            "mode": "down",
        }
        try:
            srvr = four_letter_word(m["ip"], int(m["client_port"]), "srvr", timeout)
            row["mode"] = "not serving"
            for line in srvr.splitlines():
                if line.startswith("Mode:"):
                    row["mode"] = line.split(":", 1)[1].strip()
            mntr = four_letter_word(m["ip"], int(m["client_port"]), "mntr", timeout)
            for line in mntr.splitlines():
                key, _, value = line.partition("\t")
                if key in ("zk_znode_count", "zk_avg_latency", "zk_num_alive_connections"):
                    row[key.removeprefix("zk_")] = value.strip()
        except OSError:
            pass
        out.append(row)
    return out


def stop_tier(tier: list[ProcRecord], grace: float) -> None:
    for p in tier:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(st.alive(p) for p in tier):
        time.sleep(0.02)
    for p in tier:
        if st.alive(p):
            # The process group: the component and any helper it started in it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p.pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(st.alive(p) for p in tier):
        time.sleep(0.02)


def kill_tasks(work_dir: Path) -> list[str]:
    """Kill what an agent left running (Mesos agents leave tasks running when they stop):
    native tasks by checkpointed PID (and their cgroups), Docker containers by id."""
    from actors.agent import read_checkpoints

    killed: list[str] = []
    docker_ids: list[str] = []
    for cp in read_checkpoints(work_dir):
        if cp.get("kind") == "docker" and cp.get("container_id"):
            docker_ids.append(str(cp["container_id"]))
            continue
        if cp.get("kind") != "mesos":
            continue
        pid = cp.get("pid")
        if isinstance(pid, int) and st.process_alive(pid, _float(cp.get("start_time"))):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            killed.append(str(cp.get("task_id", pid)))
        if cp.get("cgroup") and cp.get("cgroup_version"):
            with contextlib.suppress(Exception):
                from actors.agent import Cgroup

                Cgroup(int(cp["cgroup_version"]), str(cp["cgroup"])).destroy(timeout=1.0)
    if docker_ids:
        with contextlib.suppress(Exception):
            import docker

            client = docker.from_env(timeout=5)
            for cid in docker_ids:
                with contextlib.suppress(Exception):
                    client.containers.get(cid).remove(force=True)
                    killed.append(cid[:12])
    return killed


def remove_empty_cgroup_root(root: str = "pydcos") -> None:
    """Remove the agents' parent cgroup if nothing is left in it (rmdir refuses a
    non-empty cgroup, so another cluster's running tasks are never touched)."""
    with contextlib.suppress(Exception):
        from actors.agent import CGROUP_ROOT

        for d in [*CGROUP_ROOT.glob(f"*/{root}"), CGROUP_ROOT / root]:
            with contextlib.suppress(OSError):
                d.rmdir()


def _float(v: Any) -> float | None:
    try:
        return float(v) if v is not None else None
    except (TypeError, ValueError):
        return None
