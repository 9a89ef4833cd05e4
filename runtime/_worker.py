"""The worker process hosting ONE cluster actor (``python -m runtime.worker``).

Started by the placing framework as a native task on an agent (cgroup limits apply):

```
 python -m runtime.worker --framework tcp://H:P/cluster_actors --actor-id ID
        --incarnation N [--zk zk://...] [--keys DIR | --insecure-dev] [--host 127.0.0.1]
```

It joins the cluster transport as a listening node with two names:

* ``worker`` (control, a runtime Actor): ``WorkerAssignment`` builds the actor (class by
  import path or cloudpickle; the working dir fetched from the framework and put on
  ``sys.path``; ``__init__`` then ``__restore__(checkpoint)`` when one exists);
  ``StopWorker`` exits.
* ``actor`` (calls): ``ActorCall`` / ``ActorTell`` served without a pykka thread per
  call — sync methods on one actor thread (or a pool of ``max_concurrency`` threads),
  and, when the class has ``async def`` methods, every method on one asyncio loop
  (``max_concurrency`` coroutines at a time), as Ray's async actors.

After a call, an actor defining ``__checkpoint__`` has the pickled state saved by the
framework (``SaveCheckpoint``) *before* the reply leaves when it changed: a call that
returned is durable.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import queue
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from runtime._actor_records import (
    FRAMEWORK_ACTOR,
    WORKER_ACTOR,
    ActorCall,
    ActorTell,
    CallFailed,
    GetWorkingDir,
    PingWorker,
    RegisterWorker,
    SaveCheckpoint,
    StopWorker,
    WorkerAssignment,
    WorkerFailed,
    WorkerReady,
    WorkerStatus,
)
from runtime._actor_serial import load_class, loads
from runtime._cluster_actors import ActorsMixin
from runtime.errors import UnknownMessage

log = logging.getLogger("runtime.worker")

CONTROL_ACTOR = "worker"


def call_failed(exc: BaseException, tb: str) -> CallFailed:
    """A method's exception as a reply (the pickled exception when it pickles)."""
    try:
        blob = pickle.dumps(exc, protocol=5)
        pickle.loads(blob)
    except Exception:
        blob = b""
    return CallFailed(type(exc).__name__, str(exc), tb, blob)


