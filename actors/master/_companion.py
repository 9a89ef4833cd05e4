"""Node services in a process of their own beside a master (``CompanionService``).

A master is one Python process: one GIL for the master actor, Marathon, Metronome, the
gateway and every node service. The DNS table follows every task change, and on the
leading master that work competed with launching tasks: at 10,000 agents and 100,000
tasks DNS and the load balancer took a quarter of the leader's CPU per task and 600 MB
of its memory (bench/scale.py). DC/OS runs Mesos-DNS and dcos-net as processes of their
own beside the Mesos master; here the master runs such node services in a companion:

```
 pydcos master (parent)                        companion (python -m console.cli master
   CompanionActor ── spawns, restarts ──>        ... --companion-of PID): MasterProcess
     (backoff 1 s .. 30 s), SIGTERM on stop      with contend=False: the node services'
   gateway: the services' routes proxied ──>     actors, follows the leader like a
     /metrics: their pydcos_<name>_* families      standby, its own HTTP on 127.0.0.1
 the DNS sockets: bound by the parent at start (its reported port), inherited
```

The companion asks the kernel for SIGTERM when the thread that spawned it ends
(``PR_SET_PDEATHSIG``), so a SIGKILLed master leaves nothing behind; it exits at once if
its parent is already gone. Its first stdout line says where its HTTP listens; the rest
of its output goes to the master's.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from actors.gateway import json_error
from actors.master._services import NodeService, ServiceContext
from runtime import Actor, ChildSpec

log = logging.getLogger("actors.master.companion")

COMPANION_ACTOR = "node-companion"
READY_WORD = "companion"
"""The companion's first stdout line: ``companion http http://127.0.0.1:PORT``."""
RESTART_MIN = 1.0
RESTART_MAX = 30.0
"""Seconds before a companion that exited is started again: doubling from the first to
the second while it keeps dying within ``STEADY`` of its start."""
STEADY = 60.0
STOP_GRACE = 10.0
"""Seconds a companion has to stop after SIGTERM before it is SIGKILLed."""
PROXY_TIMEOUT = 10.0
METRICS_TIMEOUT = 2.0


@dataclass
class Companion:
    """What the parent knows of its companion: the process and its HTTP address."""

    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    url: str = ""
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    failed_spawn: bool = False
    """The last start raised (see ``spawn``): counts as exited."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def spawn(self) -> None:
        """Start the process (from the thread that lives as long as it should). One that
        cannot even be started (no interpreter, no memory) counts as one that exited at
        once (``exited``), so its keeper tries again with the backoff."""
        with self._lock:
            self.url = ""
            self.started_at = time.monotonic()
            try:
                self.popen = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    pass_fds=self.pass_fds,
                )
            except OSError as exc:
                log.error("node services companion cannot start: %s", exc)
                self.popen, self.failed_spawn = None, True
                return
            self.failed_spawn = False
        threading.Thread(
            target=self._read, args=(self.popen,), name="companion-stdout", daemon=True
        ).start()

    def _read(self, popen: subprocess.Popen[bytes]) -> None:
        """The ready line (its URL), then everything else to our stdout, until EOF."""
        assert popen.stdout is not None
        for raw in popen.stdout:
            words = raw.decode(errors="replace").split()
            if len(words) == 3 and words[0] == READY_WORD and words[1] == "http":
                with self._lock:
                    if self.popen is popen:
                        self.url = words[2].rstrip("/")
                log.info("node services companion (pid %d) serves HTTP on %s", popen.pid, words[2])
                continue
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.buffer.write(raw)
                sys.stdout.flush()

    def exited(self) -> int | None:
        """The exit status if the process is gone (None while it runs or before spawn)."""
        if self.failed_spawn:
            return -1
        popen = self.popen
        return popen.poll() if popen is not None else None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``STOP_GRACE``; waits for it."""
        with self._lock:
            popen, self.popen, self.url = self.popen, None, ""
        if popen is None or popen.poll() is not None:
            return
        with contextlib.suppress(OSError, ValueError):
            popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            log.warning("node services companion (pid %d) ignored SIGTERM: killed", popen.pid)
            popen.kill()
            popen.wait(STOP_GRACE)


class _Check:
    """Tick: is the companion still there?"""


class CompanionActor(Actor):
    """Keeps the companion running: spawned at start, started again (with backoff) when
    it exits, SIGTERMed when the master stops. Its thread is the companion's parent (the
    kernel signals the companion when it ends)."""

    def __init__(self, companion: Companion, check_every: float = 0.5) -> None:
        super().__init__()
        self.companion = companion
        self.check_every = check_every
        self.backoff = RESTART_MIN / 2  # doubled before the first restart
        self.next_start = 0.0

    def started(self) -> None:
        self.companion.spawn()
        self.send_interval(self.check_every, _Check())

    def stopped(self) -> None:
        self.companion.stop()

    def receive(self, message: Any) -> Any:
        if not isinstance(message, _Check):
            return super().receive(message)
        status = self.companion.exited()
        if status is None:
            return None
        now = time.monotonic()
        if not self.next_start:
            lived = now - self.companion.started_at
            self.backoff = RESTART_MIN / 2 if lived >= STEADY else self.backoff
            self.backoff = min(RESTART_MAX, self.backoff * 2)
            self.next_start = now + self.backoff
            log.error(
                "node services companion exited with status %s after %.1f s; "
                "starting it again in %.0f s",
                status,
                lived,
                self.next_start - now,
            )
        if now >= self.next_start:
            self.next_start = 0.0
            self.companion.restarts += 1
            self.companion.spawn()
        return None


