"""Message types shared by the test process and the peer process."""

from __future__ import annotations

from dataclasses import dataclass, field

from transport import register


@register(name="test.Point")
@dataclass(frozen=True)
class Point:
    x: int
    y: float
    label: str | None = None


@register(name="test.Shape")
@dataclass(frozen=True)
class Shape:
    name: str
    points: list[Point] = field(default_factory=list)
    tags: dict[str, int] = field(default_factory=dict)
    blob: bytes = b""
    closed: bool = False
