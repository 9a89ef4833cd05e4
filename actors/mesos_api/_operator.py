"""Mesos' v1 operator API: ``POST /api/v1`` and ``/mesos/api/v1`` (JSON).

```
 client ── POST /api/v1 {"type": "GET_STATE"} ──> any master's gateway
            standby: 307 to the leader (as Mesos' api())        │ leader
            GET_HEALTH/VERSION/FLAGS: this master's own facts   │
            GET_* and UPDATE_WEIGHTS/QUOTA: OperatorCall ──> master actor (v1 JSON;
                                       updates persisted in the registry first)
            TEARDOWN: p.Teardown ──> master actor
            SUBSCRIBE: chunked RecordIO stream <── OperatorRelay (one actor per master
                       process) <── MasterEvent (the master's state watch)
```

SUBSCRIBE: the relay holds ONE watch on the master for every open stream. A new stream
makes it re-send ``WatchMaster``; the fresh SUBSCRIBED (full state) goes to the new
streams only, while the streams already open carry on with the events that follow,
which the master sends after it in order. Each stream has a bounded buffer
(``max_buffered_bytes``): a client that stops reading is disconnected when it fills,
so it cannot grow the master's memory. A gap in the master's numbering (lost events)
ends the open streams (their clients re-subscribe, as after a failover).

Calls pydcos does not implement answer 501 naming the call; protobuf bodies 415 (JSON
is supported); a body that is not a v1 ``Call`` 400 naming the field.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from actors import protocol as p
from actors.gateway import build_info, build_json
from actors.mesos_api._errors import MesosApiError
from actors.mesos_api._recordio import encode_event
from actors.mesos_api._storage import LEGACY_QUOTA_CALLS, legacy_quota_body, storage_routes
from runtime import Actor, ActorRef, Down

log = logging.getLogger("actors.mesos_api.operator")

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
RECORDIO = "application/recordio"

LOCAL_CALLS = ("GET_HEALTH", "GET_VERSION", "GET_FLAGS")
"""Answered by the master that receives them (after the leader redirect, the leader)."""

SUPPORTED = (
    *LOCAL_CALLS,
    *p.OPERATOR_READS,
    *p.OPERATOR_WRITES,
    "TEARDOWN",
    "SUBSCRIBE",
    *LEGACY_QUOTA_CALLS,
)
"""Every operator call pydcos answers."""

NOT_IMPLEMENTED = (
    "GET_METRICS",
    "GET_LOGGING_LEVEL",
    "SET_LOGGING_LEVEL",
    "LIST_FILES",
    "READ_FILE",
    "GET_OPERATIONS",
    "GET_MAINTENANCE_STATUS",
    "GET_MAINTENANCE_SCHEDULE",
    "UPDATE_MAINTENANCE_SCHEDULE",
    "START_MAINTENANCE",
    "STOP_MAINTENANCE",
    "DRAIN_AGENT",
    "DEACTIVATE_AGENT",
    "REACTIVATE_AGENT",
    "GROW_VOLUME",
    "SHRINK_VOLUME",
    "MARK_AGENT_GONE",
    "UPDATE_MAINTENANCE",
)
"""Mesos operator calls pydcos knows by name but does not implement (501)."""

UPDATE_FIELDS = {"UPDATE_WEIGHTS": "update_weights", "UPDATE_QUOTA": "update_quota"}
STORAGE_FIELDS = {  # issue 23: applied by the master, 202 Accepted / 409 as Mesos
    "RESERVE_RESOURCES": "reserve_resources",
    "UNRESERVE_RESOURCES": "unreserve_resources",
    "CREATE_VOLUMES": "create_volumes",
    "DESTROY_VOLUMES": "destroy_volumes",
}
UPDATE_FIELDS.update(STORAGE_FIELDS)

DEFAULT_STREAM_BUFFER = 8 * 1024 * 1024
"""Bytes a SUBSCRIBE stream may hold unsent before its client is disconnected."""

RELAY_ACTOR = "operator-events"

OPERATOR_PATHS = ("/api/v1", "/mesos/api/v1", "/api/v1/operator", "/mesos/api/v1/operator")
"""Mesos' operator endpoint (Admin Router's ``/mesos`` prefix too), and the
``/api/v1/operator`` path pymesos' ``MesosOperatorMasterDriver`` posts to."""


