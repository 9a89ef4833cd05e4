"""The dashboard's data source: events, not polling.

```
 LiveSource.start(emit)
   LeaderWatch (ZooKeeper) ──LeaderChanged──> emit          (an election shows at once)
       new leader ──> resync: Apps, Tasks, Deployments, Jobs, Nodes (one read each)
   SSE thread: GET <leader>/marathon/v2/events ──MarathonEvent──> emit
       stream ends, leader's port shut ──LeaderLost──> emit      ("electing" until ZooKeeper
                                                                  names the successor)
       stream ends (failover) ──> wait for the next leader, reconnect, resync
   refresh thread (RefreshPlan): Apps, Deployments, Tasks re-read 0.5 s after a
       deployment/app event, and everything every 5 s: the panels converge to the API's
       truth even when an event was missed or never sent (a rollback, a failover)
   Masters: ZooKeeper's contenders + the state dir's masters (a dead one shows as down)
 actions: scale_app, restart_app, kill_task (Marathon REST), log_path (local sandbox)
```

``DataSource`` is the protocol the app takes, so tests feed it a fake.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from console import _model as m
from console._client import ClientError, ClusterClient, Target

log = logging.getLogger("console.feed")

Emit = Callable[[object], None]

SLOW_REFRESH = 5.0
"""Seconds between full re-reads (node usage, jobs, masters, and Marathon's truth)."""

REREAD_DELAY = 0.5
"""Seconds after a deployment or app event before Marathon's truth is re-read (a burst of
events costs one read)."""

REREAD_AFTER = frozenset(
    {
        "deployment_info",
        "deployment_success",
        "deployment_failed",
        "deployment_step_success",
        "deployment_step_failure",
        "api_post_event",
        "app_terminated_event",
    }
)
"""Marathon events after which the apps, deployments and tasks are read again."""


class RefreshPlan:
    """When to re-read: pure (time passed in), so the rule is tested without a cluster.

    Events alone drifted (after a rollback the Apps panel kept ``2/3 deploying`` while
    the API said 2 instances): Marathon sends no event for some changes, and a stream
    broken by a failover loses some. So the truth is read again ``delay`` after any
    deployment/app event, and all of it every ``every`` seconds regardless.
    """

    def __init__(self, now: float, every: float = SLOW_REFRESH, delay: float = REREAD_DELAY):
        self.every, self.delay = every, delay
        self.next_full = now + every
        self.kicked_at: float | None = None

    def event(self, kind: str, now: float) -> bool:
        """Note a Marathon event; True when it schedules a re-read."""
        if kind not in REREAD_AFTER:
            return False
        if self.kicked_at is None:
            self.kicked_at = now
        return True

    def due(self, now: float) -> str | None:
        """``"full"``, ``"marathon"`` (apps, deployments, tasks) or None."""
        if now >= self.next_full:
            return "full"
        if self.kicked_at is not None and now >= self.kicked_at + self.delay:
            return "marathon"
        return None

    def done(self, what: str, now: float) -> None:
        self.kicked_at = None
        if what == "full":
            self.next_full = now + self.every

    def wait(self, now: float) -> float:
        """Seconds until something is due (0 when it is)."""
        due = self.next_full
        if self.kicked_at is not None:
            due = min(due, self.kicked_at + self.delay)
        return max(0.0, due - now)


class DataSource(Protocol):
    """What the dashboard reads from and acts through."""

    def start(self, emit: Emit) -> None: ...

    def stop(self) -> None: ...

    def scale_app(self, app_id: str, instances: int) -> str: ...

    def restart_app(self, app_id: str) -> str: ...

    def kill_task(self, task_id: str, app_id: str) -> str: ...

    def log_path(self, task_id: str) -> Path | None: ...


class LiveSource:
    """A running cluster, through ZooKeeper (leader), SSE (Marathon) and REST."""

    def __init__(self, target: Target) -> None:
        self.target = target
        # No waiting out a failover inside a request (the CLI's default): the leader
        # watch and the event stream follow the leader here, and a read that blocked
        # until the successor is named would hide the "electing" state in between.
        self.client = ClusterClient(target, timeout=5.0, failover_wait=0.0)
        self._emit: Emit = lambda ev: None
        self._stop = threading.Event()
        self._leader_changed = threading.Event()
        self._watch: Any = None
        self._threads: list[threading.Thread] = []
        self._sse_conn: http.client.HTTPConnection | None = None
        self._leader_url: str | None = None
        self._leader: Any = None
        self._plan = RefreshPlan(time.monotonic())
        self._plan_lock = threading.Lock()
        """The SSE thread notes events, the refresh thread reads the plan."""
        self._kick = threading.Event()

    # -- lifecycle ----------------------------------------------------------------

    def start(self, emit: Emit) -> None:
        from zk import LeaderWatch

        self._emit = emit
        self._watch = LeaderWatch(self.client.zk(), self._on_leader)
        for fn, name in ((self._sse_loop, "sse"), (self._slow_loop, "refresh")):
            t = threading.Thread(target=fn, name=f"dashboard-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._leader_changed.set()
        self._kick.set()
        conn = self._sse_conn
        if conn is not None:
            with contextlib.suppress(Exception):
                if conn.sock is not None:
                    conn.sock.shutdown(2)
        if self._watch is not None:
            with contextlib.suppress(Exception):
                self._watch.stop()
        # Let the loops finish before closing the client: one that is mid-resync would
        # otherwise open a new ZooKeeper connection after close() and leak it.
        for t in self._threads:
            t.join(2.0)
        self.client.close()

    def _on_leader(self, leader: Any) -> None:
        if leader is None or not getattr(leader, "http_url", ""):
            self._leader_url = None
            self._leader = None
            self.client._leader = None
            self._emit(m.LeaderChanged(None))
        else:
            self._leader_url = str(leader.http_url).rstrip("/")
            self._leader = leader
            self.client._leader = leader
            self._emit(m.LeaderChanged(leader.address, leader.http_url, leader.hostname))
        self._leader_changed.set()
        conn = self._sse_conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(Exception):
                conn.sock.shutdown(2)  # the stream of the old leader: reconnect

    # -- reads --------------------------------------------------------------------

    def _get(self, path: str, **query: Any) -> Any:
        return self.client.request("GET", path, query=query or None)

    def resync(self) -> None:
        """One read of everything (after a connect or a failover)."""
        self._read(full=True)
        self._masters()

    def _read(self, full: bool) -> None:
        """Marathon's apps, tasks and deployments (and with ``full`` nodes and jobs)."""
        reads: list[tuple[Callable[[], Any], Callable[[Any], object]]] = [
            (lambda: self._get("/marathon/v2/apps", embed="apps.counts")["apps"], m.Apps),
            (lambda: self._get("/marathon/v2/tasks")["tasks"], m.Tasks),
            (lambda: self._get("/marathon/v2/deployments"), m.Deployments),
        ]
        if full:
            reads += [
                (lambda: self._get("/mesos/master/slaves")["slaves"], m.Nodes),
                (self._jobs, m.Jobs),
                (
                    lambda: self._get("/marathon/v2/quarantine")["quarantined"],
                    functools.partial(m.Quarantined, "marathon"),
                ),
                (
                    lambda: self._get("/metronome/v1/quarantine")["quarantined"],
                    functools.partial(m.Quarantined, "metronome"),
                ),
            ]
        for read, make in reads:
            if self._stop.is_set():
                return
            try:
                self._emit(make(read()))
            except (ClientError, KeyError, TypeError) as exc:
                log.debug("read: %s", exc)

    def _jobs(self) -> Any:
        return self._get("/metronome/v1/jobs", embed=["activeRuns", "schedules", "historySummary"])

    def _masters(self) -> None:
        from zk import read_contenders

        if self._stop.is_set():
            return  # stopping: do not reconnect a client that stop() closes
        try:
            contenders = read_contenders(self.client.zk())
        except Exception:
            return
        rec = self.target.local
        known = [
            {"hostname": p.name, "address": p.address, "http_url": p.http_url}
            for p in (rec.by_kind("master") if rec is not None else [])
            if p.address
        ]
        self._emit(
            m.Masters(
                [
                    {
                        "hostname": c.hostname,
                        "address": c.address,
                        "http_url": c.http_url,
                        "leader": i == 0,
                    }
                    for i, c in enumerate(contenders)
                ],
                known,
            )
        )

    def _slow_loop(self) -> None:
        plan = self._plan
        while not self._stop.is_set():
            with self._plan_lock:
                timeout = plan.wait(time.monotonic())
            self._kick.wait(timeout)
            self._kick.clear()
            if self._stop.is_set():
                return
            now = time.monotonic()
            with self._plan_lock:
                what = plan.due(now)
                if what is not None:
                    plan.done(what, now)
            if what is None:
                continue
            if self._leader_url is None:
                continue
            self._read(full=what == "full")
            if what == "full":
                self._masters()

    def _answers(self, url: str) -> bool:
        """Does the leader's HTTP port take a connection? (SIGKILLed: refused at once.)"""
        u = urlsplit(url)
        try:
            socket.create_connection((u.hostname or "127.0.0.1", u.port or 80), 1.0).close()
        except OSError:
            return False
        return True

    # -- Marathon's event stream ----------------------------------------------------

    def _sse_loop(self) -> None:
        lost: str | None = None
        while not self._stop.is_set():
            url = self._leader_url
            if url is None:
                self._leader_changed.wait(1.0)
                self._leader_changed.clear()
                continue
            if url == lost:
                # The leader is gone but ZooKeeper still names it (its session has not
                # expired): wait for the successor, or for it to answer again.
                self._leader_changed.wait(1.0)
                self._leader_changed.clear()
                if self._leader_url == lost and not self._answers(lost):
                    continue
                lost = None
                leader = self._leader
                if leader is not None and self._leader_url == url:
                    self._emit(m.LeaderChanged(leader.address, leader.http_url, leader.hostname))
                continue
            self._leader_changed.clear()
            self.resync()
            try:
                self._stream(url)
            except Exception as exc:
                log.debug("event stream from %s: %s", url, exc)
            if self._stop.is_set():
                return
            leader = self._leader
            if self._leader_url == url and leader is not None and not self._answers(url):
                lost = url
                self._emit(m.LeaderLost(str(leader.address)))
                continue
            self._stop.wait(0.3)

    def _stream(self, base: str) -> None:
        u = urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=30)
        self._sse_conn = conn
        try:
            headers = {"Accept": "text/event-stream", **self.client.auth_headers()}
            conn.request("GET", "/marathon/v2/events", headers=headers)
            r = conn.getresponse()
            if r.status == 503:
                r.read()  # a leader just elected, still starting: soon, quietly
                self._stop.wait(0.5)
                return
            if r.status != 200:
                r.read()
                self._emit(m.FeedNote(f"event stream: HTTP {r.status}; retrying"))
                self._stop.wait(2.0)
                return
            data: list[str] = []
            while not self._stop.is_set():
                raw = r.fp.readline() if r.fp is not None else b""
                if not raw:
                    return
                line = raw.decode(errors="replace").rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    try:
                        event = json.loads("\n".join(data))
                    except ValueError:
                        event = None
                    data = []
                    if isinstance(event, dict):
                        self._emit(m.MarathonEvent(event))
                        with self._plan_lock:
                            kick = self._plan.event(
                                str(event.get("eventType", "")), time.monotonic()
                            )
                        if kick:
                            self._kick.set()
        finally:
            self._sse_conn = None
            with contextlib.suppress(Exception):
                conn.close()

    # -- actions ------------------------------------------------------------------

    def scale_app(self, app_id: str, instances: int) -> str:
        path = "/marathon/v2/apps/" + quote(app_id.strip("/"), safe="/")
        doc = self.client.request(
            "PUT",
            path,
            body={"instances": instances},
            query={"partialUpdate": "true", "force": "true"},
        )
        return f"scaling {app_id} to {instances} (deployment {doc.get('deploymentId', '?')[:8]})"

    def restart_app(self, app_id: str) -> str:
        path = "/marathon/v2/apps/" + quote(app_id.strip("/"), safe="/") + "/restart"
        doc = self.client.request("POST", path, body={}, query={"force": "true"})
        return f"restarting {app_id} (deployment {doc.get('deploymentId', '?')[:8]})"

    def kill_task(self, task_id: str, app_id: str) -> str:
        if app_id:
            path = (
                "/marathon/v2/apps/"
                + quote(app_id.strip("/"), safe="/")
                + "/tasks/"
                + quote(task_id, safe="")
            )
            self.client.request("DELETE", path)
        else:
            self.client.request("POST", "/marathon/v2/tasks/delete", body={"ids": [task_id]})
        return f"killing {task_id}"

    def log_path(self, task_id: str) -> Path | None:
        rec = self.target.local
        if rec is None:
            return None
        for agent in rec.by_kind("agent"):
            p = Path(agent.work_dir) / "sandboxes" / task_id / "stdout"
            if p.exists():
                return p
        return None
