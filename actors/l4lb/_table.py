"""The VIP table as a function of the leading master's events and task health (pure).

Input: the Mesos v1 operator events ``WatchMaster`` streams (``SUBSCRIBED`` with the
whole state, then ``TASK_ADDED``, ``TASK_UPDATED``, ``AGENT_ADDED``, ``AGENT_REMOVED``,
``FRAMEWORK_ADDED``...; CONTRACT section 1). Output: for each VIP its address, port,
balance and backend set. The rules, after dcos-net's ``dcos_l4lb_mesos_poller``:

- a VIP comes from a port label ``VIP_n`` of a live task (``discovery.ports``); it
  exists while any live task declares it, with or without backends, so its name and
  address stay put through a rolling upgrade or a scale to zero;
- a task backs its VIPs while it is RUNNING and healthy: ``healthy: true`` when the task
  has a health check (Mesos' ``health_check`` field, or any status that carried
  ``healthy``), else RUNNING is enough. Killed, killing, unhealthy, lost, unreachable:
  out at once;
- a backend is the agent's IP and the task's host port (the container's IP and the
  port when the task has its own IP and no host port).

Named VIPs' addresses: ``allocate`` hashes ``salt + fqdn`` (sha1) into ``NAMED_NETWORK``
and resolves collisions by probing upward, over the names sorted by (home slot, name).
Every master computes the same table from the same set of names with no coordination
(no ZooKeeper round trip on the data path), and the salt (the cluster's ZooKeeper
address, ``cluster_salt``) keeps two clusters on one machine apart. An address moves
only when a new name takes a slot an older name had probed into (about 1 in 100,000
names: the space holds 8M addresses).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from actors.l4lb._errors import InvalidVip
from actors.l4lb._labels import BALANCE_LABEL, BALANCES, NAMED_NETWORK, is_vip_label, parse_vip
from actors.l4lb._labels import vip_hostname as _vip_hostname

DEFAULT_FRAMEWORK = "marathon"
LIVE_STATES = frozenset(
    {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"}
)
"""States in which a task still declares its VIPs (not necessarily as a backend)."""
_NEVER = float("inf")
_FIRST = int(NAMED_NETWORK.network_address) + 1
_SLOTS = NAMED_NETWORK.num_addresses - 2


def cluster_salt(zk: str) -> str:
    """The cluster's identity for address hashing, from its ZooKeeper address
    (``--zk hosts[/chroot]``, ``zk://`` optional): hosts sorted, ``localhost`` read as
    127.0.0.1, chroot kept. Every master of one cluster gets the same salt."""
    text = zk.strip().removeprefix("zk://")
    hosts, slash, chroot = text.partition("/")
    names = sorted(h.strip().replace("localhost", "127.0.0.1") for h in hosts.split(",") if h)
    return ",".join(names) + (slash + chroot.rstrip("/") if slash else "")


def _home(salt: str, fqdn: str) -> int:
    digest = hashlib.sha1(f"{salt}\0{fqdn}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _SLOTS


def allocate(fqdns: Iterable[str], salt: str = "") -> dict[str, str]:
    """Each named VIP's fqdn -> its IPv4 address in ``NAMED_NETWORK`` (see the module
    docstring). Deterministic in the set of names: the order given does not matter."""
    homes = sorted((_home(salt, name), name) for name in set(fqdns))
    taken: set[int] = set()
    out: dict[str, str] = {}
    for home, name in homes:
        slot = home
        while slot in taken:
            slot = (slot + 1) % _SLOTS
        taken.add(slot)
        out[name] = str(ipaddress.IPv4Address(_FIRST + slot))
    return out


@dataclass(frozen=True, slots=True)
class Backend:
    """One instance behind a VIP."""

    ip: str
    port: int
    task_id: str

    @property
    def addr(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class Vip:
    """One VIP as the load balancer serves it."""

    key: str
    """``/web`` (named) or the IP (user-chosen address)."""
    hostname: str | None
    """``web.marathon.l4lb.thisdcos.directory`` for a named VIP, else None."""
    address: str
    """The IPv4 address clients connect to."""
    port: int
    balance: str
    backends: frozenset[Backend]
    apps: tuple[str, ...] = ()
    """Marathon app ids declaring it (from the tasks' ``MARATHON_APP_ID`` label)."""

    @property
    def ident(self) -> str:
        """``127.1.2.3:80``: unique per VIP (the HAProxy frontend's name derives from it)."""
        return f"{self.address}:{self.port}"


@dataclass(slots=True)
class TaskView:
    """What the table keeps of one task."""

    task_id: str
    framework_id: str
    agent_id: str
    state: str
    healthy: bool | None
    health_checked: bool
    container_ip: str | None
    ports: tuple[tuple[int, str, Mapping[str, str]], ...]
    """(host port number, protocol, labels) of each discovery port."""
    app_id: str


def _value(obj: Any, key: str) -> str:
    """``{"value": "x"}`` (v1 ids) or a bare string -> ``"x"``."""
    raw = obj.get(key) if isinstance(obj, Mapping) else None
    if isinstance(raw, Mapping):
        raw = raw.get("value")
    return raw if isinstance(raw, str) else ""


def _labels(raw: Any) -> dict[str, str]:
    """v1 ``Labels`` (``{"labels": [{"key", "value"}]}``) or a plain mapping -> dict."""
    if isinstance(raw, Mapping) and isinstance(raw.get("labels"), list):
        return {
            str(item["key"]): str(item.get("value", ""))
            for item in raw["labels"]
            if isinstance(item, Mapping) and isinstance(item.get("key"), str)
        }
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items() if isinstance(v, str)}
    return {}


