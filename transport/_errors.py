"""Errors of the transport package: one root, a few named subclasses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from transport._envelope import Envelope


class TransportError(Exception):
    """Root of every error the transport raises."""


class EncodeError(TransportError, TypeError):
    """A message could not be encoded (unregistered type, value msgpack cannot carry)."""


class MessageTooLarge(TransportError):
    """An encoded envelope is larger than the configured ``max_message_size``."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"encoded envelope is {size} bytes, above the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class UnknownTarget(TransportError):
    """Raised by an ``on_envelope`` callback when no local actor has the envelope's target.

    The transport counts it as ``target:unknown`` and, for an ask, sends an error reply.
    """


class DecodeError(TransportError):
    """A frame was rejected by the strict decoder.

    ``reason`` is a short, stable code used as the counter key (``decode:<reason>``):
    ``too_large``, ``truncated``, ``extra_data``, ``malformed``, ``huge_length``,
    ``ext_type``, ``bad_utf8``, ``bad_envelope``, ``version``, ``bad_kind``,
    ``unknown_type``, ``missing_field``, ``extra_field``, ``field_type``, ``invalid_value``,
    ``non_finite`` (NaN or ±infinity in a ``float`` field).

    ``header`` is the envelope with ``body=None`` when the envelope header itself decoded
    and only the body was bad; the transport uses it to send an error reply to an ask.
    """

    REASONS: ClassVar[frozenset[str]] = frozenset(
        {
            "too_large",
            "truncated",
            "extra_data",
            "malformed",
            "huge_length",
            "ext_type",
            "bad_utf8",
            "bad_envelope",
            "version",
            "bad_kind",
            "unknown_type",
            "missing_field",
            "extra_field",
            "field_type",
            "invalid_value",
            "non_finite",
        }
    )

    def __init__(self, reason: str, detail: str = "", header: Envelope | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.header = header


class RemoteError(TransportError):
    """An exception raised on a remote node, carried back as a typed error reply.

    Only the exception's type name and message travel; never a traceback or pickle.
    """

    # Wire schema for the codec (see MessageRegistry: classes may declare their fields).
    __transport_fields__: ClassVar[dict[str, Any]] = {"type_name": str, "message": str}

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message

    @classmethod
    def from_exception(cls, exc: BaseException) -> RemoteError:
        if isinstance(exc, RemoteError):
            return cls(exc.type_name, exc.message)
        return cls(type(exc).__name__, str(exc))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RemoteError)
            and other.type_name == self.type_name
            and other.message == self.message
        )

    def __hash__(self) -> int:
        return hash((self.type_name, self.message))

    def __reduce__(self) -> tuple[Any, ...]:
        return (RemoteError, (self.type_name, self.message))
