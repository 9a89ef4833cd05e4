"""Pure helpers for sequential member znodes: naming, ordering, the election decision.

No I/O. A member znode is ``member_<uuid32>_<seq10>``: the uuid lets a contender find
its own node after a create whose reply was lost; the 10-digit suffix is ZooKeeper's
sequence number and the only thing order depends on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PREFIX = "member_"
_NAME = re.compile(r"^member_([0-9a-f]{32})_(\d{10})$")


def member_prefix(token: str) -> str:
    """The name to pass to an ephemeral-sequential create for ``token`` (a uuid hex)."""
    return f"{PREFIX}{token}_"


def parse_member(name: str) -> tuple[int, str] | None:
    """``(sequence, token)`` of a member name, or None for a foreign child."""
    m = _NAME.match(name)
    if m is None:
        return None
    return int(m.group(2)), m.group(1)


def order_members(names: Iterable[str]) -> list[str]:
    """Member names in sequence order; foreign names are left out."""
    parsed = [(p[0], n) for n in names if (p := parse_member(n)) is not None]
    return [n for _, n in sorted(parsed)]


def find_token(names: Iterable[str], token: str) -> str | None:
    """The member name that carries ``token`` (ours), if any."""
    for n in names:
        p = parse_member(n)
        if p is not None and p[1] == token:
            return n
    return None


@dataclass(frozen=True)
class Decision:
    """What a contender should do after reading the ordered, valid members.

    ``present`` False: our node is gone (deleted or session lost), create a new one.
    ``leader`` True: we are first in line. Otherwise watch ``predecessor``, the member
    just ahead of us; when it goes, decide again. Watching only the predecessor keeps
    a failover to one notification (no herd) and needs no polling.
    """

    present: bool
    leader: bool
    predecessor: str | None


def decide(ordered: list[str], mine: str | None) -> Decision:
    if mine is None or mine not in ordered:
        return Decision(present=False, leader=False, predecessor=None)
    i = ordered.index(mine)
    if i == 0:
        return Decision(present=True, leader=True, predecessor=None)
    return Decision(present=True, leader=False, predecessor=ordered[i - 1])
