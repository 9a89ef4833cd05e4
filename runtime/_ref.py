"""`ActorRef`, the one reference type, and its in-process implementation.

The local hot path (`tell`/`ask`) is deliberately flat: an attribute read, a
SimpleQueue put and, for an ask, a single pre-acquired lock as the reply slot —
cheaper than pykka's Condition-based future, so the runtime's extra bookkeeping
(dead letters, name re-resolution) costs nothing on the round trip.
"""

from __future__ import annotations

import abc
import logging
from _thread import allocate_lock
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from runtime._clock import real_now
from runtime._inbox import pay_wake, thread_waker
from runtime._messages import NOPROC, Down
from runtime.errors import ActorDead, ActorNotFound, AskTimeout, RuntimeSystemError

if TYPE_CHECKING:
    from types import TracebackType

    from runtime._actor import Actor
    from runtime._node import Node

__all__ = ["ActorRef", "AskFuture", "Envelope", "LocalActorRef", "ReplySlot"]

log = logging.getLogger("runtime.actor")

ExcInfo = tuple[type[BaseException] | None, BaseException | None, "TracebackType | None"]


class ReplySlot(Protocol):
    """Where an ask's reply goes: our AskFuture, a transport callback, or a pykka future."""

    def set(self, value: Any = None, /) -> None: ...

    def set_exception(self, exc_info: ExcInfo, /) -> None: ...


class Envelope:
    """An inbox entry; same shape as pykka's, so pykka's own refs still work."""

    __slots__ = ("message", "reply_to")

    def __init__(self, message: Any, reply_to: ReplySlot | None = None) -> None:
        self.message = message
        self.reply_to = reply_to


def error_of(exc_info: ExcInfo | BaseException | None) -> BaseException | None:
    """The exception in what a reply slot's ``set_exception`` receives: an exception,
    a ``sys.exc_info()``-style triple, or None."""
    if isinstance(exc_info, BaseException):
        return exc_info
    return exc_info[1] if exc_info is not None else None


class AskFuture:
    """The pending reply of one ask; `get()` never waits past the ask's deadline.

    It is also the reply slot the actor loop fills (`set` / `set_exception`, the
    same two calls a pykka future takes). The first value wins; anything set after
    the caller gave up is simply never read, which is how late replies are dropped.
    A remote ref can create one and fill it from its network thread.
    """

    __slots__ = ("_deadline", "_done", "_error", "_lock", "_value", "_what")

    def __init__(self, what: str = "ask", deadline: float | None = None) -> None:
        lock = allocate_lock()
        lock.acquire()
        self._lock = lock
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._what: object = what
        self._deadline = deadline

    # --- producer side (actor loop, transport) -------------------------------
    def set(self, value: Any = None) -> None:
        if self._done:
            return
        self._value = value
        self._done = True
        self._wake()

    def set_exception(self, exc_info: ExcInfo | BaseException | None = None) -> None:
        if self._done:
            return
        error = error_of(exc_info)
        self._error = error if error is not None else ActorDead(f"{self._describe()}: no reply")
        self._done = True
        self._wake()

    def _wake(self) -> None:
        try:
            self._lock.release()
        except RuntimeError:  # two producers raced; the first one won
            pass

    # --- consumer side --------------------------------------------------------
    def done(self) -> bool:
        return self._done

    def _wait(self, timeout: float) -> bool:
        if self._done:
            return True
        if self._lock.acquire(True, timeout if timeout > 0 else 0):
            self._lock.release()  # let other get() callers through too
            return True
        return self._done

    def _describe(self) -> str:
        """What this ask was, for error messages (formatted only when one is raised)."""
        return str(self._what)

    def _result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def get(self, timeout: float | None = None) -> Any:
        """Return the reply or raise the handler's error.

        Waits at most until the ask's own deadline; `timeout` can only shorten that.
        Raises AskTimeout when nothing arrived in time.
        """
        if self._deadline is not None:
            remaining = self._deadline - real_now()
            if timeout is None or timeout > remaining:
                timeout = remaining
        elif timeout is None:
            raise ValueError("AskFuture.get: no timeout and no deadline")
        if self._wait(timeout):
            return self._result()
        raise AskTimeout(f"{self._describe()}: no reply within {timeout:.3f}s")


