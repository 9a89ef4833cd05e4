"""The leading master's bookkeeping as a step machine: messages in, effects out, no I/O.

``MasterCore.handle(message, now)`` and ``MasterCore.tick(now)`` mutate the core's own
state and return a list of effects (``Send``, ``Persist``, ``Unpersist``, ``Watch``) for
the master actor to carry out IN ORDER. The ordering is the contract: a ``Persist`` always
comes before the ``Send`` that acknowledges what it records (an agent id is written to
ZooKeeper before ``AgentRegistered`` leaves), so a master that dies between the two never
acknowledged anything it could lose.

Where each decision lives (all over the one ``MasterState`` of ``_state.py``):

* ``_agents.py``: registration, re-registration with tasks, pings, unreachable agents,
  the recovery window after a failover;
* ``_frameworks.py``: subscription and scheduler failover, disconnection, failover
  timeouts, teardown, revive and suppress;
* ``_offers.py``: allocation cycles (and the last cycle's rejections, the explanation of
  waiting), declines and their filters, accepts and launch validation, rescinds;
* ``_tasks.py``: launches, status updates, acknowledgements, kills, reconciliation;
* ``_watch.py``: state watchers: the handlers note each change, ``handle``/``tick`` end
  with ``_watch.flush`` (one ``Send`` of a v1 event per watcher, after the change's own
  effects); ``_operator.py``: operator calls (``operator``).

This module is the router: ``_HANDLERS`` maps each message type to its handler, and
``tick`` runs the periodic duties in a fixed order.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections import deque
from collections.abc import Callable, Container, Iterable
from typing import Any

from actors import protocol as p
from actors.master import _agents, _frameworks, _offers, _operator, _tasks, _watch
from actors.master._effects import Effect, PeerDown, Persist, Send, Unpersist, Watch
from actors.master._offers import address_ip
from actors.master._state import (
    AgentRecord,
    FrameworkRecord,
    MasterConfig,
    MasterState,
    OfferRecord,
    TaskRecord,
)

__all__ = [
    "AgentRecord",
    "Effect",
    "FrameworkRecord",
    "MasterConfig",
    "MasterCore",
    "OfferRecord",
    "PeerDown",
    "Persist",
    "Send",
    "TaskRecord",
    "Unpersist",
    "Watch",
    "address_ip",
    "new_master_id",
]

Handler = Callable[[MasterState, Any, float, list[Effect], "str | None"], None]


class MasterCore(MasterState):
    """Agents, frameworks, offers and tasks of the leading master: the one
    ``MasterState`` plus the router. Not thread-safe: the master actor owns it and calls
    it from its one thread."""

    def __init__(
        self,
        master_id: str,
        config: MasterConfig | None = None,
        *,
        now: float,
        recovered_agents: Iterable[dict[str, Any]] = (),
        recovered_frameworks: Iterable[dict[str, Any]] = (),
        recovered_weights: Iterable[dict[str, Any]] = (),
        recovered_quotas: Iterable[dict[str, Any]] = (),
        wall_offset: float = 0.0,
        address: str = "",
        agents_pending: bool = False,
    ) -> None:
        config = config or MasterConfig()
        super().__init__(
            master_id=master_id,
            config=config,
            started_at=now,
            address=address,
            wall_offset=wall_offset,
            completed=deque(maxlen=config.completed_tasks_kept),
            completed_frameworks=deque(maxlen=config.completed_frameworks_kept),
            last_ping=now,
        )
        for doc in recovered_agents:
            _agents.recover_agent(self, doc)
        for doc in recovered_frameworks:
            _frameworks.recover_framework(self, doc, now)
        self.weights = dict(config.weights)
        self.quotas = dict(config.quotas)
        _operator.recover_settings(self, recovered_weights, recovered_quotas)
        if self.agents or agents_pending:
            self.recovery_deadline = now + self.config.agent_reregister_timeout
        self.registry_pending = agents_pending

    def merge_agents(self, docs: Iterable[dict[str, Any]], now: float) -> list[Effect]:
        """The agents' registry records, read after this core started with
        ``agents_pending`` (``_agents.merge_registry``); the effects in order."""
        out: list[Effect] = []
        _agents.merge_registry(self, docs, now, out)
        self.generation += 1
        _watch.flush(self, out)
        return out

    @staticmethod
    def handles(msg: Any) -> bool:
        """Whether ``msg`` is a message ``handle`` knows (else it raises TypeError)."""
        return type(msg) in _HANDLERS

    def announce(self, heard: Container[str] = ()) -> list[Effect]:
        """After a failover or a restart: tell every framework, and every agent from the
        registry that has not re-registered yet, that this master leads, so they
        re-register now instead of after a timeout. The master actor calls it once the
        messages that queued while it read the registry are handled: an agent whose
        re-registration (sent on its leader watch's notice) was among them is not told
        again, as that would cost a second copy of every task it runs; nor is an agent
        in ``heard`` (ids whose re-registration the actor holds, not applied yet)."""
        out: list[Effect] = []
        here = p.MasterChanged(self.address, self.master_id) if self.address else None
        if here is None:
            return out
        for rec in self.agents.values():
            if rec.recovering and rec.agent_id not in heard:
                out.append(Send(rec.address, here))
        for fw in self.frameworks.values():
            if fw.address and not fw.connected:  # not one that subscribed already
                out.append(Send(fw.address, here))
        return out

    def handle(self, msg: Any, now: float, sender: str | None = None) -> list[Effect]:
        """Apply one incoming message; return the effects to carry out in order."""
        out: list[Effect] = []
        handler = _HANDLERS.get(type(msg))
        if handler is None:
            raise TypeError(f"master: unexpected message type {type(msg).__name__}")
        handler(self, msg, now, out, sender)
        if type(msg) not in _NO_CHANGE:
            self.generation += 1
        _watch.flush(self, out)
        return out

    def operator(self, call: p.OperatorCall, now: float) -> tuple[dict[str, Any], list[Effect]]:
        """Answer an operator call (v1 JSON; ``{"error": ...}`` when refused) and the
        effects to carry out BEFORE the answer leaves (an update's ``Persist``)."""
        out: list[Effect] = []
        answer = _operator.answer(self, call, out)
        if call.type in p.OPERATOR_WRITES:
            self.generation += 1
        _watch.flush(self, out)
        return answer, out

    def tick(self, now: float) -> list[Effect]:
        """Periodic duties: pings, unreachable agents, recovery deadline, framework
        failover timeouts, offer timeouts, and an allocation cycle when one is due."""
        out: list[Effect] = []
        changed = False
        if now - self.last_ping >= self.config.ping_interval:
            self.last_ping = now
            _agents.ping_agents(self, now, out)
            changed = True  # an agent may have become unreachable (with no effect to show)
        deadline = self.recovery_deadline
        if deadline is not None and now >= deadline and not self.registry_pending:
            _agents.end_recovery(self, now, out)
            changed = True
        _frameworks.expire_frameworks(self, now, out)
        _offers.expire_offers(self, now, out)
        _offers.maybe_allocate(self, now, out)
        if changed or out:
            self.generation += 1
        _watch.flush(self, out)
        _watch.heartbeat(self, now, out)
        return out

    def cycle_wait(self, now: float) -> float:
        """Seconds until an allocation cycle is due (see ``_offers.cycle_wait``)."""
        return _offers.cycle_wait(self, now)

    def maybe_allocate(self, now: float, out: list[Effect]) -> None:
        """Run an allocation cycle if one is due (see ``_offers.maybe_allocate``)."""
        before = len(out)
        _offers.maybe_allocate(self, now, out)
        if len(out) != before:
            self.generation += 1
        _watch.flush(self, out)


def new_master_id() -> str:
    """A master id unique across runs, so ids minted by different leaders never clash."""
    return uuid_mod.uuid4().hex[:12]


_HANDLERS: dict[type, Handler] = {
    p.RegisterAgent: _agents.on_register_agent,
    p.ReregisterAgent: _agents.on_reregister_agent,
    p.ReregisterAgentAgain: _agents.on_reregister_again,
    p.Pong: _agents.on_pong,
    p.UpdateAgent: _agents.on_update_agent,
    p.StatusUpdate: _tasks.on_status_update,
    p.Subscribe: _frameworks.on_subscribe,
    p.Accept: _offers.on_accept,
    p.Decline: _offers.on_decline,
    p.Revive: _frameworks.on_revive,
    p.Suppress: _frameworks.on_suppress,
    p.Kill: _tasks.on_kill,
    p.Acknowledge: _tasks.on_acknowledge,
    p.Reconcile: _tasks.on_reconcile,
    p.Teardown: _frameworks.on_teardown,
    PeerDown: _frameworks.on_peer_down,
    p.WatchMaster: _watch.on_watch,
    p.UnwatchMaster: _watch.on_unwatch,
}
"""The router: one handler per message type, each over the one ``MasterState``."""

_NO_CHANGE: frozenset[type] = frozenset({p.Pong, p.ReregisterAgentAgain})
"""Messages that change nothing a view shows (a pong resets a counter; a resend naming
its copy is answered or asked for the whole one): no new state generation."""
