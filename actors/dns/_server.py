"""The DNS server: UDP and TCP on one asyncio loop in its own thread.

```
 UDP socket ──add_reader──> drain every ready datagram ──Answerer──> sendto
 TCP (asyncio streams): 2-byte length, frame ──Answerer(tcp=True)──> length + reply
 FORWARD ──> task: the query to each upstream in turn (UDP, or TCP for TCP clients),
             the first answer is relayed; none -> SERVFAIL
 set_table(table) (any thread) ──> a new Answerer, swapped in by one assignment
```

The UDP side reads with ``recvfrom`` until the socket is empty on every wake-up,
instead of asyncio's one-datagram-per-callback transport: under load most of the cost
is then the answer itself (a dict lookup for a repeated query).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from actors.dns._errors import DnsStartError
from actors.dns._records import RecordTable
from actors.dns._wire import Answerer, Forward, header_reply

log = logging.getLogger("actors.dns")

SERVFAIL = 2
MAX_FORWARDS = 512
"""Forwarded queries in flight; past it a query gets SERVFAIL at once."""
MAX_TCP_CLIENTS = 256
TCP_IDLE = 10.0
"""Seconds a TCP client may stay silent before it is closed (RFC 7766 suggests a few)."""
SOCKET_BUFFER = 4 * 1024 * 1024


@dataclass
class ServerStats:
    udp_queries: int = 0
    tcp_queries: int = 0
    forwarded: int = 0
    forward_failed: int = 0
    dropped: int = 0


class DnsServer:
    """Start with ``start()`` (binds, raises ``DnsStartError``); ``stop()`` closes."""

    def __init__(
        self,
        table: RecordTable,
        host: str = "127.0.0.1",
        port: int = 0,
        upstreams: Sequence[tuple[str, int]] = (),
        forward_timeout: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self.upstreams = list(upstreams)
        self.forward_timeout = forward_timeout
        self.answerer = Answerer(table)
        self.stats = ServerStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._udp: socket.socket | None = None
        self._tcp_server: asyncio.AbstractServer | None = None
        self._tcp_sock: socket.socket | None = None
        self._forwards = 0
        self._tcp_clients = 0
        self._ready = threading.Event()

    @property
    def table(self) -> RecordTable:
        return self.answerer.table

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def set_table(self, table: RecordTable) -> None:
        """Serve ``table`` from the next query on (callable from any thread); answers
        the change leaves alike stay encoded (``Answerer.inherit``)."""
        new = Answerer(table)
        new.inherit(self.answerer)
        self.answerer = new

    # -- lifecycle ----------------------------------------------------------------

    def _bind(self) -> None:
        inherited = _INHERITED.get((self.host, self.port))
        reserved = _RESERVED.pop((self.host, self.port), None)
        if inherited is not None:
            # Copies: the parent's sockets stay bound for the next server of this process
            # (a restarted actor cannot bind a port its parent holds).
            udp, tcp, port = inherited[0].dup(), inherited[1].dup(), self.port
        elif reserved is not None:
            udp, tcp, port = reserved
        else:
            udp, tcp, port = bind_pair(self.host, self.port)
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            with contextlib.suppress(OSError):
                udp.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        udp.setblocking(False)
        tcp.setblocking(False)
        self._udp, self._tcp_sock, self.port = udp, tcp, port

    def start(self, timeout: float = 5.0) -> DnsServer:
        self._bind()
        self._thread = threading.Thread(target=self._run, name="dns-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise DnsStartError(f"DNS server did not start within {timeout} s")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        finally:
            self._ready.set()
        loop.run_forever()
        if self._tcp_server is not None:
            self._tcp_server.close()
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._udp is not None and self._tcp_sock is not None
        loop.add_reader(self._udp.fileno(), self._on_udp)
        self._tcp_server = await asyncio.start_server(self._on_tcp, sock=self._tcp_sock)

    def stop(self, timeout: float = 5.0) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._shutdown)
        if self._thread is not None:
            self._thread.join(timeout)
        for s in (self._udp, self._tcp_sock):
            if s is not None:
                s.close()

    def _shutdown(self) -> None:
        loop = asyncio.get_running_loop()
        if self._udp is not None:
            loop.remove_reader(self._udp.fileno())
        loop.stop()

    # -- UDP ------------------------------------------------------------------------

    def _on_udp(self) -> None:
        sock = self._udp
        if sock is None:
            return
        answerer = self.answerer
        stats = self.stats
        for _ in range(512):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            stats.udp_queries += 1
            reply = answerer.answer(data)
            if reply is None:
                stats.dropped += 1
            elif isinstance(reply, Forward):
                self._spawn_forward(data, addr, tcp=False)
            else:
                try:
                    sock.sendto(reply, addr)
                except OSError:
                    stats.dropped += 1

    def _spawn_forward(self, data: bytes, addr: tuple[str, int], tcp: bool) -> None:
        if self._forwards >= MAX_FORWARDS or not self.upstreams:
            self.stats.forward_failed += 1
            reply = header_reply(data, SERVFAIL)
            if reply is not None and self._udp is not None:
                with contextlib.suppress(OSError):
                    self._udp.sendto(reply, addr)
            return
        asyncio.get_running_loop().create_task(self._forward_udp_client(data, addr))

    async def _forward_udp_client(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.forward(data, tcp=False)
        if reply is not None and self._udp is not None:
            with contextlib.suppress(OSError):
                self._udp.sendto(reply, addr)

    # -- forwarding -------------------------------------------------------------------

    async def forward(self, data: bytes, tcp: bool) -> bytes | None:
        """Ask each upstream in turn; the first answer (with the query's id) wins."""
        self._forwards += 1
        self.stats.forwarded += 1
        try:
            for host, port in self.upstreams:
                try:
                    if tcp:
                        reply = await asyncio.wait_for(
                            self._ask_tcp(host, port, data), self.forward_timeout
                        )
                    else:
                        reply = await asyncio.wait_for(
                            self._ask_udp(host, port, data), self.forward_timeout
                        )
                except (OSError, TimeoutError, asyncio.IncompleteReadError):
                    continue
                if len(reply) >= 12 and reply[:2] == data[:2]:
                    return reply
            self.stats.forward_failed += 1
            return header_reply(data, SERVFAIL)
        finally:
            self._forwards -= 1

    @staticmethod
    async def _ask_udp(host: str, port: int, data: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.connect((host, port))
            await loop.sock_sendall(sock, data)
            while True:
                reply = await loop.sock_recv(sock, 65535)
                if reply[:2] == data[:2]:
                    return reply
        finally:
            sock.close()

    @staticmethod
    async def _ask_tcp(host: str, port: int, data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(struct.pack("!H", len(data)) + data)
            await writer.drain()
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(size)
        finally:
            writer.close()

    # -- TCP --------------------------------------------------------------------------

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._tcp_clients >= MAX_TCP_CLIENTS:
            writer.close()
            return
        self._tcp_clients += 1
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE)
                    (size,) = struct.unpack("!H", head)
                    data = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE)
                except (asyncio.IncompleteReadError, TimeoutError, OSError):
                    return
                self.stats.tcp_queries += 1
                reply = self.answerer.answer(data, tcp=True)
                if isinstance(reply, Forward):
                    reply = await self.forward(data, tcp=True) if self.upstreams else None
                    if reply is None:
                        reply = header_reply(data, SERVFAIL)
                if reply is None:
                    self.stats.dropped += 1
                    if len(data) < 12:
                        return  # not even a header: the stream is garbage
                    continue
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except Exception:
            log.exception("dns: a TCP client failed")
        finally:
            self._tcp_clients -= 1
            with contextlib.suppress(Exception):
                writer.close()


BIND_TRIES = 20
"""Free ports tried for port 0: the kernel's free UDP port may have a TCP twin in use."""

_RESERVED: dict[tuple[str, int], tuple[socket.socket, socket.socket, int]] = {}
_INHERITED: dict[tuple[str, int], tuple[socket.socket, socket.socket]] = {}
"""(host, port) -> sockets a parent bound and handed down (``adopt``): every server of
this process on that address serves on copies of them."""
"""Sockets ``reserve`` bound before the server started, by (host, port)."""


def bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket, int]:
    """A UDP and a TCP (listening) socket on one port of ``host``: ``port``, or with 0 a
    free UDP port whose TCP twin is free too (retried on EADDRINUSE). Bound here, by the
    server's own process: a port picked elsewhere and released can be taken meanwhile."""
    tries = BIND_TRIES if port == 0 else 1
    last: OSError | None = None
    for _ in range(tries):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            udp.bind((host, port))
            bound = int(udp.getsockname()[1])
            tcp.bind((host, bound))
            tcp.listen(128)
        except OSError as exc:
            udp.close()
            tcp.close()
            last = exc
            continue
        return udp, tcp, bound
    raise DnsStartError(f"DNS cannot listen on {host}:{port}: {last}")


