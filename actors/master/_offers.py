"""Offers: allocation cycles, declines, accepts (launch validation) and rescinds.

The allocator (``actors.master.allocator.allocate``) decides who is offered what; this
module feeds it a snapshot, turns its offers into ``Offers`` messages batched per
framework, keeps the cycle's result (offers and ``Rejection`` rows) for
``GetState("allocation")``, and applies Mesos' rules on the way back: an outstanding offer
counts as allocated; a decline (and what an accept leaves unused) installs a filter; an
invalid launch never reaches an agent, each bad task gets TASK_ERROR (TASK_DROPPED when
its offer was invalid) naming what was wrong.
"""

from __future__ import annotations

import functools
import heapq
import ipaddress
import itertools
import math
from typing import Any

from actors import protocol as p
from actors.master._effects import Effect, Send
from actors.master._reservations import STORAGE_OPS, accept_operation
from actors.master._state import (
    AgentRecord,
    FrameworkRecord,
    MasterState,
    OfferRecord,
    interned,
    known_framework,
    parsed_resources,
)
from actors.master._tasks import launch, reject_task
from actors.master.allocator import Agent as AllocAgent
from actors.master.allocator import (
    ClusterSnapshot,
    FilterIndex,
    OfferFilter,
    allocate,
    decline_filter,
)
from actors.master.allocator import Framework as AllocFramework
from actors.resources import ResourceError, Resources
from actors.task_states import TaskReason, TaskState

_EMPTY = Resources()


