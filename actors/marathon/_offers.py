"""Offer matching, pure: which queued instances go on which offers, and why not.

``match_offers(queue, offers, placed, now) -> OfferPlan``: for each offer in turn, each
app with launches left (and no backoff delay) takes as many instances as the offer's
resources, ports and the app's constraints allow (Marathon's offer matcher: one offer
may carry several tasks of several apps). Every refusal is a ``Rejection`` naming
Marathon's reason (``InsufficientCpus``, ``InsufficientPorts``,
``UnfulfilledConstraint``...) and a sentence (``cpus: need 2, offer has 1``), which feeds
``GET /v2/queue``'s ``processedOffersSummary`` and ``waitingReason``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from actors import protocol as p
from actors.resources import ResourceError, Resources

from ._app import AppDefinition
from ._backoff import LaunchBackoff
from ._constraints import Agent, match
from ._instances import Instance, config_key, task_id_for
from ._ports import service_ports


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """Launches an app waits for."""

    app: AppDefinition
    """The definition new instances get (the deploying one during a deployment)."""
    count: int
    backoff: LaunchBackoff | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """One instance of ``app`` placed on ``offer``, taking ``resources``."""

    app: AppDefinition
    offer: p.Offer
    resources: Resources
    ports: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why ``offer`` took no (more) instance of ``app_id``."""

    app_id: str
    offer: p.Offer
    reason: str
    """Marathon's reason name: InsufficientCpus, InsufficientPorts, UnfulfilledConstraint..."""
    detail: str
    """For people: ``cpus: need 2, offer has 1``, ``constraint hostname:UNIQUE: ...``."""


@dataclass(slots=True)
class OfferPlan:
    """What to do with a batch of offers."""

    launches: list[tuple[p.Offer, list[Placement]]] = field(default_factory=list)
    """Offers used, each with the instances placed on it (in order)."""
    declines: list[str] = field(default_factory=list)
    """Offers with nothing to launch."""
    rejections: list[Rejection] = field(default_factory=list)
    """Every refusal, in the order it happened."""
    processed: dict[str, int] = field(default_factory=dict)
    """Offers considered, per app."""
    used: dict[str, int] = field(default_factory=dict)
    """Offers that took at least one instance, per app."""
    left: dict[str, int] = field(default_factory=dict)
    """Launches still waiting after this batch, per app considered."""
    agents: dict[str, Agent] = field(default_factory=dict)
    """Each offer's agent (hostname and attributes), by agent id."""
    bad_offers: list[tuple[str, str]] = field(default_factory=list)
    """(offer id, error) of offers whose resources could not be read (declined)."""

    @property
    def reasons(self) -> dict[str, list[str]]:
        """The refusal sentences of this batch, per app."""
        out: dict[str, list[str]] = {}
        for r in self.rejections:
            out.setdefault(r.app_id, []).append(r.detail)
        return out

    @property
    def placements(self) -> list[Placement]:
        return [pl for _, pls in self.launches for pl in pls]


def match_offers(
    queue: Sequence[QueueEntry],
    offers: Sequence[p.Offer],
    placed: Mapping[str, Sequence[Agent]],
    now: float,
) -> OfferPlan:
    """Place ``queue``'s launches on ``offers``. ``placed``: per app, the agents its
    live instances run on (the context of its constraints); apps delayed by their
    backoff at ``now`` are left out."""
    plan = OfferPlan()
    work = [
        e
        for e in queue
        if e.count > 0 and not (e.backoff is not None and e.backoff.is_delayed(now))
    ]
    left = {e.app.id: e.count for e in work}
    plan.left = left
    on_agents = {e.app.id: list(placed.get(e.app.id, ())) for e in work if e.app.constraints}
    for offer in offers:
        attrs = {k: _attr_text(v) for k, v in (offer.attributes or {}).items()}
        agent = Agent(offer.hostname, attrs)
        plan.agents[offer.agent_id] = agent
        try:
            free = Resources.from_dict(offer.resources)
        except ResourceError as exc:
            plan.bad_offers.append((offer.offer_id, str(exc)))
            plan.declines.append(offer.offer_id)
            continue
        free_ports = port_list(free)
        taken: list[Placement] = []
        for entry in work:
            app = entry.app
            if left[app.id] <= 0:
                continue
            plan.processed[app.id] = plan.processed.get(app.id, 0) + 1
            used_before = len(taken)
            while left[app.id] > 0:
                need, ports, reason, detail = fit(app, free, free_ports)
                if need is None:
                    plan.rejections.append(Rejection(app.id, offer, reason, detail))
                    break
                if app.constraints:
                    verdict = match(app.constraints, agent, on_agents[app.id])
                    if not verdict.ok:
                        plan.rejections.append(
                            Rejection(
                                app.id,
                                offer,
                                "UnfulfilledConstraint",
                                f"constraint {verdict.reason}",
                            )
                        )
                        break
                    on_agents[app.id].append(agent)
                free = free - need
                for port in ports:
                    free_ports.remove(port)
                taken.append(Placement(app, offer, need, tuple(ports)))
                left[app.id] -= 1
            if len(taken) > used_before:
                plan.used[app.id] = plan.used.get(app.id, 0) + 1
        if taken:
            plan.launches.append((offer, taken))
        else:
            plan.declines.append(offer.offer_id)
    return plan


def _attr_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def port_list(free: Resources) -> list[int]:
    out: list[int] = []
    for begin, end in free.ranges("ports"):
        out.extend(range(begin, min(end, begin + 2000) + 1))
    return out


def fit(
    app: AppDefinition, free: Resources, free_ports: list[int]
) -> tuple[Resources | None, list[int], str, str]:
    """(resources to take, host ports, reject reason, detail) for one instance: the
    first resource the offer lacks, else the host ports in the app's port order."""
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


def build_task(
    app: AppDefinition,
    offer: p.Offer,
    need: Resources,
    ports: list[int],
    wall: float,
) -> tuple[p.TaskInfo, Instance]:
    """The task to launch for one instance of ``app`` on ``offer`` and its record."""
    task_id = task_id_for(app.id)
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
            volumes=[p.VolumeInfo(v.container_path, v.host_path or "", v.mode) for v in c.volumes],
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
        config_version=config_key(app),
        version=app.version or "",
        agent_id=offer.agent_id,
        host=offer.hostname,
        ip=offer.ip or offer.hostname,
        ports=list(ports),
        service_ports=[port for port in service_ports(app) if port],
        staged_at=wall,
    )
    return task, inst
