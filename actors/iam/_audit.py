"""The audit log: every denied request and every IAM change, one JSON line each.

``{"time": <epoch>, "who": uid|null, "what": "...", "allowed": bool, ...detail}``,
appended to ``<master log dir>/<master log>.iam-audit.log`` (served as the
``iam-audit`` component log) and mirrored to the ``actors.iam.audit`` logger. Detail
values are strings the callers choose; passwords and tokens are never among them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("actors.iam.audit")

_SECRET_KEYS = ("password", "token", "secret", "authorization", "private_key")


class AuditLog:
    def __init__(self, path: Path | str | None, wall: Callable[[], float]) -> None:
        self.path = Path(path) if path else None
        self.wall = wall
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.close(fd)

    def append(self, who: str | None, what: str, allowed: bool, **detail: str) -> None:
        entry: dict[str, object] = {
            "time": round(self.wall(), 3),
            "who": who,
            "what": what,
            "allowed": allowed,
        }
        for k, v in detail.items():
            if any(s in k.lower() for s in _SECRET_KEYS):
                continue  # defence in depth: a caller never logs a secret by mistake
            entry[k] = str(v)[:512]
        line = json.dumps(entry, sort_keys=True)
        log.info("audit %s", line)
        if self.path is None:
            return
        with self._lock:
            try:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
            except OSError as exc:
                log.error("audit log %s: cannot append: %s", self.path, exc)


def audit_path(master_log_file: str | None) -> Path | None:
    """``.../master-0.log`` -> ``.../master-0.iam-audit.log``; None without a log file."""
    if not master_log_file:
        return None
    p = Path(master_log_file)
    return p.with_name(p.stem + ".iam-audit.log")
