"""Remote actor refs: the same ``ActorRef`` API over the transport.

``RemoteActorRef`` is what ``node.ref("tcp://host:port/name")`` returns for an actor on
another node. Its ``tell`` is one encode and one queue put; its ``ask`` registers a
pending reply slot by message id, and the reply (or a typed error reply) fills it from
the transport's I/O thread. An ask to an actor that does not exist fails at once with
``ActorNotFound`` (the remote node answers ``UnknownTarget``); a remote handler's
exception comes back as ``RemoteError`` carrying the type name and message.

Liveness: when the transport reports a peer down (heartbeats missed for the heartbeat
timeout), every pending ask to it fails with ``ActorDead`` and every local actor that
monitors an actor on it receives ``Down(reason="noconnection")``, Erlang's reason.
Monitors across nodes follow the node, not the remote actor: a remote actor that stops
while its node lives is not reported (documented limit).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from runtime._clock import real_now
from runtime._inbox import bound_inbox, owe_wake
from runtime._messages import Down
from runtime._ref import ActorRef, AskFuture, FdAskFuture, error_of
from runtime.errors import ActorDead, ActorNotFound, AskTimeout
from transport import (
    Envelope,
    Kind,
    PendingAsks,
    RemoteError,
    Security,
    UnknownTarget,
    ZmqTransport,
    new_msg_id,
)

if TYPE_CHECKING:
    from runtime._actor import Actor
    from runtime._node import Node

__all__ = ["NOCONNECTION", "RemoteActorRef", "Remoting", "split_address"]

log = logging.getLogger("runtime.remote")

NOCONNECTION = "noconnection"
"""Down reason for an actor whose node stopped answering heartbeats (Erlang's)."""


def split_address(address: str) -> tuple[str, str]:
    """``tcp://host:port/name`` -> (``tcp://host:port``, ``name``), validated."""
    if not isinstance(address, str):
        raise ValueError(f"actor address: {address!r} is not a string")
    head, sep, name = address.rpartition("/")
    if head.startswith("client:") and sep and name and "/" not in head and len(head) > 7:
        return head, name  # a connect-only client node, reachable over its own link
    if not sep or not name or not head or head.endswith("/") or "://" not in head:
        raise ValueError(f"actor address: {address!r} is not of the form tcp://host:port/name")
    if not head.startswith("tcp://"):
        raise ValueError(f"actor address: {address!r} must start with tcp://")
    return head, name


class RemoteActorRef(ActorRef):
    """A ref to ``name`` on the node at ``node_address``; same API as a local ref."""

    __slots__ = ("_name", "_node_address", "_remoting")

    def __init__(self, remoting: Remoting, node_address: str, name: str) -> None:
        self._remoting = remoting
        self._node_address = node_address
        self._name = name

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def node_address(self) -> str:
        return self._node_address

    @property
    def address(self) -> str:
        return f"{self._node_address}/{self._name}"

    def is_alive(self) -> bool:
        """False once the node behind it has been declared down."""
        return self._node_address not in self._remoting.down_peers

    def tell(self, message: Any) -> None:
        r = self._remoting
        try:
            r.transport.send(
                self._node_address,
                Envelope(
                    sender_node=r.transport.address,
                    target=self._name,
                    kind=Kind.TELL,
                    body=message,
                ),
            )
        except Exception as exc:  # unencodable or too large: a dead letter, not a raise
            r.node._dead_letter(self, message)
            log.warning("tell to %s failed: %s", self.address, exc)

    def ask_future(self, message: Any, timeout: float = 5.0) -> AskFuture:
        return self._ask(message, timeout, False)

    def _ask(self, message: Any, timeout: float, lazy: bool) -> AskFuture:
        """``lazy``: the caller blocks on the future at once, so it wakes the I/O thread
        itself as it goes to sleep (see `runtime._inbox`)."""
        r = self._remoting
        deadline = real_now() + timeout
        fut = FdAskFuture(self, deadline)
        msg_id = new_msg_id()
        r.pending.add(msg_id, self._node_address, deadline, fut)
        r.maybe_expire()
        transport = r.transport
        try:
            owed = transport.send_ask(self._node_address, msg_id, self._name, message, lazy=lazy)
        except Exception as exc:
            r.pending.cancel(msg_id)
            fut.set_exception(exc)
        else:
            if owed:
                owe_wake(transport)
        return fut

    def ask(self, message: Any, timeout: float = 5.0) -> Any:
        fut = self._ask(message, timeout, True)
        try:
            return fut.get()
        except AskTimeout:
            raise AskTimeout(
                f"no reply from {self.address} to {type(message).__name__} within {timeout}s"
            ) from None

    def _monitor(self, watcher: Actor, as_ref: ActorRef | None = None) -> None:
        """Across nodes the monitor follows the node (see the module docstring)."""
        self._remoting.monitor(watcher, self._node_address, self if as_ref is None else as_ref)

    def _demonitor(self, watcher: Actor, as_ref: ActorRef | None = None) -> None:
        self._remoting.demonitor(watcher, self._node_address, self if as_ref is None else as_ref)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RemoteActorRef):
            return NotImplemented
        return self._node_address == other._node_address and self._name == other._name

    def __hash__(self) -> int:
        return hash((self._node_address, self._name))

    def __repr__(self) -> str:
        return f"<RemoteActorRef {self.address}>"


