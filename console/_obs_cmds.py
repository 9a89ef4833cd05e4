"""The console's verbs for logs and metrics (issue 21): task log, node log, service log
(metrics: H4's ``console/_metrics_cmds.py``).

Logs are read over HTTP from any master (``/system/v1/logs/v2/...``), never from the
file system, so they work wherever the cluster runs. A follow is a server-sent-events
stream; when the master serving it goes away (a leader killed, a standby stopped), the
reader reconnects to another master with ``Last-Event-ID`` = the last offset it printed:
no line lost, none repeated.

```
 pydcos task log -f web ─┬─ task ids (leader's /mesos/master/tasks, app or id prefix)
                         └─ per task: LogReader ── SSE ──> master A ──(actors)──> agent
                                          │ connection lost
                                          └── SSE + Last-Event-ID ──> master B
```
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from actors.task_states import TERMINAL_STATES
from console._client import ClientError, ClusterClient
from console._output import Out

COMPONENTS = ("master", "agent", "zookeeper", "marathon", "metronome", "iam-audit")
RECONNECT_WINDOW = 30.0
"""Seconds a follow keeps trying other masters after losing its stream."""
READ_TIMEOUT = 20.0
"""Seconds of silence after which a stream counts as lost (masters send a keepalive
every few seconds while a followed file is quiet)."""


class LogError(ClientError):
    """A log cannot be read: the message names the task, agent or path (one line)."""


# ------------------------------------------------------------------------------ SSE


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One server-sent event: ``event`` (``message`` for a log line), ``data``, ``id``."""

    event: str
    data: str
    id: str | None


class SseParser:
    """The SSE wire format, a line at a time (pure): ``feed(line)`` returns the event a
    blank line completes, else None. Comments (``: keepalive``) are ignored."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> SseEvent | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data and not self._event:
                self._id = None
                return None
            ev = SseEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data, self._id = "", [], None
            return ev
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class LogLine:
    text: str
    offset: int | None
    """The offset after the line (its SSE id); None in plain text."""


class LogEnd(LogError):
    """The stream ended with an error event (an agent gone): the message names it."""


class LogReader:
    """Reads one log path (``/system/v1/...``) through any master, following and
    failing over as the module docstring says. ``masters()`` gives the base URLs to
    try, best first; it is asked again after a failure."""

    def __init__(
        self,
        masters: Callable[[], list[str]],
        path: str,
        lines: int,
        stop: threading.Event | None = None,
        read_timeout: float = READ_TIMEOUT,
        reconnect_window: float = RECONNECT_WINDOW,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.masters = masters
        self.headers = dict(headers or {})
        """Sent with every request (``Authorization`` when the CLI is logged in)."""
        self.path = path
        self.lines = lines
        self.stop = stop or threading.Event()
        self.read_timeout = read_timeout
        self.reconnect_window = reconnect_window
        self.last_id: str | None = None
        self.served_by: str | None = None
        """The master URL serving the stream now."""
        self.reconnects = 0

    def _connect(self, base: str, follow: bool) -> tuple[http.client.HTTPConnection, Any]:
        u = urlsplit(base)
        conn = http.client.HTTPConnection(
            u.hostname or "127.0.0.1", u.port or 80, timeout=self.read_timeout
        )
        query: dict[str, Any] = {}
        headers = {"Accept": "text/event-stream" if follow else "text/plain", **self.headers}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        elif self.lines == 0:
            query["cursor"] = "END"  # new lines only
        elif self.lines > 0:
            query["skip"] = -self.lines
        url = self.path + ("?" + urlencode(query) if query else "")
        conn.request("GET", url, headers=headers)
        r = conn.getresponse()
        if r.status in (301, 302, 303, 307, 308):
            conn.close()
            raise OSError(f"{base} redirected the log to {r.getheader('location')}")
        if r.status != 200:
            raw = r.read()
            conn.close()
            try:
                message = json.loads(raw).get("message", raw.decode(errors="replace"))
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace")
            if r.status in (400, 403, 404):
                raise LogError(str(message))
            raise OSError(f"{base}: HTTP {r.status}: {message}")
        return conn, r

    def read(self) -> Iterator[LogLine]:
        """The last ``lines`` lines (``lines`` < 0: the whole log), once."""
        errors: list[str] = []
        for base in self.masters():
            try:
                conn, r = self._connect(base, follow=False)
            except OSError as exc:
                errors.append(str(exc))
                continue
            try:
                self.served_by = base
                while True:
                    raw = r.readline()
                    if not raw:
                        return
                    yield LogLine(raw.decode(errors="replace").rstrip("\n"), None)
            finally:
                conn.close()
        raise LogError(f"no master answered for {self.path}: " + "; ".join(errors[-3:]))

    def follow(self) -> Iterator[LogLine]:
        """The last ``lines`` lines, then every new one until the log ends (the task is
        over: ``done``), an error event (raises ``LogEnd`` naming the agent), or
        ``stop``; through master failures (another master, ``Last-Event-ID``)."""
        lost_at: float | None = None
        why = ""
        while not self.stop.is_set():
            bases = self.masters()
            if self.served_by in bases and lost_at is not None:
                bases = [b for b in bases if b != self.served_by] + [self.served_by]
            connected = False
            for base in bases:
                if self.stop.is_set():
                    return
                try:
                    conn, r = self._connect(base, follow=True)
                except OSError as exc:
                    why = str(exc)
                    continue
                connected = True
                if lost_at is not None:
                    self.reconnects += 1
                lost_at = None
                self.served_by = base
                try:
                    parser = SseParser()
                    while not self.stop.is_set():
                        raw = r.readline()
                        if not raw:
                            why = f"{base} closed the stream"
                            break
                        ev = parser.feed(raw.decode(errors="replace"))
                        if ev is None:
                            continue
                        if ev.event == "message":
                            if ev.id is not None:
                                self.last_id = ev.id
                            yield LogLine(ev.data, int(ev.id) if ev.id else None)
                        elif ev.event == "done":
                            return
                        elif ev.event == "error":
                            try:
                                message = json.loads(ev.data).get("message", ev.data)
                            except (ValueError, AttributeError):
                                message = ev.data
                            raise LogEnd(str(message))
                except OSError as exc:
                    why = f"{base}: {exc}"
                finally:
                    conn.close()
                break  # lost: look at the masters again
            now = time.monotonic()
            if lost_at is None:
                lost_at = now
            if now - lost_at > self.reconnect_window:
                raise LogError(f"lost the log stream {self.path} and no master took it: {why}")
            if not connected:
                self.stop.wait(0.3)


def master_urls(c: ClusterClient, prefer: str | None = None) -> Callable[[], list[str]]:
    """Every master's base URL (``prefer`` first, then the leader, then standbys), read
    from ZooKeeper's election each time it is asked."""

    def urls() -> list[str]:
        from zk import read_contenders

        out = [prefer.rstrip("/")] if prefer else []
        try:
            out += [m.http_url.rstrip("/") for m in read_contenders(c.zk()) if m.http_url]
        except Exception:
            if not out:
                raise
        return list(dict.fromkeys(out))

    return urls


