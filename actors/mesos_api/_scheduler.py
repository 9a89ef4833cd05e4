"""The v1 scheduler API: ``POST /api/v1/scheduler`` (and ``/mesos/api/v1/scheduler``).

```
 client ──SUBSCRIBE──► handle() ─ spawn Bridge ─► master actor (p.Subscribe)
        ◄── 200, chunked, Mesos-Stream-Id ── RecordIO events: SUBSCRIBED, OFFERS, ...
 client ──ACCEPT/KILL/...(Mesos-Stream-Id)──► handle() ─ validate ─► master (tell), 202
```

Everything here runs on the gateway's event loop (one thread), so a ``Subscription``'s
queue, outstanding offers and executors need no lock; the bridge hands events in with
``call_soon_threadsafe`` in the order the master sent them, so an offer is in the
table before the client can read it, and a RESCIND removes it before it is streamed.

Mesos' rules kept: JSON only (``application/x-protobuf`` is 415 saying so); every call
but SUBSCRIBE carries the ``Mesos-Stream-Id`` the stream was given (400 without it, 403
for a stream that is not this framework's); a valid call is 202; an invalid one is 400
naming the field, and the stream lives on. pydcos checks an ACCEPT against the offers it
streamed (rescinded, used or foreign offers, another agent, resources beyond the offers,
malformed TaskInfo) before the master sees it, so nothing of a bad call is launched.

A client that stops reading cannot grow the master: a stream whose unsent events exceed
``max_queued_bytes`` is closed (and its framework disconnected, as a broken stream).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

from actors import protocol as p
from actors.gateway import MAX_BODY_BYTES, forbidden, permit, principal
from actors.mesos_api import _convert as c
from actors.mesos_api._bridge import Bridge, Resubscribe
from actors.mesos_api._errors import BadCall
from actors.mesos_api._recordio import encode_event
from actors.resources import ResourceError, Resources, apply_operation
from actors.task_states import TERMINAL_STATES
from runtime import ActorRef, Node, RuntimeSystemError

FRAMEWORK_ROLE_RID = "dcos:mesos:master:framework:role"
"""DC/OS Mesos' resource for frameworks registering as ``<role>`` (action create)."""

log = logging.getLogger("actors.mesos_api")

SCHEDULER_PATHS = ("/api/v1/scheduler", "/mesos/api/v1/scheduler")

MAX_QUEUED_BYTES = 4 * 1024 * 1024
"""Unsent events one stream may hold before it is closed as a reader that stopped."""

STREAM_ID_HEADER = "Mesos-Stream-Id"

OFFER_TIMES_KEPT = 10_000

_TERMINAL = frozenset(state.value for state in TERMINAL_STATES)

_CALL_TYPES = (
    "SUBSCRIBE",
    "TEARDOWN",
    "ACCEPT",
    "DECLINE",
    "ACCEPT_INVERSE_OFFERS",
    "DECLINE_INVERSE_OFFERS",
    "REVIVE",
    "KILL",
    "SHUTDOWN",
    "ACKNOWLEDGE",
    "ACKNOWLEDGE_OPERATION_STATUS",
    "RECONCILE",
    "RECONCILE_OPERATIONS",
    "MESSAGE",
    "REQUEST",
    "SUPPRESS",
    "UPDATE_FRAMEWORK",
)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


