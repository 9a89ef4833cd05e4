"""The l4lb actor's own messages (the master's watch records live in actors.protocol)."""

from __future__ import annotations

from dataclasses import dataclass

from runtime import register_message

L4LB_ACTOR = "l4lb"
"""The registered name of the load balancer actor on every master's node."""


@dataclass(frozen=True, slots=True)
class L4lbLeaderChanged:
    """Master process -> l4lb actor (tell, from ZooKeeper's thread): a new leader."""

    address: str | None
    """The leading master actor's address (``tcp://ip:port/master``); None: election."""


@dataclass(frozen=True, slots=True)
class L4lbTick:
    """l4lb actor -> itself, every 200 ms: restart a dead HAProxy, retry or renew the
    subscription, end the carry-over after a failover."""


@dataclass(frozen=True, slots=True)
class L4lbSync:
    """l4lb actor -> itself: carry the table over to HAProxy (events in between
    coalesce into one sync)."""


for _cls in (L4lbLeaderChanged, L4lbTick, L4lbSync):
    register_message(_cls)
