"""The logs node service: every master serves task logs, sandbox files and component
logs over HTTP, reading them through the actor of the node that holds them.

Routes (every master answers them itself, leading or not):

- ``/system/v1/logs/v2/task/{task_id}`` and ``.../file/{file}``: a task's stdout, or
  ``stderr`` or any sandbox path; ``.../browse?path=``: its sandbox directory;
- ``/system/v1/agent/{agent_id}/logs/v2/task/{task_id}[/file/{file}]``: same, agent named;
- ``/system/v1/logs/v2/component/{name}``: ``master``, ``zookeeper`` (this master's),
  ``marathon``, ``metronome`` (the leading master's log, their lines);
- ``/system/v1/agent/{agent_id}/logs/v2/component/agent``: an agent's own log;
- Mesos' sandbox files API: ``/agent/{agent_id}/files/browse?path=``,
  ``/files/read?path=&offset=&length=``, ``/files/download?path=``.

Logs answer ``text/plain`` (default), ``application/json`` (one entry per line: the
line, its ``offset``, its ``cursor``, a timestamp) or ``text/event-stream`` (follows the
file; each event's ``id`` is the offset after its line, so ``Last-Event-ID`` resumes
with no line lost or repeated). ``?skip=-N`` starts N lines before the cursor,
``?cursor=BEG|END|<offset>``, ``?limit=N``.

Following is a pull: the handler tells the agent one ``FollowFile`` (a long poll) at a
time and waits for its ``FileChunk`` (told back to this master's ``LogsActor``), writes
it, and only then asks for more; ``resp.write`` waits while the client's socket is full,
so a slow reader holds at most one chunk here and one at the agent. An agent that stops
answering ends the stream with an ``error`` event naming it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from actors import protocol as p
from actors.gateway import requires
from actors.logs._components import component_logs, set_component_log
from actors.logs._errors import BadLogQuery, LogsError
from actors.logs._files import FileServer, valid_task_id
from actors.logs._lines import (
    MAX_LINE_BYTES,
    MAX_TAIL_SCAN,
    SSE_KEEPALIVE,
    Line,
    LogQuery,
    TailFinder,
    component_filter,
    cursor_offset,
    json_entry,
    negotiate,
    parse_query,
    split_lines,
    sse_event,
    sse_named,
    text_line,
    utf8_safe_end,
)
from runtime import Actor, ChildSpec

SANDBOX = "dcos:mesos:agent:sandbox"
"""DC/OS' permission to read task sandboxes through the files API."""

log = logging.getLogger("actors.logs")

FOLLOW_WAIT = 5.0
"""Seconds an agent holds a follow request with no new data (a keepalive goes out
then); an agent silent for this plus ``ANSWER_GRACE`` is probed, then declared gone."""
ANSWER_GRACE = 2.0
ASK_TIMEOUT = 5.0
PROBE_TIMEOUT = 2.0
READ_CHUNK = p.MAX_READ_BYTES
FOLLOW_CHUNK = 256 * 1024
RAW_AHEAD = 1
"""Reads in flight while a plain download is written. One: more threads waiting on
asks at once contend for the GIL and were slower (8 MiB: 8 ms with one in flight, 12 ms
with two, 20 ms with three, from one client process)."""


class SourceGone(LogsError):
    """The node serving a log stopped answering mid-stream (names it)."""


