"""Marathon's records of its tasks: ``Instance`` (what is stored and shown of one task)
and ``OfferStats`` (why an app's launches wait). Plain data, no I/O."""

from __future__ import annotations

import json
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from actors.task_states import FAILURE_STATES as _MESOS_FAILURES
from actors.task_states import TaskState

from ._app import AppDefinition
from ._events import timestamp

_NONE: list[Any] = []
"""The empty lists of every task's JSON (read only, as the cached dicts that hold them):
one list, not three per task (bytes per task at 100,000 tasks)."""

_IPS: dict[str, list[dict[str, str]]] = {}


def _ip_addresses(ip: str) -> list[dict[str, str]]:
    """A task's ``ipAddresses``, one (read-only) list per agent IP: the tasks of a host
    share it (~300 B a task). Bounded: forgotten past 65,536 IPs."""
    known = _IPS.get(ip)
    if known is None:
        if len(_IPS) >= 65536:
            _IPS.clear()
        known = _IPS[ip] = [{"ipAddress": ip, "protocol": "IPv4"}]
    return known


FAILURE_STATES: frozenset[TaskState] = _MESOS_FAILURES | {TaskState.FINISHED, TaskState.UNKNOWN}
"""States that count as a failure of the app (backoff, lastTaskFailure): Mesos' failures,
FINISHED (an app's task must not end) and UNKNOWN (lost after a failover)."""


RUNNING: str = TaskState.RUNNING.value
STAGING: str = TaskState.STAGING.value
"""Plain strings: compared on every update and every view of every instance (an enum's
``.value`` is a descriptor call each time)."""


def config_key(app: AppDefinition) -> str:
    """The app's ``lastConfigChangeAt``: old or new in a rolling upgrade (the same key its
    launch backoff uses)."""
    return app.backoff_key or ""


def compact_json(v: Any) -> str:
    """``v`` as compact JSON: orjson (the launch wave's task texts with ``json`` were 7%
    of the leader's CPU in the last seconds of the 10k-agent bench, py-spy 2026-12-07),
    ``json`` for what orjson cannot encode (an integer past 64 bits); keys that are not
    strings become strings, as ``json`` does."""
    try:
        return orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def task_id_for(app_id: str) -> str:
    """A new task id: ``<app path with / as _>.<uuid>`` (Marathon 1.x's older form)."""
    return f"{app_id.strip('/').replace('/', '_')}.{uuid.uuid4().hex}"