def _container_ip(status: Mapping[str, Any]) -> str | None:
    infos = (status.get("container_status") or {}).get("network_infos") or []
    for info in infos if isinstance(infos, list) else []:
        for addr in (info or {}).get("ip_addresses") or []:
            ip = (addr or {}).get("ip_address")
            if isinstance(ip, str) and ip:
                return ip
    return None


def status_part(task: Mapping[str, Any]) -> tuple[str, bool | None, bool, str | None]:
    """What a ``TaskView`` takes from a v1 Task's state, ``statuses`` and health check:
    (state, healthy, health_checked, container_ip); a TASK_UPDATED changes only these."""
    raw_statuses = task.get("statuses")
    statuses = [s for s in raw_statuses or () if type(s) is dict or isinstance(s, Mapping)]
    last = statuses[-1] if statuses else {}
    healthy = last.get("healthy") if isinstance(last.get("healthy"), bool) else None
    state = task.get("state") if isinstance(task.get("state"), str) else ""
    return (
        state or str(last.get("state", "")),
        healthy,
        bool(task.get("health_check")) or any("healthy" in s for s in statuses),
        _container_ip(last),
    )


def _ports(task: Mapping[str, Any]) -> tuple[tuple[int, str, Mapping[str, str]], ...]:
    """(number, protocol, labels) of each discovery port of a v1 Task."""
    ports: list[tuple[int, str, Mapping[str, str]]] = []
    discovery = task.get("discovery") or {}
    raw_ports = ((discovery.get("ports") or {}) if isinstance(discovery, Mapping) else {}).get(
        "ports"
    ) or []
    for port in raw_ports if isinstance(raw_ports, list) else []:
        if not isinstance(port, Mapping) or type(port.get("number")) is not int:
            continue
        proto = port.get("protocol") if isinstance(port.get("protocol"), str) else "tcp"
        ports.append((port["number"], proto or "tcp", _labels(port.get("labels"))))
    return tuple(ports)


def _app_id(task: Mapping[str, Any]) -> str:
    return _labels(task.get("labels")).get("MARATHON_APP_ID", "")


def same_task(view: TaskView, task: Mapping[str, Any]) -> bool:
    """Whether ``task_view(task)`` would equal ``view``, told field by field and cheapest
    first (ids, then ``status_part``, ports, app) without making a TaskView or touching
    the table. Why: a new leader re-sends every task as its agent re-registers (100,000
    TASK_ADDED at 10,000 agents), nearly all as the table holds them. Nothing of the v1
    Task is kept for it (100,000 of them would be hundreds of MB)."""
    if _value(task, "agent_id") != view.agent_id:
        return False
    if _value(task, "framework_id") != view.framework_id:
        return False
    if status_part(task) != (view.state, view.healthy, view.health_checked, view.container_ip):
        return False
    return _ports(task) == view.ports and _app_id(task) == view.app_id