class Remoting:
    """The network side of a Node: its transport, pending asks and remote monitors."""

    def __init__(
        self,
        node: Node,
        bind: str | None = "tcp://127.0.0.1:0",
        *,
        security: Security,
        advertise: str | None = None,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 5.0,
        max_message_size: int | None = None,
    ) -> None:
        self.node = node
        self.pending: PendingAsks[AskFuture] = PendingAsks()
        self.down_peers: set[str] = set()
        self._monitors: dict[str, list[tuple[Actor, ActorRef]]] = {}
        self._lock = threading.Lock()
        self._next_expiry = 0.0
        kwargs: dict[str, Any] = {}
        if max_message_size is not None:
            kwargs["max_message_size"] = max_message_size
        self.transport = ZmqTransport(
            bind,
            advertise=advertise,
            security=security,
            on_envelope=self._on_envelope,
            on_peer_down=self._on_peer_down,
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            **kwargs,
        ).start()

    @property
    def address(self) -> str:
        return self.transport.address

    def ref(self, node_address: str, name: str) -> RemoteActorRef:
        return RemoteActorRef(self, node_address, name)

    def stop(self) -> None:
        self.transport.stop()
        for fut in self.pending.expire(float("inf")):
            fut.set_exception(ActorDead("node shut down"))

    def maybe_expire(self) -> None:
        """Drop the bookkeeping of asks past their deadline (their callers gave up)."""
        now = real_now()
        if now < self._next_expiry:
            return
        self._next_expiry = now + 1.0
        for fut in self.pending.expire(now):
            fut.set_exception(AskTimeout("no reply before the deadline"))

    # -- transport callbacks (I/O thread; keep them cheap) ----------------------------

    def _on_envelope(self, env: Envelope) -> None:
        if self.down_peers and env.sender_node in self.down_peers:
            self.down_peers.discard(env.sender_node)
        kind = env.kind
        if kind is Kind.TELL:
            if not self.node._deliver_local(env.target, env.body, None):
                raise UnknownTarget(f"no actor named {env.target!r} on node {self.node.name!r}")
        elif kind is Kind.ASK:
            if not self.node._deliver_local(env.target, env.body, _RemoteReply(self, env)):
                raise UnknownTarget(f"no actor named {env.target!r} on node {self.node.name!r}")
        elif kind is Kind.REPLY:
            fut = self.pending.resolve(env.corr_id)
            if fut is not None:
                fut.set(env.body)
        elif kind is Kind.ERROR:
            fut = self.pending.resolve(env.corr_id)
            if fut is not None:
                fut.set_exception(_error_from(env.body))

    def _on_peer_down(self, peer: str) -> None:
        self.down_peers.add(peer)
        for fut in self.pending.fail_peer(peer):
            fut.set_exception(ActorDead(f"node {peer} is unreachable (missed heartbeats)"))
        with self._lock:
            watchers = self._monitors.pop(peer, [])
        for actor, ref in watchers:
            actor._rt_post(Down(ref, ref.name, NOCONNECTION))

    def monitor(self, actor: Actor, peer: str, ref: ActorRef) -> None:
        """``actor`` gets ``Down(ref, ..., "noconnection")`` when ``peer`` goes down."""
        if peer in self.down_peers:
            actor._rt_post(Down(ref, ref.name, NOCONNECTION))
            return
        with self._lock:
            self._monitors.setdefault(peer, []).append((actor, ref))
        # Make the transport watch the peer's heartbeats even if we never send to it.
        self.transport.send(
            peer, Envelope(sender_node=self.transport.address, target="", kind=Kind.HEARTBEAT)
        )

    def demonitor(self, actor: Actor, peer: str, ref: ActorRef) -> None:
        with self._lock:
            lst = self._monitors.get(peer, [])
            self._monitors[peer] = [(a, r) for (a, r) in lst if not (a is actor and r == ref)]


class _RemoteReply:
    """The reply slot of a remote ask: the actor loop's ``set`` / ``set_exception``
    send the answer back through the transport. Never raises into the actor."""

    __slots__ = ("_env", "_remoting")

    def __init__(self, remoting: Remoting, env: Envelope) -> None:
        self._remoting = remoting
        self._env = env

    def set(self, value: Any = None) -> None:
        self._send(value, None)

    def set_exception(self, exc_info: Any = None) -> None:
        error = error_of(exc_info)
        self._send(None, error if error is not None else ActorDead("no reply"))

    def _send(self, result: Any, error: BaseException | None) -> None:
        transport = self._remoting.transport
        env = self._env
        # On an actor's thread the handler is over: the thread takes its next message
        # or sleeps right away, and wakes the I/O thread then (see runtime._inbox).
        lazy = bound_inbox() is not None
        try:
            if error is None:
                owed = transport.reply(env, result, lazy=lazy)
            else:
                owed = transport.reply_error(env, error, lazy=lazy)
        except Exception as exc:  # e.g. an unencodable reply value
            log.warning("reply to %s failed: %s", env.sender_node, exc)
            try:
                owed = transport.reply_error(env, exc, lazy=lazy)
            except Exception:
                return
        if owed:
            owe_wake(transport)


def _error_from(body: Any) -> BaseException:
    if isinstance(body, RemoteError):
        if body.type_name in ("UnknownTarget", "ActorNotFound"):
            return ActorNotFound(body.message)
        return body
    return RemoteError("RemoteError", repr(body)[:200])
