"""Mesos' read-only HTTP shapes, rendered from the master core (pure).

``/mesos/master/state``, ``/state-summary``, ``/slaves``, ``/frameworks``, ``/tasks``,
``/roles``, ``/metrics/snapshot`` and ``/version`` answer with the field names Mesos 1.x
uses (``src/master/readonly_handler.cpp``, ``src/master/metrics.cpp``), so dashboards and
scripts written for Mesos read them unchanged. Fields pydcos has no equivalent for
(executors) are present and empty.
"""

from __future__ import annotations

import json
import weakref
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress
from operator import is_
from typing import Any
from urllib.parse import urlsplit

from actors.gateway import MESOS_VERSION, BuildInfo, MasterAbout, build_json
from actors.master import _render_feed
from actors.master._master_core import (
    AgentRecord,
    FrameworkRecord,
    MasterCore,
    OfferRecord,
    TaskRecord,
)
from actors.resources import (
    UNRESERVED,
    Resources,
    reserved_resources_json,
    resources_v1,
    to_mesos_json,
)
from actors.task_states import TaskState

VERSION = MESOS_VERSION
"""The Mesos API version whose shapes these follow."""


def _pid(address: str, name: str) -> str:
    """Mesos prints actor addresses as ``name@host:port``."""
    hostport = address.removeprefix("tcp://").split("/", 1)[0]
    return f"{name}@{hostport}"


def task_json(t: TaskRecord, wall: float = 0.0) -> dict[str, Any]:
    status: dict[str, Any] = {"state": t.state.value, "timestamp": t.updated_at + wall}
    if t.healthy is not None:
        status["healthy"] = t.healthy
    out: dict[str, Any] = {
        "id": t.task_id,
        "name": t.task.name,
        "framework_id": t.framework_id,
        "executor_id": t.task.group_id,  # a task group's executor ("" for a plain task)
        "slave_id": t.agent_id,
        "agent_id": t.agent_id,
        "state": t.state.value,
        "resources": to_mesos_json(t.resources),
        "role": t.role,
        "statuses": [status],
        "labels": [{"key": k, "value": v} for k, v in sorted(t.task.labels.items())],
    }
    if t.task.container:
        out["container"] = {"type": t.task.container.type}
    if t.message:
        out["message"] = t.message
    if t.reason:
        out["reason"] = t.reason
    return out


_str = json.encoder.encode_basestring_ascii
"""What ``json.dumps`` encodes a ``str`` with (``ensure_ascii``, its C version)."""

_RESOURCES_TEXT: dict[Resources, str] = {}
"""``json.dumps(to_mesos_json(r))`` per resources value (the tasks of an app ask the same
resources; equal values share a text); cleared when it holds ``_RESOURCES_KEPT``."""

_RESOURCES_KEPT = 16384


def _text(value: Any) -> str:
    """``json.dumps(value)`` of a task's scalar field, without the encoder's set-up for
    the common types (``str``; finite ``float``: ``float.__repr__``, as json's)."""
    kind = type(value)
    if kind is str:
        return _str(value)
    if kind is float and value - value == 0.0:
        return float.__repr__(value)
    return json.dumps(value)


def _resources_text(resources: Resources) -> str:
    text = _RESOURCES_TEXT.get(resources)
    if text is None:
        if len(_RESOURCES_TEXT) >= _RESOURCES_KEPT:
            _RESOURCES_TEXT.clear()
        text = _RESOURCES_TEXT[resources] = json.dumps(to_mesos_json(resources))
    return text


_LABELS_TEXT: dict[int, tuple[Mapping[str, str], str]] = {}
"""The labels' JSON list per labels dict, by identity: the tasks of an app share one
dict (``_share.shared_task``), which nobody mutates after decoding; the entry holds the
dict, so its id is not reused while kept. Bounded like ``_RESOURCES_TEXT``."""


def _labels_text(labels: Mapping[str, str]) -> str:
    kept = _LABELS_TEXT.get(id(labels))
    if kept is not None and kept[0] is labels:
        return kept[1]
    text = json.dumps([{"key": k, "value": v} for k, v in sorted(labels.items())])
    if len(_LABELS_TEXT) >= _RESOURCES_KEPT:
        _LABELS_TEXT.clear()
    _LABELS_TEXT[id(labels)] = (labels, text)
    return text


_CONTAINER_TEXT: dict[str, str] = {}


def _container_text(kind: str) -> str:
    text = _CONTAINER_TEXT.get(kind)
    if text is None:
        if len(_CONTAINER_TEXT) >= 64:
            _CONTAINER_TEXT.clear()
        text = _CONTAINER_TEXT[kind] = json.dumps({"type": kind})
    return text


def task_text(t: TaskRecord, wall: float = 0.0) -> str:
    """``json.dumps(task_json(t, wall))``, byte for byte, written directly: the first
    ``/master/state`` after 90,000 tasks started encodes each of them (json's encoder
    set-up, the resources' dict and the labels' list per task were most of 2.5 s at
    100,000 tasks). Keys in ``task_json``'s order; a test compares both on random
    records."""
    state = _text(t.state.value)
    healthy = "" if t.healthy is None else ', "healthy": ' + json.dumps(t.healthy)
    task = t.task
    labels = task.labels
    agent = _text(t.agent_id)
    text = (
        f'{{"id": {_text(task.task_id)}, "name": {_text(task.name)}, '
        f'"framework_id": {_text(t.framework_id)}, "executor_id": {_text(task.group_id)}, '
        f'"slave_id": {agent}, "agent_id": {agent}, "state": {state}, '
        f'"resources": {_resources_text(t.resources)}, "role": {_text(t.role)}, '
        f'"statuses": [{{"state": {state}, "timestamp": {_text(t.updated_at + wall)}{healthy}}}], '
        f'"labels": '
    )
    text += _labels_text(labels) if labels else "[]"
    if task.container:
        text += ', "container": ' + _container_text(task.container.type)
    if t.message:
        text += ', "message": ' + _text(t.message)
    if t.reason:
        text += ', "reason": ' + _text(t.reason)
    return text + "}"


def task_json_text(t: TaskRecord, wall: float = 0.0) -> str:
    """``json.dumps(task_json(t, wall))``, kept on the record until a field it shows
    changes (the key holds them: records change in place, resources are replaced)."""
    key = (t.state, t.updated_at, t.healthy, t.message, t.reason, t.resources, t.role, wall)
    cached = t.json_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    text = task_text(t, wall)
    t.json_cache = (key, text)
    return text


