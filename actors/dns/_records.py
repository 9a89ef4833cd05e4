"""The record table as a pure function of the leader's Mesos v1 operator events.

```
 MasterEvent.event ──apply_event──> ClusterView ──build_table──> RecordTable (immutable)
   SUBSCRIBED (full state: reset)     tasks, agents, frameworks,     a:   name -> IPs
   TASK_ADDED / TASK_UPDATED          leader, masters                srv: name -> targets
   AGENT_ADDED / AGENT_REMOVED                                       the Mesos-DNS HTTP views
   FRAMEWORK_ADDED/UPDATED/REMOVED
```

Names (zone ``mesos``, as Mesos-DNS ``records/generator.go``; zone
``thisdcos.directory`` as dcos-net):

* ``<task>.<fw>.mesos`` A: the container's IP when it has one, else the agent's;
  ``<task>-<hash>-<agent>.<fw>.mesos`` (canonical) likewise; ``<task>.<fw>.slave.mesos``
  and the canonical ``...slave.mesos``: the agent's IP.
* SRV from the task's host ports (``ports`` resources): ``_<task>._tcp|_udp.<fw>.slave.mesos``
  -> canonical ``.slave.mesos``; without DiscoveryInfo also ``_<task>._tcp|_udp.<fw>.mesos``.
  With DiscoveryInfo, each discovery port: ``_<task>._<proto>.<fw>.mesos`` -> canonical
  ``.<fw>.mesos`` at that port.
* ``leader.mesos``, ``master.mesos``, ``_leader._tcp|_udp.mesos``, ``slave.mesos`` and
  ``agent.mesos``, ``_slave._tcp.mesos``, ``ns1.mesos`` (this server), SOA and NS.
* ``<task>.<fw>.autoip|agentip|containerip.dcos.thisdcos.directory``; VIP names
  (``<vip>.marathon.l4lb.thisdcos.directory``) come in as ``extra_a`` from the load
  balancer's pure naming.

Only RUNNING tasks get records (Mesos-DNS' rule); a task that ends, or whose agent or
framework goes away, loses them in the next table. Every name is lower-case, absolute
(trailing dot).

``build_table`` is the reference (and the table before the first state); the DnsActor
serves ``actors.dns._index.TableIndex``, which keeps the same table change by change
(``Changes`` says what each event touched) and must equal it after every event.
"""

from __future__ import annotations

import functools
import ipaddress
import sys
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from actors.dns._names import agent_id_tail, domain_frag, label, task_hash

DOMAIN = "mesos"
DCOS_DOMAIN = "thisdcos.directory"
ZONES = (DOMAIN + ".", DCOS_DOMAIN + ".")
"""The zones this server answers with authority; everything else is forwarded."""

RUNNING = "TASK_RUNNING"
RECOVERING_CARRY = 600.0
"""Seconds at most a carried task of an agent the leader lists as recovered is kept
(Mesos' default ``agent_reregister_timeout``, 10 min): the leader ends its wait with an
AGENT_REMOVED for each agent that did not come back, so this only bounds a lost one."""
TERMINAL_STATES = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)


