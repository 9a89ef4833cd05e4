"""Codec: round trips and one test per DecodeError reason."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

import msgpack
import pytest

from tests.transport._messages import Point, Shape
from transport import (
    PROTOCOL_VERSION,
    DecodeError,
    EncodeError,
    Envelope,
    Kind,
    MessageRegistry,
    RemoteError,
    codec,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Pair(NamedTuple):
    left: int
    right: tuple[str, ...]


@dataclass(frozen=True)
class Rich:
    color: Color
    pair: Pair
    ids: frozenset[int]
    maybe: Point | None
    either: int | str
    fixed: tuple[int, str]
    nested: dict[str, list[Point]]


@pytest.fixture
def reg() -> MessageRegistry:
    r = MessageRegistry()
    r.register(Point, name="Point")
    r.register(Pair, name="Pair")
    r.register(Rich, name="Rich")
    return r


def env(body: object, kind: Kind = Kind.TELL) -> Envelope:
    return Envelope(
        sender_node="tcp://127.0.0.1:1", sender_actor="a", target="t", kind=kind, body=body
    )


def raw(reg: MessageRegistry, body: object, mtype: str, **over: object) -> bytes:
    fields = {
        "version": PROTOCOL_VERSION,
        "msg_id": 7,
        "corr_id": None,
        "sender_node": "tcp://x:1",
        "sender_actor": None,
        "target": "t",
        "kind": 1,
        "mtype": mtype,
        "body": body,
    }
    fields.update(over)
    return msgpack.packb(list(fields.values()))


def reason(reg: MessageRegistry, data: bytes, max_size: int | None = None) -> str:
    with pytest.raises(DecodeError) as ei:
        reg.decode(data, max_size)
    return ei.value.reason


def test_roundtrip_of_rich_record(reg: MessageRegistry) -> None:
    r = Rich(
        Color.BLUE,
        Pair(1, ("a", "b")),
        frozenset({1, 2}),
        None,
        "s",
        (3, "x"),
        {"k": [Point(1, 2.0)]},
    )
    out = reg.decode(reg.encode(env(r)))
    assert out.body == r and out.mtype == "Rich"


@pytest.mark.parametrize(
    "body", [None, 1, -(2**63), 2.5, "s", b"b", [1, [2]], {"a": {1: None}}, True]
)
def test_native_bodies_roundtrip_untyped(body: object) -> None:
    out = codec.decode(codec.encode(env(body, Kind.ASK)))
    assert out.body == body and out.mtype == "" and out.kind is Kind.ASK


def test_remote_error_is_registered_by_default() -> None:
    out = codec.decode(codec.encode(env(RemoteError("KeyError", "'x'"), Kind.ERROR)))
    assert out.body == RemoteError("KeyError", "'x'")


def test_float_field_accepts_an_int_on_the_wire(reg: MessageRegistry) -> None:
    out = reg.decode(raw(reg, {"x": 1, "y": 2, "label": None}, "Point"))
    assert out.body == Point(1, 2.0) and type(out.body.y) is float


def test_unregistered_body_is_refused_at_encode() -> None:
    class Nope:
        pass

    with pytest.raises(EncodeError):
        codec.encode(env(Nope()))


def test_register_refuses_name_clash(reg: MessageRegistry) -> None:
    @dataclass
    class Other:
        a: int

    with pytest.raises(EncodeError):
        reg.register(Other, name="Point")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "truncated"),
        (msgpack.packb([1, 2, 3])[:-1], "truncated"),
        (msgpack.packb([1]) + b"\x01", "extra_data"),
        (b"\xc1", "malformed"),
        (b"\xdd\xff\xff\xff\xff", "huge_length"),
        (b"\xd4\x01\x02", "ext_type"),
        (b"\xa2\xff\xfe", "bad_utf8"),
        (msgpack.packb({"a": 1}), "bad_envelope"),
        (msgpack.packb([1, 2, 3]), "bad_envelope"),
    ],
)
def test_frame_level_reasons(reg: MessageRegistry, data: bytes, expected: str) -> None:
    assert reason(reg, data) == expected


def test_too_large(reg: MessageRegistry) -> None:
    data = reg.encode(env(b"x" * 100))
    assert reason(reg, data, max_size=len(data) - 1) == "too_large"
    assert reg.decode(data, max_size=len(data)).body == b"x" * 100


def test_version(reg: MessageRegistry) -> None:
    assert reason(reg, raw(reg, 1, "", version=PROTOCOL_VERSION + 1)) == "version"
    assert reason(reg, raw(reg, 1, "", version="1")) == "version"


def test_header_field_types(reg: MessageRegistry) -> None:
    assert reason(reg, raw(reg, 1, "", msg_id="7")) == "bad_envelope"
    assert reason(reg, raw(reg, 1, "", sender_node=5)) == "bad_envelope"
    assert reason(reg, raw(reg, 1, "", target=None)) == "bad_envelope"


def test_bad_kind(reg: MessageRegistry) -> None:
    assert reason(reg, raw(reg, 1, "", kind=99)) == "bad_kind"
    assert reason(reg, raw(reg, 1, "", kind=True)) == "bad_kind"


def test_unknown_type(reg: MessageRegistry) -> None:
    assert reason(reg, raw(reg, {}, "nope.Nothing")) == "unknown_type"


def test_missing_and_extra_field(reg: MessageRegistry) -> None:
    assert reason(reg, raw(reg, {"x": 1, "y": 2.0}, "Point")) == "missing_field"
    assert (
        reason(reg, raw(reg, {"x": 1, "y": 2.0, "label": None, "z": 0}, "Point")) == "extra_field"
    )
    assert reason(reg, raw(reg, {"x": 1, "y": 2.0, "z": 0}, "Point")) == "missing_field"


@pytest.mark.parametrize(
    "body",
    [
        {"x": "1", "y": 2.0, "label": None},
        {"x": True, "y": 2.0, "label": None},  # bool is not an int on the wire
        {"x": 1, "y": "2", "label": None},
        {"x": 1, "y": 2.0, "label": 3},
        [1, 2.0, None],
    ],
)
def test_field_type(reg: MessageRegistry, body: object) -> None:
    assert reason(reg, raw(reg, body, "Point")) == "field_type"


def test_nested_field_types(reg: MessageRegistry) -> None:
    good = reg.encode(env(Rich(Color.RED, Pair(1, ()), frozenset(), None, 1, (1, "a"), {})))
    obj = msgpack.unpackb(good, strict_map_key=False)
    for key, bad in [
        ("color", "green"),
        ("pair", {"left": 1, "right": [1]}),
        ("ids", [[1]]),
        ("maybe", {"x": 1}),
        ("either", 1.5),
        ("fixed", [1]),
        ("nested", {"k": [{"x": "no", "y": 1.0, "label": None}]}),
    ]:
        body = dict(obj[8], **{key: bad})
        r = reason(reg, msgpack.packb([*obj[:8], body]))
        assert r in ("field_type", "missing_field"), (key, r)


def test_invalid_value_from_post_init() -> None:
    reg = MessageRegistry()

    @dataclass(frozen=True)
    class Positive:
        n: int

        def __post_init__(self) -> None:
            if self.n <= 0:
                raise ValueError("n must be positive")

    reg.register(Positive, name="Positive")
    assert reason(reg, raw(reg, {"n": -1}, "Positive")) == "invalid_value"


def test_body_error_keeps_the_header_for_an_error_reply(reg: MessageRegistry) -> None:
    with pytest.raises(DecodeError) as ei:
        reg.decode(raw(reg, {}, "nope", kind=int(Kind.ASK), sender_actor="asker"))
    hdr = ei.value.header
    assert (
        hdr is not None and hdr.kind is Kind.ASK and hdr.msg_id == 7 and hdr.sender_actor == "asker"
    )


def test_every_documented_reason_is_exercised() -> None:
    import pathlib

    text = pathlib.Path(__file__).read_text()
    missing = [r for r in DecodeError.REASONS if f'"{r}"' not in text]
    assert missing == []


def test_shape_from_shared_messages_roundtrips() -> None:
    s = Shape("sq", [Point(0, 0.0)], {}, b"", False)
    assert codec.decode(codec.encode(env(s))).body == s


@pytest.mark.parametrize("body", [Point(1, 2.0), {"v": 1}, None])
def test_encode_fields_gives_the_bytes_of_the_envelope(body: object) -> None:
    e = Envelope(
        msg_id=7,
        corr_id=3,
        sender_node="tcp://h:1",
        sender_actor="a",
        target="t",
        kind=Kind.REPLY,
        body=body,
    )
    assert codec.encode_fields(7, 3, "tcp://h:1", "a", "t", Kind.REPLY, body) == codec.encode(e)


def test_encode_fields_refuses_what_encode_refuses() -> None:
    with pytest.raises(EncodeError, match="not a registered message type"):
        codec.encode_fields(1, None, "n", None, "t", Kind.ASK, object())
    with pytest.raises(EncodeError, match="cannot encode"):
        codec.encode_fields(1, None, "n", None, "t", Kind.ASK, {"big": 2**70})
    # the thread's packer is left clean by a failed encode
    e = Envelope(msg_id=1, sender_node="n", target="t", kind=Kind.ASK, body=1)
    assert codec.decode(codec.encode(e)) == e


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_float_field_is_refused(reg: MessageRegistry, bad: float) -> None:
    """Issue 30: a NaN in a record field crashed whoever computed with it; the strict
    decoder refuses it (reason "non_finite") instead of handing it on."""
    with pytest.raises(DecodeError) as ei:
        reg.decode(raw(reg, {"x": 1, "y": bad, "label": None}, "Point"))
    assert ei.value.reason == "non_finite"
    assert "Point.y" in str(ei.value)


def test_a_non_finite_float_nested_in_a_record_is_refused(reg: MessageRegistry) -> None:
    good = reg.encode(env(Rich(Color.RED, Pair(1, ()), frozenset(), None, 1, (1, "a"), {})))
    obj = msgpack.unpackb(good, strict_map_key=False)
    body = dict(obj[8], nested={"k": [{"x": 1, "y": float("nan"), "label": None}]})
    assert reason(reg, msgpack.packb([*obj[:8], body])) == "non_finite"
    body = dict(obj[8], maybe={"x": 1, "y": float("-inf"), "label": None})
    assert reason(reg, msgpack.packb([*obj[:8], body])) == "non_finite"


@pytest.mark.parametrize("ok", [0.0, -0.0, 1.5e308, -1e-300, 7])
def test_finite_floats_still_decode(reg: MessageRegistry, ok: float) -> None:
    """Neighbours of the refused values: the largest finite floats, -0.0, an int."""
    decoded = reg.decode(raw(reg, {"x": 1, "y": ok, "label": None}, "Point")).body
    assert decoded == Point(1, float(ok))


def test_untyped_bodies_are_not_inspected() -> None:
    """Only typed float fields are checked: an untyped body is the sender's business
    (its consumer validates it, like Marathon's JSON)."""
    e = codec.decode(codec.encode(env({"v": float("inf")})))
    assert e.body == {"v": float("inf")}


def test_a_frame_of_several_envelopes_decodes_each_once_in_order(reg: MessageRegistry) -> None:
    a, b, c = (reg.encode(env(Point(i, -i))) for i in range(3))
    out = reg.decode_batch(a + b + c, 1 << 20)
    assert [e.body for e in out if isinstance(e, Envelope)] == [
        Point(0, 0),
        Point(1, -1),
        Point(2, -2),
    ]
    assert len(out) == 3


def test_bad_bytes_after_a_first_good_envelope_are_still_told_apart(reg: MessageRegistry) -> None:
    good = reg.encode(env(Point(1, 2)))
    other = reg.encode(env(Point(3, 4)))
    # truncated: the offset is the whole frame's
    out = reg.decode_batch(good + other[:-2], 1 << 20)
    assert isinstance(out[0], Envelope) and out[0].body == Point(1, 2)
    assert isinstance(out[1], DecodeError) and out[1].reason == "truncated"
    assert f"after byte {len(good)}" in str(out[1])
    # malformed bytes
    out = reg.decode_batch(good + b"\xc1", 1 << 20)
    assert isinstance(out[0], Envelope) and [type(o) for o in out[1:]] == [DecodeError]
    assert out[1].reason == "malformed"
    # a first value that is not an envelope, then a good one
    out = reg.decode_batch(msgpack.packb([1, 2, 3]) + good, 1 << 20)
    assert isinstance(out[0], DecodeError) and out[0].reason == "bad_envelope"
    assert isinstance(out[1], Envelope) and out[1].body == Point(1, 2)
