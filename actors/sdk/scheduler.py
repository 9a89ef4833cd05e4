"""The SDK scheduler process: ``python -m actors.sdk.scheduler --spec svc.yml``.

Run as a Marathon app (as DC/OS runs dcos-commons schedulers): it renders ``svc.yml``
with its environment (the package's options arrive as env), registers a framework
through the actor driver (``actors.framework.SchedulerDriver``), keeps its state in
ZooKeeper (``/sdk/<name>``) and serves its plans API on ``$PORT0``.

```
 SIGTERM ─► driver.stop(failover=True): tasks keep running, the next scheduler carries on
 driver thread: registered / resource_offers / status_update ─┐
 HTTP thread:   /v1/plans ... commands ───────────────────────┼─► lock ─► ServiceCore
 tick thread:   every 0.5 s: steps, kills, revive ────────────┘      └► persist dirty, then act
```

Ordering: every record the core marks dirty is written to ZooKeeper BEFORE the offer is
accepted or the update acknowledged (the driver acknowledges after ``status_update``
returns), so a scheduler killed at any point restarts knowing every reservation it
asked for and every task it launched.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors import protocol as p
from actors.framework import Scheduler, SchedulerDriver
from actors.sdk._core import ACTIVE, Context, Effects, ServiceCore, accept_refuse_seconds
from actors.sdk._errors import SdkError, SpecError, StateError
from actors.sdk._spec import ServiceSpec, load_spec
from actors.sdk._store import SdkStore
from runtime import Clock, SystemClock

log = logging.getLogger("actors.sdk")

FAILOVER_TIMEOUT = 7 * 24 * 3600.0
"""dcos-commons' schedulers keep their tasks for a week while the scheduler is away."""

TICK = 0.5
REVIVE_EVERY = 2.0
"""While launches wait, offers are revived at most this often (declines filter 15 s)."""


def project_root() -> Path:
    """The directory holding the ``actors`` package (relative ``--spec`` paths)."""
    return Path(__file__).resolve().parents[2]


def resolve_spec(path: str) -> Path:
    """``--spec``: as given (relative to the sandbox), else relative to the project."""
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    return project_root() / given


def _fatal_on_state_error(fn: Callable[..., None]) -> Callable[..., None]:
    """A driver callback whose state could not be written must not act (nor let the
    driver acknowledge): the process exits and Marathon starts a scheduler that reads
    the state again (persist BEFORE acting)."""

    def wrapped(*args: Any) -> None:
        try:
            fn(*args)
        except StateError as exc:
            log.error("sdk: %s: exiting before acting on it", exc)
            os._exit(4)

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


