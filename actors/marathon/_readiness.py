"""Readiness checks (Marathon's ``readinessChecks``): the definition, its validation,
and which instances a deployment still checks, when, and what an answer means.

A readiness check is a temporary probe that only runs during deployments (start,
scale, restart): a new instance counts toward its deployment step once it is RUNNING,
healthy when the app has health checks, AND its check answered one of
``httpStatusCodesForReady``. A rolling upgrade kills an old instance only for a new
one that is ready (``_upgrade.NewTaskHealthy`` is sent for "ready", see ``_core.py``).
Once an instance is ready it is never checked again; the results live with the
deployment step and go away with it.

Marathon runs the checks itself (``ReadinessCheckExecutor``), not the agent: so does
pydcos. This module decides (pure, ``now`` passed in); the core emits
``CheckReadiness(task_id, url, timeout...)`` and the actor shell performs the GET off
the actor thread (HTTPS without certificate verification, as Marathon) and feeds back
``ReadinessResult``. Like Marathon, nothing here is persisted: after a leader failover
an instance on the new config that is not yet known ready is checked again.

Checks of one instance are serial: the first as soon as the instance runs, the next
``intervalSeconds`` after the previous answer (Marathon's ``serialChecksIterator``).
A failed request (refused, timed out) reads as Marathon's 504 text/plain "Marathon
could not query <url>: <error>", which is never ready.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from actors._validation import MAX_SECONDS


class _Named(Protocol):
    @property
    def name(self) -> str | None: ...


class _Container(Protocol):
    @property
    def port_mappings(self) -> Sequence[_Named]: ...


class AppDefinition(Protocol):
    """What this module reads of an app (``_app.AppDefinition``, which imports this
    module: a structural type keeps the import graph acyclic)."""

    @property
    def id(self) -> str: ...
    @property
    def container(self) -> _Container | None: ...
    @property
    def port_definitions(self) -> Sequence[_Named]: ...
    @property
    def readiness_checks(self) -> tuple[ReadinessCheck, ...]: ...


class Instance(Protocol):
    """What this module reads of an instance (``_instances.Instance``)."""

    @property
    def task_id(self) -> str: ...
    @property
    def ports(self) -> list[int]: ...
    @property
    def ip(self) -> str: ...
    @property
    def host(self) -> str: ...


DEFAULT_NAME = "readinessCheck"
DEFAULT_PROTOCOL = "HTTP"
DEFAULT_PATH = "/"
DEFAULT_PORT_NAME = "http-api"
DEFAULT_INTERVAL_SECONDS = 30
DEFAULT_TIMEOUT_SECONDS = 10
DEFAULT_STATUS_CODES = (200,)
MAX_READINESS_CHECKS = 1
"""Marathon: ``app.readinessChecks.size should be <= 1``."""
BODY_LIMIT = 16 * 1024
"""Bytes of a response body kept for ``lastResponse`` (Marathon keeps it all; a
deployment document stays small this way)."""
LOST_AFTER_SECONDS = 5.0
"""An answer not back ``timeoutSeconds`` + this after the request is taken as lost
(the shell always answers; this only guards against a lost message)."""

READINESS_CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "protocol": {"type": "string", "enum": ["HTTP", "HTTPS"]},
        "path": {"type": "string", "minLength": 1, "maxLength": 1024},
        "portName": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "intervalSeconds": {"type": "integer", "minimum": 0, "maximum": MAX_SECONDS},
        "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": MAX_SECONDS},
        "httpStatusCodesForReady": {
            "type": "array",
            "minItems": 1,
            "maxItems": 900,
            "uniqueItems": True,
            "items": {"type": "integer", "minimum": 100, "maximum": 999},
        },
        "preserveLastResponse": {"type": "boolean"},
    },
}
"""Marathon's RAML ``ReadinessCheck`` (types/readinessCheck.raml) as JSON schema."""