def _trim_traceback(exc: BaseException) -> str:
    """The traceback from the user's method down (the worker's frames dropped)."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


class _Inbox:
    """Duck-typed actor inbox the node hands transport messages to (I/O thread)."""

    __slots__ = ("_host",)

    def __init__(self, host: ActorHost) -> None:
        self._host = host

    def hand_over(self, envelope: Any) -> None:
        self._host.dispatch(envelope.message, envelope.reply_to)

    put = hand_over


class ActorHost:
    """Registered as ``actor`` on the worker node: serves calls to the one instance.

    Not a runtime Actor: an ask's reply slot is kept until the method (maybe a
    coroutine) finishes, so async methods and a thread pool can answer out of order.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.actor_inbox = _Inbox(self)
        self._rt_dead = False
        self._rt_name: str | None = WORKER_ACTOR
        self.instance: Any = None
        self.actor_id = ""
        self.methods: frozenset[str] = frozenset()
        self.asyncs: frozenset[str] = frozenset()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pool: Any = None  # ThreadPoolExecutor when max_concurrency > 1
        self._loop: Any = None  # asyncio loop when the class has async methods
        self._sem: Any = None
        self._ckpt_lock = threading.Lock()
        self._ckpt_last: bytes | None = None
        self._ckpt_seq = 0
        self.max_checkpoint = 1 << 20
        self.calls = 0

    # runtime.Node compatibility (it treats registered objects as actors)
    def _rt_drain(self) -> None:
        return None

    def __str__(self) -> str:
        return f"ActorHost({self.actor_id})"

    def start(
        self,
        instance: Any,
        actor_id: str,
        methods: list[str],
        asyncs: list[str],
        max_concurrency: int,
        checkpoint: bytes | None,
    ) -> None:
        self.instance = instance
        self.actor_id = actor_id
        self.methods = frozenset(methods)
        self.asyncs = frozenset(asyncs)
        self._ckpt_last = checkpoint
        if self.asyncs:
            import asyncio

            loop = asyncio.new_event_loop()
            self._loop = loop
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                self._sem = asyncio.Semaphore(max(1, max_concurrency))
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="actor-loop", daemon=True).start()
            ready.wait(5)
        elif max_concurrency > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="actor")
        else:
            threading.Thread(target=self._serve, name="actor", daemon=True).start()

    # -- dispatch (transport I/O thread: never run user code here) ---------------------

    def dispatch(self, message: Any, reply: Any) -> None:
        t = type(message)
        if t is ActorCall or t is ActorTell:
            if message.actor_id != self.actor_id or self.instance is None:
                if reply is not None:
                    reply.set(
                        CallFailed(
                            "WrongActor",
                            f"this worker hosts {self.actor_id or 'no actor yet'}, "
                            f"not {message.actor_id}",
                        )
                    )
                return
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._start_async, message, reply)
            elif self._pool is not None:
                self._pool.submit(self._run, message, reply)
            else:
                self._queue.put((message, reply))
            return
        if reply is not None:
            reply.set_exception(UnknownMessage("actor host", message))

    def _serve(self) -> None:
        get = self._queue.get
        run = self._run
        while True:
            message, reply = get()
            run(message, reply)

    # -- running methods ---------------------------------------------------------------

    def _run(self, message: Any, reply: Any) -> None:
        try:
            args, kwargs = loads(message.payload)
            result = getattr(self.instance, message.method)(*args, **kwargs)
            out: Any = pickle.dumps(result, protocol=5)
        except Exception as exc:
            out = self._failure(message, exc)
        except BaseException as exc:  # sys.exit() in a method: the actor exits, as OTP's
            self._exit(message, exc, reply)
            return
        self._finish(out, reply)

    def _exit(self, message: Any, exc: BaseException, reply: Any) -> None:
        """The method raised SystemExit (or another BaseException): answer the caller,
        then end the worker with that code (0: a normal exit, for ``transient``)."""
        self._finish(self._failure(message, exc), reply)
        code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 1
        log.warning("%s raised %s: the worker exits (%d)", message.method, type(exc).__name__, code)
        self.worker.stop(code)

    def _failure(self, message: Any, exc: BaseException) -> CallFailed:
        if message.method not in self.methods and not hasattr(self.instance, message.method):
            return CallFailed("AttributeError", f"no method {message.method!r}")
        if isinstance(exc, pickle.PicklingError) or "pickle" in type(exc).__name__.lower():
            return CallFailed(
                "SerializationError", f"the result of {message.method} cannot be pickled: {exc}"
            )
        return call_failed(exc, _trim_traceback(exc))

    def _finish(self, out: Any, reply: Any) -> None:
        self.calls += 1
        if self._ckpt_enabled():
            self._checkpoint()
        if reply is not None:
            reply.set(out)
        elif type(out) is CallFailed:
            log.warning(
                "one-way call failed: %s: %s\n%s", out.type_name, out.message, out.traceback
            )

    def _start_async(self, message: Any, reply: Any) -> None:
        import asyncio

        asyncio.ensure_future(self._run_async(message, reply))

    async def _run_async(self, message: Any, reply: Any) -> None:
        import asyncio

        assert self._sem is not None
        async with self._sem:
            try:
                args, kwargs = loads(message.payload)
                fn = getattr(self.instance, message.method)
                result = fn(*args, **kwargs)
                if asyncio.iscoroutine(result):
                    result = await result
                out: Any = pickle.dumps(result, protocol=5)
            except Exception as exc:
                out = self._failure(message, exc)
            except BaseException as exc:  # not into the loop: it would stop serving
                self._exit(message, exc, reply)
                return
        if self._ckpt_enabled():
            await asyncio.get_running_loop().run_in_executor(None, self._finish, out, reply)
        else:
            self._finish(out, reply)

    # -- checkpoints -------------------------------------------------------------------

    def _ckpt_enabled(self) -> bool:
        return hasattr(self.instance, "__checkpoint__")

    def _checkpoint(self) -> None:
        with self._ckpt_lock:
            try:
                data = pickle.dumps(self.instance.__checkpoint__(), protocol=5)
            except Exception:
                log.exception("__checkpoint__ failed")
                return
            if data == self._ckpt_last:
                return
            if len(data) > self.max_checkpoint:
                log.warning(
                    "checkpoint of %d bytes is over the %d-byte bound: not saved",
                    len(data),
                    self.max_checkpoint,
                )
                return
            self._ckpt_seq += 1
            try:
                self.worker.framework().ask(
                    SaveCheckpoint(self.actor_id, self.worker.incarnation, self._ckpt_seq, data),
                    timeout=5.0,
                )
            except Exception as exc:
                log.warning("checkpoint not saved: %s", exc)
                return
            self._ckpt_last = data


