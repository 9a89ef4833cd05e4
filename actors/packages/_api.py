"""Cosmos' REST API (``/package/...``, also ``/cosmos/package/...``) on the gateway.

Every operation is a POST with a Cosmos request body, answered in Cosmos' shapes and
media types (``_media.py``); errors are Cosmos error bodies ``{"type", "message",
"data"}``. The packages service is a *client* of Marathon and Metronome, as Cosmos is:
an install renders the package and POSTs the app to Marathon's own REST API on this
(leading) master, so the app is validated and deployed like any other, and ``list`` and
``uninstall`` read the labels of Marathon's apps (and Metronome's jobs) -- nothing of
an install is stored here, so nothing can drift.

```
 POST /package/install -> catalog (repositories, cached) -> options -> render -> labels
                                                                               |
   Marathon POST /marathon/v2/apps (or Metronome /v1/jobs) <-------------------+
   201 -> {"packageName", "packageVersion", "appId", "postInstallNotes"}
```

Repositories are fetched here (file:// read on an executor thread, http:// with
aiohttp, both bounded), parsed once and cached (a file until its mtime changes, an
HTTP repository for ``HTTP_TTL`` s); the list itself is the actor's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aiohttp
from aiohttp import web

from actors._validation import BadJson, parse_json_body
from actors.gateway import forward_headers
from actors.master import ServiceContext

from . import _media, _render
from ._actor import (
    PACKAGES_ACTOR,
    AddRepository,
    DeleteRepository,
    GetRepositories,
    RepositoriesReply,
)
from ._errors import (
    AmbiguousAppId,
    MalformedRequest,
    MarathonRejected,
    NotInstalled,
    PackageAlreadyInstalled,
    PackagesError,
    RepositoryError,
    RepositoryNotUniverse,
    ResourceNotFound,
    ServiceSpecInvalid,
    ServiceUnavailable,
)
from ._metrics import PackagesMetrics
from ._options import resolve_options
from ._repos import check_repository
from ._universe import Catalog, Package, describe_v1, describe_v3, list_versions, parse_repository

log = logging.getLogger("actors.packages")

PREFIXES = ("/package", "/cosmos/package")
HTTP_TTL = 30.0
"""Seconds an http(s) repository is served from cache before it is fetched again."""
TEARDOWN_WAIT = 60.0
"""Seconds an uninstall waits for Marathon to stop a framework package's scheduler
before it tears the framework down anyway."""
CAPABILITIES = ("PACKAGE_MANAGEMENT", "METRONOME")
CAPABILITIES_TYPE = "application/vnd.dcos.capabilities+json;charset=utf-8;version=v1"
MAX_REPO_BYTES = 64 * 1024 * 1024
MAX_RESOURCE_BYTES = 256 * 1024 * 1024
FETCH_TIMEOUT = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class _Cached:
    stamp: Any
    packages: list[Package]
    generation: int
    """Bumped on every (re)load: the catalog is rebuilt when one of its inputs changed."""


def _error(exc: PackagesError) -> web.Response:
    headers = {"Content-Type": _media.ERROR_TYPE}
    if exc.status == 503:
        headers["Retry-After"] = "1"  # not yet (election, start-up): clients retry
    return web.Response(status=exc.status, body=json.dumps(exc.body()).encode(), headers=headers)


def _str_field(body: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise MalformedRequest(f"{name}: {value!r} is not a non-empty string", {"field": name})
    return value


def _bool_field(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise MalformedRequest(f"{name}: {value!r} is not a boolean", {"field": name})
    return value


def _marathon_errors(body: Any) -> str:
    if not isinstance(body, dict):
        return str(body)[:300]
    msg = str(body.get("message", ""))
    details = []
    for d in body.get("details") or []:
        if isinstance(d, dict):
            errs = d.get("errors") or []
            details.append(f"{d.get('path', '/')}: {'; '.join(str(e) for e in errs)}")
    return msg + (" (" + ", ".join(details) + ")" if details else "")


class Repositories:
    """Fetches and caches repository documents (parsed)."""

    def __init__(self) -> None:
        self.cache: dict[str, _Cached] = {}
        self.loads = 0
        self.catalog_key: tuple[Any, ...] | None = None
        self.catalog: Catalog | None = None

    async def load(self, uri: str, now: float, fresh: bool = False) -> list[Package]:
        """The packages at ``uri``; ``now`` is the node clock's monotonic time (the
        age of an http(s) copy is measured with it)."""
        parts = urlsplit(uri)
        cached = self.cache.get(uri)
        loop = asyncio.get_running_loop()
        try:
            if parts.scheme == "file":
                path = unquote(parts.path)
                try:
                    st = os.stat(path)
                except OSError as exc:
                    raise RepositoryError(
                        f"repository {uri}: cannot read {path}: {exc.strerror}", {"uri": uri}
                    ) from None
                stamp: Any = (st.st_mtime_ns, st.st_size)
                if cached is not None and cached.stamp == stamp and not fresh:
                    return cached.packages
                packages = await loop.run_in_executor(None, _read_file_repo, uri, path)
            else:
                if cached is not None and not fresh and now - cached.stamp < HTTP_TTL:
                    return cached.packages
                stamp = now
                raw = await _http_get(uri, MAX_REPO_BYTES)
                packages = await loop.run_in_executor(None, _parse_bytes, uri, raw)
        except RepositoryError:
            if cached is not None and not fresh:
                log.warning("packages: repository %s unreadable, serving the last copy", uri)
                return cached.packages
            raise
        self.loads += 1
        self.cache[uri] = _Cached(stamp, packages, self.loads)
        return packages

    async def catalog_of(self, repos: list[dict[str, str]], now: float) -> Catalog:
        lists = [await self.load(r["uri"], now) for r in repos]
        key = tuple((r["uri"], self.cache[r["uri"]].generation) for r in repos)
        if self.catalog is None or key != self.catalog_key:
            self.catalog = Catalog(lists)
            self.catalog_key = key
        return self.catalog


def _parse_bytes(uri: str, raw: bytes) -> list[Package]:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise RepositoryNotUniverse(
            f"{uri} is not a Universe repository: not JSON ({exc})", {"uri": uri}
        ) from None
    return parse_repository(doc, uri)


def _read_file_repo(uri: str, path: str) -> list[Package]:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_REPO_BYTES + 1)
    except OSError as exc:
        raise RepositoryError(
            f"repository {uri}: cannot read {path}: {exc.strerror}", {"uri": uri}
        ) from None
    if len(raw) > MAX_REPO_BYTES:
        raise RepositoryError(
            f"repository {uri} is larger than {MAX_REPO_BYTES} bytes", {"uri": uri}
        )
    return _parse_bytes(uri, raw)


async def _http_get(uri: str, limit: int) -> bytes:
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as s, s.get(uri) as r:
            if r.status != 200:
                raise RepositoryError(
                    f"repository {uri} answered HTTP {r.status}", {"uri": uri, "status": r.status}
                )
            if r.content_length is not None and r.content_length > limit:
                raise RepositoryError(f"{uri} is larger than {limit} bytes", {"uri": uri})
            raw = await r.content.read(limit + 1)
            if len(raw) > limit:
                raise RepositoryError(f"{uri} is larger than {limit} bytes", {"uri": uri})
            return raw
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise RepositoryError(
            f"repository {uri} is unreachable: {type(exc).__name__}: {exc}", {"uri": uri}
        ) from None


def _check_sdk_spec(package: str, app: dict[str, Any]) -> None:
    """An SDK service whose spec is invalid with these options is refused at install,
    naming the YAML path (issue 28)."""
    from actors.sdk import check_scheduler_app

    found = check_scheduler_app(app)
    if found is not None:
        path, err = found
        raise ServiceSpecInvalid(
            f"package [{package}]: service spec {path.name}: {err}",
            {"packageName": package, "path": err.path, "spec": str(path)},
        )


class PackagesApi:
    """The handlers; ``routes()`` lists them under every prefix."""

    def __init__(
        self,
        ctx: ServiceContext,
        repositories: Repositories,
        timeout: float = 15.0,
        metrics: PackagesMetrics | None = None,
    ) -> None:
        self.ctx = ctx
        self.repositories = repositories
        self.timeout = timeout
        self.metrics = metrics or PackagesMetrics()
        self._background: set[asyncio.Future[None]] = set()
        self.cluster_scope: Callable[[], dict[str, Any]] = dict
        """The ``pydcos`` template scope (set by the service: SDK schedulers need it)."""

    # -- plumbing ---------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        ops: list[tuple[str, Callable[[dict[str, Any], str], Awaitable[Any]]]] = [
            ("search", self.search),
            ("describe", self.describe),
            ("list-versions", self.list_versions),
            ("render", self.render),
            ("install", self.install),
            ("uninstall", self.uninstall),
            ("list", self.list),
            ("repository.list", self.repository_list),
            ("repository.add", self.repository_add),
            ("repository.delete", self.repository_delete),
        ]
        out = []
        for prefix in PREFIXES:
            for op, fn in ops:
                out.append(web.post(f"{prefix}/{op.replace('.', '/')}", self._operation(op, fn)))
            out.append(web.get(f"{prefix}/resource", self.resource))
        out.append(web.get("/capabilities", self.capabilities))
        out.append(web.get("/cosmos/capabilities", self.capabilities))
        return out

    async def capabilities(self, request: web.Request) -> web.StreamResponse:
        """``GET /capabilities``: what this cluster's Cosmos offers (the DC/OS CLI asks it
        before any ``package`` command). Static, so every master answers it."""
        return web.Response(
            body=json.dumps({"capabilities": [{"name": c} for c in CAPABILITIES]}).encode(),
            headers={"Content-Type": CAPABILITIES_TYPE},
        )

    def _operation(self, op: str, fn: Callable[[dict[str, Any], str], Awaitable[Any]]) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            started = self.ctx.node.clock.now()
            try:
                _media.check_content_type(op, request.headers.get("Content-Type"))
                version = _media.negotiate(op, request.headers.get("Accept"))
                body = await self._body(request)
                doc = await fn(body, version)
            except PackagesError as exc:
                self.metrics.request(op, exc.status, self.ctx.node.clock.now() - started)
                return _error(exc)
            self.metrics.request(op, 200, self.ctx.node.clock.now() - started)
            return web.Response(
                body=json.dumps(doc).encode(),
                headers={"Content-Type": _media.response_type(op, version)},
            )

        return handle

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = parse_json_body(raw)
        except BadJson as exc:
            raise MalformedRequest(
                f"request body is not valid JSON at {exc.path}: {exc.reason}"
            ) from None
        if not isinstance(body, dict):
            raise MalformedRequest(f"request body must be a JSON object, got {type(body).__name__}")
        return body

    async def _ask(self, message: Any) -> RepositoriesReply:
        def call() -> RepositoriesReply:
            reply: RepositoriesReply = self.ctx.node.ref(PACKAGES_ACTOR).ask(
                message, timeout=self.timeout
            )
            return reply

        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(None, call)
        except Exception as exc:
            raise ServiceUnavailable(
                f"the packages service is not running on this master yet: {exc}"
            ) from None
        if reply.error is not None:
            err = PackagesError(reply.error["message"], reply.error.get("data"))
            err.type = reply.error["type"]
            err.status = reply.status
            raise err
        return reply

    async def _catalog(self) -> Catalog:
        reply = await self._ask(GetRepositories())
        catalog = await self.repositories.catalog_of(
            list(reply.repositories), self.ctx.node.clock.now()
        )
        self.metrics.catalog_packages = sum(len(v) for v in catalog.by_name.values())
        return catalog

    async def _service(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """Marathon's or Metronome's REST on this master's own gateway."""
        url = self.ctx.http_url.rstrip("/") + path
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as s,
                s.request(
                    method,
                    url,
                    json=body,
                    params=query,
                    allow_redirects=False,
                    headers=forward_headers(),  # as the caller (auth), as DC/OS' Cosmos
                ) as r,
            ):
                raw = await r.read()
                try:
                    doc = json.loads(raw) if raw else None
                except ValueError:
                    doc = raw.decode(errors="replace")
                return r.status, doc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ServiceUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from None

    # -- catalog operations -----------------------------------------------------------

    async def search(self, body: dict[str, Any], version: str) -> Any:
        query = body.get("query", "")
        if query is None:
            query = ""
        if not isinstance(query, str):
            raise MalformedRequest(f"query: {query!r} is not a string", {"field": "query"})
        catalog = await self._catalog()
        return {"packages": catalog.search(query)}

    async def describe(self, body: dict[str, Any], version: str) -> Any:
        name = _str_field(body, "packageName")
        assert name is not None
        pkg = (await self._catalog()).select(name, _str_field(body, "packageVersion", False))
        if version == "v1":
            return describe_v1(pkg)
        if version == "v2":  # v2 is the bare package definition (the dcos library reads it so)
            return describe_v3(pkg)["package"]
        return describe_v3(pkg)

    async def list_versions(self, body: dict[str, Any], version: str) -> Any:
        name = _str_field(body, "packageName")
        assert name is not None
        _bool_field(body, "includePackageVersions")
        return list_versions((await self._catalog()).versions(name))

    async def _prepare(
        self, body: dict[str, Any]
    ) -> tuple[Package, dict[str, Any], dict[str, Any], str]:
        """(package, user options, the rendered doc, "marathon"|"metronome")."""
        name = _str_field(body, "packageName")
        assert name is not None
        pkg = (await self._catalog()).select(name, _str_field(body, "packageVersion", False))
        app_id = _str_field(body, "appId", False)
        user = body.get("options")
        options = resolve_options(pkg.name, pkg.config, user)
        user_options = dict(user or {})
        if pkg.marathon_template is None and pkg.metronome_template is not None:
            return (
                pkg,
                user_options,
                _render.build_job(pkg, options, user_options, app_id),
                "metronome",
            )
        app = _render.build_app(pkg, options, user_options, app_id, self.cluster_scope())
        _check_sdk_spec(pkg.name, app)
        return pkg, user_options, app, "marathon"

    async def render(self, body: dict[str, Any], version: str) -> Any:
        _, _, doc, kind = await self._prepare(body)
        return {"metronomeJson": doc} if kind == "metronome" else {"marathonJson": doc}

    async def install(self, body: dict[str, Any], version: str) -> Any:
        pkg, _, doc, kind = await self._prepare(body)
        if kind == "metronome":
            status, answer = await self._service("POST", "/service/metronome/v1/jobs", doc)
            installed_id = str(doc.get("id", ""))
        elif _render.is_group(doc):
            status, answer = await self._service("POST", "/marathon/v2/groups", doc)
            installed_id = _render.service_id(doc)
        else:
            status, answer = await self._service("POST", "/marathon/v2/apps", doc)
            installed_id = _render.service_id(doc)
        if status == 409:
            raise PackageAlreadyInstalled(
                f"Package [{pkg.name}] is already installed as [{installed_id}]: give another "
                "service.name (or appId) to install a second instance",
                {"packageName": pkg.name, "appId": installed_id},
            )
        if status in (400, 422):
            where, what = ("Metronome", "job") if kind == "metronome" else ("Marathon", "app")
            what = "group" if kind == "marathon" and _render.is_group(doc) else what
            raise MarathonRejected(
                f"package [{pkg.name}] rendered an invalid {what}: "
                f"{where} said: {_marathon_errors(answer)}",
                {"packageName": pkg.name, "errors": answer},
            )
        if status >= 300:
            raise ServiceUnavailable(
                f"installing [{pkg.name}]: HTTP {status}: {_marathon_errors(answer)}",
                {"packageName": pkg.name, "status": status},
            )
        log.info("packages: installed %s %s as %s", pkg.name, pkg.version, installed_id)
        self.metrics.installed(pkg.name)
        out: dict[str, Any] = {
            "packageName": pkg.name,
            "packageVersion": pkg.version,
            "appId": installed_id,
        }
        if version == "v1":
            return out
        notes = pkg.definition.get("postInstallNotes")
        if notes:
            out["postInstallNotes"] = notes
        cli = pkg.resource.get("cli")
        if cli:
            out["cli"] = cli
        return out

    # -- installed packages (Marathon's and Metronome's state alone) ------------------

    async def _installed(self) -> list[dict[str, Any]]:
        out = []
        status, doc = await self._service("GET", "/marathon/v2/apps")
        if status != 200 or not isinstance(doc, dict):
            raise ServiceUnavailable(f"Marathon answered HTTP {status} listing apps")
        groups: set[str] = set()
        for app in doc.get("apps", []):
            entry = _render.installation(app, "marathon")
            if entry is None:
                continue
            if entry["kind"] == "group":  # one installation per group, not per app
                if entry["appId"] in groups:
                    continue
                groups.add(entry["appId"])
            entry["labels"] = app.get("labels") or {}
            out.append(entry)
        status, jobs = await self._service("GET", "/service/metronome/v1/jobs")
        if status == 200 and isinstance(jobs, list):
            for job in jobs:
                entry = _render.installation(job, "metronome")
                if entry is not None:
                    entry["labels"] = job.get("labels") or {}
                    out.append(entry)
        out.sort(key=lambda e: e["appId"])
        return out

    async def list(self, body: dict[str, Any], version: str) -> Any:
        name = _str_field(body, "packageName", False)
        app_id = _str_field(body, "appId", False)
        packages = []
        for e in await self._installed():
            if (
                name is not None
                and e["packageInformation"]["packageDefinition"].get("name") != name
            ):
                continue
            if app_id is not None and e["appId"].strip("/") != app_id.strip("/"):
                continue
            packages.append({"appId": e["appId"], "packageInformation": e["packageInformation"]})
        return {"packages": packages}

    async def uninstall(self, body: dict[str, Any], version: str) -> Any:
        name = _str_field(body, "packageName")
        assert name is not None
        app_id = _str_field(body, "appId", False)
        remove_all = _bool_field(body, "all")
        installed = await self._installed()
        found = [
            e
            for e in installed
            if e["labels"].get(_render.NAME) == name
            and (app_id is None or e["appId"].strip("/") == app_id.strip("/"))
        ]
        if not found:
            what = f" with appId [{app_id}]" if app_id else ""
            raise NotInstalled(
                f"Package [{name}]{what} is not installed", {"packageName": name, "appId": app_id}
            )
        if len(found) > 1 and not remove_all:
            ids = ", ".join(e["appId"] for e in found)
            raise AmbiguousAppId(
                f"Multiple apps named [{name}] are installed: [{ids}]; give appId or all",
                {"packageName": name, "appIds": [e["appId"] for e in found]},
            )
        still_named = {  # frameworks that installed apps other than these still run
            e["labels"][_render.FRAMEWORK_NAME]
            for e in installed
            if _render.FRAMEWORK_NAME in e["labels"] and all(e is not f for f in found)
        }
        results = []
        for e in found:
            if e["kind"] == "metronome":
                path = f"/service/metronome/v1/jobs/{quote(e['appId'])}"
                status, answer = await self._service(
                    "DELETE", path, query={"stopCurrentJobRuns": "true"}
                )
            elif e["kind"] == "group":
                path = f"/marathon/v2/groups/{quote(e['appId'].strip('/'))}"
                status, answer = await self._service("DELETE", path, query={"force": "true"})
            else:
                path = f"/marathon/v2/apps/{quote(e['appId'].strip('/'))}"
                status, answer = await self._service("DELETE", path, query={"force": "true"})
            if status >= 300 and status != 404:
                raise ServiceUnavailable(
                    f"uninstalling [{name}] {e['appId']}: HTTP {status}: {_marathon_errors(answer)}"
                )
            if e["kind"] != "metronome" and e["labels"].get(_render.FRAMEWORK_NAME):
                # Torn down once Marathon has stopped the scheduler: a teardown while it
                # still runs would see it subscribe again as a new framework.
                work = self._teardown_when_gone(path, e["appId"], e["labels"], still_named)
                self._later(work)
            metadata = e["packageInformation"]["packageDefinition"]
            result = {
                "packageName": name,
                "appId": e["appId"],
                "packageVersion": e["labels"].get(_render.VERSION, metadata.get("version")),
            }
            if metadata.get("postUninstallNotes"):
                result["postUninstallNotes"] = metadata["postUninstallNotes"]
            results.append(result)
        return {"results": results}

    def _later(self, work: Awaitable[None]) -> None:
        """Run ``work`` after this request has answered, keeping it referenced."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _teardown_when_gone(
        self, path: str, app_id: str, labels: dict[str, str], still_named: set[str]
    ) -> None:
        """Tear the package's framework down once Marathon no longer has its scheduler
        app (its tasks killed), or after ``TEARDOWN_WAIT`` seconds whatever happens."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TEARDOWN_WAIT
        while loop.time() < deadline:
            try:
                if await self._gone(path, app_id):
                    break
            except Exception as exc:  # Marathon busy or failing over: ask again
                log.debug("packages: waiting for %s to go: %s", path, exc)
            await asyncio.sleep(0.2)
        try:
            await self._teardown(labels, still_named)
        except Exception:
            log.exception("packages: tearing down the framework of %s failed", path)

    async def _gone(self, path: str, app_id: str) -> bool:
        """Marathon no longer has the app (or group) AND no deployment still stops it:
        the app disappears from ``/v2/apps`` when its removal starts, while its tasks
        (the scheduler) are still being killed."""
        status, _ = await self._service("GET", path)
        if status != 404:
            return False
        status, deployments = await self._service("GET", "/marathon/v2/deployments")
        if status != 200 or not isinstance(deployments, list):
            return False
        prefix = app_id.rstrip("/") + "/"
        for d in deployments:
            for affected in d.get("affectedApps", []) if isinstance(d, dict) else []:
                if affected == app_id or str(affected).startswith(prefix):
                    return False
        return True

    async def _teardown(self, labels: dict[str, str], still_named: set[str]) -> None:
        """A framework package's framework is torn down once its scheduler app is gone
        (Cosmos does it through the master's ``/teardown``); see
        ``frameworks_to_teardown`` for the ones that never are."""
        framework = labels.get(_render.FRAMEWORK_NAME, "")
        if not framework:
            return
        from actors.protocol import Teardown

        status, state = await self._service("GET", "/mesos/master/frameworks")
        if status != 200 or not isinstance(state, dict):
            return
        for fid in _render.frameworks_to_teardown(
            framework, list(state.get("frameworks", [])), still_named
        ):
            try:
                await self.ctx.gateway.ask_master(Teardown(fid))
                log.info("packages: framework %s (%s) torn down", framework, fid)
            except Exception as exc:
                log.warning("packages: teardown of %s failed: %s", framework, exc)
        if framework not in still_named:
            await self._sdk_cleanup(framework)

    async def _sdk_cleanup(self, service: str) -> None:
        """An SDK service's volumes and reservations, and its scheduler's ZooKeeper
        state, go with it (dcos-commons' uninstall plan), through the operator API;
        retried while its killed tasks still hold them. Nothing for other frameworks."""
        from actors.sdk import STATE_ROOT, cleanup_calls

        loop = asyncio.get_running_loop()
        deadline = loop.time() + TEARDOWN_WAIT
        while True:
            status, slaves = await self._service("GET", "/mesos/master/slaves")
            calls = cleanup_calls(slaves, service) if status == 200 else None
            if calls == []:
                break
            for call in calls or []:
                code, answer = await self._service("POST", "/mesos/api/v1", body=call)
                if code >= 300:
                    log.info("packages: %s of %s: HTTP %s %s", call["type"], service, code, answer)
                    break
            if loop.time() > deadline:
                log.warning("packages: reservations of %s left after %ss", service, TEARDOWN_WAIT)
                break
            await asyncio.sleep(1.0)
        zk = self.ctx.zk
        if zk is not None:
            from kazoo.exceptions import NoNodeError

            def delete() -> None:
                try:
                    zk.delete(f"{STATE_ROOT}/{service}", recursive=True)
                except NoNodeError:
                    pass

            await loop.run_in_executor(None, delete)
        log.info("packages: %s's reservations, volumes and state removed", service)

    # -- repositories -----------------------------------------------------------------

    async def repository_list(self, body: dict[str, Any], version: str) -> Any:
        return {"repositories": list((await self._ask(GetRepositories())).repositories)}

    async def repository_add(self, body: dict[str, Any], version: str) -> Any:
        name, uri = check_repository(body.get("name"), body.get("uri"))
        index = body.get("index")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            raise MalformedRequest(f"index: {index!r} is not an integer", {"field": "index"})
        await self.repositories.load(
            uri, self.ctx.node.clock.now(), fresh=True
        )  # unreachable or not Universe: refused
        reply = await self._ask(AddRepository(name, uri, index))
        return {"repositories": list(reply.repositories)}

    async def repository_delete(self, body: dict[str, Any], version: str) -> Any:
        name = _str_field(body, "name", False)
        uri = _str_field(body, "uri", False)
        reply = await self._ask(DeleteRepository(name, uri))
        return {"repositories": list(reply.repositories)}

    # -- assets -----------------------------------------------------------------------

    async def resource(self, request: web.Request) -> web.StreamResponse:
        """``GET /package/resource?url=U``: an asset a package of the configured
        repositories names, served by the cluster (and only those: no open proxy)."""
        try:
            url = request.query.get("url")
            if not url:
                raise MalformedRequest("query parameter url is required", {"field": "url"})
            catalog = await self._catalog()
            if url not in catalog.asset_uris():
                raise ResourceNotFound(
                    f"url {url!r} is not a resource of any package in the configured repositories",
                    {"url": url},
                )
            parts = urlsplit(url)
            if parts.scheme == "file":
                path = unquote(parts.path)
                if not os.path.isfile(path):
                    raise ResourceNotFound(f"resource {url!r}: no such file", {"url": url})
                return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})
            try:
                raw = await _http_get(url, MAX_RESOURCE_BYTES)
            except RepositoryError as exc:
                raise ResourceNotFound(exc.message, {"url": url}) from None
            return web.Response(body=raw, content_type="application/octet-stream")
        except PackagesError as exc:
            return _error(exc)