def offer_json_text(o: OfferRecord) -> str:
    """``json.dumps(offer_json(o))``, once per offer."""
    text = o.json_text
    if text is None:
        # ``json.dumps(offer_json(o))`` written directly: every allocation cycle makes
        # an offer per agent (10,000), each rendered by the next request.
        text = o.json_text = (
            f'{{"id": {_text(o.offer_id)}, "framework_id": {_text(o.framework_id)}, '
            f'"slave_id": {_text(o.agent_id)}, "resources": {_resources_text(o.resources)}}}'
        )
    return text


def offer_json(o: OfferRecord) -> dict[str, Any]:
    return {
        "id": o.offer_id,
        "framework_id": o.framework_id,
        "slave_id": o.agent_id,
        "resources": to_mesos_json(o.resources),
    }


def agent_json(a: AgentRecord, wall: float = 0.0) -> dict[str, Any]:
    free = a.total.saturating_sub(a.used)
    return {
        "id": a.agent_id,
        "pid": _pid(a.address, "slave(1)"),
        "hostname": a.hostname,
        "port": _port(a.address),
        "registered_time": a.registered_at + wall,
        "resources": to_mesos_json(a.total),
        "used_resources": to_mesos_json(a.used),
        "offered_resources": to_mesos_json(a.offered),
        "reserved_resources": reserved_resources_json(a.total),
        "unreserved_resources": to_mesos_json(a.total.unreserved()),
        "reserved_resources_full": {
            role: resources_v1(a.total.for_role(role))
            for role in sorted(a.total.roles() - {UNRESERVED})
        },
        "unreserved_resources_full": resources_v1(a.total.unreserved()),
        "used_resources_full": resources_v1(a.used),
        "offered_resources_full": resources_v1(a.offered),
        "available_resources": to_mesos_json(free),
        "attributes": a.attributes.to_dict(),
        "active": a.reachable and not a.recovering,
        "reachable": a.reachable,
        "version": a.version,
        "capabilities": ["MULTI_ROLE"],
        "task_count": len(a.tasks),
    }


_V1_TEXT: dict[Resources, str] = {}
_TOTAL_TEXT: dict[Resources, str] = {}


def _kept(cache: dict[Resources, str], resources: Resources, make: Any) -> str:
    """``make(resources)`` kept per resources value (bounded like ``_RESOURCES_TEXT``).
    Scalars are integral fixed-point values: equal resources encode equally."""
    text = cache.get(resources)
    if text is None:
        if len(cache) >= _RESOURCES_KEPT:
            cache.clear()
        text = cache[resources] = make(resources)
    return text


def _v1_text(resources: Resources) -> str:
    return json.dumps(resources_v1(resources))


def _total_text(total: Resources) -> str:
    """The keys of ``agent_json`` made of its total alone, without the braces."""
    block = {
        "reserved_resources": reserved_resources_json(total),
        "unreserved_resources": to_mesos_json(total.unreserved()),
        "reserved_resources_full": {
            role: resources_v1(total.for_role(role))
            for role in sorted(total.roles() - {UNRESERVED})
        },
        "unreserved_resources_full": resources_v1(total.unreserved()),
    }
    return json.dumps(block)[1:-1]


def agent_text(a: AgentRecord, wall: float = 0.0) -> str:
    """``json.dumps(agent_json(a, wall))``, byte for byte, from texts kept per resources
    value: after a launch every agent's ``used`` changed, and 10,000 agents' JSON (five
    Mesos resource maps and three v1 lists each) were 250 ms of the first state. What
    surrounds the two ``offered`` maps is kept per agent (``_agent_parts``): offers come
    and go on every allocation cycle, and only those two maps change with them."""
    offered = a.offered
    head, mid, tail = _agent_parts(a, wall)
    return head + _resources_text(offered) + mid + _kept(_V1_TEXT, offered, _v1_text) + tail


_AGENT_PARTS: dict[str, tuple[tuple[Any, ...], tuple[str, str, str]]] = {}
"""Per agent id: the fields ``_agent_parts`` read and the three texts it made."""


def _agent_parts(a: AgentRecord, wall: float) -> tuple[str, str, str]:
    """``agent_text`` without its two ``offered`` maps: the text before the first,
    between them, and after the second (kept until a field they show changes)."""
    total, used = a.total, a.used
    key = (
        a.address,
        a.hostname,
        a.registered_at,
        wall,
        total,
        used,
        a.attributes,
        a.reachable,
        a.recovering,
        a.version,
        len(a.tasks),
    )
    kept = _AGENT_PARTS.get(a.agent_id)
    if kept is not None and kept[0] == key:
        return kept[1]
    mesos = _resources_text
    head = (
        f'{{"id": {_text(a.agent_id)}, "pid": {_text(_pid(a.address, "slave(1)"))}, '
        f'"hostname": {_text(a.hostname)}, "port": {json.dumps(_port(a.address))}, '
        f'"registered_time": {_text(a.registered_at + wall)}, "resources": {mesos(total)}, '
        f'"used_resources": {mesos(used)}, "offered_resources": '
    )
    mid = (
        f", {_kept(_TOTAL_TEXT, total, _total_text)}, "
        f'"used_resources_full": {_kept(_V1_TEXT, used, _v1_text)}, '
        f'"offered_resources_full": '
    )
    tail = (
        f', "available_resources": {mesos(total.saturating_sub(used))}, '
        f'"attributes": {json.dumps(a.attributes.to_dict())}, '
        f'"active": {json.dumps(a.reachable and not a.recovering)}, '
        f'"reachable": {json.dumps(a.reachable)}, "version": {json.dumps(a.version)}, '
        f'"capabilities": ["MULTI_ROLE"], "task_count": {json.dumps(len(a.tasks))}}}'
    )
    if kept is None and len(_AGENT_PARTS) >= _AGENTS_KEPT:
        _AGENT_PARTS.clear()
    parts = (head, mid, tail)
    _AGENT_PARTS[a.agent_id] = (key, parts)
    return parts


_AGENTS_KEPT = 131072
"""Agents whose parts are kept (past it the table starts again)."""


def agent_json_text(a: AgentRecord, wall: float = 0.0) -> str:
    """``json.dumps(agent_json(a, wall))``, kept on the record as ``task_json_text``
    (resources are immutable values replaced on change: compared by identity first)."""
    key = (
        a.total,
        a.used,
        a.offered,
        a.reachable,
        a.recovering,
        a.version,
        len(a.tasks),
        a.attributes,
        a.address,
        a.hostname,
        a.registered_at,
        wall,
    )
    cached = a.json_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    text = agent_text(a, wall)
    a.json_cache = (key, text)
    return text