def no_vip_label(task: Mapping[str, Any]) -> bool:
    """Whether no discovery port of the v1 Task has a ``VIP_n`` label (told without
    reading its ports when it has none: most tasks)."""
    discovery = task.get("discovery")
    if not discovery:
        return True
    ports = discovery.get("ports") if isinstance(discovery, Mapping) else None
    if not ports or not (ports.get("ports") if isinstance(ports, Mapping) else True):
        return True
    return not any(is_vip_label(key) for _, _, labels in _ports(task) for key in labels)


def task_view(task: Mapping[str, Any]) -> TaskView | None:
    """A v1 Task -> ``TaskView``; None when it is not a task (no id)."""
    task_id = _value(task, "task_id")
    if not task_id:
        return None
    state, healthy, health_checked, container_ip = status_part(task)
    return TaskView(
        task_id=task_id,
        framework_id=_value(task, "framework_id"),
        agent_id=_value(task, "agent_id"),
        state=state,
        healthy=healthy,
        health_checked=health_checked,
        container_ip=container_ip,
        ports=_ports(task),
        app_id=_app_id(task),
    )


def agent_ip(agent: Mapping[str, Any]) -> str:
    """An agent's IP, from its ``pid`` (``slave(1)@10.0.0.5:5051``), else its hostname."""
    pid = agent.get("pid")
    if isinstance(pid, str) and "@" in pid:
        return pid.rsplit("@", 1)[1].rsplit(":", 1)[0]
    info = agent.get("agent_info") or {}
    host = info.get("hostname") if isinstance(info, Mapping) else None
    return host if isinstance(host, str) else ""