@dataclass(frozen=True, slots=True)
class PortView:
    """One DiscoveryInfo port of a task."""

    number: int
    name: str = ""
    protocol: str = "tcp"
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TaskView:
    """What DNS needs of a v1 Task (and its latest status)."""

    task_id: str
    name: str
    framework_id: str
    agent_id: str
    state: str
    discovery_name: str | None = None
    discovery_ports: tuple[PortView, ...] = ()
    host_ports: tuple[int, ...] = ()
    container_ips: tuple[str, ...] = ()
    healthy: bool | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The v1 Task as it arrived (the load balancer's naming reads its port labels)."""

    @property
    def key(self) -> str:
        return f"{self.framework_id}/{self.task_id}"


@dataclass(frozen=True, slots=True)
class SrvTarget:
    target: str
    port: int
    priority: int = 0
    weight: int = 1


@dataclass
class ClusterView:
    """The leader's state as far as DNS cares, updated event by event."""

    master_id: str = ""
    leader: tuple[str, int] | None = None
    """The leading master's (IP, port), from its actor address."""
    masters: tuple[str, ...] = ()
    """Every master IP this node knows (at least the leader and itself)."""
    agents: dict[str, tuple[str, int]] = field(default_factory=dict)
    """agent id -> (IP, port) from its pid ``slave(1)@ip:port``."""
    frameworks: dict[str, str] = field(default_factory=dict)
    """framework id -> name."""
    framework_hosts: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, TaskView] = field(default_factory=dict)
    """``framework/task`` -> the task (non-terminal ones only)."""
    carried: dict[str, float] = field(default_factory=dict)
    """Tasks kept from the previous leader's state, ``key -> until`` (clock seconds):
    after a failover the new leader learns an agent's tasks only when the agent
    re-registers, so its first state lacks them; dropping them would answer NXDOMAIN
    for names that still exist (dcos/dcos#6267)."""
    carried_agents: dict[str, float] = field(default_factory=dict)
    """Agents kept with the carried tasks (id -> until) until they are added again."""
    carried_frameworks: dict[str, float] = field(default_factory=dict)
    """Frameworks kept with the carried tasks (id -> until) until they are added again."""
    carry_floor: float = 0.0
    """Nothing carried goes before this: ``carry_for`` after the last AGENT_ADDED while
    anything was carried. A leader still taking re-registrations (a storm of 10,000
    agents lasts longer than ``carry_for``) has not given up on the agents still to
    come, listed as recovered or not (a leader that had not read its registry yet
    lists none)."""
    recovering: dict[str, list[str]] = field(default_factory=dict)
    """Agents the leader lists as ``recovered_agents`` (known from its registry, not
    re-registered yet) -> the carried task keys on them. Their tasks are carried while
    the leader expects them back (``RECOVERING_CARRY`` at most), not ``carry_for``: a
    10,000-agent storm outlasts 15 s, and dropping then re-adding a quarter of the tasks
    answered NXDOMAIN for live names and cost the new leader two table changes per task.
    AGENT_ADDED (back: ``carry_for`` from then for what it does not re-send) or
    AGENT_REMOVED (given up: dropped now) ends it."""


@dataclass(frozen=True)
class DnsConfig:
    """Naming and answer settings (pure: the server's sockets live elsewhere)."""

    ttl: int = 5
    rfc952: bool = True
    ns_ip: str = "127.0.0.1"
    """The address ``ns1.mesos`` resolves to (this server's)."""
    soa_refresh: int = 60
    soa_retry: int = 600
    soa_expire: int = 86400


@dataclass(frozen=True)
class RecordTable:
    """An immutable snapshot served as a whole: a new table is built, then swapped in,
    so a name that exists in both never answers NXDOMAIN in between."""

    a: Mapping[str, tuple[str, ...]]
    srv: Mapping[str, tuple[SrvTarget, ...]]
    serial: int
    config: DnsConfig
    enumerate_source: Mapping[str, Any] | Callable[[], Mapping[str, Any]]
    """Mesos-DNS' ``/v1/enumerate`` document, or what makes it on first use (the
    incremental table: building it per change would cost a walk over every task)."""
    names: Container[str] = frozenset()
    """Every name that exists (with records or as an empty non-terminal), for NODATA
    versus NXDOMAIN."""
    ready: bool = True
    """False until the first leader state arrived (answers SERVFAIL, never NXDOMAIN)."""

    def exists(self, name: str) -> bool:
        return name in self.names

    @functools.cached_property
    def enumerate(self) -> Mapping[str, Any]:
        """Mesos-DNS' ``/v1/enumerate`` document."""
        source = self.enumerate_source
        return source() if callable(source) else source


@dataclass
class Changes:
    """What the events applied since the last table touched (``apply_event`` fills it
    in, the incremental table reads and clears it): ``framework/task`` keys, agent ids,
    framework ids; ``everything`` after a fresh subscription (a new view)."""

    tasks: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    frameworks: set[str] = field(default_factory=set)
    everything: bool = False

    def clear(self) -> None:
        self.tasks.clear()
        self.agents.clear()
        self.frameworks.clear()
        self.everything = False


# ---------------------------------------------------------------- v1 JSON readers


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _list(x: Any) -> list[Any]:
    return x if isinstance(x, list) else []


