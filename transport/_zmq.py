"""ZmqTransport: one ROUTER to listen, one DEALER per peer, one I/O thread owning them all.

    actor threads ──send()──► encode on caller ─► deque ─┐ (one eventfd write per burst)
                                                         ▼
                          ┌──────────── I/O thread (owns every socket) ────────────┐
      peers' DEALERs ───► │ ROUTER ─► decode ─► on_envelope(env)                    │
                          │ drain deque ─► group by peer ─► DEALER.send_multipart   │
                          │ heartbeats: ping every interval, on_peer_down on silence│
                          │ ZAP handler (CURVE): accept only authorised public keys │
                          └────────────────────────────────────────────────────────┘

A burst of envelopes to one peer travels as one ZeroMQ frame holding the msgpack
envelopes back to back (msgpack is self-delimiting), up to ``max_message_size`` bytes:
one libzmq call and one Python-level send per batch instead of one per envelope. Since
no frame exceeds ``max_message_size``, MAXMSGSIZE on every socket refuses anything
larger at the libzmq level, before Python sees it.

The I/O thread waits in one ``epoll_wait`` over the wake-up eventfd and every socket's
ZMQ_FD (cheaper than ``zmq.Poller``, which polls each socket's state before and after
it sleeps). When an answer is expected soon (it handed an ask to a local actor or a
reply to a caller, or it sent an ask whose caller now blocks) it first polls for up to
``spin_us``, without the GIL and yielding the CPU between polls (C helper
``transport._spin``): on a virtual machine waking a sleeping thread costs tens of
microseconds, more than the wait. A ``lazy`` send leaves the wake-up to the sender,
which pays it in the same GIL-free call that puts it to sleep (see ``runtime._inbox``).
What libzmq needs a system call for (a look at ``ZMQ_EVENTS``, a read that finds a socket
empty) the C wait does after those wake-ups, so that it never delays the woken thread.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from threading import get_ident
from typing import Any, cast

import zmq
from zmq.utils import z85

from transport._base import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_HEARTBEAT_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_REAP_AFTER,
    OnEnvelope,
    OnPeerDown,
    _TransportBase,
)
from transport._codec import MessageRegistry
from transport._envelope import Envelope, Kind
from transport._errors import TransportError
from transport._security import Security
from transport._wakes import defer_wakes, write_eventfd

log = logging.getLogger("transport.zmq")

try:
    from transport._spin import wait as spin_wait
    from transport._spin import zmq_bind, zmq_events, zmq_recv_all, zmq_send
except ImportError:  # pragma: no cover - the C helper did not build: plain epoll
    spin_wait = None
try:
    from transport._spin import zmq_recv_users
except ImportError:  # pragma: no cover - an older build of the helper: pyzmq's frames
    zmq_recv_users = None
    log.warning(
        "transport: the C helper transport._spin is not built (no C compiler at install?):"
        " the I/O thread will not spin, remote asks are slower; reinstall with gcc to fix"
    )


def _bind_libzmq() -> bool:
    """Point the C helper at the libzmq pyzmq loaded, found in this process's memory
    map; False (pyzmq's own calls are used) if there is not exactly one such file."""
    if spin_wait is None:
        return False
    try:
        with open("/proc/self/maps") as maps:
            paths = {
                line.split(None, 5)[5].strip()
                for line in maps
                if line.count(" ") >= 5 and "/libzmq" in line
            }
    except OSError:
        return False
    if len(paths) != 1:
        log.info("transport: libzmq mapped from %d files: using pyzmq's calls", len(paths))
        return False
    return bool(zmq_bind(paths.pop()))


_direct = _bind_libzmq()
"""True: the I/O thread calls libzmq directly through the C helper for its hot-path
receives, sends and ZMQ_EVENTS checks (pyzmq's wrappers cost microseconds a message)."""

CLIENT_PREFIX = "client:"
"""Address prefix of a connect-only transport (``bind=None``); peers answer it over the
connection it opened, since it has no listener to connect back to."""

_BATCH = 1024  # envelopes per frame at most
_RECV_ROUNDS = 512  # multipart messages read per socket per loop turn before other work
_DRAIN_MAX = 65536  # queued envelopes moved per loop turn
_MAX_CHECKS = 64  # sockets the C wait looks at per turn (MAX_CHECKS in _spin.c)
_MAX_PENDING = 1_000_000  # envelopes held for a peer whose send queue is full

# Plain ints for the hot path: pyzmq's constants are IntFlag members, and every
# ``&``/``|`` on them runs enum machinery in Python (a few microseconds a message).
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)
_NOBLOCK = int(zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_RCVMORE = int(zmq.RCVMORE)
_EAGAIN = int(zmq.EAGAIN)
_ASK = Kind.ASK
_REPLY = Kind.REPLY

DEFAULT_SPIN_US = 200.0
"""How long the I/O thread spins (politely: it yields the CPU to any runnable thread
between polls) before sleeping, after it hands over an ask or a reply, and after it
sends an ask whose caller blocks on the reply."""


class _Route:
    """Where frames for one peer address go."""

    __slots__ = ("addr", "ident", "pending", "sock")

    def __init__(self, addr: str, sock: zmq.Socket[Any], ident: bytes | None) -> None:
        self.addr = addr
        self.sock = sock
        self.ident = ident  # None: our DEALER to the peer; bytes: via our ROUTER
        self.pending: deque[bytes] = deque()


def io_spin() -> tuple[float, str]:
    """How the I/O thread waits, for benchmark reports: its spin after an ask or a reply
    in microseconds (``PYDCOS_IO_SPIN_US``; 0 without the C helper) and how the C
    helper is wired, in words."""
    if spin_wait is None:
        return 0.0, "C helper NOT built: no spin"
    helper = "C helper built" if _direct else "C helper built, libzmq not bound: pyzmq calls"
    return _env_spin_us(), helper


def _env_spin_us() -> float:
    raw = os.environ.get("PYDCOS_IO_SPIN_US")
    if raw is None or raw == "":
        return DEFAULT_SPIN_US
    try:
        value = float(raw)
    except ValueError:
        raise TransportError(f"PYDCOS_IO_SPIN_US: {raw!r} is not a number") from None
    if not 0 <= value <= 10_000:
        raise TransportError(f"PYDCOS_IO_SPIN_US: {raw!r} is not between 0 and 10000")
    return value


def _make_wakeup() -> tuple[int, int]:
    if hasattr(os, "eventfd"):
        fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        return fd, fd
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    return r, w


class ZmqTransport(_TransportBase):
    """The real transport. See the module docstring for the threading model."""

    def __init__(
        self,
        bind: str | None = "tcp://127.0.0.1:0",
        *,
        advertise: str | None = None,
        security: Security,
        on_envelope: OnEnvelope,
        on_peer_down: OnPeerDown | None = None,
        registry: MessageRegistry | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
        reap_after: float = DEFAULT_REAP_AFTER,
        linger: float = 0.1,
        hwm: int = 100_000,
        spin_us: float | None = None,
    ) -> None:
        super().__init__(
            registry=registry,
            max_message_size=max_message_size,
            on_envelope=on_envelope,
            on_peer_down=on_peer_down,
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            reap_after=reap_after,
        )
        if bind is not None and not security.can_serve:
            raise TransportError(
                "this security holds no cluster secret key, so it cannot listen: "
                "use bind=None for a connect-only client"
            )
        self.bind = bind
        self.advertise = advertise
        self.security = security
        self.linger = linger
        self.hwm = hwm
        if spin_us is None:
            spin_us = _env_spin_us()
        self.spin_ns = int(spin_us * 1000)
        """How long the I/O thread polls before it sleeps when an answer is expected
        soon: after handing over an ask or a reply, and after sending a synchronous ask
        (Linux's SO_BUSY_POLL in user space). Without the GIL, in the C helper, yielding
        the CPU between polls. On a VM waking a sleeping thread costs tens of
        microseconds, and the answer is usually back sooner. 0: never."""
        self._outq: deque[tuple[str, bytes]] = deque()
        self._signalled = False
        self._reply_awaited = False
        self._stopping = False
        self._started = False
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._wake_r = self._wake_w = -1
        self._io_ident = -1
        # I/O-thread state
        self._ctx: zmq.Context[Any] | None = None
        self._ep: select.epoll | None = None
        self._sock_by_fd: dict[int, zmq.Socket[Any]] = {}
        self._handle: dict[zmq.Socket[Any], int] = {}  # Socket.underlying, for _direct
        self._by_handle: dict[int, zmq.Socket[Any]] = {}
        self._recheck: set[zmq.Socket[Any]] = set()  # look at ZMQ_EVENTS before sleeping
        self._router: zmq.Socket[Any] | None = None
        self._zap: zmq.Socket[Any] | None = None
        self._routes: dict[str, _Route] = {}
        self._by_sock: dict[zmq.Socket[Any], _Route] = {}
        self._client_idents: dict[str, bytes] = {}
        self._inbound: list[Envelope] = []
        self._first_read = _RECV_ROUNDS  # messages read when a socket's fd fires

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> ZmqTransport:
        """Bind and start the I/O thread; returns once ``address`` is known."""
        if self._started:
            raise TransportError("transport already started")
        self._started = True
        self._wake_r, self._wake_w = _make_wakeup()
        self._thread = threading.Thread(target=self._run, name="transport-io", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise TransportError(f"transport failed to start: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what is queued (bounded by ``linger``), close the sockets, join the thread."""
        if self._thread is None or self._stopping:
            return
        self._stopping = True
        self._wake()
        self._thread.join(timeout)

    def __del__(self) -> None:
        # Not in stop(): a thread that owes this transport a wake-up (a lazy send)
        # holds a reference to it and may still write the eventfd after stop().
        for fd in {getattr(self, "_wake_r", -1), getattr(self, "_wake_w", -1)}:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __enter__(self) -> ZmqTransport:
        return self.start() if not self._started else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- caller threads -------------------------------------------------------------

    def _enqueue(self, peer: str, data: bytes, lazy: bool = False, ask: bool = False) -> bool:
        if self._stopping:
            return False  # at-most-once: a send racing shutdown is dropped
        self._outq.append((peer, data))
        if ask and lazy:
            self._reply_awaited = True  # a caller blocks on the reply: spin for it
        # From the I/O thread itself (a reply sent inside on_envelope) no wakeup is
        # needed: the loop drains the queue before it polls again.
        if not self._signalled and get_ident() != self._io_ident:
            self._signalled = True
            if lazy and self._wake_w == self._wake_r:
                return True  # the caller writes wake_fd as it goes to sleep
            self._wake()
        return False

    @property
    def wake_fd(self) -> int:
        return self._wake_w if self._wake_w == self._wake_r else -1

    def _wake(self) -> None:
        try:
            if self._wake_r == self._wake_w:
                os.eventfd_write(self._wake_w, 1)
            else:
                os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # already signalled (pipe full) or shutting down

    # -- I/O thread -----------------------------------------------------------------

    def _run(self) -> None:
        self._io_ident = get_ident()
        ctx: zmq.Context[Any] = zmq.Context(io_threads=1)
        self._ctx = ctx
        self._ep = select.epoll()
        try:
            self._setup(ctx)
        except BaseException as exc:
            self._error = exc
            ctx.destroy(linger=0)
            self._ep.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop()
        except BaseException:  # pragma: no cover - last resort, should not happen
            log.exception("transport I/O thread crashed")
            self._count("io:crashed")
        finally:
            ctx.destroy(linger=int(self.linger * 1000))
            self._ep.close()

    def _setup(self, ctx: zmq.Context[Any]) -> None:
        sec = self.security
        assert self._ep is not None
        if self._wake_r == self._wake_w:
            # Edge-triggered: every write to the eventfd is one event, and nothing has
            # to read it back (one system call less per wake-up). Its counter would
            # take centuries of wake-ups to saturate.
            self._ep.register(self._wake_r, select.EPOLLIN | select.EPOLLET)
        else:
            self._ep.register(self._wake_r, select.EPOLLIN)
        if self.bind is None:
            self._address = CLIENT_PREFIX + uuid.uuid4().hex
        else:
            if sec.mode == "curve":
                zap = ctx.socket(zmq.REP)
                zap.linger = 0
                zap.bind("inproc://zeromq.zap.01")
                self._zap = zap
                self._watch(zap)
            router = ctx.socket(zmq.ROUTER)
            self._sockopts(router)
            router.setsockopt(zmq.ROUTER_MANDATORY, 1)
            if sec.mode == "curve":
                router.curve_server = True
                router.curve_secretkey = sec.server_secret
                router.curve_publickey = sec.server_public
                router.zap_domain = b"pydcos"
            router.bind(self.bind)
            self._router = router
            self._watch(router)
            bound = router.getsockopt_string(zmq.LAST_ENDPOINT)
            self._address = self._advertised(bound)
        self._init_heartbeats()
        log.info("transport %s listening (%s)", self._address, sec.mode)

    def _advertised(self, bound: str) -> str:
        port = bound.rsplit(":", 1)[1]
        adv = self.advertise
        if adv is None:
            host = bound.rsplit(":", 1)[0]
            if host in ("tcp://0.0.0.0", "tcp://*", "tcp://[::]"):
                log.warning("bound to %s without advertise=: advertising 127.0.0.1", bound)
                host = "tcp://127.0.0.1"
            return f"{host}:{port}"
        head, _, tail = adv.rpartition(":")
        if head and head != "tcp" and tail.isdigit():
            return adv if int(tail) != 0 else f"{head}:{port}"
        return f"{adv}:{port}"

    def _sockopts(self, s: zmq.Socket[Any]) -> None:
        s.linger = int(self.linger * 1000)
        s.sndhwm = self.hwm
        s.rcvhwm = self.hwm
        s.setsockopt(zmq.MAXMSGSIZE, self.max_message_size)
        s.setsockopt(zmq.RECONNECT_IVL, 100)
        s.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)

    def _watch(self, sock: zmq.Socket[Any]) -> None:
        """Put a socket's ZMQ_FD in the epoll set (level-triggered on the fd itself).

        The fd only says "look at ZMQ_EVENTS": it signals commands for the socket, and
        any send or recv may consume that signal. So a socket is looked at when its fd
        fires, and also after every turn that wrote to it or stopped reading it early
        (``_recheck``), before the loop sleeps again.
        """
        assert self._ep is not None
        fd = int(sock.getsockopt(zmq.FD))
        self._sock_by_fd[fd] = sock
        self._handle[sock] = sock.underlying
        self._by_handle[sock.underlying] = sock
        self._ep.register(fd, select.EPOLLIN)

    def _loop(self) -> None:
        # Wake-ups this thread makes (actors, ask callers) wait for the GIL-free wait.
        held: list[int] = []
        if spin_wait is not None:
            defer_wakes(held)
        try:
            self._turns(held)
        finally:
            defer_wakes(None)
            for fd in held:
                write_eventfd(fd)

    def _turns(self, held: list[int]) -> None:
        assert self._ep is not None
        ep_poll = self._ep.poll
        epfd = self._ep.fileno()
        spin = 0
        spin_ns = self.spin_ns if spin_wait is not None else 0
        # With libzmq bound, the sockets to look at again before sleeping are looked at
        # by the C wait, after it has woken the threads this turn handed work to: the
        # look (a system call in libzmq) is off their path. Reads stop after the first
        # message for the same reason (finding the socket empty costs the same call).
        c_check = _direct and spin_wait is not None
        self._first_read = 1 if c_check else _RECV_ROUNDS
        check: list[int] = []
        wake = self._wake_r
        by_fd = self._sock_by_fd
        by_handle = self._by_handle
        service = self._service
        read = self._read
        recv = self._recv
        inbound = self._inbound
        interval = self.heartbeat_interval
        next_tick = time.monotonic() + interval
        timeout = interval
        while True:
            # One epoll_wait: the only Python work before the GIL is dropped is a
            # C call, so a thread we just woke does not queue behind us for the GIL.
            if spin_wait is not None:
                if timeout:
                    events = spin_wait(epfd, timeout, spin, held, check)
                    spin = 0
                else:  # work is waiting: look, do not poll; keep `spin` for the next wait
                    events = spin_wait(epfd, 0.0, 0, held, check)
                check = []
            else:
                events = ep_poll(timeout)
            self._now = now = time.monotonic()
            ready = self._recheck
            self._recheck = set()
            for fd, ev in events:
                if fd == wake:
                    self._clear_wake()
                elif ev == 0:  # the C wait's look: this socket has messages
                    sock = by_handle.get(fd)
                    if sock is not None:
                        ready.discard(sock)
                        recv(sock, _RECV_ROUNDS)
                else:
                    sock = by_fd.get(fd)
                    if sock is not None:
                        ready.discard(sock)
                        read(sock)
            for sock in ready:
                service(sock)
            if self._outq:
                self._drain()
                if self._reply_awaited:
                    self._reply_awaited = False
                    spin = spin_ns
            if self._stopping:
                self._deliver_inbound()
                self._signalled = False
                self._drain()
                return
            if now >= next_tick:
                self._tick()
                next_tick = now + interval
            # A send may have consumed a socket's fd signal (its commands were
            # processed): read what became readable before sleeping.
            if self._recheck and not c_check:
                ready = self._recheck
                self._recheck = set()
                for sock in ready:
                    service(sock)
            # Last, right before the wait drops the GIL: handing an envelope over wakes
            # an actor (or an ask's caller), which then needs the GIL at once. After an
            # ask or a reply, an answer usually comes back within microseconds: spin.
            if inbound and self._deliver_inbound():
                spin = spin_ns
            if c_check and self._recheck:
                check = self._checks()
            if self._outq or self._recheck:
                timeout = 0.0
            else:
                timeout = max(0.0, next_tick - time.monotonic()) + 0.001

    def _checks(self) -> list[int]:
        """The handles of the sockets to look at again, for the C wait to look at once
        it has woken the threads this turn handed work to; the rare socket with frames
        waiting for room is serviced here (and may come back for the next turn)."""
        socks = self._recheck
        self._recheck = set()
        by_sock = self._by_sock
        handles: list[int] = []
        for sock in socks:
            r = by_sock.get(sock)
            if r is not None and r.pending:
                self._service(sock)
            elif len(handles) < _MAX_CHECKS:
                handles.append(self._handle[sock])
            else:  # the C wait's limit: the rest next turn
                self._recheck.add(sock)
        return handles

    def _read(self, sock: zmq.Socket[Any]) -> None:
        """A socket's fd fired: read at once (almost always there is a message, and a
        recv that finds none settles the socket's state as ZMQ_EVENTS would), then
        flush what waits for room on it."""
        self._recv(sock, self._first_read)
        r = self._by_sock.get(sock)
        if r is not None and r.pending and self._events(sock) & _POLLOUT:
            self._flush_pending(r)

    def _service(self, sock: zmq.Socket[Any]) -> None:
        """Read what a socket holds and flush what waits for room on it (for a socket
        whose fd did not fire: ask ZMQ_EVENTS first, cheaper than a failing recv)."""
        ev = self._events(sock)
        if ev & _POLLIN:
            self._recv(sock, _RECV_ROUNDS)
        if ev & _POLLOUT:
            r = self._by_sock.get(sock)
            if r is not None and r.pending:
                self._flush_pending(r)

    def _events(self, sock: zmq.Socket[Any]) -> int:
        if _direct:
            return int(zmq_events(self._handle[sock]))
        return int(sock.getsockopt(_EVENTS))

    def _recv(self, sock: zmq.Socket[Any], rounds: int) -> None:
        """Read up to ``rounds`` messages; a socket not read until it said EAGAIN goes
        back to ``_recheck``."""
        if sock is self._router:
            self._recv_router(rounds)
        elif sock is self._zap:
            self._handle_zap()
        else:
            r = self._by_sock.get(sock)
            if r is not None:
                self._recv_dealer(r, rounds)

    def _dispatch(self, env: Envelope) -> None:
        self._inbound.append(env)

    def _deliver_inbound(self) -> bool:
        """Hand over what this turn read; True if an answer may come back at once (an
        ask went to a local actor, or a reply to a caller who may ask again)."""
        inbound = self._inbound
        deliver = self._deliver
        quick = False
        for env in inbound:
            deliver(env)
            if env.kind is _ASK or env.kind is _REPLY:
                quick = True
        inbound.clear()
        return quick

    def _clear_wake(self) -> None:
        if self._wake_r != self._wake_w:  # a pipe: drain it (the eventfd is edge-triggered)
            try:
                os.read(self._wake_r, 4096)
            except BlockingIOError:
                pass
        self._signalled = False  # BEFORE draining: a send after this point wakes us again

    def _drain(self) -> None:
        q = self._outq
        batches: dict[str, list[bytes]] = {}
        n = 0
        while q and n < _DRAIN_MAX:
            peer, data = q.popleft()
            n += 1
            b = batches.get(peer)
            if b is None:
                batches[peer] = [data]
            else:
                b.append(data)
        for peer, frames in batches.items():
            self._emit(peer, frames)

    def _recv_router(self, rounds: int) -> None:
        router = self._router
        assert router is not None
        if self._key_check is not None:
            self._recv_router_users(router, rounds)
            return
        handle = self._handle_frame
        if _direct:
            msgs, drained = zmq_recv_all(self._handle[router], rounds)
            for parts in msgs:
                ident = parts[0]
                for i in range(1, len(parts)):
                    handle(parts[i], None, ident)
            if not drained:
                self._recheck.add(router)  # more to read: come back after other work
            return
        recv = router.recv
        opt = cast("Callable[[int], int]", router.getsockopt)
        # Read while EVENTS says a message is ready rather than until zmq.Again: the
        # check neither raises nor releases the GIL (recv does), so a thread we just
        # handed a message to does not have to fight us for the GIL.
        for _ in range(rounds):
            try:
                ident = recv(_NOBLOCK)
            except zmq.Again:
                return
            while opt(_RCVMORE):
                handle(recv(_NOBLOCK), None, ident)
            if not opt(_EVENTS) & _POLLIN:
                return
        self._recheck.add(router)  # more to read: come back after other work

    def _recv_router_users(self, router: zmq.Socket[Any], rounds: int) -> None:
        """``_recv_router`` when keys outside ``authorized`` may connect: each message
        with its connection's User-Id (the CURVE key our ZAP handler authenticated), so
        that what a service account sends is checked against its permissions."""
        handle = self._handle_frame
        trusted = self.security.authorized
        if _direct and zmq_recv_users is not None:
            msgs, drained = zmq_recv_users(self._handle[router], rounds)
        else:
            msgs, drained = [], False
            for _ in range(rounds):
                try:
                    first = router.recv(_NOBLOCK, copy=False)
                except zmq.Again:
                    drained = True
                    break
                parts = [first.bytes]
                while router.getsockopt(zmq.RCVMORE):
                    parts.append(router.recv(_NOBLOCK))
                parts.append(str(first.get("User-Id") or "").encode())
                msgs.append(parts)
        try:
            for parts in msgs:
                user = parts.pop()
                ident = parts[0]
                self._peer = None if user in trusted or not user else user.decode()
                for i in range(1, len(parts)):
                    handle(parts[i], None, ident)
        finally:
            self._peer = None
        if not drained:
            self._recheck.add(router)

    def _recv_dealer(self, r: _Route, rounds: int) -> None:
        handle = self._handle_frame
        addr = r.addr
        sock = r.sock
        if _direct:
            msgs, drained = zmq_recv_all(self._handle[sock], rounds)
            for parts in msgs:
                for frame in parts:
                    handle(frame, addr, sock)
            if not drained:
                self._recheck.add(sock)  # more to read: come back after other work
            return
        recv = sock.recv
        opt = cast("Callable[[int], int]", sock.getsockopt)
        for _ in range(rounds):
            try:
                frame = recv(_NOBLOCK)
            except zmq.Again:
                return
            handle(frame, addr, sock)
            while opt(_RCVMORE):
                handle(recv(_NOBLOCK), addr, sock)
            if not opt(_EVENTS) & _POLLIN:
                return
        self._recheck.add(sock)  # more to read: come back after other work

    def _handle_zap(self) -> None:
        assert self._zap is not None
        try:
            msg = self._zap.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return
        if len(msg) < 6:
            return
        request_id, address, mechanism, creds = msg[1], msg[3], msg[5], msg[6:]
        key = z85.encode(creds[0]) if mechanism == b"CURVE" and len(creds) == 1 else b""
        ok = key in self.security.authorized
        if not ok and key and self._key_check is not None:
            try:  # a service account's key (its messages are checked, see _recv_router)
                ok = bool(self._key_check(key.decode()))
            except Exception as exc:
                self._rlog.warning("auth:key_check", "key check failed: %r", exc)
        if not ok:
            self._count("auth:denied")
            self._rlog.warning(
                "auth:denied",
                "refused %s connection from %s: key %s is not authorised",
                mechanism.decode(errors="replace"),
                address.decode(errors="replace"),
                key.decode(errors="replace") or "-",
            )
        status = [b"200", b"OK"] if ok else [b"400", b"key not authorised"]
        self._zap.send_multipart([b"1.0", request_id, *status, key if ok else b"", b""])
        self._recheck.add(self._zap)  # the next request may be waiting already

    def _open_route(self, peer: str) -> _Route | None:
        if peer.startswith(CLIENT_PREFIX):
            ident = self._client_idents.get(peer)
            if ident is None or self._router is None:
                return None
            r = _Route(peer, self._router, ident)
        else:
            assert self._ctx is not None
            sec = self.security
            sock = self._ctx.socket(zmq.DEALER)
            self._sockopts(sock)
            if sec.mode == "curve":
                sock.curve_serverkey = sec.server_public
                sock.curve_publickey = sec.client_public
                sock.curve_secretkey = sec.client_secret
            try:
                sock.connect(peer)
            except zmq.ZMQError as exc:
                sock.close(linger=0)
                self._rlog.warning("send:bad_address", "cannot connect to %r: %s", peer, exc)
                return None
            r = _Route(peer, sock, None)
            self._by_sock[sock] = r
            self._watch(sock)
        self._routes[peer] = r
        self._track(peer)
        return r

    def _note_inbound(self, sender_node: str, reply_path: Any) -> None:
        if (
            sender_node.startswith(CLIENT_PREFIX)
            and type(reply_path) is bytes
            and self._client_idents.get(sender_node) != reply_path
        ):
            if len(self._client_idents) > 100_000:
                self._client_idents.clear()
            self._client_idents[sender_node] = reply_path
            r = self._routes.get(sender_node)
            if r is not None:
                r.ident = reply_path

    def _forget(self, peer: str) -> None:
        self._client_idents.pop(peer, None)
        r = self._routes.pop(peer, None)
        if r is None:
            return
        if r.pending:
            self._counters["send:reaped"] += len(r.pending)
            r.pending.clear()
        if r.ident is not None:
            return  # a connect-only client, reached through our ROUTER
        sock = r.sock
        del self._by_sock[sock]
        self._recheck.discard(sock)
        self._by_handle.pop(self._handle.pop(sock, 0), None)
        for fd, s in list(self._sock_by_fd.items()):
            if s is sock:
                del self._sock_by_fd[fd]
                assert self._ep is not None
                self._ep.unregister(fd)
        sock.close(linger=0)  # frames queued in libzmq for the peer go with it

    def _emit(self, peer: str, frames: list[bytes]) -> None:
        r = self._routes.get(peer)
        if r is None:
            r = self._open_route(peer)
            if r is None:
                self._counters["send:unroutable"] += len(frames)
                return
        if r.pending:
            self._hold(r, frames)
        else:
            self._write(r, frames)

    def _hold(self, r: _Route, frames: list[bytes]) -> None:
        room = _MAX_PENDING - len(r.pending)
        if room < len(frames):
            self._counters["send:overflow"] += len(frames) - max(room, 0)
            self._rlog.warning("send:overflow", "peer %s is not reading: dropping", r.addr)
            frames = frames[: max(room, 0)]
        r.pending.extend(frames)

    def _write(self, r: _Route, frames: list[bytes]) -> None:
        """Send envelopes as few frames as possible: each frame carries consecutive
        envelopes back to back, up to ``max_message_size`` bytes (one libzmq call each)."""
        sock = r.sock
        self._recheck.add(sock)
        handle = self._handle.get(sock, 0)
        direct = _direct and handle != 0
        limit = self.max_message_size
        n = len(frames)
        i = 0
        while i < n:
            if n == 1:
                batch = frames[0]
                j = 1
            else:
                size = len(frames[i])
                j = i + 1
                while j < n and j - i < _BATCH and size + len(frames[j]) <= limit:
                    size += len(frames[j])
                    j += 1
                batch = frames[i] if j == i + 1 else b"".join(frames[i:j])
            try:
                if direct and len(batch) < 65536:
                    err = zmq_send(handle, batch, r.ident)
                    if err == _EAGAIN:
                        raise zmq.Again(err)
                    if err:
                        raise zmq.ZMQError(err)
                elif r.ident is None:
                    sock.send(batch, _NOBLOCK, copy=len(batch) < 65536)
                else:
                    sock.send_multipart([r.ident, batch], _NOBLOCK)
            except zmq.Again:
                if r.ident is not None:  # a client's pipe is full: drop, do not stall
                    self._counters["send:overflow"] += j - i
                    i = j
                    continue
                self._hold(r, frames[i:])  # flushed when ZMQ_EVENTS says POLLOUT
                return
            except zmq.ZMQError as exc:  # EHOSTUNREACH: the client is gone
                self._counters["send:unreachable"] += n - i
                self._rlog.warning("send:unreachable", "cannot send to %s: %s", r.addr, exc)
                return
            i = j

    def _flush_pending(self, r: _Route) -> None:
        frames = list(r.pending)
        r.pending.clear()
        self._write(r, frames)

    def _send_pong(self, reply_path: Any) -> None:
        try:
            if type(reply_path) is bytes:
                if self._router is not None:
                    self._router.send_multipart([reply_path, self._pong], zmq.NOBLOCK)
                    self._recheck.add(self._router)
            else:
                reply_path.send(self._pong, zmq.NOBLOCK)
                self._recheck.add(reply_path)
        except zmq.ZMQError:
            self._count("heartbeat:pong_failed")