@dataclass
class VipTable:
    """Tasks, agents and frameworks as the events describe them; ``vips()`` derives the
    VIPs. ``apply`` is the only way in; a ``SUBSCRIBED`` resets everything."""

    salt: str = ""
    tasks: dict[str, TaskView] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)
    """agent id -> IP."""
    frameworks: dict[str, str] = field(default_factory=dict)
    """framework id -> name."""
    carried: dict[str, float] = field(default_factory=dict)
    """Tasks kept from the previous leader's state (task id -> until when): a new
    leader's first state lacks the tasks of agents that have not re-registered yet
    (they have 10 s), and a VIP must not lose its backends for that."""
    with_vips: dict[str, None] = field(default_factory=dict)
    """Ids of the tasks with a VIP label, in ``tasks``' order (the first task declaring
    a VIP sets its balance): only they can make a VIP, so a sync reads them, not
    100,000 tasks without one."""
    _stale: bool = False
    """``with_vips`` must be made again from ``tasks`` (a task already there gained a
    VIP label: its place in ``tasks`` is not at the end)."""
    _due: float = float("inf")
    """No carried task's time is up before this (``expire``)."""
    carry_floor: float = 0.0
    """Nothing carried goes before this: the last AGENT_ADDED's ``back_until`` while
    anything was carried (a leader still taking re-registrations has not given up on
    the agents still to come, listed as recovered or not)."""
    recovering: dict[str, list[str]] = field(default_factory=dict)
    """Agents the leader's state lists as ``recovered_agents`` (from its registry, not
    re-registered yet) -> the carried tasks on them, kept until ``recover_until`` (the
    leader expects them back; a 10,000-agent storm outlasts ``carry_until``: dropping a
    VIP's backends and adding them back cost two reloads and an outage). Their
    AGENT_ADDED (``back_until`` from then for the tasks it does not re-send) or
    AGENT_REMOVED (dropped now) ends it."""

    def apply(
        self,
        event: Mapping[str, Any],
        *,
        carry_until: float | None = None,
        recover_until: float | None = None,
        back_until: float | None = None,
    ) -> bool:
        """Fold one v1 operator event in (unknown types are ignored, as Mesos says);
        whether ``vips()`` may have changed (False: a task or agent re-sent as it is
        held, a failover's re-registration storm: no sync needed). ``carry_until``: for
        a ``SUBSCRIBED`` from a NEW leader, keep the tasks it does not list until then
        (``expire`` drops them; an event about one adopts it); ``recover_until``: the
        same for the tasks of the agents it lists as recovered (see ``recovering``);
        ``back_until``: for an AGENT_ADDED of such an agent, its carried tasks' end."""
        kind = event.get("type")
        if kind == "TASK_ADDED":
            return self._put_task((event.get("task_added") or {}).get("task") or {})
        if kind == "AGENT_ADDED":
            agent = (event.get("agent_added") or {}).get("agent") or {}
            agent_id, ip = _value(agent.get("agent_info") or {}, "id"), agent_ip(agent)
            if self.recovering:
                self._agent_back(agent_id, back_until)
            if back_until is not None and self.carried:
                self.carry_floor = max(self.carry_floor, back_until)
            if self.agents.get(agent_id) == ip:
                return False
            self.agents[agent_id] = ip
            return True
        if kind == "SUBSCRIBED":
            before, agents_before, carried_before = self.tasks, self.agents, self.carried
            state = (event.get("subscribed") or {}).get("get_state") or {}
            self.reset(state, before)
            if carry_until is not None or carried_before:
                self._carry(
                    before, agents_before, carried_before, state, carry_until, recover_until
                )
            self._due = min(self.carried.values(), default=_NEVER)
        elif kind == "TASK_UPDATED":
            update = event.get("task_updated") or {}
            self.carried.pop(_value(update.get("status") or {}, "task_id"), None)
            return self._update_task(update)
        elif kind == "AGENT_REMOVED":
            agent_id = _value(event.get("agent_removed") or {}, "agent_id")
            self.agents.pop(agent_id, None)
            for task_id in self.recovering.pop(agent_id, ()):  # the leader gave up on it
                if self.carried.pop(task_id, None) is not None:
                    self.tasks.pop(task_id, None)
                    self.with_vips.pop(task_id, None)
        elif kind in ("FRAMEWORK_ADDED", "FRAMEWORK_UPDATED"):
            body = event.get("framework_added") or event.get("framework_updated") or {}
            info = (body.get("framework") or {}).get("framework_info") or {}
            if isinstance(info.get("name"), str):
                self.frameworks[_value(info, "id")] = info["name"]
        elif kind == "FRAMEWORK_REMOVED":
            info = (event.get("framework_removed") or {}).get("framework_info") or {}
            self.frameworks.pop(_value(info, "id"), None)
        else:
            return False
        return True

    def _carry(
        self,
        before: dict[str, TaskView],
        agents_before: dict[str, str],
        carried_before: dict[str, float],
        state: Mapping[str, Any],
        carry_until: float | None,
        recover_until: float | None,
    ) -> None:
        """After ``reset``: keep the previous tasks the state lacks (from a new leader:
        every one; from the same leader: those still carried since its failover)."""
        recovering = self.recovering
        for info in (state.get("get_agents") or {}).get("recovered_agents") or []:
            agent_id = _value(info if isinstance(info, Mapping) else {}, "id")
            if agent_id and agent_id not in self.agents:
                recovering[agent_id] = []
        for task_id, view in before.items():
            if task_id in self.tasks:
                continue
            until = carried_before.get(task_id) if carry_until is None else carry_until
            if until is None:
                continue  # the same leader: it was not carried
            keys = recovering.get(view.agent_id)
            if keys is not None and recover_until is not None:
                until = max(until, recover_until)
                keys.append(task_id)
            self.tasks[task_id] = view
            self.carried[task_id] = until
            if has_vip_label(view):
                self.with_vips[task_id] = None
        # a recovering leader lists its agents as recovered_agents until they
        # re-register: their carried tasks keep their address meanwhile
        for agent_id, ip in agents_before.items():
            self.agents.setdefault(agent_id, ip)

    def _agent_back(self, agent_id: str, until: float | None) -> None:
        """A recovering agent re-registered: its carried tasks that it does not re-send
        (its TASK_ADDEDs follow at once) are kept until ``until`` at most."""
        keys = self.recovering.pop(agent_id, None)
        if keys is None or until is None:
            return
        for task_id in keys:
            was = self.carried.get(task_id)
            if was is not None and was > until:
                self.carried[task_id] = until
                self._due = min(self._due, until)

    def reset(self, state: Mapping[str, Any], before: Mapping[str, TaskView] | None = None) -> None:
        """Replace everything with a ``GET_STATE`` answer (on every ``SUBSCRIBED``);
        a task re-sent as ``before`` holds it keeps its TaskView (``same_task``: a new
        leader's or a resubscription's state repeats nearly every task)."""
        self.tasks = {}
        self.agents = {}
        self.frameworks = {}
        self.carried = {}
        self.with_vips = {}
        self.recovering = {}
        self._stale = False
        self._due = _NEVER
        for agent in (state.get("get_agents") or {}).get("agents") or []:
            self.agents[_value(agent.get("agent_info") or {}, "id")] = agent_ip(agent)
        for fw in (state.get("get_frameworks") or {}).get("frameworks") or []:
            info = fw.get("framework_info") or {}
            if isinstance(info.get("name"), str):
                self.frameworks[_value(info, "id")] = info["name"]
        for task in (state.get("get_tasks") or {}).get("tasks") or []:
            held = before.get(_value(task, "task_id")) if before else None
            if held is not None and same_task(held, task):
                self.tasks[held.task_id] = held
                if has_vip_label(held):
                    self.with_vips[held.task_id] = None
                continue
            self._put_task(task)

    def expire(self, now: float) -> bool:
        """Drop carried tasks whose time is up; whether any went. Called every tick: it
        looks at them only once the earliest is due (100,000 carried after a failover)."""
        if now < self._due or now < self.carry_floor:
            return False
        gone = [task_id for task_id, until in self.carried.items() if until <= now]
        for task_id in gone:
            del self.carried[task_id]
            self.tasks.pop(task_id, None)
            self.with_vips.pop(task_id, None)
        self._due = min(self.carried.values(), default=_NEVER)
        return bool(gone)

    def _put_task(self, task: Mapping[str, Any]) -> bool:
        """A TASK_ADDED (an upsert); whether the VIPs may have changed: only when the
        task declares a VIP now or did (``vips`` reads no other task: a task without
        one that changed, 1% of a failover's storm, made a sync each)."""
        task_id = _value(task, "task_id")
        held = self.tasks.get(task_id)
        if (
            held is not None
            and task_id not in self.with_vips
            and task.get("state") in LIVE_STATES
            and no_vip_label(task)
        ):
            # neither the held task nor this one declares a VIP, and it is still live:
            # nothing of it is read by ``vips`` (the held TaskView is kept as it is)
            self.carried.pop(task_id, None)
            return False
        if held is not None and same_task(held, task):
            self.carried.pop(held.task_id, None)  # re-registered: no longer carried
            return False
        view = task_view(task)
        if view is None:
            return False
        had_vip = view.task_id in self.with_vips
        self.carried.pop(view.task_id, None)
        if view.state in LIVE_STATES:
            known = view.task_id in self.tasks
            self.tasks[view.task_id] = view
            if not has_vip_label(view):
                self.with_vips.pop(view.task_id, None)
            elif view.task_id not in self.with_vips:
                self._stale = self._stale or known
                self.with_vips[view.task_id] = None
        else:
            self.tasks.pop(view.task_id, None)
            self.with_vips.pop(view.task_id, None)
        return had_vip or view.task_id in self.with_vips

    def _update_task(self, update: Mapping[str, Any]) -> bool:
        """A TASK_UPDATED; whether the VIPs may have changed (a task declaring one)."""
        status = update.get("status") or {}
        task_id = _value(status, "task_id")
        view = self.tasks.get(task_id)
        if view is None:
            return False
        had_vip = task_id in self.with_vips
        state = update.get("state") or status.get("state")
        if isinstance(state, str) and state:
            view.state = state
        if isinstance(status.get("healthy"), bool):
            view.healthy = status["healthy"]
            view.health_checked = True
        ip = _container_ip(status)
        if ip:
            view.container_ip = ip
        if view.state not in LIVE_STATES:
            del self.tasks[task_id]
            self.with_vips.pop(task_id, None)
        return had_vip

    def framework_name(self, framework_id: str) -> str:
        return self.frameworks.get(framework_id, DEFAULT_FRAMEWORK) or DEFAULT_FRAMEWORK

    def vips(self) -> dict[str, Vip]:
        """Every VIP by ``ident`` (``address:port``), with its current backends (as
        ``build_vips`` over every task: the others declare no VIP)."""
        if self._stale:
            self.with_vips = {k: None for k, v in self.tasks.items() if has_vip_label(v)}
            self._stale = False
        tasks = [self.tasks[task_id] for task_id in self.with_vips]
        return build_vips(tasks, self.agents, self.framework_name, self.salt)