def _value(d: Any, key: str) -> str:
    v = d.get(key) if isinstance(d, dict) else None
    if isinstance(v, dict):
        v = v.get("value")
    return v if isinstance(v, str) else ""


@functools.lru_cache(maxsize=1 << 16)
def _ipv4(text: str) -> str | None:
    """``text`` as a canonical IPv4 address, or None. Cached: a cluster has a few
    thousand addresses and each task's status repeats its agent's (ipaddress' parse was
    a quarter of a re-registration storm's cost in the DNS)."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def _pid_host_port(pid: Any) -> tuple[str, int] | None:
    """``slave(1)@127.0.0.1:5051`` or ``tcp://127.0.0.1:5051/agent`` -> (IP, port)."""
    if not isinstance(pid, str):
        return None
    rest = pid.split("@", 1)[1] if "@" in pid else pid
    if "://" in rest:
        rest = rest.split("://", 1)[1]
    rest = rest.split("/", 1)[0]
    host, _, port = rest.rpartition(":")
    ip = _ipv4(host)
    if ip is None or not port.isdigit():
        return None
    return ip, int(port)


def _host_ports(resources: Any) -> tuple[int, ...]:
    out: list[int] = []
    if not isinstance(resources, list):
        return ()
    for r in resources:
        if not isinstance(r, dict) or r.get("name") != "ports":
            continue
        ranges = _list(_dict(r.get("ranges")).get("range"))
        for rg in ranges:
            begin, end = rg.get("begin"), rg.get("end")
            if isinstance(begin, int) and isinstance(end, int) and 0 < begin <= end < 65536:
                out.extend(range(begin, min(end, begin + 64) + 1))
    return tuple(out)


def _container_ips(status: Any) -> tuple[str, ...]:
    cs = status.get("container_status") if isinstance(status, dict) else None
    infos = cs.get("network_infos") if isinstance(cs, dict) else None
    out: list[str] = []
    for info in infos if isinstance(infos, list) else []:
        addrs = info.get("ip_addresses") if isinstance(info, dict) else None
        for addr in addrs if isinstance(addrs, list) else []:
            ip = _ipv4(str(addr.get("ip_address", ""))) if isinstance(addr, dict) else None
            if ip is not None and ip not in out:
                out.append(ip)
    return tuple(out)


def _discovery(task: dict[str, Any]) -> tuple[str | None, tuple[PortView, ...]]:
    disc = task.get("discovery")
    if not isinstance(disc, dict):
        return None, ()
    name = disc.get("name") if isinstance(disc.get("name"), str) else None
    ports: list[PortView] = []
    raw = _list(_dict(disc.get("ports")).get("ports"))
    for p in raw if isinstance(raw, list) else []:
        if not isinstance(p, dict) or not isinstance(p.get("number"), int):
            continue
        if not 0 < p["number"] < 65536:
            continue
        labels = _list(_dict(p.get("labels")).get("labels"))
        pairs = tuple(
            (str(lb.get("key", "")), str(lb.get("value", "")))
            for lb in (labels if isinstance(labels, list) else [])
            if isinstance(lb, dict)
        )
        proto = str(p.get("protocol") or "tcp").lower()
        ports.append(PortView(p["number"], str(p.get("name") or ""), proto, pairs))
    return name, tuple(ports)


def status_fields(task: dict[str, Any]) -> tuple[str, tuple[str, ...], bool | None]:
    """What a v1 Task's ``TaskView`` takes from its state and ``statuses``: (state,
    container IPs: the latest status with any, healthy: the latest status')."""
    raw_statuses = task.get("statuses")
    statuses: list[Any] = raw_statuses if isinstance(raw_statuses, list) else []
    latest = _dict(statuses[-1]) if statuses else {}
    ips: tuple[str, ...] = ()
    for st in reversed(statuses):
        ips = _container_ips(st)
        if ips:
            break
    healthy = latest.get("healthy")
    state = str(task.get("state") or latest.get("state") or "")
    return state, ips, healthy if isinstance(healthy, bool) else None


READ_FIELDS = ("name", "discovery")
"""The fields of a v1 Task that ``task_view`` reads whole besides its ids (the key),
agent, state, statuses and resources (only their host ports: a new leader renders a
re-registered task's resources from the agent's report, role and all, so equal ports
in unequal resources were read whole again: 37% of the DNS' storm cost at 5k/50k), and
that VIP names are read from (``discovery``' port labels): nothing else of a task held
changes a record (labels, container, kill policy...)."""


