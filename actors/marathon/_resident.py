"""Resident apps: Marathon's local persistent volumes (``container.volumes[].persistent``).

An app with a persistent volume is *resident*: each of its instances owns a dynamic
reservation on one agent (cpus, mem, and disk carved into its volumes) and is always
relaunched there, on those resources, with the same volumes. The flow, as Marathon's
(offer matching in ``_resident_offers``):

1. a launch waits and no free reservation of the app exists: on an offer whose
   unreserved part fits, accept with ``RESERVE`` (role ``marathon``, principal
   ``marathon``, labels ``marathon_framework_id`` + ``marathon_task_id`` = the
   reservation id) and one ``CREATE`` per volume (persistence id
   ``<app>#<containerPath>#<uuid>``): the reservation is *reserving*;
2. the next offer from that agent carries the labelled resources: the instance is
   launched on them (its TaskInfo lists the volumes, the agent mounts them);
3. the task ends (killed, failed, scaled down): the reservation stays; a launch of the
   app waits ONLY for an offer of that agent carrying it (never elsewhere);
4. the app is deleted: each reservation without a live task is wiped with ``DESTROY`` +
   ``UNRESERVE`` when its agent offers it. Labelled resources of this framework that no
   reservation claims (a crash between accept and store) are wiped the same way.

Reservations are stored with the app's instance records (``instances/<app>``: records
with ``"reservationId"``), so a new leader knows them. Everything here is pure; the
core calls ``match`` from its offer handler and ``records``/``load_record`` from its
store paths, and the actor shell carries out ``Operate`` effects (``driver.accept``).
"""

from __future__ import annotations

import dataclasses
import posixpath
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from actors import protocol as p
from actors.resources import Resources

AppDefinition = Any
"""``_app.AppDefinition`` (not imported: ``_app`` imports this module)."""

ROLE = "marathon"
"""The role of resident reservations (Marathon's ``--mesos_role``; ``*`` cannot hold one)."""
PRINCIPAL = "marathon"
"""Marathon's ``--mesos_authentication_principal``."""
LABEL_FRAMEWORK = "marathon_framework_id"
LABEL_RESERVATION = "marathon_task_id"
RESERVE_TIMEOUT = 20.0
"""Seconds a reservation may stay unseen in offers before it is forgotten (Marathon's
``--task_reservation_timeout``); its resources, if they show up later, are wiped."""
RESIDENT_UPGRADE = (0.5, 0.0)
"""Marathon's ``UpgradeStrategy.forResidentTasks``: old tasks die before new ones start
(they take over the reservations), never more instances than asked."""
RESERVING, RESERVED = "reserving", "reserved"


@dataclass(frozen=True)
class PersistentInfo:
    """``persistent`` of a volume: ``{"type": "root", "size": MiB}``."""

    type: str = "root"
    size: int | None = None
    max_size: int | None = None
    constraints: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PersistentInfo:
        return cls(
            type=raw.get("type", "root"),
            size=raw.get("size"),
            max_size=raw.get("maxSize"),
            constraints=tuple(tuple(c) for c in raw.get("constraints", [])),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "size": self.size,
            "constraints": [list(c) for c in self.constraints],
        }
        if self.max_size is not None:
            out["maxSize"] = self.max_size
        return out


# ------------------------------------------------------------------ definitions


def persistent_volumes(app: Any) -> list[Any]:
    """The app's persistent volumes (``Volume`` with ``persistent``), in order."""
    c = getattr(app, "container", None)
    if c is None:
        return []
    return [v for v in c.volumes if getattr(v, "persistent", None) is not None]


def is_resident(app: Any) -> bool:
    return bool(persistent_volumes(app))


def resident_defaults(app: AppDefinition, data: Mapping[str, Any]) -> AppDefinition:
    """Marathon's defaults for a resident app: ``upgradeStrategy`` 0.5/0 and
    ``unreachableStrategy`` disabled, when the definition does not give them."""
    if not is_resident(app):
        return app
    changes: dict[str, Any] = {}
    if "upgradeStrategy" not in data:
        changes["upgrade_strategy"] = dataclasses.replace(
            app.upgrade_strategy,
            minimum_health_capacity=RESIDENT_UPGRADE[0],
            maximum_over_capacity=RESIDENT_UPGRADE[1],
        )
    if "unreachableStrategy" not in data:
        changes["unreachable_strategy"] = None
    return dataclasses.replace(app, **changes) if changes else app