@functools.lru_cache(maxsize=65536)  # every offer names its agent's: parse each once
def address_ip(address: str) -> str:
    """The IP in a transport address (``tcp://10.0.0.5:5050/agent`` -> ``10.0.0.5``);
    empty when the host part is a name (``tcp://agent-1:5050``) or is missing."""
    rest = address.split("://", 1)[-1].split("/", 1)[0]
    host = rest[1 : rest.find("]")] if rest.startswith("[") else rest.rsplit(":", 1)[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return ""


@functools.lru_cache(maxsize=65536)
def address_port(address: str) -> int:
    """The port in a transport address (``tcp://10.0.0.5:5051/agent`` -> 5051); 0 when
    there is none."""
    hostport = address.split("://", 1)[-1].split("/", 1)[0]
    _, _, port = hostport.rpartition(":")
    return int(port) if port.isdigit() else 0


# ------------------------------------------------------------------------ allocation


def maybe_allocate(s: MasterState, now: float, out: list[Effect]) -> None:
    """Run an allocation cycle if something changed (or a decline filter expired) and
    the last cycle is at least ``allocation_interval`` (or ``alloc_pace``) old."""
    if cycle_wait(s, now) > 0:
        return
    if not s.dirty and now < next_filter_expiry(s):
        return
    s.last_alloc = now
    s.dirty = False
    clock = s.cycle_clock
    started = clock() if clock is not None else 0.0
    run_allocation(s, now, out)
    if clock is not None:
        s.last_cycle_cost = clock() - started


def cycle_wait(s: MasterState, now: float) -> float:
    """Seconds until an allocation cycle is due (<= 0: due now): ``allocation_interval``
    (or ``alloc_pace``, when longer) after the last one."""
    return max(s.config.allocation_interval, s.alloc_pace) - (now - s.last_alloc)


def next_filter_expiry(s: MasterState) -> float:
    """When a cycle with nothing changed could offer something new: the earliest expiry
    of a decline filter (inf: none; -inf: at once, filters not indexed yet, or quotas).

    Why a cycle with nothing dirty and no filter expired is skipped: after a cycle, an
    agent's free resources are either offered (counted as allocated) or left because
    every framework that wants them has a filter hiding them (or they are below the
    smallest offer); the next cycle sees the same or less on each agent, which the same
    filters hide, whatever order DRF then visits roles in: it offers nothing. (Was: a
    whole cycle at every pace while any framework held any filter, e.g. a 120 s decline
    of an idle framework.) Quotas: not skipped (their caps move with allocations)."""
    if s.quotas:
        return -math.inf
    first = math.inf
    for fw in s.frameworks.values():
        if not fw.filters:
            continue
        idx = fw.filter_index
        if idx is None or idx.filters is not fw.filters or idx.count != len(fw.filters):
            return -math.inf
        if idx.heap and idx.heap[0][0] < first:
            first = idx.heap[0][0]
    return first


def snapshot(s: MasterState, now: float) -> ClusterSnapshot:
    """The allocator's input: agents and frameworks as they stand (expired decline
    filters are pruned on the way), with the agents changed since the last cycle."""
    agents, changed = _agent_views(s)
    frameworks = []
    for fw in s.frameworks.values():
        by_agent = None
        if fw.filters:
            by_agent = _filter_index(fw, now)
        else:
            fw.filter_index = None  # emptied (a revive): the next filter starts anew
        frameworks.append(
            AllocFramework(
                framework_id=fw.framework_id,
                roles=tuple(fw.info.roles),
                active=fw.connected,
                suppressed_roles=frozenset(fw.info.roles)
                if fw.suppressed
                else frozenset(fw.suppressed_roles),
                filters=tuple(fw.filters),
                filters_by_agent=by_agent,
                allocation=fw.allocation,
            )
        )
    return ClusterSnapshot(
        agents=agents,
        frameworks=frameworks,
        weights=s.weights,
        quotas=s.quotas,
        changed=changed,
    )


def _agent_views(s: MasterState) -> tuple[list[AllocAgent], dict[str, int] | None]:
    """Every agent's allocator view in ``s.agents`` order, and the agents whose view may
    have changed since the last cycle (id -> index; None: every one).

    The views are kept on the memo between cycles and only the agents the table marked
    changed (``AgentTable.changed``: added, or an allocation field set) are looked at: at
    10,000 agents a cycle no longer checks 10,000 views (~1 us each) to find the few
    that changed. The changes are handed to the allocator until a cycle consumed them
    (``run_allocation`` clears them), so a snapshot taken outside a cycle loses none."""
    memo, table = s.alloc_memo, s.agents
    marks: set[str] | None = getattr(table, "changed", None)
    views, where, pending = memo.caller_views, memo.caller_pos, memo.caller_changed
    if marks is not None and memo.caller_table is table:
        fresh = [aid for aid in marks if aid not in where]
        if all(aid in table for aid in marks) and (
            not fresh or len(where) + len(fresh) == len(table)
        ):
            for aid in marks:
                i = where.get(aid)
                if i is not None:
                    views[i] = _alloc_view(table[aid])
                    pending[aid] = i
            if fresh:  # registered since: the table's last ones, in its order
                for rec in reversed(list(itertools.islice(reversed(table.values()), len(fresh)))):
                    where[rec.agent_id] = pending[rec.agent_id] = len(views)
                    views.append(_alloc_view(rec))
            marks.clear()
            return list(views), dict(pending)
    # First cycle, a plain dict, or an agent gone: every view anew, every agent walked.
    views[:] = [_alloc_view(a) for a in table.values()]
    where.clear()
    where.update((a.agent_id, i) for i, a in enumerate(views))
    pending.clear()
    memo.caller_table = table
    memo.synced = False
    if marks is not None:
        marks.clear()
    return list(views), None


def _filter_index(fw: FrameworkRecord, now: float) -> dict[str, list[OfferFilter]]:
    """``fw``'s live decline filters by agent, kept on the record between cycles
    (``allocator.FilterIndex``): the filters appended since are added, the expired ones
    are taken out of the index as they come due (a heap), and the list itself is
    compacted only once half of it expired (was: the whole list walked and
    copied whenever one filter had expired: every cycle under Marathon's 1 s refusals).
    Indexed anew when the list was replaced or shrunk by someone else (a revive), or
    edited in place (an expired filter not found in the index)."""
    flts = fw.filters
    idx = fw.filter_index
    if idx is None or idx.filters is not flts or idx.count > len(flts):
        idx = fw.filter_index = FilterIndex(flts, 0)
    by_agent, heap = idx.by_agent, idx.heap
    if idx.count < len(flts):
        serial = idx.serial
        for f in flts[idx.count :] if idx.count else flts:
            by_agent.setdefault(f.agent_id, []).append(f)
            serial += 1
            heapq.heappush(heap, (f.until, serial, f))
        idx.serial, idx.count = serial, len(flts)
    while heap and heap[0][0] <= now:
        f = heapq.heappop(heap)[2]
        mine = by_agent.get(f.agent_id)
        if mine is None or f not in mine:
            # The list was edited in place: index its live filters anew.
            live = [g for g in flts if g.until > now]
            fw.filters = live
            fw.filter_index = None
            return _filter_index(fw, now)
        if len(mine) == 1:
            del by_agent[f.agent_id]
        else:
            mine.remove(f)
        idx.expired += 1
    if idx.expired * 2 >= len(flts):
        # Compact: the same live filters, in a new list (the index follows it).
        live = [f for f in flts if f.until > now]
        fw.filters = idx.filters = live
        idx.count, idx.expired = len(live), 0
    return by_agent


def _alloc_view(a: AgentRecord) -> AllocAgent:
    """The allocator's view of ``a``: last cycle's while nothing in it changed (its
    resources are immutable values, replaced on change: compared by identity)."""
    v = a.alloc_view
    reachable = a.reachable and not a.recovering
    if v is not None:
        parts = a.alloc_parts
        if (
            parts is not None
            and parts[0] is a.used
            and parts[1] is a.offered
            and v.reachable is reachable
            and v.total is a.total
            and v.attributes is a.attributes
            and v.hostname is a.hostname
        ):
            return v
    allocated = a.used + a.offered
    v = a.alloc_view = AllocAgent(
        agent_id=a.agent_id,
        hostname=a.hostname,
        total=a.total,
        allocated=allocated,
        attributes=a.attributes,
        reachable=reachable,
        free=a.total.saturating_sub(allocated),
    )
    a.alloc_parts = (a.used, a.offered)
    return v


def run_allocation(s: MasterState, now: float, out: list[Effect]) -> None:
    """One allocation cycle; offers are batched into one ``Offers`` per framework and
    the cycle's result is kept as ``s.last_allocation`` (the explanation of waiting)."""
    if not s.frameworks or not s.agents:
        # Nothing to allocate; an earlier cycle's explanation would be stale.
        s.last_allocation = s.last_snapshot = None
        s.last_allocation_at = now
        return
    s.alloc_cycles += 1
    snap = snapshot(s, now)
    s.alloc_memo.epoch = s.filters_removed
    result = allocate(snap, now, s.alloc_config, s.alloc_memo)
    s.alloc_memo.caller_changed.clear()  # consumed by this cycle
    s.last_allocation, s.last_snapshot, s.last_allocation_at = result, snap, now
    s.offers_made += len(result.offers)
    batches: dict[str, list[p.Offer]] = {}
    granted: dict[tuple[str, str], list[Resources]] = {}
    plain = s.alloc_memo.caller_attributes
    for o in result.offers:
        agent = s.agents[o.agent_id]
        attrs = plain.get(o.agent_id)
        if attrs is None or attrs[0] is not agent.attributes:
            attrs = plain[o.agent_id] = (agent.attributes, agent.attributes.to_dict())
        fw = s.frameworks[o.framework_id]
        offer_id = f"{s.master_id}-O{s.next_id()}"
        s.offers[offer_id] = OfferRecord(
            offer_id, o.framework_id, o.agent_id, o.role, o.resources, now
        )
        agent.offered = agent.offered + o.resources
        agent.offers.add(offer_id)
        fw.offers.add(offer_id)
        granted.setdefault((o.framework_id, o.role), []).append(o.resources)
        batches.setdefault(fw.address, []).append(
            p.Offer(
                offer_id=offer_id,
                framework_id=o.framework_id,
                agent_id=o.agent_id,
                hostname=agent.hostname,
                resources=o.resources.to_dict(),
                attributes=attrs[1],
                ip=address_ip(agent.address),
                port=address_port(agent.address),
            )
        )
    # One addition per (framework, role) for the whole cycle: a framework's allocation
    # is one bag of every agent's resources, and adding to it per offer merged its port
    # ranges (which grow with the cluster) once per offer.
    for (fid, role), parts in granted.items():
        s.frameworks[fid].add_allocation(role, Resources.sum(parts))
    for address, offers in batches.items():
        out.append(Send(address, p.Offers(offers)))


# ------------------------------------------------------------------------ outstanding


def release_offer(
    s: MasterState,
    offer_id: str,
    released: dict[tuple[str, str], list[Resources]] | None = None,
) -> OfferRecord | None:
    """Forget an outstanding offer and give its resources back to the pool. With
    ``released``, the framework's allocation is not reduced here: the resources are
    collected per (framework, role) for one ``release_allocations`` (a Decline of 1,000
    offers subtracts once, not 1,000 times)."""
    o = s.offers.pop(offer_id, None)
    if o is None:
        return None
    agent = s.agents.get(o.agent_id)
    if agent is not None:
        agent.offered = agent.offered.saturating_sub(o.resources)
        agent.offers.discard(offer_id)
    fw = s.frameworks.get(o.framework_id)
    if fw is not None:
        fw.offers.discard(offer_id)
        if released is None:
            fw.sub_allocation(o.role, o.resources)
        else:
            released.setdefault((o.framework_id, o.role), []).append(o.resources)
    s.dirty = True
    return o


def release_allocations(s: MasterState, released: dict[tuple[str, str], list[Resources]]) -> None:
    """Take what ``release_offer`` collected out of the frameworks' allocations."""
    for (fid, role), parts in released.items():
        fw = s.frameworks.get(fid)
        if fw is not None:
            fw.sub_allocation(role, parts[0] if len(parts) == 1 else Resources.sum(parts))


def rescind(s: MasterState, offer_id: str, out: list[Effect], notify: bool = True) -> None:
    """Take an offer back; a connected framework is told (``Rescind``) unless not
    ``notify`` (it is failing over or going away and will not use it anyway)."""
    o = release_offer(s, offer_id)
    if o is None or not notify:
        return
    fw = s.frameworks.get(o.framework_id)
    if fw is not None and fw.connected:
        out.append(Send(fw.address, p.Rescind(offer_id)))


def expire_offers(s: MasterState, now: float, out: list[Effect]) -> None:
    """Rescind offers older than ``offer_timeout`` (none when it is None, as Mesos).

    ``s.offers`` is in creation order (offers are only ever added by a cycle, stamped with
    its ``now``), so the walk stops at the first young offer: a tick costs the expired
    offers, not the 10,000 a silent framework may hold."""
    timeout = s.config.offer_timeout
    if timeout is None:
        return
    expired: list[str] = []
    for o in s.offers.values():
        if now - o.created_at < timeout:
            break
        expired.append(o.offer_id)
    for offer_id in expired:
        rescind(s, offer_id, out)


# ------------------------------------------------------------------------ calls


def on_decline(
    s: MasterState, m: p.Decline, now: float, out: list[Effect], sender: str | None = None
) -> None:
    fw = known_framework(s, m.framework_id, "Decline", sender, out)
    if fw is None:
        return
    released: dict[tuple[str, str], list[Resources]] = {}
    for offer_id in m.offer_ids:
        o = s.offers.get(offer_id)
        if o is None or o.framework_id != fw.framework_id:
            continue  # Mesos ignores declines of unknown offers (they raced a rescind).
        release_offer(s, offer_id, released)
        f = decline_filter(o.agent_id, now, m.refuse_seconds, o.resources, o.role, m.reason)
        if f is not None:
            fw.filters.append(f)
    release_allocations(s, released)


def on_accept(
    s: MasterState, m: p.Accept, now: float, out: list[Effect], sender: str | None = None
) -> None:
    fw = known_framework(s, m.framework_id, "Accept", sender, out)
    if fw is None:
        return
    tasks = [t for op in m.operations if op.type in _LAUNCHES for t in op.tasks]
    problem = check_offers(s, fw, m)
    if problem is None:
        for op in m.operations:
            if op.type not in _LAUNCHES and op.type not in STORAGE_OPS:
                problem = (
                    f"operations: type {op.type!r:.40} is not supported (LAUNCH, LAUNCH_GROUP,"
                    " RESERVE, UNRESERVE, CREATE, DESTROY)"
                )
                break
    if problem is not None:
        out.append(Send(fw.address, p.FrameworkError(problem, "Accept")))
        for t in tasks:
            if isinstance(t, p.TaskInfo):
                reject_task(
                    s, fw, t, TaskState.DROPPED, TaskReason.INVALID_OFFERS, problem, now, out
                )
        # Valid offers named in a bad call go back to the pool (Mesos does the same).
        for offer_id in m.offer_ids:
            o = s.offers.get(offer_id)
            if o is not None and o.framework_id == fw.framework_id:
                release_offer(s, offer_id)
        return
    offers = [s.offers[i] for i in m.offer_ids]
    agent = s.agents[offers[0].agent_id]
    remaining = _EMPTY
    for o in offers:
        remaining = remaining + o.resources
        release_offer(s, o.offer_id)
    role = offers[0].role
    for op in m.operations:  # storage first, in order: a LAUNCH may use what they made
        if op.type in STORAGE_OPS:
            remaining = accept_operation(s, fw, agent, op, remaining, out)
    seen: set[str] = set()
    for op in m.operations:
        if op.type == "LAUNCH_GROUP":
            remaining = launch_group(s, fw, agent, op.tasks, remaining, role, seen, now, out)
    for t in (t for op in m.operations if op.type == "LAUNCH" for t in op.tasks):
        if not isinstance(t, p.TaskInfo):
            out.append(
                Send(
                    fw.address,
                    p.FrameworkError(f"LAUNCH: task {t!r:.80} is not a TaskInfo", "Accept"),
                )
            )
            continue
        error = check_task(s, fw, agent, t, seen)
        res: Resources | None = None
        if error is None:
            try:
                res = _task_resources(t.resources)
            except (ResourceError, TypeError, ValueError) as exc:
                error = f"task {t.task_id}: resources: {exc}"
        if error is None and res is not None:
            if not res:
                error = f"task {t.task_id}: resources are empty"
            elif not remaining.contains(res):
                error = (
                    f"task {t.task_id}: resources {res} exceed what is left of the "
                    f"offers ({remaining})"
                )
        if error is not None or res is None:
            reject_task(s, fw, t, TaskState.ERROR, TaskReason.TASK_INVALID, error or "", now, out)
            continue
        seen.add(t.task_id)
        remaining = remaining - res
        launch(s, fw, agent, t, res, role, now, out)
    f = decline_filter(
        agent.agent_id, now, m.refuse_seconds, remaining, role, "the rest of an accepted offer"
    )
    if remaining and f is not None:
        fw.filters.append(f)
    s.dirty = True


_LAUNCHES = frozenset({"LAUNCH", "LAUNCH_GROUP"})


def _task_resources(doc: Any) -> Resources:
    """A launched task's resources, ``interned(Resources.from_dict(doc))``: all-scalar
    documents (cpus, mem, disk: a few shapes per app) are remembered by their text
    (``parsed_resources``: 1.4 us instead of 8 per task), others (ports: a new one per
    task) parsed each time. Raises as ``from_dict`` does."""
    if type(doc) is dict and all(type(v) is float or type(v) is int for v in doc.values()):
        return parsed_resources(doc)
    return interned(Resources.from_dict(doc))


def launch_group(
    s: MasterState,
    fw: FrameworkRecord,
    agent: AgentRecord,
    tasks: list[p.TaskInfo],
    remaining: Resources,
    role: str,
    seen: set[str],
    now: float,
    out: list[Effect],
) -> Resources:
    """One LAUNCH_GROUP: every task valid and the whole group within the offers, or
    every task TASK_ERROR (Mesos' all-or-nothing). Each member is recorded (TASK_ADDED
    per task); the agent gets them in one ``RunTaskGroup``. Returns what is left."""
    problem: str | None = None
    charged: list[tuple[p.TaskInfo, Resources]] = []
    left = remaining
    good = [t for t in tasks if isinstance(t, p.TaskInfo)]
    group_ids = {t.group_id for t in good}
    if not tasks:
        problem = "LAUNCH_GROUP: the task group is empty"
    elif len(good) != len(tasks):
        problem = "LAUNCH_GROUP: every member must be a TaskInfo"
    elif len(group_ids) != 1 or not next(iter(group_ids)):
        problem = f"LAUNCH_GROUP: members must share one non-empty group_id: {sorted(group_ids)}"
    else:
        names: set[str] = set()
        for t in good:
            problem = check_task(s, fw, agent, t, seen | names)
            if problem is None:
                try:
                    res = _task_resources(t.resources)
                except (ResourceError, TypeError, ValueError) as exc:
                    problem = f"task {t.task_id}: resources: {exc}"
                else:
                    if not res:
                        problem = f"task {t.task_id}: resources are empty"
                    elif not left.contains(res):
                        problem = (
                            f"task group {t.group_id}: resources exceed what is left of the "
                            f"offers ({left}) at task {t.task_id}"
                        )
                    else:
                        left = left - res
                        charged.append((t, res))
            if problem is not None:
                break
            names.add(t.task_id)
    if problem is not None:
        out.append(Send(fw.address, p.FrameworkError(problem, "Accept")))
        for t in good:
            reject_task(s, fw, t, TaskState.ERROR, TaskReason.TASK_INVALID, problem, now, out)
        return remaining
    for t, res in charged:
        seen.add(t.task_id)
        launch(s, fw, agent, t, res, role, now, out, send=False)
    run = p.RunTaskGroup(fw.framework_id, fw.address, good[0].group_id, good)
    out.append(Send(agent.address, run))
    return left


def check_offers(s: MasterState, fw: FrameworkRecord, m: p.Accept) -> str | None:
    """What is wrong with the offers an ``Accept`` names (None: nothing)."""
    if not m.offer_ids:
        return "offer_ids: must name at least one offer"
    agent_ids = set()
    for offer_id in m.offer_ids:
        o = s.offers.get(offer_id)
        if o is None:
            return f"offer_ids: unknown offer {offer_id!r} (rescinded, used or never made)"
        if o.framework_id != fw.framework_id:
            return f"offer_ids: offer {offer_id!r} was made to another framework"
        agent_ids.add(o.agent_id)
    if len(agent_ids) > 1:
        return f"offer_ids: offers span several agents {sorted(agent_ids)}"
    if len(set(m.offer_ids)) != len(m.offer_ids):
        return "offer_ids: an offer is named twice"
    return None


def check_task(
    s: MasterState, fw: FrameworkRecord, agent: AgentRecord, t: p.TaskInfo, seen: set[str]
) -> str | None:
    """What is wrong with one task of a launch, before its resources (None: nothing)."""
    if not t.task_id or not isinstance(t.task_id, str) or len(t.task_id) > 255:
        return f"task_id: {t.task_id!r} must be a non-empty string of at most 255 chars"
    if t.task_id in seen or (fw.framework_id, t.task_id) in s.tasks:
        return f"task_id: {t.task_id!r} is already used by a live task"
    if t.agent_id != agent.agent_id:
        return (
            f"task {t.task_id}: agent_id {t.agent_id!r} is not the offer's agent {agent.agent_id!r}"
        )
    if t.command is None and not t.container:
        return f"task {t.task_id}: needs a command or a container"
    if not math.isfinite(t.kill_grace_period) or t.kill_grace_period < 0:
        return f"task {t.task_id}: kill_grace_period {t.kill_grace_period!r} must be >= 0"
    return None