# ------------------------------------------------------------------------------ tasks


def match_tasks(tasks: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    """The tasks ``what`` names (pure): a task id; else an app (``/web``, ``web``,
    ``/shop/web``: its Marathon tasks ``web.<uuid>``, ``shop_web.<uuid>``); else a task
    id prefix. Running tasks if any match, else the latest finished one."""
    exact = [t for t in tasks if t.get("id") == what]
    if exact:
        return exact[:1]
    app = what.strip("/").replace("/", "_")
    found = [t for t in tasks if app and str(t.get("id", "")).startswith(app + ".")]
    if not found:
        found = [t for t in tasks if what and str(t.get("id", "")).startswith(what)]
    active = [t for t in found if t.get("state") not in TERMINAL_STATES]
    if active:
        return sorted(active, key=lambda t: str(t.get("id")))
    done = sorted(found, key=_finished_at)
    return done[-1:]


def _finished_at(t: dict[str, Any]) -> float:
    stamps = [float(s.get("timestamp", 0)) for s in t.get("statuses", []) or []]
    return max(stamps, default=0.0)


def task_log_path(task: dict[str, Any], file: str) -> str:
    tid = quote(str(task["id"]), safe="")
    agent = quote(str(task.get("slave_id", "")), safe="")
    base = (
        f"/system/v1/agent/{agent}/logs/v2/task/{tid}"
        if agent
        else f"/system/v1/logs/v2/task/{tid}"
    )
    return base if file == "stdout" else f"{base}/file/{quote(file, safe='/')}"


def _tasks(c: ClusterClient) -> list[dict[str, Any]]:
    from console._verbs import all_tasks

    return all_tasks(c)


def _short(task_id: str) -> str:
    return task_id if len(task_id) <= 24 else task_id[:24]


def _print_stream(readers: list[tuple[str, LogReader]], follow: bool, out: Out) -> int:
    """Print each reader's lines (prefixed when there are several), following in one
    thread each; the exit status is 1 if any stream ended with an error."""
    lock = threading.Lock()
    status = [0]
    prefix = len(readers) > 1

    def emit(label: str, line: LogLine) -> None:
        with lock:
            if out.as_json:
                sys.stdout.write(
                    json.dumps({"source": label, "offset": line.offset, "line": line.text}) + "\n"
                )
            elif prefix:
                sys.stdout.write(f"[{label}] {line.text}\n")
            else:
                sys.stdout.write(line.text + "\n")
            sys.stdout.flush()

    def run(label: str, reader: LogReader) -> None:
        try:
            for line in reader.follow() if follow else reader.read():
                emit(label, line)
        except BrokenPipeError:  # `| head`: the reader is gone, so are we
            for _, r in readers:
                r.stop.set()
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (LogEnd, LogError) as exc:
            with lock:
                print(f"pydcos: {label}: {exc}", file=sys.stderr)
                status[0] = 1

    if len(readers) == 1:
        run(*readers[0])
        return status[0]
    threads = [threading.Thread(target=run, args=r, daemon=True) for r in readers]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt:
        for _, r in readers:
            r.stop.set()
        return 130
    return status[0]


def task_log(c: ClusterClient, out: Out, args: Any) -> int:
    if args.lines < 0:
        raise LogError(f"--lines: {args.lines} must be 0 or more")
    file = "stderr" if args.stderr else (args.file or "stdout")
    tasks = match_tasks(_tasks(c), args.task)
    if not tasks:
        raise LogError(f"no task with id {args.task!r} (see 'pydcos task list --completed')")
    masters = master_urls(c, args.master)
    readers = [
        (
            _short(str(t["id"])),
            LogReader(masters, task_log_path(t, file), args.lines, headers=c.auth_headers()),
        )
        for t in tasks
    ]
    try:
        return _print_stream(readers, args.follow, out)
    except KeyboardInterrupt:
        return 130


def node_log(c: ClusterClient, out: Out, args: Any) -> int:
    if args.lines < 0:
        raise LogError(f"--lines: {args.lines} must be 0 or more")
    prefer = args.master
    if args.agent:
        path = f"/system/v1/agent/{quote(args.agent, safe='')}/logs/v2/component/agent"
        label = f"agent {args.agent}"
    else:
        name = args.component or "master"
        if name not in COMPONENTS:
            raise LogError(f"--component: {name!r} is not one of {', '.join(COMPONENTS)}")
        if name == "agent":
            raise LogError("--component agent: name the agent with --agent ID")
        if args.leader or (not args.component and not prefer):
            prefer = c.base_url()  # the leading master's own log
        path = f"/system/v1/logs/v2/component/{name}"
        label = name
    reader = LogReader(master_urls(c, prefer), path, args.lines, headers=c.auth_headers())
    return _print_stream([(label, reader)], args.follow, out)


def service_log(c: ClusterClient, out: Out, args: Any) -> int:
    if args.lines < 0:
        raise LogError(f"--lines: {args.lines} must be 0 or more")
    if args.service not in ("marathon", "metronome"):
        raise LogError(f"service {args.service!r}: logs of marathon and metronome are kept")
    path = f"/system/v1/logs/v2/component/{args.service}"
    reader = LogReader(master_urls(c, args.master), path, args.lines, headers=c.auth_headers())
    return _print_stream([(args.service, reader)], args.follow, out)


def _log_flags(p: Any, lines: int = 10) -> None:
    p.add_argument("--follow", "-f", action="store_true", help="print new lines as they come")
    p.add_argument("--lines", "-n", type=int, default=lines, help=f"last N lines ({lines})")
    p.add_argument(
        "--master",
        default=None,
        metavar="URL",
        help="read through this master (default: any master, the leader first)",
    )


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    """Add this area's verbs: ``sub`` is the top-level subparsers, ``groups`` the
    ``node``, ``task`` and ``marathon`` groups' subparsers and ``cluster up``'s parser."""
    from console._metrics_cmds import add_metrics_commands  # H4's verbs (node/task metrics)

    add_metrics_commands(groups)
    leaf, group = groups["leaf"], groups["group"]

    t = leaf(groups["task"], "log", "a task's stdout (or stderr, or a sandbox file)", task_log)
    t.add_argument("task", metavar="TASK_OR_APP", help="a task id (or prefix), or an app id")
    _log_flags(t)
    which = t.add_mutually_exclusive_group()
    which.add_argument("--stderr", action="store_true", help="the task's stderr")
    which.add_argument("--file", default=None, metavar="PATH", help="a file of its sandbox")

    n = leaf(groups["node"], "log", "a node's log (the leader's by default)", node_log)
    _log_flags(n)
    where = n.add_mutually_exclusive_group()
    where.add_argument("--leader", action="store_true", help="the leading master's log")
    where.add_argument("--agent", default=None, metavar="ID", help="an agent's log")
    where.add_argument(
        "--component", default=None, metavar="NAME", help=f"one of {', '.join(COMPONENTS)}"
    )

    if "service" not in groups:  # H7's service list|shutdown join this group
        groups["service"] = group(sub, "service", "DC/OS services (Marathon, Metronome...)")
    s = leaf(groups["service"], "log", "a service's log (marathon, metronome)", service_log)
    s.add_argument("service", metavar="SERVICE")
    _log_flags(s)
