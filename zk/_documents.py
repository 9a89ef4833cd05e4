"""How a stored document is encoded and how big it may be: pure, no ZooKeeper client.

Kept apart from ``_client``/``_store`` (which import kazoo) so that code that only
sizes a value against the store's limit (Marathon trimming an app's versions) can do so
without loading kazoo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from zk._errors import CorruptData

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
"""Largest document (encoded JSON): 8 MiB, 8x the API's 1 MiB request body, so that a
document derived from one request (Marathon's deployment holds the root group twice)
fits. Refused above with ``ValueTooLarge`` before anything reaches ZooKeeper."""


def encode_json(value: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON (stable bytes for stable versions).

    orjson (11x faster than ``json`` for a 100-instance shard: the leader writes
    thousands a second); what it cannot encode (a key that is not a string, an integer
    past 64 bits) is encoded by ``json`` as before, and so is a value that orjson would
    change: it writes a NaN or an infinity as ``null``, and a quarantined record read
    with ``NaN`` in it must be written back as it was stored. Characters past ASCII are
    stored as UTF-8, not ``\\u`` escapes."""
    try:
        out = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        out = None
    if out is not None and (b"null" not in out or orjson.loads(out) == value):
        return out
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


def encoded_size(value: Any) -> int:
    """Bytes ``value`` takes as stored JSON (what ``StateStore``'s limits count)."""
    return len(encode_json(value))


_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
"""``bytes.translate`` table: every digit to ``0``, every other byte to a space."""
_LONG_RUN = b"0" * 19
"""The shortest digit run that may be an integer orjson cannot hold (past -2**63)."""


def decode_json(path: str, data: bytes) -> Any:
    """Decode JSON found at ``path``; raise CorruptData naming the path if it is not JSON.

    orjson first (2-3x faster with the check below: a new leader reads 100,000
    instances); what it refuses is read by ``json`` as before (``NaN`` written by older
    code, a lone surrogate), which names what is wrong when neither can. orjson reads an
    integer past 64 bits as a float, silently: a document with a run of 19 digits or
    more anywhere is read by ``json``."""
    if _LONG_RUN not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptData(path, f"not UTF-8 JSON ({exc})", data) from None


@dataclass(frozen=True)
class Put:
    """Batch op: write ``value`` at ``key``; create it (``version`` None) or CAS from
    ``version``."""

    key: str
    value: Any
    version: int | None


@dataclass(frozen=True)
class Delete:
    """Batch op: delete ``key`` if it is still at ``version``."""

    key: str
    version: int
