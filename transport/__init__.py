"""pydcos transport: ZeroMQ sockets, the msgpack codec, envelopes, CURVE keys.

The layer under the actor runtime. It moves envelopes between nodes and knows nothing
of actors beyond their names. See README.md for the picture and the glossary.
"""

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
from transport._fake import FakeNetwork, FakeTransport
from transport._pending import PendingAsks
from transport._security import KeyFiles, Security, generate_keys
from transport._wakes import c_hand_off, c_signal, defer_wakes, deferred, write_eventfd
from transport._zmq import CLIENT_PREFIX, ZmqTransport, io_spin

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
