"""A small Redis-compatible key-value store (the `redis-lite` package's server).

Speaks RESP2, so `redis-cli` and redis-py talk to it: PING, ECHO, SET (EX/PX/NX/XX),
GET, DEL, EXISTS, INCR, INCRBY, DECR, EXPIRE, TTL, KEYS, DBSIZE, FLUSHALL, INFO, QUIT.
Keys live in memory; `--max-keys` bounds them (a SET of a new key beyond it is an
error, as Redis with maxmemory-policy noeviction). Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import os
import time

OK = b"+OK\r\n"


def bulk(value: bytes | None) -> bytes:
    return b"$-1\r\n" if value is None else b"$%d\r\n%s\r\n" % (len(value), value)


def integer(n: int) -> bytes:
    return b":%d\r\n" % n


def error(text: str) -> bytes:
    return b"-" + text.encode() + b"\r\n"


class Store:
    def __init__(self, max_keys: int) -> None:
        self.data: dict[bytes, bytes] = {}
        self.expires: dict[bytes, float] = {}
        self.max_keys = max_keys

    def _alive(self, key: bytes) -> bool:
        at = self.expires.get(key)
        if at is not None and at <= time.monotonic():
            self.data.pop(key, None)
            self.expires.pop(key, None)
        return key in self.data

    def run(self, cmd: list[bytes]) -> bytes:
        name = cmd[0].upper().decode(errors="replace")
        args = cmd[1:]
        if name == "PING":
            return bulk(args[0]) if args else b"+PONG\r\n"
        if name == "ECHO" and len(args) == 1:
            return bulk(args[0])
        if name == "SET" and len(args) >= 2:
            key, value, opts = args[0], args[1], [a.upper() for a in args[2:]]
            exists = self._alive(key)
            if (b"NX" in opts and exists) or (b"XX" in opts and not exists):
                return bulk(None)
            if not exists and len(self.data) >= self.max_keys:
                return error(f"OOM max-keys {self.max_keys} reached")
            self.data[key] = value
            self.expires.pop(key, None)
            for unit, scale in ((b"EX", 1.0), (b"PX", 0.001)):
                if unit in opts:
                    i = opts.index(unit)
                    self.expires[key] = time.monotonic() + float(args[2 + i + 1]) * scale
            return OK
        if name == "GET" and len(args) == 1:
            return bulk(self.data.get(args[0]) if self._alive(args[0]) else None)
        if name in ("DEL", "EXISTS") and args:
            n = sum(1 for k in args if self._alive(k))
            if name == "DEL":
                for k in args:
                    self.data.pop(k, None)
                    self.expires.pop(k, None)
            return integer(n)
        if name in ("INCR", "DECR", "INCRBY") and args:
            step = int(args[1]) if name == "INCRBY" and len(args) > 1 else 1
            step = -step if name == "DECR" else step
            key = args[0]
            try:
                n = int(self.data.get(key, b"0") if self._alive(key) else b"0") + step
            except ValueError:
                return error("ERR value is not an integer or out of range")
            self.data[key] = str(n).encode()
            return integer(n)
        if name == "EXPIRE" and len(args) == 2:
            if not self._alive(args[0]):
                return integer(0)
            self.expires[args[0]] = time.monotonic() + float(args[1])
            return integer(1)
        if name == "TTL" and len(args) == 1:
            if not self._alive(args[0]):
                return integer(-2)
            at = self.expires.get(args[0])
            return integer(-1 if at is None else int(at - time.monotonic()))
        if name == "KEYS" and len(args) == 1:
            pattern = args[0].decode(errors="replace")
            keys = [
                k
                for k in list(self.data)
                if self._alive(k) and fnmatch.fnmatchcase(k.decode(errors="replace"), pattern)
            ]
            return b"*%d\r\n" % len(keys) + b"".join(bulk(k) for k in keys)
        if name == "DBSIZE":
            return integer(sum(1 for k in list(self.data) if self._alive(k)))
        if name == "FLUSHALL":
            self.data.clear()
            self.expires.clear()
            return OK
        if name == "INFO":
            info = (
                "# Server\r\nredis_version:7.0.0-lite\r\n"
                f"# Keyspace\r\nkeys:{len(self.data)}\r\nmax_keys:{self.max_keys}\r\n"
            )
            return bulk(info.encode())
        if name in ("COMMAND", "CLIENT", "HELLO"):
            return OK if name == "CLIENT" else b"*0\r\n"
        return error(f"ERR unknown command or wrong number of arguments for '{name.lower()}'")


async def read_command(reader: asyncio.StreamReader) -> list[bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    if not line.startswith(b"*"):  # inline command (telnet, nc)
        return line.strip().split()
    n = int(line[1:].strip())
    out = []
    for _ in range(n):
        size = int((await reader.readline())[1:].strip())
        out.append((await reader.readexactly(size + 2))[:-2])
    return out


async def serve(port: int, store: Store) -> None:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (cmd := await read_command(reader)) is not None:
                if not cmd:
                    continue
                if cmd[0].upper() == b"QUIT":
                    writer.write(OK)
                    break
                writer.write(store.run(cmd))
                await writer.drain()
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(client, "0.0.0.0", port)
    print(f"redis-lite listening on {port} (max {store.max_keys} keys)", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT0", "6379")))
    p.add_argument("--max-keys", type=int, default=10000)
    args = p.parse_args()
    asyncio.run(serve(args.port, Store(args.max_keys)))


if __name__ == "__main__":
    main()