def has_vip_label(task: TaskView) -> bool:
    """Whether any of the task's ports has a ``VIP_n`` label (valid or not)."""
    return any(is_vip_label(key) for _, _, labels in task.ports for key in labels)


def is_backend(task: TaskView) -> bool:
    """RUNNING, and healthy when health-checked (see the module docstring)."""
    if task.state != "TASK_RUNNING":
        return False
    if task.health_checked:
        return task.healthy is True
    return task.healthy is not False


def build_vips(
    tasks: Iterable[TaskView],
    agents: Mapping[str, str],
    framework_name: Any = lambda _fid: DEFAULT_FRAMEWORK,
    salt: str = "",
) -> dict[str, Vip]:
    """The VIPs of ``tasks`` (see the module docstring)."""
    # (key, port) -> [hostname, balance, backends, apps]
    found: dict[tuple[str, int], tuple[str | None, str, set[Backend], set[str]]] = {}
    for task in tasks:
        for number, proto, labels in task.ports:
            if "tcp" not in proto.split(","):
                continue
            balance = labels.get(BALANCE_LABEL, BALANCES[0])
            balance = balance if balance in BALANCES else BALANCES[0]
            for key in sorted(k for k in labels if is_vip_label(k)):
                try:
                    spec = parse_vip(labels[key])
                except InvalidVip:
                    continue  # Marathon refuses these; another framework's: ignored
                host = None
                if spec.name is not None:
                    host = _vip_hostname(spec.name, framework_name(task.framework_id))
                entry = found.setdefault(
                    (host or spec.key, spec.port), (host, balance, set(), set())
                )
                if task.app_id:
                    entry[3].add(task.app_id)
                if is_backend(task):
                    ip = task.container_ip if not number and task.container_ip else None
                    ip = ip or agents.get(task.agent_id) or task.container_ip
                    if ip:
                        entry[2].add(Backend(ip, number, task.task_id))
    names = allocate((host for host, _, _, _ in found.values() if host), salt)
    out: dict[str, Vip] = {}
    for (key, port), (host, balance, backends, apps) in sorted(found.items()):
        address = names[host] if host else key
        vip = Vip(
            key=key,
            hostname=host,
            address=address,
            port=port,
            balance=balance,
            backends=frozenset(backends),
            apps=tuple(sorted(apps)),
        )
        out[vip.ident] = vip
    return out


