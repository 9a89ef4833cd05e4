"""pydcos transport: ZeroMQ sockets, the msgpack codec, envelopes, CURVE keys.

The layer under the actor runtime. It moves envelopes between nodes and knows nothing
of actors beyond their names. See README.md for the picture and the glossary.

Imports are lazy (PEP 562): the codec, envelopes, errors and limits load with the
package (pure; ``actors.protocol`` registers its messages with them), while ZeroMQ
(``ZmqTransport``, ``Security``), the fake network, the wake helpers and ``PendingAsks``
load on first use. So importing a pure module that only declares messages loads no zmq.
A module-level ``from transport import X`` binds once: no lookup cost afterwards.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from transport._base import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_HEARTBEAT_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_REAP_AFTER,
)
from transport._codec import MessageRegistry, codec, register
from transport._envelope import PROTOCOL_VERSION, Envelope, Kind, new_msg_id
from transport._errors import (
    DecodeError,
    EncodeError,
    MessageTooLarge,
    RemoteError,
    TransportError,
    UnknownTarget,
)

if TYPE_CHECKING:
    from transport._fake import FakeNetwork, FakeTransport
    from transport._pending import PendingAsks
    from transport._security import KeyFiles, Security, generate_keys
    from transport._wakes import c_hand_off, c_signal, defer_wakes, deferred, write_eventfd
    from transport._zmq import CLIENT_PREFIX, ZmqTransport, io_spin

_EXPORTS = {
    "transport._fake": ("FakeNetwork", "FakeTransport"),
    "transport._pending": ("PendingAsks",),
    "transport._security": ("KeyFiles", "Security", "generate_keys"),
    "transport._wakes": ("c_hand_off", "c_signal", "defer_wakes", "deferred", "write_eventfd"),
    "transport._zmq": ("CLIENT_PREFIX", "ZmqTransport", "io_spin"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "CLIENT_PREFIX",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_HEARTBEAT_TIMEOUT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_REAP_AFTER",
    "PROTOCOL_VERSION",
    "DecodeError",
    "EncodeError",
    "Envelope",
    "FakeNetwork",
    "FakeTransport",
    "KeyFiles",
    "Kind",
    "MessageRegistry",
    "MessageTooLarge",
    "PendingAsks",
    "RemoteError",
    "Security",
    "TransportError",
    "UnknownTarget",
    "ZmqTransport",
    "c_hand_off",
    "c_signal",
    "codec",
    "defer_wakes",
    "deferred",
    "generate_keys",
    "io_spin",
    "new_msg_id",
    "register",
    "write_eventfd",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'transport' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
