"""The documented fallback when HAProxy is not installed: a small asyncio TCP proxy.

It serves the same model as HAProxy would (one listener per VIP, ``SO_REUSEPORT``,
round robin or least connections over the slots that hold a backend, a refused connect
retried on the next backend) so VIPs keep working on a machine without ``haproxy``.
It is slower (every byte crosses Python) and has no runtime API or stats; the l4lb
says which one serves (``data_plane``) in its API and logs why.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from actors.l4lb._haproxy import Frontend, HaproxyModel, Plan
from actors.l4lb._table import Backend

log = logging.getLogger("actors.l4lb.fallback")

CONNECT_TIMEOUT = 2.0


class _Listener:
    def __init__(self, front: Frontend) -> None:
        self.front = front
        self.backends: list[Backend] = []
        self.active: dict[Backend, int] = {}
        self.turn = itertools.count()
        self.server: asyncio.AbstractServer | None = None

    def order(self) -> list[Backend]:
        """Backends in the order to try them (balance, then the rest as retries)."""
        pool = list(self.backends)
        if not pool:
            return []
        if self.front.balance == "leastconn":
            return sorted(pool, key=lambda b: self.active.get(b, 0))
        start = next(self.turn) % len(pool)
        return pool[start:] + pool[:start]


class AsyncioPlane:
    """A ``DataPlane`` on an asyncio loop in its own thread."""

    kind = "asyncio"

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listeners: dict[str, _Listener] = {}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def pid(self) -> int | None:
        return None

    def start(self, model: HaproxyModel) -> None:
        if not self.running:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._thread = threading.Thread(
                target=loop.run_forever, name="l4lb-asyncio-proxy", daemon=True
            )
            self._thread.start()
        self._call(lambda: self._set(model))

    def apply(self, step: Plan) -> None:
        self._call(lambda: self._set(step.model))

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            self._call(lambda: self._set(HaproxyModel()))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
        self._loop = self._thread = None

    def _call(self, make: Callable[[], Any]) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(make(), self._loop).result(10.0)

    async def _set(self, model: HaproxyModel) -> None:
        for name in list(self._listeners):
            old = self._listeners[name]
            if model.frontends.get(name) != old.front:
                if old.server is not None:
                    old.server.close()
                del self._listeners[name]
        for name, front in model.frontends.items():
            listener = self._listeners.get(name)
            if listener is None:
                listener = self._listeners[name] = _Listener(front)
                listener.server = await asyncio.start_server(
                    functools.partial(self._serve, listener),
                    front.address,
                    front.port,
                    reuse_port=True,
                )
            listener.backends = [b for b in model.slots.get(name, []) if b is not None]

    async def _serve(
        self, listener: _Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        chosen: Backend | None = None
        for backend in listener.order():
            try:
                upstream = await asyncio.wait_for(
                    asyncio.open_connection(backend.ip, backend.port), CONNECT_TIMEOUT
                )
                chosen = backend
                break
            except (OSError, TimeoutError):
                continue
        if upstream is None or chosen is None:
            writer.close()
            return
        listener.active[chosen] = listener.active.get(chosen, 0) + 1
        up_reader, up_writer = upstream
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            listener.active[chosen] -= 1
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
