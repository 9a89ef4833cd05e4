"""Embedded ZooKeeper: the real server from the Debian ``zookeeper`` package, on loopback.

One launcher serves tests, ``pydcos cluster up`` and users. It runs the system ``java``
on the jars Debian installs (``/usr/share/java/zookeeper.jar``, whose manifest lists its
dependencies) or on ``$ZOOKEEPER_HOME`` (an Apache tarball), with a temporary data dir,
a short tickTime (fast session expiry) and 4lw commands enabled. It waits until the server
answers, and stops it by PID: SIGTERM, then SIGKILL. Every server started here is also
stopped at interpreter exit, and (when started from the main thread) killed by the kernel
if this process dies first (``PR_SET_PDEATHSIG``), so no JVM outlives its owner.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from zk._errors import INSTALL_HINT, ZkNotInstalled, ZkServerError

log = logging.getLogger(__name__)

DEBIAN_JAR_DIR = Path("/usr/share/java")
JUTE_MAXBUFFER = 1_048_575
"""Largest request the server accepts, in bytes: ZooKeeper's own default, set explicitly
(it also bounds what a client without credentials can make the server buffer). kazoo
enforces no such limit, so the state store refuses larger writes itself and keeps each
one to ``zk._store.DEFAULT_NODE_LIMIT`` (128 KiB)."""
COMMIT_LOG_COUNT = 500
"""ZooKeeper keeps the last 500 committed transactions in memory, each about three times
over, and refills them when it replays its log at start-up; 500 is also the smallest
value it accepts. What bounds that memory is the size of each write, which the state
store keeps at 128 KiB (``zk._store.DEFAULT_NODE_LIMIT``): ~190 MiB at most. With the
~1 MB chunks used before, a 7 MB app updated a few times ran the 256 MB heap out of
memory, and again while replaying its log after the restart (issue 30)."""
HEAP_MB = 512
"""``-Xmx``: the committed transactions above, the data tree (every stored document,
each at most ``zk._documents.DEFAULT_MAX_BYTES``, 8 MiB) and a request's copies in flight.
Measured: 60 rewrites of a 7 MB document and a restart pass with 320 MB; the cap is a
ceiling, not a reservation (an idle server stays under 100 MB)."""
SNAP_COUNT = 10_000
"""Transactions between snapshots (ZooKeeper's default: 100,000)."""
SNAP_SIZE_LIMIT_KB = 64 * 1024
"""...or this many KiB of transaction log, whichever comes first (default: 4 GiB).
Both bound what a restart replays, and so how long it takes and what it holds in memory."""
SNAP_RETAIN_COUNT = 3
"""Snapshots (and their logs) kept by the hourly purge; 3 is ZooKeeper's minimum."""
PURGE_INTERVAL_HOURS = 1
#: Measured on 2 cores: these flags take the JVM from ~1.0 s to ~0.6 s until ``imok``.
DEFAULT_JVM_OPTS: tuple[str, ...] = (
    f"-Xmx{HEAP_MB}m",
    "-Xms16m",
    "-Xss512k",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-Xshare:auto",
    "-Djava.awt.headless=true",
)
#: 200 ms ticks: sessions may be as short as 400 ms, expiry is checked every tick.
DEFAULT_TICK_MS = 200
SYNC_LIMIT_MS = 1_000
"""How long a follower waits for anything from its leader (the leader pings every half
tick) before it gives it up and starts an election; also how long a leader keeps leading
without acks from a quorum. ZooKeeper counts it in ticks (``syncLimit``): 5 at 200 ms.
It is most of the time a cut-off ZooKeeper leader costs: 2 s before, measured as 4-36 s
of master failover when the leader's host (its ZooKeeper leader on it) was partitioned.
Kept at 5 ticks at least: under a load of 20-30 on 2 cores, pings still arrive well
inside a second (the JVM runs the serial GC on a small heap: pauses of milliseconds)."""
ELECTION_CNX_TIMEOUT_MS = 500
"""``cnxTimeout``: how long an election connect to a peer may block. ZooKeeper connects
synchronously from the thread that sends every notification, so a cut-off peer (its
packets dropped) holds up the notifications queued behind it for this long, each
round. Members share a bridge or loopback: a live peer answers in milliseconds."""
NOTIFICATION_MIN_MS = 100
NOTIFICATION_MAX_MS = 1_600
"""Fast leader election resends its vote when it has heard nothing for an interval that
starts at the minimum (default 200 ms) and doubles up to the maximum (default 60 s).
A member cut off for a while backs off to 60 s and so rejoined the quorum up to a
minute after the partition healed (seen: 14 s and more), which left the ensemble one
fault away from losing its quorum. Capped at 1.6 s: after a partition of its host a
member was back in the quorum 0.3-1.4 s after the heal (once, after a cut of its ports
alone, 11 s: not diagnosed)."""
MAX_SESSION_MS = 60_000
FORCE_SNAPSHOT_SYNC = True
"""Ensemble members sync with a new leader by snapshot (``zookeeper.forceSnapshotSync``),
never by a diff of transactions. Two bugs of the Debian ZooKeeper (3.8.0) live in the
diff path, both seen on ``cluster up --hosts`` when the leader's host was partitioned:
the follower logs the diff's proposals at NEWLEADER and their ACKs can overtake its
NEWLEADER ACK, so the leader gives up after ``initLimit`` (10 s) and the ensemble
re-elects, again and again (ZOOKEEPER-4685: 25 s without a quorum); and committed
transactions of a diff may be applied in memory and not yet logged when the member's
epoch is bumped, so a crash there lets a short log win the next election and truncate
the others (ZOOKEEPER-4643/4646). A snapshot sync writes the snapshot before the epoch
and leaves no proposal to log. Its cost is a full snapshot per sync: the dev state is
a few MB, sent over a bridge or loopback."""
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the server retries if another process wins it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def four_letter_word(host: str, port: int, command: str, timeout: float = 1.0) -> str:
    """Send a 4lw command (``ruok``, ``srvr``, ``mntr``, ...) and return the reply text."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(command.encode("ascii"))
        chunks: list[bytes] = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def find_java(java: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The ``java`` to run: the argument, else ``java`` on ``PATH``. Raises ZkNotInstalled."""
    env = os.environ if env is None else env
    if java is not None:
        if os.access(java, os.X_OK):
            return java
        raise ZkNotInstalled(f"java executable {java!r} does not exist; {INSTALL_HINT}")
    found = shutil.which("java", path=env.get("PATH", ""))
    if found is None:
        raise ZkNotInstalled(
            f"java not found on PATH ({env.get('PATH', '')!r}); ZooKeeper needs a Java "
            f"runtime; {INSTALL_HINT}"
        )
    return found


def find_classpath(
    zookeeper_home: str | None = None, env: Mapping[str, str] | None = None
) -> list[str]:
    """Jars for the server: ``$ZOOKEEPER_HOME`` (tarball layout) or Debian's. Raises if absent."""
    env = os.environ if env is None else env
    home = zookeeper_home or env.get("ZOOKEEPER_HOME")
    if home:
        root = Path(home)
        jars = sorted(str(p) for p in [*root.glob("*.jar"), *root.glob("lib/*.jar")])
        if not any("zookeeper" in Path(j).name for j in jars):
            raise ZkNotInstalled(
                f"no zookeeper jar under ZOOKEEPER_HOME={home!r} (looked in {home}/ and "
                f"{home}/lib/); unset it to use Debian's jars, or {INSTALL_HINT}"
            )
        return jars
    needed = [DEBIAN_JAR_DIR / "zookeeper.jar", DEBIAN_JAR_DIR / "zookeeper-jute.jar"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise ZkNotInstalled(
            f"ZooKeeper jars not found: {', '.join(missing)}; set ZOOKEEPER_HOME to an "
            f"Apache ZooKeeper install, or {INSTALL_HINT}"
        )
    jars = [str(p) for p in needed]
    # The manifest of zookeeper.jar names its dependencies; slf4j needs one backend.
    for backend in ("slf4j-simple.jar", "slf4j-nop.jar"):
        if (DEBIAN_JAR_DIR / backend).exists():
            jars.append(str(DEBIAN_JAR_DIR / backend))
            break
    return jars


@dataclass(frozen=True)
class Peer:
    """One member of an ensemble: its id, its three ports and its address (loopback for
    tests and ``--zk-ensemble``; the host's IP with ``cluster up --hosts``)."""

    server_id: int
    client_port: int
    quorum_port: int
    election_port: int
    host: str = "127.0.0.1"

    def to_arg(self) -> str:
        """``ID=HOST:CLIENT:QUORUM:ELECTION`` (what ``pydcos zk --peers`` takes)."""
        return (
            f"{self.server_id}={self.host}:{self.client_port}:"
            f"{self.quorum_port}:{self.election_port}"
        )


def parse_peers(text: str) -> list[Peer]:
    """``1=HOST:C:Q:E,2=...`` -> peers. Raises ValueError naming the bad item."""
    peers: list[Peer] = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        sid, eq, rest = item.partition("=")
        parts = rest.split(":")
        try:
            if not eq or len(parts) != 4 or not parts[0]:
                raise ValueError
            peer = Peer(int(sid), int(parts[1]), int(parts[2]), int(parts[3]), parts[0])
        except ValueError:
            raise ValueError(f"{item!r} is not ID=HOST:CLIENT:QUORUM:ELECTION") from None
        if peer.server_id < 1 or not all(
            0 < p < 65536 for p in (peer.client_port, peer.quorum_port, peer.election_port)
        ):
            raise ValueError(f"{item!r}: the id must be >= 1 and ports 1-65535")
        peers.append(peer)
    if len({p.server_id for p in peers}) != len(peers):
        raise ValueError(f"{text!r}: a server id appears twice")
    return peers


def loopback_peers(size: int, host: str = "127.0.0.1") -> list[Peer]:
    """``size`` members on ``host`` with free ports (bound, read back, released)."""
    return [
        Peer(i, free_port(host), free_port(host), free_port(host), host) for i in range(1, size + 1)
    ]


_live: set[ZooKeeperServer] = set()
_live_lock = threading.Lock()


def _stop_all_at_exit() -> None:
    with _live_lock:
        servers = list(_live)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop(timeout=5.0)


atexit.register(_stop_all_at_exit)


def _pdeathsig() -> None:
    """In the child before exec: die with SIGKILL when the parent thread dies (Linux)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ZooKeeperServer:
    """One real ZooKeeper server process on loopback.

    Standalone by default; with ``peers`` and ``server_id`` it is one member of an
    ensemble (see ``ZooKeeperEnsemble``). The data dir survives ``stop``/``kill``/
    ``start`` (so a restart keeps state) and is removed by ``close`` if it was created
    here. Usable as a context manager::

        with ZooKeeperServer() as zk:
            client = connect(zk.hosts)
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        data_dir: str | os.PathLike[str] | None = None,
        tick_ms: int = DEFAULT_TICK_MS,
        java: str | None = None,
        zookeeper_home: str | None = None,
        jvm_opts: Sequence[str] = DEFAULT_JVM_OPTS,
        startup_timeout: float = 30.0,
        fsync: bool = False,
        server_id: int | None = None,
        peers: Sequence[Peer] = (),
        extra_config: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port(host)
        self._own_data_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.tick_ms = tick_ms
        self._java_arg = java
        self._home = zookeeper_home
        self.jvm_opts = tuple(jvm_opts)
        self.startup_timeout = startup_timeout
        self.fsync = fsync
        self.server_id = server_id
        self.peers = tuple(peers)
        self.extra_config = dict(extra_config or {})
        self._env = dict(os.environ if env is None else env)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Path | None = None

    # -- public surface ----------------------------------------------------------------

    @property
    def hosts(self) -> str:
        """Connection string for kazoo: ``127.0.0.1:PORT``."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        return self._log_file

    def command(self) -> list[str]:
        """The exact argv that starts the server (raises ZkNotInstalled if java/jars lack)."""
        java = find_java(self._java_arg, self._env)
        cp = os.pathsep.join(find_classpath(self._home, self._env))
        assert self.data_dir is not None
        return [
            java,
            *self.jvm_opts,
            "-Dzookeeper.jmx.log4j.disable=true",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            f"-Dzookeeper.forceSync={'yes' if self.fsync else 'no'}",
            "-Dzookeeper.preAllocSize=1024",
            f"-Djute.maxbuffer={JUTE_MAXBUFFER}",
            f"-Dzookeeper.commitLogCount={COMMIT_LOG_COUNT}",
            # Die on OutOfMemoryError rather than limp on with a broken request pipeline:
            # the owner (cluster up, a fixture) sees the exit and the log says why.
            "-XX:+ExitOnOutOfMemoryError",
            "-Dzookeeper.admin.enableServer=false",
            *(
                (
                    f"-Dzookeeper.fastleader.minNotificationInterval={NOTIFICATION_MIN_MS}",
                    f"-Dzookeeper.fastleader.maxNotificationInterval={NOTIFICATION_MAX_MS}",
                    f"-Dzookeeper.forceSnapshotSync={str(FORCE_SNAPSHOT_SYNC).lower()}",
                )
                if self.peers
                else ()
            ),
            "-cp",
            cp,
            MAIN_CLASS,
            str(self.data_dir / "zoo.cfg"),
        ]

    def start(self, *, serving: bool = True) -> ZooKeeperServer:
        """Start the process and wait until it serves (``serving=False``: until it
        answers ``ruok``, as an ensemble member restarted without a quorum does).
        Idempotent while running."""
        if self.running:
            return self
        # Fail fast with the install hint before creating anything.
        find_java(self._java_arg, self._env)
        find_classpath(self._home, self._env)
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="pydcos-zk-"))
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            try:
                self._spawn()
                if serving:
                    self.wait_serving(self.startup_timeout)
                else:
                    self.wait_running(self.startup_timeout)
                return self
            except ZkServerError:
                died = self._proc is not None and self._proc.poll() is not None
                self.kill()
                if died and attempt + 1 < attempts:  # most likely lost the port race
                    self.port = free_port(self.host)
                    continue
                raise
        raise AssertionError("unreachable")

    def wait_serving(self, timeout: float) -> None:
        """Poll ``ruok`` then ``srvr`` until the server reports a serving mode."""
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                raise ZkServerError(
                    f"ZooKeeper on {self.hosts} exited with code "
                    f"{None if self._proc is None else self._proc.returncode}; "
                    f"log {self._log_file}:\n{self.log_tail()}"
                )
            if self.ruok() and self.serving():
                return
            if time.monotonic() > deadline:
                raise ZkServerError(
                    f"ZooKeeper on {self.hosts} (pid {self.pid}) did not answer within "
                    f"{timeout:.0f} s; log {self._log_file}:\n{self.log_tail()}"
                )
            time.sleep(0.03)

    def wait_running(self, timeout: float) -> None:
        """Poll ``ruok`` until the process answers (it may still lack a quorum)."""
        deadline = time.monotonic() + timeout
        while not self.ruok():
            if self._proc is None or self._proc.poll() is not None:
                raise ZkServerError(
                    f"ZooKeeper on {self.hosts} exited; log {self._log_file}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ZkServerError(
                    f"ZooKeeper on {self.hosts} (pid {self.pid}) did not answer within "
                    f"{timeout:.0f} s; log {self._log_file}:\n{self.log_tail()}"
                )
            time.sleep(0.03)

    def ruok(self) -> bool:
        """True if the server process answers ``imok`` (it may still lack a quorum)."""
        try:
            return four_letter_word(self.host, self.port, "ruok", 0.5) == "imok"
        except OSError:
            return False

    def mode(self) -> str | None:
        """``standalone``, ``leader`` or ``follower`` while serving, else None."""
        try:
            reply = four_letter_word(self.host, self.port, "srvr", 0.5)
        except OSError:
            return None
        for line in reply.splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None

    def serving(self) -> bool:
        """True once the server answers requests (``ruok`` says imok earlier than that)."""
        return self.mode() in ("standalone", "leader", "follower")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server's PID, SIGKILL it after ``timeout``; keeps the data dir."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5.0)
        self._forget()

    def kill(self) -> None:
        """SIGKILL the server's PID (a crash, for fault tests); keeps the data dir."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5.0)
        self._forget()

    def restart(self) -> ZooKeeperServer:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and remove the data dir if this launcher created it."""
        self.stop()
        if self._own_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def log_tail(self, lines: int = 30) -> str:
        if self._log_file is None or not self._log_file.exists():
            return "(no log)"
        text = self._log_file.read_text("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:])

    def __enter__(self) -> ZooKeeperServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"ZooKeeperServer({self.hosts}, {state})"

    # -- internals ---------------------------------------------------------------------

    def config_text(self) -> str:
        assert self.data_dir is not None
        cfg = {
            "tickTime": str(self.tick_ms),
            "dataDir": str(self.data_dir / "data"),
            "clientPort": str(self.port),
            "clientPortAddress": self.host,
            "maxClientCnxns": "0",
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
            "minSessionTimeout": str(2 * self.tick_ms),
            "maxSessionTimeout": str(MAX_SESSION_MS),
            "initLimit": str(max(10, 10_000 // self.tick_ms)),
            "syncLimit": str(max(5, SYNC_LIMIT_MS // self.tick_ms)),
            "snapCount": str(SNAP_COUNT),
            "snapSizeLimitInKb": str(SNAP_SIZE_LIMIT_KB),
            "autopurge.snapRetainCount": str(SNAP_RETAIN_COUNT),
            "autopurge.purgeInterval": str(PURGE_INTERVAL_HOURS),
        }
        if self.peers:
            cfg["electionPortBindRetry"] = "5"
            cfg["cnxTimeout"] = str(ELECTION_CNX_TIMEOUT_MS)
            for p in self.peers:
                cfg[f"server.{p.server_id}"] = f"{p.host}:{p.quorum_port}:{p.election_port}"
        cfg.update(self.extra_config)
        return "".join(f"{k}={v}\n" for k, v in cfg.items())

    def _spawn(self) -> None:
        assert self.data_dir is not None
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        if self.server_id is not None:
            (self.data_dir / "data" / "myid").write_text(f"{self.server_id}\n")
        (self.data_dir / "zoo.cfg").write_text(self.config_text())
        self._log_file = self.data_dir / "zookeeper.log"
        cmd = self.command()
        log.debug("starting ZooKeeper: %s", " ".join(cmd))
        main_thread = threading.current_thread() is threading.main_thread()
        with open(self._log_file, "ab") as out:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                env=self._env,
                start_new_session=True,  # own process group: ^C in a test doesn't hit it
                preexec_fn=_pdeathsig if main_thread else None,
            )
        with _live_lock:
            _live.add(self)

    def _forget(self) -> None:
        with _live_lock:
            _live.discard(self)
        self._proc = None


class ZooKeeperEnsemble:
    """Three (or ``size``) real ZooKeeper servers forming a quorum on loopback ports.

    For fault tests: ``kill(i)`` / ``stop(i)`` / ``start(i)`` act on one member;
    members keep their data dirs across restarts. ``hosts`` lists every member.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        host: str = "127.0.0.1",
        tick_ms: int = DEFAULT_TICK_MS,
        java: str | None = None,
        zookeeper_home: str | None = None,
        jvm_opts: Sequence[str] = DEFAULT_JVM_OPTS,
        startup_timeout: float = 60.0,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"ensemble size must be >= 1, got {size}")
        self._own_base = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="pydcos-zk-ensemble-"))
        self.startup_timeout = startup_timeout
        self.peers = loopback_peers(size, host)
        self.servers = [
            ZooKeeperServer(
                port=p.client_port,
                host=host,
                data_dir=self.base_dir / f"server{p.server_id}",
                tick_ms=tick_ms,
                java=java,
                zookeeper_home=zookeeper_home,
                jvm_opts=jvm_opts,
                startup_timeout=startup_timeout,
                server_id=p.server_id,
                peers=self.peers,
            )
            for p in self.peers
        ]

    @property
    def hosts(self) -> str:
        return ",".join(s.hosts for s in self.servers)

    def start(self) -> ZooKeeperEnsemble:
        """Start every member, then wait until each serves (they need each other)."""
        for s in self.servers:
            find_java(s._java_arg, s._env)
            find_classpath(s._home, s._env)
        for s in self.servers:
            if not s.running:
                s._spawn()
        for s in self.servers:
            s.wait_serving(self.startup_timeout)
        return self

    def start_server(self, index: int, wait: bool = True) -> None:
        """Start member ``index`` (0-based) again; wait until it serves if a quorum exists."""
        s = self.servers[index]
        if not s.running:
            s._spawn()
        if wait:
            s.wait_serving(self.startup_timeout)

    def stop_server(self, index: int) -> None:
        self.servers[index].stop()

    def kill_server(self, index: int) -> None:
        self.servers[index].kill()

    def leader_index(self) -> int | None:
        for i, s in enumerate(self.servers):
            if s.running and s.mode() == "leader":
                return i
        return None

    def stop(self) -> None:
        for s in self.servers:
            s.stop()

    def close(self) -> None:
        self.stop()
        if self._own_base:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> ZooKeeperEnsemble:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