class Subscription:
    """One SUBSCRIBE stream: its event queue and what the framework holds (loop-only)."""

    def __init__(self, api: SchedulerApi, stream_id: str, info: p.FrameworkInfo) -> None:
        self.api = api
        self.stream_id = stream_id
        self.info = info
        self.framework_id: str | None = info.framework_id
        self.queue: deque[bytes] = deque()
        self.queued = 0
        self.wake = asyncio.Event()
        self.closed: str | None = None
        self.offers: dict[str, p.Offer] = {}
        """Offers streamed to the client and not yet used, declined or rescinded."""
        self.executors: dict[tuple[str, str], set[str]] = {}
        """(agent_id, executor_id) -> task ids, for SHUTDOWN."""
        self.executor_of: dict[str, tuple[str, str]] = {}
        """task id -> its (agent_id, executor_id), to forget it when it ends."""
        self.bridge: ActorRef | None = None
        self.transport: asyncio.BaseTransport | None = None
        self.events = 0
        self._inbox: deque[tuple[str, Any]] = deque()
        self._drain_scheduled = False

    # -- from the bridge (any thread) ---------------------------------------------

    def post(self, kind: str, payload: Any) -> None:
        """Hand one master message to the loop. A burst wakes the loop once: messages
        wait in ``_inbox`` (a deque: thread-safe appends) and one ``_drain`` takes them
        all, in order; the flag is cleared before draining, so a message appended after
        the drain's last look schedules a new drain."""
        self._inbox.append((kind, payload))
        if self._drain_scheduled:
            return
        loop = self.api.loop
        if loop is not None and not loop.is_closed():
            self._drain_scheduled = True
            loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        inbox = self._inbox
        while inbox:
            kind, payload = inbox.popleft()
            self._on_event(kind, payload)

    # -- on the loop ----------------------------------------------------------------

    def _on_event(self, kind: str, m: Any) -> None:
        if self.closed is not None:
            return
        if kind == "offers":
            m, at = m
            offers = []
            seen = self.api.offer_times
            for o in m.offers:
                self.offers[o.offer_id] = o
                seen.append((o.offer_id, at))
                offers.append(c.v1_offer(o, c.offer_role(o, self.info.roles)))
            self.push({"type": "OFFERS", "offers": {"offers": offers}})
        elif kind == "update":
            self.push({"type": "UPDATE", "update": {"status": c.v1_status(m)}})
            if m.state in _TERMINAL:
                key = self.executor_of.pop(m.task_id, None)
                if key is not None and key in self.executors:
                    self.executors[key].discard(m.task_id)
                    if not self.executors[key]:
                        del self.executors[key]
        elif kind == "rescind":
            if self.offers.pop(m.offer_id, None) is not None:
                self.push({"type": "RESCIND", "rescind": {"offer_id": {"value": m.offer_id}}})
        elif kind == "heartbeat":
            self.push({"type": "HEARTBEAT"})
        elif kind == "failure":
            for oid in [o for o, off in self.offers.items() if off.agent_id == m.agent_id]:
                self.offers.pop(oid, None)
            self.push({"type": "FAILURE", "failure": {"agent_id": {"value": m.agent_id}}})
        elif kind == "subscribed":
            self._subscribed(m)
        elif kind == "updated":
            # The master takes back a re-subscribing framework's offers without a word.
            for oid in list(self.offers):
                self.push({"type": "RESCIND", "rescind": {"offer_id": {"value": oid}}})
            self.offers.clear()
        elif kind == "error":
            if m.call in ("Subscribe", "Teardown"):
                # Refused, or removed (an operator's TEARDOWN): Mesos' ERROR, then the end.
                self.push({"type": "ERROR", "error": {"message": m.message}})
                self.close(f"the master ended the framework: {m.message}")
            else:
                # A call that raced a rescind: the task updates (TASK_DROPPED) say it.
                log.info(
                    "framework %s: master refused %s: %s", self.framework_id, m.call, m.message
                )
        elif kind == "close":
            self.close(str(m))

    def _subscribed(self, m: p.Subscribed) -> None:
        self.framework_id = m.framework_id
        self.info = c_with_id(self.info, m.framework_id)
        old = self.api.by_framework.get(m.framework_id)
        if old is not None and old is not self:
            old.close("the framework subscribed again on another stream")
        self.api.by_framework[m.framework_id] = self
        self.push(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": {"value": m.framework_id},
                    "heartbeat_interval_seconds": m.heartbeat_interval,
                    "master_info": self.api.master_info(m.master_id),
                },
            }
        )

    def push(self, event: dict[str, Any]) -> None:
        """Queue one event for the stream; past the bound, close the stream."""
        if self.closed is not None:
            return
        frame = encode_event(event)
        self.queue.append(frame)
        self.queued += len(frame)
        self.events += 1
        self.api.events_streamed += 1
        if self.queued > self.api.max_queued_bytes:
            self.queue.clear()
            self.queued = 0
            self.close(
                f"the client read too slowly: over {self.api.max_queued_bytes} bytes of events "
                "were waiting",
                abort=True,
            )
            return
        self.wake.set()

    def close(self, reason: str, *, abort: bool = False) -> None:
        """End the stream; ``abort`` also drops the connection at once, which unblocks
        a write waiting for a client that does not read."""
        if self.closed is not None:
            return
        self.closed = reason
        log.info("framework %s: stream %s closed: %s", self.framework_id, self.stream_id, reason)
        if self.api.by_framework.get(self.framework_id or "") is self:
            del self.api.by_framework[self.framework_id or ""]
        if abort:
            self.api.streams_cut += 1
            if self.transport is not None:
                self.transport.close()
        self.wake.set()


