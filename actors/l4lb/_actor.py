"""``L4lbActor``: follows the leading master's events and keeps HAProxy in step.

```
 leader listener ──L4lbLeaderChanged──> L4lbActor ──WatchMaster──> leading master actor
                                           ^                               |
                                           └──── MasterEvent (seq 1 SUBSCRIBED, 2, 3...)
 each event: VipTable.apply (False: no VIP changed) ──L4lbSync (coalesced)──> plan(applied, vips)
      ──> runtime API commands (backend change) | config + SIGUSR2 (VIP set change)
 every 200 ms (L4lbTick): HAProxy dead? start it again from the current model
```

Ordering rules: a backend leaves HAProxy in the same sync that applies the event which
took it out (a kill, a failed health check), before any later event; HAProxy's view is
only ever replaced whole (a reload or a restart renders every current backend), so it
never serves an empty VIP in between. A new leader's first state carries the previous
leader's tasks for ``CARRY_FOR`` seconds (agents are still re-registering), so a
failover does not empty a VIP. The table is published to ``VipView`` (read by the HTTP
route and the console) after HAProxy took it.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from actors.l4lb._errors import HaproxyError
from actors.l4lb._haproxy import HaproxyModel, Plan, plan, proxy_name, render_config
from actors.l4lb._messages import L4LB_ACTOR, L4lbLeaderChanged, L4lbSync, L4lbTick
from actors.l4lb._process import Haproxy
from actors.l4lb._table import Vip, VipTable
from actors.master import RebuildPacer, WatchFollower, tell_all, unbatched
from actors.protocol import MasterEvent, MasterEvents, UnwatchMaster, WatchMaster
from runtime import Actor

log = logging.getLogger("actors.l4lb")

TICK = 0.2
SUBSCRIBE_RETRY = 2.0
"""Seconds without SUBSCRIBED after a WatchMaster before it is sent again."""
DEFAULT_HEARTBEAT = 15.0
CARRY_FOR = 15.0
"""Seconds a new leader's missing tasks stay backends (agents have 10 s to re-register)."""
RECOVERING_CARRY = 600.0
"""Seconds at most the tasks of an agent the new leader lists as recovered stay backends
(Mesos' ``agent_reregister_timeout`` default): until it re-registers or is removed."""


class DataPlane(Protocol):
    """What serves the VIPs: HAProxy, or the asyncio fallback."""

    kind: str

    @property
    def running(self) -> bool: ...

    @property
    def pid(self) -> int | None: ...

    def start(self, model: HaproxyModel) -> None: ...

    def apply(self, step: Plan) -> None: ...

    def stop(self) -> None: ...


DIR_PREFIX = "pydcos-l4lb-"


def bind_problem(address: str, port: int) -> str | None:
    """Why HAProxy could not bind ``address:port`` (as it binds: ``SO_REUSEPORT``, so
    the other masters' HAProxies sharing it are no problem), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((address, port))
        except OSError as exc:
            return f"{address}:{port} cannot be bound: {exc.strerror or exc}"
    return None


def remove_stale_dirs(root: str | None = None) -> None:
    """Remove the HAProxy directories of master processes that are gone (a SIGKILLed
    master cannot clean up; its HAProxy died with it). A directory names its owner's
    PID in ``owner``; one whose owner still runs, or that names none, is left alone."""
    for path in Path(root or tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        try:
            owner = int((path / "owner").read_text())
            os.kill(owner, 0)
        except (OSError, ValueError) as exc:
            if isinstance(exc, ProcessLookupError):
                shutil.rmtree(path, ignore_errors=True)


class HaproxyPlane:
    """The real data plane: one supervised HAProxy in its own directory."""

    kind = "haproxy"

    def __init__(self, binary: str, directory: str | None = None) -> None:
        self._own_dir = directory is None
        if directory is None:
            remove_stale_dirs()
            directory = tempfile.mkdtemp(prefix=DIR_PREFIX)
            Path(directory, "owner").write_text(str(os.getpid()))
        self.dir = directory
        self.haproxy = Haproxy(self.dir, binary)

    @property
    def running(self) -> bool:
        return self.haproxy.running

    @property
    def pid(self) -> int | None:
        return self.haproxy.pid

    def start(self, model: HaproxyModel) -> None:
        self.haproxy.stop()
        self.haproxy.start(render_config(model, self.haproxy.paths))

    def apply(self, step: Plan) -> None:
        if step.reload:
            self.haproxy.reload(render_config(step.model, self.haproxy.paths))
        else:
            self.haproxy.command(step.commands)

    def stop(self) -> None:
        self.haproxy.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class VipView:
    """The last table HAProxy took, for the HTTP route and the console (thread-safe)."""

    vips: dict[str, Vip] = field(default_factory=dict)
    ready: bool = False
    """False until the first SUBSCRIBED was applied (the API then says 503)."""
    data_plane: str = ""
    pid: int | None = None
    reloads: int = 0
    restarts: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    """VIPs (by ident) left out of HAProxy, and why (their address is held)."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def publish(self, vips: dict[str, Vip], **facts: Any) -> None:
        with self.lock:
            self.vips = dict(vips)
            for key, value in facts.items():
                setattr(self, key, value)

    def snapshot(self) -> tuple[dict[str, Vip], dict[str, Any]]:
        with self.lock:
            facts = {
                "ready": self.ready,
                "data_plane": self.data_plane,
                "pid": self.pid,
                "reloads": self.reloads,
                "restarts": self.restarts,
                "errors": dict(self.errors),
            }
            return dict(self.vips), facts