def _port(address: str) -> int:
    hostport = address.removeprefix("tcp://").split("/", 1)[0]
    try:
        return int(hostport.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


@dataclass(slots=True)
class _FwTasks:
    """One framework's tasks in task id order, kept across renders, and its task list
    as blocks of ``BLOCK`` texts, each joined and summed apart: a changed task re-joins
    its block, not the framework's 100,000 texts."""

    tids: list[str]
    """Task ids of the framework's keys in ``core.tasks``, sorted."""
    idx: list[int]
    """Their positions in ``_Tasks.values``."""
    listed: frozenset[str] | None = None
    """``fw.tasks`` when ``live`` was chosen, at order ``at``."""
    listed_set: set[str] | None = None
    """The very ``fw.tasks`` set ``listed`` copied (or was last compared equal to)."""
    moves: int | None = None
    """``_Tasks.moves`` then: with the same set object, no ``moved`` since means the
    same contents (every writer of ``fw.tasks`` calls ``moved``)."""
    live: list[int] | None = None
    at: int = -1
    """``_Tasks.moved`` when ``live`` was chosen (-1: never)."""
    rendered: int = -1
    """``_Tasks.passes`` of the pass the blocks come from (-1: none)."""
    rendered_live: list[int] | None = None
    """The live positions the blocks show."""
    where: dict[int, int] = field(default_factory=dict)
    """Position in ``_Tasks.values`` -> index in ``rendered_live``."""
    blocks: list[_Block] = field(default_factory=list)
    used: Resources = field(default_factory=Resources)
    """The sum of the blocks' resources."""


BLOCK = 1024
"""Task texts per block of a framework's list (a block joins in ~0.1 ms)."""


@dataclass(slots=True)
class _Block:
    """``BLOCK`` consecutive tasks of a framework's list: their texts and resources
    (the objects, compared by identity to reuse the block), joined and summed."""

    texts: list[str]
    resources: list[Resources]
    joined: bytes
    used: Resources


def _block(texts: list[str], resources: list[Resources], old: _Block | None) -> _Block:
    """The block of these texts and resources, ``old`` itself when they are its."""
    if old is not None and len(texts) == len(old.texts) and all(map(is_, texts, old.texts)):
        if all(map(is_, resources, old.resources)):
            return old
        return _Block(texts, resources, old.joined, Resources.sum(resources))
    return _Block(texts, resources, ", ".join(texts).encode(), Resources.sum(resources))


@dataclass(slots=True)
class _Tasks:
    """``core.tasks`` as the last render saw it, in its own (insertion) order.

    Why: at 100,000 tasks a render that sorted the ids and looked every record up in
    id order (memory in random order) cost 20 times the 10,000-task render, not 10.
    Records are now read once, in the dict's order (the order they were allocated
    in), and placed by a kept permutation (``_FwTasks.idx``) that only the keys which
    came or went change. Each reuse is checked (identity of keys, records, texts and
    resources), never assumed."""

    keys: list[tuple[str, str]]
    values: list[TaskRecord]
    fws: dict[str, _FwTasks]
    moved: int = 0
    """Bumped whenever a key came or went (positions and orders changed)."""
    texts: list[str] | None = None
    """The last pass's texts, by position, at order ``texts_at`` (updated in place by
    the passes that only re-render the marked records)."""
    texts_at: int = -1
    passes: int = 0
    resources: list[Resources] = field(default_factory=list)
    """The records' resources by position, as ``texts``."""
    gone: set[int] = field(default_factory=set)
    """Positions of unreachable tasks, as ``texts``."""
    pos: dict[int, int] = field(default_factory=dict)
    """``id(record)`` -> its position, as ``texts`` (a hit is checked: ``values[i] is t``)."""
    wall: float = 0.0
    """The wall offset ``texts`` were rendered with."""
    moves: int | None = None
    """``_render_feed.moves`` when the keys were listed (None: not trusted)."""


_TASKS: weakref.WeakKeyDictionary[MasterCore, _Tasks] = weakref.WeakKeyDictionary()
"""Per core. Renders run on the core's own (actor) thread."""

_MERGE_ONE_BY_ONE = 64
"""Up to this many new tasks of a framework are inserted by bisection; more: one
merge (Timsort on the kept sorted run plus the new ids sorted)."""


def _sync(core: MasterCore) -> _Tasks:
    """Bring the kept order up to date with ``core.tasks``: a key that kept its place
    in the dict (same key object) keeps its place in its framework's order; the keys
    after the last kept one are placed by id."""
    last = _TASKS.get(core)
    moves = _render_feed.moves(core)
    if (
        last is not None
        and moves is not None
        and last.moves == moves
        and len(core.tasks) == len(last.keys)
    ):
        return last  # no key came, went or got another record since (``moved``)
    keys = list(core.tasks)
    values = list(core.tasks.values())
    if last is not None and len(keys) == len(last.keys) and all(map(is_, keys, last.keys)):
        if not all(map(is_, values, last.values)):
            # A record replaced under its key: positions hold, texts do not (a full pass).
            last.values = values
            last.moved += 1
        last.moves = moves
        return last
    fws: dict[str, _FwTasks] = {}
    start = 0
    if last is not None and len(keys) > len(last.keys) and all(map(is_, keys, last.keys)):
        # Only added (a launch): every kept position stays, no remap of 100,000 keys.
        start = len(last.keys)
        fws = {fid: fo for fid, fo in last.fws.items() if fo.idx}
    elif last is not None:
        old, n, j = last.keys, len(keys), 0
        remap = [-1] * len(old)
        for i, k in enumerate(old):
            if j < n and keys[j] is k:
                remap[i] = j
                j += 1
        start = j  # keys[:j] matched an old key each; keys[j:] are placed by id
        for fid, fo in last.fws.items():
            idx = [remap[i] for i in fo.idx]
            if -1 in idx:
                keep = [i >= 0 for i in idx]
                fo.tids = list(compress(fo.tids, keep))
                idx = list(compress(idx, keep))
            fo.idx = idx
            if idx:
                fws[fid] = fo
    added: dict[str, list[tuple[str, int]]] = {}
    for pos in range(start, len(keys)):
        fid, tid = keys[pos]
        added.setdefault(fid, []).append((tid, pos))
    for fid, pairs in added.items():
        fo = fws.get(fid) or _FwTasks([], [])
        fws[fid] = fo
        if len(pairs) <= _MERGE_ONE_BY_ONE:
            for tid, pos in pairs:
                at = bisect_left(fo.tids, tid)
                fo.tids.insert(at, tid)
                fo.idx.insert(at, pos)
        else:
            merged = list(zip(fo.tids, fo.idx, strict=True))
            merged += sorted(pairs)
            merged.sort()
            fo.tids = [t for t, _ in merged]
            fo.idx = [i for _, i in merged]
    tasks = _Tasks(keys, values, fws, moved=last.moved + 1 if last is not None else 0)
    tasks.moves = moves
    if last is not None:
        tasks.passes = last.passes
    _TASKS[core] = tasks
    return tasks


_EMPTY = _FwTasks([], [])


def _live(tasks: _Tasks, fw: FrameworkRecord) -> tuple[_FwTasks, list[int]]:
    """Positions (in ``tasks.values``) of the framework's live tasks in task id order:
    its ids in ``fw.tasks`` that ``core.tasks`` holds under its id (chosen again only
    when the order moved or ``fw.tasks`` changed)."""
    fo = tasks.fws.get(fw.framework_id)
    if fo is None:
        return _EMPTY, []
    listed = fw.tasks
    if fo.live is not None and fo.at == tasks.moved:
        if (
            fo.listed_set is listed
            and fo.moves == tasks.moves is not None
            and len(listed) == len(fo.listed or ())
        ):
            return fo, fo.live  # the same set, and no ``moved`` since: unchanged
        if fo.listed == listed:
            fo.listed_set, fo.moves = listed, tasks.moves
            return fo, fo.live
    keep = list(map(listed.__contains__, fo.tids))
    live = fo.idx if all(keep) else list(compress(fo.idx, keep))
    fo.live, fo.at, fo.listed = live, tasks.moved, frozenset(listed)
    fo.listed_set, fo.moves = listed, tasks.moves
    return fo, live


def _framework_parts(
    core: MasterCore, fw: FrameworkRecord
) -> tuple[dict[str, Any], list[TaskRecord], list[TaskRecord], list[OfferRecord]]:
    """A framework's JSON without its task and offer lists, and the records of those
    lists in order (live tasks by id, completed ones oldest first, offers by id)."""
    tasks = _sync(core)
    values = tasks.values
    live = [values[i] for i in _live(tasks, fw)[1]]
    head, completed, offers = _framework_head(core, fw, Resources.sum(t.resources for t in live))
    return head, live, completed, offers


def _framework_head(
    core: MasterCore, fw: FrameworkRecord, used: Resources
) -> tuple[dict[str, Any], list[TaskRecord], list[OfferRecord]]:
    fid = fw.framework_id
    kept = _offers_of(core, fw)
    offers, offered = kept.records, kept.offered
    completed = [t for t in core.completed if t.framework_id == fid]
    info = fw.info
    head = {
        "id": fw.framework_id,
        "name": info.name,
        "pid": _pid(fw.address, "scheduler") if fw.address else "",
        "hostname": info.hostname,
        "user": info.user,
        "principal": info.principal,
        "role": info.roles[0] if info.roles else "*",
        "roles": list(info.roles),
        "failover_timeout": info.failover_timeout,
        "checkpoint": True,
        # Mesos: active unless disconnected or deactivated; suppressing offers is not.
        "active": fw.connected,
        "connected": fw.connected,
        "recovered": False,
        "registered_time": fw.registered_at + core.wall_offset,
        "unregistered_time": 0,
        "used_resources": to_mesos_json(used),
        "offered_resources": to_mesos_json(offered),
        "resources": to_mesos_json(used + offered),
        "capabilities": ["MULTI_ROLE", "PARTITION_AWARE"],
        "webui_url": "",
    }
    return head, completed, offers


@dataclass(slots=True)
class _FwOffers:
    """A framework's outstanding offers as the last render listed them: their ids (as
    ``fw.offers`` then), the records in id order, their sum and their joined texts."""

    ids: frozenset[str]
    order: list[str]
    records: list[OfferRecord]
    offered: Resources
    text: str | None = None


_OFFERS: weakref.WeakKeyDictionary[MasterCore, dict[str, _FwOffers]] = weakref.WeakKeyDictionary()


def _offers_of(core: MasterCore, fw: FrameworkRecord) -> _FwOffers:
    """``fw``'s offers, kept while ``fw.offers`` holds the same ids for the same records:
    a render between two allocation cycles sorted and summed 10,000 offers again."""
    per = _OFFERS.get(core)
    if per is None:
        per = _OFFERS[core] = {}
    kept = per.get(fw.framework_id)
    listed, get = fw.offers, core.offers.get
    if kept is not None and kept.ids == listed:
        records = [o for o in map(get, kept.order) if o is not None]
        if len(records) == len(kept.records) and all(map(is_, records, kept.records)):
            return kept
    order = sorted(listed)
    records = [o for o in map(get, order) if o is not None]
    if len(per) > 2 * (len(core.frameworks) + len(core.completed_frameworks)) + 16:
        per.clear()  # frameworks long gone
    kept = per[fw.framework_id] = _FwOffers(
        frozenset(listed), order, records, Resources.sum(o.resources for o in records)
    )
    return kept


def _offers_text(core: MasterCore, fw: FrameworkRecord) -> str:
    """The framework's offers' texts joined (kept with ``_offers_of``)."""
    kept = _offers_of(core, fw)
    if kept.text is None:
        kept.text = ", ".join([offer_json_text(o) for o in kept.records])
    return kept.text


def framework_json(core: MasterCore, fw: FrameworkRecord) -> dict[str, Any]:
    head, live, completed, offers = _framework_parts(core, fw)
    wall = core.wall_offset
    tasks = [task_json(t, wall) for t in live]
    return {
        **head,
        "tasks": tasks,
        "completed_tasks": [task_json(t, wall) for t in completed],
        "unreachable_tasks": [t for t in tasks if t["state"] == "TASK_UNREACHABLE"],
        "offers": [offer_json(o) for o in offers],
        "executors": [],
    }


def framework_json_text(core: MasterCore, fw: FrameworkRecord) -> str:
    """``json.dumps(framework_json(core, fw))`` from the records' cached task texts."""
    parts: list[bytes] = []
    tasks = _sync(core)
    _framework_parts_text(core, fw, parts, tasks, _Pass(tasks, core.wall_offset, core))
    return b"".join(parts).decode()


class _Pass:
    """Every live task's text (``task_json_text``, inlined) and resources by position
    (``_Tasks``' order), the positions of the unreachable ones, and the positions whose
    text, resources or reachability are not the last pass's (``changed``; None: every
    position, the order moved).

    Why: a render walked all 100,000 records to find the few a status update changed
    (~60 ms per allocation cycle's render). A pass now re-renders only the records
    ``_render_feed`` marked since the last pass (each write of a shown field marks its
    record); a full walk is left for when keys came or went, a record was replaced,
    the wall offset moved, or the marks overflowed."""

    def __init__(self, tasks: _Tasks, wall: float, core: MasterCore) -> None:
        marked, overflow = _render_feed.take(core)
        values = tasks.values
        unreachable = TaskState.UNREACHABLE
        render = task_text
        texts = tasks.texts
        if texts is None or tasks.texts_at != tasks.moved or tasks.wall != wall or overflow:
            texts = []
            resources: list[Resources] = []
            gone: set[int] = set()
            pos: dict[int, int] = {}
            for i, t in enumerate(values):
                key = (
                    t.state,
                    t.updated_at,
                    t.healthy,
                    t.message,
                    t.reason,
                    t.resources,
                    t.role,
                    wall,
                )
                cached = t.json_cache
                if cached is None or cached[0] != key:
                    cached = t.json_cache = (key, render(t, wall))
                texts.append(cached[1])
                resources.append(t.resources)
                pos[id(t)] = i
                if t.state is unreachable:
                    gone.add(i)
            tasks.texts, tasks.resources, tasks.gone, tasks.pos = texts, resources, gone, pos
            tasks.texts_at, tasks.wall = tasks.moved, wall
            changed: set[int] | None = None
        else:
            resources, gone, pos = tasks.resources, tasks.gone, tasks.pos
            changed = set()
            for t in marked:
                at = pos.get(id(t))
                if at is None or values[at] is not t:
                    continue  # not live (completed: rendered from its own cache)
                i = at
                key = (
                    t.state,
                    t.updated_at,
                    t.healthy,
                    t.message,
                    t.reason,
                    t.resources,
                    t.role,
                    wall,
                )
                cached = t.json_cache
                if cached is None or cached[0] != key:
                    cached = t.json_cache = (key, render(t, wall))
                if texts[i] is not cached[1] or resources[i] is not t.resources:
                    texts[i], resources[i] = cached[1], t.resources
                    changed.add(i)
                if (t.state is unreachable) != (i in gone):
                    if i in gone:
                        gone.discard(i)
                    else:
                        gone.add(i)
                    changed.add(i)
        self.texts, self.resources, self.gone = texts, resources, gone
        self.changed = changed
        tasks.passes += 1
        self.number = tasks.passes


def _framework_parts_text(
    core: MasterCore, fw: FrameworkRecord, parts: list[bytes], tasks: _Tasks, done: _Pass
) -> None:
    """Append the pieces of ``framework_json_text``, encoded, to ``parts`` (the task
    list as its blocks' joined texts, each kept until one of its tasks changed; the
    caller sends or joins the pieces). The lists come last in the object, so they
    follow the encoded head. JSON texts are ASCII (``json.dumps`` escapes the rest),
    so pieces encoded apart join to the same bytes."""
    fo, live = _live(tasks, fw)
    blocks: list[_Block]
    if fo is _EMPTY:
        used, blocks = Resources(), []
    else:
        changed = done.changed
        if live is not fo.rendered_live or changed is None or fo.rendered != done.number - 1:
            old = fo.blocks
            texts, res = done.texts, done.resources
            blocks = []
            for n, start in enumerate(range(0, len(live), BLOCK)):
                at = live[start : start + BLOCK]
                blocks.append(
                    _block(
                        [texts[i] for i in at],
                        [res[i] for i in at],
                        old[n] if n < len(old) else None,
                    )
                )
            fo.where = {i: j for j, i in enumerate(live)}
            fo.blocks = blocks
            fo.used = Resources.sum(b.used for b in blocks)
        elif changed:
            where, blocks = fo.where, fo.blocks
            dirty = {j // BLOCK for j in map(where.get, changed) if j is not None}
            for n in dirty:
                at = live[n * BLOCK : (n + 1) * BLOCK]
                blocks[n] = _block(
                    [done.texts[i] for i in at], [done.resources[i] for i in at], blocks[n]
                )
            if dirty:
                fo.used = Resources.sum(b.used for b in blocks)
        fo.rendered, fo.rendered_live = done.number, live
        used, blocks = fo.used, fo.blocks
    gone: list[str] = []
    if done.gone and fo is not _EMPTY:
        where = fo.where
        mine = sorted(j for j in map(where.get, done.gone) if j is not None)
        gone = [done.texts[live[j]] for j in mine]
    head, completed, _ = _framework_head(core, fw, used)
    wall = core.wall_offset
    parts.append(json.dumps(head)[:-1].encode())
    parts.append(b', "tasks": [')
    for n, b in enumerate(blocks):
        if n:
            parts.append(b", ")
        parts.append(b.joined)
    rest = [
        '], "completed_tasks": [',
        ", ".join([task_json_text(t, wall) for t in completed]),
        '], "unreachable_tasks": [',
        ", ".join(gone),
        '], "offers": [',
        _offers_text(core, fw),
        '], "executors": []}',
    ]
    parts.append("".join(rest).encode())


def slaves_json(core: MasterCore) -> dict[str, Any]:
    """``/mesos/master/slaves``."""
    return {
        "slaves": [agent_json(a, core.wall_offset) for a in core.agents.values()],
        "recovered_slaves": [],
    }


def frameworks_json(core: MasterCore) -> dict[str, Any]:
    """``/mesos/master/frameworks``."""
    return {
        "frameworks": [framework_json(core, fw) for fw in core.frameworks.values()],
        "completed_frameworks": [framework_json(core, fw) for fw in core.completed_frameworks],
        "unregistered_frameworks": [],
    }


def tasks_json(
    core: MasterCore,
    limit: int = 100,
    offset: int = 0,
    order: str = "des",
    framework_id: str | None = None,
    task_id: str | None = None,
) -> dict[str, Any]:
    """``/mesos/master/tasks`` with Mesos' ``limit``, ``offset``, ``order``,
    ``framework_id`` and ``task_id`` query parameters (live tasks, then completed ones)."""
    records: list[TaskRecord] = list(core.tasks.values()) + list(core.completed)
    if framework_id is not None:
        records = [t for t in records if t.framework_id == framework_id]
    if task_id is not None:
        records = [t for t in records if t.task_id == task_id]
    records.sort(key=lambda t: t.updated_at, reverse=(order != "asc"))
    return {"tasks": [task_json(t, core.wall_offset) for t in records[offset : offset + limit]]}


def leader_info_json(
    core: MasterCore, *, hostname: str, address: str, http_url: str
) -> dict[str, Any]:
    """Mesos' ``MasterInfo`` of the leader (``leader_info``): ``port`` and ``address`` are
    where its HTTP API answers, ``pid`` its actor address as Mesos prints it."""
    u = urlsplit(http_url) if http_url else None
    ip = (u.hostname or "") if u else ""
    port = (u.port or 0) if u else 0
    return {
        "id": core.master_id,
        "pid": _pid(address, "master"),
        "port": port,
        "hostname": hostname,
        "address": {"hostname": hostname, "ip": ip, "port": port},
    }


def _state_head(
    core: MasterCore,
    *,
    hostname: str,
    address: str,
    leader_address: str,
    elected_time: float | None,
    flags: dict[str, str] | None = None,
    about: MasterAbout | None = None,
    build: BuildInfo | None = None,
    http_url: str = "",
) -> dict[str, Any]:
    agents = core.agents.values()
    doc: dict[str, Any] = build_json(build) if build is not None else {"version": VERSION}
    doc.update(
        {
            "id": core.master_id,
            "pid": _pid(address, "master"),
            "hostname": hostname,
            "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING"],
            "start_time": core.started_at + core.wall_offset,
            "activated_slaves": sum(1 for a in agents if a.reachable and not a.recovering),
            "deactivated_slaves": 0,
            "unreachable_slaves": sum(1 for a in agents if not a.reachable),
            "leader": _pid(leader_address, "master"),
            "leader_info": leader_info_json(
                core, hostname=hostname, address=leader_address, http_url=http_url
            ),
        }
    )
    if elected_time is not None:
        doc["elected_time"] = elected_time + core.wall_offset
    if about is not None:
        doc["cluster"] = about.cluster
        if about.log_dir:
            doc["log_dir"] = about.log_dir
    doc["flags"] = dict(about.flags) if about is not None else dict(flags or {})
    return doc


def state_json(
    core: MasterCore,
    *,
    hostname: str,
    address: str,
    leader_address: str,
    elected_time: float | None,
    flags: dict[str, str] | None = None,
    about: MasterAbout | None = None,
    build: BuildInfo | None = None,
    http_url: str = "",
) -> dict[str, Any]:
    """``/mesos/master/state``: everything, as one document (the leader answers it, so
    ``leader_info`` describes this master). ``cluster`` and ``log_dir`` come from the
    master's own facts, ``log_dir`` only when it logs to a file (as Mesos with and
    without ``--log_dir``)."""
    doc = _state_head(
        core,
        hostname=hostname,
        address=address,
        leader_address=leader_address,
        elected_time=elected_time,
        flags=flags,
        about=about,
        build=build,
        http_url=http_url,
    )
    doc.update(
        {
            "slaves": [agent_json(a, core.wall_offset) for a in core.agents.values()],
            "recovered_slaves": [],
            "frameworks": [framework_json(core, fw) for fw in core.frameworks.values()],
            "completed_frameworks": [framework_json(core, fw) for fw in core.completed_frameworks],
            "orphan_tasks": [],
            "unregistered_frameworks": [],
        }
    )
    return doc


def state_json_chunks(
    core: MasterCore,
    *,
    hostname: str,
    address: str,
    leader_address: str,
    elected_time: float | None,
    flags: dict[str, str] | None = None,
    about: MasterAbout | None = None,
    build: BuildInfo | None = None,
    http_url: str = "",
) -> tuple[bytes, ...]:
    """``json.dumps(state_json(...)).encode()``, byte for byte once joined, from the
    records' cached texts (at 100,000 tasks a few tens of ms instead of seconds), as
    the pieces it is made of: the gateway writes them as they are (``send_chunks``)
    instead of joining 61 MB per change; unchanged pieces are the last render's
    objects, and nothing changed gives the very same tuple."""
    head = _state_head(
        core,
        hostname=hostname,
        address=address,
        leader_address=leader_address,
        elected_time=elected_time,
        flags=flags,
        about=about,
        build=build,
        http_url=http_url,
    )
    wall = core.wall_offset
    last = _ANSWERS.get(core)
    texts = [agent_json_text(a, wall) for a in core.agents.values()]
    if (
        last is not None
        and len(texts) == len(last.agent_texts)
        and all(map(is_, texts, last.agent_texts))
    ):
        agents = last.agents
    else:
        agents = _agent_blocks(texts, last)
    parts = [json.dumps(head)[:-1].encode(), b', "slaves": [']
    for n, block in enumerate(agents):
        if n:
            parts.append(b", ")
        parts.append(block)
    parts.append(b'], "recovered_slaves": [], "frameworks": [')
    tasks = _sync(core)
    done = _Pass(tasks, wall, core)
    idle = _IDLE.get(core)
    if idle is not None:
        idle.owed = False  # this render is the warm-up the idle calls owed
    for group in (core.frameworks.values(), core.completed_frameworks):
        for i, fw in enumerate(group):
            if i:
                parts.append(b", ")
            _framework_parts_text(core, fw, parts, tasks, done)
        if group is not core.completed_frameworks:
            parts.append(b'], "completed_frameworks": [')
    parts.append(b'], "orphan_tasks": [], "unregistered_frameworks": []}')
    if (
        last is not None
        and len(parts) == len(last.parts)
        and all(map(_same_part, parts, last.parts))
    ):
        return last.parts  # nothing shown changed: the same pieces (and their join)
    chunks = tuple(parts)
    _ANSWERS[core] = _Answer(texts, agents, chunks)
    return chunks


def state_json_bytes(
    core: MasterCore,
    *,
    hostname: str,
    address: str,
    leader_address: str,
    elected_time: float | None,
    flags: dict[str, str] | None = None,
    about: MasterAbout | None = None,
    build: BuildInfo | None = None,
    http_url: str = "",
) -> bytes:
    """``json.dumps(state_json(...)).encode()``, byte for byte: ``state_json_chunks``
    joined (once per set of pieces)."""
    chunks = state_json_chunks(
        core,
        hostname=hostname,
        address=address,
        leader_address=leader_address,
        elected_time=elected_time,
        flags=flags,
        about=about,
        build=build,
        http_url=http_url,
    )
    answer = _ANSWERS[core]
    if answer.data is None:
        answer.data = b"".join(chunks)
    return answer.data


PRERENDER_TASKS = 500
"""Task texts one ``prerender`` call renders at most (~3 us each, then their agents'
at ~10 us each): 2-3 ms, so a message that arrives meanwhile waits little (the actor
calls it again while its inbox stays empty)."""

QUIET = 0.2
"""Seconds a note must have aged before its record is pre-rendered: a task that just
reported STARTING reports RUNNING a moment later, and an agent taking a burst of
launches changes with each; their texts would be rendered for nothing."""


def prerender(core: MasterCore, now: float, budget: int = PRERENDER_TASKS) -> bool:
    """Render and keep, ahead of the next ``/master/state``, the texts of the task
    records ``_render_feed`` noted at least ``QUIET`` before ``now`` (at most
    ``budget``) and of their agents; the master actor calls it on its ``Tick`` while
    its inbox is empty. Once a wave of changes is over (no note for ``WARM_QUIET``),
    the frameworks' task lists are joined too (``_warm``, at most every
    ``WARM_EVERY``), unless a render did it.
    It computes exactly what the request would (the same cached texts, checked there
    against every field they show), only earlier. Returns whether notes that are due
    remain (the caller may call again)."""
    notes = _render_feed.feed(core)
    idle = _IDLE.get(core)
    if not notes:
        if (
            idle is not None
            and idle.owed
            and now - idle.last_note >= idle.quiet
            and now - idle.warmed >= WARM_EVERY
        ):
            idle.owed, idle.warmed = False, now
            _warm(core)
        return False
    if idle is None:
        idle = _IDLE[core] = _Idle()
    wall = core.wall_offset
    due = now - QUIET
    agent_ids: set[str] = set()
    done = 0
    first = notes[0][0]
    while notes and done < budget and notes[0][0] <= due:
        noted, t = notes.popleft()
        task_json_text(t, wall)
        agent_ids.add(t.agent_id)
        done += 1
    if done:
        if idle.warmed > idle.last_note:
            # A warm-up ran since the last notes: the wave went on after it (it was a
            # pause, not the end) and the next needs a longer quiet; a wave after a long
            # quiet is a new one.
            long_quiet = first - idle.warmed >= WARM_RESET
            idle.quiet = WARM_QUIET if long_quiet else min(2 * idle.quiet, WARM_QUIET_MAX)
        idle.owed, idle.last_note = True, noted
    agents = core.agents
    for agent_id in agent_ids:
        a = agents.get(agent_id)
        if a is not None:
            agent_json_text(a, wall)
    return bool(notes) and notes[0][0] <= due


WARM_QUIET = 0.5
"""Seconds without a new note before ``_warm`` (once per wave): the first GET after a
launch tends to come within a second of its last TASK_RUNNING."""

WARM_QUIET_MAX = 8.0
WARM_RESET = 30.0
"""A launch of 90,000 tasks notes a few thousand a second and its stream pauses now
and then (an allocation cycle, an agent host's stall): each warm-up the wave outlived
doubles the quiet the next one waits for (up to ``WARM_QUIET_MAX``); notes after
``WARM_RESET`` without any start a new wave (``WARM_QUIET`` again). The 10k/100k run
with a fixed 0.5 s spent 5% of the launch's samples in warm-ups (one every 5 s)."""

WARM_EVERY = 5.0
"""Seconds between two ``_warm`` at least (a warm-up is a pass over every task, ~0.1 s
at 100,000 and more under load)."""


@dataclass(slots=True)
class _Idle:
    """What ``prerender`` remembers of a core between calls."""

    owed: bool = False
    """Notes were rendered since the last ``_warm`` or ``/master/state`` render."""
    last_note: float = 0.0
    """When the newest note rendered was made."""
    warmed: float = float("-inf")
    """When the last ``_warm`` ran."""
    quiet: float = WARM_QUIET
    """Seconds without a note the next ``_warm`` waits for (see ``WARM_QUIET_MAX``)."""


_IDLE: weakref.WeakKeyDictionary[MasterCore, _Idle] = weakref.WeakKeyDictionary()


def _warm(core: MasterCore) -> None:
    """What a render does for the task lists (order, pass over the records, each
    framework's joined texts and sums), done while idle: the next render finds them
    current and reuses them (its own pass checks every record again)."""
    tasks = _sync(core)
    done = _Pass(tasks, core.wall_offset, core)
    scratch: list[bytes] = []
    for group in (core.frameworks.values(), core.completed_frameworks):
        for fw in group:
            _framework_parts_text(core, fw, scratch, tasks, done)


AGENT_BLOCK = 256
"""Agent texts per joined piece of ``slaves``: an allocation cycle offers to the agents
that changed, and 10,000 agents' texts are ~15 MB, joined again per render before."""


def _agent_blocks(texts: list[str], last: _Answer | None) -> list[bytes]:
    """``texts`` joined by blocks, each the last answer's block when its texts are."""
    blocks = []
    old = last.agent_texts if last is not None else []
    for n, start in enumerate(range(0, len(texts), AGENT_BLOCK)):
        mine = texts[start : start + AGENT_BLOCK]
        if last is not None and n < len(last.agents):
            was = old[start : start + AGENT_BLOCK]
            if len(was) == len(mine) and all(map(is_, mine, was)):
                blocks.append(last.agents[n])
                continue
        blocks.append(", ".join(mine).encode())
    return blocks


@dataclass(slots=True)
class _Answer:
    """The last ``state_json_chunks`` of a core, its agents' texts, and its pieces
    joined once ``state_json_bytes`` asked for them."""

    agent_texts: list[str]
    agents: list[bytes]
    """The agents' texts joined by blocks of ``AGENT_BLOCK``."""
    parts: tuple[bytes, ...]
    data: bytes | None = None


_ANSWERS: weakref.WeakKeyDictionary[MasterCore, _Answer] = weakref.WeakKeyDictionary()


def _same_part(a: bytes, b: bytes) -> bool:
    """The same piece: the very object (the big ones are reused as objects), or a small
    one equal (heads are encoded anew each time)."""
    return a is b or (len(a) < 65536 and a == b)


_SUMMARY_STATES = (
    TaskState.STAGING,
    TaskState.STARTING,
    TaskState.RUNNING,
    TaskState.KILLING,
    TaskState.FINISHED,
    TaskState.KILLED,
    TaskState.FAILED,
    TaskState.LOST,
    TaskState.ERROR,
    TaskState.UNREACHABLE,
)
"""The per-agent and per-framework task counts of ``/state-summary`` (Mesos' order)."""


def _all_tasks(core: MasterCore) -> list[TaskRecord]:
    return list(core.tasks.values()) + list(core.completed)


def _state_counts(records: Iterable[TaskRecord]) -> dict[str, int]:
    counts = Counter(t.state for t in records)
    return {s.value: counts.get(s, 0) for s in _SUMMARY_STATES}


def state_summary_json(core: MasterCore, *, hostname: str, cluster: str | None) -> dict[str, Any]:
    """``/mesos/master/state-summary``: agents and frameworks without their tasks, each
    with its ``TASK_*`` counts (live tasks and the completed ones the master remembers)
    and the ids on the other side (``framework_ids`` / ``slave_ids``)."""
    records = _all_tasks(core)
    by_agent: dict[str, list[TaskRecord]] = {}
    by_framework: dict[str, list[TaskRecord]] = {}
    for t in records:
        by_agent.setdefault(t.agent_id, []).append(t)
        by_framework.setdefault(t.framework_id, []).append(t)
    live_fws: dict[str, set[str]] = {}
    live_agents: dict[str, set[str]] = {}
    for t in core.tasks.values():
        live_fws.setdefault(t.agent_id, set()).add(t.framework_id)
        live_agents.setdefault(t.framework_id, set()).add(t.agent_id)
    slaves = []
    for a in core.agents.values():
        doc = agent_json(a, core.wall_offset)
        doc["deactivated"] = False
        doc.update(_state_counts(by_agent.get(a.agent_id, [])))
        doc["framework_ids"] = sorted(live_fws.get(a.agent_id, set()))
        slaves.append(doc)
    frameworks = []
    for fw in core.frameworks.values():
        full = framework_json(core, fw)
        doc = {
            k: full[k]
            for k in (
                "id",
                "name",
                "pid",
                "used_resources",
                "offered_resources",
                "capabilities",
                "hostname",
                "webui_url",
                "active",
                "connected",
                "recovered",
            )
        }
        doc.update(_state_counts(by_framework.get(fw.framework_id, [])))
        doc["slave_ids"] = sorted(live_agents.get(fw.framework_id, set()))
        frameworks.append(doc)
    out: dict[str, Any] = {"hostname": hostname}
    if cluster:
        out["cluster"] = cluster
    out["slaves"] = slaves
    out["frameworks"] = frameworks
    return out


def _quantities(resources: Resources) -> dict[str, float]:
    """Mesos' ``ResourceQuantities`` JSON: the scalars that are there, and only those."""
    return {k: v for k, v in sorted(resources.scalars().items()) if v}


def roles_json(core: MasterCore) -> dict[str, Any]:
    """``/mesos/master/roles``: every role the master knows (frameworks subscribed to it,
    a weight or quota configured, reservations on agents), with its weight, quota,
    what is allocated to and offered to it, and its frameworks."""
    names: set[str] = set(core.weights) | set(core.quotas)
    members: dict[str, list[str]] = {}
    for fw in core.frameworks.values():
        for role in fw.info.roles:
            names.add(role)
            members.setdefault(role, []).append(fw.framework_id)
    reserved: dict[str, Resources] = {}
    for a in core.agents.values():
        for role in a.total.roles():
            if role != UNRESERVED:
                names.add(role)
                reserved[role] = reserved.get(role, Resources()) + a.total.for_role(role)
    allocated: dict[str, Resources] = {}
    for t in core.tasks.values():
        allocated[t.role] = allocated.get(t.role, Resources()) + t.resources
    offered: dict[str, Resources] = {}
    for o in core.offers.values():
        offered[o.role] = offered.get(o.role, Resources()) + o.resources
    roles = []
    for name in sorted(names):
        quota = core.quotas.get(name)
        alloc = allocated.get(name, Resources())
        offer = offered.get(name, Resources())
        roles.append(
            {
                "name": name,
                "weight": float(core.weights.get(name, 1.0)),
                "quota": {
                    "role": name,
                    "guarantee": dict(quota.guarantee) if quota else {},
                    "limit": dict(quota.limit) if quota else {},
                    "consumed": _quantities(alloc),
                },
                "resources": _quantities(alloc + offer),
                "allocated": _quantities(alloc),
                "offered": _quantities(offer),
                "reserved": _quantities(reserved.get(name, Resources())),
                "frameworks": sorted(members.get(name, [])),
            }
        )
    return {"roles": roles}


_LIVE_GAUGES = (
    TaskState.STAGING,
    TaskState.STARTING,
    TaskState.RUNNING,
    TaskState.KILLING,
    TaskState.UNREACHABLE,
)
"""Task states Mesos reports as gauges (tasks in that state now)."""

_TERMINAL_COUNTERS = (
    TaskState.FINISHED,
    TaskState.FAILED,
    TaskState.KILLED,
    TaskState.LOST,
    TaskState.ERROR,
    TaskState.DROPPED,
    TaskState.GONE,
    TaskState.GONE_BY_OPERATOR,
)
"""Task states Mesos reports as counters (tasks that ended so, since this leader began)."""

_RESOURCE_NAMES = ("cpus", "gpus", "mem", "disk")


def _metric_name(state: TaskState) -> str:
    return "master/tasks_" + state.value.removeprefix("TASK_").lower()


def master_metrics(
    core: MasterCore | None,
    *,
    elected: bool,
    uptime_secs: float,
    ended: Mapping[TaskState, int] | None = None,
) -> dict[str, float]:
    """The ``master/*`` part of ``/metrics/snapshot``, with Mesos' names and meanings.

    A standby (``core`` None) answers too, as a Mesos standby does: ``master/elected`` 0
    and every gauge 0. ``ended`` counts tasks that reached each terminal state under
    this leader (Mesos' counters start at 0 on every master too)."""
    out: dict[str, float] = {
        "master/elected": 1.0 if elected else 0.0,
        "master/uptime_secs": float(uptime_secs),
    }
    agents = list(core.agents.values()) if core is not None else []
    frameworks = list(core.frameworks.values()) if core is not None else []
    live = Counter(t.state for t in core.tasks.values()) if core is not None else Counter()
    connected = [a for a in agents if a.reachable and not a.recovering]
    active_fw = sum(1 for f in frameworks if f.connected)
    out.update(
        {
            "master/slaves_active": float(len(connected)),
            "master/slaves_inactive": 0.0,
            "master/slaves_connected": float(len(connected)),
            "master/slaves_disconnected": 0.0,
            "master/slaves_unreachable": float(sum(1 for a in agents if not a.reachable)),
            "master/frameworks_active": float(active_fw),
            "master/frameworks_inactive": float(len(frameworks) - active_fw),
            "master/frameworks_connected": float(active_fw),
            "master/frameworks_disconnected": float(sum(1 for f in frameworks if not f.connected)),
            "master/outstanding_offers": float(len(core.offers) if core is not None else 0),
        }
    )
    for state in _LIVE_GAUGES:
        out[_metric_name(state)] = float(live.get(state, 0))
    for state in _TERMINAL_COUNTERS:
        out[_metric_name(state)] = float((ended or {}).get(state, 0))
    total = Resources()
    used = Resources()
    for a in connected:
        total = total + a.total
        used = used + a.used
    for name in _RESOURCE_NAMES:
        t, u = total.scalar(name), used.scalar(name)
        out[f"master/{name}_total"] = t
        out[f"master/{name}_used"] = u
        out[f"master/{name}_percent"] = u / t if t else 0.0
        out[f"master/{name}_revocable_total"] = 0.0
        out[f"master/{name}_revocable_used"] = 0.0
        out[f"master/{name}_revocable_percent"] = 0.0
    out["allocator/mesos/allocation_runs"] = float(core.alloc_cycles if core is not None else 0)
    return out
