"""Offer matching, pure: which queued instances go on which offers, and why not.

``match_offers(queue, offers, placed, now) -> OfferPlan``: for each offer in turn, each
app with launches left (and no backoff delay) takes as many instances as the offer's
resources, ports and the app's constraints allow (Marathon's offer matcher: one offer
may carry several tasks of several apps), through the framework toolkit's ``place``
(resources and ports, then the containerizer, then constraints). Every refusal is a
``Rejection`` naming Marathon's reason (``InsufficientCpus``, ``InsufficientPorts``,
``UnsupportedContainerizer``, ``UnfulfilledConstraint``...) and a sentence (``cpus:
need 2, offer has 1``), which feeds ``GET /v2/queue``'s ``processedOffersSummary`` and
``waitingReason``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from actors import protocol as p
from actors.framework import (
    Agent,
    Demand,
    LaunchBackoff,
    agent_of,
    build_task_info,
    command_spec,
    container_info,
    discovery_info,
    place,
    port_list,
)
from actors.resources import ResourceError, Resources

from ._app import AppDefinition
from ._instances import Instance, config_key, task_id_for
from ._pods import PodDefinition
from ._pods_tasks import pod_demand
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


_PARSED_OFFERS: dict[int, tuple[p.Offer, Resources]] = {}

PARSED_LIMIT = 32768
"""Offers remembered at most (``forget_parsed`` empties the memo after each batch). Was
1,024: a new leader's first batch offers every re-registered agent (10,000 at 10k
agents), so the memo was emptied mid-batch and ``match_offers`` parsed every offer again
after the resident matcher had (half of Marathon's 0.17 CPU-s for that batch)."""


def offer_resources(offer: p.Offer) -> Resources:
    """``Resources.from_dict(offer.resources)``, parsed once per offer: the resident
    matcher and ``match_offers`` both read every offer (an offer and its resources never
    change; kept by identity, the offer held so its id is not reused; bounded, and
    emptied after each batch by ``forget_parsed``). Raises ``ResourceError`` as
    ``from_dict`` does (not remembered)."""
    hit = _PARSED_OFFERS.get(id(offer))
    if hit is not None and hit[0] is offer:
        return hit[1]
    res = Resources.from_dict(offer.resources)
    if len(_PARSED_OFFERS) >= PARSED_LIMIT:
        _PARSED_OFFERS.clear()
    _PARSED_OFFERS[id(offer)] = (offer, res)
    return res


def forget_parsed() -> None:
    """Drop the parsed offers: a batch is matched; its offers are not read again."""
    _PARSED_OFFERS.clear()


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
    demands = {e.app.id: demand_of(e.app) for e in work}
    wanted = sum(left.values())
    for offer in offers:
        agent = agent_of(offer)
        plan.agents[offer.agent_id] = agent
        if wanted <= 0:
            # Every launch is placed: the rest is declined unread. After a revive the
            # batch is every agent's offer (10,000 at 10k agents), and parsing each to
            # decline it held the Marathon thread ~0.4 CPU-s, seconds beside the storm,
            # while API requests waited (bench/scale.py). A malformed one is declined too,
            # just not named in ``bad_offers``.
            plan.declines.append(offer.offer_id)
            continue
        try:
            free = offer_resources(offer)
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
                got = place(
                    demands[app.id],
                    free,
                    agent,
                    constraints=app.constraints,
                    placed=on_agents.get(app.id, ()),
                    containerizer=containerizer_of(app),
                    free_ports=free_ports,
                )
                if got.resources is None:
                    plan.rejections.append(Rejection(app.id, offer, got.reason, got.detail))
                    break
                if app.constraints:
                    on_agents[app.id].append(agent)
                free = free - got.resources
                for port in got.ports:
                    free_ports.remove(port)
                taken.append(Placement(app, offer, got.resources, tuple(got.ports)))
                left[app.id] -= 1
                wanted -= 1
            if len(taken) > used_before:
                plan.used[app.id] = plan.used.get(app.id, 0) + 1
        if taken:
            plan.launches.append((offer, taken))
        else:
            plan.declines.append(offer.offer_id)
    return plan


def demand_of(app: AppDefinition) -> Demand:
    """What one instance of ``app`` asks of an offer: its scalars and its host ports in
    the app's port order (0 = any port; a port mapping's ``hostPort``, or with
    ``requirePorts`` a port definition's ``port``, is exactly that port)."""
    if isinstance(app, PodDefinition):
        return pod_demand(app)  # the containers' sums and every endpoint's host port
    if app.container is not None and app.container.port_mappings:
        ports = tuple(m.host_port or 0 for m in app.container.port_mappings)
    else:
        ports = tuple(d.port if app.require_ports and d.port else 0 for d in app.port_definitions)
    return Demand(app.cpus, app.mem, app.disk, float(app.gpus), ports)


def containerizer_of(app: AppDefinition) -> str:
    """The containerizer an instance needs: ``docker`` for a DOCKER container, else
    ``mesos`` (a MESOS container with ``docker.image`` runs on the universal runtime)."""
    c = app.container
    return "docker" if c is not None and c.type == "DOCKER" else "mesos"


def build_task(
    app: AppDefinition,
    offer: p.Offer,
    need: Resources,
    ports: list[int],
    wall: float,
) -> tuple[p.TaskInfo, Instance]:
    """The task to launch for one instance of ``app`` on ``offer`` (taking ``need`` and
    the host ``ports``), and its record. The environment holds Marathon's own
    variables over the app's ``env``; the agent adds MESOS_TASK_ID, HOST, PORTn,
    PORTS and PORT_<NAME> (from ``discovery``)."""
    task_id = task_id_for(app.id)
    name = app.id.strip("/").replace("/", ".")
    command = command_spec(
        cmd=app.cmd if app.args is None else None,
        args=app.args,
        env=app.env,
        framework_env={
            "MARATHON_APP_ID": app.id,
            "MARATHON_APP_VERSION": app.version or "",
            "MARATHON_APP_RESOURCE_CPUS": str(app.cpus),
            "MARATHON_APP_RESOURCE_MEM": str(app.mem),
        },
        uris=[p.UriInfo(f.uri, f.executable, f.extract) for f in app.fetch],
        user=app.user,
    )
    container: p.ContainerInfo | None = None
    if app.container is not None:
        c = app.container
        d = c.docker
        # One mapping per protocol ("udp,tcp" publishes the host port twice).
        mappings: list[p.PortMapping] = []
        hosts: list[int] = []
        for i, m in enumerate(c.port_mappings):
            for proto in m.protocol.split(","):
                mappings.append(p.PortMapping(m.container_port, ports[i], proto.strip(), m.name))
                hosts.append(ports[i])
        container = container_info(
            c.type,
            docker=p.DockerInfo(
                image=d.image,
                privileged=d.privileged,
                parameters=[p.Parameter(k, v) for k, v in d.parameters],
                force_pull_image=d.force_pull_image,
            )
            if d is not None and d.image
            else None,
            network=d.network if d is not None else None,
            port_mappings=mappings,
            host_ports=hosts,
            volumes=[
                p.VolumeInfo(v.container_path, v.host_path or "", v.mode)
                for v in c.volumes
                if v.persistent is None  # in the task's resources: the agent mounts it
            ],
        )
    names = [d.name for d in app.port_definitions] or (
        [m.name for m in app.container.port_mappings] if app.container else []
    )
    protocols = [d.protocol for d in app.port_definitions] or (
        [m.protocol for m in app.container.port_mappings] if app.container else []
    )
    port_labels = [d.labels for d in app.port_definitions] or (
        [m.labels for m in app.container.port_mappings] if app.container else []
    )
    labels = {str(k): str(v) for k, v in app.labels.items()}
    labels["MARATHON_APP_ID"] = app.id
    labels["MARATHON_APP_VERSION"] = app.version or ""
    task = build_task_info(
        task_id,
        name,
        offer.agent_id,
        need,
        command,
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
        discovery=discovery_info(
            # Mesos-DNS' name for the app (``/shop/web`` -> ``web-shop``), as Marathon's.
            "-".join(reversed(app.id.strip("/").split("/"))),
            ports,
            names,
            protocols,
            port_labels,
        ),
        kill_grace_period=float(app.task_kill_grace_period_seconds or 3),
        labels=labels,
    )
    if app.resource_limits:  # resourceLimits: Mesos' TaskInfo.limits
        task = replace(task, limits=dict(app.resource_limits))
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
