"""Resident apps' offer matching (see ``_resident`` for the flow): wipes of reservations
nobody needs, launches on free reservations (only on their agent), new reservations
(RESERVE + CREATE) for launches no free reservation can take. Pure: ``match`` decides,
``launch_on`` builds the task; the core emits the effects."""

from __future__ import annotations

import uuid
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from actors import protocol as p
from actors.framework import port_list
from actors.resources import ResourceError, Resources

from ._app import AppDefinition
from ._instances import Instance
from ._messages import Operate
from ._offers import QueueEntry, build_task, demand_of, offer_resources
from ._pods import PodDefinition
from ._resident import (
    RESERVE_TIMEOUT,
    RESERVED,
    RESERVING,
    ROLE,
    Reservation,
    ResidentBook,
    is_resident,
    labelled_parts,
    reserve_operations,
    volume_part,
    wipe_operations,
)


@dataclass(slots=True)
class ResidentPlan:
    """What ``match`` decided for a batch of offers."""

    launches: list[tuple[p.Offer, AppDefinition, Reservation, Resources, list[int]]] = field(
        default_factory=list
    )
    operations: list[Operate] = field(default_factory=list)
    offers_left: list[p.Offer] = field(default_factory=list)
    queue_left: list[QueueEntry] = field(default_factory=list)
    changed_apps: set[str] = field(default_factory=set)
    """Apps whose reservations changed (their records must be stored)."""


def _ports_for(app: AppDefinition, free: Resources) -> list[int] | None:
    """Host ports for one instance from the offer's unreserved ports (None: missing)."""
    want = demand_of(app).ports
    avail = port_list(free.unreserved())
    out: list[int] = []
    for port in want:
        if port:
            if port not in avail:
                return None
            avail.remove(port)
            out.append(port)
        elif avail:
            out.append(avail.pop(0))
        else:
            return None
    return out


def _ports_resources(ports: Sequence[int]) -> Resources:
    if not ports:
        return Resources()
    return Resources.from_dict({"ports": [[x, x] for x in sorted(ports)]})