class SdkScheduler(Scheduler):
    """The thin shell around ``ServiceCore``: callbacks in, effects out."""

    def __init__(
        self,
        spec: ServiceSpec,
        store: SdkStore,
        clock: Clock,
        context: Context,
    ) -> None:
        self.core = ServiceCore(spec, context)
        self.store = store
        self.clock = clock
        self.lock = threading.RLock()
        self.driver: SchedulerDriver | None = None
        self.registered_once = threading.Event()
        self.refused: list[str] = []
        self._revived = -REVIVE_EVERY

    # -- state -------------------------------------------------------------------------

    def restore(self) -> None:
        from actors.sdk._spec import spec_from_data

        state = self.store.load()
        target = None
        if state["target"] is not None:
            try:
                target = spec_from_data(dict(state["target"]["spec"]))
                # Templates of the stored config come from this scheduler's files.
                target = _with_templates(target, self.core.spec)
            except (SpecError, KeyError, TypeError, ValueError) as exc:
                log.error(
                    "sdk: the stored target config is unreadable (%s): using the new one", exc
                )
                target = None
        now = self.clock.now()
        self.refused = self.core.restore(
            framework_id=state["framework"],
            target=target,
            tasks=list(state["tasks"].values()),
            reservations=list(state["reservations"].values()),
            runs=list(state["plans"].values()),
            configs=state["configs"],
            now=now,
        )
        if self.refused:
            msg = "new config refused: " + "; ".join(self.refused)
            log.error("sdk: %s (the service keeps its config %s)", msg, self.core.spec.config_id)
            self.core.runs["deploy"].errors = [msg]
        else:
            self.core.runs["deploy"].errors = []
        self._persist()
        self.store.put(f"configs/{self.core.spec.config_id}", self.core.spec.raw)

    def _persist(self) -> None:
        keys = self.core.take_dirty()
        for i, key in enumerate(keys):
            try:
                self.store.put(key, self.core.snapshot(key))
            except StateError:
                self.core.dirty.update(keys[i:])  # written at the next chance
                raise

    def call(self, fn: Callable[[ServiceCore], Any]) -> Any:
        """Run ``fn(core)`` under the lock (the HTTP API), then persist and act.

        A command that changed something (a plan started, a pod restarted...) revives
        offers at once, BEFORE its records are written: an offer is handled under the
        same lock, so it is acted on only once they are durable, and the master's
        allocation runs while ZooKeeper writes (one round trip less before a launch).
        A read (the plans polled every few ms) revives nothing: each revive is an
        allocation cycle on the master and a batch of offers to decline here."""
        with self.lock:
            self.core.now = self.clock.now()
            result = fn(self.core)
            if self.core.dirty or self.core.kill_now:
                self._act(Effects(revive=True))
            self._persist()
            kills, self.core.kill_now = list(self.core.kill_now), []
        if kills:
            self._act(Effects(kills=kills))
        return result

    def _act(self, eff: Effects) -> None:
        d = self.driver
        if d is None or d.framework_id is None:
            return
        for offer_id, ops in eff.accepts:
            d.accept([offer_id], ops, refuse_seconds=accept_refuse_seconds(ops))
        for offer_id, refuse in eff.declines:
            d.decline([offer_id], refuse_seconds=refuse)
        for task_id in eff.kills:
            log.info("sdk: killing %s", task_id)
            d.kill(task_id)
        if eff.revive:
            d.revive()

    def tick(self) -> None:
        with self.lock:
            now = self.clock.now()
            wants, kills = self.core.progress(now)
            self._persist()
        now = self.clock.now()
        revive = bool(wants) and now - self._revived >= REVIVE_EVERY
        if revive:
            self._revived = now
        self._act(Effects(kills=kills, revive=revive))

    # -- driver callbacks (the driver's thread) ------------------------------------------

    @_fatal_on_state_error
    def registered(self, driver: SchedulerDriver, framework_id: str, master_id: str) -> None:
        log.info("sdk: registered as framework %s (master %s)", framework_id, master_id)
        with self.lock:
            self.core.framework_id = framework_id
            self.store.put("framework", {"id": framework_id})
        self.registered_once.set()
        with self.lock:
            known = [t.task_id for t in self.core.tasks.values() if t.state in ACTIVE]
        if known:
            driver.reconcile(known)  # explicit: a task the master forgot comes back UNKNOWN
        driver.reconcile([])

    def reregistered(self, driver: SchedulerDriver, framework_id: str, master_id: str) -> None:
        self.registered(driver, framework_id, master_id)

    @_fatal_on_state_error
    def resource_offers(self, driver: SchedulerDriver, offers: list[p.Offer]) -> None:
        with self.lock:
            eff = self.core.offers(offers, self.clock.now(), self.clock.wall())
            self._persist()
        for offer_id, ops in eff.accepts:
            log.info(
                "sdk: accept %s: %s",
                offer_id,
                ", ".join(op.type + (f" {op.tasks[0].name}" if op.tasks else "") for op in ops),
            )
        self._act(eff)

    @_fatal_on_state_error
    def status_update(self, driver: SchedulerDriver, update: p.StatusUpdate) -> None:
        with self.lock:
            ours = self.core.status(update, self.clock.now())
            self._persist()
        log.info("sdk: %s %s %s", update.task_id, update.state, update.message)
        if not ours:
            log.info("sdk: killing %s: not a task of this service", update.task_id)
            driver.kill(update.task_id)

    def error(self, driver: SchedulerDriver, message: str) -> None:
        log.error("sdk: error from the master: %s", message)
        if "removed" in message or "torn down" in message or "teardown" in message.lower():
            # Our framework is gone, and its tasks with it: start afresh next time.
            with self.lock:
                self.store.clear()
            log.error("sdk: framework was torn down: state cleared, exiting")
            os._exit(3)


def _with_templates(target: ServiceSpec, current: ServiceSpec) -> ServiceSpec:
    """The stored spec holds no template text: take it from the current spec's files."""
    import dataclasses

    pods = {}
    for name, pod in target.pods.items():
        cur = current.pods.get(name)
        tasks = {}
        for tname, t in pod.tasks.items():
            ct = cur.tasks.get(tname) if cur is not None else None
            texts = {c.name: c.text for c in ct.configs} if ct is not None else {}
            tasks[tname] = dataclasses.replace(
                t, configs=tuple(dataclasses.replace(c, text=texts.get(c.name)) for c in t.configs)
            )
        pods[name] = dataclasses.replace(pod, tasks=tasks)
    return dataclasses.replace(target, pods=pods)


# ------------------------------------------------------------------------------ HTTP


class ApiServer:
    """The plans API on its own thread and event loop."""

    def __init__(self, shell: SdkScheduler, host: str, port: int) -> None:
        self.shell, self.host, self.port = shell, host, port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="sdk-api", daemon=True)

    def start(self) -> ApiServer:
        self.thread.start()
        self.ready.wait(10)
        if self.error is not None:
            raise SdkError(f"cannot serve the API on {self.host}:{self.port}: {self.error}")
        return self

    def _run(self) -> None:
        from aiohttp import web

        from actors.sdk._api import SchedulerApi

        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(SchedulerApi(self.shell).app(), access_log=None)
        try:
            self.loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            self.loop.run_until_complete(site.start())
            if runner.addresses:
                self.port = int(runner.addresses[0][1])
        except BaseException as exc:
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()


