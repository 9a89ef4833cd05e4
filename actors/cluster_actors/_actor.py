"""``ClusterActorsActor``: the framework's actor, a thin shell over ``ActorsCore``.

```
 scripts ──SpawnActor/GetActor/WaitActor/KillActor/ListActors/Supervise/──►┐
           WatchActors/OwnerGone/PutWorkingDir (runtime records)           │  ActorsCore
 workers ──RegisterWorker/WorkerReady/WorkerFailed/SaveCheckpoint/──────►  │  (pure)
           GetWorkingDir                                                   │
 master  ──Offers/StatusUpdate/AgentLost/Subscribed (embedded driver)───►  │
 timer   ──_Tick; owners' nodes ──Down (monitor)─────────────────────────►┘
       effects in order: ZooKeeper writes, then launches/kills/declines through the
       driver, WorkerAssignment/StopWorker to workers, ActorEvent to watchers, replies
```

Registered as ``runtime.FRAMEWORK_ACTOR`` ("cluster_actors") on the leading master's
node; the framework is "actors" to the master (one framework id for its whole life:
a new leader re-subscribes with it and adopts the running workers, which re-register
with ``ready=True`` when they see the leader change).

Every handler catches its own exceptions: an ask gets the error, a tell is logged and
never stops the actor (a crash would lose nothing — the state is in ZooKeeper — but
would drop the asks in flight).
"""

from __future__ import annotations

import dataclasses
import getpass
import itertools
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import runtime
from actors import protocol as p
from actors.framework import Disconnected, FrameworkDriver, Registered
from runtime import Actor, ActorRef, Down

from . import _core as c
from ._errors import ClusterActorsError, InvalidActorSpec
from ._model import ActorConfig, ActorRecord, ActorState, Group
from ._store import ActorsStore

log = logging.getLogger("actors.cluster_actors")

FRAMEWORK_NAME = "actors"
CLUSTER_ACTORS_ACTOR = "cluster_actors"
"""The actor's registered name (``runtime.FRAMEWORK_ACTOR``)."""


@dataclass(frozen=True)
class FrameworkSettings:
    """How the framework runs workers and decides (the service fills it)."""

    zk_url: str = ""
    """Given to workers (``--zk``) so they find a new leader."""
    keys: str | None = None
    """The cluster's key directory (``--keys``), or None with ``insecure_dev``."""
    insecure_dev: bool = False
    python: str = sys.executable
    user: str = field(default_factory=lambda: getpass.getuser())
    """Workers run as this user (the master's: its interpreter must be readable)."""
    tick_interval: float = 0.25
    role: str = "*"
    failover_timeout: float = 604800.0
    probe_interval: float = 0.25
    """Seconds between liveness probes (``PingWorker``) of each running worker."""
    probe_timeout: float = 1.0
    probe_misses: int = 3
    """Unanswered probes in a row after which a worker is lost (re-placed at once):
    faster than waiting for the master to declare its agent unreachable."""
    core: c.CoreConfig = field(default_factory=c.CoreConfig)


@dataclass(frozen=True)
class _Tick:
    pass


@dataclass(frozen=True)
class _Probe:
    pass


@dataclass
class _Probing:
    """One worker's probe in flight and its misses in a row."""

    incarnation: int
    future: Any = None
    sent: float = 0.0
    misses: int = 0
    calls: int = 0


class ActorsBoard:
    """What the actor publishes for the HTTP routes, the CLI and /metrics (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.actors: tuple[dict[str, Any], ...] = ()
        self.counts: MappingProxyType[str, int] = MappingProxyType({})
        self.stats: MappingProxyType[str, int] = MappingProxyType({})
        self.ref: ActorRef | None = None
        self.framework_id: str | None = None
        self.warm: tuple[dict[str, Any], ...] = ()
        """The warm pool's workers (``ActorsCore.warm_rows``)."""

    def publish(
        self,
        actors: tuple[dict[str, Any], ...],
        counts: dict[str, int],
        stats: dict[str, int],
        ref: ActorRef | None,
        framework_id: str | None,
        warm: tuple[dict[str, Any], ...] = (),
    ) -> None:
        with self._lock:
            self.warm = warm
            self.actors = actors
            self.counts = MappingProxyType(dict(counts))
            self.stats = MappingProxyType(dict(stats))
            self.ref = ref
            self.framework_id = framework_id

    def clear(self) -> None:
        with self._lock:
            self.ref = None


