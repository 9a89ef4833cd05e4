"""State watchers: the leading master streams its state and changes as Mesos v1 events.

An observer (DNS, the l4lb, the operator API's SUBSCRIBE) sends ``WatchMaster``; it gets
at once a ``MasterEvent`` SUBSCRIBED with the whole ``GET_STATE``, then one event per
change: TASK_ADDED, TASK_UPDATED (state or health changed), AGENT_ADDED, AGENT_REMOVED,
FRAMEWORK_ADDED/UPDATED/REMOVED, and a HEARTBEAT every ``watch_heartbeat_interval``.

The handler modules call the ``*_added``/``*_updated``/``*_removed`` notes right after
they change the state; a note costs nothing while nobody watches. The notes collect
the events in ``s.events``; the router calls :func:`flush` once the message is applied,
which appends one ``Send`` per watcher and event after the handler's own effects (so a
``Persist`` still precedes everything that reports what it records). Each watcher's
events are numbered 1, 2, 3...: a gap tells it to re-send ``WatchMaster``. A watcher is
dropped on ``UnwatchMaster`` or when its node goes down (``PeerDown``).
"""

from __future__ import annotations

from actors import protocol as p
from actors.master._effects import Effect, PeerDown, Send, Watch
from actors.master._state import AgentRecord, FrameworkRecord, MasterState, TaskRecord
from actors.master._v1 import (
    agent_ip,
    v1_agent,
    v1_framework,
    v1_framework_info,
    v1_get_state,
    v1_id,
    v1_task,
    v1_task_status,
)

# ------------------------------------------------------------------------------ notes


def task_added(s: MasterState, t: TaskRecord) -> None:
    """A task entered the master's books (launched, or adopted from an agent)."""
    if s.watchers:
        s.events.append({"type": "TASK_ADDED", "task_added": {"task": v1_task(s, t)}})


def task_updated(s: MasterState, t: TaskRecord, status: p.StatusUpdate) -> None:
    """A task's state or health changed; ``status`` is the update that changed it."""
    if s.watchers:
        s.events.append(
            {
                "type": "TASK_UPDATED",
                "task_updated": {
                    "framework_id": v1_id(t.framework_id),
                    "status": v1_task_status(status, agent_ip(s, t.agent_id)),
                    "state": t.state.value,
                },
            }
        )


def agent_added(s: MasterState, rec: AgentRecord) -> None:
    """An agent (re-)registered (observers treat AGENT_ADDED as an upsert)."""
    if s.watchers:
        s.events.append({"type": "AGENT_ADDED", "agent_added": {"agent": v1_agent(s, rec)}})


def agent_removed(s: MasterState, rec: AgentRecord) -> None:
    """An agent became unreachable (Mesos removes it until it re-registers)."""
    if s.watchers:
        s.events.append(
            {"type": "AGENT_REMOVED", "agent_removed": {"agent_id": v1_id(rec.agent_id)}}
        )


def framework_added(s: MasterState, fw: FrameworkRecord) -> None:
    if s.watchers:
        s.events.append(
            {"type": "FRAMEWORK_ADDED", "framework_added": {"framework": v1_framework(s, fw)}}
        )


def framework_updated(s: MasterState, fw: FrameworkRecord) -> None:
    """Re-subscribed (scheduler failover) or disconnected."""
    if s.watchers:
        s.events.append(
            {"type": "FRAMEWORK_UPDATED", "framework_updated": {"framework": v1_framework(s, fw)}}
        )


def framework_removed(s: MasterState, fw: FrameworkRecord) -> None:
    if s.watchers:
        s.events.append(
            {
                "type": "FRAMEWORK_REMOVED",
                "framework_removed": {"framework_info": v1_framework_info(fw)},
            }
        )


# ------------------------------------------------------------------------------ stream


def subscribed_event(s: MasterState) -> dict[str, object]:
    """SUBSCRIBED: the whole state and how often heartbeats come."""
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "get_state": v1_get_state(s),
            "heartbeat_interval_seconds": float(s.config.watch_heartbeat_interval),
        },
    }


SUBSCRIBED_MAX_AGENTS = 2000
SUBSCRIBED_MAX_TASKS = 2000
"""At most this many registered agents and live tasks in the SUBSCRIBED sent to an
observer on another node; the rest follow at once as AGENT_ADDED / TASK_ADDED (which
observers take as upserts). Why: a state of 10,000 tasks is ~9 MB of msgpack, over the
transport's 8 MB frame limit, so a standby's DNS and l4lb never got their SUBSCRIBED
(and asked again every 45 s); 100,000 tasks would be ~90 MB in one frame. Observers in
the leader's own process (the operator API's SUBSCRIBE) get the whole state in one."""


def paged_subscribed(s: MasterState) -> list[dict[str, object]]:
    """SUBSCRIBED with at most ``SUBSCRIBED_MAX_*`` agents and live tasks, then one
    AGENT_ADDED per further agent and one TASK_ADDED per further task."""
    first = subscribed_event(s)
    state = first["subscribed"]["get_state"]  # type: ignore[index]
    agents = state["get_agents"]["agents"]
    tasks = state["get_tasks"]["tasks"]
    if len(agents) <= SUBSCRIBED_MAX_AGENTS and len(tasks) <= SUBSCRIBED_MAX_TASKS:
        return [first]
    state["get_agents"]["agents"] = agents[:SUBSCRIBED_MAX_AGENTS]
    state["get_tasks"]["tasks"] = tasks[:SUBSCRIBED_MAX_TASKS]
    out: list[dict[str, object]] = [first]
    out += [
        {"type": "AGENT_ADDED", "agent_added": {"agent": a}} for a in agents[SUBSCRIBED_MAX_AGENTS:]
    ]
    out += [{"type": "TASK_ADDED", "task_added": {"task": t}} for t in tasks[SUBSCRIBED_MAX_TASKS:]]
    return out