class FdAskFuture(AskFuture):
    """An AskFuture that its producer fills from another busy thread (the transport's
    I/O thread, for remote asks): it wakes the asking thread through that thread's
    eventfd with the GIL released (see `runtime._inbox`), so the caller does not wake
    only to wait for the GIL. The asking thread, as it goes to sleep, also pays the
    wake-up it owes the I/O thread for a lazily sent ask."""

    __slots__ = ("_waker",)

    def __init__(self, what: object = "ask", deadline: float | None = None) -> None:
        """``what``: a description, or the ref asked (described only if an error is
        raised: one ask per round trip should not format a string it never shows)."""
        super().__init__("ask", deadline)
        self._what = what
        self._waker = thread_waker()

    def _describe(self) -> str:
        w = self._what
        return w if isinstance(w, str) else f"ask {getattr(w, 'address', w)}"

    def _wake(self) -> None:
        self._waker.signal()
        try:
            self._lock.release()  # for get() callers on other threads
        except RuntimeError:
            pass

    def _wait(self, timeout: float) -> bool:
        waker = self._waker
        if self._done or waker is not thread_waker():
            pay_wake()
            return super()._wait(timeout)
        end = real_now() + timeout
        while not self._done:
            left = end - real_now()
            if left <= 0:
                break
            waker.wait(left)  # pays what this thread owes, in the same GIL-free call
        pay_wake()
        return self._done


class ActorRef(abc.ABC):
    """How every caller talks to an actor, local or remote, with one API.

    `tell` never raises because the target is gone (the message becomes a dead
    letter); `ask` always has a timeout and raises ActorNotFound / ActorDead at
    once when the target is known to be gone rather than waiting it out.
    """

    __slots__ = ()

    @property
    @abc.abstractmethod
    def name(self) -> str | None: ...

    @abc.abstractmethod
    def tell(self, message: Any) -> None: ...

    @abc.abstractmethod
    def ask(self, message: Any, timeout: float = 5.0) -> Any: ...

    @abc.abstractmethod
    def ask_future(self, message: Any, timeout: float = 5.0) -> AskFuture: ...

    @abc.abstractmethod
    def is_alive(self) -> bool: ...

    def _local(self) -> LocalActorRef | None:
        """The in-process ref behind this one, if any (wrappers override this)."""
        return None

    def _monitor(self, watcher: Actor, as_ref: ActorRef | None = None) -> None:
        """Runtime side of `Actor.monitor`: make ``watcher`` get ``Down(as_ref or
        self, ...)`` when the actor behind this ref stops. Each kind of ref knows how
        (a local ref watches the actor, a remote one its node, a wrapper asks what it
        wraps on its own behalf), so the actor never asks which kind it holds."""
        raise TypeError(f"monitor: cannot monitor {self!r}")

    def _demonitor(self, watcher: Actor, as_ref: ActorRef | None = None) -> None:
        """Undo `_monitor` (a Down already queued is still delivered)."""