def unchanged_task(held: TaskView, raw: dict[str, Any]) -> bool:
    """Whether the v1 Task ``raw`` (a TASK_ADDED for ``held``'s key) reads as ``held``
    exactly, without reading it whole (``task_view``: ~60% of a storm event's cost):
    the ``READ_FIELDS`` equal to those of the v1 Task ``held`` was read from (a
    TASK_UPDATED never changes what they give), the same agent, and the same state,
    container IPs and health (``status_fields``). ``held`` keeps its v1 Task then."""
    old = held.raw
    if raw is not old:
        for key in READ_FIELDS:
            if raw.get(key) != old.get(key):
                return False
        resources = raw.get("resources")
        if resources != old.get("resources") and _host_ports(resources) != held.host_ports:
            return False
    if _value(raw, "agent_id") != held.agent_id:
        return False
    return status_fields(raw) == (held.state, held.container_ips, held.healthy)


def task_view(task: dict[str, Any]) -> TaskView | None:
    """A v1 Task -> TaskView; None when it lacks an id, framework or agent."""
    task_id, fw, agent = _value(task, "task_id"), _value(task, "framework_id"), ""
    agent = _value(task, "agent_id")
    if not task_id or not fw:
        return None
    state, ips, healthy = status_fields(task)
    name, ports = _discovery(task)
    return TaskView(
        task_id=task_id,
        name=str(task.get("name") or task_id),
        framework_id=fw,
        agent_id=agent,
        state=state,
        discovery_name=name,
        discovery_ports=ports,
        host_ports=_host_ports(task.get("resources")),
        container_ips=ips,
        healthy=healthy,
        raw=task,
    )


# ---------------------------------------------------------------- events


def _set_agent(view: ClusterView, agent: Any, changes: Changes | None = None) -> None:
    if not isinstance(agent, dict):
        return
    info = _dict(agent.get("agent_info"))
    agent_id = _value(info, "id")
    hp = _pid_host_port(agent.get("pid"))
    if hp is None:
        ip = _ipv4(str(info.get("hostname", "")))
        port = info.get("port")
        hp = (ip, port if isinstance(port, int) and 0 < port < 65536 else 5051) if ip else None
    if agent_id and hp is not None:
        view.agents[agent_id] = hp
        view.carried_agents.pop(agent_id, None)
        if changes is not None:
            changes.agents.add(agent_id)


def _set_framework(view: ClusterView, fw: Any, changes: Changes | None = None) -> None:
    if not isinstance(fw, dict):
        return
    info = _dict(fw.get("framework_info"))
    fid = _value(info, "id")
    name = info.get("name")
    if fid and isinstance(name, str):
        if changes is not None:
            changes.frameworks.add(fid)
        view.frameworks[fid] = name
        view.carried_frameworks.pop(fid, None)
        ip = _ipv4(str(info.get("hostname", "")))
        if ip:
            view.framework_hosts[fid] = ip


def _set_task(view: ClusterView, task: Any, changes: Changes | None = None) -> None:
    tv = task_view(task) if isinstance(task, dict) else None
    if tv is None:
        return
    if changes is not None:
        changes.tasks.add(tv.key)
    view.carried.pop(tv.key, None)
    if tv.state in TERMINAL_STATES:
        view.tasks.pop(tv.key, None)
    else:
        view.tasks[tv.key] = tv


