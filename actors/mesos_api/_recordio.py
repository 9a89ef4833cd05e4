"""RecordIO, the framing of Mesos' v1 event streams: ``<length>\\n<record>`` repeated.

``length`` is the record's size in bytes as ASCII decimal digits; the record follows
with no terminator (Mesos' ``recordio.hpp``). Pure: no I/O, so the stream writer and
the tests share it, and a client can decode what the scheduler API sends.
"""

from __future__ import annotations

import json
from typing import Any

from actors.mesos_api._errors import BadRecordIO

MAX_RECORD_BYTES = 64 * 1024 * 1024
"""Largest record a decoder accepts (a length above it is garbage, not a big event)."""

_MAX_DIGITS = len(str(MAX_RECORD_BYTES))


def encode(record: bytes) -> bytes:
    """One record framed: ``b"5\\nhello"``."""
    return b"%d\n%s" % (len(record), record)


def encode_event(event: dict[str, Any]) -> bytes:
    """A JSON event framed, compact, as Mesos streams them."""
    return encode(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode())


class Decoder:
    """Incremental decoder: ``feed(chunk)`` returns the records completed so far.

    A length that is not decimal digits, or is larger than ``max_record``, raises
    ``BadRecordIO`` naming the bytes it saw; the decoder is then unusable (as the
    stream it reads)."""

    def __init__(self, max_record: int = MAX_RECORD_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_record

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        out: list[bytes] = []
        while True:
            nl = self._buf.find(b"\n", 0, _MAX_DIGITS + 2)
            if nl < 0:
                if len(self._buf) > _MAX_DIGITS + 1 or not _digits(self._buf):
                    raise BadRecordIO(f"record length: {bytes(self._buf[:24])!r} is not a number")
                return out
            head = bytes(self._buf[:nl])
            if not head or not _digits(head):
                raise BadRecordIO(f"record length: {head[:24]!r} is not a number")
            size = int(head)
            if size > self._max:
                raise BadRecordIO(f"record length: {size} exceeds the limit of {self._max} bytes")
            end = nl + 1 + size
            if len(self._buf) < end:
                return out
            out.append(bytes(self._buf[nl + 1 : end]))
            del self._buf[:end]

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete record."""
        return len(self._buf)


def _digits(data: bytes | bytearray) -> bool:
    return all(48 <= b <= 57 for b in data)


def decode_all(data: bytes, max_record: int = MAX_RECORD_BYTES) -> list[bytes]:
    """Every record of a complete stream; trailing partial data is ``BadRecordIO``."""
    d = Decoder(max_record)
    out = d.feed(data)
    if d.pending:
        raise BadRecordIO(f"stream: {d.pending} trailing bytes do not form a whole record")
    return out