class CallRejected(MesosApiError):
    """A request that is not an operator call pydcos answers: HTTP ``status`` and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Call:
    """A parsed operator call."""

    type: str
    body: dict[str, Any]
    """The whole JSON ``Call``."""
    recordio: bool = False
    """The client accepts ``application/recordio`` (SUBSCRIBE's content type then)."""


def _accepts(accept: str | None, mime: str) -> bool:
    if not accept:
        return True
    kind = mime.split("/", 1)[0]
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in (mime, "*/*", f"{kind}/*"):
            return True
    return False


def parse_call(content_type: str | None, accept: str | None, body: bytes) -> Call:
    """Validate one request to ``/api/v1`` as Mesos' ``api()`` does: content type,
    JSON, a known ``type``, its own part where it has one, what the client accepts.
    Raises ``CallRejected`` (400, 406, 415, 501) naming the field and the value."""
    if content_type is None:
        raise CallRejected(400, "Content-Type: expecting 'Content-Type' to be present")
    media = content_type.split(";", 1)[0].strip().lower()
    if media == PROTOBUF:
        raise CallRejected(
            415, f"Content-Type: {PROTOBUF!r} is not supported by pydcos; send {JSON!r}"
        )
    if media != JSON:
        raise CallRejected(415, f"Content-Type: {media!r:.60} is not supported; send {JSON!r}")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallRejected(400, f"body: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CallRejected(400, f"body: {doc!r:.60} is not a JSON object (a v1 Call)")
    kind = doc.get("type")
    if not isinstance(kind, str) or not kind:
        raise CallRejected(400, f"type: {kind!r:.60} must be a call type such as 'GET_STATE'")
    if kind in NOT_IMPLEMENTED:
        raise CallRejected(501, f"type: {kind} is not implemented by pydcos")
    if kind not in SUPPORTED:
        raise CallRejected(400, f"type: {kind!r:.60} is not one of {', '.join(SUPPORTED)}")
    field = UPDATE_FIELDS.get(kind)
    if field is not None and not isinstance(doc.get(field), dict):
        raise CallRejected(400, f"{field}: {doc.get(field)!r:.60} must be an object for {kind}")
    if kind == "TEARDOWN":
        teardown_framework_id(doc)
    recordio = kind == "SUBSCRIBE" and RECORDIO in (accept or "").lower()
    if not recordio and not _accepts(accept, JSON):
        raise CallRejected(406, f"Accept: expecting {accept!r:.60} to allow {JSON!r}")
    return Call(kind, doc, recordio)


def teardown_framework_id(doc: dict[str, Any]) -> str:
    """``teardown.framework_id.value`` of a TEARDOWN call (400 naming what is missing)."""
    part = doc.get("teardown")
    fid = part.get("framework_id") if isinstance(part, dict) else None
    value = fid.get("value") if isinstance(fid, dict) else None
    if not isinstance(value, str) or not value:
        raise CallRejected(
            400, f"teardown.framework_id.value: {value!r:.60} must be a framework id"
        )
    return value


def flags_response(flags: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "GET_FLAGS",
        "get_flags": {"flags": [{"name": k, "value": str(v)} for k, v in sorted(flags.items())]},
    }


def health_response() -> dict[str, Any]:
    return {"type": "GET_HEALTH", "get_health": {"healthy": True}}


def version_response() -> dict[str, Any]:
    return {"type": "GET_VERSION", "get_version": {"version_info": build_json(build_info())}}


# ------------------------------------------------------------------------------ streams


class Stream:
    """One SUBSCRIBE response's outgoing queue. It lives on the gateway's event loop;
    ``push`` may be called from any thread (the relay actor's)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_bytes: int) -> None:
        self.loop = loop
        self.max_bytes = max_bytes
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.closed = False
        self.overflowed = False
        self.wake = asyncio.Event()
        self.abort: Callable[[], None] = lambda: None
        """Closes the client's connection (set by the handler)."""

    def push(self, data: bytes | None) -> None:
        """Queue ``data`` (None: end of stream), from any thread."""
        try:
            self.loop.call_soon_threadsafe(self.put, data)
        except RuntimeError:  # the gateway's loop is gone: so is the stream
            pass

    def put(self, data: bytes | None) -> None:
        """On the loop: queue, or end the stream; overflow disconnects the client."""
        if self.closed:
            return
        if data is None:
            self.closed = True
        elif self.chunks and self.size + len(data) > self.max_bytes:
            # (one record alone always fits: a big cluster's SUBSCRIBED may exceed the
            # bound; a backlog of records may not)
            self.closed = self.overflowed = True
            self.chunks.clear()
            self.size = 0
            self.abort()
        else:
            self.chunks.append(data)
            self.size += len(data)
        self.wake.set()

    async def next(self) -> bytes | None:
        """The next chunk to write, or None once the stream has ended."""
        while not self.chunks:
            if self.closed:
                return None
            self.wake.clear()
            await self.wake.wait()
        data = self.chunks.popleft()
        self.size -= len(data)
        return data


@dataclass(frozen=True, slots=True)
class _Join:
    stream: Stream


@dataclass(frozen=True, slots=True)
class _Leave:
    stream: Stream


class OperatorRelay(Actor):
    """One per master process: one state watch on the leading master (this node's),
    fanned out to every open SUBSCRIBE stream."""

    def __init__(self, master_address: str, name: str = RELAY_ACTOR) -> None:
        super().__init__()
        self.master_address = master_address
        self.relay_name = name
        self.pending: list[Stream] = []
        """Streams waiting for their SUBSCRIBED."""
        self.active: list[Stream] = []
        self.seq = 0
        self._master: ActorRef | None = None

    def _me(self) -> str:
        return self.node.actor_address(self.relay_name)

    def _watch(self) -> None:
        if self._master is None:
            self._master = self.node.ref(self.master_address)
            try:
                self.monitor(self._master)
            except NotImplementedError:
                pass
        self._master.tell(p.WatchMaster(self._me()))

    def _end_all(self) -> None:
        for s in self.pending + self.active:
            s.push(None)
        self.pending, self.active = [], []
        self.seq = 0

    def receive(self, message: Any) -> Any:
        if isinstance(message, _Join):
            self.pending.append(message.stream)
            self._watch()
        elif isinstance(message, _Leave):
            for group in (self.pending, self.active):
                if message.stream in group:
                    group.remove(message.stream)
            if not self.pending and not self.active and self._master is not None:
                self._master.tell(p.UnwatchMaster(self._me()))
                self.seq = 0
        elif isinstance(message, p.MasterEvent):
            self._on_event(message)
        elif isinstance(message, Down):
            # The master actor stopped (leadership lost): Mesos' streams end then too.
            self._master = None
            self._end_all()
        return None

    def _on_event(self, m: p.MasterEvent) -> None:
        if not self.pending and not self.active:
            return  # a late event of a subscription we gave up
        data = encode_event(m.event)
        if m.event.get("type") == "SUBSCRIBED":
            self.seq = m.seq
            for s in self.pending:
                s.push(data)
            self.active += self.pending
            self.pending = []
            return
        if m.seq != self.seq + 1:
            log.warning("operator stream: events %d..%d lost; ending streams", self.seq + 1, m.seq)
            for s in self.active:
                s.push(None)
            self.active = []
            self.seq = m.seq
            return
        self.seq = m.seq
        for s in self.active:
            s.push(data)


# ------------------------------------------------------------------------------ HTTP


def operator_routes(ctx: Any, max_stream_bytes: int = DEFAULT_STREAM_BUFFER) -> list[web.RouteDef]:
    """``POST /api/v1`` and ``/mesos/api/v1`` on this master's gateway (``ctx``: the
    master's ``ServiceContext``)."""
    relay_lock = threading.Lock()
    relay: list[ActorRef] = []

    def relay_ref() -> ActorRef:
        with relay_lock:
            if not relay:
                relay.append(ctx.node.spawn(OperatorRelay, ctx.master_address, name=RELAY_ACTOR))
            return relay[0]

    async def handler(request: web.Request) -> web.StreamResponse:
        gateway = ctx.gateway
        _to_leader(gateway, request)
        body = await request.read()
        try:
            call = parse_call(
                request.headers.get("Content-Type"), request.headers.get("Accept"), body
            )
        except CallRejected as exc:
            return _error(exc.status, exc.message)
        if call.type == "GET_HEALTH":
            return web.json_response(health_response())
        if call.type == "GET_VERSION":
            return web.json_response(version_response())
        if call.type == "GET_FLAGS":
            about = getattr(gateway, "about", None)
            return web.json_response(flags_response(dict(about.flags) if about else {}))
        if call.type == "TEARDOWN":
            return await _teardown(gateway, call)
        if call.type == "SUBSCRIBE":
            # The master actor must be up (503 while this master is still starting).
            await gateway.ask_master(p.OperatorCall("GET_WEIGHTS"))
            return await _subscribe(request, call, relay_ref, max_stream_bytes)
        if call.type in LEGACY_QUOTA_CALLS:  # issue 23: as UPDATE_QUOTA (Mesos 1.9)
            try:
                quota = legacy_quota_body(call.type, call.body)
            except ValueError as exc:
                return _error(400, str(exc))
            answer = await gateway.ask_master(p.OperatorCall("UPDATE_QUOTA", quota))
            if isinstance(answer, dict) and "error" in answer:
                return _error(400, str(answer["error"]))
            return web.Response(status=200)
        field = UPDATE_FIELDS.get(call.type)
        answer = await gateway.ask_master(
            p.OperatorCall(call.type, call.body[field] if field else {})
        )
        if not isinstance(answer, dict):
            return _error(500, f"the master answered {type(answer).__name__}")
        if "error" in answer:
            return _error(409 if call.type in STORAGE_FIELDS else 400, str(answer["error"]))
        if field is not None:
            return web.Response(status=202 if call.type in STORAGE_FIELDS else 200)
        return web.json_response(answer)

    async def teardown_v0(request: web.Request) -> web.StreamResponse:
        """Mesos' ``POST /master/teardown`` (``frameworkId=...``, form or query): what
        ``dcos service shutdown`` sends. Leader-only: the gateway redirects a standby."""
        _to_leader(ctx.gateway, request)
        # Mesos reads the body as a query string whatever its Content-Type (the dcos
        # library sends "frameworkId=..." with none).
        body = (await request.read()).decode("utf-8", errors="replace")
        fid = (parse_qs(body).get("frameworkId") or [""])[0] or request.query.get("frameworkId")
        if not isinstance(fid, str) or not fid:
            return _error(400, "frameworkId: missing; send frameworkId=<framework id>")
        call = Call("TEARDOWN", {"teardown": {"framework_id": {"value": fid}}})
        return await _teardown(ctx.gateway, call)

    routes = [web.post(path, handler) for path in OPERATOR_PATHS]
    routes += [web.post(f"{b}/teardown", teardown_v0) for b in ("/mesos/master", "/master")]
    routes += storage_routes(ctx, _to_leader)
    return routes


def _to_leader(gateway: Any, request: web.Request) -> None:
    """On a standby, redirect to the leader (307, as Mesos' ``api()``); 503 during an
    election."""
    if gateway is None or gateway.is_leading():
        return
    leader = gateway.leader_http_url()
    if leader is None:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"message": "no master is leading; an election is in progress"}),
            content_type="application/json",
        )
    raise web.HTTPTemporaryRedirect(leader + str(request.rel_url))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