class _Pending:
    """Follow requests in flight: request id -> the waiting handler's future."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._futures: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}

    def add(self) -> tuple[str, asyncio.Future[Any]]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            rid = f"f{next(self._ids)}"
            self._futures[rid] = (loop, fut)
        return rid, fut

    def drop(self, rid: str) -> None:
        with self._lock:
            self._futures.pop(rid, None)

    def resolve(self, chunk: p.FileChunk) -> None:
        """Any thread: hand ``chunk`` to its handler (a late or unknown one is dropped)."""
        with self._lock:
            entry = self._futures.pop(chunk.request_id, None)
        if entry is None:
            return
        loop, fut = entry

        def settle() -> None:
            if not fut.done():
                fut.set_result(chunk)

        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:
            pass  # the gateway's loop is closed: nobody waits any more

    def __len__(self) -> int:
        with self._lock:
            return len(self._futures)


def master_components() -> dict[str, Any]:
    """A master's component logs: its own (also Marathon's and Metronome's, which run
    in it) and ZooKeeper's when it was told where that is."""
    logs = component_logs()
    out = {k: v for k, v in logs.items() if k in ("master", "zookeeper", "iam-audit")}
    if "master" in logs:
        out["marathon"] = out["metronome"] = logs["master"]
    return out


class LogsActor(Actor):
    """Every master's ``logs`` actor: serves this master's component logs
    (``ReadFile``/``FollowFile`` with a ``component``) and hands the ``FileChunk``s
    agents tell back to the HTTP handlers waiting for them."""

    def __init__(self, pending: _Pending) -> None:
        super().__init__()
        self.pending = pending
        self.files: FileServer | None = None

    def started(self) -> None:
        node = self.node

        def send(address: str, chunk: p.FileChunk) -> None:
            node.ref(address).tell(chunk)

        self.files = FileServer(None, components=master_components, send=send, wall=self.clock.wall)

    def stopped(self) -> None:
        if self.files is not None:
            self.files.close()

    def receive(self, message: Any) -> Any:
        if isinstance(message, p.FileChunk):
            self.pending.resolve(message)
            return None
        assert self.files is not None
        if isinstance(message, p.ReadFile):
            return self.files.read(message)
        if isinstance(message, p.FollowFile):
            self.files.follow(message)
            return None
        if isinstance(message, p.BrowseFiles):
            return p.FileListing(404, "masters keep no sandboxes: browse an agent's")
        return super().receive(message)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a log is read: the actor serving it and what to ask for."""

    address: str
    """The serving actor (an agent's ``agent``, a master's ``logs``)."""
    where: str
    """Who that is, for messages: ``agent <id>``, ``master <address>``."""
    task_id: str = ""
    path: str = ""
    component: str = ""
    stream: str = "stdout"
    """The JSON entries' ``STREAM`` field."""
    match: Callable[[str], bool] | None = None
    """Only lines it accepts are sent (Marathon's lines of the master log)."""
    agent_id: str = ""


def _http_error(status: int, message: str, **extra: Any) -> web.HTTPException:
    cls = {
        400: web.HTTPBadRequest,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        503: web.HTTPServiceUnavailable,
        502: web.HTTPBadGateway,
    }.get(status, web.HTTPInternalServerError)
    return cls(text=json.dumps({"message": message, **extra}), content_type="application/json")


class LogsStats:
    """This master's log serving, for ``/metrics`` (a prometheus_client collector).

    ``pydcos_logs_follow_pending`` stays at most the number of open SSE streams however
    slow their readers are: each holds one follow request at a time (the pull)."""

    def __init__(self, pending: _Pending) -> None:
        self.pending = pending
        self.streams_open = 0
        self.streams_total = 0
        self.bytes_total = 0
        self.sources_gone_total = 0

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        yield GaugeMetricFamily(
            "pydcos_logs_streams_open", "Log responses being written now", value=self.streams_open
        )
        yield GaugeMetricFamily(
            "pydcos_logs_follow_pending",
            "Follow requests waiting for an agent's answer",
            value=len(self.pending),
        )
        yield CounterMetricFamily(
            "pydcos_logs_streams_started", "Log responses started", value=self.streams_total
        )
        yield CounterMetricFamily(
            "pydcos_logs_sent_bytes", "Log bytes written to clients", value=self.bytes_total
        )
        yield CounterMetricFamily(
            "pydcos_logs_sources_gone",
            "Log streams ended because the node serving them stopped answering",
            value=self.sources_gone_total,
        )