def reset(
    view: ClusterView,
    get_state: dict[str, Any],
    master_id: str = "",
    now: float = 0.0,
    carry_for: float = 0.0,
) -> ClusterView:
    """A new view from GET_STATE (a SUBSCRIBED event); leader and masters are kept.

    From a master other than the previous one (a failover) and ``carry_for`` > 0, the
    previous view's RUNNING tasks that the new state lacks are carried, with their agent
    and framework, until ``now + carry_for`` (their agent re-registers meanwhile: its
    TASK_ADDED/TASK_UPDATED events replace them)."""
    new = ClusterView(master_id=master_id, leader=view.leader, masters=view.masters)
    new.carry_floor = view.carry_floor
    agents = _dict(get_state.get("get_agents"))
    for agent in _list(agents.get("agents")):
        _set_agent(new, agent)
    for fw in _list(_dict(get_state.get("get_frameworks")).get("frameworks")):
        _set_framework(new, fw)
    held = view.tasks
    for task in _list(_dict(get_state.get("get_tasks")).get("tasks")):
        # the state repeats nearly every task as held: keep the held TaskView (the
        # table then sees the same object and compares nothing more)
        if isinstance(task, dict):
            old = held.get(f"{_value(task, 'framework_id')}/{_value(task, 'task_id')}")
            if old is not None and unchanged_task(old, task):
                new.tasks[old.key] = old  # (held: never terminal; same state)
                continue
        _set_task(new, task)
    recovering: set[str] = set()
    for info in _list(agents.get("recovered_agents")):
        agent_id = _value(_dict(info), "id")
        if agent_id and agent_id not in new.agents:
            recovering.add(agent_id)
            new.recovering[agent_id] = []
    failover = bool(view.master_id) and master_id != view.master_id
    if carry_for > 0 and (failover or view.carried):
        for key, task in view.tasks.items():
            if key in new.tasks or task.state != RUNNING:
                continue
            if not failover and key not in view.carried:
                continue  # the same leader: only what it still lacks since its failover
            new.tasks[key] = task
            agent_id, fid = task.agent_id, task.framework_id
            if agent_id in recovering:
                until = new.carried[key] = now + max(RECOVERING_CARRY, carry_for)
                new.recovering[agent_id].append(key)
            else:
                until = new.carried[key] = view.carried.get(key, now + carry_for)
            if agent_id in new.carried_agents or (
                agent_id not in new.agents and agent_id in view.agents
            ):
                new.agents[agent_id] = view.agents[agent_id]
                new.carried_agents[agent_id] = max(until, new.carried_agents.get(agent_id, until))
            if fid in new.carried_frameworks or (
                fid not in new.frameworks and fid in view.frameworks
            ):
                new.frameworks[fid] = view.frameworks[fid]
                new.carried_frameworks[fid] = max(until, new.carried_frameworks.get(fid, until))
        # a recovering agent that runs no carried task keeps its own records too (else
        # slave.mesos loses it until it is back: two table changes for nothing)
        until = now + max(RECOVERING_CARRY, carry_for)
        for agent_id in recovering:
            hp = view.agents.get(agent_id)
            if (
                hp is not None
                and agent_id not in new.agents
                and (failover or agent_id in view.carried_agents)
            ):
                new.agents[agent_id] = hp
                new.carried_agents[agent_id] = until
    return new


def carried_until(view: ClusterView) -> float:
    """When the first carried task, agent or framework is due (inf: none is carried;
    never before ``carry_floor``)."""
    due = min(
        min(view.carried.values(), default=float("inf")),
        min(view.carried_agents.values(), default=float("inf")),
        min(view.carried_frameworks.values(), default=float("inf")),
    )
    return max(due, view.carry_floor)


def _drop_due(
    carried: dict[str, float], held: dict[str, Any], now: float, touched: set[str] | None
) -> bool:
    due = [key for key, until in carried.items() if until <= now]
    for key in due:
        del carried[key]
        held.pop(key, None)
        if touched is not None:
            touched.add(key)
    return bool(due)


def expire_carried(view: ClusterView, now: float, changes: Changes | None = None) -> bool:
    """Drop the carried tasks, agents and frameworks whose time is up (what a fresh
    state from the new leader would lack: it streamed every task and agent it took in
    since its SUBSCRIBED); True when any was dropped. Nothing goes before
    ``carry_floor`` (re-registrations still coming in)."""
    if now < view.carry_floor:
        return False
    c = changes
    tasks = _drop_due(view.carried, view.tasks, now, None if c is None else c.tasks)
    agents = _drop_due(view.carried_agents, view.agents, now, None if c is None else c.agents)
    fws = _drop_due(
        view.carried_frameworks, view.frameworks, now, None if c is None else c.frameworks
    )
    return tasks or agents or fws


