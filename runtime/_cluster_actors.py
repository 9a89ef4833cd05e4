"""Users' actors on the cluster, Ray's actor API (issue 27): the script side.

```
 @remote(cpus=0.5, mem=128, max_restarts=5)
 class Counter: ...

 with connect() as cluster:
     c = cluster.spawn(Counter, 10, name="counter")   # ActorHandle (asks the framework)
     c.incr(5).result()                               # ActorFuture: ActorCall -> worker
     c.incr.tell(1)                                   # one-way
     await c.incr(1)                                  # futures are awaitable
     cluster.wait([c.incr() for _ in range(1000)])
     same = cluster.get_actor("counter")              # from any script
     down = monitor(c)                                # .result() -> Down when it ends
     cluster.kill(c)
```

Calls go straight from the caller's node to the worker's node (``tcp://h:p/actor``);
only spawning, naming, killing and the state changes go through the placing framework
(``cluster_actors`` on the leading master). A handle watches its actor's state: when
the framework reports the worker gone, calls in flight fail with ``ActorRestarting``,
and the next call waits for the new incarnation (``WaitActor``) and goes there.

A handle pickles as (actor id, name, methods, last address): passed to another actor
it rebuilds itself on that node through the process' *context* (the script's
``Cluster``, or the worker hosting the actor), see ``set_context``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from runtime._actor_records import (
    FRAMEWORK_ACTOR,
    LIFETIMES,
    ActorCall,
    ActorEvent,
    ActorInfo,
    ActorList,
    ActorSpec,
    ActorTell,
    CallFailed,
    GetActor,
    KillActor,
    ListActors,
    OwnerGone,
    PutWorkingDir,
    SpawnActor,
    Supervise,
    SupervisionInfo,
    WaitActor,
    WatchActors,
)
from runtime._actor_serial import (
    ActorError,
    SerializationError,
    class_payload,
    dumps_call,
    loads,
    method_table,
)
from runtime._clock import real_now
from runtime._messages import Down
from runtime.errors import ActorDead, ActorNotFound, AskTimeout, DuplicateName
from transport import RemoteError

__all__ = [
    "ActorError",
    "ActorFuture",
    "ActorHandle",
    "ActorMethodError",
    "ActorRestarting",
    "ActorStopped",
    "ActorsMixin",
    "Child",
    "RemoteClass",
    "SerializationError",
    "Supervision",
    "monitor",
    "remote",
    "set_context",
]

log = logging.getLogger("runtime.cluster_actors")

TERMINAL = ("STOPPED", "FAILED")
DEFAULT_CALL_TIMEOUT = 600.0
"""How long a call may stay unanswered before its bookkeeping is dropped (``result()``
with a shorter timeout raises ``AskTimeout`` sooner)."""
OOM_REASON = "REASON_CONTAINER_LIMITATION_MEMORY"


# -- errors -------------------------------------------------------------------------------


class ActorRestarting(ActorError):
    """The actor's worker died with this call in flight; the handle reaches the new
    incarnation on the next call (the call itself may or may not have run)."""


class ActorStopped(ActorError):
    """The actor is gone for good (killed, restarts exhausted, owner gone, unplaceable)."""

    def __init__(self, message: str, info: ActorInfo | None = None) -> None:
        super().__init__(message)
        self.info = info


class ActorMethodError(RemoteError, ActorError):
    """The method raised on the worker. ``remote_traceback`` is the worker's traceback,
    ``cause`` the original exception when it could be unpickled. The raised object is
    also an instance of the original type when that type allows it (``except
    ValueError`` still works), as Ray's RayTaskError does."""

    remote_traceback: str = ""
    cause: BaseException | None = None
    actor: str = ""

    def __str__(self) -> str:
        head = f"{self.type_name}: {self.message}"
        if self.remote_traceback:
            return f"{head}\n\nRemote traceback (actor {self.actor}):\n{self.remote_traceback}"
        return head

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_method_error, (self.type_name, self.message, self.remote_traceback))


def _rebuild_method_error(type_name: str, message: str, tb: str) -> ActorMethodError:
    err = ActorMethodError(type_name, message)
    err.remote_traceback = tb
    return err


_ERROR_TYPES: dict[type, type] = {}


def method_error(failed: CallFailed, actor: str) -> ActorMethodError:
    """The exception a caller sees for a ``CallFailed`` reply."""
    cause: BaseException | None = None
    if failed.exc_blob:
        try:
            cause = loads(failed.exc_blob)
        except Exception:
            cause = None
    err: ActorMethodError | None = None
    base = type(cause) if isinstance(cause, Exception) else None
    if base is not None and not issubclass(base, ActorMethodError):
        dyn = _ERROR_TYPES.get(base)
        if dyn is None:
            try:
                dyn = type(f"{base.__name__}FromActor", (ActorMethodError, base), {})
                dyn.__module__ = __name__
            except TypeError:
                dyn = ActorMethodError
            _ERROR_TYPES[base] = dyn
        try:
            err = dyn(failed.type_name, failed.message)
        except Exception:
            err = None
        if err is not None and cause is not None:
            err.args = cause.args if dyn is not ActorMethodError else err.args
    if err is None:
        err = ActorMethodError(failed.type_name, failed.message)
    err.type_name = failed.type_name
    err.message = failed.message
    err.remote_traceback = localise_traceback(failed.traceback)
    err.cause = cause
    err.actor = actor
    return err


