"""`Node`: one per process; owns the root supervisor, the name registry and time."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from runtime._actor import Actor, _spawn_ctx
from runtime._clock import Clock, SystemClock, real_now
from runtime._messages import SHUTDOWN, Down, _Stop
from runtime._ref import ActorRef, CallbackReply, Envelope, LocalActorRef, ReplySlot
from runtime.errors import (
    ActorDead,
    ActorNotFound,
    DuplicateName,
    RuntimeSystemError,
    StartFailed,
)

if TYPE_CHECKING:
    from runtime._remote import Remoting
    from runtime._supervisor import SupervisorRef

__all__ = ["Node"]

log = logging.getLogger("runtime.node")

A = TypeVar("A", bound=Actor)
Reply = Callable[[Any, BaseException | None], None]


def _exit_process(reason: Any) -> None:
    """Default fatal handler: the tree is gone, so let whoever launched us restart us."""
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:
            pass
    os._exit(1)


class Node:
    """The actor system of one process.

    Shutdown order mirrors OTP: actors spawned directly on the node stop first, in
    reverse spawn order, then the root supervisor stops its tree in reverse start
    order; each actor gets its shutdown timeout and is killed if it misses it.
    If the root supervisor exits while the node is running (restart intensity
    exhausted all the way up), the node logs the cause and calls `on_fatal`
    (default: exit the process with status 1).
    """

    def __init__(
        self,
        name: str = "node",
        clock: Clock | None = None,
        *,
        on_fatal: Callable[[Any], None] | None = None,
        root_strategy: str = "one_for_one",
        root_intensity: int = 3,
        root_period: float = 5.0,
    ) -> None:
        from runtime._supervisor import Supervisor, SupervisorRef

        self.name = name
        self._owned_clock = SystemClock() if clock is None else None
        self.clock: Clock = clock if clock is not None else self._owned_clock  # type: ignore[assignment]
        self._on_fatal = on_fatal if on_fatal is not None else _exit_process
        self._names: dict[str, Actor] = {}
        self._top: dict[int, Actor] = {}
        self._live: dict[int, Actor] = {}
        """Every actor of this node not yet dead (supervised ones too), for `actors()`."""
        self._lock = threading.Lock()
        self._dead_letters = 0
        self._unhandled = 0
        self._state = "running"
        self._remoting: Remoting | None = None
        root_ref = self._spawn(
            Supervisor,
            (),
            {"strategy": root_strategy, "intensity": root_intensity, "period": root_period},
            "root",
            top=False,
        )
        assert root_ref._actor is not None
        self._root_actor: Actor = root_ref._actor
        self._root_actor._rt_add_watch((None, root_ref, self._root_down))
        self._root: SupervisorRef = SupervisorRef(root_ref)

    # --- spawning ---------------------------------------------------------------
    def spawn(
        self, actor_class: type[Actor], *args: Any, name: str | None = None, **kwargs: Any
    ) -> LocalActorRef:
        """Start an actor and return a ref pinned to it, once its `started()` returned.

        Called while a supervisor starts a child, the new actor is linked to that
        supervisor (OTP start_link). Otherwise it is a top-level actor of the node.
        """
        return self._spawn(actor_class, args, kwargs, name, top=True)

    def _spawn(
        self,
        actor_class: type[Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None,
        *,
        top: bool,
    ) -> LocalActorRef:
        if self._state == "stopped":
            raise RuntimeSystemError(f"node {self.name!r} is shut down")
        if not (isinstance(actor_class, type) and issubclass(actor_class, Actor)):
            raise TypeError(f"spawn: {actor_class!r} is not a runtime.Actor subclass")
        if name is not None:
            _check_name(name)
        saved = (getattr(_spawn_ctx, "node", None), getattr(_spawn_ctx, "name", None))
        _spawn_ctx.node, _spawn_ctx.name = self, name
        try:
            actor = actor_class(*args, **kwargs)
        finally:
            _spawn_ctx.node, _spawn_ctx.name = saved
        if not hasattr(actor, "_rt_dead"):
            raise TypeError(f"{actor_class.__name__}.__init__ must call super().__init__()")
        if name is not None:
            self._register_actor(name, actor)
        with self._lock:
            self._live[id(actor)] = actor
        parent: Actor | None = getattr(_spawn_ctx, "link", None)
        if parent is not None:
            actor._rt_watchers.append((parent, actor.ref, parent._rt_post))
        elif top:
            with self._lock:
                self._top[id(actor)] = actor
        actor._start_actor_loop()
        if not actor._rt_started.wait(actor.start_timeout):
            actor._rt_kill()
            raise StartFailed(actor._rt_label(), f"started() took over {actor.start_timeout}s")
        if actor._rt_start_error is not None:
            raise StartFailed(actor._rt_label(), actor._rt_start_error) from actor._rt_start_error
        return actor.ref

    # --- names ------------------------------------------------------------------
    def _register_actor(self, name: str, actor: Actor) -> None:
        with self._lock:
            current = self._names.get(name)
            if current is not None and not current._rt_dead:
                raise DuplicateName(f"name {name!r} is already registered to {current}")
            self._names[name] = actor

    def register(self, name: str, ref: ActorRef) -> None:
        """Give a running actor a node-wide name (one name per actor, as in Erlang)."""
        _check_name(name)
        local = ref._local()
        if local is None:
            raise TypeError(f"register: {ref!r} is not a local actor ref")
        actor = local._current()
        if actor._rt_name is not None and self._names.get(actor._rt_name) is actor:
            raise DuplicateName(f"{actor} is already registered as {actor._rt_name!r}")
        self._register_actor(name, actor)
        actor._rt_name = name

    def unregister(self, name: str) -> None:
        with self._lock:
            actor = self._names.pop(name, None)
        if actor is None:
            raise ActorNotFound(f"no actor named {name!r} on node {self.name!r}")
        actor._rt_name = None

    def lookup(self, name: str) -> LocalActorRef:
        """A by-name ref to a registered actor; raises ActorNotFound if none is."""
        actor = self._names.get(name)
        if actor is None or actor._rt_dead:
            raise ActorNotFound(f"no actor named {name!r} on node {self.name!r}")
        return LocalActorRef(self, actor, name)

    def ref(self, name: str) -> ActorRef:
        """A ref by name or by address.

        A plain name gives a local by-name ref, resolved at each use (the name need
        not be registered yet). An address ``tcp://host:port/name`` gives a remote ref,
        or a local one when the address is this node's own.
        """
        if "://" in name or name.startswith("client:"):
            from runtime._remote import split_address

            node_address, actor = split_address(name)
            remoting = self._remoting
            if remoting is not None and node_address == remoting.address:
                return LocalActorRef(self, self._names.get(actor), actor)
            if remoting is None:
                raise RuntimeSystemError(
                    f"node {self.name!r} has no network transport: call node.listen() "
                    f"before using the remote address {name!r}"
                )
            return remoting.ref(node_address, actor)
        return LocalActorRef(self, self._names.get(name), name)

    # --- network ------------------------------------------------------------------
    def listen(
        self,
        bind: str | None = "tcp://127.0.0.1:0",
        *,
        security: Any = None,
        advertise: str | None = None,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 5.0,
        max_message_size: int | None = None,
    ) -> str:
        """Put this node on the network; returns its address (``tcp://host:port``).

        ``security`` is a ``transport.Security``. Without one, CURVE is used with the
        cluster keys in ``$PYDCOS_KEYS`` (default ``~/.pydcos/keys``, written by
        ``pydcos cluster keys``), and a missing key is an error: plain, unencrypted
        mode is only ever used when asked for with ``transport.Security.plain()``.
        ``bind=None`` makes a connect-only client node (scripts, the CLI).
        """
        from runtime._remote import Remoting

        if self._remoting is not None:
            raise RuntimeSystemError(f"node {self.name!r} is already listening")
        self._remoting = Remoting(
            self,
            bind,
            security=security if security is not None else default_security(),
            advertise=advertise,
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            max_message_size=max_message_size,
        )
        return self._remoting.address

    @property
    def address(self) -> str | None:
        """This node's network address, or None until `listen()`."""
        return self._remoting.address if self._remoting is not None else None

    def set_peer_policy(self, key_check: Any, policy: Any) -> None:
        """Let connections with CURVE keys outside the cluster's (service accounts, when
        ``key_check(key)``) reach this node's actors, each message checked with
        ``policy(key, envelope) -> None | why not`` (``transport.PeerPolicy``)."""
        if self._remoting is None:
            raise RuntimeSystemError(f"node {self.name!r} is not listening")
        self._remoting.transport.set_peer_policy(key_check, policy)

    @property
    def transport_counters(self) -> dict[str, int]:
        """The transport's per-reason counters (bad frames, unknown targets...)."""
        return self._remoting.transport.counters if self._remoting is not None else {}

    def actor_address(self, name: str) -> str:
        """The network address of local actor `name` (``tcp://host:port/name``)."""
        if self._remoting is None:
            raise RuntimeSystemError(f"node {self.name!r} is not listening")
        return f"{self._remoting.address}/{name}"

    def actors(self) -> list[Actor]:
        """Every live actor of this node, supervised or not, named or not (a snapshot;
        `runtime.testing.settle` waits for all of them to go idle)."""
        with self._lock:
            return list(self._live.values())

    def registered(self) -> list[str]:
        return sorted(n for n, a in list(self._names.items()) if not a._rt_dead)

    # --- transport entry point ----------------------------------------------------
    def _deliver_local(self, name: str, message: Any, reply_to: ReplySlot | None) -> bool:
        """Like `deliver`, but takes the reply slot itself and says False (and does
        nothing) for an unknown name, so the transport can answer UnknownTarget."""
        actor = self._names.get(name)
        if actor is None or actor._rt_dead:
            return False
        # From the I/O thread, which waits for its next event right after.
        actor.actor_inbox.hand_over(Envelope(message, reply_to))
        if actor._rt_dead:
            actor._rt_drain()
        return True

    def deliver(self, name: str, message: Any, reply: Reply | None) -> None:
        """Hand an incoming network message to the local actor called `name`.

        For an ask, `reply(result, None)` or `reply(None, error)` is called on the
        actor's thread once the handler finishes (no thread waits per pending ask).
        """
        actor = self._names.get(name)
        if actor is None or actor._rt_dead:
            if reply is not None:
                reply(None, ActorNotFound(f"no actor named {name!r} on node {self.name!r}"))
            else:
                self._dead_letter(name, message)
            return
        actor.actor_inbox.put(Envelope(message, CallbackReply(reply) if reply else None))
        if actor._rt_dead:
            actor._rt_drain()

    # --- lifecycle ----------------------------------------------------------------
    @property
    def root(self) -> SupervisorRef:
        return self._root

    @property
    def dead_letters(self) -> int:
        return self._dead_letters

    @property
    def unhandled(self) -> int:
        """Tells that reached an actor which raised UnknownMessage for them."""
        return self._unhandled

    def stop(self, ref: ActorRef, timeout: float = 5.0) -> bool:
        """Stop one local actor (reason "shutdown"); kill it if it misses `timeout`.

        Returns True if it stopped by itself, False if it had to be killed.
        """
        local = ref._local()
        if local is None:
            raise TypeError(f"stop: {ref!r} is not a local actor ref")
        try:
            actor = local._current()
        except (ActorDead, ActorNotFound):
            return True
        return self._stop_actor(actor, timeout)

    def _stop_actor(self, actor: Actor, timeout: float | None) -> bool:
        """Graceful stop bounded by `timeout` (None = wait forever), then kill."""
        if actor._rt_dead:
            return True
        actor._rt_post(_Stop(SHUTDOWN))
        if actor._rt_ident == threading.get_ident():
            return True  # it will stop once the current handler returns
        if actor._rt_done.wait(timeout):
            return True
        log.warning("%s did not stop within %ss; killing it", actor, timeout)
        actor._rt_kill()
        return False

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop everything within `timeout` seconds overall; idempotent."""
        with self._lock:
            if self._state in ("stopping", "stopped"):
                return
            self._state = "stopping"
            tops = list(self._top.values())
        deadline = real_now() + timeout
        for actor in reversed(tops):
            self._stop_actor(actor, max(0.0, deadline - real_now()))
        self._stop_actor(self._root_actor, max(0.0, deadline - real_now()))
        if self._remoting is not None:
            self._remoting.stop()
        self._state = "stopped"
        if self._owned_clock is not None:
            self._owned_clock.close()
        log.info("node %s shut down (%d dead letters)", self.name, self._dead_letters)

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- callbacks from actors -------------------------------------------------------
    def _actor_exited(self, actor: Actor) -> None:
        with self._lock:
            name = actor._rt_name
            if name is not None and self._names.get(name) is actor:
                del self._names[name]
            self._top.pop(id(actor), None)
            self._live.pop(id(actor), None)

    def _dead_letter(self, target: object, message: Any) -> None:
        with self._lock:
            self._dead_letters += 1
        log.info("dead letter to %s: %r", target, message)

    def _unhandled_message(self, actor: Actor, message: Any) -> None:
        with self._lock:
            self._unhandled += 1
        log.warning("%s does not handle %s: %r (dropped)", actor, type(message).__name__, message)

    def _root_down(self, down: Down) -> None:
        if self._state != "running":
            return
        self._state = "failed"
        log.critical(
            "node %s: root supervisor exited (%r); the process must exit", self.name, down.reason
        )
        self._on_fatal(down.reason)

    def __repr__(self) -> str:
        return f"<Node {self.name!r} {self._state}>"


def default_security() -> Any:
    """CURVE with the cluster keypair from ``$PYDCOS_KEYS`` or ``~/.pydcos/keys``."""
    from pathlib import Path

    from transport import Security

    keys = Path(os.environ.get("PYDCOS_KEYS") or Path.home() / ".pydcos" / "keys")
    secret = keys / "cluster.key_secret"
    if not secret.exists():
        raise RuntimeSystemError(
            f"no cluster key at {secret}: run 'pydcos cluster keys', set PYDCOS_KEYS, or "
            "pass security=transport.Security.plain() for local development"
        )
    return Security.curve(secret, keys / "authorized_keys")


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"actor name: {name!r} is not a non-empty string without '/'")