def apply_event(
    view: ClusterView,
    event: dict[str, Any],
    master_id: str = "",
    now: float = 0.0,
    carry_for: float = 0.0,
    changes: Changes | None = None,
) -> ClusterView:
    """One v1 operator event applied; returns the view to use next (a new one on
    SUBSCRIBED, else ``view`` updated in place). Unknown or malformed events change
    nothing. ``changes`` collects what the event touched (see ``Changes``)."""
    kind = event.get("type") if isinstance(event, dict) else None
    if kind == "SUBSCRIBED":
        sub = _dict(event.get("subscribed"))
        if changes is not None:
            changes.everything = True
        return reset(view, _dict(sub.get("get_state")), master_id, now, carry_for)
    if kind == "TASK_ADDED":
        _set_task(view, _dict(event.get("task_added")).get("task"), changes)
    elif kind == "TASK_UPDATED":
        upd = _dict(event.get("task_updated"))
        status = _dict(upd.get("status"))
        key = f"{_value(upd, 'framework_id')}/{_value(status, 'task_id')}"
        old = view.tasks.get(key)
        state = str(upd.get("state") or status.get("state") or "")
        if old is None:
            return view
        if changes is not None:
            changes.tasks.add(key)
        view.carried.pop(key, None)
        if state in TERMINAL_STATES:
            del view.tasks[key]
            return view
        ips = _container_ips(status) or old.container_ips
        healthy = status.get("healthy")
        view.tasks[key] = replace(
            old,
            state=state or old.state,
            container_ips=ips,
            agent_id=_value(status, "agent_id") or old.agent_id,
            healthy=healthy if isinstance(healthy, bool) else old.healthy,
        )
    elif kind == "AGENT_ADDED":
        agent = _dict(event.get("agent_added")).get("agent")
        _set_agent(view, agent, changes)
        if carry_for > 0 and (view.carried or view.carried_agents):
            view.carry_floor = max(view.carry_floor, now + carry_for)
        if view.recovering:
            agent_back(view, _value(_dict(_dict(agent).get("agent_info")), "id"), now + carry_for)
    elif kind == "AGENT_REMOVED":
        agent_id = _value(_dict(event.get("agent_removed")), "agent_id")
        view.agents.pop(agent_id, None)
        view.carried_agents.pop(agent_id, None)
        if changes is not None:
            changes.agents.add(agent_id)
        for key in view.recovering.pop(agent_id, ()):  # the leader gave up on it
            if view.carried.pop(key, None) is not None:
                view.tasks.pop(key, None)
                if changes is not None:
                    changes.tasks.add(key)
    elif kind in ("FRAMEWORK_ADDED", "FRAMEWORK_UPDATED"):
        key = "framework_added" if kind == "FRAMEWORK_ADDED" else "framework_updated"
        _set_framework(view, _dict(event.get(key)).get("framework"), changes)
    elif kind == "FRAMEWORK_REMOVED":
        info = _dict(_dict(event.get("framework_removed")).get("framework_info"))
        fid = _value(info, "id")
        view.frameworks.pop(fid, None)
        view.framework_hosts.pop(fid, None)
        view.carried_frameworks.pop(fid, None)
        if changes is not None:
            changes.frameworks.add(fid)
    return view


def agent_back(view: ClusterView, agent_id: str, until: float) -> bool:
    """A recovering agent re-registered: its carried tasks that it does not re-send (its
    TASK_ADDEDs follow at once) are kept until ``until`` at most. Whether it was one."""
    keys = view.recovering.pop(agent_id, None)
    if keys is None:
        return False
    carried = view.carried
    for key in keys:
        was = carried.get(key)
        if was is not None and was > until:
            carried[key] = until
    return True


def updated_key(event: dict[str, Any]) -> str | None:
    """The ``framework/task`` key a TASK_UPDATED event is about (None for other events)."""
    if not isinstance(event, dict) or event.get("type") != "TASK_UPDATED":
        return None
    upd = _dict(event.get("task_updated"))
    return f"{_value(upd, 'framework_id')}/{_value(_dict(upd.get('status')), 'task_id')}"


def record_inputs(task: TaskView | None) -> tuple[Any, ...] | None:
    """What a task's records depend on: an update that leaves this unchanged (a health
    check result on a task without VIPs, a repeated RUNNING) needs no new table."""
    if task is None:
        return None
    has_vip = any(k.startswith("VIP_") for p in task.discovery_ports for k, _ in p.labels)
    return (task.state == RUNNING, task.agent_id, task.container_ips, has_vip and task.healthy)


