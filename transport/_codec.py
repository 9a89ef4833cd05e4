"""The one msgpack codec: explicit message registry, strict decoding.

Wire format of an envelope: a msgpack array of nine items

    [version, msg_id, corr_id, sender_node, sender_actor, target, kind, mtype, body]

where a registered record's body is a map ``{field name: value}`` (nested records are maps
too, their type known from the annotation) and an untyped body (``mtype == ""``) is any
msgpack-native value. Decoding checks every item against the annotations and raises
``DecodeError`` with a ``reason`` code on the first problem. A ``float`` field holding NaN
or ±infinity is such a problem (``non_finite``): no record field means "not a number",
and one NaN cpus once crashed every master that read it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import threading
import types
import typing
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, overload

import msgpack

from transport._envelope import PROTOCOL_VERSION, Envelope, Kind, make_envelope
from transport._errors import DecodeError, EncodeError, RemoteError

T = TypeVar("T")

_Dec = Callable[[Any], Any]
_Enc = Callable[[Any], Any] | None  # None: the value is msgpack-native as it is

_KINDS: dict[int, Kind] = {int(k): k for k in Kind}
_unpackb = msgpack.unpackb
_NATIVE = (dict, list, str, int, float, bool, type(None), bytes, tuple)
_PLACEHOLDER = os.urandom(24)
"""Stands for a shared field's value while the rest of a frame is packed: random, so no
other field of the frame (ids, names, numbers) can hold it."""
_PLACEHOLDER_PACKED = msgpack.packb(_PLACEHOLDER)


class _Packers(threading.local):
    packer: msgpack.Packer | None = None  # class default: no AttributeError to catch


_packers = _Packers()


def _packer() -> msgpack.Packer:
    """This thread's Packer (``msgpack.packb`` makes a new one for every call)."""
    p = _packers.packer
    if p is None:
        p = _packers.packer = msgpack.Packer()
    return p


def _reject_ext(code: int, data: bytes) -> NoReturn:
    raise DecodeError("ext_type", f"msgpack extension type {code} is not allowed")


def _unpack(data: bytes) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_reject_ext)
    except DecodeError:
        raise
    except Exception as exc:
        raise _unpack_error(exc) from None


def _unpack_error(exc: Exception) -> DecodeError:
    """Classify an exception raised by msgpack."""
    if isinstance(exc, DecodeError):
        return exc
    if isinstance(exc, msgpack.ExtraData):
        return DecodeError("extra_data", "bytes after the envelope")
    if isinstance(exc, UnicodeDecodeError):
        return DecodeError("bad_utf8", "string is not valid UTF-8")
    text = str(exc)
    if isinstance(exc, ValueError):
        if "incomplete" in text:
            return DecodeError("truncated", "frame ends inside a value")
        if "exceeds max_" in text:
            return DecodeError("huge_length", text)
    # FormatError, StackError, TypeError (unhashable key), RecursionError, ...
    return DecodeError("malformed", f"{type(exc).__name__}: {text}")