async def _teardown(gateway: Any, call: Call) -> web.StreamResponse:
    """Remove a framework and kill its tasks (Mesos: 400 for an unknown framework)."""
    fid = teardown_framework_id(call.body)
    frameworks = await gateway.ask_master(p.OperatorCall("GET_FRAMEWORKS"))
    known = {
        f["framework_info"]["id"]["value"]
        for f in frameworks.get("get_frameworks", {}).get("frameworks", [])
    }
    if fid not in known:
        return _error(400, f"teardown.framework_id.value: no framework {fid!r} is known")
    await gateway.ask_master(p.Teardown(fid))
    return web.Response(status=200)


async def _subscribe(
    request: web.Request, call: Call, relay: Callable[[], ActorRef], max_bytes: int
) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    ref = await loop.run_in_executor(None, relay)
    stream = Stream(loop, max_bytes)
    transport = request.transport
    if transport is not None:
        stream.abort = transport.abort
    headers = (
        {"Content-Type": RECORDIO, "Message-Content-Type": JSON}
        if call.recordio
        else {"Content-Type": JSON}
    )
    resp = web.StreamResponse(status=200, headers=headers)
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    ref.tell(_Join(stream))
    try:
        while True:
            data = await stream.next()
            if data is None:
                break
            await resp.write(data)
    except ConnectionError:
        pass  # the client went away (or was disconnected for not reading)
    finally:
        ref.tell(_Leave(stream))
        if stream.overflowed:
            log.warning("operator stream: a client that did not read was disconnected")
    return resp