class LocalActorRef(ActorRef):
    """A ref to an actor in this process: either pinned to one actor, or by name.

    A pinned ref (what `spawn` returns, Erlang's pid) dies with its actor. A named
    ref (`node.lookup` / `node.ref`) re-resolves the name once the actor it last
    reached has stopped, so it follows a supervised actor across restarts.
    """

    __slots__ = ("_actor", "_by_name", "_name", "_node")

    def __init__(self, node: Node, actor: Actor | None, name: str | None = None) -> None:
        self._node = node
        self._actor = actor
        self._name = name
        self._by_name = name is not None

    def _local(self) -> LocalActorRef:
        return self

    # --- resolution -------------------------------------------------------------
    def _current(self) -> Actor:
        """The live actor behind this ref, or a typed error saying why there is none."""
        actor = self._actor
        if actor is not None and not actor._rt_dead:
            return actor
        if self._by_name:
            assert self._name is not None
            found = self._node._names.get(self._name)
            if found is None or found._rt_dead:
                raise ActorNotFound(f"no actor named {self._name!r} on node {self._node.name!r}")
            self._actor = found
            return found
        raise ActorDead(f"{self!r} has stopped")

    @property
    def name(self) -> str | None:
        if self._by_name:
            return self._name
        return self._actor._rt_name if self._actor is not None else None

    def is_alive(self) -> bool:
        try:
            self._current()
        except (ActorDead, ActorNotFound):
            return False
        return True

    def join(self, timeout: float = 5.0) -> bool:
        """Wait until the actor has fully stopped (its watchers notified).

        For a named ref, waits for the actor the name points at right now.
        Returns False on timeout.
        """
        actor = self._actor if not self._by_name else self._node._names.get(self._name or "")
        if actor is None:
            return True
        return actor._rt_done.wait(timeout)

    # --- monitoring -------------------------------------------------------------
    def _monitor(self, watcher: Actor, as_ref: ActorRef | None = None) -> None:
        """Watch the actor this ref resolves to NOW (Erlang: the monitor follows the
        actor, not the name); an unknown or dead target yields Down(reason="noproc")."""
        ref = self if as_ref is None else as_ref
        try:
            target: Actor | None = self._current()
        except RuntimeSystemError:
            target = None
        if target is not None and target._rt_add_watch((watcher, ref, watcher._rt_post)):
            watcher._rt_monitoring.setdefault(ref, []).append(target)
        else:
            watcher._rt_post(Down(ref, ref.name, NOPROC))

    def _demonitor(self, watcher: Actor, as_ref: ActorRef | None = None) -> None:
        ref = self if as_ref is None else as_ref
        for target in watcher._rt_monitoring.pop(ref, []):
            target._rt_remove_watch(watcher, ref)

    # --- messaging --------------------------------------------------------------
    def tell(self, message: Any) -> None:
        actor = self._actor
        if actor is None or actor._rt_dead:
            try:
                actor = self._current()
            except (ActorDead, ActorNotFound):
                self._node._dead_letter(self, message)
                return
        actor.actor_inbox.put(Envelope(message))
        if actor._rt_dead:  # raced with its exit: make sure it is counted, not lost
            actor._rt_drain()

    def ask(self, message: Any, timeout: float = 5.0) -> Any:
        actor = self._actor
        if actor is None or actor._rt_dead:
            actor = self._current()
        slot = AskFuture("ask")
        actor.actor_inbox.hand_over(Envelope(message, slot))
        if actor._rt_dead and not slot._done:
            raise ActorDead(f"{self!r} stopped before handling {type(message).__name__}")
        if slot._wait(timeout):
            return slot._result()
        raise AskTimeout(f"no reply from {self!r} to {type(message).__name__} within {timeout}s")

    def ask_future(self, message: Any, timeout: float = 5.0) -> AskFuture:
        fut = AskFuture(f"ask {self!r}", real_now() + timeout)
        try:
            actor = self._current()
        except (ActorDead, ActorNotFound) as exc:
            fut.set_exception(exc)
            return fut
        actor.actor_inbox.hand_over(Envelope(message, fut))
        if actor._rt_dead and not fut._done:
            fut.set_exception(ActorDead(f"{self!r} stopped before handling the message"))
        return fut

    # --- identity ---------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LocalActorRef):
            return NotImplemented
        if self._by_name or other._by_name:
            return (
                self._by_name
                and other._by_name
                and self._name == other._name
                and self._node is other._node
            )
        return self._actor is other._actor

    def __hash__(self) -> int:
        if self._by_name:
            return hash((id(self._node), self._name))
        return id(self._actor)

    def __repr__(self) -> str:
        if self._by_name:
            return f"<ActorRef name={self._name!r} node={self._node.name!r}>"
        actor = self._actor
        label = actor._rt_label() if actor is not None else "?"
        return f"<ActorRef {label}>"


class CallbackReply:
    """Reply slot for `Node.deliver`: calls the transport back instead of blocking.

    The transport's callback runs on the actor's thread, so it must only hand the
    reply to its socket thread; an error in it is logged, never a crash of the actor.
    """

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[[Any, BaseException | None], None]) -> None:
        self._fn = fn

    def set(self, value: Any = None) -> None:
        try:
            self._fn(value, None)
        except Exception:
            log.exception("reply callback failed")

    def set_exception(self, exc_info: ExcInfo | BaseException | None = None) -> None:
        error = error_of(exc_info)
        try:
            self._fn(None, error if error is not None else ActorDead("no reply"))
        except Exception:
            log.exception("reply callback failed")