@dataclass(frozen=True)
class ReadinessCheck:
    """One readiness check with Marathon's defaults (``core.readiness.ReadinessCheck``)."""

    name: str = DEFAULT_NAME
    protocol: str = DEFAULT_PROTOCOL
    path: str = DEFAULT_PATH
    port_name: str = DEFAULT_PORT_NAME
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    http_status_codes_for_ready: tuple[int, ...] = DEFAULT_STATUS_CODES
    preserve_last_response: bool = False

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ReadinessCheck:
        """``raw`` passed ``READINESS_CHECK_SCHEMA``; missing fields get the defaults."""
        codes = raw.get("httpStatusCodesForReady")
        return cls(
            name=raw.get("name", DEFAULT_NAME),
            protocol=raw.get("protocol", DEFAULT_PROTOCOL),
            path=raw.get("path", DEFAULT_PATH),
            port_name=raw.get("portName", DEFAULT_PORT_NAME),
            interval_seconds=raw.get("intervalSeconds", DEFAULT_INTERVAL_SECONDS),
            timeout_seconds=raw.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS),
            http_status_codes_for_ready=tuple(sorted(codes)) if codes else DEFAULT_STATUS_CODES,
            preserve_last_response=raw.get("preserveLastResponse", False),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "protocol": self.protocol,
            "path": self.path,
            "portName": self.port_name,
            "intervalSeconds": self.interval_seconds,
            "timeoutSeconds": self.timeout_seconds,
            "httpStatusCodesForReady": list(self.http_status_codes_for_ready),
            "preserveLastResponse": self.preserve_last_response,
        }


def port_names(app: AppDefinition) -> tuple[str | None, ...]:
    """The app's port names by port index, as its tasks' host ports are ordered: the
    container's port mappings when it has any, else ``portDefinitions`` (Marathon's
    ``readinessCheckValidator`` reads them the same way)."""
    container = app.container
    if container is not None and container.port_mappings:
        return tuple(m.name for m in container.port_mappings)
    return tuple(d.name for d in app.port_definitions)


def readiness_problems(
    checks: Sequence[ReadinessCheck], names: Iterable[str | None]
) -> list[tuple[str, str]]:
    """Marathon's rules: at most one check, its ``portName`` names a port of the app,
    ``timeoutSeconds`` < ``intervalSeconds``. (json pointer, message) pairs."""
    problems: list[tuple[str, str]] = []
    if len(checks) > MAX_READINESS_CHECKS:
        problems.append(
            (
                "/readinessChecks",
                f"at most {MAX_READINESS_CHECKS} readiness check is allowed, got {len(checks)}",
            )
        )
    known = sorted({n for n in names if n})
    for index, check in enumerate(checks):
        where = f"/readinessChecks/{index}"
        if check.port_name not in known:
            have = ", ".join(repr(n) for n in known) or "none"
            problems.append(
                (
                    f"{where}/portName",
                    f"No port definition reference for portName {check.port_name!r} "
                    f"(named ports of portDefinitions/portMappings: {have})",
                )
            )
        if check.timeout_seconds >= check.interval_seconds:
            problems.append(
                (
                    f"{where}/timeoutSeconds",
                    f"timeoutSeconds ({check.timeout_seconds}) must be smaller than "
                    f"intervalSeconds ({check.interval_seconds})",
                )
            )
    return problems


def check_url(check: ReadinessCheck, app: AppDefinition, inst: Instance) -> str | None:
    """``scheme://host:port/path`` of ``inst`` for ``check``: the task's address and the
    host port at the index of the port named ``portName``; None when the task has no
    such port (it cannot be checked: it never becomes ready)."""
    names = port_names(app)
    try:
        index = names.index(check.port_name)
    except ValueError:
        return None
    if index >= len(inst.ports) or not inst.ports[index]:
        return None
    host = inst.ip or inst.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    path = check.path if check.path.startswith("/") else "/" + check.path
    return f"{check.protocol.lower()}://{host}:{inst.ports[index]}{path}"


# ---------------------------------------------------------------------------- state


@dataclass(frozen=True)
class HttpResponse:
    """What a check got back (Marathon's ``ReadinessCheckHttpResponse``)."""

    status: int
    content_type: str
    body: str

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "contentType": self.content_type, "body": self.body}


def response_of(url: str, status: int, content_type: str, body: str, error: str) -> HttpResponse:
    """The response a check stands for: the real one, or Marathon's 504 for a request
    that failed (``exceptionToErrorResponse``)."""
    if error or status <= 0:
        return HttpResponse(
            504, "text/plain", f"Marathon could not query {url}: {error or 'no answer'}"
        )
    return HttpResponse(status, content_type, body[:BODY_LIMIT])