_DYNAMIC = re.compile(r'^(  File )"<dynamic-code>", line (\d+), in (.+)$')


def localise_traceback(tb: str) -> str:
    """cloudpickle names the code of ``__main__`` classes ``<dynamic-code>``; their line
    numbers are the script's, so point such frames back at this script, with the line."""
    if "<dynamic-code>" not in tb:
        return tb
    import linecache

    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if not script:
        return tb
    out = []
    for line in tb.splitlines():
        m = _DYNAMIC.match(line)
        if m is None:
            out.append(line)
            continue
        out.append(f'{m.group(1)}"{script}", line {m.group(2)}, in {m.group(3)}')
        source = linecache.getline(script, int(m.group(2))).strip()
        if source:
            out.append(f"    {source}")
    return "\n".join(out) + ("\n" if tb.endswith("\n") else "")


def _framework_error(exc: BaseException, what: str) -> BaseException:
    """Framework replies' RemoteErrors as the runtime's own types."""
    if isinstance(exc, RemoteError):
        if exc.type_name == "DuplicateName":
            return DuplicateName(exc.message)
        if exc.type_name == "ActorNotFound":
            return ActorNotFound(exc.message)
        if exc.type_name in ("ValueError", "TypeError"):
            return ValueError(f"{what}: {exc.message}")
        return ActorError(f"{what}: {exc.type_name}: {exc.message}")
    if isinstance(exc, ActorNotFound):
        return ActorError(
            f"{what}: the cluster has no '{FRAMEWORK_ACTOR}' service on its leader ({exc})"
        )
    return exc


def end_message(info: ActorInfo) -> str:
    """Why an incarnation ended, for error messages (an OOM kill says so)."""
    label = info.name or info.actor_id
    why = info.message or info.state.lower()
    if info.reason == OOM_REASON:
        why = (
            f"out of memory: the worker passed its {info.mem:g} MB limit and was killed "
            f"({OOM_REASON})" + (f": {info.message}" if info.message else "")
        )
    elif info.reason and info.reason not in why:
        why = f"{why} ({info.reason})"
    return f"actor {label!r} ({info.class_name}): {why}"


# -- the process' context (script or worker) ------------------------------------------


class Context(Protocol):
    """What handles need from the process they live in."""

    node: Any

    def framework_ask(self, message: Any, timeout: float = 10.0) -> Any: ...

    def watch(self, handle: ActorHandle) -> None: ...


_context: Context | None = None
_context_lock = threading.Lock()


def set_context(ctx: Context | None) -> None:
    """The context unpickled handles bind to (the last connected Cluster, or the worker)."""
    global _context
    with _context_lock:
        _context = ctx


def current_context() -> Context:
    ctx = _context
    if ctx is None:
        raise ActorError("no cluster connection in this process: use runtime.connect() first")
    return ctx


# -- remote classes -------------------------------------------------------------------


_OPTION_NAMES = (
    "cpus",
    "mem",
    "disk",
    "max_restarts",
    "restart",
    "max_concurrency",
    "constraints",
    "role",
)


