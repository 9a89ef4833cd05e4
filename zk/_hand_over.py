"""``take_hand_over``: where a new leader's first load of a store reads (kazoo-free, so
that the stores' modules stay importable by pure code; `zk.StoreMirror` is in
``zk._mirror``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from zk._errors import ZkError

if TYPE_CHECKING:
    from zk._mirror import HandOver, StoreMirror
    from zk._store import StateStore

log = logging.getLogger(__name__)


def take_hand_over(
    mirror: StoreMirror | None, store: StateStore, owner: str
) -> tuple[HandOver | StateStore, str]:
    """Where a new leader's first load reads: ``mirror``'s hand-over (the mirror is
    closed after it, used or not), else ``store`` itself; and a note of how, for the
    owner's start-up line: ``"warm: N reused, M read again in S s[, whole]"``,
    ``"cold"`` (no copy), or ``"cold: the warm copy failed"`` (a hand-over that failed,
    the mirror's session gone: logged as a warning naming ``owner``)."""
    if mirror is None:
        return store, "cold"
    try:
        handed = mirror.hand_over(store)
    except ZkError as exc:
        log.warning("%s: no warm copy of the store (%s): reading it whole", owner, exc)
        return store, "cold: the warm copy failed"
    finally:
        mirror.close()
    log.info(
        "%s: warm standby hand-over: %d document(s) reused, %d read again%s, in %.2f s",
        owner,
        handed.reused,
        handed.reread,
        " (whole: the standby's session was interrupted)" if handed.whole else "",
        handed.seconds,
    )
    note = (
        f"warm: {handed.reused} reused, {handed.reread} read again "
        f"in {handed.seconds:.2f} s{', whole' if handed.whole else ''}"
    )
    return handed, note