def set_leader(
    view: ClusterView, address: str | None, own_ip: str | None = None, others: tuple[str, ...] = ()
) -> None:
    """The leading master's actor address (``tcp://ip:port/master``) -> leader; masters:
    the leader, this master and ``others`` (every contender in the election), deduped."""
    hp = _pid_host_port(address) if address else None
    view.leader = hp
    masters = [ip for ip in (hp[0] if hp else None, own_ip, *others) if ip]
    view.masters = tuple(dict.fromkeys(masters))


def master_ips(addresses: list[str]) -> tuple[str, ...]:
    """Contenders' transport addresses (``tcp://ip:port``) -> their IPv4s, in order."""
    out = [hp[0] for hp in (_pid_host_port(a) for a in addresses) if hp is not None]
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------- records


@dataclass
class _Builder:
    a: dict[str, list[str]] = field(default_factory=dict)
    srv: dict[str, list[SrvTarget]] = field(default_factory=dict)

    def add_a(self, name: str, ip: str | None, records: list[dict[str, str]] | None = None) -> None:
        if not ip:
            return
        ips = self.a.setdefault(name, [])
        if ip not in ips:
            ips.append(ip)
            if records is not None:
                records.append({"name": name, "host": ip, "rtype": "A"})

    def add_srv(
        self, name: str, target: str, port: int, records: list[dict[str, str]] | None = None
    ) -> None:
        targets = self.srv.setdefault(name, [])
        t = SrvTarget(target, port)
        if t not in targets:
            targets.append(t)
            if records is not None:
                records.append({"name": name, "host": f"{target}:{port}", "rtype": "SRV"})


Candidate = tuple[bool, str, Any]
"""One record a task asks for: (is SRV, name, IP or ``SrvTarget``)."""


def task_candidates(
    task: TaskView, fw_name: str, agent_ip: str, rfc952: bool = True
) -> list[Candidate]:
    """One RUNNING task's records in the order Mesos-DNS adds them (duplicates kept:
    the first one adding a record owns it in ``/v1/enumerate``)."""
    out: list[Candidate] = []
    fw = domain_frag(fw_name, rfc952)
    name = label(task.discovery_name or task.name, rfc952)
    if not fw or not name:
        return out
    tail = f".{DOMAIN}."
    task_ip = task.container_ips[0] if task.container_ips else agent_ip
    canonical = f"{name}-{task_hash(task.task_id)}-{agent_id_tail(task.agent_id)}.{fw}"
    arec = f"{name}.{fw}"
    slave_host = f"{canonical}.slave{tail}"
    # names an app's tasks share are interned: the incremental table keeps every
    # task's candidates, and 100,000 copies of them would cost ~35 MB
    if task_ip:
        out.append((False, sys.intern(arec + tail), task_ip))
        out.append((False, canonical + tail, task_ip))
    if agent_ip:
        out.append((False, sys.intern(f"{arec}.slave{tail}"), agent_ip))
        out.append((False, slave_host, agent_ip))
    with_discovery = task.discovery_name is not None
    for port in task.host_ports:
        for proto in ("tcp", "udp"):
            target = SrvTarget(slave_host, port)
            out.append((True, sys.intern(f"_{name}._{proto}.{fw}.slave{tail}"), target))
            if not with_discovery:
                out.append((True, sys.intern(f"_{name}._{proto}.{fw}{tail}"), target))
    for dport in task.discovery_ports:
        protos = [p.strip() for p in dport.protocol.split(",") if p.strip() in ("tcp", "udp")]
        target = SrvTarget(canonical + tail, dport.number)
        for proto in protos or ["tcp"]:
            out.append((True, sys.intern(f"_{name}._{proto}.{fw}{tail}"), target))
    dcos = f".dcos.{DCOS_DOMAIN}."
    dname = label(task.discovery_name or task.name, False)
    if dname:
        auto = task.container_ips[0] if task.container_ips and not task.host_ports else agent_ip
        if auto:
            out.append((False, sys.intern(f"{dname}.{fw}.autoip{dcos}"), auto))
        if agent_ip:
            out.append((False, sys.intern(f"{dname}.{fw}.agentip{dcos}"), agent_ip))
        if task.container_ips:
            ip = task.container_ips[0]
            out.append((False, sys.intern(f"{dname}.{fw}.containerip{dcos}"), ip))
    return out


