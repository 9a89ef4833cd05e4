"""The first superuser: the ``--iam-bootstrap`` file ``pydcos cluster up`` writes.

``{"uid": ..., "password_hash": "$argon2id$..."}``, mode 0600: the leader's IAM service
creates that user, with ``full`` on ``dcos:superuser``, when the cluster has no user yet.
Only the hash is in the file; the clear password is printed once by ``cluster up``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from actors.iam._errors import IamConfigError, IamError
from actors.iam._model import check_uid
from actors.iam._passwords import hash_password, is_password_hash


def write_bootstrap(path: Path | str, uid: str, password: str) -> None:
    check_uid(uid)
    doc = {"uid": uid, "password_hash": hash_password(password)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    os.chmod(path, 0o600)


def read_bootstrap(path: Path | str) -> tuple[str, str]:
    """(uid, password hash); IamConfigError names the file and the field."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise IamConfigError(f"iam-bootstrap: cannot read {str(path)!r}: {exc.strerror}") from None
    except ValueError:
        raise IamConfigError(f"iam-bootstrap: {str(path)!r} is not JSON") from None
    if not isinstance(doc, dict):
        raise IamConfigError(f"iam-bootstrap: {str(path)!r} is not a JSON object")
    try:
        uid = check_uid(doc.get("uid"))
    except IamError as exc:
        raise IamConfigError(f"iam-bootstrap: {exc.message}") from None
    if not is_password_hash(doc.get("password_hash")):
        raise IamConfigError(f"iam-bootstrap: {str(path)!r}: password_hash is not argon2id")
    return uid, str(doc["password_hash"])
