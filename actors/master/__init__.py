"""The Mesos-style master: leader duties, agent registry, DRF allocator, offers.

The allocator is pure (see :mod:`actors.master.allocator`); the master core
(``MasterCore``, a step machine split by agents / frameworks / offers / tasks) and the
actor that applies its effects live next to it. See README.md for the map.

Imports are lazy (PEP 562): ``import actors.master.allocator`` or
``from actors.master import MasterConfig`` loads no ZeroMQ, kazoo or aiohttp; only the
names that need them (``MasterActor``, ``MasterProcess``, ...) do, when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.master._errors import (
    AllocatorInputError,
    BadStateQuery,
    MasterError,
    UnknownStateQuery,
)
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
from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.master._actor import MasterActor, MemoryRegistryStore, RegistryStore
    from actors.master._allocation import allocation_json
    from actors.master._companion import (
        Companion,
        CompanionService,
        companion_argv,
        die_with_parent,
    )
    from actors.master._effects import Effect, PeerDown, Persist, Send, Unpersist, Watch
    from actors.master._leader_services import (
        DEFAULT_NODE_SERVICES,
        DEFAULT_SERVICES,
        LEADER_SERVICES,
        NODE_SERVICES,
        leader_services,
        node_services,
    )
    from actors.master._master_core import MasterCore, address_ip, new_master_id
    from actors.master._process import (
        MasterOptions,
        MasterProcess,
        ZkRegistryStore,
        shuffled_hosts,
    )
    from actors.master._services import LeaderService, NodeService, ServiceContext
    from actors.master._state import (
        AgentRecord,
        FrameworkRecord,
        MasterConfig,
        MasterState,
        OfferRecord,
        TaskRecord,
    )
    from actors.master._state_json import master_metrics
    from actors.master._v1 import (
        uuid_from_v1,
        v1_agent,
        v1_agent_info,
        v1_attributes,
        v1_container,
        v1_discovery,
        v1_framework,
        v1_framework_info,
        v1_get_agents,
        v1_get_frameworks,
        v1_get_master,
        v1_get_quota,
        v1_get_roles,
        v1_get_state,
        v1_get_tasks,
        v1_get_weights,
        v1_health_check,
        v1_id,
        v1_labels,
        v1_resources,
        v1_task,
        v1_task_status,
        v1_time,
        v1_uuid,
    )
    from actors.master._watch_follower import RebuildPacer, WatchFollower, tell_all, unbatched

_LAZY: dict[str, str] = {
    # the actor shell and its registry stores
    "MasterActor": "actors.master._actor",
    "MemoryRegistryStore": "actors.master._actor",
    "RegistryStore": "actors.master._actor",
    # the step machine, its state and effects
    "MasterCore": "actors.master._master_core",
    "address_ip": "actors.master._master_core",
    "new_master_id": "actors.master._master_core",
    "MasterConfig": "actors.master._state",
    "MasterState": "actors.master._state",
    "AgentRecord": "actors.master._state",
    "FrameworkRecord": "actors.master._state",
    "OfferRecord": "actors.master._state",
    "TaskRecord": "actors.master._state",
    "Effect": "actors.master._effects",
    "PeerDown": "actors.master._effects",
    "Persist": "actors.master._effects",
    "Send": "actors.master._effects",
    "Unpersist": "actors.master._effects",
    "Watch": "actors.master._effects",
    # explaining waiting: GetState("allocation")
    "allocation_json": "actors.master._allocation",
    # Mesos JSON
    "master_metrics": "actors.master._state_json",
    # Mesos v1 JSON (operator API, SUBSCRIBE events, scheduler API)
    "uuid_from_v1": "actors.master._v1",
    "v1_agent": "actors.master._v1",
    "v1_agent_info": "actors.master._v1",
    "v1_attributes": "actors.master._v1",
    "v1_container": "actors.master._v1",
    "v1_discovery": "actors.master._v1",
    "v1_framework": "actors.master._v1",
    "v1_framework_info": "actors.master._v1",
    "v1_get_agents": "actors.master._v1",
    "v1_get_frameworks": "actors.master._v1",
    "v1_get_master": "actors.master._v1",
    "v1_get_quota": "actors.master._v1",
    "v1_get_roles": "actors.master._v1",
    "v1_get_state": "actors.master._v1",
    "v1_get_tasks": "actors.master._v1",
    "v1_get_weights": "actors.master._v1",
    "v1_health_check": "actors.master._v1",
    "v1_id": "actors.master._v1",
    "v1_labels": "actors.master._v1",
    "v1_resources": "actors.master._v1",
    "v1_task": "actors.master._v1",
    "v1_task_status": "actors.master._v1",
    "v1_time": "actors.master._v1",
    "v1_uuid": "actors.master._v1",
    # the process and its leader services
    "MasterOptions": "actors.master._process",
    "Companion": "actors.master._companion",
    "CompanionService": "actors.master._companion",
    "companion_argv": "actors.master._companion",
    "die_with_parent": "actors.master._companion",
    "MasterProcess": "actors.master._process",
    "shuffled_hosts": "actors.master._process",
    "LEADER_SERVICES": "actors.master._leader_services",
    "DEFAULT_SERVICES": "actors.master._leader_services",
    "leader_services": "actors.master._leader_services",
    "NODE_SERVICES": "actors.master._leader_services",
    "DEFAULT_NODE_SERVICES": "actors.master._leader_services",
    "node_services": "actors.master._leader_services",
    "ZkRegistryStore": "actors.master._process",
    "LeaderService": "actors.master._services",
    "NodeService": "actors.master._services",
    "ServiceContext": "actors.master._services",
    # following the leading master's state watch (WatchMaster / MasterEvent)
    "WatchFollower": "actors.master._watch_follower",
    "RebuildPacer": "actors.master._watch_follower",
    "tell_all": "actors.master._watch_follower",
    "unbatched": "actors.master._watch_follower",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ANY",
    "DEFAULT_MIN_ALLOCATABLE",
    "DEFAULT_NODE_SERVICES",
    "DEFAULT_REFUSE_SECONDS",
    "DEFAULT_SERVICES",
    "LEADER_SERVICES",
    "NODE_SERVICES",
    "Agent",
    "AgentRecord",
    "Allocation",
    "AllocatorConfig",
    "AllocatorInputError",
    "BadStateQuery",
    "ClusterSnapshot",
    "Companion",
    "CompanionService",
    "Effect",
    "Framework",
    "FrameworkRecord",
    "LeaderService",
    "MasterActor",
    "MasterConfig",
    "MasterCore",
    "MasterError",
    "MasterOptions",
    "MasterProcess",
    "MasterState",
    "MemoryRegistryStore",
    "NodeService",
    "Offer",
    "OfferFilter",
    "OfferRecord",
    "PeerDown",
    "Persist",
    "Quota",
    "RebuildPacer",
    "RegistryStore",
    "RejectReason",
    "Rejection",
    "Send",
    "ServiceContext",
    "TaskRecord",
    "UnknownStateQuery",
    "Unpersist",
    "Watch",
    "WatchFollower",
    "ZkRegistryStore",
    "address_ip",
    "allocate",
    "allocation_json",
    "companion_argv",
    "decline_filter",
    "die_with_parent",
    "dominant_share",
    "leader_services",
    "master_metrics",
    "new_master_id",
    "node_services",
    "shuffled_hosts",
    "tell_all",
    "unbatched",
    "uuid_from_v1",
    "v1_agent",
    "v1_agent_info",
    "v1_attributes",
    "v1_container",
    "v1_discovery",
    "v1_framework",
    "v1_framework_info",
    "v1_get_agents",
    "v1_get_frameworks",
    "v1_get_master",
    "v1_get_quota",
    "v1_get_roles",
    "v1_get_state",
    "v1_get_tasks",
    "v1_get_weights",
    "v1_health_check",
    "v1_id",
    "v1_labels",
    "v1_resources",
    "v1_task",
    "v1_task_status",
    "v1_time",
    "v1_uuid",
]
