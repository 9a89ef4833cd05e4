"""Metronome's v1 REST API on the master's aiohttp gateway (Metronome's shapes).

Mounted twice, under ``/metronome`` and ``/service/metronome`` (DC/OS Admin Router
paths). Reads come from the immutable view the actor publishes after each write (built
on an executor thread when large); writes are validated here (pure code) and sent to
the actor as a `Command` carrying a future that the actor completes only after the
change is in ZooKeeper: a 201/200 always reports a persisted change. Nothing here
blocks the event loop.

Errors: malformed JSON -> 400 ``{"message"}``; invalid job/schedule -> 422 in
Metronome's ``{"message": "Object is not valid", "details": [{"path", "errors"}]}``;
unknown job -> 404 ``{"message": "Job 'x' does not exist"}``; duplicates and DELETE
with active runs -> 409; no Metronome running on this (leading) master -> 503.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from actors._validation import BadJson, parse_json_body
from actors.gateway import forbidden, permit, principal, reader

from ._actor import Command
from ._errors import MetronomeError, ValidationFailed
from ._job import JobSpec
from ._schedule import ScheduleSpec
from ._view import EMBEDS, JobEntry, MetronomeView, ViewBoard

PREFIXES = ("/metronome", "/service/metronome")
VERSION = "0.1.0"
LIB_VERSION = "pydcos-0.1.0"
_EMBED_ORDER = {name: i for i, name in enumerate(EMBEDS)}


class _Reply(MetronomeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _json(status: int, body: Any) -> web.Response:
    if body is None:
        return web.Response(status=status)
    return web.json_response(body, status=status)


def _message(status: int, message: str) -> _Reply:
    return _Reply(status, {"message": message})


JOBS_RID = "dcos:service:metronome:metronome:jobs"
"""DC/OS Metronome's resource: ``<JOBS_RID>:<job-group>/<job-name>``."""


def job_rid(job_id: str) -> str:
    """Job id -> its resource, dots as path separators (``team-a.backup`` ->
    ``...:jobs:team-a/backup``)."""
    return f"{JOBS_RID}:{job_id.replace('.', '/')}" if job_id else JOBS_RID


def job_rids(job_id: str) -> tuple[str, ...]:
    """The job's resource, then its groups' (``...:jobs:team-a/backup``,
    ``...:jobs:team-a``): a grant on a job group covers the jobs in it, as DC/OS."""
    parts = [p for p in job_id.split(".") if p]
    return tuple(job_rid(".".join(parts[:i])) for i in range(len(parts), 0, -1)) or (JOBS_RID,)


def may(request: web.Request, job_id: str, action: str, *, audit: bool = True) -> bool:
    """Whether the caller may ``action`` job ``job_id`` (True with auth off); a refusal
    is audited once, on the job's own resource (unless ``audit`` is False)."""
    rids = job_rids(job_id)
    if any(permit(request, rid, action, audit=False) for rid in rids):
        return True
    return permit(request, rids[0], action, audit=audit)


def _need(request: web.Request, job_id: str, action: str) -> None:
    """Raise the 403 (JSON naming resource and action) unless the caller may."""
    if not may(request, job_id, action):
        rid = job_rid(job_id)
        denied = forbidden(rid, action, principal(request))
        raise _Reply(403, json.loads(denied.text or "{}"))