class RemoteClass:
    """What ``@remote`` makes of a class: the class plus its placement options."""

    def __init__(self, cls: type, options: dict[str, Any]) -> None:
        if not isinstance(cls, type):
            raise TypeError(f"@remote applies to classes, not {type(cls).__name__}")
        self.cls = cls
        self.options_ = dict(options)
        self.methods, self.async_methods = method_table(cls)
        self.__name__ = cls.__name__
        self.__qualname__ = cls.__qualname__
        self.__module__ = cls.__module__
        self.__doc__ = cls.__doc__

    def options(self, **overrides: Any) -> RemoteClass:
        unknown = sorted(set(overrides) - set(_OPTION_NAMES))
        if unknown:
            raise TypeError(f"{self.__name__}.options: unknown option(s) {unknown}")
        return RemoteClass(self.cls, {**self.options_, **overrides})

    def child(self, *args: Any, **spawn_kwargs: Any) -> Child:
        """A child spec for ``cluster.supervise(children=[...])``."""
        return Child(self, args, spawn_kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"{self.__name__} is a remote class: create it with cluster.spawn({self.__name__}, ...)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (RemoteClass, (self.cls, self.options_))

    def __repr__(self) -> str:
        return f"<remote class {self.__module__}.{self.__qualname__}>"


def remote(
    cls: type | None = None,
    *,
    cpus: float = 0.1,
    mem: float = 64.0,
    disk: float = 0.0,
    max_restarts: int = 3,
    restart: str = "permanent",
    max_concurrency: int = 1,
    constraints: Sequence[Sequence[str]] = (),
    role: str = "*",
) -> Any:
    """``@remote`` or ``@remote(cpus=..., mem=MB, max_restarts=..., restart=...)``."""
    options = {
        "cpus": cpus,
        "mem": mem,
        "disk": disk,
        "max_restarts": max_restarts,
        "restart": restart,
        "max_concurrency": max_concurrency,
        "constraints": [list(c) for c in constraints],
        "role": role,
    }
    if cls is not None:
        return RemoteClass(cls, options)
    return lambda c: RemoteClass(c, options)


class Child:
    """One child of ``cluster.supervise``: what to spawn and how."""

    def __init__(self, rc: RemoteClass | type, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.rc = rc
        self.args = args
        self.kwargs = kwargs


def _as_remote(cls: Any) -> RemoteClass:
    if isinstance(cls, RemoteClass):
        return cls
    if isinstance(cls, type):
        return RemoteClass(cls, {})
    raise TypeError(f"spawn: {cls!r} is not a class")


# -- working dir (Ray's working_dir) ---------------------------------------------------


_WD_CACHE: dict[str, tuple[str, bytes]] = {}
_WD_SKIP = {".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".tox"}
MAX_WORKING_DIR = 32 << 20


def pack_dir(
    directory: Path, prefix: str = "", extra: Sequence[tuple[Path, str]] = ()
) -> tuple[str, bytes]:
    """(sha256, tar.gz) of ``directory``'s files under ``prefix/`` (plus the ``extra``
    (file, name in the tarball) pairs, e.g. parent packages' ``__init__.py``),
    deterministic (sorted, mtime 0, no owners), so the same
    code has the same address."""
    import hashlib
    import io
    import tarfile

    key = f"{directory.resolve()}|{prefix}|{[str(e) for e in extra]}"
    if key in _WD_CACHE:
        return _WD_CACHE[key]
    buf = io.BytesIO()

    def add(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
        info = tar.gettarinfo(str(path), arcname=arcname)
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        if info.isfile():
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
        if buf.tell() > MAX_WORKING_DIR:
            raise SerializationError(
                f"working_dir {directory} is larger than {MAX_WORKING_DIR >> 20} MB"
            )

    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
        for path, arcname in extra:
            add(tar, path, arcname)
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d not in _WD_SKIP)
            for f in sorted(files):
                if f.endswith((".pyc", ".pyo")):
                    continue
                path = Path(root) / f
                rel = str(path.relative_to(directory))
                add(tar, path, f"{prefix}/{rel}" if prefix else rel)
    data = buf.getvalue()
    result = (hashlib.sha256(data).hexdigest(), data)
    _WD_CACHE[key] = result
    return result


INSTALLED_TOPS = frozenset({"runtime", "actors", "transport", "zk", "console"})
"""pydcos' own packages: every worker imports them from its installation."""


def needs_working_dir(cls: type) -> tuple[Path, str, list[tuple[Path, str]]] | None:
    """What to ship so the worker can import ``cls``: (directory, its name in the
    tarball, parent packages' ``__init__.py`` files). A top-level module beside the
    script: the script's directory (Ray's working_dir); a module in a package: its own
    package directory under its dotted path, with the parents' ``__init__.py`` only.
    None for ``__main__`` classes (they travel by value) and installed code
    (site-packages, the stdlib, pydcos)."""
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return None
    parts = cls.__module__.split(".")
    if parts[0] in INSTALLED_TOPS:
        return None
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        if str(path).startswith(str(Path(prefix).resolve()) + os.sep):
            return None
    package_parts = parts if path.name == "__init__.py" else parts[:-1]
    if not package_parts:
        return path.parent, "", []
    package = path.parent
    root = package
    for _ in package_parts:
        root = root.parent
    inits = [
        (
            root.joinpath(*package_parts[:i], "__init__.py"),
            "/".join([*package_parts[:i], "__init__.py"]),
        )
        for i in range(1, len(package_parts))
    ]
    # the tarball holds root-relative paths: ``package`` goes in as a/b/c
    return package, "/".join(package_parts), [(p, a) for p, a in inits if p.exists()]


# -- futures --------------------------------------------------------------------------


class ActorFuture:
    """The pending result of one method call. ``result(timeout)`` returns it or raises
    (``ActorMethodError`` with the remote traceback, ``ActorRestarting``,
    ``ActorStopped``, ``AskTimeout``); ``await fut`` works in asyncio."""

    __slots__ = ("_ask", "_done_value", "_error", "_handle", "_method", "_resolved", "_value")

    def __init__(self, handle: ActorHandle, method: str, ask: Any) -> None:
        self._handle = handle
        self._method = method
        self._ask = ask
        self._resolved = False
        self._value: Any = None
        self._error: BaseException | None = None

    @classmethod
    def failed(cls, handle: ActorHandle, method: str, error: BaseException) -> ActorFuture:
        fut = cls(handle, method, None)
        fut._resolved = True
        fut._error = error
        return fut

    def done(self) -> bool:
        return self._resolved or (self._ask is not None and self._ask.done())

    def _fail_restarting(self, error: BaseException) -> None:
        ask = self._ask
        if ask is not None and not ask.done():
            ask.set_exception(error)

    def result(self, timeout: float | None = None) -> Any:
        if not self._resolved:
            try:
                reply = self._ask.get(timeout if timeout is not None else DEFAULT_CALL_TIMEOUT)
            except AskTimeout:
                raise AskTimeout(
                    f"{self._handle._label}.{self._method}: no reply within {timeout}s"
                ) from None
            except ActorRestarting as exc:
                self._set(None, exc)
            except ActorDead as exc:
                self._set(None, self._handle._lost(exc))
            except RemoteError as exc:
                self._set(None, self._handle._call_error(exc))
            else:
                if type(reply) is bytes:
                    self._set(loads(reply), None)
                elif type(reply) is CallFailed:
                    if reply.type_name == "WrongActor":
                        self._set(None, self._handle._lost(ActorDead(reply.message)))
                    else:
                        self._set(None, method_error(reply, self._handle._label))
                else:
                    self._set(None, ActorError(f"unexpected reply {type(reply).__name__}"))
        if self._error is not None:
            raise self._error
        return self._value

    def _set(self, value: Any, error: BaseException | None) -> None:
        self._value, self._error, self._resolved = value, error, True
        self._ask = None

    def exception(self, timeout: float | None = None) -> BaseException | None:
        try:
            self.result(timeout)
        except AskTimeout:
            raise
        except BaseException as exc:
            return exc
        return None

    def __await__(self) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        return loop.run_in_executor(None, self.result).__await__()

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"<ActorFuture {self._handle._label}.{self._method} {state}>"


class _Method:
    """``handle.incr``: call it for a future, ``.tell()`` for a one-way call."""

    __slots__ = ("_handle", "_name")

    def __init__(self, handle: ActorHandle, name: str) -> None:
        self._handle = handle
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> ActorFuture:
        return self._handle._call(self._name, args, kwargs)

    def remote(self, *args: Any, **kwargs: Any) -> ActorFuture:
        """Ray spelling of a call."""
        return self._handle._call(self._name, args, kwargs)

    def tell(self, *args: Any, **kwargs: Any) -> None:
        self._handle._tell(self._name, args, kwargs)

    def __repr__(self) -> str:
        return f"<actor method {self._handle._label}.{self._name}>"


# -- handles --------------------------------------------------------------------------


class ActorHandle:
    """A cluster actor: method calls return ``ActorFuture``s. Survives restarts and
    re-placement (follows the actor id, not the worker). Picklable."""

    def __init__(self, info: ActorInfo, ctx: Context | None = None) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._info = info
        self._id = info.actor_id
        self._label = info.name or info.actor_id
        self._methods = frozenset(info.methods)
        self._bound: dict[str, _Method] = {}
        self._ref: Any = None
        self._incarnation = 0
        self._inflight: list[ActorFuture] = []
        self._prune_at = 256
        self._changed = threading.Condition(self._lock)
        self._watched = False
        self._monitors: list[DownFuture] = []
        self._apply(info)

    # -- state ---------------------------------------------------------------------

    @property
    def actor_id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def namespace(self) -> str:
        return self._info.namespace

    @property
    def info(self) -> ActorInfo:
        """The last state the framework reported (refresh with ``cluster.get_actor``)."""
        return self._info

    @property
    def methods(self) -> frozenset[str]:
        return self._methods

    def _context(self) -> Context:
        if self._ctx is None:
            self._ctx = current_context()
        if not self._watched:
            self._watched = True
            self._ctx.watch(self)
        return self._ctx

    def _apply(self, info: ActorInfo) -> None:
        """A newer state of the actor (reply or ActorEvent)."""
        stale: list[ActorFuture] = []
        monitors: list[DownFuture] = []
        with self._lock:
            if info.incarnation < self._info.incarnation:
                return
            old = self._info
            self._info = info
            if info.state == "RUNNING" and info.address:
                if info.incarnation != self._incarnation or self._ref is None:
                    if self._ref is not None:  # a new incarnation we never saw restart
                        stale, self._inflight = self._inflight, []
                    self._ref = None
                    self._incarnation = info.incarnation
            elif info.state != "RUNNING" and (self._ref is not None or info.state in TERMINAL):
                self._ref = None
                stale, self._inflight = self._inflight, []
            if info.state in TERMINAL:
                monitors, self._monitors = self._monitors, []
            self._changed.notify_all()
        if stale:
            if info.state in TERMINAL:
                err: ActorError = ActorStopped(end_message(info), info)
            else:
                err = ActorRestarting(end_message(info) + " — restarting")
            for fut in stale:
                fut._fail_restarting(err)
        for m in monitors:
            m._deliver(info)
        del old

    def _current_ref(self) -> Any:
        """The worker's ref for the current incarnation, waiting for it if needed."""
        ref = self._ref
        if ref is not None:
            return ref
        ctx = self._context()
        deadline = real_now() + DEFAULT_CALL_TIMEOUT
        while True:
            info = self._info
            if info.state in TERMINAL:
                raise ActorStopped(end_message(info), info)
            if info.state == "RUNNING" and info.address and info.incarnation >= self._incarnation:
                with self._lock:
                    if self._ref is None and self._info is info:
                        self._ref = ctx.node.ref(info.address)
                        self._incarnation = info.incarnation
                    if self._ref is not None:
                        return self._ref
                continue
            if real_now() > deadline:
                raise AskTimeout(f"{self._label}: not running after {DEFAULT_CALL_TIMEOUT}s")
            want = max(info.incarnation, 1)
            if info.state == "RESTARTING":
                want = info.incarnation + 1
            try:
                new = ctx.framework_ask(WaitActor(self._id, want, 10.0), timeout=15.0)
            except (ActorDead, AskTimeout, RemoteError, ActorNotFound) as exc:
                log.debug("WaitActor %s: %s", self._id, exc)
                time.sleep(0.2)
                continue
            if isinstance(new, ActorInfo):
                self._apply(new)
                if new.state not in TERMINAL and not (
                    new.state == "RUNNING" and new.incarnation >= want
                ):
                    # The framework answered before it was ready: its ActorEvent
                    # (WatchActors) wakes us as soon as the state changes.
                    self._wait_change(new, 0.25)

    def _wait_change(self, seen: ActorInfo, timeout: float) -> None:
        """Sleep until the actor's state is newer than ``seen`` (or ``timeout``)."""
        with self._changed:
            self._changed.wait_for(lambda: self._info is not seen, timeout)

    def _lost(self, exc: BaseException) -> BaseException:
        """The worker stopped answering (node down / wrong actor): restarting."""
        with self._lock:
            self._ref = None
            inc = self._incarnation
        if self._info.state == "RUNNING" and self._info.incarnation == inc:
            # Until the framework says more, ask for the next incarnation.
            self._info = dataclasses.replace(self._info, state="RESTARTING", address="")
        return ActorRestarting(f"actor {self._label!r}: worker lost ({exc}); restarting")

    def _call_error(self, exc: RemoteError) -> BaseException:
        if exc.type_name in ("UnknownTarget", "ActorNotFound"):
            return self._lost(exc)
        return exc

    # -- calls ---------------------------------------------------------------------

    def __getattr__(self, name: str) -> _Method:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._bound[name]
        except KeyError:
            pass
        if name not in self._methods:
            raise AttributeError(
                f"actor {self._label!r} ({self._info.class_name}) has no method {name!r}; "
                f"it has {sorted(self._methods)}"
            )
        m = self._bound[name] = _Method(self, name)
        return m

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ActorFuture:
        payload = dumps_call(args, kwargs, f"{self._info.class_name}.{method}")
        try:
            ref = self._current_ref()
        except ActorError as exc:
            return ActorFuture.failed(self, method, exc)
        ask = ref.ask_future(ActorCall(self._id, method, payload), DEFAULT_CALL_TIMEOUT)
        fut = ActorFuture(self, method, ask)
        inflight = self._inflight
        inflight.append(fut)
        if len(inflight) > self._prune_at:  # amortised: the bound doubles with what stays
            live = self._inflight = [f for f in inflight if not f.done()]
            self._prune_at = max(256, 2 * len(live))
        return fut

    def _tell(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        payload = dumps_call(args, kwargs, f"{self._info.class_name}.{method}")
        self._current_ref().tell(ActorTell(self._id, method, payload))

    # -- identity / pickling -------------------------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_handle, (self._info,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        i = self._info
        return f"<ActorHandle {self._label} {i.class_name} {i.state} #{i.incarnation}>"


_handles: weakref.WeakValueDictionary[str, ActorHandle] = weakref.WeakValueDictionary()


def _rebuild_handle(info: ActorInfo) -> ActorHandle:
    """Unpickling: one handle per actor id per process."""
    h = _handles.get(info.actor_id)
    if h is None:
        h = ActorHandle(info)
        _handles[info.actor_id] = h
    else:
        h._apply(info)
    return h


# -- monitor (OTP) --------------------------------------------------------------------


class DownFuture:
    """``monitor(handle)``: ``result(timeout)`` returns ``Down(handle, name, reason)``
    once the actor is STOPPED or FAILED (a restart is not a Down: the actor lives on)."""

    def __init__(self, handle: ActorHandle, callback: Callable[[Down], None] | None) -> None:
        self._handle = handle
        self._callback = callback
        self._event = threading.Event()
        self._down: Down | None = None

    def _deliver(self, info: ActorInfo) -> None:
        if self._down is not None:
            return
        reason = info.message or info.state.lower()
        if info.reason == OOM_REASON:
            reason = f"oom: {reason}"
        self._down = Down(self._handle, info.name or info.actor_id, reason)  # type: ignore[arg-type]
        self._event.set()
        if self._callback is not None:
            try:
                self._callback(self._down)
            except Exception:
                log.exception("monitor callback failed")

    def done(self) -> bool:
        return self._event.is_set()

    def result(self, timeout: float | None = None) -> Down:
        if not self._event.wait(timeout):
            raise AskTimeout(f"{self._handle._label}: still alive after {timeout}s")
        assert self._down is not None
        return self._down


def monitor(handle: ActorHandle, callback: Callable[[Down], None] | None = None) -> DownFuture:
    """Watch ``handle``'s actor: a ``Down`` when it ends for good (OTP's monitor)."""
    fut = DownFuture(handle, callback)
    handle._context()
    with handle._lock:
        info = handle._info
        if info.state not in TERMINAL:
            handle._monitors.append(fut)
            return fut
    fut._deliver(info)
    return fut


# -- supervision ------------------------------------------------------------------------


class Supervision:
    """A supervisor the framework runs over ``children`` (handles, in start order)."""

    def __init__(self, info: SupervisionInfo, children: list[ActorHandle]) -> None:
        self.group_id = info.group_id
        self.strategy = info.strategy
        self.info = info
        self.children = children

    def __iter__(self) -> Any:
        return iter(self.children)

    def __repr__(self) -> str:
        return f"<Supervision {self.group_id} {self.strategy} {len(self.children)} children>"


# -- the Cluster's side ------------------------------------------------------------------


def _events_actor_class() -> type:
    """An actor receiving ActorEvent for this process' handles (defined lazily: pykka)."""
    from runtime._actor import Actor

    class ActorEvents(Actor):
        def __init__(self, table: weakref.WeakValueDictionary[str, ActorHandle]) -> None:
            super().__init__()
            self.table = table

        def receive(self, message: Any) -> Any:
            if type(message) is ActorEvent:
                h = self.table.get(message.info.actor_id)
                if h is not None:
                    h._apply(message.info)
            return None

    return ActorEvents


EVENTS_ACTOR = "actor-events"


class ActorsMixin:
    """The cluster-actor verbs of ``runtime.Cluster`` (and the worker's context)."""

    node: Any

    # provided by Cluster
    def actor(self, name: str, timeout: float = 10.0) -> Any:  # pragma: no cover
        raise NotImplementedError

    def on_leader_change(self, callback: Callable[[str | None], None]) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- plumbing -----------------------------------------------------------------

    def _actors_init(self) -> None:
        if getattr(self, "_actors_ready", False):
            return
        self._actors_ready = True
        self._watched: weakref.WeakValueDictionary[str, ActorHandle] = weakref.WeakValueDictionary()
        self._spawned_owned = False
        self._events_address = ""
        try:
            ref = self.node.spawn(_events_actor_class(), self._watched, name=EVENTS_ACTOR)
            del ref
            self._events_address = self.node.actor_address(EVENTS_ACTOR)
        except Exception as exc:  # already there (a second Cluster on one node)
            log.debug("actor events: %s", exc)
            self._events_address = self.node.actor_address(EVENTS_ACTOR)
        self.on_leader_change(self._rewatch)
        set_context(self)

    def _rewatch(self, leader: str | None) -> None:
        if leader is None or not getattr(self, "_actors_ready", False):
            return
        ids = list(self._watched.keys())
        if ids:
            threading.Thread(
                target=self._send_watch, args=(ids,), daemon=True, name="actor-rewatch"
            ).start()

    def _send_watch(self, ids: list[str]) -> None:
        try:
            self._framework_ref(10.0).tell(WatchActors(self._events_address, ids))
        except Exception as exc:
            log.debug("WatchActors: %s", exc)

    def _framework_ref(self, timeout: float) -> Any:
        return self.actor(FRAMEWORK_ACTOR, timeout)

    def framework_ask(self, message: Any, timeout: float = 10.0) -> Any:
        """Ask the placing framework on the leader, riding out a leader change.

        Retried until ``timeout``: while no master leads or the leader has no
        framework actor yet (just elected, services starting: the ask reached no
        one); when the leader's node is down (a new one is being elected: the leader
        watch moves us to it); and, for idempotent asks, when one attempt gets no
        reply. A ``SpawnActor`` of a named actor is retried with ``get_if_exists``,
        so a spawn the dead leader had recorded is not refused as a duplicate."""
        from runtime._connect import NoCluster

        deadline = real_now() + timeout
        idempotent = not isinstance(message, (SpawnActor, Supervise, KillActor))
        while True:
            left = deadline - real_now()
            if left <= 0:
                raise AskTimeout(f"{type(message).__name__}: no framework reply in {timeout}s")
            try:
                ref = self._framework_ref(max(0.1, left))
                if hasattr(ref, "is_alive") and not ref.is_alive():
                    raise ActorDead(f"the leader {ref!r} is unreachable")
                per_try = min(left, 3.0) if idempotent else left
                return ref.ask(message, timeout=per_try)
            except NoCluster:
                pass  # no leader right now: wait for one
            except ActorNotFound as exc:
                # The transport's UnknownTarget (no framework actor on that node), not
                # the framework's own "no such actor" answer.
                if f"no actor named {FRAMEWORK_ACTOR!r}" not in str(exc):
                    raise
                if real_now() + 0.1 >= deadline:
                    raise _framework_error(exc, type(message).__name__) from None
            except ActorDead:
                if real_now() + 0.2 >= deadline:
                    raise
                if isinstance(message, SpawnActor) and message.name:
                    message = dataclasses.replace(message, get_if_exists=True)
            except AskTimeout:
                if not idempotent or real_now() + 0.2 >= deadline:
                    raise
            except RemoteError as exc:
                raise _framework_error(exc, type(message).__name__) from None
            time.sleep(0.1)

    def watch(self, handle: ActorHandle) -> None:
        self._actors_init()
        if handle.actor_id in self._watched:
            return
        self._watched[handle.actor_id] = handle
        self._send_watch([handle.actor_id])

    def _handle(self, info: ActorInfo) -> ActorHandle:
        self._actors_init()
        h = _handles.get(info.actor_id)
        if h is None:
            h = ActorHandle(info, self)  # type: ignore[arg-type]
            _handles[info.actor_id] = h
        else:
            h._apply(info)
        self.watch(h)
        return h

    @property
    def owner_address(self) -> str:
        return str(self.node.address)

    # -- verbs --------------------------------------------------------------------

    def spawn_request(
        self,
        cls: Any,
        *args: Any,
        name: str | None = None,
        namespace: str = "default",
        constraints: Sequence[Sequence[str]] | None = None,
        role: str | None = None,
        lifetime: str | None = None,
        get_if_exists: bool = False,
        max_concurrency: int | None = None,
        restart: str | None = None,
        max_restarts: int | None = None,
        cpus: float | None = None,
        mem: float | None = None,
        placement_timeout: float = 30.0,
        working_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> SpawnActor:
        """The ``SpawnActor`` for ``spawn`` (no network except the working dir upload)."""
        rc = _as_remote(cls)
        opts = dict(rc.options_)
        for key, value in (
            ("constraints", constraints),
            ("role", role),
            ("max_concurrency", max_concurrency),
            ("restart", restart),
            ("max_restarts", max_restarts),
            ("cpus", cpus),
            ("mem", mem),
        ):
            if value is not None:
                opts[key] = value
        if lifetime not in (None, *LIFETIMES):
            raise ValueError(f"lifetime: {lifetime!r} is not 'detached' or None")
        class_name, blob = class_payload(rc.cls)
        args_blob = dumps_call(args, kwargs, f"{rc.__name__}.__init__")
        wd_sha, python_path = "", []
        ship = (Path(working_dir), "", []) if working_dir is not None else needs_working_dir(rc.cls)
        if ship is not None:
            wd_sha = self._upload_dir(*ship)
            python_path = ["."]
        spec = ActorSpec(
            class_name=class_name,
            class_blob=blob,
            args_blob=args_blob,
            methods=rc.methods,
            async_methods=rc.async_methods,
            cpus=float(opts.get("cpus", 0.1)),
            mem=float(opts.get("mem", 64.0)),
            disk=float(opts.get("disk", 0.0)),
            constraints=[[str(x) for x in c] for c in opts.get("constraints") or []],
            role=str(opts.get("role", "*")),
            max_restarts=int(opts.get("max_restarts", 3)),
            restart=str(opts.get("restart", "permanent")),
            max_concurrency=int(opts.get("max_concurrency", 1)),
            working_dir=wd_sha,
            python_path=python_path,
        )
        return SpawnActor(
            spec=spec,
            name=name or "",
            namespace=namespace,
            lifetime=lifetime or "owned",
            owner=self.owner_address,
            get_if_exists=get_if_exists,
            placement_timeout=placement_timeout,
        )

    def _upload_dir(
        self, directory: Path, prefix: str = "", extra: Sequence[tuple[Path, str]] = ()
    ) -> str:
        if not directory.is_dir():
            raise ValueError(f"working_dir: {directory} is not a directory")
        sha, data = pack_dir(directory, prefix, extra)
        uploaded: set[str] = self.__dict__.setdefault("_uploaded_dirs", set())
        if sha not in uploaded:
            self.framework_ask(PutWorkingDir(sha, data), timeout=30.0)
            uploaded.add(sha)
        return sha

    def spawn(self, cls: Any, *args: Any, **options: Any) -> ActorHandle:
        """Place an actor of ``cls`` (a ``@remote`` class or a plain one) on the cluster.

        Options: ``name``, ``namespace``, ``constraints``, ``role``, ``lifetime``
        ("detached" or None: owned by this script), ``get_if_exists``,
        ``max_concurrency``, ``restart``, ``max_restarts``, ``cpus``, ``mem``,
        ``placement_timeout``, ``working_dir``; other keywords go to ``__init__``.
        Returns at once (the actor may still be PENDING); calls wait for it."""
        request = self.spawn_request(cls, *args, **options)
        try:
            info = self.framework_ask(request, timeout=15.0)
        except DuplicateName:
            raise
        if not isinstance(info, ActorInfo):
            raise ActorError(f"spawn: unexpected reply {type(info).__name__}")
        if info.state == "FAILED":
            raise ActorStopped(end_message(info), info)
        return self._handle(info)

    def get_actor(self, name: str, namespace: str = "default") -> ActorHandle:
        """The live actor called ``name`` (spawned by any script); ActorNotFound if none."""
        info = self.framework_ask(GetActor(name=name, namespace=namespace))
        return self._handle(info)

    def list_actors(self, namespace: str = "", *, include_stopped: bool = False) -> list[ActorInfo]:
        reply = self.framework_ask(ListActors(namespace=namespace, include_stopped=include_stopped))
        return list(reply.actors) if isinstance(reply, ActorList) else []

    def kill(self, handle: ActorHandle) -> ActorInfo:
        """Stop the actor for good (no restart; its name is free again)."""
        info = self.framework_ask(KillActor(actor_id=handle.actor_id))
        if isinstance(info, ActorInfo):
            handle._apply(info)
        return info

    def wait(
        self,
        futures: Iterable[ActorFuture],
        *,
        num_returns: int | None = None,
        timeout: float | None = None,
    ) -> tuple[list[ActorFuture], list[ActorFuture]]:
        """Wait until ``num_returns`` (default: all) futures are done or ``timeout``
        passed; returns (done, pending) in the given order, as ``ray.wait``."""
        futs = list(futures)
        want = len(futs) if num_returns is None else max(0, min(num_returns, len(futs)))
        deadline = None if timeout is None else real_now() + timeout
        if want == len(futs):
            for f in futs:
                left = None if deadline is None else max(0.0, deadline - real_now())
                try:
                    f.result(left)
                except AskTimeout:
                    if deadline is not None and real_now() >= deadline:
                        break
                except Exception:
                    pass
        else:
            while sum(1 for f in futs if f.done()) < want:
                if deadline is not None and real_now() >= deadline:
                    break
                time.sleep(0.001)
        done = [f for f in futs if f.done()]
        pending = [f for f in futs if not f.done()]
        return done, pending

    def supervise(
        self,
        strategy: str = "one_for_one",
        children: Sequence[Any] = (),
        intensity: int = 3,
        period: float = 5.0,
        name: str = "",
    ) -> Supervision:
        """An OTP supervisor over ``children`` (``Cls.child(*args, name=..., ...)`` or
        ``(Cls, args, options)``), placed anywhere on the cluster."""
        requests = []
        for c in children:
            if isinstance(c, Child):
                requests.append(self.spawn_request(c.rc, *c.args, **c.kwargs))
            elif isinstance(c, tuple) and len(c) in (2, 3):
                opts = c[2] if len(c) == 3 else {}
                requests.append(self.spawn_request(c[0], *c[1], **opts))
            else:
                raise TypeError(
                    f"supervise: child {c!r} is not Cls.child(...) or (Cls, args[, opts])"
                )
        info = self.framework_ask(
            Supervise(strategy, requests, intensity, period, name), timeout=30.0
        )
        if not isinstance(info, SupervisionInfo):
            raise ActorError(f"supervise: unexpected reply {type(info).__name__}")
        return Supervision(info, [self._handle(i) for i in info.children])

    def _close_actors(self) -> None:
        """On close: the framework stops this script's owned actors now."""
        if not getattr(self, "_actors_ready", False):
            return
        set_context(None) if _context is self else None
        try:
            self._framework_ref(2.0).tell(OwnerGone(self.owner_address))
        except Exception as exc:
            log.debug("OwnerGone: %s", exc)
