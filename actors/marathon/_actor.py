"""The Marathon actor: a framework on the cluster manager, running on the leading master.

```
  HTTP (/marathon/v2/...) --ApiRequest (ask)-->  MarathonActor  <--events-- _Forwarder
                                                   |   |   |                (SchedulerDriver's
        EventBus <--------- publish ---------------+   |   |                 Scheduler: tells)
        MarathonStore (ZooKeeper) <-- persist FIRST ---+   |
        SchedulerDriver --> master: launch / decline / kill / revive / suppress / reconcile
```

Desired state is the root group (apps with versions) plus the deployments in motion;
observed state is the instance table, fed by status updates and reconciliation. After
every event the actor *converges* each touched app: the launch queue gets the missing
instances, surplus ones are killed (killSelection), and deployment actions advance
(the rolling-upgrade step machine of ``_upgrade.py`` drives restarts).

Ordering contract: a change is persisted BEFORE it is acknowledged over HTTP, and an
instance record is persisted BEFORE its task is launched; so a new leader that loads
the store knows every app, version, deployment and task the old one acted on, and a
rolling upgrade resumed after a failover counts every task ever launched (never more
than ``maximumOverCapacity`` extra instances).

All handlers run on the actor's thread; the HTTP layer only asks (from an executor).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kazoo.exceptions import KazooException

from actors import protocol as p
from actors._validation import MAX_GROUP_APPS, MAX_INSTANCES
from actors.framework import Scheduler, SchedulerDriver
from actors.resources import ResourceError, Resources
from actors.task_states import TERMINAL_STATES, TaskState
from runtime import Actor
from zk import ValueTooLarge, ZkError

from ._app import (
    AppDefinition,
    VersionInfo,
    format_version,
    merged_app_json,
    patch_app,
    stamp_version,
)
from ._backoff import LaunchBackoff
from ._constraints import Agent, match
from ._errors import InvalidPath, ValidationFailed
from ._events import EventBus, timestamp
from ._group import Group
from ._paths import ROOT, is_ancestor, normalize_path, parent_of
from ._plan import (
    DeploymentAction,
    DeploymentPlan,
    RestartApplication,
    StopApplication,
    plan_deployment,
)
from ._ports import DEFAULT_PORT_RANGE, assign_service_ports, service_ports, taken_ports
from ._quarantine import (
    BadRecord,
    Quarantine,
    Quarantined,
    QuarantineKeepingStore,
    check_app,
    check_group,
    instance_problem,
    salvage_root,
)
from ._store import MarathonStore, app_key, keep_versions, key_app
from ._upgrade import (
    DeploymentActionFinished,
    KillTasks,
    NewTaskFailed,
    NewTaskHealthy,
    NewTaskRunning,
    OldTaskTerminated,
    RestartState,
    start_restart,
    step,
    waiting_reason,
)
from ._upgrade import TaskInfo as UpgradeTask

log = logging.getLogger("actors.marathon")

MARATHON_ACTOR = "marathon"
"""Registered name of the Marathon actor on the leading master's node."""

MARATHON_VERSION = "1.11.0-pydcos"
FAILOVER_TIMEOUT = 604800.0
"""Marathon's default framework failover timeout (one week)."""

_FAILURE_STATES = frozenset(
    {
        TaskState.FAILED.value,
        TaskState.ERROR.value,
        TaskState.LOST.value,
        TaskState.DROPPED.value,
        TaskState.GONE.value,
        TaskState.GONE_BY_OPERATOR.value,
        TaskState.FINISHED.value,
        TaskState.UNKNOWN.value,
    }
)
_TERMINAL = frozenset(s.value for s in TERMINAL_STATES) | {TaskState.UNKNOWN.value}


@dataclass
class MarathonConfig:
    """Tunables of the Marathon actor (Marathon's command-line flags, dev-sized)."""

    tick_interval: float = 0.25
    """Housekeeping period: backoff expiry, unreachable instances, kill retries, flush."""
    decline_refuse_seconds: float = 5.0
    """Filter on an offer declined while launches wait (it may fit after a change)."""
    idle_refuse_seconds: float = 120.0
    """Filter on an offer declined with nothing to launch (Marathon's 120 s default)."""
    reconcile_interval: float = 60.0
    """Seconds between implicit reconciliations."""
    kill_retry_seconds: float = 10.0
    """Resend a kill when the task is still alive after this long."""
    local_port_min: int = DEFAULT_PORT_RANGE[0]
    """Lowest service port Marathon assigns (Marathon's ``--local_port_min``)."""
    local_port_max: int = DEFAULT_PORT_RANGE[1]
    """Highest service port Marathon assigns (Marathon's ``--local_port_max``)."""
    ask_timeout: float = 10.0
    adoption_timeout: float = 15.0
    """After an election, reads wait (503, Retry-After) until every loaded task not
    stored as running has been heard of (reconciled), at most this long."""
    failures_to_quarantine: int = 3
    """Consecutive converge failures after which an app is quarantined."""


# ------------------------------------------------------------------------ messages


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """HTTP layer -> actor (local ask): one REST operation; the answer is an ApiReply."""

    op: str
    """Operation name (``create_app``, ``list_tasks``...)."""
    app_id: str | None = None
    """The path id of the app or group the operation is about, if any."""
    params: dict[str, Any] = field(default_factory=dict)
    """Query parameters and path parts (``force``, ``embed``, ``task_id``...)."""
    body: Any = None
    """The parsed JSON request body, if any."""


@dataclass(frozen=True, slots=True)
class ApiReply:
    """Actor -> HTTP layer: status, JSON body and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Subscribed:
    framework_id: str
    master_id: str


@dataclass(frozen=True, slots=True)
class _OffersIn:
    offers: list[p.Offer]


@dataclass(frozen=True, slots=True)
class _Disconnected:
    pass


@dataclass(frozen=True, slots=True)
class _FrameworkErr:
    message: str


@dataclass(frozen=True, slots=True)
class _Tick:
    pass


class _Forwarder(Scheduler):
    """The driver's callbacks, turned into messages to the Marathon actor's mailbox, so
    all state lives on one thread. Acknowledgements are sent by the actor after it has
    handled (and, where needed, persisted) an update."""

    def __init__(self, tell: Callable[[Any], None]) -> None:
        self.tell = tell

    def registered(self, driver: SchedulerDriver, framework_id: str, master_id: str) -> None:
        self.tell(_Subscribed(framework_id, master_id))

    def reregistered(self, driver: SchedulerDriver, framework_id: str, master_id: str) -> None:
        self.tell(_Subscribed(framework_id, master_id))

    def resource_offers(self, driver: SchedulerDriver, offers: list[p.Offer]) -> None:
        self.tell(_OffersIn(offers))

    def status_update(self, driver: SchedulerDriver, update: p.StatusUpdate) -> None:
        self.tell(update)

    def error(self, driver: SchedulerDriver, message: str) -> None:
        self.tell(_FrameworkErr(message))

    def disconnected(self, driver: SchedulerDriver) -> None:
        self.tell(_Disconnected())


# -------------------------------------------------------------------------- records


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
    _json: dict[str, Any] | None = None

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
        )

    @property
    def running(self) -> bool:
        return self.state == TaskState.RUNNING.value

    def to_json(self, has_checks: bool) -> dict[str, Any]:
        """Marathon's task JSON (``EnrichedTask`` in Marathon's RAML), exactly its fields:
        strict clients build objects from them, so nothing is added (cached until the
        instance changes)."""
        if self._json is None:
            out: dict[str, Any] = {
                "id": self.task_id,
                "appId": self.app_id,
                "host": self.host,
                "ipAddresses": [{"ipAddress": self.ip or self.host, "protocol": "IPv4"}],
                "ports": list(self.ports),
                "servicePorts": list(self.service_ports),
                "slaveId": self.agent_id,
                "stagedAt": timestamp(self.staged_at),
                "startedAt": timestamp(self.started_at) if self.started_at else None,
                "state": self.state,
                "version": self.version,
                "healthCheckResults": [],
                "localVolumes": [],
                "role": "*",
            }
            if has_checks and self.healthy is not None:
                out["healthCheckResults"] = [self.health_json()]
            self._json = out
        return self._json

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
class _OfferStats:
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


@dataclass
class _Run:
    """One deployment in motion."""

    plan: DeploymentPlan
    restart: tuple[str, ...]
    step: int = 0
    """0-based index of the current step; == len(steps) once finished."""
    done: set[str] = field(default_factory=set)
    """Apps whose action in the current step has finished."""
    started_at: float = 0.0

    def doc(self) -> dict[str, Any]:
        return {
            "id": self.plan.id,
            "version": self.plan.version,
            "original": self.plan.original.to_json(),
            "target": self.plan.target.to_json(),
            "restart": list(self.restart),
            "step": self.step,
        }

    def current(self) -> tuple[DeploymentAction, ...]:
        steps = self.plan.steps
        return steps[self.step].actions if self.step < len(steps) else ()


class _Refused(Exception):
    """An API request refused with a Marathon-shaped body (4xx)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def _not_found(what: str) -> _Refused:
    return _Refused(404, {"message": what})


def _config_key(app: AppDefinition) -> str:
    if app.version_info is not None:
        return app.version_info.last_config_change_at
    return app.version or ""


def _task_id_for(app_id: str) -> str:
    return f"{app_id.strip('/').replace('/', '_')}.{uuid.uuid4().hex}"


# ------------------------------------------------------------------------ group edits


def _replace_group(root: Group, group: Group) -> Group:
    """Root with the subtree at ``group.id`` replaced (intermediate groups created)."""
    if group.id == root.id:
        return group
    for index, sub in enumerate(root.groups):
        if sub.id == group.id or is_ancestor(sub.id, group.id):
            groups = list(root.groups)
            groups[index] = _replace_group(sub, group)
            return dataclasses.replace(root, groups=tuple(groups))
    rest = group.id[len(root.id) :].strip("/") if root.id != ROOT else group.id.strip("/")
    child_id = f"{root.id.rstrip('/')}/{rest.split('/', 1)[0]}"
    child = Group(id=child_id)
    return dataclasses.replace(root, groups=(*root.groups, _replace_group(child, group)))


def _find_group(root: Group, group_id: str) -> Group | None:
    for g in root.walk():
        if g.id == group_id:
            return g
    return None


def _remove_group(root: Group, group_id: str) -> Group:
    return dataclasses.replace(
        root,
        groups=tuple(_remove_group(g, group_id) for g in root.groups if g.id != group_id),
    )


# ---------------------------------------------------------------------------- actor