def match(
    book: ResidentBook,
    queue: Sequence[QueueEntry],
    offers: Sequence[p.Offer],
    *,
    framework_id: str,
    live_tasks: Container[str],
    apps: Mapping[str, AppDefinition],
    now: float,
    role: str = ROLE,
    new_id: Any = None,
) -> ResidentPlan:
    """Decide, for a batch of offers: wipes of reservations nobody needs, launches on
    free reservations (only on their agent), new reservations for launches no free
    reservation can take. ``queue`` is the whole launch queue: the resident entries are
    taken out (``queue_left`` keeps the others); an offer used here is not in
    ``offers_left``. ``live_tasks``: the ids of the instances Marathon knows;
    ``apps``: the apps that exist (a reservation of any other app is wiped)."""
    plan = ResidentPlan()
    new_id = new_id or (lambda app_id: f"{app_id.strip('/').replace('/', '_')}.{uuid.uuid4()}")
    resident = {
        e.app.id: e
        for e in queue
        if is_resident(e.app) and e.count > 0 and not isinstance(e.app, PodDefinition)
    }
    plan.queue_left = [e for e in queue if not is_resident(e.app)]
    waiting = {
        app_id: e.count
        for app_id, e in resident.items()
        if not (e.backoff is not None and e.backoff.is_delayed(now))
    }
    for r in list(book.by_id.values()):  # never seen in an offer: give up on it
        if r.state == RESERVING and now - r.since > RESERVE_TIMEOUT and not _busy(r, live_tasks):
            del book.by_id[r.reservation_id]
            plan.changed_apps.add(r.app_id)
    unused: list[tuple[p.Offer, Resources | None]] = []
    reserving = any(n > 0 for n in waiting.values())
    for offer in offers:
        if not reserving and not _may_hold_reservations(offer):
            # Nothing of ours can be on it and no app waits to reserve: left as it is,
            # unread (parsing every offer of a 10,000-agent batch to find none was half
            # of Marathon's time matching it).
            unused.append((offer, None))
            continue
        try:
            res = offer_resources(offer)
        except ResourceError:
            plan.offers_left.append(offer)
            continue
        parts = labelled_parts(res, framework_id)
        used = False
        wipe_ops: list[p.Operation] = []
        for rid, part in sorted(parts.items()):
            known = book.by_id.get(rid)
            if known is None or (known.app_id not in apps and not _busy(known, live_tasks)):
                wipe_ops.extend(wipe_operations(part))
                if known is not None:
                    del book.by_id[rid]
                    plan.changed_apps.add(known.app_id)
                continue
            if known.state == RESERVING and known.agent_id == offer.agent_id:
                known.state, known.since = RESERVED, now
                plan.changed_apps.add(known.app_id)
        if wipe_ops:
            plan.operations.append(Operate(offer.offer_id, wipe_ops, 0.0, "wipe reservations"))
            continue  # this offer is spent; the rest comes back at once (refuse 0)
        for rid, part in sorted(parts.items()):
            mine = book.by_id.get(rid)
            if mine is None or _busy(mine, live_tasks) or waiting.get(mine.app_id, 0) <= 0:
                continue
            app = resident[mine.app_id].app
            if len(volume_part(part).volumes()) < len(mine.volumes):
                continue  # CREATE not applied yet: the volumes will come in a later offer
            ports = _ports_for(app, res)
            if ports is None:
                continue
            plan.launches.append((offer, app, mine, part + _ports_resources(ports), ports))
            waiting[mine.app_id] -= 1
            used = True
            break  # one launch per offer: the offer is accepted with it
        if used:
            continue
        unused.append((offer, res))
    # Launches no free reservation will take: reserve anew on an unreserved offer.
    for app_id, count in waiting.items():
        if count <= 0:
            continue
        app = resident[app_id].app
        free = sum(1 for r in book.of_app(app_id) if not _busy(r, live_tasks)) - sum(
            1 for launch in plan.launches if launch[1].id == app_id
        )
        missing = count - max(free, 0)
        for offer, offered in list(unused):
            if missing <= 0:
                break
            assert offered is not None  # read: an app waits to reserve (``reserving``)
            rid = new_id(app_id)
            ops, records, plain = reserve_operations(app, framework_id, rid, role)
            if not offered.unreserved().contains(plain) or _ports_for(app, offered) is None:
                continue
            unused.remove((offer, offered))
            book.by_id[rid] = Reservation(
                rid, app_id, offer.agent_id, offer.hostname, records, RESERVING, now
            )
            plan.changed_apps.add(app_id)
            plan.operations.append(Operate(offer.offer_id, ops, 0.0, f"reserve for {app_id}"))
            missing -= 1
    plan.offers_left.extend(o for o, _ in unused)
    return plan


def _may_hold_reservations(offer: p.Offer) -> bool:
    """Whether ``offer`` may carry reserved resources (a ``name(role...)`` label), from
    its raw resources alone; anything but a mapping of names says yes (the full read
    then judges it)."""
    raw = offer.resources
    if not isinstance(raw, dict):
        return True
    return any(not isinstance(label, str) or "(" in label for label in raw)


def _busy(r: Reservation, live_tasks: Container[str]) -> bool:
    return r.task_id is not None and r.task_id in live_tasks


def launch_on(
    offer: p.Offer,
    app: AppDefinition,
    r: Reservation,
    need: Resources,
    ports: list[int],
    wall: float,
) -> tuple[p.TaskInfo, Instance]:
    """The task of a resident instance on its reservation (its resources list the
    volumes: the agent mounts them), and its record (with ``localVolumes``)."""
    task, inst = build_task(app, offer, need, ports, wall)
    r.task_id = task.task_id
    inst.local_volumes = r.local_volumes()
    return task, inst