@dataclass(slots=True)
class Instance:
    """Marathon's view of one task (Marathon 1.4+ calls it an instance)."""

    task_id: str
    app_id: str
    config_version: str
    """The app's lastConfigChangeAt at launch: old or new in a rolling upgrade."""
    version: str
    """The app version the task was launched with."""
    agent_id: str
    host: str
    """The agent's hostname as the master knows it (Marathon's ``host``)."""
    ports: list[int]
    staged_at: float
    """Wall-clock seconds (every timestamp of an instance is wall time: it is shown)."""
    state: str = TaskState.STAGING.value
    started_at: float | None = None
    ip: str = ""
    """The agent's advertised IP (``ipAddresses``); the host when the offer had none."""
    service_ports: list[int] = field(default_factory=list)
    """The app's service ports when the task was launched (Marathon's ``servicePorts``)."""
    healthy: bool | None = None
    first_success: float | None = None
    last_success: float | None = None
    last_failure: float | None = None
    failure_cause: str | None = None
    consecutive_failures: int = 0
    killing: bool = False
    kill_sent_at: float = 0.0
    kill_reason: str = ""
    unreachable_since: float | None = None
    inactive: bool = False
    heard: bool = True
    """False for records loaded after a failover until a status update arrives."""
    local_volumes: list[dict[str, str]] = field(default_factory=list)
    """A resident task's persistent volumes (``containerPath``, ``persistenceId``)."""
    seq: int = field(default=0, compare=False, repr=False)
    """Order of insertion into ``MarathonState.instances`` (set by ``add_instance``): the
    tick's indexes act on instances in the order a walk of every instance would."""
    _json: dict[str, Any] | None = None
    _text: tuple[dict[str, Any], str] | None = None
    """``_json`` encoded, with the very dict it encodes: the HTTP layer encodes off the
    actor's thread, and a text is reused only while ``_json`` is still that dict."""

    def record(self) -> dict[str, Any]:
        """What is persisted (instances/<app>)."""
        return {
            "taskId": self.task_id,
            "appId": self.app_id,
            "configVersion": self.config_version,
            "version": self.version,
            "agentId": self.agent_id,
            "host": self.host,
            "ip": self.ip,
            "ports": self.ports,
            "servicePorts": self.service_ports,
            "stagedAt": self.staged_at,
            "startedAt": self.started_at,
            "state": self.state,
            **({"localVolumes": self.local_volumes} if self.local_volumes else {}),
        }

    @classmethod
    def from_record(cls, doc: dict[str, Any]) -> Instance:
        return cls(
            task_id=str(doc["taskId"]),
            app_id=str(doc["appId"]),
            config_version=str(doc["configVersion"]),
            version=str(doc["version"]),
            agent_id=str(doc["agentId"]),
            host=str(doc["host"]),
            ip=str(doc.get("ip") or doc["host"]),
            ports=[int(x) for x in doc.get("ports", [])],
            service_ports=[int(x) for x in doc.get("servicePorts") or []],
            staged_at=float(doc["stagedAt"]),
            started_at=doc.get("startedAt"),
            state=str(doc.get("state", TaskState.STAGING.value)),
            heard=False,
            local_volumes=[dict(v) for v in doc.get("localVolumes") or []],
        )

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    def to_json(self, has_checks: bool) -> dict[str, Any]:
        """Marathon's task JSON (``EnrichedTask`` in Marathon's RAML), exactly its fields:
        strict clients build objects from them, so nothing is added (cached until the
        instance changes)."""
        if self._json is None:
            out: dict[str, Any] = {
                "id": self.task_id,
                "appId": self.app_id,
                "host": self.host,
                "ipAddresses": _ip_addresses(self.ip or self.host),
                "ports": list(self.ports),
                "servicePorts": list(self.service_ports) if self.service_ports else _NONE,
                "slaveId": self.agent_id,
                "stagedAt": timestamp(self.staged_at),
                "startedAt": timestamp(self.started_at) if self.started_at else None,
                "state": self.state,
                "version": self.version,
                "healthCheckResults": _NONE,
                "localVolumes": [dict(v) for v in self.local_volumes]
                if self.local_volumes
                else _NONE,
                "role": "marathon" if self.local_volumes else "*",  # its reservation's
            }
            if has_checks and self.healthy is not None:
                out["healthCheckResults"] = [self.health_json()]
            self._json = out
        return self._json

    def json_text(self, shown: dict[str, Any]) -> str:
        """``compact_json(shown)`` where ``shown`` is what ``to_json`` returned: encoded
        once per version of the instance. Safe from another thread: a stale text is never
        reused (it is paired with the dict it encodes) nor kept for a dict not current."""
        cached = self._text
        if cached is not None and cached[0] is shown:
            return cached[1]
        text = compact_json(shown)
        if self._json is shown:
            self._text = (shown, text)
        return text

    def health_json(self) -> dict[str, Any]:
        """Marathon's ``Health`` of this task (one entry: pydcos combines the checks)."""

        def at(when: float | None) -> str | None:
            return timestamp(when) if when is not None else None

        return {
            "alive": bool(self.healthy),
            "consecutiveFailures": self.consecutive_failures,
            "firstSuccess": at(self.first_success),
            "lastSuccess": at(self.last_success),
            "lastFailure": at(self.last_failure),
            "lastFailureCause": self.failure_cause,
            "instanceId": self.task_id,
        }


@dataclass
class OfferStats:
    """Why an app's launches wait: Marathon's processedOffersSummary, simplified."""

    processed: int = 0
    unused: int = 0
    last_unused_at: float | None = None
    last_used_at: float | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    """Reject reasons (InsufficientCpus, UnfulfilledConstraint...) since queued."""
    last_round: list[str] = field(default_factory=list)
    """Detailed reasons of the latest offer batch that could not be used."""
    last_unused: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10))
