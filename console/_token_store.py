"""The CLI's login tokens: ``$PYDCOS_HOME/auth.json`` (mode 0600),
``{"tokens": {<zk target>: jwt}}`` keyed by the cluster's ZooKeeper target
(``127.0.0.1:2181/pydcos``), so one CLI can be logged in to several clusters.
``$PYDCOS_TOKEN`` overrides it (scripts, tests).

Its own module, importing nothing of the console: ``console._client`` reads tokens from
it and ``console._auth_cmds`` (which uses the client) writes them, without a cycle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TOKEN_ENV = "PYDCOS_TOKEN"
STORE_NAME = "auth.json"


def _home() -> Path:
    return Path(os.environ.get("PYDCOS_HOME") or str(Path.home() / ".pydcos"))


def token_store_path() -> Path:
    return _home() / STORE_NAME


def _read_store() -> dict[str, Any]:
    try:
        doc = json.loads(token_store_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"tokens": {}}
    if not isinstance(doc, dict) or not isinstance(doc.get("tokens"), dict):
        return {"tokens": {}}
    return doc


def _write_store(doc: dict[str, Any]) -> None:
    path = token_store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_token(key: str) -> str | None:
    """The token to send to the cluster whose ZooKeeper target is ``key``:
    ``$PYDCOS_TOKEN`` if set, else the stored one, else None."""
    env = os.environ.get(TOKEN_ENV)
    if env:
        return env.strip()
    token = _read_store()["tokens"].get(key)
    return token if isinstance(token, str) and token else None


def save_token(key: str, token: str) -> None:
    doc = _read_store()
    doc["tokens"][key] = token
    _write_store(doc)


def forget_token(key: str) -> bool:
    """Remove the stored token of ``key``; False if there was none."""
    doc = _read_store()
    if doc["tokens"].pop(key, None) is None:
        return False
    _write_store(doc)
    return True