class MarathonActor(Actor):
    """Leader-only: Marathon's scheduler, deployments, launch queue and REST backend."""

    def __init__(
        self,
        store: MarathonStore,
        bus: EventBus,
        *,
        master_address: str,
        hostname: str = "localhost",
        http_url: Callable[[], str] | None = None,
        config: MarathonConfig | None = None,
        driver_factory: Callable[[Scheduler, p.FrameworkInfo], SchedulerDriver] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.bus = bus
        self.master_address = master_address
        self.hostname = hostname
        self.http_url = http_url or (lambda: "")
        self.config = config or MarathonConfig()
        self._driver_factory = driver_factory
        self.driver: SchedulerDriver | None = None
        self.framework_id: str | None = None
        self.subscribed = False
        self.suppressed = False
        self.root = Group(id=ROOT)
        self.apps: dict[str, AppDefinition] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.instances: dict[str, Instance] = {}
        self.by_app: dict[str, dict[str, Instance]] = {}
        self.runs: dict[str, _Run] = {}
        self.restarts: dict[str, RestartState] = {}
        self.queue: dict[str, int] = {}
        self.queued_since: dict[str, float] = {}
        self.backoff: dict[str, LaunchBackoff] = {}
        self.offer_stats: dict[str, _OfferStats] = {}
        self.last_failure: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, Agent] = {}
        self.dirty: set[str] = set()
        self.persist_dirty: set[str] = set()
        self.last_reconcile = 0.0
        self.counters: Counter[str] = Counter()
        self.started_wall = 0.0

    # ------------------------------------------------------------------ lifecycle

    def started(self) -> None:
        self.started_wall = self.clock.wall()
        self.bus.wall = self.clock.wall  # event timestamps from this actor's wall clock
        self._load()
        info = p.FrameworkInfo(
            name="marathon",
            failover_timeout=FAILOVER_TIMEOUT,
            framework_id=self.framework_id,
            hostname=self.hostname,
        )
        forwarder = _Forwarder(self.ref.tell)
        if self._driver_factory is not None:
            self.driver = self._driver_factory(forwarder, info)
        else:
            self.driver = SchedulerDriver(
                forwarder,
                info,
                self.node,
                master=self.master_address,
                auto_acknowledge=False,
                name=f"marathon-framework-{uuid.uuid4().hex[:6]}",
            )
        self.driver.start()
        self.send_interval(self.config.tick_interval, _Tick())
        for app_id in list(self.apps) + list(self.by_app):
            self.dirty.add(app_id)
        self._converge()

    def stopped(self) -> None:
        self.bus.close_all()
        if self.persist_dirty:
            try:
                self._flush_instances()
            except Exception:
                pass
        if self.driver is not None:
            # failover=True: the tasks keep running for the next leader's Marathon.
            self.driver.stop(failover=True)
            self.driver = None

    def _load(self) -> None:
        """Load every stored record, validating each one first.

        A record that fails validation is QUARANTINED (``_quarantine.py``): kept in
        ZooKeeper, logged, listed by ``GET /v2/quarantine``, left alone by the converge
        loop. Nothing a record holds may raise out of here: every master that became
        leader would load it and crash too. ZooKeeper errors do raise (the supervisor
        retries the start)."""
        self.q = Quarantine()
        if not isinstance(self.store, QuarantineKeepingStore):
            self.store = QuarantineKeepingStore(self.store, self.q)
        data = self.store.load()
        fid = data.get("framework_id")
        self.framework_id = fid if isinstance(fid, str) and fid else None
        for key, reason in sorted((data.get("unreadable") or {}).items()):
            self._quarantine_unreadable(str(key), str(reason))
        self.versions = self._load_versions(data.get("versions") or {})
        root_doc = data.get("root")
        root_bad = bool(data.get("root_unreadable"))
        if root_doc is not None and not root_bad:
            try:
                self.root, bad_apps = salvage_root(root_doc)
            except BadRecord as exc:
                self.q.add("root", Quarantined(self._where("root"), "root", str(exc)))
                root_bad = True
            else:
                for n, bad in enumerate(bad_apps):
                    app_id = bad.app_id or f"<app without a valid id #{n}>"
                    self.q.kept_apps[app_id] = bad
                    self.q.quarantine_app(app_id, self._where("root"), bad.reason)
        if root_bad:
            self.root = self._root_from_versions()
        now = self.clock.now()
        self._load_deployments(data)
        self.apps = self.root.transitive_apps()
        for app_id, records in (data.get("instances") or {}).items():
            self._load_instances(str(app_id), records)
        for app in list(self.apps.values()):
            try:
                self.backoff[app.id] = LaunchBackoff.for_app(app)
            except Exception as exc:
                self.q.quarantine_app(app.id, self._where("root"), f"{type(exc).__name__}: {exc}")
        for run in list(self.runs.values()):
            try:
                self._start_step(run, now)
            except Exception as exc:
                log.exception("marathon: resuming deployment %s failed", run.plan.id)
                self.runs.pop(run.plan.id, None)
                key = f"deployments/{run.plan.id}"
                self.q.add(
                    f"deployment:{key}",
                    Quarantined(
                        self._where(key),
                        "deployment",
                        f"resuming it failed: {type(exc).__name__}: {exc}",
                        run.plan.id,
                    ),
                )
        # Reads wait until the tasks not stored as running have been heard of (the
        # master answers the reconciliation once its agents re-registered): a view
        # must never show a running task as staging.
        self._adopting = {
            i.task_id for i in self.instances.values() if not i.running and i.state not in _TERMINAL
        }
        self._adopt_deadline = now + self.config.adoption_timeout
        log.info(
            "marathon: loaded %d app(s), %d instance(s), %d deployment(s), framework %s; "
            "%d record(s) quarantined, %d task(s) to adopt",
            len(self.apps),
            len(self.instances),
            len(self.runs),
            self.framework_id,
            len(self.q.entries),
            len(self._adopting),
        )

    def _where(self, key: str) -> str:
        """The znode of a store key, for reports."""
        try:
            return str(getattr(self.store, "path")(key))  # noqa: B009 (not every store has it)
        except Exception:
            return f"/marathon/{key}"

    def _quarantine_unreadable(self, key: str, reason: str) -> None:
        kind, _, rest = key.partition("/")
        ident = key_app(rest) if kind in ("versions", "instances") and rest else (rest or None)
        qkey = {"root": "root", "framework-id": "framework-id"}.get(kind) or (
            f"deployment:{key}" if kind == "deployments" else f"{kind}-unreadable:{ident}"
        )
        label = {"deployments": "deployment"}.get(kind, kind)
        self.q.add(qkey, Quarantined(self._where(key), label, reason, ident))
        if kind == "instances" and ident:
            # Its tasks are unknown: launching or killing anything for it could double
            # or lose instances, so the app waits for an operator.
            self.q.apps[ident] = f"its instance records are unreadable: {reason}"

    def _load_versions(self, stored: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for app_id, history in stored.items():
            good: list[dict[str, Any]] = []
            bad: list[Any] = []
            reasons: list[str] = []
            for doc in history if isinstance(history, list) else []:
                try:
                    check_app(doc)
                    good.append(doc)
                except BadRecord as exc:
                    bad.append(doc)
                    reasons.append(str(exc))
            if bad:
                self.q.kept_versions[app_id] = bad
                self._report_bad_records("versions", "stored version(s)", app_id, reasons)
            if good:
                out[app_id] = good
        return out

    def _load_deployments(self, data: dict[str, Any]) -> None:
        by_key = data.get("deployments_by_key")
        if not isinstance(by_key, dict):
            by_key = {
                f"deployments/{d.get('id') if isinstance(d, dict) else i}": d
                for i, d in enumerate(data.get("deployments") or [])
            }
        now = self.clock.now()

        def order(item: tuple[str, Any]) -> str:
            doc = item[1]
            return str(doc.get("version")) if isinstance(doc, dict) else ""

        for key, doc in sorted(by_key.items(), key=order):
            try:
                if not isinstance(doc, dict):
                    raise BadRecord(f"a deployment must be a JSON object, not {type(doc).__name__}")
                original = check_group(doc.get("original"))
                target = check_group(doc.get("target"))
                restart = doc.get("restart") or ()
                step_no = doc.get("step", 0)
                if not isinstance(restart, list | tuple) or not all(
                    isinstance(x, str) for x in restart
                ):
                    raise BadRecord(f"/restart: expected app ids, got {restart!r:.80}")
                if not isinstance(step_no, int) or isinstance(step_no, bool) or step_no < 0:
                    raise BadRecord(f"/step: expected a step number, got {step_no!r:.80}")
                plan = plan_deployment(
                    original,
                    target,
                    plan_id=str(doc["id"]),
                    version=str(doc["version"]),
                    restart=tuple(restart),
                )
            except Exception as exc:
                reason = str(exc) if isinstance(exc, BadRecord) else f"{type(exc).__name__}: {exc}"
                ident = doc.get("id") if isinstance(doc, dict) else None
                self.q.add(
                    f"deployment:{key}",
                    Quarantined(
                        self._where(key),
                        "deployment",
                        reason,
                        ident if isinstance(ident, str) else None,
                    ),
                )
                continue
            # The deployment doc is written before the root: a newer target wins.
            if (target.version or "") > (self.root.version or ""):
                self.root = target
            run = _Run(plan, tuple(restart), step_no)
            run.started_at = now
            self.runs[plan.id] = run

    def _load_instances(self, app_id: str, records: Any) -> None:
        bad: list[Any] = []
        reasons: list[str] = []
        for rec in records if isinstance(records, list) else [records]:
            problem = instance_problem(rec)
            if problem is None:
                try:
                    self._add_instance(Instance.from_record(rec))
                    continue
                except Exception as exc:
                    problem = f"{type(exc).__name__}: {exc}"
            bad.append(rec)
            reasons.append(problem)
            if isinstance(rec, dict) and isinstance(rec.get("taskId"), str):
                self.q.tasks.add(rec["taskId"])
        if bad:
            self.q.kept_instances[app_id] = bad
            self._report_bad_records("instances", "instance record(s)", app_id, reasons)

    def _report_bad_records(self, kind: str, noun: str, app_id: str, reasons: list[str]) -> None:
        """Quarantine entry for an app's ``versions`` or ``instances`` document, of which
        ``len(reasons)`` records failed (the first reason shown)."""
        self.q.add(
            f"{kind}:{app_id}",
            Quarantined(
                self._where(f"{kind}/{app_key(app_id)}"),
                kind,
                f"{len(reasons)} {noun} not valid: {reasons[0]}",
                app_id,
            ),
        )

    def _root_from_versions(self) -> Group:
        """The root group rebuilt from each app's newest stored version, for when the
        root document itself cannot be read (group-level dependencies are lost; apps,
        their settings and versions are not)."""
        root = Group()
        for app_id, history in sorted(self.versions.items()):
            for doc in reversed(history):
                try:
                    root = root.put_app(AppDefinition.from_json(doc))
                    break
                except Exception as exc:
                    log.error("marathon: a stored version of %s is not valid: %s", app_id, exc)
        log.warning(
            "marathon: rebuilt the root group from %d app(s)' versions", len(root.transitive_apps())
        )
        return root

    # ------------------------------------------------------------------- dispatch

    def receive(self, message: Any) -> Any:
        """One message; whatever goes wrong handling it is logged and counted, and
        never stops the actor (a crash loop would take the leader's Marathon down)."""
        if isinstance(message, ApiRequest):
            self.counters["api_requests"] += 1
            reply = self._api(message)
            self._converge()
            self._check_adopted()
            return reply
        if not isinstance(
            message,
            p.StatusUpdate | _OffersIn | _Tick | _Subscribed | _Disconnected | _FrameworkErr,
        ):
            return super().receive(message)
        try:
            if isinstance(message, p.StatusUpdate):
                self._on_status(message)
            elif isinstance(message, _OffersIn):
                self._on_offers_guarded(message.offers)
            elif isinstance(message, _Tick):
                self._on_tick()
            elif isinstance(message, _Subscribed):
                self._on_subscribed(message)
            elif isinstance(message, _Disconnected):
                self.subscribed = False
                self.bus.publish("scheduler_disconnected_event", message="leader changed")
            else:
                self.counters["framework_errors"] += 1
                log.warning("marathon: the master refused a call: %s", message.message)
        except Exception:
            self.counters["handler_errors"] += 1
            log.exception("marathon: handling %s failed; carrying on", type(message).__name__)
        self._converge()
        self._check_adopted()
        return None

    def _on_status(self, u: p.StatusUpdate) -> None:
        inst = self.instances.get(u.task_id)
        if inst is None and u.task_id in self.q.tasks | self._quarantined_task_owner(u.task_id):
            self._ack(u)  # a quarantined record's task: neither adopted nor killed
            return
        before = inst.state if inst is not None else None
        self._on_update(u)
        if (
            inst is not None
            and inst.running
            and before != inst.state
            and self.instances.get(inst.task_id) is inst
        ):
            # Stored as running (flushed at the next tick), so a new leader shows it
            # running from the start instead of as the staging task it was launched as.
            self.persist_dirty.add(inst.app_id)

    def _quarantined_task_owner(self, task_id: str) -> set[str]:
        """``{task_id}`` when the task belongs to an app the converge loop leaves alone
        and that has no record of it (its instance records were unreadable)."""
        prefix = task_id.rsplit(".", 1)[0]
        for app_id in self.q.apps:
            if app_id not in self.by_app and app_key(app_id).lstrip("_") == prefix:
                return {task_id}
        return set()

    def _on_offers_guarded(self, offers: list[p.Offer]) -> None:
        """``_on_offers``; when it raises, the offers are declined (never leaked) and
        each waiting app is tried alone to find the one that fails, which counts as a
        converge failure of that app (quarantined if it keeps failing)."""
        try:
            self._on_offers(offers)
        except Exception:
            self.counters["offer_errors"] += 1
            log.exception("marathon: handling %d offer(s) failed; declining them", len(offers))
            if self.driver is not None and self.subscribed:
                with contextlib.suppress(Exception):
                    self.driver.decline(
                        [o.offer_id for o in offers], self.config.decline_refuse_seconds
                    )
            for app_id in list(self.queue):
                app = self.apps.get(app_id)
                if app is None or not offers:
                    continue
                try:
                    free = Resources.from_dict(offers[0].resources)
                    _fit(app, free, _port_list(free))
                except ResourceError:
                    continue
                except Exception as exc:
                    self._app_failed(app_id, f"matching offers failed: {type(exc).__name__}: {exc}")

    def _app_failed(self, app_id: str, reason: str) -> None:
        """One more consecutive failure of ``app_id``; quarantined at the limit."""
        self.q.failures[app_id] += 1
        self.counters["app_errors"] += 1
        if self.q.failures[app_id] >= self.config.failures_to_quarantine:
            self.q.quarantine_app(
                app_id,
                self._where("root"),
                f"failed {self.q.failures[app_id]} times in a row: {reason}",
            )
            self.queue.pop(app_id, None)
            self.queued_since.pop(app_id, None)

    def _check_adopted(self) -> None:
        if not self._adopting:
            return
        self._adopting = {
            t for t in self._adopting if (i := self.instances.get(t)) is not None and not i.heard
        }
        if self._adopting and self.clock.now() >= self._adopt_deadline:
            log.warning(
                "marathon: %d task(s) not heard of within %.0f s of the election; serving",
                len(self._adopting),
                self.config.adoption_timeout,
            )
            self._adopting = set()
        if not self._adopting:
            log.info("marathon: state loaded and tasks adopted; serving requests")

    # ----------------------------------------------------------------- scheduler

    def _on_subscribed(self, m: _Subscribed) -> None:
        first = self.framework_id != m.framework_id
        if first:
            self.store.save_framework_id(m.framework_id)
            self.framework_id = m.framework_id
        self.subscribed = True
        self.suppressed = False
        self.bus.publish(
            "scheduler_registered_event" if first else "scheduler_reregistered_event",
            frameworkId=m.framework_id,
            master=m.master_id,
        )
        log.info("marathon: subscribed as framework %s (master %s)", m.framework_id, m.master_id)
        assert self.driver is not None
        # Explicit for what we know (an unknown one comes back TASK_UNKNOWN), implicit
        # for what the master knows and we do not (orphans are killed).
        if self.instances:
            self.driver.reconcile(list(self.instances))
        self.driver.reconcile()
        self.last_reconcile = self.clock.now()
        for inst in self.instances.values():
            if inst.killing:
                inst.kill_sent_at = 0.0
        self._retry_kills(self.clock.now())
        self.dirty.update(self.by_app)
        self.dirty.update(self.apps)

    def _ack(self, update: p.StatusUpdate) -> None:
        if update.uuid and self.driver is not None and self.subscribed:
            try:
                self.driver.acknowledge(update)
            except RuntimeError:
                pass

    def _on_update(self, u: p.StatusUpdate) -> None:
        now = self.clock.now()
        wall = self.clock.wall()
        self.counters["status_updates"] += 1
        inst = self.instances.get(u.task_id)
        if inst is None:
            if u.state not in _TERMINAL and self.driver is not None and self.subscribed:
                log.warning("marathon: killing unknown task %s (%s)", u.task_id, u.state)
                self.driver.kill(u.task_id)
            self._ack(u)
            return
        inst.heard = True
        app = self.apps.get(inst.app_id)
        has_checks = bool(app and app.health_checks)
        old_state, old_healthy = inst.state, inst.healthy
        inst.state = u.state
        inst._json = None
        if u.agent_id and not inst.agent_id:
            inst.agent_id = u.agent_id
        self.bus.publish(
            "status_update_event",
            slaveId=inst.agent_id,
            taskId=inst.task_id,
            taskStatus=u.state,
            message=u.message,
            appId=inst.app_id,
            host=inst.host,
            ipAddresses=[{"ipAddress": inst.ip or inst.host, "protocol": "IPv4"}],
            ports=inst.ports,
            version=inst.version,
        )
        if u.healthy is not None:
            # Health arrives with any update: the agent's on a change, the master's
            # reconciliation answer (the latest known health) after a failover.
            inst.healthy = u.healthy
            if u.healthy:
                inst.last_success = wall
                if inst.first_success is None:
                    inst.first_success = wall
                inst.consecutive_failures = 0
            else:
                inst.last_failure = wall
                inst.consecutive_failures += 1
                inst.failure_cause = u.message or "health check failed"
            if u.healthy != old_healthy:
                self.bus.publish(
                    "health_status_changed_event",
                    appId=inst.app_id,
                    instanceId=inst.task_id,
                    taskId=inst.task_id,
                    version=inst.version,
                    alive=u.healthy,
                )
                if not u.healthy:
                    self.bus.publish(
                        "failed_health_check_event",
                        appId=inst.app_id,
                        taskId=inst.task_id,
                        instanceId=inst.task_id,
                        healthCheck=app.health_checks[0].to_json() if has_checks and app else {},
                    )
        if u.state == TaskState.UNREACHABLE.value:
            if inst.unreachable_since is None:
                inst.unreachable_since = now
        elif u.state == TaskState.RUNNING.value:
            inst.unreachable_since = None
            inst.inactive = False
            if inst.started_at is None:
                inst.started_at = u.timestamp or wall
        if u.state in _TERMINAL:
            self._terminated(inst, u, now)
        else:
            serving = inst.running and (inst.healthy is True if has_checks else True)
            if serving:
                backoff = self.backoff.get(inst.app_id)
                if backoff is not None and backoff.failures:
                    self.backoff[inst.app_id] = backoff.task_running()
                self._restart_event(inst, NewTaskHealthy(inst.task_id))
            if old_state != u.state or old_healthy != inst.healthy:
                self.dirty.add(inst.app_id)
        self._ack(u)

    def _terminated(self, inst: Instance, u: p.StatusUpdate, now: float) -> None:
        self._remove_instance(inst)
        self.persist_dirty.add(inst.app_id)
        self.dirty.add(inst.app_id)
        requested = inst.killing
        if not requested and u.state in _FAILURE_STATES | {TaskState.KILLED.value}:
            self.counters["task_failures"] += 1
            self.last_failure[inst.app_id] = {
                "appId": inst.app_id,
                "host": inst.host,
                "message": u.message,
                "state": u.state,
                "taskId": inst.task_id,
                "timestamp": timestamp(self.clock.wall()),
                "version": inst.version,
                "slaveId": inst.agent_id,
            }
            backoff = self.backoff.get(inst.app_id)
            if backoff is not None:
                self.backoff[inst.app_id] = backoff.task_failed(now)
            if u.state == TaskState.KILLED.value and inst.healthy is False:
                self.bus.publish(
                    "unhealthy_instance_kill_event",
                    appId=inst.app_id,
                    taskId=inst.task_id,
                    instanceId=inst.task_id,
                    version=inst.version,
                    reason=u.message or "health check failed",
                    host=inst.host,
                    slaveId=inst.agent_id,
                )
        state = self.restarts.get(inst.app_id)
        if state is not None:
            app = self._deploying_app(inst.app_id)
            if app is not None and inst.config_version == _config_key(app):
                self._restart_event(inst, NewTaskFailed(inst.task_id))
            else:
                self._restart_event(inst, OldTaskTerminated(inst.task_id))

    def _restart_event(self, inst: Instance, event: Any) -> None:
        state = self.restarts.get(inst.app_id)
        if state is None:
            return
        if isinstance(event, NewTaskHealthy):
            app = self._deploying_app(inst.app_id)
            if app is None or inst.config_version != _config_key(app):
                return
        state, effects = step(state, event, self.clock.now())
        self.restarts[inst.app_id] = state
        self._apply(effects)
        self.dirty.add(inst.app_id)

    def _apply(self, effects: Iterable[Any]) -> None:
        for effect in effects:
            if isinstance(effect, KillTasks):
                for task_id in effect.task_ids:
                    inst = self.instances.get(task_id)
                    if inst is not None:
                        self._kill(inst, effect.reason)
            elif isinstance(effect, DeploymentActionFinished):
                self.dirty.add(effect.app_id)
            # LaunchTasks: the queue is derived from the restart state in _converge_app.

    def _kill(self, inst: Instance, reason: str) -> None:
        now = self.clock.now()
        if inst.killing and now - inst.kill_sent_at < self.config.kill_retry_seconds:
            return
        inst.killing = True
        inst.kill_reason = reason
        inst._json = None
        if self.driver is not None and self.subscribed:
            inst.kill_sent_at = now
            self.driver.kill(inst.task_id)
            self.counters["tasks_killed"] += 1

    def _retry_kills(self, now: float) -> None:
        for inst in list(self.instances.values()):
            if inst.killing and now - inst.kill_sent_at >= self.config.kill_retry_seconds:
                inst.kill_sent_at = 0.0
                self._kill(inst, inst.kill_reason)

    # --------------------------------------------------------------- instances

    def _add_instance(self, inst: Instance) -> None:
        self.instances[inst.task_id] = inst
        self.by_app.setdefault(inst.app_id, {})[inst.task_id] = inst

    def _remove_instance(self, inst: Instance) -> None:
        self.instances.pop(inst.task_id, None)
        tasks = self.by_app.get(inst.app_id)
        if tasks is not None:
            tasks.pop(inst.task_id, None)
            if not tasks:
                del self.by_app[inst.app_id]

    def _flush_instances(self) -> None:
        for app_id in sorted(self.persist_dirty):
            records = [i.record() for i in self.by_app.get(app_id, {}).values()]
            try:
                self.store.save_instances(app_id, records)
            except Exception as exc:
                log.warning("marathon: saving instances of %s failed (retrying): %s", app_id, exc)
                return
            self.persist_dirty.discard(app_id)

    # ----------------------------------------------------------------- converge

    def _governing(self, app_id: str) -> tuple[_Run | None, DeploymentAction | None, bool]:
        """(run, action, started) of the deployment that owns ``app_id`` now, if any."""
        for run in self.runs.values():
            for index, s in enumerate(run.plan.steps):
                if index < run.step:
                    continue
                for action in s.actions:
                    if action.app.id == app_id:
                        return run, action, index == run.step
        return None, None, False

    def _deploying_app(self, app_id: str) -> AppDefinition | None:
        """The definition instances of ``app_id`` should have right now."""
        run, action, started = self._governing(app_id)
        if run is not None and action is not None:
            if not started:
                return run.plan.original.app(app_id)
            if isinstance(action, StopApplication):
                return None
            return action.app
        return self.apps.get(app_id)

    def _serving(self, inst: Instance, app: AppDefinition) -> bool:
        if not inst.running or inst.killing:
            return False
        return inst.healthy is True if app.health_checks else True

    def _converge(self) -> None:
        """Converge every dirty app. One app's failure is caught, logged and counted,
        and that app is skipped for this cycle (retried at the next message, and
        quarantined after ``failures_to_quarantine`` failures in a row); quarantined
        apps are left alone entirely. Never raises."""
        failed: set[str] = set()
        try:
            if not self.dirty:
                self._suppress_or_revive()
                return
            before = sum(self.queue.values())
            for _ in range(10):  # finishing a step may dirty apps of the next one
                dirty, self.dirty = self.dirty - failed, set()
                for app_id in sorted(dirty):
                    if app_id in self.q.apps:
                        self.queue.pop(app_id, None)
                        self.queued_since.pop(app_id, None)
                        continue
                    try:
                        self._converge_app(app_id)
                    except Exception as exc:
                        log.exception("marathon: converging %s failed; skipped this cycle", app_id)
                        self.counters["converge_errors"] += 1
                        self._app_failed(app_id, f"converging failed: {type(exc).__name__}: {exc}")
                        failed.add(app_id)
                    else:
                        self.q.failures.pop(app_id, None)
                try:
                    self._advance_deployments()
                except Exception:
                    log.exception("marathon: advancing deployments failed; retried later")
                    self.counters["converge_errors"] += 1
                    break
                if not self.dirty - failed:
                    break
            if sum(self.queue.values()) > before and self.subscribed and self.driver is not None:
                self.driver.revive()  # new work: clear our decline filters
                self.suppressed = False
                self.counters["revives"] += 1
            self._suppress_or_revive()
        except Exception:
            log.exception("marathon: the converge loop failed; retried at the next message")
            self.counters["converge_errors"] += 1
        finally:
            self.dirty |= failed - set(self.q.apps)

    def _converge_app(self, app_id: str) -> None:
        now = self.clock.now()
        app = self._deploying_app(app_id)
        tasks = self.by_app.get(app_id, {})
        restart = self.restarts.get(app_id)
        want = 0
        if app is None:
            for inst in list(tasks.values()):
                if not inst.killing:
                    self._kill(inst, "DeletingApp")
        elif restart is not None:
            want = restart.pending_launches
        else:
            live = [i for i in tasks.values() if not i.killing and not i.inactive]
            if len(live) < app.instances:
                want = app.instances - len(live)
            elif len(live) > app.instances:
                order = sorted(
                    live,
                    key=lambda i: (
                        self._serving(i, app),
                        -(i.started_at or i.staged_at)
                        if app.kill_selection != "OLDEST_FIRST"
                        else (i.started_at or i.staged_at),
                        i.task_id,
                    ),
                )
                for inst in order[: len(live) - app.instances]:
                    self._kill(inst, "ScalingApp")
        if want > 0:
            if self.queue.get(app_id, 0) == 0:
                self.queued_since[app_id] = now
                self.offer_stats[app_id] = _OfferStats()
            self.queue[app_id] = want
        else:
            self.queue.pop(app_id, None)
            self.queued_since.pop(app_id, None)

    def _suppress_or_revive(self) -> None:
        if not self.subscribed or self.driver is None:
            return
        work = any(n > 0 for n in self.queue.values())
        if work and self.suppressed:
            self.driver.revive()
            self.suppressed = False
            self.counters["revives"] += 1
        elif not work and not self.suppressed:
            self.driver.suppress()
            self.suppressed = True
            self.counters["suppresses"] += 1

    # --------------------------------------------------------------- deployments

    def _start_step(self, run: _Run, now: float) -> None:
        """Begin the actions of ``run``'s current step."""
        run.done = set()
        for action in run.current():
            app = action.app
            self.dirty.add(app.id)
            if isinstance(action, RestartApplication):
                key = _config_key(app)
                old: list[UpgradeTask] = []
                new: list[UpgradeTask] = []
                for inst in self.by_app.get(app.id, {}).values():
                    is_new = inst.config_version == key
                    if is_new:
                        healthy = inst.heard and self._serving(inst, app)
                    else:
                        # Not heard from since a failover: assume it serves, which only
                        # makes the upgrade keep more old instances, never fewer.
                        healthy = not inst.heard or (
                            inst.running and not inst.killing and inst.healthy is not False
                        )
                    t = UpgradeTask(inst.task_id, inst.started_at or inst.staged_at, healthy)
                    (new if is_new else old).append(t)
                state, effects = start_restart(app, old, now, new)
                self.restarts[app.id] = state
                self._apply(effects)
                backoff = self.backoff.get(app.id)
                if backoff is not None:
                    self.backoff[app.id] = backoff.reset()

    def _action_done(self, run: _Run, action: DeploymentAction) -> bool:
        app = action.app
        tasks = self.by_app.get(app.id, {})
        if isinstance(action, StopApplication):
            return not tasks
        if isinstance(action, RestartApplication):
            state = self.restarts.get(app.id)
            return state is not None and state.finished
        if len(tasks) != app.instances:
            return False
        key = _config_key(app)
        return all(self._serving(i, app) and i.config_version == key for i in tasks.values())

    def _advance_deployments(self) -> None:
        now = self.clock.now()
        for run in list(self.runs.values()):
            while run.step < len(run.plan.steps):
                for action in run.current():
                    if action.app.id not in run.done and self._action_done(run, action):
                        run.done.add(action.app.id)
                        self.restarts.pop(action.app.id, None)
                        if isinstance(action, StopApplication):
                            self._app_gone(action.app.id)
                if len(run.done) < len(run.current()):
                    break
                self.bus.publish(
                    "deployment_step_success",
                    plan=self._plan_event(run),
                    currentStep=run.plan.steps[run.step].to_json(),
                )
                run.step += 1
                if run.step < len(run.plan.steps):
                    self._save_deployment(run)
                    self._start_step(run, now)
            if run.step >= len(run.plan.steps):
                self._finish_run(run, success=True)

    def _app_gone(self, app_id: str) -> None:
        if app_id in self.apps:
            return
        self.bus.publish("app_terminated_event", appId=app_id)
        self.backoff.pop(app_id, None)
        self.last_failure.pop(app_id, None)
        self.offer_stats.pop(app_id, None)

    def _save_deployment(self, run: _Run) -> None:
        try:
            self.store.save_deployment(run.plan.id, run.doc())
        except Exception as exc:  # progress is re-derived after a failover anyway
            log.warning("marathon: saving deployment %s failed: %s", run.plan.id, exc)

    def _finish_run(self, run: _Run, *, success: bool) -> None:
        self.runs.pop(run.plan.id, None)
        for action in run.plan.steps[run.step].actions if run.step < len(run.plan.steps) else ():
            self.restarts.pop(action.app.id, None)
        for s in run.plan.steps:
            for action in s.actions:
                self.dirty.add(action.app.id)
        try:
            self.store.delete_deployment(run.plan.id)
        except Exception as exc:
            log.warning("marathon: deleting deployment %s failed: %s", run.plan.id, exc)
        self.counters["deployments_succeeded" if success else "deployments_failed"] += 1
        self.bus.publish(
            "deployment_success" if success else "deployment_failed",
            id=run.plan.id,
            plan=self._plan_event(run),
        )

    def _plan_event(self, run: _Run) -> dict[str, Any]:
        doc = run.plan.to_json(min(run.step + 1, len(run.plan.steps)))
        return {
            "id": doc["id"],
            "version": doc["version"],
            "steps": doc["steps"],
            "original": {"id": ROOT, "version": run.plan.original.version},
            "target": {"id": ROOT, "version": run.plan.target.version},
        }

    def _deploy(
        self,
        new_root: Group,
        version: str,
        *,
        force: bool,
        restart: tuple[str, ...] = (),
    ) -> _Run:
        """Plan, check locks, persist (deployment, versions, root), then apply.

        Raises ``_Refused`` (409) when an affected app is locked by another deployment
        and ``force`` is false; ``ValidationFailed`` for a dependency cycle."""
        new_root = dataclasses.replace(new_root, version=version)
        plan = plan_deployment(
            self.root, new_root, plan_id=str(uuid.uuid4()), version=version, restart=restart
        )
        affected = set(plan.affected_apps)
        conflicts = [r for r in self.runs.values() if affected & set(r.plan.affected_apps)]
        if conflicts and not force:
            raise _Refused(
                409,
                {
                    "message": "App is locked by one or more deployments. Override with the "
                    "option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
                    "deployments": [{"id": r.plan.id} for r in conflicts],
                },
            )
        new_apps = new_root.transitive_apps()
        changed_versions: dict[str, list[dict[str, Any]]] = {}
        for app_id, app in new_apps.items():
            prev = self.apps.get(app_id)
            if prev is None or prev.version != app.version:
                history = list(self.versions.get(app_id, []))
                history.append(app.to_json())
                changed_versions[app_id] = keep_versions(history)
        run = _Run(plan, restart, started_at=self.clock.now())
        # Persist FIRST: deployment (it carries the target), versions, root.
        if not plan.is_empty:
            self.store.save_deployment(plan.id, run.doc())
        for app_id, history in changed_versions.items():
            self.store.save_versions(app_id, history)
        self.store.save_root(new_root.to_json())
        for conflict in conflicts:
            self._finish_run(conflict, success=False)
        self.root = new_root
        self.apps = new_apps
        self.versions.update(changed_versions)
        for app_id, app in new_apps.items():
            backoff = self.backoff.get(app_id)
            self.backoff[app_id] = (
                backoff.app_updated(app) if backoff is not None else LaunchBackoff.for_app(app)
            )
        self.counters["deployments_started"] += 1
        if plan.is_empty:
            self.bus.publish("deployment_success", id=plan.id, plan=self._plan_event(run))
            return run
        self.runs[plan.id] = run
        self.bus.publish(
            "deployment_info",
            plan=self._plan_event(run),
            currentStep=plan.steps[0].to_json(),
        )
        self.bus.publish("group_change_success", groupId=ROOT, version=version)
        self._start_step(run, run.started_at)
        return run

    def _cancel(self, run: _Run, *, rollback: bool, version: str) -> _Run | None:
        """Stop ``run``; with ``rollback``, deploy its affected apps' original versions."""
        if not rollback:
            self._finish_run(run, success=False)
            return None
        target = self.root
        for app_id in run.plan.affected_apps:
            original = run.plan.original.app(app_id)
            if original is None:
                target = target.remove_app(app_id)
            else:
                # Back to the original config, keeping its lastConfigChangeAt so the
                # instances still running it count as already upgraded.
                info = original.version_info
                restored = dataclasses.replace(
                    original,
                    version=version,
                    version_info=VersionInfo(
                        version, info.last_config_change_at if info else version
                    ),
                )
                target = target.put_app(restored)
        return self._deploy(target, version, force=True)

    # ----------------------------------------------------------------- offers

    def _agent_of(self, inst: Instance) -> Agent:
        return self.agents.get(inst.agent_id) or Agent(inst.host)

    def _on_offers(self, offers: list[p.Offer]) -> None:
        now = self.clock.now()
        wall = self.clock.wall()
        self.counters["offers_received"] += len(offers)
        if self.driver is None or not self.subscribed:
            return
        work: list[tuple[AppDefinition, int]] = []
        for app_id, count in self.queue.items():
            app = self._deploying_app(app_id)
            if app is None or count <= 0:
                continue
            backoff = self.backoff.get(app_id)
            if backoff is not None and backoff.is_delayed(now):
                continue
            work.append((app, count))
        left = {app.id: count for app, count in work}
        placed: dict[str, list[Agent]] = {}
        launches: list[tuple[p.Offer, list[p.TaskInfo]]] = []
        new_instances: list[Instance] = []
        declines: list[str] = []
        round_reasons: dict[str, list[str]] = {}
        for offer in offers:
            attrs = {k: _attr_text(v) for k, v in (offer.attributes or {}).items()}
            agent = Agent(offer.hostname, attrs)
            self.agents[offer.agent_id] = agent
            try:
                free = Resources.from_dict(offer.resources)
            except ResourceError as exc:
                log.warning("marathon: offer %s has bad resources: %s", offer.offer_id, exc)
                declines.append(offer.offer_id)
                continue
            free_ports = _port_list(free)
            tasks: list[p.TaskInfo] = []
            for app, _ in work:
                stats = self.offer_stats.setdefault(app.id, _OfferStats())
                if left[app.id] <= 0:
                    continue
                stats.processed += 1
                used_before = len(tasks)
                while left[app.id] > 0:
                    need, ports, reason, detail = _fit(app, free, free_ports)
                    if need is None:
                        stats.reasons[reason] += 1
                        round_reasons.setdefault(app.id, []).append(detail)
                        _unused(stats, offer, detail, wall)
                        break
                    if app.constraints:
                        if app.id not in placed:
                            placed[app.id] = [
                                self._agent_of(i)
                                for i in self.by_app.get(app.id, {}).values()
                                if not i.killing
                            ]
                        verdict = match(app.constraints, agent, placed[app.id])
                        if not verdict.ok:
                            stats.reasons["UnfulfilledConstraint"] += 1
                            detail = f"constraint {verdict.reason}"
                            round_reasons.setdefault(app.id, []).append(detail)
                            _unused(stats, offer, detail, wall)
                            break
                        placed[app.id].append(agent)
                    free = free - need
                    for port in ports:
                        free_ports.remove(port)
                    task, inst = self._build_task(app, offer, need, ports, wall)
                    tasks.append(task)
                    new_instances.append(inst)
                    left[app.id] -= 1
                if len(tasks) > used_before:
                    stats.last_used_at = wall
            if tasks:
                launches.append((offer, tasks))
            else:
                declines.append(offer.offer_id)
        for app_id, reasons in round_reasons.items():
            stats = self.offer_stats.setdefault(app_id, _OfferStats())
            stats.last_round = reasons
        if new_instances:
            # Persist BEFORE launching: a new leader must know every task it may meet.
            for inst in new_instances:
                self._add_instance(inst)
                self.persist_dirty.add(inst.app_id)
            try:
                self._flush_instances()
                if self.persist_dirty & {i.app_id for i in new_instances}:
                    raise RuntimeError("instance records not stored")
            except Exception as exc:
                log.warning("marathon: not launching: storing instances failed: %s", exc)
                for inst in new_instances:
                    self._remove_instance(inst)
                self.driver.decline(
                    [o.offer_id for o in offers], self.config.decline_refuse_seconds
                )
                return
            for inst in new_instances:
                self.dirty.add(inst.app_id)
                if inst.app_id in self.restarts:
                    self._restart_event(inst, NewTaskRunning(inst.task_id))
            for offer, tasks in launches:
                self.driver.launch([offer.offer_id], tasks, refuse_seconds=1.0)
            self.counters["tasks_launched"] += len(new_instances)
        if declines:
            waiting = any(n > 0 for n in left.values()) or any(n > 0 for n in self.queue.values())
            refuse = (
                self.config.decline_refuse_seconds if waiting else self.config.idle_refuse_seconds
            )
            self.driver.decline(declines, refuse)
            self.counters["offers_declined"] += len(declines)

    def _build_task(
        self,
        app: AppDefinition,
        offer: p.Offer,
        need: Resources,
        ports: list[int],
        wall: float,
    ) -> tuple[p.TaskInfo, Instance]:
        task_id = _task_id_for(app.id)
        env = dict(app.env)
        env.update(
            {
                "MARATHON_APP_ID": app.id,
                "MARATHON_APP_VERSION": app.version or "",
                "MESOS_TASK_ID": task_id,
                "HOST": offer.hostname,
                "MARATHON_APP_RESOURCE_CPUS": str(app.cpus),
                "MARATHON_APP_RESOURCE_MEM": str(app.mem),
            }
        )
        names = [d.name for d in app.port_definitions] or (
            [m.name for m in app.container.port_mappings] if app.container else []
        )
        for index, port in enumerate(ports):
            env[f"PORT{index}"] = str(port)
            name = names[index] if index < len(names) else None
            if name:
                env[f"PORT_{name.upper().replace('-', '_')}"] = str(port)
        if ports:
            env["PORT"] = str(ports[0])
            env["PORTS"] = ",".join(str(x) for x in ports)
        uris = [p.UriInfo(f.uri, f.executable, f.extract) for f in app.fetch]
        if app.args is not None:
            command: p.CommandSpec | None = p.CommandSpec(
                args=list(app.args), shell=False, env=env, uris=uris, user=app.user
            )
        elif app.cmd is not None:
            command = p.CommandSpec(value=app.cmd, env=env, uris=uris, user=app.user)
        else:
            command = p.CommandSpec(value=None, shell=False, env=env, uris=uris, user=app.user)
        container: p.ContainerInfo | None = None
        if app.container is not None:
            c = app.container
            d = c.docker
            container = p.ContainerInfo(
                type=c.type,
                network=(d.network or ("BRIDGE" if c.port_mappings else "HOST")) if d else "HOST",
                docker=p.DockerInfo(
                    image=d.image,
                    privileged=d.privileged,
                    parameters=[p.Parameter(k, v) for k, v in d.parameters],
                    force_pull_image=d.force_pull_image,
                )
                if d is not None and d.image
                else None,
                port_mappings=[
                    p.PortMapping(m.container_port or ports[i], ports[i], proto, m.name)
                    for i, m in enumerate(c.port_mappings)
                    for proto in m.protocol.split(",")
                ],
                volumes=[
                    p.VolumeInfo(v.container_path, v.host_path or "", v.mode) for v in c.volumes
                ],
            )
        protocols = [d.protocol for d in app.port_definitions] or (
            [m.protocol for m in app.container.port_mappings] if app.container else []
        )
        discovery = p.DiscoveryInfo(
            name=app.id.strip("/").replace("/", "."),
            ports=[
                p.DiscoveryPort(
                    port,
                    names[i] if i < len(names) else None,
                    proto,
                )
                for i, port in enumerate(ports)
                for proto in (protocols[i] if i < len(protocols) else "tcp").split(",")
            ],
        )
        labels = {str(k): str(v) for k, v in app.labels.items()}
        labels["MARATHON_APP_ID"] = app.id
        labels["MARATHON_APP_VERSION"] = app.version or ""
        task = p.TaskInfo(
            task_id=task_id,
            name=app.id.strip("/").replace("/", "."),
            agent_id=offer.agent_id,
            resources=need.to_dict(),
            command=command,
            container=container,
            health_checks=[
                p.HealthCheckInfo(
                    protocol=h.protocol,
                    path=h.path or "/",
                    port_index=h.port_index if h.port is None else None,
                    port=h.port,
                    command=h.command,
                    grace_period_seconds=h.grace_period_seconds,
                    interval_seconds=h.interval_seconds,
                    timeout_seconds=h.timeout_seconds,
                    max_consecutive_failures=h.max_consecutive_failures,
                    delay_seconds=h.delay_seconds,
                )
                for h in app.health_checks
            ],
            kill_grace_period=float(app.task_kill_grace_period_seconds or 3),
            labels=labels,
            discovery=discovery,
        )
        inst = Instance(
            task_id=task_id,
            app_id=app.id,
            config_version=_config_key(app),
            version=app.version or "",
            agent_id=offer.agent_id,
            host=offer.hostname,
            ip=offer.ip or offer.hostname,
            ports=list(ports),
            service_ports=[port for port in service_ports(app) if port],
            staged_at=wall,
        )
        return task, inst

    # ------------------------------------------------------------------ tick

    def _on_tick(self) -> None:
        now = self.clock.now()
        for app_id, backoff in self.backoff.items():
            if backoff.deadline is not None and backoff.deadline <= now and app_id in self.queue:
                # The delay is over: offers declined meanwhile may have filters on them.
                self.backoff[app_id] = dataclasses.replace(backoff, deadline=None)
                if self.subscribed and self.driver is not None:
                    self.driver.revive()
        for inst in list(self.instances.values()):
            if inst.unreachable_since is None:
                continue
            app = self.apps.get(inst.app_id)
            strategy = app.unreachable_strategy if app is not None else None
            if strategy is None:
                continue
            gone_for = now - inst.unreachable_since
            if gone_for >= strategy.expunge_after_seconds:
                log.info("marathon: expunging unreachable task %s", inst.task_id)
                self._kill(inst, "Expunged")
                self._remove_instance(inst)
                self.persist_dirty.add(inst.app_id)
                self.dirty.add(inst.app_id)
            elif gone_for >= strategy.inactive_after_seconds and not inst.inactive:
                inst.inactive = True
                self.dirty.add(inst.app_id)
        self._retry_kills(now)
        if self.persist_dirty:
            self._flush_instances()
        if (
            self.subscribed
            and self.driver is not None
            and now - self.last_reconcile >= self.config.reconcile_interval
        ):
            self.driver.reconcile()
            self.last_reconcile = now
        if self.runs:
            for run in self.runs.values():
                for action in run.current():
                    self.dirty.add(action.app.id)

    # -------------------------------------------------------------- rendering

    def _counts(self, app: AppDefinition) -> dict[str, int]:
        staged = running = healthy = unhealthy = 0
        for inst in self.by_app.get(app.id, {}).values():
            if inst.running:
                running += 1
            elif inst.state in (TaskState.STAGING.value, TaskState.STARTING.value):
                staged += 1
            if inst.healthy is True:
                healthy += 1
            elif inst.healthy is False:
                unhealthy += 1
        return {
            "tasksStaged": staged,
            "tasksRunning": running,
            "tasksHealthy": healthy,
            "tasksUnhealthy": unhealthy,
        }

    def _deployments_of(self, app_id: str) -> list[dict[str, str]]:
        return [{"id": r.plan.id} for r in self.runs.values() if app_id in r.plan.affected_apps]

    def _app_json(self, app: AppDefinition, embed: set[str]) -> dict[str, Any]:
        out = app.to_json()
        out.update(self._counts(app))
        out["deployments"] = self._deployments_of(app.id)
        if "apps.tasks" in embed or "app.tasks" in embed:
            checks = bool(app.health_checks)
            out["tasks"] = [i.to_json(checks) for i in self.by_app.get(app.id, {}).values()]
        if ("apps.lastTaskFailure" in embed or "app.lastTaskFailure" in embed) and (
            app.id in self.last_failure
        ):
            out["lastTaskFailure"] = self.last_failure[app.id]
        if "apps.readiness" in embed:
            out["readinessCheckResults"] = []
        return out

    def _waiting_reason(self, app_id: str) -> str:
        now = self.clock.now()
        backoff = self.backoff.get(app_id)
        if backoff is not None and backoff.is_delayed(now):
            left = (backoff.deadline or now) - now
            return (
                f"backoff: next launch in {left:.1f}s after {backoff.failures} "
                "consecutive failure(s)"
            )
        if not self.subscribed:
            return "waiting for the framework to (re)register with the master"
        stats = self.offer_stats.get(app_id)
        if stats is None or (stats.processed == 0):
            return "waiting for offers: none received yet"
        if stats.last_round:
            distinct = list(dict.fromkeys(stats.last_round))
            shown = "; ".join(distinct[:3])
            more = f" (+{len(distinct) - 3} more)" if len(distinct) > 3 else ""
            return f"waiting for offers: no offer matches: {shown}{more}"
        return "waiting for offers"

    def _queue_json(self) -> dict[str, Any]:
        now = self.clock.now()
        out = []
        for app_id, count in sorted(self.queue.items()):
            app = self._deploying_app(app_id)
            if app is None or count <= 0:
                continue
            stats = self.offer_stats.get(app_id) or _OfferStats()
            backoff = self.backoff.get(app_id) or LaunchBackoff.for_app(app)
            reject = [
                {"reason": reason, "declined": n, "processed": stats.processed}
                for reason, n in stats.reasons.most_common()
            ]
            out.append(
                {
                    "count": count,
                    "delay": backoff.to_json(now),
                    "since": timestamp(
                        self.clock.wall() - (now - self.queued_since.get(app_id, now))
                    ),
                    "app": app.to_json(),
                    "processedOffersSummary": {
                        "processedOffersCount": stats.processed,
                        "unusedOffersCount": stats.unused,
                        "lastUnusedOfferAt": timestamp(stats.last_unused_at)
                        if stats.last_unused_at
                        else None,
                        "lastUsedOfferAt": timestamp(stats.last_used_at)
                        if stats.last_used_at
                        else None,
                        "rejectSummaryLastOffers": reject,
                        "rejectSummaryLaunchAttempt": reject,
                    },
                    "lastUnusedOffers": list(stats.last_unused),
                    "waitingReason": self._waiting_reason(app_id),
                }
            )
        return {"queue": out}

    def _deployments_json(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        out = []
        for run in self.runs.values():
            doc = run.plan.to_json(min(run.step + 1, len(run.plan.steps)))
            for action_doc, action in zip(doc["currentActions"], run.current(), strict=False):
                app_id = action.app.id
                if app_id in run.done:
                    action_doc["waitingFor"] = "finished"
                    continue
                reasons = []
                state = self.restarts.get(app_id)
                if state is not None:
                    reasons.append(waiting_reason(state, now))
                if self.queue.get(app_id):
                    reasons.append(f"{self.queue[app_id]} queued: {self._waiting_reason(app_id)}")
                elif state is None:
                    tasks = self.by_app.get(app_id, {})
                    if isinstance(action, StopApplication):
                        reasons.append(f"waiting for {len(tasks)} instance(s) to terminate")
                    else:
                        serving = sum(1 for i in tasks.values() if self._serving(i, action.app))
                        reasons.append(
                            f"{serving} of {action.app.instances} instance(s) running"
                            + (" and healthy" if action.app.health_checks else "")
                            + (f", {len(tasks)} alive" if len(tasks) != serving else "")
                        )
                action_doc["waitingFor"] = "; ".join(reasons)
            out.append(doc)
        return out

    # ------------------------------------------------------------------- API

    def _api(self, req: ApiRequest) -> ApiReply:
        """Dispatch one REST operation. Until the state is loaded and the tasks adopted
        every operation but the status ones answers 503 with ``Retry-After``. An
        operation that raises answers 500 naming the app (503 when ZooKeeper did not
        answer) and is counted; it never takes the actor down."""
        handler = getattr(self, f"_op_{req.op}", None)
        if handler is None:
            return ApiReply(404, {"message": f"unknown operation {req.op!r}"})
        if self._adopting and req.op not in _ALWAYS_SERVED:
            return ApiReply(
                503,
                {
                    "message": "Marathon was just elected and is adopting "
                    f"{len(self._adopting)} task(s); retry"
                },
                {"Retry-After": "1"},
            )
        try:
            quarantined = self._quarantined_app_op(req)
            if quarantined is not None:
                return quarantined
            result: ApiReply = handler(req)
            if result.status < 300 and req.op in _APP_WRITES and req.app_id in self.q.apps:
                self.q.release_app(req.app_id, f"changed by {req.op}")
                self.dirty.add(req.app_id)
            return result
        except _Refused as exc:
            return ApiReply(exc.status, exc.body)
        except ValidationFailed as exc:
            return ApiReply(422, exc.body)
        except InvalidPath as exc:
            return ApiReply(
                422,
                {
                    "message": "Object is not valid",
                    "details": [{"path": "/id", "errors": [str(exc)]}],
                },
            )
        except ValueTooLarge as exc:
            # Refused by the state store before anything reached ZooKeeper (the
            # deployment, the largest document, is written first), as Marathon refuses a
            # deployment plan above --zk_max_node_size.
            return ApiReply(
                422,
                {
                    "message": f"Object is not valid: the change would store {exc.size} "
                    f"bytes in one document, above the limit of {exc.limit} bytes",
                    "details": [{"path": "/", "errors": [str(exc)]}],
                },
            )
        except Exception as exc:
            about = f" of app {req.app_id}" if req.app_id else ""
            if req.op == "create_app" and isinstance(req.body, dict):
                about = f" of app {str(req.body.get('id'))[:200]}"
            log.exception("marathon: %s%s failed", req.op, about)
            self.counters["api_errors"] += 1
            transient = isinstance(exc, ZkError | KazooException)
            return ApiReply(
                503 if transient else 500,
                {"message": f"{req.op}{about} failed: {type(exc).__name__}: {exc}"[:2000]},
                {"Retry-After": "1"} if transient else {},
            )

    def _quarantined_app_op(self, req: ApiRequest) -> ApiReply | None:
        """The answer for an operation on an app quarantined when its stored definition
        could not be loaded: ``DELETE`` removes it (the way out without touching
        ZooKeeper by hand), a read says why it is not served; None otherwise. The same
        for ``DELETE /v2/deployments/<id>`` of a quarantined deployment."""
        if req.op == "cancel_deployment":
            key = f"deployments/{req.params.get('deployment_id')}"
            if f"deployment:{key}" not in self.q.entries or key.endswith("/None"):
                return None
            self.store.delete_deployment(key.split("/", 1)[1])
            self.q.entries.pop(f"deployment:{key}", None)
            log.warning("marathon: quarantined %s deleted on request", key)
            return ApiReply(202, {})
        app_id = req.app_id
        if not app_id or app_id not in self.q.kept_apps or app_id in self.apps:
            return None
        reason = self.q.apps.get(app_id, "")
        if req.op == "delete_app":
            version = self._now_version()
            self.q.release_app(app_id, "deleted by DELETE /v2/apps")
            run = self._deploy(self.root, version, force=bool(req.params.get("force", False)))
            self.store.delete_versions(app_id)
            self.versions.pop(app_id, None)
            self.dirty.add(app_id)  # its tasks, if any, are killed now
            return self._deployed(run)
        if req.op in ("get_app", "app_tasks", "versions", "version", "kill_app_tasks"):
            return ApiReply(
                409,
                {
                    "message": f"App '{app_id}' is quarantined: its stored definition is not "
                    f"valid ({reason}). Replace it with PUT /v2/apps{app_id} or remove it "
                    f"with DELETE /v2/apps{app_id}; see GET /v2/quarantine."
                },
            )
        return None

    def _now_version(self) -> str:
        """Now, as a Marathon version; strictly after the root's (versions order history
        and deployments, and another master's clock may be a little ahead)."""
        now = self.clock.wall()
        last = self.root.version
        if last:
            try:
                last_s = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
            except ValueError:
                last_s = 0.0
            now = max(now, last_s + 0.001)
        return format_version(now)

    def _app_or_404(self, app_id: str | None) -> AppDefinition:
        app = self.apps.get(app_id or "")
        if app is None:
            raise _not_found(f"App '{app_id}' does not exist")
        return app

    def _deployed(self, run: _Run, status: int = 200) -> ApiReply:
        return ApiReply(
            status,
            {"version": run.plan.version, "deploymentId": run.plan.id},
            {
                "Marathon-Deployment-Id": run.plan.id,
                "Marathon-Deployment-Version": run.plan.version,
            },
        )

    def _op_list_apps(self, req: ApiRequest) -> ApiReply:
        embed = set(req.params.get("embed") or ())
        id_filter = req.params.get("id")
        label = req.params.get("label")
        apps = []
        for app_id in sorted(self.apps):
            app = self.apps[app_id]
            if id_filter and id_filter not in app_id:
                continue
            if label and not _label_matches(app, label):
                continue
            apps.append(self._app_json(app, embed))
        return ApiReply(200, {"apps": apps})

    def _op_get_app(self, req: ApiRequest) -> ApiReply:
        app = self._app_or_404(req.app_id)
        embed = set(req.params.get("embed") or ()) | {"apps.tasks", "apps.lastTaskFailure"}
        return ApiReply(200, {"app": self._app_json(app, embed)})

    def _op_create_app(self, req: ApiRequest) -> ApiReply:
        body = req.body
        if not isinstance(body, dict):
            raise ValidationFailed.single("/", "an app must be a JSON object")
        version = self._now_version()
        app = AppDefinition.from_json(body, version=version)
        if app.id in self.apps or _find_group(self.root, app.id) is not None:
            raise _Refused(
                409,
                {"message": f"An app with id [{app.id}] already exists.", "details": []},
            )
        if self.root.app(parent_of(app.id)) is not None:
            raise ValidationFailed.single("/id", f"{parent_of(app.id)} is an app, not a group")
        app = stamp_version(self._with_service_ports(app, None), None, version)
        run = self._deploy(self.root.put_app(app), version, force=req.params.get("force", False))
        self.bus.publish(
            "api_post_event", clientIp="", uri=f"/v2/apps{app.id}", appDefinition=app.to_json()
        )
        body_out = self._app_json(app, set())
        body_out["deployments"] = [{"id": run.plan.id}]
        headers = {
            "Location": f"/v2/apps{app.id}",
            "Marathon-Deployment-Id": run.plan.id,
            "Marathon-Deployment-Version": run.plan.version,
        }
        return ApiReply(201, body_out, headers)

    def _op_put_app(self, req: ApiRequest) -> ApiReply:
        """``PUT /v2/apps/{id}``: a partial update unless ``partialUpdate=false``
        (Marathon's default is true: ``{"instances": 4}`` scales); creates the app when
        it does not exist (then the body must be a whole app)."""
        app_id = normalize_path(req.app_id or "")
        body = req.body
        if not isinstance(body, dict):
            raise ValidationFailed.single("/", "an app must be a JSON object")
        existing = self.apps.get(app_id)
        version = self._now_version()
        app = self._updated_app(
            app_id,
            body,
            version,
            partial=bool(req.params.get("partial")),
            patch_only=bool(req.params.get("patch_only")),
        )
        run = self._deploy(
            self.root.put_app(app), version, force=bool(req.params.get("force", False))
        )
        self.bus.publish(
            "api_post_event", clientIp="", uri=f"/v2/apps{app.id}", appDefinition=app.to_json()
        )
        return self._deployed(run, 200 if existing is not None else 201)

    def _op_put_apps(self, req: ApiRequest) -> ApiReply:
        """``PUT /v2/apps`` with an array: each element updates (partially, unless
        ``partialUpdate=false``) or creates the app its ``id`` names; one deployment."""
        body = req.body
        if not isinstance(body, list) or not body:
            raise ValidationFailed.single("/", "expected a non-empty JSON array of apps")
        version = self._now_version()
        target = self.root
        seen: set[str] = set()
        assigned: set[int] = set()
        for index, item in enumerate(body):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise ValidationFailed.single(f"/{index}/id", "each app needs a string id")
            try:
                app_id = normalize_path(item["id"])
            except InvalidPath as exc:
                raise ValidationFailed.single(f"/{index}/id", str(exc)) from None
            if app_id in seen:
                raise ValidationFailed.single(f"/{index}/id", f"{app_id} is given twice")
            seen.add(app_id)
            try:
                app = self._updated_app(
                    app_id,
                    item,
                    version,
                    partial=bool(req.params.get("partial")),
                    assigned=assigned,
                )
            except ValidationFailed as exc:
                raise ValidationFailed(
                    [(f"/{index}{d['path']}", e) for d in exc.body["details"] for e in d["errors"]]
                ) from None
            target = target.put_app(app)
        run = self._deploy(target, version, force=bool(req.params.get("force", False)))
        return self._deployed(run)

    def _updated_app(
        self,
        app_id: str,
        body: dict[str, Any],
        version: str,
        *,
        partial: bool,
        patch_only: bool = False,
        assigned: set[int] | None = None,
    ) -> AppDefinition:
        """The app ``body`` makes of ``app_id``: merged onto the existing definition
        when ``partial``, else the whole definition; service ports assigned (kept where
        the app has them), version stamped, the existing one returned if unchanged."""
        existing = self.apps.get(app_id)
        if existing is not None and partial:
            app = patch_app(existing, body, version=version)
        else:
            if existing is None and partial and patch_only:
                raise _not_found(f"App '{app_id}' does not exist")
            doc = dict(body)
            if "id" in doc and doc["id"] is not None:
                given = normalize_path(str(doc["id"]), parent_of(app_id))
                if given != app_id:
                    raise ValidationFailed.single(
                        "/id", f"the id {given} does not match the URL's {app_id}"
                    )
            doc["id"] = app_id
            doc.pop("version", None)
            doc.pop("versionInfo", None)
            app = AppDefinition.from_json(doc)
        app = stamp_version(self._with_service_ports(app, existing, assigned), existing, version)
        if existing is not None and app.config() == existing.config():
            return existing  # nothing changed: keep the version
        return app

    def _with_service_ports(
        self, app: AppDefinition, previous: AppDefinition | None, assigned: set[int] | None = None
    ) -> AppDefinition:
        """``app`` with its 0 service ports assigned from the configured range, unique
        across apps (``assigned``: ports given to other apps of the same request)."""
        taken = taken_ports(self.apps.values(), besides=app.id)
        if assigned:
            taken |= assigned
        out = assign_service_ports(
            app, previous, taken, (self.config.local_port_min, self.config.local_port_max)
        )
        if assigned is not None:
            assigned.update(port for port in service_ports(out) if port)
        return out

    def _op_delete_app(self, req: ApiRequest) -> ApiReply:
        app = self._app_or_404(req.app_id)
        version = self._now_version()
        run = self._deploy(
            self.root.remove_app(app.id), version, force=bool(req.params.get("force", False))
        )
        self.store.delete_versions(app.id)
        self.versions.pop(app.id, None)
        return self._deployed(run)

    def _op_restart_app(self, req: ApiRequest) -> ApiReply:
        app = self._app_or_404(req.app_id)
        version = self._now_version()
        restarted = dataclasses.replace(
            app, version=version, version_info=VersionInfo(version, version)
        )
        run = self._deploy(
            self.root.put_app(restarted),
            version,
            force=bool(req.params.get("force", False)),
            restart=(app.id,),
        )
        return self._deployed(run)

    def _op_app_tasks(self, req: ApiRequest) -> ApiReply:
        app = self._app_or_404(req.app_id)
        checks = bool(app.health_checks)
        return ApiReply(
            200, {"tasks": [i.to_json(checks) for i in self.by_app.get(app.id, {}).values()]}
        )

    def _kill_tasks(
        self, victims: list[Instance], scale: bool, force: bool, wipe: bool = False
    ) -> ApiReply:
        if scale:
            by_app = Counter(i.app_id for i in victims)
            target = self.root
            for app_id, n in by_app.items():
                app = self.apps[app_id]
                version = self._now_version()
                scaled = dataclasses.replace(app, instances=max(0, app.instances - n))
                target = target.put_app(stamp_version(scaled, app, version))
            version = self._now_version()
            run = self._deploy(target, version, force=force)
            for inst in victims:
                self._kill(inst, "ScalingApp")
            return self._deployed(run)
        for inst in victims:
            self._kill(inst, "KillingTasksViaApi")
        self.dirty.update(i.app_id for i in victims)
        jsons = []
        for inst in victims:
            owner = self.apps.get(inst.app_id)
            jsons.append(inst.to_json(bool(owner and owner.health_checks)))
        return ApiReply(200, {"tasks": jsons})

    def _op_kill_app_tasks(self, req: ApiRequest) -> ApiReply:
        app = self._app_or_404(req.app_id)
        host = req.params.get("host")
        victims = [i for i in self.by_app.get(app.id, {}).values() if not host or i.host == host]
        return self._kill_tasks(
            victims, bool(req.params.get("scale")), bool(req.params.get("force"))
        )

    def _op_kill_task(self, req: ApiRequest) -> ApiReply:
        app = self._app_or_404(req.app_id)
        task_id = str(req.params.get("task_id"))
        inst = self.by_app.get(app.id, {}).get(task_id)
        if inst is None:
            raise _not_found(f"Task '{task_id}' does not exist")
        reply = self._kill_tasks(
            [inst], bool(req.params.get("scale")), bool(req.params.get("force"))
        )
        if not req.params.get("scale"):
            return ApiReply(200, {"task": reply.body["tasks"][0]})
        return reply

    def _op_delete_tasks(self, req: ApiRequest) -> ApiReply:
        body = req.body
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
            raise ValidationFailed.single("/ids", 'expected {"ids": ["task id", ...]}')
        victims = [self.instances[i] for i in ids if i in self.instances]
        unknown = [i for i in ids if i not in self.instances]
        if unknown and not victims:
            raise _not_found(f"Task(s) {', '.join(unknown)} do not exist")
        return self._kill_tasks(
            victims, bool(req.params.get("scale")), bool(req.params.get("force"))
        )

    def _op_list_tasks(self, req: ApiRequest) -> ApiReply:
        wanted = {s.lower() for s in req.params.get("status") or ()}
        out = []
        for app_id, tasks in self.by_app.items():
            app = self.apps.get(app_id)
            checks = bool(app and app.health_checks)
            for inst in tasks.values():
                if wanted and inst.state.removeprefix("TASK_").lower() not in wanted:
                    continue
                out.append(inst.to_json(checks))
        return ApiReply(200, {"tasks": out})

    def _op_versions(self, req: ApiRequest) -> ApiReply:
        app_id = req.app_id or ""
        history = self.versions.get(app_id)
        if history is None:
            raise _not_found(f"App '{app_id}' does not exist")
        return ApiReply(200, {"versions": [v.get("version") for v in reversed(history)]})

    def _op_version(self, req: ApiRequest) -> ApiReply:
        app_id = req.app_id or ""
        wanted = req.params.get("version")
        for doc in self.versions.get(app_id, []):
            if doc.get("version") == wanted:
                return ApiReply(200, doc)
        raise _not_found(f"App '{app_id}' has no version {wanted}")

    def _op_deployments(self, req: ApiRequest) -> ApiReply:
        return ApiReply(200, self._deployments_json())

    def _op_cancel_deployment(self, req: ApiRequest) -> ApiReply:
        run = self.runs.get(str(req.params.get("deployment_id")))
        if run is None:
            raise _not_found(f"DeploymentPlan {req.params.get('deployment_id')} does not exist")
        if req.params.get("force"):
            self._cancel(run, rollback=False, version="")
            return ApiReply(202, {})
        version = self._now_version()
        rollback = self._cancel(run, rollback=True, version=version)
        assert rollback is not None
        return self._deployed(rollback)

    def _op_get_group(self, req: ApiRequest) -> ApiReply:
        group_id = normalize_path(req.app_id or ROOT)
        group = _find_group(self.root, group_id)
        if group is None:
            raise _not_found(f"Group '{group_id}' does not exist")
        embed = set(req.params.get("embed") or ())
        return ApiReply(200, self._group_json(group, embed))

    def _group_json(self, group: Group, embed: set[str]) -> dict[str, Any]:
        app_embed = {e.replace("group.apps.", "apps.") for e in embed}
        out: dict[str, Any] = {
            "id": group.id,
            "apps": [self._app_json(a, app_embed) for a in group.apps],
            "groups": [self._group_json(g, embed) for g in group.groups],
            "dependencies": list(group.dependencies),
            "version": group.version or self.root.version,
            "pods": [],
        }
        return out

    def _op_put_group(self, req: ApiRequest) -> ApiReply:
        body = req.body
        if not isinstance(body, dict):
            raise ValidationFailed.single("/", "a group must be a JSON object")
        create = bool(req.params.get("create"))
        path_id = req.app_id
        doc = dict(body)
        if path_id:
            doc.setdefault("id", path_id)
        if "id" not in doc:
            raise ValidationFailed.single("/id", "a group needs an id")
        version = self._now_version()
        doc.pop("version", None)
        if "scaleBy" in doc:
            return self._scale_group(doc, version, req)
        if not create and req.params.get("partial", True):
            doc = self._merged_group_doc(doc, ROOT)
        group = Group.from_json(doc, base=ROOT, max_apps=MAX_GROUP_APPS)
        if group.id in self.apps:
            raise ValidationFailed.single("/id", f"{group.id} is an app, not a group")
        existing = _find_group(self.root, group.id)
        if create and existing is not None and group.id != ROOT:
            raise _Refused(
                409,
                {"message": f"Group {group.id} is already created. Use PUT to change this group."},
            )
        group = self._stamp_group(group, version)
        if existing is not None and not create and "apps" not in body and "groups" not in body:
            group = dataclasses.replace(existing, dependencies=group.dependencies)
        run = self._deploy(
            _replace_group(self.root, group), version, force=bool(req.params.get("force"))
        )
        return self._deployed(run, 201 if create else 200)

    def _merged_group_doc(self, doc: dict[str, Any], base: str) -> dict[str, Any]:
        """A group update with each app that exists already merged onto its current
        definition (Marathon's partial update: ``{"id": "web", "instances": 4}`` in a
        group PUT scales); new apps stay as given, to be validated whole."""
        try:
            group_id = normalize_path(str(doc.get("id", base)), base)
        except InvalidPath:
            return doc  # Group.from_json reports it with its path
        out = dict(doc)
        if isinstance(doc.get("apps"), list):
            apps = []
            for raw in doc["apps"]:
                existing = None
                if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    try:
                        existing = self.apps.get(normalize_path(raw["id"], group_id))
                    except InvalidPath:
                        existing = None
                apps.append(_merged_app_doc(existing, raw) if existing is not None else raw)
            out["apps"] = apps
        if isinstance(doc.get("groups"), list):
            out["groups"] = [
                self._merged_group_doc(g, group_id) if isinstance(g, dict) else g
                for g in doc["groups"]
            ]
        return out

    def _scale_group(self, doc: dict[str, Any], version: str, req: ApiRequest) -> ApiReply:
        group_id = normalize_path(str(doc["id"]))
        group = _find_group(self.root, group_id)
        if group is None:
            raise _not_found(f"Group '{group_id}' does not exist")
        factor = doc["scaleBy"]
        if not isinstance(factor, int | float) or not 0 <= factor <= MAX_INSTANCES:
            raise ValidationFailed.single(
                "/scaleBy", f"scaleBy must be a number in [0, {MAX_INSTANCES}], got {factor!r:.40}"
            )
        largest = max((a.instances for a in group.transitive_apps().values()), default=0)
        if round(largest * factor) > MAX_INSTANCES:
            raise ValidationFailed.single(
                "/scaleBy",
                f"scaleBy {factor:g} would give {round(largest * factor)} instances: "
                f"at most {MAX_INSTANCES} per app",
            )
        target = self.root
        for app in group.transitive_apps().values():
            scaled = dataclasses.replace(app, instances=round(app.instances * factor))
            target = target.put_app(stamp_version(scaled, app, version))
        return self._deployed(self._deploy(target, version, force=bool(req.params.get("force"))))

    def _stamp_group(self, group: Group, version: str, assigned: set[int] | None = None) -> Group:
        """Version stamps and service ports for every app of ``group`` (``assigned``:
        the service ports given to other apps of the same request so far)."""
        assigned = set() if assigned is None else assigned
        apps = []
        for app in group.apps:
            prev = self.apps.get(app.id)
            app = self._with_service_ports(app, prev, assigned)
            stamped = stamp_version(app, prev, version)
            apps.append(prev if prev is not None and prev.config() == app.config() else stamped)
        groups = tuple(self._stamp_group(g, version, assigned) for g in group.groups)
        return dataclasses.replace(group, apps=tuple(apps), groups=groups, version=version)

    def _op_delete_group(self, req: ApiRequest) -> ApiReply:
        group_id = normalize_path(req.app_id or ROOT)
        group = _find_group(self.root, group_id)
        if group is None:
            raise _not_found(f"Group '{group_id}' does not exist")
        version = self._now_version()
        target = Group(id=ROOT) if group_id == ROOT else _remove_group(self.root, group_id)
        gone = set(group.transitive_apps())
        run = self._deploy(target, version, force=bool(req.params.get("force")))
        for app_id in gone:
            self.store.delete_versions(app_id)
            self.versions.pop(app_id, None)
        return self._deployed(run)

    def _op_queue(self, req: ApiRequest) -> ApiReply:
        return ApiReply(200, self._queue_json())

    def _op_reset_delay(self, req: ApiRequest) -> ApiReply:
        app_id = req.app_id or ""
        if app_id not in self.apps:
            raise _not_found(f"Application {app_id} not found in tasks queue.")
        backoff = self.backoff.get(app_id)
        if backoff is not None:
            self.backoff[app_id] = backoff.reset()
        if self.subscribed and self.driver is not None:
            self.driver.revive()
        self.dirty.add(app_id)
        return ApiReply(204, None)

    def _op_info(self, req: ApiRequest) -> ApiReply:
        url = self.http_url()
        leader = url.removeprefix("http://").removeprefix("https://")
        return ApiReply(
            200,
            {
                "name": "marathon",
                "version": MARATHON_VERSION,
                "buildref": "pydcos",
                "elected": True,
                "leader": leader,
                "frameworkId": self.framework_id,
                "marathon_config": {
                    "master": self.master_address,
                    "failover_timeout": FAILOVER_TIMEOUT,
                    "framework_name": "marathon",
                    "hostname": self.hostname,
                    "decline_offer_duration": int(self.config.idle_refuse_seconds * 1000),
                    "reconciliation_interval": int(self.config.reconcile_interval * 1000),
                    "task_launch_timeout": 300000,
                    "mesos_role": "*",
                },
                "zookeeper_config": {"zk": "zk://.../marathon", "zk_session_timeout": 10000},
                "http_config": {"http_port": int(url.rsplit(":", 1)[-1] or 0) if url else 0},
                "event_subscriber": {"type": "http_callback", "http_endpoints": []},
            },
        )

    def _op_quarantine(self, req: ApiRequest) -> ApiReply:
        """``GET /v2/quarantine``: every stored record this leader refused to use, with
        where it is stored and why (see ``_quarantine.py``)."""
        return ApiReply(200, {"quarantined": self.q.to_json()})

    def _op_metrics(self, req: ApiRequest) -> ApiReply:
        gauges = {
            "marathon.apps.active.gauge": len(self.apps),
            "marathon.instances.running.gauge": sum(
                1 for i in self.instances.values() if i.running
            ),
            "marathon.instances.staged.gauge": sum(
                1 for i in self.instances.values() if i.state == TaskState.STAGING.value
            ),
            "marathon.instances.total.gauge": len(self.instances),
            "marathon.deployments.active.gauge": len(self.runs),
            "marathon.launch-queue.count.gauge": sum(self.queue.values()),
            "marathon.events.subscribers.gauge": self.bus.subscriber_count,
            "marathon.uptime.gauge": round(self.clock.wall() - self.started_wall, 3),
            "marathon.quarantined.gauge": len(self.q.entries),
            "marathon.adopting.gauge": len(self._adopting),
        }
        counters = {f"marathon.{k}.counter": v for k, v in sorted(self.counters.items())}
        return ApiReply(
            200,
            {
                "version": "4.0.0",
                "gauges": {k: {"value": v} for k, v in gauges.items()},
                "counters": {k: {"count": v} for k, v in counters.items()},
            },
        )


# ------------------------------------------------------------------------ helpers


_ALWAYS_SERVED = frozenset({"info", "metrics", "quarantine", "ping", "leader"})
"""Operations answered even while a new leader is still adopting its tasks."""
_APP_WRITES = frozenset({"put_app", "delete_app", "restart_app"})
"""Operations that replace an app's definition: they lift a run-time quarantine."""


def _attr_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _label_matches(app: AppDefinition, selector: str) -> bool:
    """Marathon's label selector, simplified: ``key``, ``key==value``, ``key!=value``."""
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            k, v = term.split("!=", 1)
            if app.labels.get(k.strip()) == v.strip():
                return False
        elif "==" in term:
            k, v = term.split("==", 1)
            if app.labels.get(k.strip()) != v.strip():
                return False
        elif term and term not in app.labels:
            return False
    return True


def _merged_app_doc(existing: AppDefinition, update: dict[str, Any]) -> dict[str, Any]:
    """A group update's app merged onto ``existing`` as ``patch_app`` merges, keeping
    the id as the update gave it (relative ids resolve against the enclosing group)."""
    merged = merged_app_json(existing, update)
    merged["id"] = update.get("id", existing.id)
    return merged


def _port_list(free: Resources) -> list[int]:
    out: list[int] = []
    for begin, end in free.ranges("ports"):
        out.extend(range(begin, min(end, begin + 2000) + 1))
    return out


def _unused(stats: _OfferStats, offer: p.Offer, reason: str, wall: float) -> None:
    stats.unused += 1
    stats.last_unused_at = wall
    stats.last_unused.append(
        {
            "offer": {
                "id": offer.offer_id,
                "agentId": offer.agent_id,
                "hostname": offer.hostname,
            },
            "timestamp": timestamp(wall),
            "reason": [reason],
        }
    )


def _fit(
    app: AppDefinition, free: Resources, free_ports: list[int]
) -> tuple[Resources | None, list[int], str, str]:
    """(resources to take, host ports, reject reason, detail) for one instance."""
    have = free.scalars()
    for name, want, reason in (
        ("cpus", app.cpus, "InsufficientCpus"),
        ("mem", app.mem, "InsufficientMemory"),
        ("disk", app.disk, "InsufficientDisk"),
        ("gpus", float(app.gpus), "InsufficientGpus"),
    ):
        if want > 0 and have.get(name, 0.0) + 1e-9 < want:
            return None, [], reason, f"{name}: need {want:g}, offer has {have.get(name, 0.0):g}"
    fixed: list[int] = []
    dynamic = 0
    if app.container is not None and app.container.port_mappings:
        for m in app.container.port_mappings:
            if m.host_port:
                fixed.append(m.host_port)
            else:
                dynamic += 1
    else:
        for d in app.port_definitions:
            if app.require_ports and d.port:
                fixed.append(d.port)
            else:
                dynamic += 1
    ports: list[int] = []
    available = set(free_ports)
    for port in fixed:
        if port not in available:
            return None, [], "InsufficientPorts", f"ports: host port {port} is not offered"
        ports.append(port)
    if dynamic:
        spare = [x for x in free_ports if x not in fixed][:dynamic]
        if len(spare) < dynamic:
            return (
                None,
                [],
                "InsufficientPorts",
                f"ports: need {dynamic} port(s), offer has {len(free_ports)}",
            )
        # Keep the order of the app's port list: fixed ports sit at their own index.
        ports = _ordered_ports(app, fixed, spare)
    scalars = {"cpus": app.cpus, "mem": app.mem}
    if app.disk:
        scalars["disk"] = app.disk
    if app.gpus:
        scalars["gpus"] = float(app.gpus)
    need = Resources.from_scalars(scalars)
    if ports:
        need = need + Resources.from_dict({"ports": [[x, x] for x in sorted(ports)]})
    return need, ports, "", ""


def _ordered_ports(app: AppDefinition, fixed: list[int], spare: list[int]) -> list[int]:
    out: list[int] = []
    spare_iter = iter(spare)
    if app.container is not None and app.container.port_mappings:
        for m in app.container.port_mappings:
            out.append(m.host_port if m.host_port else next(spare_iter))
    else:
        for d in app.port_definitions:
            out.append(d.port if app.require_ports and d.port else next(spare_iter))
    return out