@dataclass
class Probe:
    """One instance under its readiness check during a deployment step."""

    task_id: str
    app_id: str
    check: ReadinessCheck
    url: str | None
    ready: bool = False
    checked: bool = False
    """False for an instance taken as ready without a check (it predates the step)."""
    next_at: float = 0.0
    in_flight: int = 0
    """Sequence number of the request awaiting its answer (0: none)."""
    sent_at: float = 0.0
    checks: int = 0
    last: HttpResponse | None = None

    def result_json(self) -> dict[str, Any]:
        """Marathon's ``TaskReadinessCheckResult``."""
        out: dict[str, Any] = {"name": self.check.name, "taskId": self.task_id, "ready": self.ready}
        if self.check.preserve_last_response and self.last is not None:
            out["lastResponse"] = self.last.to_json()
        return out


@dataclass(frozen=True)
class Request:
    """A check to run now (the core turns it into a ``CheckReadiness`` effect)."""

    task_id: str
    check_name: str
    url: str
    timeout: float
    seq: int


@dataclass
class Readiness:
    """Every probe of the deployment steps in motion, by task id."""

    probes: dict[str, Probe] = field(default_factory=dict)
    seq: int = 0

    def is_ready(self, task_id: str) -> bool:
        probe = self.probes.get(task_id)
        return probe is not None and probe.ready

    def mark_ready(self, task_id: str, app_id: str, check: ReadinessCheck) -> None:
        """``task_id`` was serving before the step began (a scale keeps it): no check,
        as Marathon only checks the instances a deployment starts."""
        self.probes[task_id] = Probe(task_id, app_id, check, None, ready=True)

    def poll(self, app: AppDefinition, inst: Instance, now: float) -> Request | None:
        """The check ``inst`` (RUNNING, on the step's config) needs now, if any: the first
        at once, then ``intervalSeconds`` after the previous answer; none once ready or
        while one is awaited (one lost for too long is given up and retried)."""
        check = app.readiness_checks[0]
        probe = self.probes.get(inst.task_id)
        if probe is None or probe.check != check:
            probe = Probe(inst.task_id, app.id, check, check_url(check, app, inst), next_at=now)
            self.probes[inst.task_id] = probe
        if probe.ready or probe.url is None:
            return None
        if probe.in_flight:
            if now - probe.sent_at < check.timeout_seconds + LOST_AFTER_SECONDS:
                return None
            probe.in_flight = 0  # lost: the answer would be stale now
            probe.last = response_of(probe.url, 0, "", "", "no answer in time")
            probe.next_at = now
        if now < probe.next_at:
            return None
        self.seq += 1
        probe.in_flight = self.seq
        probe.sent_at = now
        return Request(inst.task_id, check.name, probe.url, float(check.timeout_seconds), self.seq)

    def answer(
        self,
        task_id: str,
        seq: int,
        now: float,
        *,
        status: int,
        content_type: str = "",
        body: str = "",
        error: str = "",
    ) -> Probe | None:
        """Record the answer to request ``seq``; returns the probe when it made the
        instance ready (stale or unknown answers change nothing)."""
        probe = self.probes.get(task_id)
        if probe is None or probe.in_flight != seq or probe.url is None:
            return None
        probe.in_flight = 0
        probe.checks += 1
        probe.checked = True
        probe.last = response_of(probe.url, status, content_type, body, error)
        if probe.last.status in probe.check.http_status_codes_for_ready and not error:
            probe.ready = True
            return probe
        probe.next_at = now + probe.check.interval_seconds
        return None

    def keep(self, task_ids: Iterable[str]) -> None:
        """Forget every probe but these (instances gone, steps finished)."""
        wanted = set(task_ids)
        for task_id in [t for t in self.probes if t not in wanted]:
            del self.probes[task_id]

    def results_json(self, app_id: str) -> list[dict[str, Any]]:
        """The app's checked instances as Marathon's ``readinessCheckResults``."""
        return [p.result_json() for p in self.probes.values() if p.app_id == app_id and p.checked]

    def waiting(self, app_id: str) -> list[Probe]:
        """Probes of ``app_id`` not ready yet."""
        return [p for p in self.probes.values() if p.app_id == app_id and not p.ready]


def waiting_text(probes: Sequence[Probe]) -> str:
    """One phrase for ``waitingFor``: how many wait and what the last answer was."""
    if not probes:
        return ""
    name = probes[0].check.name
    unreachable = [p for p in probes if p.url is None]
    last = [p.last for p in probes if p.last is not None]
    text = f"{len(probes)} instance(s) waiting for readiness check {name!r}"
    if last:
        statuses = ", ".join(str(s) for s in sorted({r.status for r in last}))
        text += f" (last answer: {statuses})"
    if unreachable:
        text += f"; {len(unreachable)} without port {probes[0].check.port_name!r}"
    return text