def record_entry(is_srv: bool, name: str, value: Any) -> dict[str, str]:
    """One record as ``/v1/enumerate`` lists it."""
    if is_srv:
        return {"name": name, "host": f"{value.target}:{value.port}", "rtype": "SRV"}
    return {"name": name, "host": value, "rtype": "A"}


def task_records(
    b: _Builder, task: TaskView, fw_name: str, agent_ip: str, rfc952: bool = True
) -> list[dict[str, str]]:
    """Add one RUNNING task's records; returns them as Mesos-DNS enumerates them."""
    records: list[dict[str, str]] = []
    for is_srv, name, value in task_candidates(task, fw_name, agent_ip, rfc952):
        if is_srv:
            b.add_srv(name, value.target, value.port, records)
        else:
            b.add_a(name, value, records)
    return records


def _parents(name: str, zone: str) -> Iterable[str]:
    """``a.b.mesos.`` -> ``b.mesos.``, ``mesos.`` (empty non-terminals exist)."""
    parts = name.split(".")
    for i in range(1, len(parts)):
        parent = ".".join(parts[i:])
        if not parent.endswith(zone):
            break
        yield parent


def build_table(
    view: ClusterView,
    config: DnsConfig,
    serial: int,
    extra_a: Mapping[str, Iterable[str]] | None = None,
    ready: bool = True,
) -> RecordTable:
    """The whole record table for ``view`` (plus ``extra_a``: the VIP names)."""
    b = _Builder()
    tail = f".{DOMAIN}."
    b.add_a(f"ns1{tail}", config.ns_ip)
    b.add_a(f"ns1.{DCOS_DOMAIN}.", config.ns_ip)
    if view.leader is not None:
        ip, port = view.leader
        b.add_a(f"leader{tail}", ip)
        for proto in ("tcp", "udp"):
            b.add_srv(f"_leader._{proto}{tail}", f"leader{tail}", port)
    for ip in view.masters:
        b.add_a(f"master{tail}", ip)
    for ip, port in sorted(view.agents.values()):
        b.add_a(f"slave{tail}", ip)
        b.add_a(f"agent{tail}", ip)
        b.add_srv(f"_slave._tcp{tail}", f"slave{tail}", port)
    for fid, fw_name in view.frameworks.items():
        frag = domain_frag(fw_name, config.rfc952)
        host = view.framework_hosts.get(fid)
        if frag and host:
            b.add_a(f"{frag}{tail}", host)
    frameworks: dict[str, list[dict[str, Any]]] = {}
    for task in sorted(view.tasks.values(), key=lambda t: t.key):
        fname = view.frameworks.get(task.framework_id)
        agent = view.agents.get(task.agent_id)
        if task.state != RUNNING or fname is None or agent is None:
            continue
        records = task_records(b, task, fname, agent[0], config.rfc952)
        frameworks.setdefault(fname, []).append(
            {"name": task.name, "id": task.task_id, "records": records}
        )
    for name, ips in (extra_a or {}).items():
        for ip in ips:
            b.add_a(name.lower().rstrip(".") + ".", _ipv4(ip))
    names: set[str] = set(ZONES)
    for name in [*b.a, *b.srv]:
        names.add(name)
        zone = DOMAIN + "." if name.endswith(DOMAIN + ".") else DCOS_DOMAIN + "."
        names.update(_parents(name, zone))
    enum = {
        "frameworks": [
            {"name": fname, "tasks": tasks} for fname, tasks in sorted(frameworks.items())
        ]
    }
    return RecordTable(
        a={k: tuple(v) for k, v in b.a.items()},
        srv={k: tuple(v) for k, v in b.srv.items()},
        serial=serial,
        config=config,
        enumerate_source=enum,
        names=frozenset(names),
        ready=ready,
    )


def zone_of(name: str) -> str | None:
    """``foo.marathon.mesos.`` -> ``mesos.``; None for a name outside our zones."""
    for zone in ZONES:
        if name == zone or name.endswith("." + zone):
            return zone
    return None