class CompanionMetrics:
    """The companion's ``/metrics`` families named ``prefixes`` on this master's own
    (``collect`` runs on an executor thread: a blocking read is allowed)."""

    def __init__(self, companion: Companion, prefixes: Sequence[str]) -> None:
        self.companion = companion
        self.prefixes = tuple(prefixes)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.parser import text_string_to_metric_families

        url = self.companion.url
        if not url:
            return
        try:
            with urllib.request.urlopen(url + "/metrics", timeout=METRICS_TIMEOUT) as r:
                text = r.read().decode()
        except (OSError, ValueError) as exc:
            log.debug("companion metrics: %s", exc)
            return
        for family in text_string_to_metric_families(text):
            if family.name.startswith(self.prefixes):
                yield family


_HOP_HEADERS = frozenset(
    ("content-length", "transfer-encoding", "connection", "date", "server", "content-encoding")
)
"""Headers of the companion's answer that aiohttp sets again for ours."""


def _proxy(companion: Companion, name: str) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        url = companion.url
        if not url:
            return json_error(503, f"{name}: this master's node services are starting; retry")
        try:
            data = await request.read()
            async with (
                ClientSession(timeout=ClientTimeout(total=PROXY_TIMEOUT)) as session,
                session.request(request.method, url + str(request.rel_url), data=data) as r,
            ):
                body = await r.read()
                headers = {k: v for k, v in r.headers.items() if k.lower() not in _HOP_HEADERS}
                return web.Response(status=r.status, body=body, headers=headers)
        except (ClientError, TimeoutError) as exc:
            return json_error(503, f"{name}: this master's node services did not answer: {exc}")

    return handler


class CompanionService:
    """The ``NodeService`` standing for ``services`` run in a companion process: its
    child is the ``CompanionActor``; its routes are theirs, proxied to the companion;
    its metrics are their ``pydcos_<name>_`` families, read from the companion."""

    name = "companion"

    def __init__(self, services: Sequence[NodeService], companion: Companion) -> None:
        self.services = tuple(services)
        self.companion = companion

    def child_specs(self, ctx: ServiceContext) -> list[ChildSpec]:
        return [
            ChildSpec(
                COMPANION_ACTOR,
                CompanionActor,
                restart="permanent",
                shutdown=STOP_GRACE + 5.0,
                args=(self.companion,),
                name=COMPANION_ACTOR,
            )
        ]

    def routes(self, ctx: ServiceContext) -> list[web.RouteDef]:
        add = getattr(ctx.gateway, "add_metrics_collector", None)
        if add is not None:
            prefixes = [f"pydcos_{s.name}_".replace("-", "_") for s in self.services]
            add(CompanionMetrics(self.companion, prefixes))
        # The services' own routes, asked for without a gateway (no collector of theirs
        # here), give each path and method; the handlers forward to the companion.
        bare = ServiceContext(node=ctx.node, zk=None, master_address="", hostname="")
        out: list[web.RouteDef] = []
        for service in self.services:
            for route in service.routes(bare):
                handler = _proxy(self.companion, service.name)
                out.append(web.route(route.method, route.path, handler))
        return out


def zero_port(address: str) -> str:
    """``tcp://host:5050`` -> ``tcp://host:0`` (the companion binds a free port of the
    same interface); an address without a port is returned as it is."""
    head, sep, tail = address.rpartition(":")
    if sep and head and head != "tcp" and tail.isdigit():
        return f"{head}:0"
    return address


def companion_argv(
    argv: Sequence[str], services: Sequence[str], extra: Sequence[str] = ()
) -> list[str]:
    """The companion's command line: the master's own (``pydcos`` arguments, the
    subcommand first) with the later flags winning: its parent, only ``services`` as
    node services and none apart, no leader services, a free transport port and HTTP on
    loopback, and ``extra`` (a service's inherited sockets...)."""
    flags = dict(itertools.pairwise(argv))
    out = [sys.executable, "-m", "console.cli", *argv]
    out += ["--companion-of", str(os.getpid()), "--node-services", ",".join(services)]
    out += ["--node-services-apart", "", "--services", ""]
    out += ["--bind", zero_port(flags.get("--bind", "tcp://127.0.0.1:0"))]
    if "--advertise" in flags:
        out += ["--advertise", zero_port(flags["--advertise"])]
    out += ["--http-host", "127.0.0.1", "--http-port", "0", *extra]
    return out


def die_with_parent(parent: int) -> bool:
    """In the companion: ask for SIGTERM when the parent's spawning thread ends; False
    when the parent is already gone (then exit)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError) as exc:
        log.warning("companion: cannot ask to die with the master (%s)", exc)
    return os.getppid() == parent
