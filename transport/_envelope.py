"""The envelope every message travels in, and its kinds."""

from __future__ import annotations

import enum
import itertools
import random
from dataclasses import dataclass, fields
from typing import Any

PROTOCOL_VERSION = 1
"""Wire protocol version; a frame with any other version is rejected (``decode:version``)."""


class Kind(enum.IntEnum):
    """What an envelope is for. The integer is what goes on the wire."""

    TELL = 1
    """Fire and forget."""
    ASK = 2
    """Expects exactly one REPLY or ERROR with ``corr_id`` equal to this ``msg_id``."""
    REPLY = 3
    """Answer to an ASK; ``corr_id`` names the ask."""
    ERROR = 4
    """Failed answer to an ASK; the body is a ``RemoteError``."""
    HEARTBEAT = 5
    """Liveness ping (``corr_id`` None) or pong (``corr_id`` set); handled by the transport."""


# Random start so that a restarted process does not reuse the ids of its previous life:
# a late reply addressed to the old incarnation will not match a new pending ask.
_ids = itertools.count(random.getrandbits(52) + 1)


def new_msg_id() -> int:
    """A process-unique message id (thread-safe: ``itertools.count`` is atomic under the GIL)."""
    return next(_ids)


@dataclass(frozen=True, slots=True, init=False)
class Envelope:
    """One message on the wire.

    ``body`` is the Python message object (a registered record or a msgpack-native value).
    ``mtype`` is filled in by the decoder; on encode it is derived from the body's type,
    so callers building an envelope may leave it empty. Construct with keywords only.
    """

    version: int
    """Wire protocol version (default ``PROTOCOL_VERSION``)."""
    msg_id: int
    """Unique per sending process (default ``new_msg_id()``); an ASK's reply carries it
    as ``corr_id``."""
    corr_id: int | None
    """For REPLY/ERROR (and heartbeat pongs): the ``msg_id`` being answered."""
    sender_node: str
    """Transport address of the sending node (where replies go)."""
    sender_actor: str | None
    """Name of the sending actor, if any (target of replies)."""
    target: str
    """Name of the receiving actor on the destination node."""
    kind: Kind
    """TELL, ASK, REPLY, ERROR or HEARTBEAT."""
    mtype: str
    """Registered message type name; empty for an untyped (msgpack-native) body."""
    body: Any
    """The message itself."""

    # Hand-written so that building an envelope, done once per message on both sides,
    # costs a third of the generated frozen __init__ (slot descriptors, no __setattr__).
    def __init__(
        self,
        *,
        sender_node: str,
        target: str,
        kind: Kind,
        body: Any = None,
        sender_actor: str | None = None,
        corr_id: int | None = None,
        msg_id: int | None = None,
        mtype: str = "",
        version: int = PROTOCOL_VERSION,
    ) -> None:
        _set_version(self, version)
        _set_msg_id(self, next(_ids) if msg_id is None else msg_id)
        _set_corr_id(self, corr_id)
        _set_sender_node(self, sender_node)
        _set_sender_actor(self, sender_actor)
        _set_target(self, target)
        _set_kind(self, kind)
        _set_mtype(self, mtype)
        _set_body(self, body)


(
    _set_version,
    _set_msg_id,
    _set_corr_id,
    _set_sender_node,
    _set_sender_actor,
    _set_target,
    _set_kind,
    _set_mtype,
    _set_body,
) = (Envelope.__dict__[f.name].__set__ for f in fields(Envelope))
_new = object.__new__


def make_envelope(
    version: int,
    msg_id: int,
    corr_id: int | None,
    sender_node: str,
    sender_actor: str | None,
    target: str,
    kind: Kind,
    mtype: str,
    body: Any,
) -> Envelope:
    """Positional fast constructor for the decoder (no defaults, no checks)."""
    e = _new(Envelope)
    _set_version(e, version)
    _set_msg_id(e, msg_id)
    _set_corr_id(e, corr_id)
    _set_sender_node(e, sender_node)
    _set_sender_actor(e, sender_actor)
    _set_target(e, target)
    _set_kind(e, kind)
    _set_mtype(e, mtype)
    _set_body(e, body)
    return e