RESEND_WINDOW = 30.0
"""Seconds after answering a subscription during which a resend of that same episode
(``WatchMaster.episode``) is not answered again: the observer sent it before our
SUBSCRIBED reached it (a new leader answers late behind a re-registration storm, and
each answer is a whole state: 16% of its CPU at 5k/50k). Our answer is on its way on
the same ordered connection (a lost peer is a ``PeerDown``, which ends the watch and
the skipping); past the window a resend is answered anyway."""


def _node_of(address: str) -> str:
    """``tcp://host:port`` of an actor address ``tcp://host:port/name``."""
    return address.rsplit("/", 1)[0]


BATCH_MAX = 512
"""Events held for the batched watchers before they go out without waiting for the
tick (a ``MasterEvents`` of 512 TASK_ADDED is ~0.5 MB, far under the frame limit)."""


def flush(s: MasterState, out: list[Effect]) -> None:
    """Send the collected events to every watcher, numbered per watcher; the batched
    watchers' (``WatchMaster.batch``) wait in ``s.watch_pending`` for ``send_pending``
    (each tick, via ``heartbeat``), or go now once ``BATCH_MAX`` are held."""
    if not s.events:
        return
    events, s.events = s.events, []
    watchers = s.watchers
    batched = s.watch_batched
    if batched:
        s.watch_pending += events
        if len(s.watch_pending) >= BATCH_MAX:
            send_pending(s, out)
        addresses = [a for a in watchers if a not in batched]
    else:
        addresses = list(watchers)
    if not addresses:
        return
    mid = s.master_id
    # Event by event, every watcher in turn: the transport packs each event once and
    # shares its bytes among the watchers' frames (codec ``share_field``), which needs
    # the same event to go out to all of them back to back. Each watcher's own events
    # still go out in order, numbered 1, 2, 3...
    for event in events:
        for address in addresses:
            seq = watchers[address] + 1
            watchers[address] = seq
            out.append(Send(address, p.MasterEvent(event, mid, seq)))


def send_pending(s: MasterState, out: list[Effect]) -> None:
    """The events held for the batched watchers, one ``MasterEvents`` each (the same
    list: the transport packs it once), numbered on from each watcher's last seq."""
    pending = s.watch_pending
    if not pending:
        return
    s.watch_pending = []
    mid = s.master_id
    watchers = s.watchers
    for address in s.watch_batched:
        seq = watchers.get(address)
        if seq is None:
            continue
        watchers[address] = seq + len(pending)
        out.append(Send(address, p.MasterEvents(pending, mid, seq + 1)))


def heartbeat(s: MasterState, now: float, out: list[Effect]) -> None:
    """A HEARTBEAT to every watcher every ``watch_heartbeat_interval`` seconds; the
    batched watchers' held events (called at every tick)."""
    if s.watchers and now - s.watch_heartbeat_at >= s.config.watch_heartbeat_interval:
        s.watch_heartbeat_at = now
        s.events.append({"type": "HEARTBEAT"})
        flush(s, out)
    send_pending(s, out)


def on_watch(
    s: MasterState, m: p.WatchMaster, now: float, out: list[Effect], sender: str | None = None
) -> None:
    """(Re)start a subscription: SUBSCRIBED as seq 1, then every change."""
    if not isinstance(m.subscriber, str) or "/" not in m.subscriber:
        s.errors.append(f"WatchMaster.subscriber: {m.subscriber!r:.80} is not an actor address")
        return
    answered = s.watch_answered.get(m.subscriber)
    if (
        m.episode
        and answered is not None
        and answered[0] == m.episode
        and now - answered[1] < RESEND_WINDOW
        and m.subscriber in s.watchers
    ):
        return  # a resend that crossed our SUBSCRIBED (on its way, in order)
    flush(s, out)  # events of earlier changes belong to the earlier subscriptions
    send_pending(s, out)
    if getattr(m, "batch", False) is True:
        s.watch_batched.add(m.subscriber)
    else:
        s.watch_batched.discard(m.subscriber)
    if not s.watchers:
        s.watch_heartbeat_at = now
    out.append(Watch(m.subscriber))
    local = bool(s.address) and _node_of(m.subscriber) == _node_of(s.address)
    events = [subscribed_event(s)] if local else paged_subscribed(s)
    for seq, event in enumerate(events, start=1):
        out.append(Send(m.subscriber, p.MasterEvent(event, s.master_id, seq)))
    s.watchers[m.subscriber] = len(events)
    if m.episode:
        s.watch_answered[m.subscriber] = (m.episode, now)


def on_unwatch(
    s: MasterState, m: p.UnwatchMaster, now: float, out: list[Effect], sender: str | None = None
) -> None:
    s.watchers.pop(m.subscriber, None)
    s.watch_answered.pop(m.subscriber, None)
    s.watch_batched.discard(m.subscriber)


def on_peer_down(
    s: MasterState, m: PeerDown, now: float, out: list[Effect], sender: str | None = None
) -> None:
    """A watcher whose node went down gets nothing more (it re-subscribes on return)."""
    s.watchers.pop(m.address, None)
    s.watch_answered.pop(m.address, None)
    s.watch_batched.discard(m.address)
