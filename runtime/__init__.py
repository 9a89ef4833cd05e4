"""pydcos actor runtime: Node, ActorRef, Actor, OTP supervision, clocks.

See runtime/README.md for the picture and the failure rules.

Imports are lazy (PEP 562): clocks, restart intensity, the system messages, errors and
``register_message`` load with the package (pure: message modules such as
``actors.protocol`` and decision modules need only these), while the node, actors,
refs, supervision, remoting and ``connect`` (which bring ZeroMQ and pykka) load on
first use. A module-level ``from runtime import X`` binds once: no lookup cost afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime._clock import Clock, ManualClock, SystemClock, real_now
from runtime._intensity import add_restart
from runtime._lazy import lazy_exports
from runtime._messages import (
    KILLED,
    NOPROC,
    NORMAL,
    SHUTDOWN,
    Down,
    RestartIntensityExceeded,
    Shutdown,
    is_normal_exit,
)
from runtime.errors import (
    ActorDead,
    ActorNotFound,
    AskTimeout,
    DuplicateName,
    InvalidChildSpec,
    RuntimeSystemError,
    StartFailed,
    SupervisorError,
    UnknownMessage,
)
from transport import RemoteError
from transport import register as register_message

# Cluster actors (issue 27): wire records (pure) and the script API (remote, handles).
_ACTOR_RECORDS = (
    "ActorCall",
    "ActorEvent",
    "ActorInfo",
    "ActorList",
    "ActorSpec",
    "ActorTell",
    "CallFailed",
    "CheckpointSaved",
    "GetActor",
    "GetWorkingDir",
    "KillActor",
    "ListActors",
    "OwnerGone",
    "PutWorkingDir",
    "RegisterWorker",
    "SaveCheckpoint",
    "SpawnActor",
    "StopWorker",
    "PingWorker",
    "WorkerStatus",
    "Supervise",
    "SupervisionInfo",
    "UnwatchActors",
    "WaitActor",
    "WatchActors",
    "WorkerAssignment",
    "WorkerFailed",
    "WorkerReady",
    "spec_problem",
    "FRAMEWORK_ACTOR",
    "WORKER_ACTOR",
    "ACTOR_STATES",
    "RESTART_TYPES",
    "LIFETIMES",
    "SUPERVISE_STRATEGIES",
)
_CLUSTER_ACTORS = (
    "ActorError",
    "ActorFuture",
    "ActorHandle",
    "ActorMethodError",
    "ActorRestarting",
    "ActorStopped",
    "RemoteClass",
    "SerializationError",
    "monitor",
    "remote",
)

if TYPE_CHECKING:
    from runtime._actor import Actor
    from runtime._connect import Cluster, NoCluster, connect, parse_zk_url
    from runtime._node import Node
    from runtime._ref import ActorRef, AskFuture, LocalActorRef
    from runtime._remote import NOCONNECTION, RemoteActorRef, split_address
    from runtime._supervisor import (
        ChildInfo,
        ChildSpec,
        CountChildren,
        DeleteChild,
        RestartChild,
        StartChild,
        Supervisor,
        SupervisorRef,
        TerminateChild,
        WhichChildren,
    )
    from runtime._timers import TimerHandle

_EXPORTS = {
    "runtime._actor": ("Actor",),
    "runtime._actor_records": _ACTOR_RECORDS,
    "runtime._cluster_actors": _CLUSTER_ACTORS,
    "runtime._connect": ("Cluster", "NoCluster", "connect", "parse_zk_url"),
    "runtime._node": ("Node",),
    "runtime._ref": ("ActorRef", "AskFuture", "LocalActorRef"),
    "runtime._remote": ("NOCONNECTION", "RemoteActorRef", "split_address"),
    "runtime._supervisor": (
        "ChildInfo",
        "ChildSpec",
        "CountChildren",
        "DeleteChild",
        "RestartChild",
        "StartChild",
        "Supervisor",
        "SupervisorRef",
        "TerminateChild",
        "WhichChildren",
    ),
    "runtime._timers": ("TimerHandle",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "KILLED",
    "NOCONNECTION",
    "NOPROC",
    "NORMAL",
    "SHUTDOWN",
    "Actor",
    "ActorDead",
    "ActorNotFound",
    "ActorRef",
    "AskFuture",
    "AskTimeout",
    "ChildInfo",
    "ChildSpec",
    "Clock",
    "Cluster",
    "CountChildren",
    "DeleteChild",
    "Down",
    "DuplicateName",
    "InvalidChildSpec",
    "LocalActorRef",
    "ManualClock",
    "NoCluster",
    "Node",
    "RemoteActorRef",
    "RemoteError",
    "RestartChild",
    "RestartIntensityExceeded",
    "RuntimeSystemError",
    "Shutdown",
    "StartChild",
    "StartFailed",
    "Supervisor",
    "SupervisorError",
    "SupervisorRef",
    "SystemClock",
    "TerminateChild",
    "TimerHandle",
    "UnknownMessage",
    "WhichChildren",
    "add_restart",
    "connect",
    "is_normal_exit",
    "lazy_exports",
    "parse_zk_url",
    "real_now",
    "register_message",
    "split_address",
]


__all__ += [*_ACTOR_RECORDS, *_CLUSTER_ACTORS]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