class L4lbActor(Actor):
    """One per master (see the module docstring). ``plane`` builds the data plane."""

    def __init__(
        self,
        salt: str,
        leader_address: Callable[[], str | None],
        view: VipView,
        plane: Callable[[], DataPlane],
    ) -> None:
        super().__init__()
        self.table = VipTable(salt=salt)
        self.leader_address = leader_address
        self.view = view
        self.make_plane = plane
        self.plane: DataPlane | None = None
        self.applied = HaproxyModel()
        self.follower = WatchFollower(
            SUBSCRIBE_RETRY, DEFAULT_HEARTBEAT, label="l4lb", logger=log, batch=True
        )
        self.sync_pending = False
        self.pacer = RebuildPacer()
        """Syncs (the VIP table and HAProxy) paced by their own cost (see RebuildPacer)."""

    # -- lifecycle --------------------------------------------------------------------

    def started(self) -> None:
        self.follower.subscriber = self.node.actor_address(self.name or L4LB_ACTOR)
        # Started on this actor's thread: PDEATHSIG ties HAProxy to it.
        self.plane = self.make_plane()
        self.plane.start(self.applied)
        self.view.publish({}, data_plane=self.plane.kind, pid=self.plane.pid)
        self.send_interval(TICK, L4lbTick())
        self._leader(self.leader_address())

    def stopped(self) -> None:
        self._tell(self.follower.unwatch())
        if self.plane is not None:
            self.plane.stop()

    def receive(self, message: Any) -> Any:
        if isinstance(message, MasterEvent):
            self._event(message)
        elif isinstance(message, MasterEvents):  # WatchMaster.batch: several in order
            events = self.follower.accept_batch(message, self.clock.now())
            if events is not None:  # the next in the stream, taken whole
                self._apply_all(events)
                return None
            for event in unbatched(message):
                self._event(event)
        elif isinstance(message, L4lbSync):
            self.sync_pending = False
            started = self.clock.now()
            self._sync()
            self.pacer.done(started, self.clock.now())
        elif isinstance(message, L4lbTick):
            self._tick()
        elif isinstance(message, L4lbLeaderChanged):
            self._leader(message.address)
        else:
            return super().receive(message)
        return None

    # -- following the leader ---------------------------------------------------------

    def _leader(self, address: str | None) -> None:
        self._tell(self.follower.leader(address, self.clock.now()))

    def _tell(self, tells: list[tuple[str, WatchMaster | UnwatchMaster]]) -> None:
        tell_all(self.node.ref, tells, log)

    def _event(self, msg: MasterEvent) -> None:
        now = self.clock.now()
        previous = self.follower.master_id
        verdict = self.follower.accept(msg, now)
        event = msg.event if isinstance(msg.event, dict) else {}
        if verdict == "resubscribe":
            self._tell(self.follower.subscribe(now))
        elif verdict == "reset":
            new_leader = bool(previous) and msg.master_id != previous
            self.table.apply(
                event,
                carry_until=now + CARRY_FOR if new_leader else None,
                recover_until=now + RECOVERING_CARRY,
            )
            self.view.publish(self.view.vips, ready=True)
            self._request_sync()
        elif verdict == "apply" and self.table.apply(event, back_until=now + CARRY_FOR):
            self._request_sync()  # (else a re-sent task or agent: the VIPs are as synced)

    def _apply_all(self, events: list[Any]) -> None:
        """A batch the follower took whole (``accept_batch``): one sync request."""
        back_until = self.clock.now() + CARRY_FOR
        apply = self.table.apply
        changed = False
        for event in events:
            if isinstance(event, dict) and apply(event, back_until=back_until):
                changed = True
        if changed:
            self._request_sync()

    def _request_sync(self) -> None:
        if not self.sync_pending:
            self.sync_pending = True
            wait = self.pacer.delay(self.clock.now())
            if wait > 0:  # a stream of changes: one sync per pace, not one per event
                self.send_after(wait, L4lbSync())
            else:
                self.actor_ref.tell(L4lbSync())

    def _tick(self) -> None:
        now = self.clock.now()
        if self.plane is not None and not self.plane.running:
            self._restart("it exited")
        if self.table.expire(now):
            self._request_sync()
        self._tell(self.follower.tick(now))

    # -- HAProxy ----------------------------------------------------------------------

    def _sync(self) -> None:
        vips = self.table.vips()
        # A new VIP whose address something else holds (without SO_REUSEPORT) would fail
        # HAProxy's whole reload: it is left out, and the API says why.
        errors: dict[str, str] = {}
        for ident, vip in vips.items():
            if proxy_name(vip) not in self.applied.frontends:
                problem = bind_problem(vip.address, vip.port)
                if problem is not None:
                    errors[ident] = problem
        for ident in set(errors) - set(self.view.errors):
            log.warning("l4lb: VIP %s left out: %s", ident, errors[ident])
        serving = {ident: vip for ident, vip in vips.items() if ident not in errors}
        step = plan(self.applied, serving)
        assert self.plane is not None
        if step.reload or step.commands:
            try:
                self.plane.apply(step)
                self.applied = step.model
            except (HaproxyError, OSError) as exc:
                self.applied = step.model
                self._restart(f"a change failed: {exc}")
        self.view.publish(
            vips,
            pid=self.plane.pid,
            reloads=self.view.reloads + (1 if step.reload else 0),
            errors=errors,
        )

    def _restart(self, why: str) -> None:
        """Start the data plane again from the current model (every current backend)."""
        assert self.plane is not None
        log.warning("l4lb: restarting %s (%s)", self.plane.kind, why)
        try:
            self.plane.start(self.applied)
        except (HaproxyError, OSError) as exc:
            log.error(
                "l4lb: %s could not start: %s (next try in %.1f s)", self.plane.kind, exc, TICK
            )
        self.view.publish(self.view.vips, pid=self.plane.pid, restarts=self.view.restarts + 1)