def c_with_id(info: p.FrameworkInfo, fid: str) -> p.FrameworkInfo:
    return p.FrameworkInfo(
        name=info.name,
        roles=list(info.roles),
        failover_timeout=info.failover_timeout,
        framework_id=fid,
        user=info.user,
        hostname=info.hostname,
        principal=info.principal,
    )


class SchedulerApi:
    """The scheduler endpoint of one master; ``leading`` while its service runs."""

    def __init__(
        self,
        node: Node,
        master_address: str,
        *,
        hostname: str,
        http_url: Callable[[], str],
        version: str,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
    ) -> None:
        self.node = node
        self.master_address = master_address
        self.hostname = hostname
        self.http_url = http_url
        self.version = version
        self.max_queued_bytes = max_queued_bytes
        self.loop: asyncio.AbstractEventLoop | None = None
        self.offer_times: deque[tuple[str, float]] = deque(maxlen=OFFER_TIMES_KEPT)
        """(offer id, monotonic time the bridge got it) of recent offers: the start of
        each offer's trip to its client (bench/mesos_api.py reads them)."""
        self.streams: dict[str, Subscription] = {}
        self.by_framework: dict[str, Subscription] = {}
        self.leading = False
        self._names = itertools.count(1)
        # Counters for /metrics, written on the loop only (readers copy them whole).
        self.calls: dict[tuple[str, int], int] = {}
        """(call type, HTTP status) -> calls answered."""
        self.events_streamed = 0
        self.streams_cut = 0
        """Streams closed because their client read too slowly."""
        self._master: ActorRef | None = None

    # -- leadership (the service's actor thread) ----------------------------------

    def start_leading(self) -> None:
        self._master = None
        self.leading = True

    def stop_leading(self) -> None:
        """Stop serving: every stream ends (clients reconnect to the next leader)."""
        self.leading = False
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._close_all, "this master stopped leading")

    def _close_all(self, reason: str) -> None:
        for sub in list(self.streams.values()):
            sub.close(reason)

    # -- helpers --------------------------------------------------------------------

    def master_info(self, master_id: str) -> dict[str, Any]:
        from urllib.parse import urlsplit

        u = urlsplit(self.http_url())
        return c.master_info(master_id, self.hostname, u.hostname or "", u.port or 0, self.version)

    def _master_ref(self) -> ActorRef:
        if self._master is None:
            self._master = self.node.ref(self.master_address)
        return self._master

    def tell(self, message: Any) -> None:
        self._master_ref().tell(message)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(path, self.handle) for path in SCHEDULER_PATHS]

    # -- the endpoint ---------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One call (or a SUBSCRIBE stream, answered when it ends), counted by type and
        status for ``/metrics``."""
        seen: list[str] = []
        resp = await self._handle(request, seen)
        key = (seen[0] if seen else "invalid", resp.status)
        self.calls[key] = self.calls.get(key, 0) + 1
        return resp

    async def _handle(self, request: web.Request, seen: list[str]) -> web.StreamResponse:
        """The call; its type, once known, is appended to ``seen``."""
        self.loop = asyncio.get_running_loop()
        ctype = request.headers.get("Content-Type", "")
        if not ctype:
            return _error(415, "Content-Type: required; the scheduler API takes application/json")
        if ctype.split(";")[0].strip().lower() != "application/json":
            return _error(
                415,
                f"Content-Type: {ctype!r} is not supported; this master speaks application/json",
            )
        accept = request.headers.get("Accept", "application/json")
        if "application/x-protobuf" in accept and "json" not in accept and "*/*" not in accept:
            return _error(406, f"Accept: {accept!r}: this master streams application/json only")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _error(
                413,
                f"request body of {request.content_length} bytes is larger than the limit of "
                f"{MAX_BODY_BYTES} bytes",
            )
        body = await request.read()  # a chunked body over the limit: 413 from the gateway
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            return _error(400, f"body: not a JSON object: {type(exc).__name__}: {exc}"[:300])
        if not isinstance(doc, dict):
            return _error(400, f"body: {doc!r:.60} is not a JSON object")
        kind = doc.get("type")
        if kind not in _CALL_TYPES:
            return _error(400, f"type: {kind!r:.60} is not one of {', '.join(_CALL_TYPES)}")
        seen.append(kind)
        if not self.leading:
            return web.json_response(
                {"message": "this master is not serving the scheduler API yet; retry"},
                status=503,
                headers={"Retry-After": "1"},
            )
        stream_id = request.headers.get(STREAM_ID_HEADER)
        try:
            if kind == "SUBSCRIBE":
                if stream_id:
                    raise BadCall(f"{STREAM_ID_HEADER}: SUBSCRIBE must not carry one")
                return await self._subscribe(request, doc)
            fid = c.id_value(doc.get("framework_id"), "framework_id")
            if not stream_id:
                raise BadCall(f"{STREAM_ID_HEADER}: header required on {kind} calls")
            sub = self.streams.get(stream_id)
            if sub is None or sub.closed is not None:
                return _error(403, f"{STREAM_ID_HEADER}: {stream_id!r:.60} is not an open stream")
            if sub.framework_id != fid:
                return _error(
                    403,
                    f"{STREAM_ID_HEADER}: {stream_id!r:.60} is not framework {fid!r:.60}'s stream",
                )
            self._call(sub, kind, doc)
        except BadCall as exc:
            return _error(400, str(exc))
        return web.Response(status=202)

    async def _subscribe(self, request: web.Request, doc: dict[str, Any]) -> web.StreamResponse:
        sub_doc = c._obj(doc.get("subscribe"), "subscribe")
        info = c.framework_info_from_v1(sub_doc.get("framework_info"))
        if doc.get("framework_id") is not None:
            fid = c.id_value(doc["framework_id"], "framework_id")
            if info.framework_id is not None and info.framework_id != fid:
                raise BadCall(
                    f"framework_id: {fid!r} differs from subscribe.framework_info.id "
                    f"{info.framework_id!r}"
                )
            info = c_with_id(info, fid)
        # DC/OS: registering a framework needs create on each of its roles.
        for role in info.roles or ["*"]:
            rid = f"{FRAMEWORK_ROLE_RID}:{role}"
            if not permit(request, rid, "create"):
                return forbidden(rid, "create", principal(request))
        stream_id = str(uuid.uuid4())
        sub = Subscription(self, stream_id, info)
        sub.transport = request.transport
        self.streams[stream_id] = sub
        resp = web.StreamResponse(
            status=200,
            headers={STREAM_ID_HEADER: stream_id, "Content-Type": "application/json"},
        )
        resp.enable_chunked_encoding()
        loop = asyncio.get_running_loop()
        name = f"mesos-sub-{next(self._names)}-{stream_id[:8]}"
        try:
            try:
                sub.bridge = await loop.run_in_executor(
                    None,
                    lambda: self.node.spawn(
                        Bridge, info, master=self.master_address, post=sub.post, name=name
                    ),
                )
            except RuntimeSystemError as exc:  # the node is shutting down, the master gone
                return web.json_response(
                    {"message": f"cannot subscribe now: {exc}; retry"},
                    status=503,
                    headers={"Retry-After": "1"},
                )
            await resp.prepare(request)
            await self._pump(request, sub, resp)
        finally:
            sub.close(sub.closed or "the client went away")
            self.streams.pop(stream_id, None)
            bridge, sub.bridge = sub.bridge, None
            if bridge is not None:
                # The master sees the bridge go and disconnects the framework.
                await loop.run_in_executor(None, self.node.stop, bridge)
        return resp

    async def _pump(
        self, request: web.Request, sub: Subscription, resp: web.StreamResponse
    ) -> None:
        """Write queued events until the stream closes or the client goes away."""
        try:
            while True:
                if sub.queue:
                    data = b"".join(sub.queue)
                    sub.queue.clear()
                    sub.queued = 0
                    await resp.write(data)
                    continue
                if sub.closed is not None:
                    return
                sub.wake.clear()
                try:
                    await asyncio.wait_for(sub.wake.wait(), 0.5)
                except TimeoutError:
                    transport = request.transport
                    if transport is None or transport.is_closing():
                        return
        except (ConnectionError, RuntimeError, asyncio.CancelledError) as exc:
            sub.close(f"the stream broke: {type(exc).__name__}")
            if isinstance(exc, asyncio.CancelledError):
                raise

    # -- calls (on the loop) --------------------------------------------------------

    def _call(self, sub: Subscription, kind: str, doc: dict[str, Any]) -> None:
        fid = sub.framework_id
        assert fid is not None
        if kind == "ACCEPT":
            self._accept(sub, c._obj(doc.get("accept"), "accept"))
        elif kind == "DECLINE":
            d = c._obj(doc.get("decline"), "decline")
            ids = _offer_ids(d.get("offer_ids"), "decline.offer_ids")
            refuse = _refuse_seconds(d.get("filters"), "decline.filters")
            for oid in ids:
                sub.offers.pop(oid, None)  # unknown ones: ignored, as Mesos
            self.tell(p.Decline(fid, ids, refuse))
        elif kind == "REVIVE":
            self.tell(p.Revive(fid, _roles(doc.get("revive"), "revive.roles")))
        elif kind == "SUPPRESS":
            self.tell(p.Suppress(fid, _roles(doc.get("suppress"), "suppress.roles")))
        elif kind == "KILL":
            k = c._obj(doc.get("kill"), "kill")
            self.tell(p.Kill(fid, c.id_value(k.get("task_id"), "kill.task_id")))
        elif kind == "SHUTDOWN":
            s = c._obj(doc.get("shutdown"), "shutdown")
            ex = c.id_value(s.get("executor_id"), "shutdown.executor_id")
            agent = c.id_value(s.get("agent_id"), "shutdown.agent_id")
            # pydcos runs each task as its own executor: shutting one down kills its tasks.
            for task_id in sorted(sub.executors.pop((agent, ex), set())):
                sub.executor_of.pop(task_id, None)
                self.tell(p.Kill(fid, task_id))
        elif kind == "ACKNOWLEDGE":
            a = c._obj(doc.get("acknowledge"), "acknowledge")
            self.tell(
                p.Acknowledge(
                    fid,
                    c.id_value(a.get("agent_id"), "acknowledge.agent_id"),
                    c.id_value(a.get("task_id"), "acknowledge.task_id"),
                    c.uuid_from_call(a.get("uuid"), "acknowledge.uuid"),
                )
            )
        elif kind == "RECONCILE":
            r = c._obj(doc.get("reconcile", {}), "reconcile")
            tasks = c._list(r.get("tasks", []), "reconcile.tasks")
            ids = [
                c.id_value(
                    c._obj(t, f"reconcile.tasks[{i}]").get("task_id"),
                    f"reconcile.tasks[{i}].task_id",
                )
                for i, t in enumerate(tasks)
            ]
            self.tell(p.Reconcile(fid, ids))
        elif kind == "MESSAGE":
            m = c._obj(doc.get("message"), "message")
            c.id_value(m.get("agent_id"), "message.agent_id")
            c.id_value(m.get("executor_id"), "message.executor_id")
            _base64(m.get("data"), "message.data")
            # pydcos agents run no executor process that could take it: dropped, as Mesos
            # drops a message for an executor that is not running.
            log.info("framework %s: MESSAGE to an executor dropped (no executor API)", fid)
        elif kind == "TEARDOWN":
            self.tell(p.Teardown(fid))
            sub.close("the framework tore itself down")
        elif kind == "UPDATE_FRAMEWORK":
            u = c._obj(doc.get("update_framework"), "update_framework")
            info = c.framework_info_from_v1(
                u.get("framework_info"), "update_framework.framework_info"
            )
            if info.framework_id != fid:
                raise BadCall(
                    f"update_framework.framework_info.id: {info.framework_id!r} is not {fid!r}"
                )
            sub.info = info
            if sub.bridge is not None:
                sub.bridge.tell(Resubscribe(info))
        elif kind == "REQUEST":
            c._obj(doc.get("request", {}), "request")  # Mesos' allocator ignores requests too
        else:
            raise BadCall(f"type: {kind} is not supported by this master")

    def _accept(self, sub: Subscription, a: dict[str, Any]) -> None:
        fid = sub.framework_id
        assert fid is not None
        ids = _offer_ids(a.get("offer_ids"), "accept.offer_ids")
        if not ids:
            raise BadCall("accept.offer_ids: must name at least one offer")
        if len(set(ids)) != len(ids):
            raise BadCall("accept.offer_ids: an offer is named twice")
        offers = []
        for i, oid in enumerate(ids):
            o = sub.offers.get(oid)
            if o is None:
                raise BadCall(
                    f"accept.offer_ids[{i}]: offer {oid!r} is not outstanding for framework "
                    f"{fid} (rescinded, already used, or another framework's)"
                )
            offers.append(o)
        agent = offers[0].agent_id
        if any(o.agent_id != agent for o in offers):
            spanned = sorted({o.agent_id for o in offers})
            raise BadCall(f"accept.offer_ids: offers span several agents {spanned}")
        refuse = _refuse_seconds(a.get("filters"), "accept.filters")
        free = Resources()
        for o in offers:
            free = free + Resources.from_dict(o.resources)
        tasks: list[c.LaunchedTask] = []
        storage: list[p.Operation] = []
        seen: set[str] = set()
        for i, raw in enumerate(c._list(a.get("operations", []), "accept.operations")):
            at = f"accept.operations[{i}]"
            op = c._obj(raw, at)
            kind = op.get("type")
            group = ""
            if kind in _STORAGE_OPS:  # issue 23: applied by the master, in order
                part, field = _STORAGE_OPS[kind]
                where_res = f"{at}.{part}.{field}"
                res = c.resources_from_v1(
                    c._obj(op.get(part), f"{at}.{part}").get(field), where_res
                )
                try:
                    free = apply_operation(kind, res, free)
                except ResourceError as exc:
                    raise BadCall(f"{where_res}: {exc}") from None
                storage.append(p.Operation(kind, resources=res.to_dict()))
                continue
            if kind == "LAUNCH_GROUP":
                # The agent runs the group as Mesos' default executor would; the
                # executor's own resources are checked against the offers, not charged.
                group, infos, ex_res = c.launch_group_from_v1(op, at)
                if not free.contains(ex_res):
                    raise BadCall(f"{at}.launch_group.executor.resources: exceed the offers")
                where_tasks = f"{at}.launch_group.task_group.tasks"
            elif kind != "LAUNCH":
                raise BadCall(
                    f"{at}.type: {kind!r:.40} is not supported (LAUNCH, LAUNCH_GROUP,"
                    " RESERVE, UNRESERVE, CREATE, DESTROY)"
                )
            else:
                infos = c._list(
                    c._obj(op.get("launch"), f"{at}.launch").get("task_infos"),
                    f"{at}.launch.task_infos",
                )
                where_tasks = f"{at}.launch.task_infos"
            for j, t in enumerate(infos):
                where = f"{where_tasks}[{j}]"
                lt = c.task_from_v1(t, where, group_id=group)
                if lt.task.agent_id != agent:
                    raise BadCall(
                        f"{where}.agent_id: {lt.task.agent_id!r} is not the offers' agent {agent!r}"
                    )
                if lt.task.task_id in seen:
                    raise BadCall(f"{where}.task_id: {lt.task.task_id!r} is launched twice")
                seen.add(lt.task.task_id)
                if not free.contains(lt.resources):
                    raise BadCall(
                        f"{where}.resources: {lt.resources} exceed what is left of the offers "
                        f"({free})"
                    )
                free = free - lt.resources
                tasks.append(lt)
        for oid in ids:
            sub.offers.pop(oid, None)
        if not tasks and not storage:
            self.tell(p.Decline(fid, ids, refuse))
            return
        for lt in tasks:
            sub.executors.setdefault((agent, lt.executor_id), set()).add(lt.task.task_id)
            sub.executor_of[lt.task.task_id] = (agent, lt.executor_id)
        plain = [lt.task for lt in tasks if not lt.task.group_id]
        ops = storage + ([p.Operation("LAUNCH", plain)] if plain else [])
        groups: dict[str, list[p.TaskInfo]] = {}
        for lt in tasks:
            if lt.task.group_id:
                groups.setdefault(lt.task.group_id, []).append(lt.task)
        ops += [p.Operation("LAUNCH_GROUP", members) for members in groups.values()]
        self.tell(p.Accept(fid, ids, ops, refuse))


_STORAGE_OPS = {
    "RESERVE": ("reserve", "resources"),
    "UNRESERVE": ("unreserve", "resources"),
    "CREATE": ("create", "volumes"),
    "DESTROY": ("destroy", "volumes"),
}


def _roles(value: Any, where: str) -> list[str]:
    """SUPPRESS/REVIVE ``roles`` (Mesos 1.9+); none: every role of the framework."""
    if value is None:
        return []
    roles = c._obj(value, where.rsplit(".", 1)[0]).get("roles") or []
    return [c._str(r, f"{where}[{i}]") for i, r in enumerate(c._list(roles, where))]


def _offer_ids(value: Any, where: str) -> list[str]:
    return [c.id_value(x, f"{where}[{i}]") for i, x in enumerate(c._list(value or [], where))]


def _refuse_seconds(value: Any, where: str) -> float:
    if value is None:
        return 5.0
    f = c._obj(value, where)
    if f.get("refuse_seconds") is None:
        return 5.0
    return c._num(f["refuse_seconds"], f"{where}.refuse_seconds")


def _base64(value: Any, where: str) -> bytes:
    text = c._str(value, where, empty=True)
    try:
        return base64.b64decode(text.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise BadCall(f"{where}: {text!r:.40} is not base64") from None