class Worker(ActorsMixin):
    """The process: node, control actor, framework address, leader watch. Also the
    context of handles passed into the actor (it may spawn and call others too)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.actor_id: str = args.actor_id
        self.incarnation: int = args.incarnation
        self.framework_address: str = args.framework
        self.task_id: str = (
            args.task_id or os.environ.get("PYDCOS_TASK_ID") or os.environ.get("MESOS_TASK_ID", "")
        )
        self.node: Any = None
        self.host = ActorHost(self)
        self.ready = False
        self._ready_event = threading.Event()
        self.done = threading.Event()
        self.exit_code = 0
        self._leader_client: Any = None
        self._callbacks: list[Any] = []

    # -- context for handles passed into the actor (runtime._cluster_actors.Context) -----

    def framework(self) -> Any:
        return self.node.ref(self.framework_address)

    def actor(self, name: str, timeout: float = 10.0) -> Any:
        if "://" in name:
            return self.node.ref(name)
        base = self.framework_address.rsplit("/", 1)[0]
        return self.node.ref(f"{base}/{name}")

    def on_leader_change(self, callback: Any) -> None:
        self._callbacks.append(callback)

    # -- lifecycle ---------------------------------------------------------------------

    def security(self) -> Any:
        from transport import Security

        if self.args.insecure_dev:
            return Security.plain()
        keys = Path(self.args.keys or os.environ.get("PYDCOS_KEYS") or Path.home() / ".pydcos/keys")
        return Security.curve(keys / "cluster.key_secret", keys / "authorized_keys")

    def start(self) -> None:
        from runtime._actor import Actor
        from runtime._node import Node

        self.node = Node(f"worker-{self.actor_id or 'warm'}")
        self.node.listen(f"tcp://{self.args.host}:0", security=self.security())
        self.node._register_actor(WORKER_ACTOR, self.host)  # type: ignore[arg-type]
        worker = self

        class Control(Actor):
            def receive(self, message: Any) -> Any:
                if type(message) is WorkerAssignment:
                    worker.assign(message)
                elif type(message) is StopWorker:
                    log.info("stop: %s", message.reason)
                    worker.stop(0)
                elif type(message) is PingWorker:
                    return WorkerStatus(
                        worker.actor_id, worker.incarnation, worker.ready, worker.host.calls
                    )
                else:
                    raise UnknownMessage("worker", message)
                return None

        self.node.spawn(Control, name=CONTROL_ACTOR)
        from runtime._cluster_actors import set_context

        set_context(self)  # type: ignore[arg-type]
        self.register()
        if self.args.zk:
            threading.Thread(target=self._watch_leader, daemon=True, name="leader").start()

    def register(self) -> None:
        self.framework().tell(
            RegisterWorker(
                actor_id=self.actor_id,
                incarnation=self.incarnation,
                address=self.node.actor_address(WORKER_ACTOR),
                control=self.node.actor_address(CONTROL_ACTOR),
                pid=os.getpid(),
                task_id=self.task_id,
                ready=self.ready,
            )
        )

    def _watch_leader(self) -> None:
        from runtime._connect import parse_zk_url
        from zk import LeaderWatch
        from zk import connect as zk_connect

        # Not on the spawn's critical path: importing kazoo and connecting cost
        # tens of ms of CPU; the framework address we were given is good until a
        # leader change, so follow changes only once the actor is up.
        self._ready_event.wait(2.0)
        hosts, chroot = parse_zk_url(self.args.zk)
        try:
            client = zk_connect(hosts, chroot=chroot, session_timeout=10.0, connect_timeout=10.0)
        except Exception as exc:
            log.warning("no ZooKeeper for leader changes: %s", exc)
            return
        self._leader_client = client

        def changed(leader: Any) -> None:
            if leader is None:
                return
            address = f"{leader.address}/{FRAMEWORK_ACTOR}"
            if address == self.framework_address:
                return
            log.info("new leader: framework at %s", address)
            self.framework_address = address
            try:
                self.register()
            except Exception as exc:
                log.warning("re-register: %s", exc)
            for cb in list(self._callbacks):
                try:
                    cb(leader.address)
                except Exception:
                    log.exception("leader callback")

        LeaderWatch(client, changed)

    def assign(self, a: WorkerAssignment) -> None:
        if self.ready:
            if a.actor_id != self.actor_id:
                log.warning("already hosting %s: ignoring %s", self.actor_id, a.actor_id)
            return
        self.actor_id, self.incarnation = a.actor_id, a.incarnation
        self.host.max_checkpoint = a.max_checkpoint_bytes
        spec = a.spec
        try:
            if spec.working_dir:
                self._install_working_dir(spec.working_dir, spec.python_path)
            cls = load_class(spec.class_name, spec.class_blob)
        except BaseException as exc:
            self._failed(
                f"class {spec.class_name} cannot be loaded on the agent: "
                f"{type(exc).__name__}: {exc}",
                exc,
                permanent=True,
            )
            return
        try:
            args, kwargs = loads(spec.args_blob)
            instance = cls(*args, **kwargs)
            if a.checkpoint is not None and hasattr(instance, "__restore__"):
                instance.__restore__(loads(a.checkpoint))
        except BaseException as exc:
            self._failed(
                f"{spec.class_name}.__init__ raised {type(exc).__name__}: {exc}",
                exc,
                permanent=True,
            )
            return
        self.host.start(
            instance,
            a.actor_id,
            spec.methods,
            spec.async_methods,
            spec.max_concurrency,
            a.checkpoint,
        )
        self.ready = True
        address = self.node.actor_address(WORKER_ACTOR)
        self.framework().tell(WorkerReady(a.actor_id, a.incarnation, address))
        self._ready_event.set()
        log.info(
            "actor %s (%s) #%d ready at %s", a.actor_id, spec.class_name, a.incarnation, address
        )

    def _failed(self, message: str, exc: BaseException, *, permanent: bool) -> None:
        log.error("%s", message)
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            self.framework().tell(
                WorkerFailed(self.actor_id, self.incarnation, message, tb, permanent)
            )
        except Exception as err:
            log.warning("WorkerFailed not sent: %s", err)
        self.stop(3)

    def _install_working_dir(self, sha: str, python_path: list[str]) -> None:
        import hashlib
        import io
        import tarfile

        target = Path(os.environ.get("MESOS_SANDBOX") or os.getcwd()) / "working_dir" / sha[:16]
        if not target.exists():
            data = self.framework().ask(GetWorkingDir(sha), timeout=30.0)
            if not isinstance(data, bytes) or hashlib.sha256(data).hexdigest() != sha:
                raise ImportError(f"working dir {sha[:12]}: bad content from the framework")
            tmp = target.with_name(target.name + ".tmp")
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, filter="data")
                else:  # Python < 3.11.4: refuse what the data filter would
                    for m in tar.getmembers():
                        if (
                            not (m.isfile() or m.isdir())
                            or m.name.startswith("/")
                            or ".." in Path(m.name).parts
                        ):
                            raise ImportError(f"working dir {sha[:12]}: unsafe member {m.name!r}")
                    tar.extractall(tmp)
            tmp.rename(target)
        for entry in python_path or ["."]:
            path = str((target / entry).resolve())
            if path not in sys.path:
                sys.path.insert(0, path)

    def stop(self, code: int) -> None:
        self.exit_code = code
        self.done.set()


def _default_host() -> str:
    """$HOST when it is an IP address (the agent's own, on its host with `cluster up
    --hosts`), else loopback: an agent started with a name for a hostname (`--hostname
    agent-1`) sets HOST to a name it may not resolve, and a transport can't bind it."""
    import ipaddress

    host = os.environ.get("HOST", "")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"
    return host


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m runtime.worker", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--framework", required=True, help="tcp://HOST:PORT/cluster_actors")
    ap.add_argument("--actor-id", default="", help="the actor to host ('' = warm worker)")
    ap.add_argument("--incarnation", type=int, default=1)
    ap.add_argument("--zk", default="", help="zk://... to follow leader changes")
    ap.add_argument("--keys", default=None, help="cluster keys dir (CURVE)")
    ap.add_argument("--insecure-dev", action="store_true")
    ap.add_argument("--host", default=_default_host(), help="address to listen on")
    ap.add_argument("--task-id", default="")
    args = ap.parse_args(argv)
    if "://" not in args.framework or not args.framework.rsplit("/", 1)[-1]:
        ap.error(f"--framework: {args.framework!r} is not tcp://host:port/name")
    if args.incarnation < 1:
        ap.error(f"--incarnation: {args.incarnation} must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("PYDCOS_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args = parse_args(argv)
    import cloudpickle  # noqa: F401  (classes from __main__ need it: load it while idle)

    worker = Worker(args)
    try:
        worker.start()
    except Exception as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    worker.done.wait()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        worker.node.shutdown(1.0)
    finally:
        os._exit(worker.exit_code)
    return worker.exit_code