class LogsApi:
    """The HTTP handlers of one master (see the module docstring)."""

    def __init__(
        self,
        ctx: Any,
        pending: _Pending,
        follow_wait: float = FOLLOW_WAIT,
        answer_grace: float = ANSWER_GRACE,
    ) -> None:
        self.ctx = ctx
        self.pending = pending
        self.follow_wait = follow_wait
        self.answer_grace = answer_grace

        self.stats = LogsStats(pending)
        self._agents: dict[str, str] = {}
        """Agent id -> actor address, as last learnt: a log keeps flowing through an
        election (no leader to ask) from the agent it was already read from."""

    @property
    def gateway(self) -> Any:
        return self.ctx.gateway

    async def _agent_address(self, agent_id: str) -> str:
        try:
            address = str(await self.gateway.agent_address(agent_id))
        except web.HTTPNotFound:
            raise
        except (web.HTTPServiceUnavailable, TimeoutError, RuntimeError, OSError):
            known = self._agents.get(agent_id)
            if known is None:
                raise
            return known
        if len(self._agents) > 10_000:
            self._agents.clear()
        self._agents[agent_id] = address
        return address

    def routes(self) -> list[web.RouteDef]:
        task = "/system/v1/logs/v2/task/{task_id}"
        agent_task = "/system/v1/agent/{agent_id}/logs/v2/task/{task_id}"
        return [
            web.get(task, self.task_log),
            web.get(task + "/file/{file:.+}", self.task_log),
            web.get(task + "/browse", self.task_browse),
            web.get(agent_task, self.task_log),
            web.get(agent_task + "/file/{file:.+}", self.task_log),
            web.get(agent_task + "/browse", self.task_browse),
            web.get("/system/v1/logs/v2/component/{name}", self.component_log),
            web.get("/system/v1/agent/{agent_id}/logs/v2/component/{name}", self.agent_log),
            # Mesos' files API, at Admin Router's path and its legacy /slave/ twin (the
            # DC/OS CLI's `dcos task log` reads /slave/{id}/files/read.json), with and
            # without Mesos' .json suffix.
            *(
                web.get(
                    f"/{base}/{{agent_id}}/files/{what}{ext}", requires(SANDBOX, "read", handler)
                )
                for base in ("agent", "slave")
                for what, handler in (
                    ("browse", self.files_browse),
                    ("read", self.files_read),
                    ("download", self.files_download),
                )
                for ext in ("", ".json")
            ),
        ]

    # -- where a log is ---------------------------------------------------------------

    async def _ask_leader(self, message: Any) -> Any:
        leader = self.gateway.leader_master_address()
        if leader is None:
            raise _http_error(503, "no master is leading; an election is in progress")
        return await self.gateway.ask_at(leader, message)

    async def _task_agent(self, task_id: str) -> str:
        doc = await self._ask_leader(
            p.GetState("tasks", {"task_id": task_id, "limit": 1, "offset": 0, "order": "des"})
        )
        tasks = doc.get("tasks", []) if isinstance(doc, dict) else []
        if not tasks:
            raise _http_error(
                404, f"task {task_id!r} is not known to the leading master", task_id=task_id
            )
        return str(tasks[0].get("slave_id", ""))

    async def _task_source(self, request: web.Request, file: str) -> Source:
        task_id = request.match_info["task_id"]
        why = valid_task_id(task_id)
        if why:
            raise _http_error(400, why)
        agent_id = request.match_info.get("agent_id") or await self._task_agent(task_id)
        address = await self._agent_address(agent_id)
        stream = file if file in ("stdout", "stderr") else "file"
        return Source(address, f"agent {agent_id}", task_id, file, stream=stream, agent_id=agent_id)

    async def _moved(self, src: Source) -> Source | None:
        """``src`` at its agent's address as the leader knows it now, if that changed
        (a restarted agent re-registers from a new port; the gateway's address cache can
        be a few seconds old); None when it did not (the agent is gone)."""
        if not src.agent_id:
            return None
        try:
            doc = await self._ask_leader(p.GetState("slaves"))
        except Exception:
            return None
        from actors.gateway import agent_actor_address

        for a in doc.get("slaves", []) if isinstance(doc, dict) else []:
            if str(a.get("id")) == src.agent_id:
                address = agent_actor_address(str(a.get("pid", "")))
                if address and address != src.address:
                    self._agents[src.agent_id] = address
                    return replace(src, address=address)
        return None

    def _leader_logs_address(self) -> str:
        leader = self.gateway.leader_master_address()
        if leader is None:
            raise _http_error(503, "no master is leading; an election is in progress")
        return leader.rsplit("/", 1)[0] + "/" + p.LOGS_ACTOR

    # -- reading through actors ---------------------------------------------------------

    async def _read(
        self, src: Source, offset: int, length: int, timeout: float = ASK_TIMEOUT
    ) -> p.FileChunk:
        message = p.ReadFile(src.path, src.task_id, src.component, offset, length)
        try:
            chunk = await self.gateway.ask_at(src.address, message, timeout=timeout)
        except web.HTTPException:
            raise
        except Exception as exc:
            raise SourceGone(f"{src.where} ({src.address}) did not answer: {exc}") from None
        if not isinstance(chunk, p.FileChunk):
            raise SourceGone(f"{src.where} answered {type(chunk).__name__}, not a FileChunk")
        return chunk

    async def _follow(self, src: Source, offset: int) -> p.FileChunk:
        rid, fut = self.pending.add()
        reply_to = self.ctx.node.actor_address(p.LOGS_ACTOR)
        message = p.FollowFile(
            rid,
            reply_to,
            src.path,
            src.task_id,
            src.component,
            offset,
            FOLLOW_CHUNK,
            self.follow_wait,
        )
        try:
            self.ctx.node.ref(src.address).tell(message)
            return await asyncio.wait_for(fut, self.follow_wait + self.answer_grace)
        except TimeoutError:
            # Lost, or the node is gone: a plain read tells which.
            size = await self._read(src, -1, 0, timeout=PROBE_TIMEOUT)
            return p.FileChunk(200, "", offset, b"", size.size, size.done)
        finally:
            self.pending.drop(rid)

    async def _tail_start(self, src: Source, end: int, n: int) -> int:
        """Where the last ``n`` lines before ``end`` start (reading backwards)."""
        finder = TailFinder(n, end, src.match)
        pos = end
        while pos > 0 and end - pos < MAX_TAIL_SCAN:
            start = max(0, pos - READ_CHUNK)
            chunk = await self._read(src, start, pos - start)
            if chunk.status != 200:
                raise _http_error(chunk.status, chunk.message)
            found = finder.feed(chunk.data[: pos - start], start)
            if found is not None:
                return found
            pos = start
        return pos

    # -- handlers -------------------------------------------------------------------

    async def task_log(self, request: web.Request) -> web.StreamResponse:
        src = await self._task_source(request, request.match_info.get("file", "stdout"))
        return await self._serve(request, src)

    async def component_log(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in p.LOG_COMPONENTS:
            raise _http_error(
                404, f"component {name!r} is not one of {', '.join(p.LOG_COMPONENTS)}"
            )
        if name == "agent":
            raise _http_error(
                404,
                "component 'agent' runs on agents: "
                "GET /system/v1/agent/{agent_id}/logs/v2/component/agent",
            )
        if name in ("marathon", "metronome"):
            address, where = self._leader_logs_address(), "the leading master"
        else:
            address, where = self.ctx.node.actor_address(p.LOGS_ACTOR), "this master"
        src = Source(address, where, component=name, stream=name, match=component_filter(name))
        return await self._serve(request, src)

    async def agent_log(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        agent_id = request.match_info["agent_id"]
        if name != "agent":
            raise _http_error(404, f"agent {agent_id!r} keeps only the 'agent' component log")
        address = await self._agent_address(agent_id)
        src = Source(address, f"agent {agent_id}", component="agent", stream="agent")
        return await self._serve(request, src)

    async def task_browse(self, request: web.Request) -> web.StreamResponse:
        src = await self._task_source(request, request.query.get("path", ""))
        return await self._browse(src, p.BrowseFiles(src.path, src.task_id))

    async def files_browse(self, request: web.Request) -> web.StreamResponse:
        agent_id = request.match_info["agent_id"]
        path = _required(request, "path")
        address = await self._agent_address(agent_id)
        return await self._browse(Source(address, f"agent {agent_id}"), p.BrowseFiles(path))

    async def _browse(self, src: Source, message: p.BrowseFiles) -> web.StreamResponse:
        try:
            listing = await self.gateway.ask_at(src.address, message, timeout=ASK_TIMEOUT)
        except web.HTTPException:
            raise
        except Exception as exc:
            raise _http_error(502, f"{src.where} did not answer: {exc}") from None
        if listing.status != 200:
            raise _http_error(listing.status, listing.message)
        return web.json_response(listing.entries)

    async def files_read(self, request: web.Request) -> web.StreamResponse:
        """Mesos' ``/files/read``: ``{"data": ..., "offset": ...}``; ``offset=-1`` gives
        the size. The data never ends inside a UTF-8 character (those bytes come with
        the next read), so ``offset + len(data.encode())`` is where to read next."""
        agent_id = request.match_info["agent_id"]
        path = _required(request, "path")
        offset = _int_query(request, "offset", 0)
        length = _int_query(request, "length", p.DEFAULT_READ_BYTES)
        if offset < -1:
            raise _http_error(400, f"query parameter offset: {offset} is negative")
        if length < 0:
            raise _http_error(400, f"query parameter length: {length} is negative")
        address = await self._agent_address(agent_id)
        src = Source(address, f"agent {agent_id}", path=path, agent_id=agent_id)
        chunk = await self._checked(self._read(src, offset, min(length, p.MAX_READ_BYTES)))
        if offset == -1:
            return web.json_response({"data": "", "offset": chunk.size})
        data = chunk.data
        at_end = chunk.offset + len(data) >= chunk.size and chunk.done
        if not at_end:
            data = data[: utf8_safe_end(data)]
        return web.json_response(
            {"data": data.decode("utf-8", errors="replace"), "offset": chunk.offset}
        )

    async def files_download(self, request: web.Request) -> web.StreamResponse:
        agent_id = request.match_info["agent_id"]
        path = _required(request, "path")
        address = await self._agent_address(agent_id)
        src = Source(address, f"agent {agent_id}", path=path, agent_id=agent_id)
        first = await self._checked(self._read(src, 0, READ_CHUNK))
        name = path.rstrip("/").rsplit("/", 1)[-1] or "file"
        resp = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": f'attachment; filename="{name}"',
            }
        )
        await resp.prepare(request)
        await self._raw(resp, src, first, until=first.size)
        await resp.write_eof()
        return resp

    async def _checked(self, read: Any) -> p.FileChunk:
        try:
            chunk: p.FileChunk = await read
        except SourceGone as exc:
            raise _http_error(502, str(exc)) from None
        return _ok(chunk)

    async def _raw(
        self, resp: web.StreamResponse, src: Source, chunk: p.FileChunk, until: int
    ) -> None:
        """Copy bytes as they are up to ``until``, keeping ``RAW_AHEAD`` reads in flight
        while writing (so the agent, the transport and the socket all stay busy); the
        memory this holds is bounded by ``RAW_AHEAD`` chunks."""
        ahead: deque[tuple[int, asyncio.Future[p.FileChunk]]] = deque()
        next_at = chunk.offset + len(chunk.data)
        try:
            while True:
                while chunk.data and next_at < until and len(ahead) < RAW_AHEAD:
                    n = min(READ_CHUNK, until - next_at)
                    ahead.append((next_at, asyncio.ensure_future(self._read(src, next_at, n))))
                    next_at += n
                if chunk.data:
                    await resp.write(chunk.data)
                    self.stats.bytes_total += len(chunk.data)
                if not ahead:
                    return
                at, fut = ahead.popleft()
                chunk = await fut
                if chunk.status != 200 or chunk.offset != at or not chunk.data:
                    return  # gone or rotated under us: what was read is what there was
                if chunk.offset + len(chunk.data) < min(until, at + READ_CHUNK):
                    await resp.write(chunk.data)  # the file is shorter than it was: stop
                    return
        finally:
            for _, fut in ahead:
                fut.cancel()

    # -- the log stream ---------------------------------------------------------------

    async def _serve(self, request: web.Request, src: Source) -> web.StreamResponse:
        try:
            query = parse_query(request.query, request.headers.get("Last-Event-ID"))
        except BadLogQuery as exc:
            raise _http_error(400, f"query parameter {exc}") from None
        fmt = negotiate(request.headers.get("Accept"))
        try:
            probe = _ok(await self._read(src, -1, 0))
        except SourceGone as exc:
            moved = await self._moved(src)
            if moved is None:
                raise _http_error(502, str(exc)) from None
            src = moved  # the agent restarted on another port: read it there
            probe = await self._checked(self._read(src, -1, 0))
        start = cursor_offset(query.cursor, probe.size)
        tail_end: int | None = None
        if query.skip < 0:
            # The last N lines before ``start``, and no more: a non-streaming answer ends
            # where they were counted from (`tail -n`), not with what the task wrote
            # while the answer was read (a ticking task gave 4 lines for skip=-3).
            tail_end = start
            start = await self._tail_start(src, start, -query.skip)
        content_type = {
            "text": "text/plain; charset=utf-8",
            "json": "application/json",
            "sse": "text/event-stream",
        }[fmt]
        headers = {"Content-Type": content_type, "Cache-Control": "no-cache"}
        if fmt == "sse":
            headers["X-Accel-Buffering"] = "no"
        raw = fmt == "text" and query.skip >= 0 and query.limit is None and src.match is None
        first: p.FileChunk | None = None
        if raw:
            # The bytes as they are, up to the size the file had: a known length, so the
            # body is not chunked (a client that gets fewer bytes knows it was cut).
            until = max(start, probe.size)
            first = await self._checked(self._read(src, start, min(READ_CHUNK, until - start)))
        resp = web.StreamResponse(headers=headers)
        if first is not None:
            resp.content_length = until - start
        await resp.prepare(request)
        self.stats.streams_open += 1
        self.stats.streams_total += 1
        try:
            if first is not None:
                if first.data:
                    await self._raw(resp, src, first, until=until)
            else:
                await self._lines(resp, src, fmt, start, query, tail_end)
        except SourceGone as exc:
            self.stats.sources_gone_total += 1
            if fmt == "sse":
                payload = {"message": str(exc), "agent_id": src.agent_id, "where": src.where}
                with _quiet():
                    await resp.write(sse_named("error", payload))
        except ConnectionError:
            return resp  # the client went away: nothing more to say to it
        finally:
            self.stats.streams_open -= 1
        with _quiet():
            await resp.write_eof()
        return resp

    async def _lines(
        self,
        resp: web.StreamResponse,
        src: Source,
        fmt: str,
        start: int,
        query: LogQuery,
        until: int | None = None,
    ) -> None:
        """Stream the lines from ``start``: followed (SSE), else to the end of the file,
        or to ``until`` when given (a non-streaming tail)."""
        follow = fmt == "sse"
        if follow:
            until = None
        skip = max(0, query.skip)
        sent = 0
        carry = b""
        carry_at = start
        while True:
            at = carry_at + len(carry)
            try:
                if follow:
                    chunk = await self._follow(src, at)
                else:
                    want = READ_CHUNK if until is None else max(0, min(READ_CHUNK, until - at))
                    chunk = await self._read(src, at, want)
            except SourceGone:
                moved = await self._moved(src)
                if moved is None:
                    raise  # gone, not moved: the stream ends naming it
                src = moved
                continue
            if chunk.status != 200:
                if follow:
                    payload = {"message": chunk.message, "status": chunk.status}
                    await resp.write(sse_named("error", payload))
                return
            if chunk.offset != at:  # rotated: the file starts over
                carry, carry_at = b"", chunk.offset
                until = None
            data = carry + chunk.data
            end = chunk.size if until is None else min(chunk.size, until)
            eof = chunk.offset + len(chunk.data) >= end
            final = eof and (chunk.done or not follow)
            lines, nxt = split_lines(data, carry_at, final=final, max_line=MAX_LINE_BYTES)
            carry, carry_at = data[nxt - carry_at :], nxt
            out: list[bytes] = []
            for line in lines:
                if skip:
                    skip -= 1
                    continue
                if src.match is not None and not src.match(line.text):
                    continue
                out.append(_format(fmt, line, chunk.read_at, src.stream))
                sent += 1
                if query.limit is not None and sent >= query.limit:
                    break
            if out:
                body = b"".join(out)
                await resp.write(body)
                self.stats.bytes_total += len(body)
            if query.limit is not None and sent >= query.limit:
                return
            if final and not carry:
                if follow:
                    await resp.write(sse_named("done", {"offset": carry_at, "where": src.where}))
                return
            if follow and not chunk.data:
                await resp.write(SSE_KEEPALIVE)


