"""``MasterProcess``: one pydcos master (what ``pydcos master`` runs).

```
 MasterProcess
   Node (transport: ROUTER on --bind)          HttpGateway (every master)
     root supervisor                              leader  -> serves
       "master" MasterActor  <- only while leading standby -> 307 to the leader
   Election (ZooKeeper) --on_elected--> start_child("master")
                        --on_revoked--> terminate_child("master")   (fencing: at once)
   LeaderWatch --------> gateway's idea of the leader
```

The registry (agents, frameworks) lives in the ZooKeeper state store under
``/registry``, so a new leader starts from what the old one persisted.

Warm standby: while not leading, a master keeps a copy of the stores its leader
services declare (``warm_stores``; Marathon's ``/marathon``) in ``zk.StoreMirror``s on
a session of their own, read at a modest pace as watches say what changed. On election
it hands them to the services (``ServiceContext.warm``), whose first load reads only
what changed since (at 10k agents the new leader's full read took 2-18 s, GIL-bound
while the agents re-registered). A master elected before its copy was complete reads
as a fresh leader does; one that loses leadership starts new copies.
"""

from __future__ import annotations

import gc
import logging
import random
import socket
import threading
from dataclasses import dataclass
from typing import Any

from actors.gateway import HttpGateway, MasterAbout, master_about
from actors.gateway import LeaderInfo as GatewayLeader
from actors.master._actor import MasterActor
from actors.master._services import LeaderService, NodeService, ServiceContext
from actors.master._state import MasterConfig
from actors.master._state_json import master_metrics
from actors.protocol import MASTER_ACTOR
from runtime import ActorRef, ChildSpec, Node, real_now
from transport import Security
from zk import (
    BatchFailed,
    Delete,
    Election,
    LeaderInfo,
    LeaderWatch,
    Put,
    StateStore,
    StoreMirror,
    ZkError,
    close_quietly,
    connect,
    resolve_credentials,
    take_hand_over,
)

log = logging.getLogger("actors.master")

VERSION = "0.1.0"


REGISTRY_ROOT = "/registry"
REGISTRY_MIRRORED = ("agents",)
"""What a standby keeps warm of the registry: the agents (10,000 documents at 10k
agents, read by a new leader while the agents re-register with it); the frameworks,
weights and quotas are few."""


