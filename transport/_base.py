"""What the real and the fake transport share: inbound frame handling, liveness, counters.

Both transports run every inbound frame through ``_TransportBase._handle_frame`` so the
fake decodes, counts and answers exactly like the real one; they differ only in how
bytes move.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from transport._codec import MessageRegistry, codec
from transport._envelope import Envelope, Kind, new_msg_id
from transport._errors import DecodeError, MessageTooLarge, RemoteError, UnknownTarget

log = logging.getLogger("transport")

CLIENT_NODE_PREFIX = "client:"
"""Address prefix of a connect-only transport (``_zmq.CLIENT_PREFIX``)."""

DEFAULT_MAX_MESSAGE_SIZE = 8 * 1024 * 1024
DEFAULT_HEARTBEAT_INTERVAL = 1.0
DEFAULT_HEARTBEAT_TIMEOUT = 5.0
DEFAULT_REAP_AFTER = 60.0
"""Seconds a peer stays down (silent beyond the heartbeat timeout) before the transport
forgets it: no more pings, its connection closed, what waited for it dropped."""

OnEnvelope = Callable[[Envelope], None]
OnPeerDown = Callable[[str], None]
PeerPolicy = Callable[[str, Envelope], "str | None"]
"""``(peer's CURVE public key (Z85), envelope) -> None`` to deliver it, else why not (the
ask is answered with a ``Forbidden`` error naming it)."""
KeyCheck = Callable[[str], bool]
"""``(CURVE public key (Z85)) -> may connect``, for keys outside ``authorized``."""


class RateLimitedLog:
    """Log a warning per key at most once per ``interval`` seconds, counting the rest."""

    def __init__(self, logger: logging.Logger, interval: float = 5.0) -> None:
        self._log = logger
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def warning(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] += 1
            return
        if len(self._last) > 1000:  # bounded: keys come from a small set of reasons
            self._last.clear()
        self._last[key] = now
        n = self._suppressed.pop(key, 0)
        if n:
            self._log.warning(msg + " (%d similar messages suppressed)", *args, n)
        else:
            self._log.warning(msg, *args)


class _Peer:
    """Liveness of one peer we send to."""

    __slots__ = ("down", "last_recv")

    def __init__(self, now: float) -> None:
        self.last_recv = now
        self.down = False


class _TransportBase:
    """Shared half of ZmqTransport and FakeTransport. Methods marked I/O run on one thread."""

    def __init__(
        self,
        *,
        registry: MessageRegistry | None,
        max_message_size: int,
        on_envelope: OnEnvelope,
        on_peer_down: OnPeerDown | None,
        heartbeat_interval: float,
        heartbeat_timeout: float,
        reap_after: float = DEFAULT_REAP_AFTER,
    ) -> None:
        if heartbeat_timeout <= heartbeat_interval:
            raise ValueError(
                f"heartbeat_timeout ({heartbeat_timeout}) must exceed "
                f"heartbeat_interval ({heartbeat_interval})"
            )
        if not reap_after >= 0:
            raise ValueError(f"reap_after ({reap_after}) must be >= 0 seconds")
        self.registry = registry if registry is not None else codec
        self.max_message_size = max_message_size
        self._on_envelope = on_envelope
        self._on_peer_down = on_peer_down
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.reap_after = reap_after
        self._counters: Counter[str] = Counter()  # mutated only on the I/O thread
        self._ticks = 0  # heartbeat rounds run (I/O thread only)
        self._rlog = RateLimitedLog(log)
        self._peers: dict[str, _Peer] = {}
        self._now = time.monotonic()
        self._address = ""
        self._ping = b""
        self._pong = b""
        self._peer_policy: PeerPolicy | None = None
        self._key_check: KeyCheck | None = None
        self._peer: str | None = None
        self._client_owner: dict[str, str] = {}  # client address -> the non-node key using it
        """I/O: the CURVE key of the connection the frame being handled came from, when
        it is not a node's (None: a node, trusted as before)."""

    # -- public ---------------------------------------------------------------------

    def set_peer_policy(self, key_check: KeyCheck | None, policy: PeerPolicy | None) -> None:
        """Let keys outside ``Security.authorized`` connect when ``key_check(key)`` says
        so (service accounts), and deliver what they send only when ``policy(key, env)``
        returns None. The nodes' keys (``authorized``) stay trusted. Call before peers
        connect; None, None: only authorised keys again."""
        self._peer_policy = policy
        self._key_check = key_check

    @property
    def address(self) -> str:
        """The address peers use to reach this transport (``sender_node`` of its envelopes)."""
        return self._address

    @property
    def peers(self) -> dict[str, bool]:
        """The peers whose heartbeats this transport watches: address -> reachable. A
        peer down for ``reap_after`` seconds is forgotten (until something is sent to
        it again)."""
        return {addr: not p.down for addr, p in list(self._peers.items())}

    @property
    def ticks(self) -> int:
        """Heartbeat rounds run so far: a test waits for a few more to show that a
        round did NOT do something (ping a forgotten peer) without sleeping."""
        return self._ticks

    @property
    def counters(self) -> dict[str, int]:
        """Snapshot of per-reason counters, e.g. ``{"decode:truncated": 3}``."""
        return dict(self._counters)

    def encode_unchecked(self, envelope: Envelope) -> bytes:
        """Encode without the size check (to measure an envelope)."""
        return self.registry.encode(envelope)

    def encode(self, envelope: Envelope) -> bytes:
        """Encode and size-check an envelope (raises EncodeError / MessageTooLarge)."""
        return self._checked(self.registry.encode(envelope))

    def _checked(self, data: bytes) -> bytes:
        if len(data) > self.max_message_size:
            raise MessageTooLarge(len(data), self.max_message_size)
        return data

    def send(self, peer_address: str, envelope: Envelope, *, lazy: bool = False) -> bool:
        """Queue ``envelope`` for ``peer_address``. Thread-safe, never blocks.

        Encoding happens here, on the caller's thread, so an unencodable or oversized
        message fails at its origin. Delivery is at-most-once.

        ``lazy``: the caller is about to block (a synchronous ask, the end of a
        handler) and will wake the I/O thread itself, by writing 1 to ``wake_fd`` in
        the same GIL-free call that puts it to sleep; True means it owes that wake-up.
        """
        return self._enqueue(peer_address, self.encode(envelope), lazy, envelope.kind is Kind.ASK)

    def send_ask(
        self, peer_address: str, msg_id: int, target: str, body: Any, *, lazy: bool = False
    ) -> bool:
        """`send` of ``Envelope(msg_id=msg_id, sender_node=self.address, target=target,
        kind=ASK, body=body)``, without building it (once per remote ask)."""
        data = self.registry.encode_fields(
            msg_id, None, self._address, None, target, Kind.ASK, body
        )
        return self._enqueue(peer_address, self._checked(data), lazy, True)

    def reply(
        self, request: Envelope, body: Any, *, sender_actor: str | None = None, lazy: bool = False
    ) -> bool:
        """Send a REPLY to an ASK (``corr_id = request.msg_id``); ``lazy`` as in `send`."""
        data = self._encode_answer(request, Kind.REPLY, body, sender_actor)
        return self._enqueue(request.sender_node, data, lazy, False)

    def reply_error(
        self,
        request: Envelope,
        exc: BaseException,
        *,
        sender_actor: str | None = None,
        lazy: bool = False,
    ) -> bool:
        """Send an ERROR reply carrying ``RemoteError(type(exc).__name__, str(exc))``."""
        body = RemoteError.from_exception(exc)
        data = self._encode_answer(request, Kind.ERROR, body, sender_actor)
        return self._enqueue(request.sender_node, data, lazy, False)

    @property
    def wake_fd(self) -> int:
        """The eventfd a `lazy` sender writes 1 to (-1: nothing to wake)."""
        return -1

    def _encode_answer(
        self, request: Envelope, kind: Kind, body: Any, sender_actor: str | None
    ) -> bytes:
        """The REPLY or ERROR envelope answering ``request``, encoded and size-checked
        (straight from its fields: no Envelope is built, once per answered ask)."""
        data = self.registry.encode_fields(
            new_msg_id(),
            request.msg_id,
            self._address,
            sender_actor if sender_actor is not None else request.target,
            request.sender_actor or "",
            kind,
            body,
        )
        return self._checked(data)

    # -- to implement ---------------------------------------------------------------

    def _enqueue(self, peer: str, data: bytes, lazy: bool = False, ask: bool = False) -> bool:
        """Queue one encoded envelope; True if the caller now owes the wake-up. ``ask``:
        it is an ASK, whose reply the sender will wait for."""
        raise NotImplementedError

    def _emit(self, peer: str, frames: list[bytes]) -> None:
        """I/O: put frames on the wire to ``peer`` (in order)."""
        raise NotImplementedError

    def _send_pong(self, reply_path: Any) -> None:
        """I/O: answer a heartbeat ping on the connection it came in on."""
        raise NotImplementedError

    def _note_inbound(self, sender_node: str, reply_path: Any) -> None:
        """I/O: a valid envelope from ``sender_node`` arrived over ``reply_path``."""

    def _forget(self, peer: str) -> None:
        """I/O: ``peer`` was down for ``reap_after``: release what is kept for it."""

    # -- I/O thread -----------------------------------------------------------------

    def _count(self, key: str) -> None:
        self._counters[key] += 1

    def _init_heartbeats(self) -> None:
        hb = Envelope(msg_id=0, sender_node=self._address, target="", kind=Kind.HEARTBEAT)
        self._ping = self.registry.encode(hb)
        self._pong = self.registry.encode(
            Envelope(msg_id=0, corr_id=0, sender_node=self._address, target="", kind=Kind.HEARTBEAT)
        )

    def _track(self, peer: str) -> None:
        """I/O: start watching the liveness of a peer we are about to send to."""
        if peer not in self._peers:
            self._peers[peer] = _Peer(self._now)

    def _seen(self, peer: str) -> None:
        p = self._peers.get(peer)
        if p is not None:
            p.last_recv = self._now
            if p.down:
                p.down = False
                self._count("peer:up")
                log.info("peer %s is reachable again", peer)

    def _tick(self) -> None:
        """I/O, every heartbeat interval: ping every peer, report the ones gone silent."""
        self._ticks += 1
        now = self._now
        ping = [self._ping]
        forget_after = self.heartbeat_timeout + self.reap_after
        for addr, p in list(self._peers.items()):
            if p.down and now - p.last_recv > forget_after:
                # A node that is gone for good (a stopped agent, a finished CLI client)
                # must not cost a socket, a ping per interval and a backlog for ever.
                del self._peers[addr]
                self._forget(addr)
                self._count("peer:reaped")
                log.info("peer %s silent for %.0fs: forgotten", addr, now - p.last_recv)
                continue
            if not p.down and now - p.last_recv > self.heartbeat_timeout:
                p.down = True
                self._count("peer:down")
                log.warning("peer %s missed heartbeats for %.1fs: down", addr, now - p.last_recv)
                if self._on_peer_down is not None:
                    try:
                        self._on_peer_down(addr)
                    except Exception:
                        self._count("callback:error")
                        log.exception("on_peer_down(%r) raised", addr)
            self._emit(addr, ping)

    def _handle_frame(self, frame: bytes, route: str | None, reply_path: Any) -> None:
        """I/O: one inbound frame (one or more envelopes). Never raises.

        Every problem is logged (rate-limited) and counted. ``route`` is the peer address
        when the frame arrived on our own connection to it (any traffic there proves the
        peer alive); None when it arrived on the listener.
        """
        if route is not None:
            self._seen(route)
        try:
            items = self.registry.decode_batch(frame, self.max_message_size)
        except Exception as exc:  # a decoder bug must not kill the I/O thread
            self._count("decode:internal")
            self._rlog.warning("decode:internal", "decoder failed: %r", exc)
            return
        for env in items:
            if type(env) is Envelope:
                self._handle_envelope(env, route, reply_path)
            else:
                self._bad_frame(env)  # type: ignore[arg-type]

    def _bad_frame(self, exc: DecodeError) -> None:
        self._count("decode:" + exc.reason)
        self._rlog.warning("decode:" + exc.reason, "dropped a bad envelope: %s", exc)
        hdr = exc.header
        if hdr is not None and hdr.kind is Kind.ASK:
            self._error_reply(hdr, "DecodeError", str(exc))

    def _handle_envelope(self, env: Envelope, route: str | None, reply_path: Any) -> None:
        if env.kind is Kind.HEARTBEAT:
            if env.corr_id is None:
                self._send_pong(reply_path)
            if route is None:
                self._seen(env.sender_node)
            return
        if route is None:
            peer = self._peer
            if peer is not None and not self._peer_permits(env, peer, reply_path):
                return
            self._note_inbound(env.sender_node, reply_path)
            if env.sender_node in self._peers:
                self._seen(env.sender_node)
        self._dispatch(env)

    def _peer_permits(self, env: Envelope, key: str, reply_path: Any) -> bool:
        """I/O: whether an envelope from a non-node key goes on (answers to our own asks
        always do); a refused ask is answered with ``Forbidden`` and the reason. Such a
        peer speaks as a client (``client:<id>``) that it alone may use: answers to a
        client go over the connection it last spoke on, so another key taking its name
        would take its answers."""
        sender = env.sender_node
        owner = self._client_owner.get(sender)
        if not sender.startswith(CLIENT_NODE_PREFIX) or (owner is not None and owner != key):
            self._count("auth:sender")
            self._rlog.warning(
                "auth:sender", "refused a message naming sender %r from key %s", sender, key
            )
            return False
        if owner is None:
            if len(self._client_owner) > 100_000:
                self._client_owner.clear()
            self._client_owner[sender] = key
        if env.kind is Kind.REPLY or env.kind is Kind.ERROR:
            return True
        self._note_inbound(sender, reply_path)  # so that a refusal reaches it too
        policy = self._peer_policy
        try:
            why = policy(key, env) if policy is not None else "no permission policy here"
        except Exception as exc:  # a policy bug refuses, it never delivers
            self._rlog.warning("auth:policy", "permission check failed: %r", exc)
            why = "the permission check failed"
        if why is None:
            return True
        self._count("auth:forbidden")
        if env.kind is Kind.ASK:
            self._error_reply(env, "Forbidden", why)
        return False

    def _dispatch(self, env: Envelope) -> None:
        """I/O: hand an envelope to ``on_envelope`` (the real transport defers this to
        the end of its loop turn)."""
        self._deliver(env)

    def _deliver(self, env: Envelope) -> None:
        """I/O: call ``on_envelope``; count and answer its failures."""
        try:
            self._on_envelope(env)
        except UnknownTarget as exc:
            self._count("target:unknown")
            self._rlog.warning("target:unknown", "no actor %r: %s", env.target, exc)
            if env.kind is Kind.ASK:
                self._error_reply(env, "UnknownTarget", str(exc) or f"no actor {env.target!r}")
        except Exception as exc:
            self._count("handler:error")
            self._rlog.warning("handler:error", "on_envelope raised %r", exc)
            if env.kind is Kind.ASK:
                self._error_reply(env, type(exc).__name__, str(exc))

    def _error_reply(self, request: Envelope, type_name: str, message: str) -> None:
        try:
            data = self._encode_answer(
                request, Kind.ERROR, RemoteError(type_name, message[:1000]), None
            )
            self._emit(request.sender_node, [data])
            self._count("error_reply:sent")
        except Exception as exc:
            self._count("error_reply:failed")
            self._rlog.warning("error_reply:failed", "cannot send error reply: %r", exc)