def named_vips(view: TaskView) -> tuple[str, ...]:
    """The names of a task's named VIPs (``VIP_n`` labels ``/name:port`` on its tcp
    ports), whatever its state; the hostname adds the framework's name."""
    out: list[str] = []
    for _number, proto, labels in view.ports:
        if "tcp" not in proto.split(","):
            continue
        for key in labels:
            if not is_vip_label(key):
                continue
            try:
                spec = parse_vip(labels[key])
            except InvalidVip:
                continue
            if spec.name is not None:
                out.append(spec.name)
    return tuple(out)


def vip_dns_records(
    tasks: Iterable[Mapping[str, Any]],
    frameworks: Mapping[str, str] | None = None,
    salt: str = "",
) -> dict[str, str]:
    """Named VIPs' fqdn (``web.marathon.l4lb.thisdcos.directory``, no trailing dot) ->
    IPv4 address, from v1 Tasks (terminal ones ignored). ``frameworks``: framework id
    -> name (default ``marathon``); ``salt``: ``cluster_salt(zk)``. The l4lb serves the
    same addresses (same function), so DNS and HAProxy agree."""
    names = frameworks or {}
    hosts: set[str] = set()
    for raw in tasks:
        view = task_view(raw)
        if view is None or view.state not in LIVE_STATES:
            continue
        vips = named_vips(view)
        if vips:
            fw = names.get(view.framework_id, DEFAULT_FRAMEWORK) or DEFAULT_FRAMEWORK
            hosts.update(_vip_hostname(name, fw) for name in vips)
    return allocate(hosts, salt)


def vips_json(vips: Mapping[str, Vip]) -> list[dict[str, Any]]:
    """dcos-net's ``GET /v1/vips`` shape (``vip`` ``name:port`` or ``ip:port``,
    ``protocol``, ``backend`` ``[{ip, port}]``), plus pydcos' ``address``, ``balance``,
    ``apps`` and each backend's ``task_id``."""
    out = []
    for vip in sorted(vips.values(), key=lambda v: (v.hostname or v.key, v.port)):
        out.append(
            {
                "vip": f"{vip.hostname or vip.address}:{vip.port}",
                "protocol": "tcp",
                "address": vip.ident,
                "balance": vip.balance,
                "apps": list(vip.apps),
                "backend": [
                    {"ip": b.ip, "port": b.port, "task_id": b.task_id}
                    for b in sorted(vip.backends, key=lambda b: (b.ip, b.port, b.task_id))
                ],
            }
        )
    return out