def volume_problems(app: AppDefinition) -> list[tuple[str, str]]:
    """Marathon's rules for persistent volumes and resident apps, (JSON path, message)."""
    problems: list[tuple[str, str]] = []
    c = app.container
    if c is None:
        return problems
    if c.type == "DOCKER" and c.docker is not None:  # Docker named volumes
        from actors.agent import parse_docker_volume

        for i, (key, value) in enumerate(c.docker.parameters):
            if key == "volume":
                try:
                    parse_docker_volume(value)
                except ValueError as exc:
                    problems.append((f"/container/docker/parameters/{i}/value", str(exc)))
    paths: list[str] = []
    for i, v in enumerate(c.volumes):
        info = getattr(v, "persistent", None)
        if info is None:
            continue
        where = f"/container/volumes/{i}"
        cp = v.container_path
        norm = posixpath.normpath(cp) if cp else ""
        if not cp or "/" in cp or norm in (".", "..") or "\0" in cp:
            problems.append(
                (
                    f"{where}/containerPath",
                    f"{cp!r:.80} must be a single relative path level without '/' "
                    "(e.g. 'data': a persistent volume is mounted in the sandbox)",
                )
            )
        elif cp in paths:
            problems.append((f"{where}/containerPath", f"{cp!r} is used by two volumes"))
        paths.append(cp)
        if v.host_path is not None:
            problems.append((f"{where}/hostPath", "a persistent volume takes no hostPath"))
        if v.mode != "RW":
            problems.append((f"{where}/mode", "a persistent volume is RW only"))
        if info.size is None:
            problems.append((f"{where}/persistent/size", "size (MiB) is required"))
        elif isinstance(info.size, bool) or not isinstance(info.size, int) or info.size < 1:
            problems.append((f"{where}/persistent/size", f"{info.size!r} must be an integer >= 1"))
        if info.type != "root":
            problems.append(
                (
                    f"{where}/persistent/type",
                    f"{info.type!r}: only 'root' disks are supported (the agent's work dir)",
                )
            )
        if info.max_size is not None:
            problems.append((f"{where}/persistent/maxSize", "maxSize is for 'mount' disks only"))
        if info.constraints:
            problems.append(
                (f"{where}/persistent/constraints", "constraints are for 'path'/'mount' disks")
            )
    if not paths:
        return problems
    s = app.upgrade_strategy
    if s.minimum_health_capacity > RESIDENT_UPGRADE[0]:
        problems.append(
            (
                "/upgradeStrategy/minimumHealthCapacity",
                f"{s.minimum_health_capacity} must be <= 0.5 for an app with persistent "
                "volumes (old tasks stop before new ones take over their reservations)",
            )
        )
    if s.maximum_over_capacity > RESIDENT_UPGRADE[1]:
        problems.append(
            (
                "/upgradeStrategy/maximumOverCapacity",
                f"{s.maximum_over_capacity} must be 0 for an app with persistent volumes",
            )
        )
    if app.unreachable_strategy is not None:
        problems.append(
            (
                "/unreachableStrategy",
                "must be 'disabled' for an app with persistent volumes (its data stays "
                "on the unreachable agent)",
            )
        )
    if app.accepted_resource_roles is not None and "*" not in app.accepted_resource_roles:
        problems.append(
            (
                "/acceptedResourceRoles",
                "an app with persistent volumes reserves unreserved resources: include '*'",
            )
        )
    return problems


def resident_change_problems(old: AppDefinition, new: AppDefinition) -> list[tuple[str, str]]:
    """Marathon refuses to change what a resident app reserved (resources, volumes)."""
    if not (is_resident(old) or is_resident(new)):
        return []
    problems = []
    if _volume_specs(old) != _volume_specs(new):
        problems.append(("/container/volumes", "persistent volumes cannot be changed"))
    for name in ("cpus", "mem", "disk"):
        if is_resident(old) and getattr(old, name) != getattr(new, name):
            problems.append(
                (f"/{name}", f"{name} of an app with persistent volumes cannot be changed")
            )
    return problems


def _volume_specs(app: Any) -> list[tuple[str, int | None]]:
    return [(v.container_path, v.persistent.size) for v in persistent_volumes(app)]


# ------------------------------------------------------------------ reservations


@dataclass(slots=True)
class Reservation:
    """One resident instance's reservation on one agent."""

    reservation_id: str
    app_id: str
    agent_id: str
    hostname: str
    volumes: list[dict[str, Any]]
    """``{"containerPath", "persistenceId", "size"}`` per volume."""
    state: str = RESERVING
    since: float = 0.0
    """``now`` of the last state change (monotonic; not stored)."""
    task_id: str | None = None
    """The task launched on it last (it may have ended)."""

    def record(self) -> dict[str, Any]:
        return {
            "reservationId": self.reservation_id,
            "appId": self.app_id,
            "agentId": self.agent_id,
            "host": self.hostname,
            "volumes": self.volumes,
            "state": self.state,
            "taskId": self.task_id,
        }

    @classmethod
    def from_record(cls, doc: Mapping[str, Any], now: float) -> Reservation:
        vols = doc.get("volumes")
        if not isinstance(vols, list) or not all(isinstance(v, dict) for v in vols):
            raise ValueError(f"reservation {doc.get('reservationId')!r}: volumes must be a list")
        state = str(doc.get("state", RESERVED))
        if state not in (RESERVING, RESERVED):
            raise ValueError(f"reservation state {state!r} is not reserving|reserved")
        return cls(
            reservation_id=str(doc["reservationId"]),
            app_id=str(doc["appId"]),
            agent_id=str(doc["agentId"]),
            hostname=str(doc.get("host", "")),
            volumes=[dict(v) for v in vols],
            state=state,
            since=now,
            task_id=str(doc["taskId"]) if doc.get("taskId") else None,
        )

    def local_volumes(self) -> list[dict[str, str]]:
        """Marathon's ``localVolumes`` of the instance's task."""
        return [
            {"containerPath": v["containerPath"], "persistenceId": v["persistenceId"]}
            for v in self.volumes
        ]


