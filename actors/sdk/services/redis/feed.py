"""A replication master that serves one RDB file: the restore's source.

A Redis replica asked to ``REPLICAOF`` this address does what it does with any master:
``PING``, ``REPLCONF ...``, ``PSYNC``; the answer is ``+FULLRESYNC <replid> <offset>``
and the backup file itself as the bulk payload (``$<size>\\r\\n<bytes>``), sent with
``sendfile`` -- no server loads the snapshot and writes it out again, so a restore costs
one file read per server plus each server's own load. The connection then stays open
(an empty replication stream) until the feed stops; the primary is promoted and its
replicas follow it with a partial resync (it keeps ``replid`` as its secondary id).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path

from actors.sdk.services.redis.logic import RedisServiceError

MAX_COMMAND = 64 * 1024


def parse_command(buf: bytes) -> tuple[list[bytes] | None, bytes]:
    """One RESP command (array of bulk strings, or an inline line) from ``buf``:
    (its words, the rest), or (None, buf) when it is incomplete."""
    if not buf:
        return None, buf
    if buf[:1] != b"*":
        line, sep, rest = buf.partition(b"\r\n")
        if not sep:
            line, sep, rest = buf.partition(b"\n")
            if not sep:
                return None, buf
        return line.split(), rest
    head, sep, rest = buf.partition(b"\r\n")
    if not sep:
        return None, buf
    try:
        count = int(head[1:])
    except ValueError as exc:
        raise RedisServiceError(f"bad RESP array header {head[:20]!r}") from exc
    words: list[bytes] = []
    for _ in range(count):
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return None, buf
        if size_line[:1] != b"$":
            raise RedisServiceError(f"bad RESP bulk header {size_line[:20]!r}")
        size = int(size_line[1:])
        if len(rest) < size + 2:
            return None, buf
        words.append(rest[:size])
        rest = rest[size + 2 :]
    return words, rest


def reply_to(words: list[bytes], replid: str, offset: int) -> tuple[bytes, bool]:
    """The master's answer to a replica's handshake command, and whether the snapshot
    follows it (PSYNC/SYNC)."""
    name = words[0].upper() if words else b""
    if name == b"PING":
        return b"+PONG\r\n", False
    if name in (b"REPLCONF", b"AUTH", b"SELECT"):
        return b"+OK\r\n", False
    if name in (b"PSYNC", b"SYNC"):
        return f"+FULLRESYNC {replid} {offset}\r\n".encode(), True
    return b"-ERR this address only serves a snapshot to replicas\r\n", False


def parse_reply(buf: bytes) -> tuple[object, bytes] | None:
    """One RESP reply from ``buf``: (value, the rest), or None when incomplete. Errors
    come back as ``RedisServiceError`` values (not raised: the caller names the command)."""
    head, sep, rest = buf.partition(b"\r\n")
    if not sep:
        return None
    kind, body = head[:1], head[1:]
    if kind == b"+":
        return body.decode(), rest
    if kind == b"-":
        return RedisServiceError(body.decode(errors="replace")), rest
    if kind == b":":
        return int(body), rest
    if kind == b"$":
        size = int(body)
        if size < 0:
            return None, rest
        if len(rest) < size + 2:
            return None
        return rest[:size].decode(errors="replace"), rest[size + 2 :]
    if kind == b"*":
        count = int(body)
        items: list[object] = []
        for _ in range(max(count, 0)):
            got = parse_reply(rest)
            if got is None:
                return None
            item, rest = got
            items.append(item)
        return items, rest
    raise RedisServiceError(f"not a RESP reply: {head[:20]!r}")


class RedisConn:
    """One connection to a server for the restore's commands and polls: a reply costs a
    round trip, where a ``redis-cli`` process per poll cost a process start (the
    snapshot itself is still taken with ``redis-cli --rdb``)."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.where = f"{host}:{port}"
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._buf = b""

    def call(self, *words: str) -> object:
        """Send one command, return its reply; an error reply raises, naming it."""
        self.send(*words)
        return self.reply(*words)

    def send(self, *words: str) -> None:
        """Send one command without waiting (``reply`` reads its answer): commands to
        several servers go out at once instead of one round trip after another."""
        out = b"*%d\r\n" % len(words)
        for w in words:
            raw = w.encode()
            out += b"$%d\r\n%s\r\n" % (len(raw), raw)
        self._sock.sendall(out)

    def reply(self, *words: str) -> object:
        """The next reply (``words``: the command it answers, for the error text)."""
        while True:
            got = parse_reply(self._buf)
            if got is not None:
                value, self._buf = got
                break
            data = self._sock.recv(65536)
            if not data:
                raise RedisServiceError(f"{self.where} closed the connection")
            self._buf += data
        if isinstance(value, RedisServiceError):
            raise RedisServiceError(f"{' '.join(words)} on {self.where}: {value}")
        return value

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()


class SnapshotFeed:
    """Serve ``rdb`` to every replica that connects to ``host:port``, until ``stop``."""

    def __init__(self, rdb: Path, host: str, port: int) -> None:
        self.rdb = rdb
        self.size = rdb.stat().st_size
        self.replid = os.urandom(20).hex()
        self.offset = 0
        self._sock = socket.create_server((host, port), reuse_port=False)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self.served = 0
        self.errors: list[str] = []

    def start(self) -> SnapshotFeed:
        t = threading.Thread(target=self._accept, name="feed-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self._stop.is_set():
                words, buf = parse_command(buf)
                if words is None:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                    if len(buf) > MAX_COMMAND:
                        raise RedisServiceError("a command over 64 KiB: not a replica")
                    continue
                answer, snapshot = reply_to(words, self.replid, self.offset)
                conn.sendall(answer)
                if snapshot:
                    conn.sendall(f"${self.size}\r\n".encode())
                    with open(self.rdb, "rb") as f:
                        sent = 0
                        while sent < self.size:
                            n = os.sendfile(conn.fileno(), f.fileno(), sent, self.size - sent)
                            if n == 0:
                                raise RedisServiceError("the replica closed during the transfer")
                            sent += n
                    self.served += 1
                    # An empty replication stream: read (and drop) the replica's ACKs.
                    conn.settimeout(1.0)
                    while not self._stop.is_set():
                        try:
                            if not conn.recv(65536):
                                return
                        except TimeoutError:
                            continue
        except (OSError, RedisServiceError) as exc:
            if not self._stop.is_set():
                self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(OSError):
                conn.close()
