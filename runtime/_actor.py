"""The `Actor` base class: pykka's thread, with the runtime's own loop and inbox.

We replace pykka's receive loop (not its threads) because its failure paths do not
fit supervision: a BaseException there calls `ActorRegistry.stop_all()` and takes
down every actor in the process, a crash reason is not reported to anyone, and an
ask cannot reply through a callback. The inbox is `runtime._inbox.Inbox`, which wakes
a sleeping actor without handing it a GIL its waker still holds.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import pykka
from pykka import messages as pykka_messages

from runtime._inbox import Inbox, LanedInbox, bind_inbox, pay_wake
from runtime._messages import (
    KILLED,
    NORMAL,
    Down,
    _Stop,
    _TimerFire,
    _Wake,
    is_normal_exit,
)
from runtime._ref import ActorRef, Envelope, LocalActorRef
from runtime._timers import TimerHandle
from runtime.errors import ActorDead, UnknownMessage

if TYPE_CHECKING:
    from runtime._clock import Clock
    from runtime._node import Node

__all__ = ["Actor"]

log = logging.getLogger("runtime.actor")

_SYSTEM = frozenset({_Stop, _TimerFire, _Wake, pykka_messages._ActorStop})
_QUIET = frozenset({_Stop, _TimerFire, _Wake, pykka_messages._ActorStop, Down})

_spawn_ctx = threading.local()

Watch = tuple["Actor | None", ActorRef, Callable[[Down], None]]


class Actor(pykka.ThreadingActor):
    """Base class of every actor in pydcos. Create actors with `node.spawn(...)`.

    Override:
      * `receive(message)` — handle one message; the return value is the ask reply.
        Raise `UnknownMessage` (the default) for a message you do not handle: an ask
        gets it as its error, a tell is logged and counted, the actor lives on.
      * `started()` — runs on the actor's thread before any message; `spawn` waits
        for it, and if it raises, `spawn` raises `StartFailed` (OTP's init/1).
      * `stopped()` — runs on the actor's thread when it stops, normally or by a
        crash (`self.exit_reason` says which); not run when the actor is killed.

    Failure rule (pykka's, kept on purpose): an exception in a handler reached by
    `tell` crashes the actor (monitors and its supervisor see `Down` with the
    exception as reason). An exception in a handler reached by `ask` only fails the
    caller's ask; the actor keeps running. A BaseException (KeyboardInterrupt,
    SystemExit, ...) crashes this actor only, whichever way it arrived, and an ask
    caller gets `ActorDead`.

    Kill (brutal_kill, or a missed shutdown timeout): the actor is marked dead,
    unregistered, gets no further messages and its monitors see reason "killed".
    Python cannot stop a thread, so a thread stuck in a handler is abandoned; it
    is a daemon thread, so it never holds the process open.
    """

    use_daemon_thread = True
    start_timeout: ClassVar[float] = 5.0
    """How long `spawn` waits for `started()` before killing the actor."""

    actor_inbox: Inbox[Envelope]  # type: ignore[assignment]
    ref: LocalActorRef
    """A ref pinned to this actor instance (not to its name)."""
    exit_reason: Any = None
    """Why the actor stopped; set before `stopped()` runs."""

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"start {cls.__name__} with node.spawn({cls.__name__}, ...)")

    urgent: ClassVar[frozenset[type]] = frozenset()
    """Message types served before the others already queued (taking turns with them
    while both wait): a control-aware mailbox (``LanedInbox``). Empty: one FIFO."""

    def _create_actor_inbox(self) -> Inbox[Envelope]:  # type: ignore[override]
        urgent = type(self).urgent
        if not urgent:
            return Inbox()
        return LanedInbox(lambda e: type(e.message) in urgent)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        node: Node | None = getattr(_spawn_ctx, "node", None)
        if node is None:
            raise TypeError(f"create {type(self).__name__} with node.spawn(), not directly")
        self._rt_node = node
        self._rt_name: str | None = getattr(_spawn_ctx, "name", None)
        self._rt_dead = False
        self._rt_killed = False
        self._rt_lock = threading.Lock()
        self._rt_watchers: list[Watch] = []
        self._rt_monitoring: dict[ActorRef, list[Actor]] = {}
        self._rt_timers: set[TimerHandle] = set()
        self._rt_stopping = False
        self._rt_stop_reason: Any = NORMAL
        self._rt_started = threading.Event()
        self._rt_start_error: BaseException | None = None
        self._rt_done = threading.Event()
        self._rt_ident: int | None = None
        self.ref = LocalActorRef(node, self)

    # --- public surface ---------------------------------------------------------
    @property
    def node(self) -> Node:
        return self._rt_node

    @property
    def clock(self) -> Clock:
        return self._rt_node.clock

    @property
    def name(self) -> str | None:
        return self._rt_name

    def receive(self, message: Any) -> Any:
        raise UnknownMessage(self._rt_label(), message)

    def started(self) -> None:
        """Hook: runs first on the actor's thread."""

    def stopped(self) -> None:
        """Hook: runs last on the actor's thread (not after a kill)."""

    def stop(self, reason: Any = NORMAL) -> None:
        """Stop with `reason` (an abnormal reason counts as a crash for supervisors).

        From the actor's own thread, it stops right after the current message;
        from elsewhere, after the messages already queued.
        """
        if threading.get_ident() == self._rt_ident:
            self._rt_stopping = True
            self._rt_stop_reason = reason
        else:
            self._rt_post(_Stop(reason))

    def send_after(self, delay: float, message: Any) -> TimerHandle:
        handle = TimerHandle(self, message, self.clock.now() + delay, None)
        self._rt_timers.add(handle)
        handle._schedule()
        return handle

    def send_interval(self, period: float, message: Any) -> TimerHandle:
        if period <= 0:
            raise ValueError(f"send_interval.period: {period!r} is not > 0")
        handle = TimerHandle(self, message, self.clock.now() + period, period)
        self._rt_timers.add(handle)
        handle._schedule()
        return handle

    def take_queued(self, kind: type, limit: int) -> list[Any]:
        """From the actor's own thread (in ``receive``): the messages of exactly type
        ``kind`` queued right behind the one being handled (tells, not asks; up to
        ``limit``), taken out of the inbox in arrival order, so that a burst of them
        can be handled as one batch. Stops at the first other message (of its lane,
        with ``urgent`` types)."""
        if threading.get_ident() != self._rt_ident:
            raise RuntimeError(f"{self._rt_label()}.take_queued: not on the actor's thread")
        taken = self.actor_inbox.take_while(
            lambda e: type(e.message) is kind and e.reply_to is None, limit
        )
        return [e.message for e in taken]

    def monitor(self, ref: ActorRef) -> None:
        """Receive `Down(ref, name, reason)` when the actor behind `ref` stops.

        A named ref is resolved now (Erlang semantics: the monitor follows the
        actor, not the name). An unknown or dead target yields Down(reason="noproc").
        A remote ref is watched through its node's heartbeats (reason "noconnection").
        """
        ref._monitor(self)

    def demonitor(self, ref: ActorRef) -> None:
        """Stop watching; a Down already queued before this call is still delivered."""
        ref._demonitor(self)

    # --- runtime internals ------------------------------------------------------
    def _rt_label(self) -> str:
        if self._rt_name is not None:
            return f"{type(self).__name__}[{self._rt_name}]"
        return f"{type(self).__name__}[{self.actor_urn[9:17]}]"

    def __str__(self) -> str:
        return self._rt_label()

    def _rt_post(self, message: Any) -> None:
        """Deliver a runtime message; silently dropped if the actor is gone."""
        if not self._rt_dead:
            self.actor_inbox.put(Envelope(message))

    def _rt_add_watch(self, watch: Watch) -> bool:
        with self._rt_lock:
            if self._rt_dead:
                return False
            self._rt_watchers.append(watch)
            return True

    def _rt_remove_watch(self, watcher: Actor, ref: ActorRef) -> None:
        with self._rt_lock:
            self._rt_watchers = [
                w for w in self._rt_watchers if not (w[0] is watcher and w[1] == ref)
            ]

    def _actor_loop(self) -> None:
        self._rt_ident = threading.get_ident()
        bind_inbox(self.actor_inbox)
        try:
            self._rt_loop()
        finally:
            bind_inbox(None)
            pay_wake()

    def _rt_loop(self) -> None:
        try:
            self.started()
        except BaseException as exc:
            self._rt_start_error = exc
            self._rt_started.set()
            self._rt_finish(exc, run_hook=False)
            return
        self._rt_started.set()
        reason = self._rt_stop_reason if self._rt_stopping else self._rt_run()
        self._rt_finish(reason, run_hook=True)

    def _rt_run(self) -> Any:
        """Process messages until a stop or a crash; return the exit reason."""
        get = self.actor_inbox.get
        receive = self.receive
        system = _SYSTEM
        while True:
            envelope = get()
            if self._rt_dead:  # killed while idle or stuck: hand the rest to dead letters
                self._rt_dead_envelope(envelope)
                self._rt_drain()
                return KILLED
            message = envelope.message
            reply = envelope.reply_to
            if type(message) in system:
                if type(message) is _TimerFire:
                    handle = message.handle
                    if not handle.active:
                        continue
                    if handle._period is None:
                        handle.active = False
                        self._rt_timers.discard(handle)
                    else:
                        handle.queued = False
                    message = message.message
                elif type(message) is _Wake:
                    continue
                else:
                    if reply is not None:
                        reply.set(None)
                    return message.reason if type(message) is _Stop else NORMAL
            try:
                result = receive(message)
            except UnknownMessage as exc:
                if reply is not None:
                    reply.set_exception((type(exc), exc, exc.__traceback__))
                else:
                    self._rt_node._unhandled_message(self, message)
            except Exception as exc:
                if reply is None:
                    return exc
                log.debug("ask handler of %s raised; the caller gets it", self, exc_info=True)
                reply.set_exception((type(exc), exc, exc.__traceback__))
            except BaseException as exc:
                if reply is not None:
                    error = ActorDead(f"{self._rt_label()} died handling the ask: {exc!r}")
                    error.__cause__ = exc
                    reply.set_exception((ActorDead, error, None))
                return exc
            else:
                if reply is not None:
                    reply.set(result)
            if self._rt_stopping:
                return self._rt_stop_reason

    def _rt_finish(self, reason: Any, *, run_hook: bool) -> None:
        if self._rt_killed:
            return
        self._rt_cancel_timers()
        self.exit_reason = reason
        if run_hook:
            try:
                self.stopped()
            except BaseException as exc:
                log.exception("stopped() of %s raised", self)
                if is_normal_exit(reason):
                    reason = exc
                    self.exit_reason = exc
        self._rt_mark_dead(reason)

    def _rt_cancel_timers(self) -> None:
        for handle in list(self._rt_timers):
            handle.cancel()

    def _rt_mark_dead(self, reason: Any) -> None:
        """Make the death visible: unregister, flush the inbox, notify watchers."""
        with self._rt_lock:
            if self._rt_dead:
                return
            self._rt_dead = True
            watchers = self._rt_watchers
            self._rt_watchers = []
        self.actor_stopped.set()
        self._rt_node._actor_exited(self)
        if isinstance(reason, BaseException):
            log.error(
                "%s crashed: %r",
                self,
                reason,
                exc_info=(type(reason), reason, reason.__traceback__),
            )
        elif not is_normal_exit(reason):
            log.warning("%s exited: %r", self, reason)
        self._rt_drain()
        for mref, targets in self._rt_monitoring.items():
            for target in targets:
                target._rt_remove_watch(self, mref)
        for _watcher, ref, notify in watchers:
            try:
                notify(Down(ref, ref.name if ref.name is not None else self._rt_name, reason))
            except Exception:
                log.exception("delivering Down from %s failed", self)
        self._rt_done.set()

    def _rt_drain(self) -> None:
        get = self.actor_inbox.get_nowait
        while True:
            try:
                envelope = get()
            except queue.Empty:
                return
            self._rt_dead_envelope(envelope)

    def _rt_dead_envelope(self, envelope: Envelope) -> None:
        message = envelope.message
        reply = envelope.reply_to
        if type(message) in _QUIET:
            if reply is not None:
                reply.set(None)
            return
        if reply is not None:
            reply.set_exception(
                (ActorDead, ActorDead(f"{self._rt_label()} stopped before handling it"), None)
            )
        else:
            self._rt_node._dead_letter(self.ref, message)

    def _rt_kill(self) -> None:
        """Brutal kill; see the class docstring for what that can mean for a thread."""
        with self._rt_lock:
            if self._rt_dead:
                return
            self._rt_killed = True
        self._rt_cancel_timers()
        self.exit_reason = KILLED
        self._rt_on_kill()
        self._rt_started.set()
        self._rt_mark_dead(KILLED)
        self.actor_inbox.put(Envelope(_Wake()))

    def _rt_on_kill(self) -> None:
        """Hook for runtime actors that own others (a supervisor kills its children)."""
