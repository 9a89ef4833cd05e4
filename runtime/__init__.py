"""pydcos actor runtime: Node, ActorRef, Actor, OTP supervision, clocks.

See runtime/README.md for the picture and the failure rules.
"""

from runtime._actor import Actor
from runtime._clock import Clock, ManualClock, SystemClock, real_now
from runtime._connect import Cluster, NoCluster, connect, parse_zk_url
from runtime._intensity import add_restart
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
    "parse_zk_url",
    "real_now",
    "register_message",
    "split_address",
]