_TELLS: frozenset[type] = frozenset(
    {
        _Tick,
        _Probe,
        Down,
        runtime.RegisterWorker,
        runtime.WorkerReady,
        runtime.WorkerFailed,
        runtime.WatchActors,
        runtime.UnwatchActors,
        runtime.OwnerGone,
    }
)
"""Messages nobody waits an answer for (see ``receive``)."""


def config_of(m: runtime.SpawnActor) -> ActorConfig:
    """The pure core's view of a spawn request (validated; errors name the field)."""
    spec = m.spec
    return ActorConfig.checked(
        class_name=spec.class_name,
        cpus=spec.cpus,
        mem=spec.mem,
        disk=spec.disk,
        constraints=[list(x) for x in spec.constraints],
        role=spec.role,
        name=m.name or None,
        namespace=m.namespace,
        max_restarts=spec.max_restarts,
        restart=spec.restart,
        lifetime=m.lifetime,
        owner=m.owner,
        code_sha=spec.working_dir or None,
        placement_timeout=m.placement_timeout,
        max_concurrency=spec.max_concurrency,
    )


class ClusterActorsActor(Actor):
    """Leader-only: users' actors placed on the cluster (a framework of the master)."""

    start_timeout = 60.0

    def __init__(
        self,
        zk: Any,
        *,
        master: str,
        settings: FrameworkSettings | None = None,
        board: ActorsBoard | None = None,
        hostname: str = "",
        resolve: Callable[[str], ActorRef] | None = None,
        address: str | None = None,
        fence: Any = None,
        pin_master: bool = False,
    ) -> None:
        super().__init__()
        self.zk = zk
        self.fence = fence
        """The leader term's ``zk.Fence``: a deposed leader's writes are refused."""
        self.pin_master = pin_master
        """Inside a master (its leader service): talk to that master only."""
        self.master = master
        self.settings = settings or FrameworkSettings()
        self.board = board if board is not None else ActorsBoard()
        self.hostname = hostname
        self._resolve = resolve
        self._address = address
        self.core: c.ActorsCore | None = None
        self.store: ActorsStore | None = None
        self.driver: FrameworkDriver | None = None
        self.framework_id: str | None = None
        self.wire: dict[str, runtime.ActorSpec] = {}
        """Actor id -> the spec its workers build (class and args blobs)."""
        self._replies: dict[str, c.Reply] = {}
        self._watched: dict[ActorRef, str] = {}
        """Monitored ref -> its node address."""
        self._nodes: dict[str, set[str]] = {}
        """Monitored node -> the owner/watcher addresses on it."""
        self._requests = itertools.count(1)
        self._dirty = True
        self._bundle_dir: Path | None = None
        self._probing: dict[str, _Probing] = {}
        self.calls_total = 0
        """Calls the workers served, summed from their probe answers (Prometheus)."""

    # -- lifecycle ------------------------------------------------------------------

    def started(self) -> None:
        s = self.settings
        address = self._address or f"{self.node.address}/{self.name}"
        argv = [s.python, "-m", "runtime.worker", "--framework", address]
        if s.zk_url:
            argv += ["--zk", s.zk_url]
        uris: tuple[str, ...] = ()
        env: dict[str, str] = {}
        if s.insecure_dev or not s.keys:
            argv += ["--insecure-dev"]
        else:
            # Tasks get a private /tmp: the keys reach the sandbox through the fetcher.
            bundle = self._key_bundle(Path(s.keys))
            uris = (f"file://{bundle}",)
            argv += ["--keys", "keys"]
            if (Path(s.keys) / "zk.credentials").exists():
                env["PYDCOS_ZK_CREDENTIALS"] = "keys/zk.credentials"
        core_config = dataclasses.replace(
            s.core,
            worker_command=tuple(argv),
            worker_user=s.core.worker_user or s.user or None,
            worker_uris=s.core.worker_uris + uris,
            worker_env=(*s.core.worker_env, *sorted(env.items())),
        )
        self.core = c.ActorsCore(core_config)
        self.store = ActorsStore(self.zk, fence=self.fence)
        records, specs, groups = self.store.load()
        self.wire = specs
        records = [r for r in records if r.actor_id in specs or self._orphan(r)]
        now = self.clock.now()
        effects = self.core.restore(records, groups, now)
        self._apply(effects)
        try:
            self.store.sync_names(dict(self.core.names))
        except ClusterActorsError as exc:
            log.warning("cluster actors: name registry not synced: %s", exc)
        self.framework_id = self.store.framework_id()
        info = p.FrameworkInfo(
            name=FRAMEWORK_NAME,
            roles=[s.role],
            failover_timeout=s.failover_timeout,
            framework_id=self.framework_id,
            hostname=self.hostname,
        )
        self.driver = FrameworkDriver(
            info,
            master=self.master,
            address=self._address,
            resolve=self._resolve,
            pinned=self.pin_master,
        )
        self.driver.start(self)
        self.send_interval(s.tick_interval, _Tick())
        if s.probe_interval > 0:
            self.send_interval(s.probe_interval, _Probe())
        self._publish()
        log.info(
            "cluster actors: %d actors adopted, %d groups; framework id %s",
            len(self.core.actors),
            len(groups),
            self.framework_id,
        )

    def _key_bundle(self, keys: Path) -> Path:
        """``keys/`` (the cluster's CURVE keys, authorized client keys, ZooKeeper
        credentials) as a tar.gz for the fetcher to unpack into each worker's sandbox.
        Written beside the keys (``worker-keys.tar.gz``, mode 0600: nothing new leaks,
        and a SIGKILLed master leaves no copy elsewhere); a private temporary directory
        of this master when the key directory is read-only (removed when it stops)."""
        try:
            bundle = keys / "worker-keys.tar.gz"
            self._write_bundle(keys, bundle)
            return bundle
        except OSError:
            self._bundle_dir = Path(tempfile.mkdtemp(prefix="pydcos-actor-keys-"))
            bundle = self._bundle_dir / "worker-keys.tar.gz"
            self._write_bundle(keys, bundle)
            return bundle

    @staticmethod
    def _write_bundle(keys: Path, bundle: Path) -> None:
        tmp = bundle.with_name(f".{bundle.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name in (
                "cluster.key",
                "cluster.key_secret",
                "client.key",
                "client.key_secret",
                "zk.credentials",
                "authorized_keys",
            ):
                if (keys / name).exists():
                    tar.add(keys / name, arcname=f"keys/{name}")
        os.replace(tmp, bundle)

    def _orphan(self, r: ActorRecord) -> bool:
        log.error("cluster actors: actor %s has no stored spec; dropped", r.actor_id)
        return False

    def stopped(self) -> None:
        self.board.clear()
        if self._bundle_dir is not None:
            shutil.rmtree(self._bundle_dir, ignore_errors=True)
        # No teardown: the workers keep running and the next leader adopts them.
        self.driver = None

    # -- dispatch -------------------------------------------------------------------

    def receive(self, message: Any) -> Any:
        try:
            return self._receive(message)
        except Exception:
            if type(message) not in _TELLS:
                raise  # an ask: the caller gets the error
            # A tell has nobody to answer: log it rather than crash (which would drop
            # the watchers and the asks in flight; the state itself is in ZooKeeper).
            log.exception("cluster actors: handling %s failed", type(message).__name__)
            return None
        finally:
            if self._dirty:
                self._publish()

    def _receive(self, m: Any) -> Any:
        core = self.core
        assert core is not None
        driver = self.driver
        if driver is not None and driver.handles(m):
            try:
                self._on_framework(driver.handle(m))
            except Exception:
                log.exception("cluster actors: handling %s failed", type(m).__name__)
            return None
        t = type(m)
        if t is _Tick:
            self._step(c.Tick())
            return None
        if t is _Probe:
            self._probe()
            return None
        if t is Down:
            node = self._watched.pop(m.ref, None)
            if node is not None:
                log.info("cluster actors: node %s went away (%s)", node, m.reason)
                for address in sorted(self._nodes.pop(node, ())):
                    self._step(c.OwnerDown(address))
            return None
        if t is runtime.SpawnActor:
            return self._spawn(m)
        if t is runtime.WaitActor or t is runtime.GetActor:
            return self._info(self._lookup(m))
        if t is runtime.KillActor:
            r = self._lookup(m)
            rid = self._request_id()
            self._step(c.Kill(rid, r.actor_id))
            self._reply(rid)
            return self._info(r)
        if t is runtime.ListActors:
            return self._list(m)
        if t is runtime.WatchActors or t is runtime.UnwatchActors:
            add = t is runtime.WatchActors
            self._step(c.Watchers(m.subscriber, tuple(m.actor_ids), add))
            return None
        if t is runtime.RegisterWorker:
            log.info("cluster actors: worker %s.%d registered", m.actor_id, m.incarnation)
            self._step(
                c.RegisterWorker(
                    m.actor_id, m.incarnation, m.address, m.control, m.ready, m.task_id
                )
            )
            return None
        if t is runtime.WorkerReady:
            log.info("cluster actors: worker %s.%d ready", m.actor_id, m.incarnation)
            self._step(c.WorkerReady(m.actor_id, m.incarnation, m.address))
            return None
        if t is runtime.WorkerFailed:
            log.warning("cluster actors: worker of %s failed: %s", m.actor_id, m.message)
            self._step(c.WorkerFailed(m.actor_id, m.incarnation, m.message, m.permanent))
            return None
        if t is runtime.OwnerGone:
            self._step(c.OwnerDown(m.owner))
            return None
        if t is runtime.SaveCheckpoint:
            return self._checkpoint(m)
        if t is runtime.PutWorkingDir:
            assert self.store is not None
            self.store.put_code(m.sha256, m.data)
            return m.sha256
        if t is runtime.GetWorkingDir:
            assert self.store is not None
            data = self.store.code(m.sha256)
            if data is None:
                raise ValueError(f"working_dir {m.sha256!r:.70} is not stored on this cluster")
            return data
        if t is runtime.Supervise:
            return self._supervise(m)
        if m == "view":
            return list(self.board.actors)
        return super().receive(m)

    def _on_framework(self, event: Any) -> None:
        assert self.driver is not None
        if isinstance(event, p.Offers):
            self._step(c.Offers(tuple(event.offers)))
        elif isinstance(event, p.StatusUpdate):
            self._step(
                c.TaskStatus(
                    event.task_id, event.state, event.agent_id, event.reason, event.message
                )
            )
            self.driver.acknowledge(event)
        elif isinstance(event, p.AgentLost):
            self._step(c.AgentGone(event.agent_id))
        elif isinstance(event, Registered):
            if event.framework_id != self.framework_id:
                assert self.store is not None
                self.store.save_framework_id(event.framework_id)
                self.framework_id = event.framework_id
            log.info("cluster actors: subscribed as framework %s", event.framework_id)
            self._step(c.Registered())
        elif isinstance(event, p.FrameworkError):
            log.warning("cluster actors: the master refused a call: %s", event.message)
        elif isinstance(event, Disconnected):
            log.info("cluster actors: the leading master went away; subscribing again")

    # -- liveness probes --------------------------------------------------------------

    def _probe(self) -> None:
        """Ask every running worker ``PingWorker`` (without waiting: the answer is read
        at the next round); ``probe_misses`` unanswered in a row -> ``WorkerLost``."""
        core, s = self.core, self.settings
        assert core is not None
        now = self.clock.now()
        live = {
            r.actor_id: r
            for r in core.actors.values()
            if r.state is ActorState.RUNNING and r.control
        }
        for actor_id in list(self._probing):
            if actor_id not in live:
                del self._probing[actor_id]
        lost: list[tuple[str, int, str]] = []
        for actor_id, r in live.items():
            probe = self._probing.get(actor_id)
            if probe is None or probe.incarnation != r.incarnation:
                probe = self._probing[actor_id] = _Probing(r.incarnation)
            fut = probe.future
            if fut is not None:
                if fut.done():
                    try:
                        status = fut.get(0)
                        probe.misses = 0
                        calls = int(getattr(status, "calls", 0))
                        if calls > probe.calls:
                            self.calls_total += calls - probe.calls
                            self._dirty = True  # the board's figures changed
                        probe.calls = calls
                    except Exception:
                        probe.misses += 1
                    probe.future = None
                elif now - probe.sent >= s.probe_timeout:
                    probe.misses += 1
                    probe.future = None
                else:
                    continue  # still waiting for this one
            if probe.misses >= s.probe_misses:
                lost.append((actor_id, r.incarnation, f"{probe.misses} probes unanswered"))
                del self._probing[actor_id]
                continue
            try:
                ref = self._resolve(r.control) if self._resolve else self.node.ref(r.control)
                probe.future = ref.ask_future(runtime.PingWorker(actor_id), timeout=s.probe_timeout)
                probe.sent = now
            except Exception as exc:
                log.debug("cluster actors: probe of %s not sent: %s", actor_id, exc)
                probe.misses += 1
        for actor_id, incarnation, why in lost:
            log.warning("cluster actors: worker of %s lost: %s; re-placing it", actor_id, why)
            self._step(c.WorkerLost(actor_id, incarnation, why))

    # -- core -----------------------------------------------------------------------

    def _step(self, event: c.Event) -> list[c.Effect]:
        assert self.core is not None
        effects = self.core.handle(event, self.clock.now(), self.clock.wall())
        self._apply(effects)
        return effects

    def _request_id(self) -> str:
        return f"q{next(self._requests)}"

    def _reply(self, request_id: str) -> c.Reply:
        reply = self._replies.pop(request_id, None)
        if reply is None:
            raise ClusterActorsError(f"internal: no answer for request {request_id}")
        if reply.error == "DuplicateName":
            raise runtime.DuplicateName(reply.message)
        if reply.error == "ActorNotFound":
            raise runtime.ActorNotFound(reply.message)
        if reply.error is not None:
            raise ValueError(reply.message)
        return reply

    def _apply(self, effects: list[c.Effect]) -> None:
        store, driver = self.store, self.driver
        assert store is not None
        for e in effects:
            try:
                if isinstance(e, c.SaveActor):
                    store.save_actor(e.record)
                elif isinstance(e, c.ForgetActor):
                    store.forget_actor(e.actor_id)
                elif isinstance(e, c.ClaimName):
                    store.claim_name(e.key, e.actor_id)
                elif isinstance(e, c.ReleaseName):
                    store.release_name(e.key, e.actor_id)
                elif isinstance(e, c.SaveGroup):
                    store.save_group(e.group)
                elif isinstance(e, c.ForgetGroup):
                    store.forget_group(e.group_id)
                elif isinstance(e, c.Reply):
                    self._replies[e.request_id] = e
                elif isinstance(e, c.Changed):
                    self._changed(e.actor_id)
                elif isinstance(e, c.Assign):
                    self._assign(e)
                elif isinstance(e, c.StopWorker):
                    self._tell(e.control, runtime.StopWorker(e.actor_id, e.reason))
                elif isinstance(e, c.Watch):
                    self._watch(e.address)
                elif driver is None or not driver.subscribed:
                    if isinstance(e, c.Launch | c.KillTask):
                        log.warning("cluster actors: not subscribed; %s dropped", e)
                elif isinstance(e, c.Launch):
                    driver.launch([e.offer_id], list(e.tasks), refuse_seconds=1.0)
                    log.info("cluster actors: launched %s", [t.task_id for t in e.tasks])
                elif isinstance(e, c.Decline):
                    driver.decline([e.offer_id], e.refuse_seconds, e.reason)
                elif isinstance(e, c.KillTask):
                    driver.kill(e.task_id)
                elif isinstance(e, c.Revive):
                    driver.revive()
                elif isinstance(e, c.Suppress):
                    driver.suppress()
                elif isinstance(e, c.Reconcile):
                    driver.reconcile(list(e.task_ids))
            except Exception:
                log.exception("cluster actors: effect %s failed", type(e).__name__)
        if effects:
            self._dirty = True

    def _tell(self, address: str, message: Any) -> None:
        ref = self._resolve(address) if self._resolve else self.node.ref(address)
        ref.tell(message)

    def _watch(self, address: str) -> None:
        """Monitor the node of ``address`` (an owner's node address or a watcher's actor
        address): when that node goes down every address recorded for it gets OwnerDown
        (owned actors stop, watchers are dropped). Monitors follow nodes, not actors."""
        if not address:
            return
        try:
            node, _ = runtime.split_address(address)
            target = address
        except ValueError:
            node, target = address, f"{address}/actor-events"
        known = self._nodes.get(node)
        if known is not None:
            known.add(address)
            return
        try:
            ref = self._resolve(target) if self._resolve else self.node.ref(target)
            self._nodes[node] = {address}
            self._watched[ref] = node
            self.monitor(ref)
        except Exception as exc:
            log.warning("cluster actors: cannot watch %s: %s", address, exc)

    def _assign(self, e: c.Assign) -> None:
        assert self.core is not None and self.store is not None
        r = self.core.actors.get(e.actor_id)
        spec = self.wire.get(e.actor_id)
        if r is None or spec is None:
            self._tell(e.control, runtime.StopWorker(e.actor_id, "unknown actor"))
            return
        checkpoint = self.store.checkpoint(e.actor_id) if r.checkpoint_size else None
        self._tell(
            e.control,
            runtime.WorkerAssignment(
                e.actor_id,
                e.incarnation,
                spec,
                r.spec.name or "",
                r.spec.namespace,
                checkpoint,
                self.core.config.max_checkpoint_bytes,
            ),
        )

    def _changed(self, actor_id: str) -> None:
        assert self.core is not None
        watchers = self.core.watchers.get(actor_id)
        if not watchers:
            return
        r = self.core.get(actor_id)
        if r is None:
            return
        event = runtime.ActorEvent(self._info(r))
        for w in list(watchers):
            try:
                self._tell(w, event)
            except Exception as exc:
                log.debug("cluster actors: event to %s failed: %s", w, exc)

    # -- requests -------------------------------------------------------------------

    def _spawn(self, m: runtime.SpawnActor) -> runtime.ActorInfo:
        assert self.core is not None and self.store is not None
        try:
            config = config_of(m)
        except InvalidActorSpec as exc:
            raise ValueError(str(exc)) from None
        if config.role not in ("*", self.settings.role):
            raise ValueError(
                f"spec.role: {config.role!r} is not a role of the actors framework "
                f"(it takes offers for {self.settings.role!r})"
            )
        if config.code_sha and self.store.code(config.code_sha) is None:
            raise ValueError(
                f"spec.working_dir: {config.code_sha[:12]}... was not uploaded "
                "(PutWorkingDir first)"
            )
        rid = self._request_id()
        effects = self.core.handle(
            c.Spawn(rid, config, m.get_if_exists), self.clock.now(), self.clock.wall()
        )
        reply = next((e for e in effects if isinstance(e, c.Reply)), None)
        if reply is not None and reply.error is None and reply.actor_id not in self.wire:
            assert reply.actor_id is not None
            self.wire[reply.actor_id] = m.spec
            self.store.save_spec(reply.actor_id, m.spec)  # before the launch can happen
        self._apply(effects)
        ok = self._reply(rid)
        r = self.core.get(ok.actor_id or "")
        assert r is not None
        log.info(
            "cluster actors: spawn %s (%s) -> %s", m.name or "-", m.spec.class_name, r.actor_id
        )
        return self._info(r)

    def _lookup(self, m: Any) -> ActorRecord:
        assert self.core is not None
        actor_id = getattr(m, "actor_id", "")
        name = str(getattr(m, "name", "") or "")
        r = self.core.get(actor_id) if actor_id else None
        if r is None and not actor_id and name:
            r = self.core.find(name, m.namespace)
        if r is None:
            what = (
                f"id {actor_id!r}"
                if actor_id
                else f"name {getattr(m, 'namespace', 'default')}/{getattr(m, 'name', '')}"
            )
            raise runtime.ActorNotFound(f"no actor with {what}")
        return r

    def _list(self, m: runtime.ListActors) -> runtime.ActorList:
        assert self.core is not None
        rows = list(self.core.actors.values())
        if m.include_stopped:
            rows += list(self.core.finished.values())
        out = [
            self._info(r)
            for r in rows
            if (not m.namespace or r.spec.namespace == m.namespace)
            and (not m.owner or r.spec.owner == m.owner)
        ]
        return runtime.ActorList(out)

    def _checkpoint(self, m: Any) -> Any:
        assert self.core is not None and self.store is not None
        rid = self._request_id()
        effects = self.core.handle(
            c.SaveCheckpoint(rid, m.actor_id, m.incarnation, len(m.data)),
            self.clock.now(),
            self.clock.wall(),
        )
        reply = next((e for e in effects if isinstance(e, c.Reply)), None)
        if reply is not None and reply.error is None:
            self.store.save_checkpoint(m.actor_id, m.incarnation, m.seq, bytes(m.data))
        self._apply(effects)
        self._reply(rid)
        return runtime.CheckpointSaved(m.actor_id, m.seq, len(m.data))

    def _supervise(self, m: Any) -> Any:
        assert self.core is not None and self.store is not None
        children: list[c.Spawn] = []
        for i, child in enumerate(m.children):
            try:
                config = config_of(child)
            except InvalidActorSpec as exc:
                raise ValueError(f"children[{i}].{exc}") from None
            children.append(c.Spawn(f"{i}", config))
        group_id = m.name or f"group-{next(self._requests)}-{int(self.clock.wall())}"
        owner = m.children[0].owner if m.children else ""
        try:
            group = Group.checked(group_id, m.strategy, m.intensity, m.period, ["pending"], owner)
        except InvalidActorSpec as exc:
            raise ValueError(str(exc)) from None
        rid = self._request_id()
        effects = self.core.handle(
            c.Supervise(rid, group, tuple(children)), self.clock.now(), self.clock.wall()
        )
        reply = next((e for e in effects if isinstance(e, c.Reply) and e.request_id == rid), None)
        if reply is not None and reply.error is None:
            made = self.core.groups[group_id].children
            for actor_id, child in zip(made, m.children, strict=True):
                self.wire[actor_id] = child.spec
                self.store.save_spec(actor_id, child.spec)
        self._apply(effects)
        self._reply(rid)
        g = self.core.groups[group_id]
        infos = [self._info(r) for r in (self.core.get(a) for a in g.children) if r is not None]
        return runtime.SupervisionInfo(group_id, g.strategy, "RUNNING", infos)

    # -- views ----------------------------------------------------------------------

    def _info(self, r: ActorRecord) -> runtime.ActorInfo:
        assert self.core is not None
        spec = self.wire.get(r.actor_id)
        state = self.core.shown_state(r)
        return runtime.ActorInfo(
            actor_id=r.actor_id,
            name=r.spec.name or "",
            namespace=r.spec.namespace,
            class_name=r.spec.class_name,
            methods=list(spec.methods) if spec is not None else [],
            async_methods=list(spec.async_methods) if spec is not None else [],
            state=state,
            address=(r.address or "") if state == "RUNNING" else "",
            incarnation=r.incarnation,
            restarts=r.restarts,
            max_restarts=r.spec.max_restarts,
            restart=r.spec.restart,
            lifetime=r.spec.lifetime,
            owner=r.spec.owner,
            agent_id=r.agent_id or "",
            hostname=r.hostname,
            task_id=r.task_id or "",
            cpus=r.spec.cpus,
            mem=r.spec.mem,
            started=r.started_wall or 0.0,
            message=r.last_exit,
            reason="" if state == "RUNNING" else r.last_reason,
            supervisor=r.group or "",
        )

    def _publish(self) -> None:
        core = self.core
        if core is None:
            return
        self._dirty = False
        wall = self.clock.wall()
        rows = tuple(
            core.describe(r, wall)
            for r in [*core.actors.values(), *reversed(core.finished.values())]
        )
        stats = {**core.stats.__dict__, "calls": self.calls_total}
        self.board.publish(
            rows, core.counts(), stats, self.ref, self.framework_id, tuple(core.warm_rows())
        )
