"""The dashboard's picture of the cluster, built from events (pure: no I/O, no Textual).

A feed (``_feed.LiveSource`` or a test's fake) emits the records below; ``Model.apply``
folds each into the state and returns which tables changed, so the app redraws only
those, and only the rows that differ. Marathon's SSE events arrive as ``MarathonEvent``
with the public shapes (``status_update_event``, ``deployment_info``...).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors.task_states import TERMINAL_STATES, TaskState

STAGED = frozenset({TaskState.STAGING, TaskState.STARTING})
"""States of a task that has not started yet (``TaskState`` compares equal to its
wire name, so the events' plain strings are looked up directly)."""

# -- events (what a feed emits) -----------------------------------------------------


@dataclass(frozen=True)
class LeaderChanged:
    """The leading master changed; all None while an election is in progress."""

    address: str | None
    http_url: str | None = None
    hostname: str | None = None


@dataclass(frozen=True)
class LeaderLost:
    """The leader stopped answering (its event stream broke and its HTTP port is shut)
    while ZooKeeper still names it: its session has not expired yet, so no successor is
    published. From here until the next ``LeaderChanged`` the cluster has no leader."""

    address: str


@dataclass(frozen=True)
class Masters:
    """Every master in the election (ZooKeeper contenders), the leader first, and the
    masters the cluster is known to have (``known``: the local cluster's state dir), so a
    master that died, and left the election, still shows, as ``down``."""

    masters: list[dict[str, Any]]
    known: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Nodes:
    """``/mesos/master/slaves``' ``slaves`` (the slow periodic refresh)."""

    slaves: list[dict[str, Any]]


@dataclass(frozen=True)
class Apps:
    """``/marathon/v2/apps?embed=apps.counts`` (after a (re)connect)."""

    apps: list[dict[str, Any]]


@dataclass(frozen=True)
class Tasks:
    """Active tasks: Marathon's ``/v2/tasks`` or the master's, after a (re)connect."""

    tasks: list[dict[str, Any]]


@dataclass(frozen=True)
class Deployments:
    deployments: list[dict[str, Any]]


@dataclass(frozen=True)
class Jobs:
    """``/metronome/v1/jobs?embed=activeRuns,schedules,historySummary``."""

    jobs: list[dict[str, Any]]


@dataclass(frozen=True)
class Quarantined:
    """``GET /marathon/v2/quarantine`` or ``/metronome/v1/quarantine``: stored records the
    leader refused to load (``path``, ``kind``, ``id``, ``reason``, ``since``)."""

    service: str
    """``marathon`` or ``metronome``."""
    records: list[dict[str, Any]]


@dataclass(frozen=True)
class MarathonEvent:
    """One event of ``/marathon/v2/events`` (its JSON data)."""

    event: dict[str, Any]


@dataclass(frozen=True)
class FeedNote:
    """Something the feed wants the user to know (a reconnect, an error)."""

    text: str


# -- rows -----------------------------------------------------------------------------


@dataclass
class App:
    id: str
    instances: int = 0
    healthy: int = 0
    has_health: bool = False
    deployments: set[str] = field(default_factory=set)
    container: str = "MESOS"
    cmd: str = ""
    vips: tuple[str, ...] = ()
    """Its named VIPs' ``host:port`` (``VIP_n`` port labels), for the dashboard's names."""


def app_names(app: App) -> list[str]:
    """An app's DNS names: Mesos-DNS' (``/shop/web`` -> ``web-shop.marathon.mesos``) and
    its VIPs' (``shop.marathon.l4lb.thisdcos.directory:80``)."""
    label = "-".join(reversed([p for p in app.id.strip("/").split("/") if p]))
    return [f"{label}.marathon.mesos", *app.vips]


def _vips_of(a: dict[str, Any]) -> tuple[str, ...]:
    from actors.l4lb import InvalidVip, is_vip_label, parse_vip, vip_hostname

    ports = a.get("portDefinitions") or ((a.get("container") or {}).get("portMappings")) or []
    out: list[str] = []
    for port in ports if isinstance(ports, list) else []:
        labels = port.get("labels") if isinstance(port, dict) else None
        for key, value in sorted((labels or {}).items()):
            if is_vip_label(key):
                try:
                    spec = parse_vip(value)
                except InvalidVip:
                    continue
                host = vip_hostname(spec.name) if spec.name else spec.ip
                out.append(f"{host}:{spec.port}")
    return tuple(out)


@dataclass
class Task:
    id: str
    app: str
    state: str
    host: str = ""
    healthy: bool | None = None
    framework: str = ""


def master_state(
    address: str, up: set[str], leader: str | None, electing: bool, lost: str | None
) -> str:
    """A master's ROLE cell: ``down`` when it left the election or stopped answering as
    leader; ``electing`` for the live ones while there is no leader; else leader/standby."""
    if address not in up or address == lost:
        return "down"
    if electing:
        return "electing"
    return "leader" if address == leader else "standby"


class Model:
    """Folded state. ``apply(event)`` -> names of the tables that changed."""

    def __init__(self, max_events: int = 500, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.leader: LeaderChanged | None = None
        self.electing = True
        self.known_masters: dict[str, dict[str, Any]] = {}
        """Every master ever seen (contenders, the state dir), by transport address."""
        self.masters_up: set[str] = set()
        """Addresses in the election right now (the last ``Masters``)."""
        self.lost: str | None = None
        """The leader that stopped answering (``LeaderLost``), until it is replaced."""
        self.nodes: dict[str, dict[str, Any]] = {}
        self.apps: dict[str, App] = {}
        self.tasks: dict[str, Task] = {}
        self.deployments: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.quarantined: dict[str, list[dict[str, Any]]] = {}
        """Per service, the stored records its leader quarantined (the header warns)."""
        self.events: deque[tuple[float, str]] = deque(maxlen=max_events)
        self.new_events: list[tuple[float, str]] = []

    def log(self, text: str, now: float | None = None) -> None:
        item = (self.clock() if now is None else now, text)
        self.events.append(item)
        self.new_events.append(item)

    # -- derived ------------------------------------------------------------------

    @property
    def masters(self) -> list[dict[str, Any]]:
        """Known masters by hostname, each with its ``state`` (see ``master_state``)."""
        lead = self.leader.address if self.leader else None
        out = []
        for addr, info in self.known_masters.items():
            state = master_state(addr, self.masters_up, lead, self.electing, self.lost)
            out.append({**info, "address": addr, "state": state})
        return sorted(out, key=lambda x: (str(x.get("hostname", "")), str(x["address"])))

    def app_counts(self, app_id: str) -> tuple[int, int, int]:
        """(running, staged, healthy) of an app, from its tasks."""
        running = staged = healthy = 0
        for t in self.tasks.values():
            if t.app != app_id:
                continue
            if t.state == "TASK_RUNNING":
                running += 1
                healthy += t.healthy is True
            elif t.state in STAGED:
                staged += 1
        return running, staged, healthy

    # -- folding ------------------------------------------------------------------

    def apply(self, ev: object) -> set[str]:
        if isinstance(ev, LeaderChanged):
            old = self.leader if self.leader and self.leader.address else None
            if ev.address is None:
                if self.electing and self.leader is not None:
                    return set()  # already electing (a lost leader, then ZooKeeper agrees)
                self.lost = old.address if old else self.lost
                self.log(f"leader {leader_name(old)} gone: electing a new leader")
            elif self.electing or old is None or old.address != ev.address:
                self.log(f"leader is {ev.hostname or ev.address} ({ev.http_url})")
            if ev.address is not None and ev.address == self.lost:
                self.lost = None  # it came back (a blip, not a death)
            self.leader = ev
            self.electing = ev.address is None
            if ev.address is not None:
                self.known_masters.setdefault(
                    ev.address, {"hostname": ev.hostname or "", "http_url": ev.http_url or ""}
                )
                self.masters_up.add(ev.address)
            return {"header", "masters", "events"}
        if isinstance(ev, LeaderLost):
            lead = self.leader.address if self.leader else None
            if lead != ev.address or self.electing:
                return set()  # an old leader's stream; the successor is already known
            self.lost = ev.address
            self.electing = True
            self.log(f"leader {leader_name(self.leader)} stopped answering: electing a new leader")
            return {"header", "masters", "events"}
        if isinstance(ev, Masters):
            self._masters(ev)
            return {"masters", "header"}
        if isinstance(ev, Nodes):
            self.nodes = {str(a.get("id")): a for a in ev.slaves}
            return {"nodes"}
        if isinstance(ev, Apps):
            self.apps = {}
            for a in ev.apps:
                app = _app_from_json(a)
                self.apps[app.id] = app
            return {"apps"}
        if isinstance(ev, Tasks):
            self.tasks = {}
            for t in ev.tasks:
                task = _task_from_json(t)
                if task.state not in TERMINAL_STATES:
                    self.tasks[task.id] = task
            return {"tasks", "apps"}
        if isinstance(ev, Deployments):
            self.deployments = {str(d.get("id")): d for d in ev.deployments}
            for app in self.apps.values():
                app.deployments = {
                    i
                    for i, d in self.deployments.items()
                    if app.id in (d.get("affectedApps") or [])
                }
            return {"apps"}
        if isinstance(ev, Jobs):
            self.jobs = {str(j.get("id")): j for j in ev.jobs}
            return {"jobs"}
        if isinstance(ev, Quarantined):
            return self._quarantined(ev)
        if isinstance(ev, MarathonEvent):
            return self._marathon(ev.event)
        if isinstance(ev, FeedNote):
            self.log(ev.text)
            return {"events"}
        return set()

    @property
    def quarantine_count(self) -> int:
        return sum(len(v) for v in self.quarantined.values())

    def _quarantined(self, ev: Quarantined) -> set[str]:
        def key(r: dict[str, Any]) -> str:
            return str(r.get("path") or r.get("id") or r)

        seen = {key(r) for r in self.quarantined.get(ev.service, [])}
        for r in ev.records:
            if key(r) not in seen:
                what = f"{r.get('kind', 'record')} {r.get('id') or r.get('path', '')}".strip()
                self.log(f"{ev.service} quarantined {what}: {r.get('reason', '')}")
        self.quarantined[ev.service] = list(ev.records)
        return {"header", "events"}

    def _masters(self, ev: Masters) -> None:
        up = {str(x.get("address")): x for x in ev.masters if x.get("address")}
        for addr, x in up.items():
            self.known_masters[addr] = {
                "hostname": str(x.get("hostname", "")),
                "http_url": str(x.get("http_url", "")),
            }
        for x in ev.known:
            addr = str(x.get("address") or "")
            if addr:
                self.known_masters.setdefault(
                    addr,
                    {
                        "hostname": str(x.get("hostname", "")),
                        "http_url": str(x.get("http_url", "")),
                    },
                )
        # A master restarted on a new address: its old, down entry is the same machine.
        urls = {str(x.get("http_url")) for x in up.values() if x.get("http_url")}
        for addr in [a for a, x in self.known_masters.items() if a not in up]:
            if self.known_masters[addr].get("http_url") in urls:
                del self.known_masters[addr]
        self.masters_up = set(up)
        if self.lost is not None and self.lost not in up:
            self.lost = None  # ZooKeeper caught up: it is down by membership now

    def _marathon(self, e: dict[str, Any]) -> set[str]:
        kind = str(e.get("eventType", ""))
        if kind == "status_update_event":
            task_id = str(e.get("taskId", ""))
            state = str(e.get("taskStatus", ""))
            app_id = str(e.get("appId", ""))
            known = self.tasks.get(task_id)
            before = known.state if known is not None else None
            if state in TERMINAL_STATES:
                self.tasks.pop(task_id, None)
            else:
                t = known
                if t is None:
                    t = self.tasks[task_id] = Task(task_id, app_id, state, framework="marathon")
                t.state = state
                t.host = str(e.get("host") or t.host)
            if before == state:
                return {"tasks"}  # a repeat (reconciliation, a new leader): not news
            self.log(f"{app_id} {task_id[-12:]} {state}")
            return {"tasks", "apps", "events"}
        if kind in ("health_status_changed_event",):
            t = self.tasks.get(str(e.get("taskId") or e.get("instanceId") or ""))
            if t is not None:
                t.healthy = bool(e.get("alive"))
            self.log(f"{e.get('appId')} health {'ok' if e.get('alive') else 'failing'}")
            return {"tasks", "apps", "events"}
        if kind == "deployment_info":
            plan = e.get("plan") or {}
            dep_id = str(plan.get("id", ""))
            apps = _plan_apps(plan)
            self.deployments[dep_id] = {"id": dep_id, "affectedApps": apps}
            for a in apps:
                if a in self.apps:
                    self.apps[a].deployments.add(dep_id)
            self.log(f"deployment {dep_id[:8]} started: {', '.join(apps)}")
            return {"apps", "events"}
        if kind in ("deployment_success", "deployment_failed"):
            dep_id = str(e.get("id") or (e.get("plan") or {}).get("id", ""))
            self.deployments.pop(dep_id, None)
            for app in self.apps.values():
                app.deployments.discard(dep_id)
            word = "finished" if kind == "deployment_success" else "FAILED"
            self.log(f"deployment {dep_id[:8]} {word}")
            return {"apps", "events"}
        if kind == "api_post_event":
            app = _app_from_json(e.get("appDefinition") or {})
            old = self.apps.get(app.id)
            if old is not None:
                app.deployments = old.deployments
            self.apps[app.id] = app
            self.log(f"app {app.id} changed: {app.instances} instance(s)")
            return {"apps", "events"}
        if kind == "app_terminated_event":
            app_id = str(e.get("appId", ""))
            self.apps.pop(app_id, None)
            self.log(f"app {app_id} removed")
            return {"apps", "events"}
        if kind in ("scheduler_registered_event", "scheduler_reregistered_event"):
            self.log(f"marathon {kind.split('_')[1]} with master {e.get('master', '')}")
            return {"events"}
        return set()


def leader_name(leader: LeaderChanged | None) -> str:
    if leader is None or leader.address is None:
        return "?"
    return leader.hostname or leader.address


def _plan_apps(plan: dict[str, Any]) -> list[str]:
    apps = plan.get("affectedApps")
    if isinstance(apps, list):
        return [str(a) for a in apps]
    out: list[str] = []
    for step in plan.get("steps") or []:
        for action in (step or {}).get("actions") or []:
            a = str(action.get("app", ""))
            if a and a not in out:
                out.append(a)
    return out


def _app_from_json(a: dict[str, Any]) -> App:
    container = a.get("container") or {}
    image = (container.get("docker") or {}).get("image", "")
    return App(
        id=str(a.get("id", "")),
        instances=int(a.get("instances", 0) or 0),
        has_health=bool(a.get("healthChecks")),
        deployments={str(d.get("id")) for d in a.get("deployments") or [] if isinstance(d, dict)},
        container=str(container.get("type", "MESOS")),
        cmd=str(a.get("cmd") or image or ""),
        vips=_vips_of(a),
    )


def _task_from_json(t: dict[str, Any]) -> Task:
    """A task of Marathon's ``/v2/tasks`` or of the master's ``/mesos/master/tasks``."""
    if "appId" in t:
        hc = t.get("healthCheckResults") or []
        return Task(
            id=str(t.get("id", "")),
            app=str(t.get("appId", "")),
            state=str(t.get("state") or t.get("taskStatus") or "TASK_RUNNING"),
            host=str(t.get("host", "")),
            healthy=all(h.get("alive") for h in hc) if hc else None,
            framework="marathon",
        )
    st = t.get("statuses") or [{}]
    return Task(
        id=str(t.get("id", "")),
        app=str(t.get("name", "")),
        state=str(t.get("state", "")),
        host=str(t.get("slave_id", "")),
        healthy=st[-1].get("healthy"),
        framework=str(t.get("framework_id", "")),
    )