@dataclass(slots=True)
class ResidentBook:
    """Every reservation Marathon holds, by id."""

    by_id: dict[str, Reservation] = field(default_factory=dict)

    def of_app(self, app_id: str) -> list[Reservation]:
        return [r for r in self.by_id.values() if r.app_id == app_id]

    def records(self, app_id: str) -> list[dict[str, Any]]:
        return [r.record() for r in sorted(self.of_app(app_id), key=lambda r: r.reservation_id)]

    def by_task(self, task_id: str) -> Reservation | None:
        for r in self.by_id.values():
            if r.task_id == task_id:
                return r
        return None


def is_reservation_record(rec: Any) -> bool:
    return isinstance(rec, dict) and "reservationId" in rec


def labelled_parts(res: Resources, framework_id: str) -> dict[str, Resources]:
    """The offered resources this framework reserved, per reservation id."""
    out: dict[str, Resources] = {}
    for label, value in res.to_dict().items():
        if "(" not in label:
            continue
        one = Resources.from_dict({label: value})
        e = next(one.entries())
        if e.reservation is None:
            continue
        labels = e.reservation.labels_dict()
        rid = labels.get(LABEL_RESERVATION)
        if labels.get(LABEL_FRAMEWORK) != framework_id or not rid:
            continue
        out[rid] = out.get(rid, Resources()) + one
    return out


def volume_part(res: Resources) -> Resources:
    """Only the persistent volumes of ``res``."""
    return Resources.from_dict({e.label: e.value for e in res.volumes()})


def wipe_operations(part: Resources) -> list[p.Operation]:
    """DESTROY the volumes of a reservation, then UNRESERVE all of it."""
    ops = []
    vols = volume_part(part)
    if vols:
        ops.append(p.Operation("DESTROY", resources=vols.to_dict()))
    ops.append(p.Operation("UNRESERVE", resources=part.strip_volumes().to_dict()))
    return ops


def reserve_operations(
    app: AppDefinition, framework_id: str, reservation_id: str, role: str = ROLE
) -> tuple[list[p.Operation], list[dict[str, Any]], Resources]:
    """RESERVE of one instance's resources (cpus, mem, sandbox disk + volume sizes) and
    one CREATE per volume; the volumes' records; the unreserved resources it takes."""
    vols = persistent_volumes(app)
    size = sum(int(v.persistent.size or 0) for v in vols)
    plain = Resources.from_scalars(
        {"cpus": app.cpus, "mem": app.mem, "disk": app.disk + size, "gpus": float(app.gpus)}
    )
    labels = {LABEL_FRAMEWORK: framework_id, LABEL_RESERVATION: reservation_id}
    reserved = plain.reserve_dynamic(role, PRINCIPAL, labels)
    ops = [p.Operation("RESERVE", resources=reserved.to_dict())]
    records = []
    safe = app.id.strip("/").replace("/", ".")
    for v in vols:
        pid = f"{safe}#{v.container_path}#{uuid.uuid4()}"
        disk = Resources.from_scalars({"disk": float(v.persistent.size or 0)})
        created = disk.reserve_dynamic(role, PRINCIPAL, labels).create_volume(
            pid, v.container_path, "RW"
        )
        ops.append(p.Operation("CREATE", resources=created.to_dict()))
        records.append(
            {"containerPath": v.container_path, "persistenceId": pid, "size": v.persistent.size}
        )
    return ops, records, plain


def has_work(book: ResidentBook, apps: Mapping[str, Any]) -> bool:
    """Offers are needed although no launch waits: a reservation to wipe (its app is
    gone) or one not yet seen in an offer. Marathon must not suppress then."""
    return any(r.app_id not in apps or r.state == RESERVING for r in book.by_id.values())


def forget_reservations(book: ResidentBook, instances: Iterable[Any]) -> set[str]:
    """``DELETE .../tasks/<id>?wipe=true``: forget the reservations of these instances'
    tasks (their resources, no longer claimed, are wiped when offered; a replacement
    reserves anew, anywhere). Returns the apps whose records changed."""
    ids = {i.task_id for i in instances}
    gone = [r for r in book.by_id.values() if r.task_id in ids]
    for r in gone:
        del book.by_id[r.reservation_id]
    return {r.app_id for r in gone}
