"""``zk._documents``: stored JSON by orjson, ``json`` for what orjson refuses (pure)."""

from __future__ import annotations

import json

import pytest

from zk import CorruptData
from zk._documents import decode_json, encode_json, encoded_size


def test_compact_sorted_and_the_same_bytes_as_json_for_ascii() -> None:
    doc = {"b": [1, 2.5, None, True], "a": {"z": "x", "y": []}, "c": "plain"}
    want = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    assert encode_json(doc) == want
    assert encoded_size(doc) == len(want)
    assert decode_json("/d", want) == doc


def test_text_past_ascii_is_stored_as_utf8_and_reads_back() -> None:
    doc = {"label": "caf\u00e9 \u2603"}
    data = encode_json(doc)
    assert "caf\u00e9 \u2603".encode() in data
    assert decode_json("/d", data) == doc
    assert decode_json("/d", json.dumps(doc).encode()) == doc  # as older code wrote it


def test_what_orjson_refuses_is_encoded_by_json() -> None:
    big = {"n": 2**70, "k": {1: "one"}}
    assert encode_json({"n": 2**70}) == b'{"n":1180591620717411303424}'
    assert encode_json({"k": {1: "one"}}) == b'{"k":{"1":"one"}}'
    assert decode_json("/d", encode_json(big)) == {"n": 2**70, "k": {"1": "one"}}


def test_what_older_code_could_write_still_reads() -> None:
    assert decode_json("/d", b'{"n": 123456789012345678901234567890}') == {
        "n": 123456789012345678901234567890
    }
    assert decode_json("/d", b"[-9223372036854775809, 18446744073709551616]") == [
        -(2**63) - 1,
        2**64,
    ]
    value = decode_json("/d", b'{"x": NaN}')
    assert value["x"] != value["x"]


@pytest.mark.parametrize("data", [b"{not json", b'{"a": "\xff"}', b""])
def test_what_is_not_json_names_the_path(data: bytes) -> None:
    with pytest.raises(CorruptData) as err:
        decode_json("/apps/web", data)
    assert "/apps/web" in str(err.value) and "not UTF-8 JSON" in str(err.value)


def test_a_non_finite_number_is_written_back_as_it_was_read() -> None:
    """A quarantined record read with ``NaN`` (older code wrote it) is written back byte
    for byte as ``json`` wrote it, not with orjson's ``null``."""
    doc = decode_json("/d", b'{"cpus":NaN,"mem":Infinity,"none":null}')
    assert encode_json(doc) == b'{"cpus":NaN,"mem":Infinity,"none":null}'
    assert encode_json({"a": None, "b": [1, None]}) == b'{"a":null,"b":[1,null]}'
    assert encode_json({"t": (1, None)}) == b'{"t":[1,null]}'