def reserve(host: str, port: int) -> int:
    """Bind the DNS sockets now (a process' start-up, before it reports the port) and
    keep them for the ``DnsServer`` that starts on (host, the returned port)."""
    udp, tcp, bound = bind_pair(host, port)
    _RESERVED[(host, bound)] = (udp, tcp, bound)
    return bound


def reserved_fds(host: str, port: int) -> tuple[int, int] | None:
    """The UDP and TCP descriptors ``reserve`` bound on (host, port), for a companion
    process to inherit (None: nothing reserved there)."""
    got = _RESERVED.get((host, port))
    return (got[0].fileno(), got[1].fileno()) if got is not None else None


def adopt(host: str, port: int, udp_fd: int, tcp_fd: int) -> None:
    """Serve (host, port) on sockets a parent bound and handed down (``reserved_fds``),
    now and after a restart of the server; a descriptor that is not such a socket is a
    DnsStartError."""
    try:
        udp = socket.socket(fileno=udp_fd)
        tcp = socket.socket(fileno=tcp_fd)
    except OSError as exc:
        raise DnsStartError(f"DNS: inherited descriptors {udp_fd},{tcp_fd}: {exc}") from None
    if udp.type != socket.SOCK_DGRAM or tcp.type != socket.SOCK_STREAM:
        raise DnsStartError(f"DNS: inherited descriptors {udp_fd},{tcp_fd} are not UDP,TCP")
    bound = int(udp.getsockname()[1])
    if bound != port or int(tcp.getsockname()[1]) != port:
        raise DnsStartError(f"DNS: inherited sockets are on port {bound}, not {port}")
    _INHERITED[(host, port)] = (udp, tcp)


def parse_upstreams(text: str) -> list[tuple[str, int]]:
    """``"10.0.0.1,10.0.0.2:5353"`` -> [(ip, port)]; a bad entry is a DnsConfigError."""
    import ipaddress

    from actors.dns._errors import DnsConfigError

    out: list[tuple[str, int]] = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        host, sep, port_text = item.rpartition(":")
        if not sep:
            host, port_text = item, "53"
        try:
            ip = str(ipaddress.IPv4Address(host))
        except ValueError:
            raise DnsConfigError(f"dns-upstream: {item!r} is not an IPv4 address[:port]") from None
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise DnsConfigError(f"dns-upstream: {item!r} has no valid port (1-65535)")
        out.append((ip, int(port_text)))
    return out


def resolv_conf_upstreams(text: str) -> list[tuple[str, int]]:
    """The IPv4 ``nameserver`` lines of a resolv.conf, port 53."""
    import ipaddress

    out: list[tuple[str, int]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                out.append((str(ipaddress.IPv4Address(parts[1])), 53))
            except ValueError:
                continue
    return out