def _ok(chunk: p.FileChunk) -> p.FileChunk:
    """The chunk, or the HTTP error its status says (403, 404...)."""
    if chunk.status != 200:
        raise _http_error(chunk.status, chunk.message)
    return chunk


def _format(fmt: str, line: Line, read_at: float, stream: str) -> bytes:
    if fmt == "sse":
        return sse_event(line)
    if fmt == "json":
        return json_entry(line, read_at, stream)
    return text_line(line)


class _quiet:
    """Ignore a client that went away while we finish the response."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        return kind is not None and issubclass(kind, ConnectionError)


def _required(request: web.Request, name: str) -> str:
    value = request.query.get(name)
    if not value:
        raise _http_error(400, f"query parameter {name} is required")
    return value


def _int_query(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _http_error(400, f"query parameter {name}: {raw!r} is not an integer") from None


class LogsService:
    """The ``logs`` node service: a ``LogsActor`` and the routes on every master."""

    name = "logs"

    def __init__(
        self,
        follow_wait: float = FOLLOW_WAIT,
        log_file: str | None = None,
        zk_log_file: str | None = None,
    ) -> None:
        self.follow_wait = follow_wait
        self.pending = _Pending()
        if log_file:
            set_component_log("master", log_file)
        if zk_log_file:
            set_component_log("zookeeper", zk_log_file)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> LogsService:
        """``pydcos master --log-file F --zk-log-file Z``: where this master's output and
        the ZooKeeper server's go (served as component logs)."""
        return cls(
            log_file=settings.get("log_file") or None,
            zk_log_file=settings.get("zk_log_file") or None,
        )

    def child_specs(self, ctx: Any) -> list[ChildSpec]:
        return [
            ChildSpec(p.LOGS_ACTOR, LogsActor, kwargs={"pending": self.pending}, name=p.LOGS_ACTOR)
        ]

    def routes(self, ctx: Any) -> list[web.RouteDef]:
        api = LogsApi(ctx, self.pending, self.follow_wait)
        add = getattr(ctx.gateway, "add_metrics_collector", None)
        if add is not None:
            add(api.stats)
        return api.routes()