class ZkRegistryStore:
    """The master's ``RegistryStore`` on the ZooKeeper state store: ``<kind>/<key>``.

    With ``mirror`` (a standby's warm copy of ``REGISTRY_MIRRORED``, ``zk.StoreMirror``)
    the first load of a mirrored kind takes its hand-over instead of reading every
    document (what changed since is read); later loads read ZooKeeper."""

    def __init__(self, store: StateStore, mirror: StoreMirror | None = None) -> None:
        self.store = store
        self.mirror = mirror

    def _documents(self, kind: str) -> dict[str, Any]:
        mirror = self.mirror
        if mirror is None or kind not in mirror.prefixes:
            return self.store.get_all(kind)
        self.mirror = None
        reader, _ = take_hand_over(mirror, self.store, "registry")
        return reader.get_all(kind)

    def load(self, kind: str) -> list[dict[str, Any]]:
        out = []
        for key, doc in self._documents(kind).items():
            if isinstance(doc.value, dict):
                out.append(doc.value)
            else:
                log.error("registry: %s is not a JSON object; skipped", key)
        return out

    def save(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.store.put(f"{kind}/{_safe(key)}", doc)

    def delete(self, kind: str, key: str) -> None:
        self.store.delete(f"{kind}/{_safe(key)}")

    def save_many(self, docs: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Several records in few ZooKeeper multi transactions (new agents' records:
        created); a record that already exists, or a batch cut short, is written on its
        own after (``save``: last write wins), so every record ends stored."""
        ops: list[Put | Delete] = [
            Put(f"{kind}/{_safe(key)}", doc, None) for kind, key, doc in docs
        ]
        done: dict[str, int | None] = {}
        try:
            done = self.store.write_many(ops)
        except BatchFailed as exc:
            done = exc.done
        for op in ops:
            if isinstance(op, Put) and op.key not in done:
                self.store.put(op.key, op.value)


TRIM_INTERVAL = 5.0
"""Seconds between two ``malloc_trim(0)`` calls of a master process.

Why: glibc keeps freed heap memory, so 1 MiB request bodies and their JSON stayed in the
leader's RSS after the apps were deleted (57 -> 127 MB over three rounds of 1 MiB apps,
issue 30). Fixing glibc's mmap threshold at 128 KiB (the first cure) gave that memory
back, but made every large buffer an mmap/munmap pair with fresh page faults: a 1 MiB
log chunk crossing a master (transport, codec, HTTP) cost ~2.5 ms instead of ~0.8. A
periodic trim returns the freed pages (top of heap and ``madvise`` of free runs) while
large buffers keep being reused from the heap: RSS ~81-85 MB after the same rounds."""


GC_THRESHOLDS = (100_000, 2, 2500)
"""``gc.set_threshold`` of a master process (CPython's default is ``(700, 10, 10)``).

Why: a leader holding 100,000 tasks has millions of live objects, and every full
collection walks them all: with the defaults the in-process 10,000-agent/100,000-task
run spent 7.0 s of CPU in 21 full collections of ~0.3 s each (pauses of the actor
thread, the HTTP loop and the lease heartbeat alike); with a first threshold of 100,000,
1.3 s and one full collection. Records die by reference counting; the cycle collector
only has to find the rare cycle, so collecting it 140x less often costs little memory.
The middle collection comes every 5 first ones (500,000 allocations), not 50: while a
new leader takes in 100,000 tasks nearly everything it allocates survives, and a middle
collection over 50 first ones' survivors held the GIL for 2.6 s (bench/scale.py at 10k
agents; 0.2-0.35 s at every 5). Every 2 first ones since: each young object is scanned
once by a middle collection whatever the threshold, so the work is the same, cut in
shorter pauses; at 5 a new leader's middle collections held the GIL for 1.2-2.0 s in the
10k-agent re-registration storm (gc.callbacks, notes/scale/s12), with a 3 s lease. Full
collections stay as rare (every 5,000 first ones, and CPython's own rule: only once the
objects that survived since the last one are a quarter of the old ones)."""


def shuffled_hosts(hosts: str) -> str:
    """``hosts`` (``"h:p,h:p[/chroot]"``) with its servers in a random order: a process
    connecting its sessions with ``randomize_hosts=False`` puts them on one server (and
    they move to the same next one), while masters still spread over the ensemble."""
    servers, slash, chroot = hosts.partition("/")
    order = servers.split(",")
    random.shuffle(order)
    return ",".join(order) + slash + chroot


GC_PAUSE_WARNING = 0.25
"""A cyclic collection holding the GIL at least this long (seconds) is logged: it
stops the actor thread, the HTTP loop and the lease heartbeat alike."""


class _GcPauses:
    """A ``gc.callbacks`` entry timing each collection; long ones are logged."""

    def __init__(self) -> None:
        self.started = 0.0
        self.longest = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = real_now()
            return
        pause = real_now() - self.started
        self.longest = max(self.longest, pause)
        if pause >= GC_PAUSE_WARNING:
            log.warning(
                "gc: generation %d collection held the GIL for %.2f s (%d collected)",
                info.get("generation", -1),
                pause,
                info.get("collected", 0),
            )


GC_PAUSES = _GcPauses()


def tune_gc() -> None:
    """Apply ``GC_THRESHOLDS`` to this process (a master's entry point calls it), and
    log collections that pause it for long (``GC_PAUSES``)."""
    gc.set_threshold(*GC_THRESHOLDS)
    if GC_PAUSES not in gc.callbacks:
        gc.callbacks.append(GC_PAUSES)


class HeapTrimmer:
    """A daemon thread calling glibc's ``malloc_trim(0)`` every ``interval`` seconds;
    does nothing where there is no glibc."""

    def __init__(self, interval: float = TRIM_INTERVAL) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._trim: Any = None

    def start(self) -> HeapTrimmer:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        try:
            self._trim = ctypes.CDLL(name).malloc_trim if name else None
        except (OSError, AttributeError):
            self._trim = None
        if self._trim is not None:
            self._thread = threading.Thread(target=self._run, name="heap-trim", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._trim(0)

    def stop(self) -> None:
        self._stop.set()


def _idle_metrics(elected: bool, uptime_secs: float) -> dict[str, float]:
    """A standby's ``master/*`` metrics (``master/elected`` 0, every gauge 0), for the
    gateway, which serves them without a master actor to ask."""
    return master_metrics(None, elected=elected, uptime_secs=uptime_secs)


def _warm_first(services: Any) -> list[Any]:
    """Leader services in the order they start on election: those a standby keeps warm
    (``warm_stores``: Marathon, Metronome) first, the others in their given order. The supervisor
    starts children one at a time, and at 5k agents the services started before
    Marathon (IAM's bootstrap check, a ZooKeeper read on the contended new leader) took
    ~0.4 s of the path from the election to Marathon taking a POST (notes/scale/s11-W2).
    Nothing else waits for them: IAM's actor only creates the first superuser."""
    services = list(services)
    return [s for s in services if getattr(s, "warm_stores", ())] + [
        s for s in services if not getattr(s, "warm_stores", ())
    ]


def _start_wait(child: ChildSpec) -> float:
    """How long to wait for the root supervisor to start a leader service: longer than
    the service's own ``start_timeout`` (Marathon and Metronome load their state from
    ZooKeeper while a new leader takes in the agents' re-registrations), so a slow
    start is not cut short by the ask; the supervisor starts children one at a time."""
    own = getattr(child.start, "start_timeout", 5.0)
    return max(30.0, float(own) + 10.0) if isinstance(own, int | float) else 30.0


def _safe(key: str) -> str:
    return key.replace("/", "_")


@dataclass
class MasterOptions:
    """Settings of one master process (the ``pydcos master`` flags)."""

    zk: str
    """ZooKeeper hosts, optionally with a chroot: ``127.0.0.1:2181/pydcos``."""
    security: Security
    bind: str = "tcp://127.0.0.1:0"
    advertise: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 0
    hostname: str = ""
    session_timeout: float = 2.0
    zk_credentials: str | None = None
    """ZooKeeper digest credentials file (else ``$PYDCOS_ZK_CREDENTIALS``, else none)."""
    min_leader_tenure: float = 30.0
    """Seconds a new leader leads before ``DELETE /v2/leader`` may make it step down, so
    that the endpoint cannot keep the cluster in elections (until IAM guards it)."""
    config: MasterConfig | None = None
    services: tuple[LeaderService, ...] = ()
    """Leader services (Marathon, Metronome...) started after the master actor."""
    node_services: tuple[NodeService, ...] = ()
    """Services every master runs for its whole life (DNS, load balancer...)."""
    zk_order_fixed: bool = False
    """Connect to ``zk``'s servers in the order given (else shuffled here): a master
    shuffles once and hands its order to its companion, so that one host's sessions
    share a server (and move to the same next one)."""
    contend: bool = True
    """Stand for election. False: a companion that only runs ``node_services`` beside a
    master, in a process of its own (``actors.master.CompanionService``): it follows the
    leader like a standby but never leads, keeps no warm copies and no election session."""


class MasterProcess:
    """Start with ``start()``; stop with ``stop()`` (idempotent)."""

    def __init__(self, options: MasterOptions) -> None:
        self.options = options
        self.node = Node("master")
        self.client: Any = None
        self.election_client: Any = None
        """The election's own ZooKeeper session. Its lease heartbeat (a ``sync``) is
        answered in order behind every request queued on its session, and kazoo's one
        connection thread takes in a few dozen answers a second while a new leader at
        10,000 agents is GIL-bound: behind the registry's and Marathon's reads the
        heartbeat came back after more than the 3 s a lease allows and the new leader
        stopped acting 4 s after its election (bench/scale.py, four runs of five). Writes
        stay fenced by the election's term znode version, whatever session sends them."""
        self.election: Election | None = None
        self.watch: LeaderWatch | None = None
        self.gateway: HttpGateway | None = None
        self.leader: LeaderInfo | None = None
        self._leading = threading.Event()
        self._elected_at: float | None = None
        self._lock = threading.Lock()
        self.hostname = options.hostname or socket.gethostname()
        self._service_children: list[str] = []
        self.context: ServiceContext | None = None
        self.about: MasterAbout | None = None
        self.trimmer: HeapTrimmer | None = None
        self.mirror_client: Any = None
        """The warm copies' own ZooKeeper session (standby only): their watches and
        paced reads, and the hand-over's, queue behind nothing else; closing it after
        the hand-over drops every watch left on the server."""
        self.mirrors: dict[str, StoreMirror] = {}
        """Store root -> this standby's warm copy of it."""
        self._stopping = False
        self._connect_args: dict[str, Any] = {}

    @property
    def address(self) -> str:
        assert self.node.address is not None
        return self.node.address

    def _master_ref(self) -> ActorRef | None:
        return self.node.ref(MASTER_ACTOR) if self._leading.is_set() else None

    def _gateway_leader(self) -> GatewayLeader | None:
        leader = self.leader
        if leader is None or not leader.http_url:
            return None
        return GatewayLeader(leader.http_url, f"{leader.address}/{MASTER_ACTOR}")

    def start(self) -> MasterProcess:
        o = self.options
        tune_gc()
        self.trimmer = HeapTrimmer().start()
        self.node.listen(o.bind, security=o.security, advertise=o.advertise)
        # Two sessions on the same server (one order of the servers for both): the
        # election's lease heartbeat must not queue behind the state's reads and writes.
        hosts = o.zk if o.zk_order_fixed else shuffled_hosts(o.zk)
        credentials = resolve_credentials(o.zk_credentials)
        self._connect_args = {
            "hosts": hosts,
            "session_timeout": o.session_timeout,
            "credentials": credentials,
            "randomize_hosts": False,
        }
        self.client = connect(
            hosts,
            session_timeout=o.session_timeout,
            credentials=credentials,
            randomize_hosts=False,
        )
        if o.contend:
            self.election_client = connect(
                hosts,
                session_timeout=o.session_timeout,
                credentials=credentials,
                randomize_hosts=False,
            )
        self.registry = ZkRegistryStore(StateStore(self.client, REGISTRY_ROOT))
        self.gateway = HttpGateway(
            o.http_host,
            o.http_port,
            leader=self._gateway_leader,
            is_leader=self._leading.is_set,
            master=self._master_ref,
            clock=self.node.clock,
            idle_metrics=_idle_metrics,
            resolve=self.node.ref,
        )
        self.context = ServiceContext(
            node=self.node,
            zk=self.client,
            master_address=f"{self.address}/{MASTER_ACTOR}",
            hostname=self.hostname,
            abdicate=self.abdicate,
            tenure_left=self.tenure_left,
            gateway=self.gateway,
            leader_address=self._leader_master_address,
        )
        for service in o.services:
            self.gateway.add_leader_routes(service.prefixes, service.routes(self.context))
        for node_service in o.node_services:
            self.gateway.add_routes(node_service.routes(self.context))
        if self.gateway.auth is not None and o.security.mode == "curve":
            from actors.gateway import ActorApiAuth

            # Scripts with a service account's CURVE key act as it (issue 24).
            actor_auth = ActorApiAuth(self.gateway.auth)
            self.node.set_peer_policy(actor_auth.key_check, actor_auth.policy)
        self.gateway.start()
        self.context.http_url = self.gateway.url
        for node_service in o.node_services:
            for child in node_service.child_specs(self.context):
                self.node.root.start_child(child)
        self.about = self.gateway.about = master_about(
            o,
            hostname=self.hostname,
            http_host=self.gateway.host,
            http_port=self.gateway.port,
            started_at=self.node.clock.wall(),
        )
        self.watch = LeaderWatch(self.client, self._on_leader)
        info = LeaderInfo(
            address=self.address,
            http_url=self.gateway.url,
            hostname=self.hostname,
            version=VERSION,
        )
        if not o.contend:
            log.info(
                "node services %s beside a master: %s, HTTP %s",
                ",".join(s.name for s in o.node_services),
                self.address,
                self.gateway.url,
            )
            return self
        self._start_mirrors()
        # Assigned before start(): _on_elected may run before start() returns.
        self.election = Election(
            self.election_client,
            info,
            on_elected=self._on_elected,
            on_revoked=self._on_revoked,
        )
        self.election.start()
        log.info("master listening on %s, HTTP %s", self.address, self.gateway.url)
        return self

    def _warm_roots(self) -> dict[str, tuple[tuple[str, ...], Any, dict[str, Any]]]:
        """Store root -> (prefixes, prepare or None, ``StoreMirror`` options), as the
        leader services declare them (``warm_stores`` entries:
        ``(root, prefixes[, prepare[, options]])``, options such as ``interval``)."""
        roots: dict[str, tuple[tuple[str, ...], Any, dict[str, Any]]] = {
            REGISTRY_ROOT: (REGISTRY_MIRRORED, None, {})
        }
        for service in self.options.services:
            for root, prefixes, *rest in getattr(service, "warm_stores", ()):
                prepare = rest[0] if rest else None
                options = dict(rest[1]) if len(rest) > 1 else {}
                roots[str(root)] = (tuple(prefixes), prepare, options)
        return roots

    def _start_mirrors(self) -> None:
        """Start this standby's warm copies (none while leading, or without services
        that declare one). A ZooKeeper that does not answer costs the copies only."""
        roots = self._warm_roots()
        if not roots or self._leading.is_set() or self._stopping:
            return
        try:
            client = connect(**self._connect_args)
        except ZkError as exc:
            log.warning("warm standby: no copy of %s: %s", ", ".join(roots), exc)
            return
        with self._lock:
            if self._leading.is_set() or self._stopping:
                close_quietly(client)
                return
            self._close_mirrors()
            self.mirror_client = client
            self.mirrors = {
                root: StoreMirror(client, root, prefixes, prepare=prepare, **options).start()
                for root, (prefixes, prepare, options) in roots.items()
            }
        log.info("warm standby: keeping a copy of %s", ", ".join(sorted(roots)))

    def _retire_mirrors(self, taken: list[StoreMirror]) -> None:
        """After the election's hand-outs: close the copies nobody took, and the
        session once those taken are closed too (the registry's is handed over on its
        own thread, possibly after the leader services started)."""
        mirrors, self.mirrors = self.mirrors, {}
        client, self.mirror_client = self.mirror_client, None
        for mirror in mirrors.values():
            if mirror not in taken:
                mirror.close()

        def close_later() -> None:
            deadline = real_now() + 300.0
            for mirror in taken:
                mirror.closed.wait(max(0.0, deadline - real_now()))
                mirror.close()  # never taken (leadership lost first): its reads end
            if client is not None:
                close_quietly(client)

        threading.Thread(target=close_later, name="warm-standby-close", daemon=True).start()

    def _close_mirrors(self) -> None:
        mirrors, self.mirrors = self.mirrors, {}
        client, self.mirror_client = self.mirror_client, None
        for mirror in mirrors.values():
            mirror.close()
        if client is not None:
            close_quietly(client)

    def _may_act(self) -> bool:
        """The election's lease: leading, connected, session provably alive."""
        election = self.election
        return election is not None and election.is_leader

    def _leader_master_address(self) -> str | None:
        leader = self.leader
        return f"{leader.address}/{MASTER_ACTOR}" if leader is not None else None

    def _on_leader(self, leader: LeaderInfo | None) -> None:
        self.leader = leader
        log.info("leader is now %s", leader.address if leader else None)
        if leader is not None and leader.address == self.address and not self._leading.is_set():
            # This master won, and its master actor starts in _on_elected, which tells the
            # listeners then: a WatchMaster sent now would be a dead letter, and the DNS
            # and l4lb observers would ask again only 2 s later, while Marathon on this
            # very master already kills tasks (a VIP kept sending to a killed instance).
            return
        self._tell_leader_listeners(self._leader_master_address())

    def _tell_leader_listeners(self, address: str | None) -> None:
        if self.context is not None:
            for listener in list(self.context.leader_listeners):
                try:
                    listener(address)
                except Exception:
                    log.exception("a leader listener failed")

    def _on_elected(self, term: int) -> None:
        with self._lock:
            # Fencing: every leader write of this term checks the term in ZooKeeper.
            assert self.election is not None
            fence = self.election.fence()
            # Complete warm copies are handed out (each first load takes its
            # hand-over, after the new term is written: see zk.StoreMirror).
            warm = {r: m for r, m in self.mirrors.items() if m.ready}
            registry_copy = warm.pop(REGISTRY_ROOT, None)
            self.registry = ZkRegistryStore(
                StateStore(self.client, REGISTRY_ROOT, fence=fence), mirror=registry_copy
            )
            if self.context is not None:
                self.context.fence = fence
            spec = ChildSpec(
                MASTER_ACTOR,
                MasterActor,
                restart="permanent",
                shutdown=5.0,
                args=(None, self.registry),
                kwargs={
                    "address": f"{self.address}/{MASTER_ACTOR}",
                    "hostname": self.hostname,
                    "config": self.options.config,
                    "about": self.about,
                    "may_act": self._may_act,
                },
                name=MASTER_ACTOR,
            )
            self.node.root.start_child(spec)
            self._leading.set()
            # The observers (DNS, l4lb) of this master subscribe before any leader service
            # (Marathon) can act: see _on_leader.
            self._tell_leader_listeners(f"{self.address}/{MASTER_ACTOR}")
            self._elected_at = self.node.clock.now()
            log.info("elected (term %d): this master is leading", term)
            assert self.context is not None
            self.context.warm = dict(warm)
            for service in _warm_first(self.options.services):
                if not self._may_act():
                    # The lease lapsed while the services started (a loaded new leader):
                    # the revocation runs only after this returns (the election's thread
                    # runs the two in turn), so stop starting services now rather than
                    # hold it back for the rest (notes/scale/s11-lead run6: 28 s).
                    log.warning(
                        "leadership lost while starting the leader services: %s not started",
                        service.name,
                    )
                    break
                for child in service.child_specs(self.context):
                    try:
                        self.node.root.start_child(child, timeout=_start_wait(child))
                    except Exception:
                        log.exception(
                            "leader service %s: starting %s failed", service.name, child.id
                        )
                        continue
                    self._service_children.append(child.id)
            taken = [m for r, m in warm.items() if r not in self.context.warm]
            if registry_copy is not None:
                taken.append(registry_copy)
            self.context.warm = {}
            self._retire_mirrors(taken)

    def _on_revoked(self, reason: str) -> None:
        # Fencing: stop leader-only work before anything else.
        self._leading.clear()
        with self._lock:
            while self._service_children:
                child_id = self._service_children.pop()
                try:
                    self.node.root.terminate_child(child_id)
                    self.node.root.delete_child(child_id)
                except Exception as exc:
                    log.warning("stopping %s after revocation (%s): %s", child_id, reason, exc)
            try:
                self.node.root.terminate_child(MASTER_ACTOR)
                self.node.root.delete_child(MASTER_ACTOR)
            except Exception as exc:
                log.warning("stopping the master actor after revocation (%s): %s", reason, exc)
        log.warning("leadership revoked: %s", reason)
        # A standby again: new warm copies (off ZooKeeper's callback thread).
        threading.Thread(target=self._start_mirrors, name="warm-standby", daemon=True).start()

    def abdicate(self) -> None:
        if self.election is not None:
            self.election.abdicate()

    def tenure_left(self) -> float:
        """Seconds before this leader may abdicate (0 when it may, or does not lead)."""
        if self._elected_at is None:
            return 0.0
        elapsed = self.node.clock.now() - self._elected_at
        return max(0.0, self.options.min_leader_tenure - elapsed)

    def stop(self) -> None:
        self._stopping = True
        locked = self._lock.acquire(timeout=5.0)  # not behind a long leader start
        try:
            self._close_mirrors()
        finally:
            if locked:
                self._lock.release()
        if self.trimmer is not None:
            self.trimmer.stop()
        if self.election is not None:
            try:
                self.election.stop()
            except ZkError as exc:
                log.warning("leaving the election: %s", exc)
            self.election = None
        if self.watch is not None:
            self.watch.stop()
            self.watch = None
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        self.node.shutdown(10)
        if self.election_client is not None:
            close_quietly(self.election_client)
            self.election_client = None
        if self.client is not None:
            close_quietly(self.client)
            self.client = None
