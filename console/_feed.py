"""The dashboard's data source: events, not polling.

```
 LiveSource.start(emit)
   LeaderWatch (ZooKeeper) ──LeaderChanged──> emit          (an election shows at once)
       new leader ──> resync: Apps, Tasks, Deployments, Jobs, Nodes (one read each)
   SSE thread: GET <leader>/marathon/v2/events ──MarathonEvent──> emit
       stream ends (failover) ──> wait for the next leader, reconnect, resync
   slow refresh (every 5 s): Nodes (usage), Jobs, Masters
 actions: scale_app, restart_app, kill_task (Marathon REST), log_path (local sandbox)
```

``DataSource`` is the protocol the app takes, so tests feed it a fake.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from console import _model as m
from console._client import ClientError, ClusterClient, Target

log = logging.getLogger("console.feed")

Emit = Callable[[object], None]

SLOW_REFRESH = 5.0
"""Seconds between node-usage refreshes (the only periodic read)."""


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
        self.client = ClusterClient(target, timeout=5.0)
        self._emit: Emit = lambda ev: None
        self._stop = threading.Event()
        self._leader_changed = threading.Event()
        self._watch: Any = None
        self._threads: list[threading.Thread] = []
        self._sse_conn: http.client.HTTPConnection | None = None
        self._leader_url: str | None = None

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
            self.client._leader = None
            self._emit(m.LeaderChanged(None))
        else:
            self._leader_url = str(leader.http_url).rstrip("/")
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
        reads: list[tuple[Callable[[], Any], Callable[[Any], object]]] = [
            (lambda: self._get("/mesos/master/slaves")["slaves"], m.Nodes),
            (lambda: self._get("/marathon/v2/apps", embed="apps.counts")["apps"], m.Apps),
            (lambda: self._get("/marathon/v2/tasks")["tasks"], m.Tasks),
            (lambda: self._get("/marathon/v2/deployments"), m.Deployments),
            (self._jobs, m.Jobs),
        ]
        for read, make in reads:
            try:
                self._emit(make(read()))
            except (ClientError, KeyError, TypeError) as exc:
                log.debug("resync: %s", exc)
        self._masters()

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
                ]
            )
        )

    def _slow_loop(self) -> None:
        while not self._stop.wait(SLOW_REFRESH):
            if self._leader_url is None:
                continue
            with contextlib.suppress(ClientError, KeyError, TypeError):
                self._emit(m.Nodes(self._get("/mesos/master/slaves")["slaves"]))
            with contextlib.suppress(ClientError, KeyError, TypeError):
                self._emit(m.Jobs(self._jobs()))
            self._masters()

    # -- Marathon's event stream ----------------------------------------------------

    def _sse_loop(self) -> None:
        while not self._stop.is_set():
            url = self._leader_url
            if url is None:
                self._leader_changed.wait(1.0)
                self._leader_changed.clear()
                continue
            self._leader_changed.clear()
            self.resync()
            try:
                self._stream(url)
            except Exception as exc:
                log.debug("event stream from %s: %s", url, exc)
            if not self._stop.is_set():
                self._stop.wait(0.3)

    def _stream(self, base: str) -> None:
        u = urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=30)
        self._sse_conn = conn
        try:
            conn.request("GET", "/marathon/v2/events", headers={"Accept": "text/event-stream"})
            r = conn.getresponse()
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
