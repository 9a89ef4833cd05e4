"""RecordIO framing (Mesos' recordio.hpp): round trips, split reads, garbage."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.mesos_api import BadRecordIO, Decoder, decode_all, encode, encode_event


@given(st.lists(st.binary(max_size=300), max_size=20), st.integers(1, 64))
def test_any_records_survive_framing_however_the_stream_is_cut(
    records: list[bytes], cut: int
) -> None:
    stream = b"".join(encode(r) for r in records)
    d = Decoder()
    out: list[bytes] = []
    for i in range(0, len(stream), cut):
        out.extend(d.feed(stream[i : i + cut]))
    assert out == records
    assert d.pending == 0
    assert decode_all(stream) == records


def test_an_event_is_its_compact_json_after_its_byte_length() -> None:
    framed = encode_event({"type": "HEARTBEAT"})
    assert framed == b'20\n{"type":"HEARTBEAT"}'
    assert json.loads(decode_all(framed)[0]) == {"type": "HEARTBEAT"}


def test_a_length_in_bytes_counts_utf8_not_characters() -> None:
    framed = encode_event({"m": "é"})
    assert framed.startswith(b"%d\n" % len('{"m":"é"}'.encode()))


@pytest.mark.parametrize(
    ("garbage", "said"),
    [
        (b"abc\n{}", "b'abc' is not a number"),
        (b"\n{}", "b'' is not a number"),
        (b"-5\nhello", "b'-5' is not a number"),
        (b"9" * 40, "is not a number"),
        (b"999999999\n", "exceeds the limit"),
    ],
)
def test_garbage_is_refused_naming_what_was_seen(garbage: bytes, said: str) -> None:
    with pytest.raises(BadRecordIO, match=said.replace("(", r"\(")):
        Decoder(max_record=1024).feed(garbage)


def test_a_truncated_stream_is_not_a_whole_record() -> None:
    with pytest.raises(BadRecordIO, match="trailing bytes"):
        decode_all(b"10\nshort")
