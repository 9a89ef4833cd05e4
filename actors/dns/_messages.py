"""The DNS actor's own messages (the master's watch records live in actors.protocol)."""

from __future__ import annotations

from dataclasses import dataclass

from runtime import register_message

DNS_ACTOR = "dns"
"""The registered name of the DNS actor on every master's node."""


@dataclass(frozen=True, slots=True)
class DnsLeaderChanged:
    """Master process -> DNS actor (tell, from ZooKeeper's thread): a new leader."""

    address: str | None
    """The leading master actor's address (``tcp://ip:port/master``); None: election."""


@dataclass(frozen=True, slots=True)
class DnsTick:
    """DNS actor -> itself, twice a second: retry a subscription that got no answer,
    resubscribe after silence, end the carry-over after a failover."""


@dataclass(frozen=True, slots=True)
class DnsRebuild:
    """DNS actor -> itself: build and swap in a new table (events in between coalesce)."""


for _cls in (DnsLeaderChanged, DnsTick, DnsRebuild):
    register_message(_cls)
