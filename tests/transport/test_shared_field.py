"""``MessageRegistry.share_field``: a value fanned out to many receivers is packed once;
every frame is byte for byte what the plain codec writes, and decodes the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transport import Envelope, Kind, MessageRegistry


@dataclass(frozen=True)
class Event:
    event: dict[str, Any]
    source: str
    seq: int


def registries() -> tuple[MessageRegistry, MessageRegistry]:
    plain, sharing = MessageRegistry(), MessageRegistry()
    for r in (plain, sharing):
        r.register(Event, name="test.Event")
    sharing.share_field(Event, "event")
    return plain, sharing


def test_frames_are_identical_and_decode_the_same() -> None:
    plain, sharing = registries()
    shared = {"type": "TASK_ADDED", "task": {"id": "t\u00e9", "n": [1, 2.5, None, True]}}
    for seq in range(1, 5):  # the same event to several watchers: cached after the first
        for target in ("dns", "l4lb", "a" * 300):
            env = Envelope(
                sender_node="tcp://127.0.0.1:5050",
                target=target,
                kind=Kind.TELL,
                body=Event(shared, "m1", seq),
                msg_id=seq,
            )
            frame = sharing.encode(env)
            assert frame == plain.encode(env)
            assert sharing.decode(frame).body == Event(shared, "m1", seq)


def test_an_equal_but_different_value_is_packed_anew() -> None:
    plain, sharing = registries()
    first = {"type": "A"}
    env = Envelope(sender_node="n", target="t", kind=Kind.TELL, body=Event(first, "m", 1))
    assert sharing.encode(env) == plain.encode(env)
    second = {"type": "B"}  # a new dict: never the cached bytes of the first one
    env2 = Envelope(sender_node="n", target="t", kind=Kind.TELL, body=Event(second, "m", 2))
    assert sharing.decode(sharing.encode(env2)).body.event == {"type": "B"}