class MetronomeApi:
    """The handlers; ``routes()`` gives them for every prefix."""

    def __init__(
        self,
        board: ViewBoard,
        *,
        clock: Callable[[], float],
        timeout: float = 15.0,
        large: int = 200,
        now: Callable[[], float] | None = None,
    ) -> None:
        """``clock`` is the wall clock (epoch seconds) schedules are rendered at;
        ``now`` the node clock's ``now`` (the actor's) that times a command's hops."""
        self.board = board
        self.clock = clock
        self.now = now
        self.timeout = timeout
        self.large = large
        """Job lists longer than this are rendered on an executor thread."""

    # -- plumbing ---------------------------------------------------------------------

    def routes(self, prefixes: tuple[str, ...] = PREFIXES) -> list[web.RouteDef]:
        table = [
            ("GET", "/ping", self.ping),
            ("GET", "/info", self.info),
            ("GET", "/v1/quarantine", self.quarantine),
            ("GET", "/v1/metrics", self.metrics),
            ("GET", "/v1/jobs", self.list_jobs),
            ("POST", "/v1/jobs", self.create_job),
            ("GET", "/v1/jobs/{job_id}", self.get_job),
            ("PUT", "/v1/jobs/{job_id}", self.update_job),
            ("DELETE", "/v1/jobs/{job_id}", self.delete_job),
            ("GET", "/v1/jobs/{job_id}/schedules", self.list_schedules),
            ("POST", "/v1/jobs/{job_id}/schedules", self.create_schedule),
            ("GET", "/v1/jobs/{job_id}/schedules/{schedule_id}", self.get_schedule),
            ("PUT", "/v1/jobs/{job_id}/schedules/{schedule_id}", self.update_schedule),
            ("DELETE", "/v1/jobs/{job_id}/schedules/{schedule_id}", self.delete_schedule),
            ("GET", "/v1/jobs/{job_id}/runs", self.list_runs),
            ("POST", "/v1/jobs/{job_id}/runs", self.start_run),
            ("GET", "/v1/jobs/{job_id}/runs/{run_id}", self.get_run),
            ("POST", "/v1/jobs/{job_id}/runs/{run_id}/actions/stop", self.stop_run),
        ]
        out = []
        for prefix in prefixes:
            for method, path, handler in table:
                out.append(web.route(method, prefix + path, self._wrap(handler)))
        return out

    def _wrap(self, handler: Callable[[web.Request], Any]) -> Any:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                result: web.StreamResponse = await handler(request)
                return result
            except _Reply as reply:
                return _json(reply.status, reply.body)
            except ValidationFailed as exc:
                return _json(422, exc.body)

        return run

    def _view(self) -> MetronomeView:
        view = self.board.view
        if view is None:
            raise _message(503, "Metronome is not running on this master yet; retry")
        return view

    def _entry(self, request: web.Request, action: str = "read") -> JobEntry:
        job_id = request.match_info["job_id"]
        _need(request, job_id, action)
        entry = self._view().get(job_id)
        if entry is None:
            raise _message(404, f"Job '{job_id}' does not exist")
        return entry

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            return parse_json_body(raw or b"null")
        except BadJson as exc:
            # Finite numbers only and bounded nesting (issue 30), naming the field.
            raise _Reply(
                400,
                {
                    "message": f"Invalid JSON: {exc}",
                    "details": [{"path": exc.path, "errors": [exc.reason]}],
                },
            ) from None

    async def _command(self, op: str, *args: Any) -> web.Response:
        actor = self.board.actor
        if actor is None or self.board.view is None:
            raise _message(503, "Metronome is not running on this master yet; retry")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[int, Any]] = loop.create_future()
        sent = self.now() if self.now is not None else None
        actor.tell(Command(op, args, fut, loop, sent))  # completed on this loop, see Command
        try:
            status, body = await asyncio.wait_for(fut, self.timeout)
        except TimeoutError:
            raise _message(503, f"Metronome did not answer within {self.timeout} s") from None
        if sent is not None and status < 300 and self.now is not None:
            took = self.now() - sent
            hop = self.board.http_hop
            us = round(1e6 * took)
            hop[0] += 1
            hop[1] += us
            hop[2] = max(hop[2], us)
            hop[3] += took > 0.020
        return _json(status, body)

    @staticmethod
    def _embeds(request: web.Request) -> tuple[str, ...]:
        """Repeated ``embed`` parameters (and comma lists), in a canonical order."""
        found: set[str] = set()
        for raw in request.query.getall("embed", []):
            for name in raw.split(","):
                name = name.strip()
                if not name:
                    continue
                if name not in _EMBED_ORDER:
                    raise _message(
                        400,
                        f"query parameter embed: unknown value {name!r}; use {', '.join(EMBEDS)}",
                    )
                found.add(name)
        return tuple(sorted(found, key=_EMBED_ORDER.__getitem__))

    # -- general ------------------------------------------------------------------------

    async def ping(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="pong")

    async def info(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"version": VERSION, "libVersion": LIB_VERSION})

    async def quarantine(self, request: web.Request) -> web.StreamResponse:
        """pydcos: job documents the leader refused to load (kept, left alone)."""
        _need(request, "", "read")  # stored documents of every job: the whole tree
        return await self._command("quarantine")

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        return await self._command("metrics")

    # -- jobs ---------------------------------------------------------------------------

    async def list_jobs(self, request: web.Request) -> web.StreamResponse:
        embeds = self._embeds(request)
        view = self._view()
        now = self.clock()
        if len(view.entries) > self.large:
            loop = asyncio.get_running_loop()
            body = await loop.run_in_executor(None, view.jobs_bytes, embeds, now)
        else:
            body = view.jobs_bytes(embeds, now)
        if reader(request, job_rid) is not None:  # only the jobs the caller may read
            jobs = [
                j
                for j in json.loads(body)
                if may(request, str(j.get("id", "")), "read", audit=False)
            ]
            body = json.dumps(jobs).encode()
        return web.Response(body=body, content_type="application/json")

    async def get_job(self, request: web.Request) -> web.StreamResponse:
        embeds = self._embeds(request)
        entry = self._entry(request)
        body = entry.api_bytes(embeds, self.clock())
        return web.Response(body=body, content_type="application/json")

    async def create_job(self, request: web.Request) -> web.StreamResponse:
        job = JobSpec.from_json(await self._body(request))
        _need(request, job.id, "create")
        return await self._command("create_job", job)

    async def update_job(self, request: web.Request) -> web.StreamResponse:
        job_id = request.match_info["job_id"]
        _need(request, job_id, "update")
        data = await self._body(request)
        if isinstance(data, dict):
            data = {**data, "id": job_id}  # Metronome: the path names the job
        job = JobSpec.from_json(data)
        return await self._command("update_job", job)

    async def delete_job(self, request: web.Request) -> web.StreamResponse:
        raw = request.query.get("stopCurrentJobRuns", "false").lower()
        if raw not in ("true", "false"):
            raise _message(400, f"query parameter stopCurrentJobRuns: {raw!r} is not a boolean")
        _need(request, request.match_info["job_id"], "delete")
        return await self._command("delete_job", request.match_info["job_id"], raw == "true")

    # -- schedules ------------------------------------------------------------------------

    async def list_schedules(self, request: web.Request) -> web.StreamResponse:
        entry = self._entry(request)
        return web.json_response(entry.schedules_json(self.clock()))

    async def get_schedule(self, request: web.Request) -> web.StreamResponse:
        entry = self._entry(request)
        sid = request.match_info["schedule_id"]
        for rendered in entry.schedules_json(self.clock()):
            if rendered["id"] == sid:
                return web.json_response(rendered)
        raise _message(404, f"Schedule '{sid}' does not exist")

    async def create_schedule(self, request: web.Request) -> web.StreamResponse:
        job_id = request.match_info["job_id"]
        _need(request, job_id, "update")
        spec = ScheduleSpec.from_json(await self._body(request))
        return await self._command("create_schedule", job_id, spec)

    async def update_schedule(self, request: web.Request) -> web.StreamResponse:
        job_id = request.match_info["job_id"]
        sid = request.match_info["schedule_id"]
        _need(request, job_id, "update")
        data = await self._body(request)
        if isinstance(data, dict):
            data = {**data, "id": sid}
        spec = ScheduleSpec.from_json(data)
        return await self._command("update_schedule", job_id, spec)

    async def delete_schedule(self, request: web.Request) -> web.StreamResponse:
        _need(request, request.match_info["job_id"], "update")
        return await self._command(
            "delete_schedule", request.match_info["job_id"], request.match_info["schedule_id"]
        )

    # -- runs -----------------------------------------------------------------------------

    async def list_runs(self, request: web.Request) -> web.StreamResponse:
        entry = self._entry(request)
        return web.json_response([entry.run_json(r) for r in entry.runs])

    async def get_run(self, request: web.Request) -> web.StreamResponse:
        entry = self._entry(request)
        run_id = request.match_info["run_id"]
        run = entry.run(run_id) or entry.finished_run(run_id)
        if run is None:
            raise _message(404, f"Job Run '{run_id}' does not exist")
        return web.json_response(entry.run_json(run))

    async def start_run(self, request: web.Request) -> web.StreamResponse:
        await request.read()  # Metronome takes no body here; ignore one if sent
        _need(request, request.match_info["job_id"], "update")
        return await self._command("start_run", request.match_info["job_id"])

    async def stop_run(self, request: web.Request) -> web.StreamResponse:
        _need(request, request.match_info["job_id"], "update")
        return await self._command(
            "stop_run", request.match_info["job_id"], request.match_info["run_id"]
        )