# ------------------------------------------------------------------------------ main


def forget_if_torn_down(cluster: Any, store: SdkStore) -> None:
    """A framework torn down (``package uninstall``) killed its tasks: a scheduler
    installed again under the same name starts afresh (its old reservations, which no
    record claims any more, are wiped when their agents offer them), as dcos-commons'
    uninstall leaves nothing behind."""
    state = store.load()
    fid = state["framework"]
    if not fid:
        return
    try:
        doc = cluster.actor("master", timeout=10).ask(p.GetState("frameworks"), timeout=10)
    except Exception as exc:  # no answer: keep the state (the safe side)
        log.warning("sdk: cannot ask the master about framework %s: %s", fid, exc)
        return
    done = {str(f.get("id")) for f in (doc or {}).get("completed_frameworks") or []}
    if fid in done:
        log.warning("sdk: framework %s was torn down: starting afresh", fid)
        store.clear()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m actors.sdk.scheduler", description=__doc__.splitlines()[0]
    )
    ap.add_argument(
        "--spec", required=True, help="svc.yml (relative: the sandbox, else the project)"
    )
    ap.add_argument("--zk", default=os.environ.get("PYDCOS_ZK"), help="zk://host:port/pydcos")
    ap.add_argument("--keys", default=os.environ.get("PYDCOS_KEYS"), help="CURVE client keys dir")
    ap.add_argument("--insecure-dev", action="store_true", help="plain ZeroMQ (dev clusters)")
    ap.add_argument("--zk-credentials", default=os.environ.get("PYDCOS_ZK_CREDENTIALS"))
    ap.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT0") or 0))
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stdout,
    )
    args = parse_args(argv)
    path = resolve_spec(args.spec)
    try:
        text = path.read_text()
    except OSError as exc:
        print(f"sdk scheduler: --spec {args.spec}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        spec = load_spec(text, dict(os.environ), base_dir=path.parent)
    except SpecError as exc:
        print(f"sdk scheduler: {path}: {exc}", file=sys.stderr)
        return 2
    if not args.zk:
        print("sdk scheduler: --zk (or $PYDCOS_ZK) is required", file=sys.stderr)
        return 2
    if not (0 <= args.port <= 65535):
        print(f"sdk scheduler: --port {args.port} is not a port", file=sys.stderr)
        return 2
    if args.keys and not args.zk_credentials and (Path(args.keys) / "zk.credentials").exists():
        args.zk_credentials = str(Path(args.keys) / "zk.credentials")
    if args.keys and not (Path(args.keys) / "client.key_secret").exists():
        # The bundle of an --insecure-dev cluster: ZooKeeper credentials, no CURVE keys.
        log.info("sdk: %s holds no CURVE client keys: plain transport", args.keys)
        args.keys = None
    from runtime import connect, parse_zk_url
    from zk import close_quietly, resolve_credentials
    from zk import connect as zk_connect

    cluster = connect(
        args.zk,
        keys=args.keys,
        insecure_dev=args.insecure_dev or not args.keys,
        zk_credentials=args.zk_credentials,
        name=f"sdk-{spec.name}",
    )
    hosts, chroot = parse_zk_url(args.zk if args.zk.startswith("zk://") else "zk://" + args.zk)
    client = zk_connect(hosts, chroot=chroot, credentials=resolve_credentials(args.zk_credentials))
    clock = SystemClock()
    stop = threading.Event()
    try:
        store = SdkStore(client, spec.name)
        context = Context(
            python=sys.executable,
            user=getpass.getuser(),
            source=str(project_root()),
        )
        shell = SdkScheduler(spec, store, clock, context)
        forget_if_torn_down(cluster, store)
        api = ApiServer(shell, args.host, args.port).start()
        context.api_url = f"http://{args.host}:{api.port}"
        shell.restore()
        print(
            f"sdk scheduler {spec.name}: API on http://{args.host}:{api.port}/v1/plans", flush=True
        )
        info = p.FrameworkInfo(
            name=spec.name,
            roles=[spec.role],
            failover_timeout=FAILOVER_TIMEOUT,
            framework_id=shell.core.framework_id,
            user=getpass.getuser(),
            hostname=args.host,
            principal=spec.principal,
        )
        driver = SchedulerDriver(shell, info, cluster.node, name=f"sdk-{spec.name}")
        shell.driver = driver
        cluster.on_leader_change(lambda a: driver.master_changed(a and f"{a}/master"))
        driver.start()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        while not stop.wait(TICK):
            try:
                shell.tick()
            except StateError as exc:
                log.error("sdk: %s", exc)
        driver.stop(failover=True)
        return 0
    finally:
        close_quietly(client)
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