def _each(enc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: [enc(x) for x in v]


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def _fail(what: str, tp: Any, v: Any) -> NoReturn:
    raise DecodeError(
        "field_type", f"{what}: expected {_type_name(tp)}, got {type(v).__name__} {v!r:.60}"
    )


class _Schema:
    """Compiled encode/decode plan of one record class."""

    __slots__ = ("cls", "dec_fields", "enc_fields", "name", "names")

    def __init__(self, cls: type, name: str, fields: list[tuple[str, _Enc, _Dec]]) -> None:
        self.cls = cls
        self.name = name
        self.enc_fields = [(f, e) for f, e, _ in fields]
        self.dec_fields = [(f, d) for f, _, d in fields]
        self.names = frozenset(f for f, _, _ in fields)

    def encode(self, obj: Any) -> dict[str, Any]:
        out = {}
        for f, e in self.enc_fields:
            v = getattr(obj, f)
            out[f] = v if e is None else e(v)
        return out

    def decode(self, v: Any) -> Any:
        if type(v) is not dict:
            _fail(self.name, self.cls, v)
        if len(v) != len(self.dec_fields) or v.keys() != self.names:
            missing = sorted(self.names - v.keys())
            if missing:
                raise DecodeError("missing_field", f"{self.name}: missing {missing}")
            extra = sorted(repr(k) for k in v.keys() - self.names)
            raise DecodeError("extra_field", f"{self.name}: unexpected {extra}")
        kwargs = {}
        for f, d in self.dec_fields:
            kwargs[f] = d(v[f])
        try:
            return self.cls(**kwargs)
        except DecodeError:
            raise
        except Exception as exc:
            detail = f"{self.name}: {type(exc).__name__}: {exc}"
            raise DecodeError("invalid_value", detail) from None


def _is_record(cls: type) -> bool:
    return (
        hasattr(cls, "__transport_fields__")
        or dataclasses.is_dataclass(cls)
        or (issubclass(cls, tuple) and hasattr(cls, "_fields"))
    )


def _hints(cls: type) -> dict[str, Any]:
    # The class itself is in scope so that a record may refer to its own type.
    return typing.get_type_hints(cls, localns={cls.__name__: cls})


def _record_fields(cls: type) -> list[tuple[str, Any]] | None:
    """(field name, annotation) of a record class, or None if it is not a record."""
    declared = cls.__dict__.get("__transport_fields__") or getattr(
        cls, "__transport_fields__", None
    )
    if declared is not None:
        return list(declared.items())
    if dataclasses.is_dataclass(cls):
        hints = _hints(cls)
        return [(f.name, hints.get(f.name, Any)) for f in dataclasses.fields(cls) if f.init]
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        hints = _hints(cls)
        return [(f, hints.get(f, Any)) for f in cls._fields]
    return None


class MessageRegistry:
    """Explicit registry of message types, and the codec that uses it.

    Register every record type that crosses the wire (dataclasses, NamedTuples, or classes
    declaring ``__transport_fields__``). Field annotations may use int, float, str, bool,
    bytes, None, Any, list[X], tuple[X, ...], set/frozenset[X], dict[K, V], X | None,
    unions of those, Enum subclasses and other registered records.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, type] = {}
        self._by_cls: dict[type, str] = {}
        self._schemas: dict[type, _Schema] = {}
        self._lock = threading.Lock()
        self._shared: dict[type, str] = {}
        self._packed: dict[int, tuple[Any, bytes]] = {}
        self.register(RemoteError, name="transport.RemoteError")

    def share_field(self, cls: type, field: str) -> None:
        """Messages of ``cls`` often carry one same ``field`` value (by identity) to many
        receivers (a master event fanned out to every watcher): that value is packed once
        and its bytes reused; frames are byte for byte what ``encode`` gives otherwise."""
        self._shared[cls] = field

    # -- registration ---------------------------------------------------------------

    @overload
    def register(self, cls: type[T], name: str | None = None) -> type[T]: ...
    @overload
    def register(
        self, cls: None = None, name: str | None = None
    ) -> Callable[[type[T]], type[T]]: ...

    def register(
        self, cls: type[T] | None = None, name: str | None = None
    ) -> type[T] | Callable[[type[T]], type[T]]:
        """Register ``cls`` under ``name`` (default ``module.QualName``); usable as a decorator."""
        if cls is None:
            return lambda c: self.register(c, name)
        if not _is_record(cls):
            raise EncodeError(
                f"{cls!r} is not a dataclass, NamedTuple or class with __transport_fields__"
            )
        name = name or f"{cls.__module__}.{cls.__qualname__}"
        with self._lock:
            if self._by_name.get(name, cls) is not cls:
                raise EncodeError(f"message type name {name!r} is already registered")
            if self._by_cls.get(cls, name) != name:
                raise EncodeError(f"{cls!r} is already registered as {self._by_cls[cls]!r}")
            self._by_name[name] = cls
            self._by_cls[cls] = name
            self._schemas.clear()  # recompile lazily: forward references may now resolve
        return cls

    def name_of(self, cls: type) -> str | None:
        return self._by_cls.get(cls)

    def type_named(self, name: str) -> type | None:
        """The record type registered under ``name``, if any (``name_of``'s inverse)."""
        return self._by_name.get(name)

    def names(self) -> list[str]:
        """Every registered message type name, sorted (for tools that list or resolve them)."""
        with self._lock:
            return sorted(self._by_name)

    def __contains__(self, item: object) -> bool:
        return item in self._by_name or item in self._by_cls

    # -- compilation ----------------------------------------------------------------

    def _schema(self, cls: type) -> _Schema:
        s = self._schemas.get(cls)
        if s is None:
            name = self._by_cls.get(cls)
            if name is None:
                raise EncodeError(f"{cls.__qualname__} is not a registered message type")
            fields = _record_fields(cls) or []
            compiled = []
            for fname, ann in fields:
                enc, dec = self._compile(ann, f"{name}.{fname}")
                compiled.append((fname, enc, dec))
            s = _Schema(cls, name, compiled)
            self._schemas[cls] = s
        return s

    def _compile(self, tp: Any, where: str) -> tuple[_Enc, _Dec]:
        if tp is Any or tp is object:
            return None, lambda v: v
        if tp is None or tp is type(None):
            return None, lambda v: v if v is None else _fail(where, tp, v)
        if tp is bool or tp is str or tp is bytes:
            return None, lambda v: v if type(v) is tp else _fail(where, tp, v)
        if tp is int:
            return None, lambda v: v if type(v) is int else _fail(where, tp, v)
        if tp is float:

            def dec_float(v: Any) -> Any:
                t = type(v)
                if t is float:
                    if math.isfinite(v):
                        return v
                    raise DecodeError("non_finite", f"{where}: {v!r} is not a finite number")
                if t is int:
                    try:
                        return float(v)
                    except OverflowError:  # a msgpack int is 64-bit: cannot happen
                        raise DecodeError("non_finite", f"{where}: {v} overflows") from None
                _fail(where, tp, v)

            return None, dec_float
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Union or origin is types.UnionType:
            members = [self._compile(a, where) for a in args]
            if len(args) == 2 and type(None) in args:  # Optional[X]: the common case
                enc_x, dec_x = members[0] if args[1] is type(None) else members[1]
                enc_o = None if enc_x is None else (lambda v: None if v is None else enc_x(v))
                return enc_o, lambda v: None if v is None else dec_x(v)
            if any(e is not None for e, _ in members):
                raise EncodeError(f"{where}: unions of records/enums are not supported: {tp}")

            def dec_union(v: Any) -> Any:
                for _, d in members:
                    try:
                        return d(v)
                    except DecodeError:
                        pass
                _fail(where, tp, v)

            return None, dec_union
        if tp is list or origin is list:
            if not args:
                return None, lambda v: v if type(v) is list else _fail(where, tp, v)
            enc_i, dec_i = self._compile(args[0], where + "[]")
            enc_l = None if enc_i is None else _each(enc_i)
            return (
                enc_l,
                lambda v: [dec_i(x) for x in v] if type(v) is list else _fail(where, tp, v),
            )
        if tp is tuple or origin is tuple:
            if not args or (len(args) == 2 and args[1] is Ellipsis):
                enc_i, dec_i = self._compile(args[0] if args else Any, where + "[]")
                enc_t = None if enc_i is None else _each(enc_i)
                return (
                    enc_t,
                    lambda v: (
                        tuple([dec_i(x) for x in v]) if type(v) is list else _fail(where, tp, v)
                    ),
                )
            parts = [self._compile(a, f"{where}[{i}]") for i, a in enumerate(args)]
            n = len(parts)

            def enc_fixed(v: Any) -> Any:
                return [x if e is None else e(x) for (e, _), x in zip(parts, v, strict=True)]

            def dec_fixed(v: Any) -> Any:
                if type(v) is not list or len(v) != n:
                    _fail(where, tp, v)
                return tuple([d(x) for (_, d), x in zip(parts, v, strict=True)])

            return enc_fixed, dec_fixed
        if tp in (set, frozenset) or origin in (set, frozenset):
            ctor = origin or tp
            enc_i, dec_i = self._compile(args[0] if args else Any, where + "[]")
            enc_s: _Enc = list if enc_i is None else _each(enc_i)

            def dec_set(v: Any) -> Any:
                if type(v) is not list:
                    _fail(where, tp, v)
                try:
                    return ctor([dec_i(x) for x in v])
                except TypeError:
                    _fail(where, tp, v)

            return enc_s, dec_set
        if tp is dict or origin is dict:
            if not args:
                return None, lambda v: v if type(v) is dict else _fail(where, tp, v)
            enc_k, dec_k = self._compile(args[0], where + "{key}")
            enc_v, dec_v = self._compile(args[1], where + "{}")
            enc_d: _Enc = None
            if enc_k is not None or enc_v is not None:
                ek = enc_k or (lambda x: x)
                ev = enc_v or (lambda x: x)
                enc_d = lambda v: {ek(k): ev(x) for k, x in v.items()}  # noqa: E731

            def dec_dict(v: Any) -> Any:
                if type(v) is not dict:
                    _fail(where, tp, v)
                try:
                    return {dec_k(k): dec_v(x) for k, x in v.items()}
                except TypeError:  # a decoded key is unhashable
                    _fail(where, tp, v)

            return enc_d, dec_dict
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            enum_cls = tp

            def dec_enum(v: Any) -> Any:
                try:
                    return enum_cls(v)
                except (ValueError, TypeError):
                    raise DecodeError(
                        "field_type", f"{where}: {v!r:.60} is not a {enum_cls.__name__}"
                    ) from None

            return (lambda v: v.value), dec_enum
        if isinstance(tp, type) and tp in self._by_cls:
            registry = self
            cls = tp
            # Resolve lazily: a record may refer to itself or to a later-defined record.
            return (lambda v: registry._schema(cls).encode(v)), (
                lambda v: registry._schema(cls).decode(v)
            )
        raise EncodeError(f"{where}: unsupported or unregistered field type {tp!r}")

    # -- bodies ---------------------------------------------------------------------

    def encode_body(self, obj: Any) -> tuple[str, Any]:
        """(mtype, wire body) for a message: a registered record or a native value."""
        cls = type(obj)
        name = self._by_cls.get(cls)
        if name is not None:
            return name, self._schema(cls).encode(obj)
        if cls in _NATIVE:
            return "", obj
        raise EncodeError(f"{cls.__qualname__} is not a registered message type")

    def decode_body(self, mtype: str, body: Any) -> Any:
        """The Python message for a wire body; raises DecodeError."""
        if mtype == "":
            return body
        cls = self._by_name.get(mtype)
        if cls is None:
            raise DecodeError("unknown_type", f"{mtype!r:.80}")
        return self._schema(cls).decode(body)

    # -- envelopes ------------------------------------------------------------------

    def encode(self, env: Envelope) -> bytes:
        """One envelope as one msgpack frame."""
        return self.encode_fields(
            env.msg_id,
            env.corr_id,
            env.sender_node,
            env.sender_actor,
            env.target,
            env.kind,
            env.body,
            env.version,
        )

    def encode_fields(
        self,
        msg_id: int,
        corr_id: int | None,
        sender_node: str,
        sender_actor: str | None,
        target: str,
        kind: Kind,
        message: Any,
        version: int = PROTOCOL_VERSION,
    ) -> bytes:
        """What `encode` gives for the envelope of these fields, without building it
        (the hot path of asks and replies)."""
        mtype, body = self.encode_body(message)
        try:
            shared = self._shared.get(type(message)) if self._shared else None
            if shared is not None:
                value = getattr(message, shared)
                if type(body) is dict and body.get(shared) is value:
                    head = [version, msg_id, corr_id, sender_node, sender_actor, target, kind]
                    return self._pack_sharing(head, mtype, body, shared, value)
            # Kind is an IntEnum: msgpack writes it as the plain int it is.
            return _packer().pack(
                [version, msg_id, corr_id, sender_node, sender_actor, target, kind, mtype, body]
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise EncodeError(f"cannot encode {mtype or type(message).__name__}: {exc}") from None

    def _pack_sharing(
        self, head: list[Any], mtype: str, body: dict[str, Any], shared: str, value: Any
    ) -> bytes:
        """The envelope packed with a placeholder for the shared value, whose bytes (from
        the cache: keyed by identity, checked) are spliced in (msgpack concatenates)."""
        pk = _packer()
        cached = self._packed.get(id(value))
        if cached is not None and cached[0] is value:
            packed = cached[1]
        else:
            packed = pk.pack(value)
            if len(self._packed) >= 256:
                self._packed.clear()  # a fan-out reuses a value at once: keep few
            self._packed[id(value)] = (value, packed)
        frame = pk.pack([*head, mtype, {**body, shared: _PLACEHOLDER}])
        at = frame.find(_PLACEHOLDER_PACKED)
        return frame[:at] + packed + frame[at + len(_PLACEHOLDER_PACKED) :]

    def decode(self, data: bytes, max_size: int | None = None) -> Envelope:
        """Strictly decode one frame holding one envelope; raises DecodeError."""
        if max_size is not None and len(data) > max_size:
            raise DecodeError("too_large", f"{len(data)} bytes > limit {max_size}")
        return self.decode_obj(_unpack(data))

    def decode_batch(self, frame: bytes, max_size: int) -> list[Envelope | DecodeError]:
        """Decode a transport frame: one or more envelopes back to back.

        Returns one item per envelope, a DecodeError in place of each bad one. A frame
        whose bytes stop being msgpack ends with one DecodeError for the rest of it.
        """
        n = len(frame)
        if n > max_size:
            return [DecodeError("too_large", f"{n} bytes > limit {max_size}")]
        if n == 0:
            return [DecodeError("truncated", "empty frame")]
        # Fast path, the common frame of a request/reply exchange: exactly one envelope.
        # unpackb derives the same limits from the frame size as the Unpacker below;
        # anything else (several envelopes, bad bytes) takes the general path, which
        # alone classifies errors, so both paths give identical results.
        out: list[Envelope | DecodeError] = []
        start = 0  # where the general path starts
        try:
            obj = _unpackb(frame, raw=False, strict_map_key=False, ext_hook=_reject_ext)
        except msgpack.ExtraData as more:
            # Several envelopes (a burst to one peer): the first is decoded already; the
            # general path takes the rest (decoding the first again cost a follower of
            # the leader's event stream a third of its CPU at 100,000 tasks).
            try:
                out.append(self.decode_obj(more.unpacked))
            except DecodeError as exc:
                out.append(exc)
            start = n - len(more.extra)
            frame = more.extra
        except Exception:
            pass
        else:
            try:
                return [self.decode_obj(obj)]
            except DecodeError as exc:
                return [exc]
        unp = msgpack.Unpacker(
            raw=False, strict_map_key=False, ext_hook=_reject_ext, max_buffer_size=n
        )
        unp.feed(frame)
        decode_obj = self.decode_obj
        end = start  # offset after the last complete envelope
        try:
            for obj in unp:
                end = start + unp.tell()
                try:
                    out.append(decode_obj(obj))
                except DecodeError as exc:
                    out.append(exc)
        except DecodeError as exc:
            out.append(exc)
            return out
        except Exception as exc:
            out.append(_unpack_error(exc))
            return out
        if end != n:
            out.append(DecodeError("truncated", f"frame ends inside a value after byte {end}"))
        return out

    def decode_obj(self, obj: Any) -> Envelope:
        """Validate an unpacked envelope array and build the Envelope."""
        if type(obj) is not list or len(obj) != 9:
            raise DecodeError("bad_envelope", f"expected a 9-item array, got {type(obj).__name__}")
        version, msg_id, corr_id, sender_node, sender_actor, target, kind, mtype, body = obj
        if version != PROTOCOL_VERSION or type(version) is not int:
            raise DecodeError("version", f"{version!r:.40} (this node speaks {PROTOCOL_VERSION})")
        if (
            type(msg_id) is not int
            or type(sender_node) is not str
            or type(target) is not str
            or type(mtype) is not str
            or (corr_id is not None and type(corr_id) is not int)
            or (sender_actor is not None and type(sender_actor) is not str)
        ):
            raise DecodeError("bad_envelope", "envelope header field of the wrong type")
        k = _KINDS.get(kind) if type(kind) is int else None
        if k is None:
            raise DecodeError("bad_kind", f"{kind!r:.40}")
        if mtype:
            try:
                body = self.decode_body(mtype, body)
            except DecodeError as exc:
                exc.header = make_envelope(
                    version, msg_id, corr_id, sender_node, sender_actor, target, k, mtype, None
                )
                raise
        return make_envelope(
            version, msg_id, corr_id, sender_node, sender_actor, target, k, mtype, body
        )


codec = MessageRegistry()
"""The process-wide default registry; ``transport.register`` adds to it."""
register = codec.register
