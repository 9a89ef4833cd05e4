"""The Mesos-style master: leader duties, agent registry, DRF allocator, offers.

The allocator is pure (see :mod:`actors.master.allocator`); the master actor that feeds
it snapshots and sends its offers lives next to it.
"""

from actors.master._services import LeaderService, ServiceContext
from actors.master.allocator import (
    ANY,
    DEFAULT_MIN_ALLOCATABLE,
    DEFAULT_REFUSE_SECONDS,
    Agent,
    Allocation,
    AllocatorConfig,
    ClusterSnapshot,
    Framework,
    Offer,
    OfferFilter,
    Quota,
    Rejection,
    RejectReason,
    allocate,
    decline_filter,
    dominant_share,
)

__all__ = [
    "ANY",
    "DEFAULT_MIN_ALLOCATABLE",
    "DEFAULT_REFUSE_SECONDS",
    "Agent",
    "Allocation",
    "AllocatorConfig",
    "ClusterSnapshot",
    "Framework",
    "LeaderService",
    "Offer",
    "OfferFilter",
    "Quota",
    "RejectReason",
    "Rejection",
    "ServiceContext",
    "allocate",
    "decline_filter",
    "dominant_share",
]
