"""What ``cluster up`` prepares so that the cluster requires login from its first second.

DC/OS' installer creates the first superuser and the CLI logs in with it. Here, in the
state dir (each file mode 0600):

- ``iam/cluster-key.pem``: the RSA key the masters sign login tokens with (``--iam-key``);
- ``iam/bootstrap.json``: the first superuser's uid and argon2id hash (``--iam-bootstrap``);
- ``bootstrap-password``: that superuser's password, written ONCE (the first ``up``) and
  printed once; later ``up``s of the same state dir reuse it to log the CLI in.

The login itself (``login``) is DC/OS' ``POST /acs/api/v1/auth/login``.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from console._errors import ConsoleError

BOOTSTRAP_UID = "bootstrapuser"
"""The first superuser's uid (DC/OS' installer default)."""

NO_AUTH_WARNING = (
    "WARNING: auth is OFF (--no-auth): no login, anyone who reaches a master's port is "
    "superuser. Use this for throw-away dev clusters only."
)


class LoginRefused(ConsoleError):
    """The masters answered the login with a definite no (wrong password, no such user)."""


@dataclass(frozen=True)
class IamSetup:
    key_file: Path
    bootstrap_file: Path
    password_file: Path
    uid: str
    password: str
    fresh: bool
    """True when this ``up`` made the password (print it, once)."""


def password_path(state_dir: Path) -> Path:
    return Path(state_dir) / "bootstrap-password"


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` 0600 with ``text``; never replaces an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def prepare(state_dir: Path) -> IamSetup:
    """The cluster key, the first superuser and its password, made once per state dir."""
    from actors.iam import generate_cluster_key, write_bootstrap

    state_dir = Path(state_dir)
    iam = state_dir / "iam"
    iam.mkdir(parents=True, exist_ok=True)
    iam.chmod(0o700)
    key = iam / "cluster-key.pem"
    if not key.exists():
        generate_cluster_key(key)
    pw_file = password_path(state_dir)
    fresh = not pw_file.exists()
    if fresh:
        _write_private(pw_file, secrets.token_urlsafe(18) + "\n")
    password = pw_file.read_text(encoding="utf-8").strip()
    if not password:
        raise ConsoleError(f"{pw_file} is empty: remove it to make a new superuser password")
    boot = iam / "bootstrap.json"
    if fresh or not boot.exists():
        write_bootstrap(boot, BOOTSTRAP_UID, password)
    return IamSetup(key, boot, pw_file, BOOTSTRAP_UID, password, fresh)


def master_flags(setup: IamSetup | None) -> list[str]:
    """The masters' auth flags: the key and the bootstrap file, or ``--no-auth``."""
    if setup is None:
        return ["--no-auth"]
    return ["--iam-key", str(setup.key_file), "--iam-bootstrap", str(setup.bootstrap_file)]


def login(base_url: str, uid: str, password: str, timeout: float = 5.0) -> str | None:
    """One login at ``base_url`` -> the token; None when the masters are not ready yet
    (no answer, 503, a redirect during an election); ``LoginRefused`` on 401/403/400."""
    u = urlsplit(base_url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=timeout)
    try:
        body = json.dumps({"uid": uid, "password": password}).encode()
        conn.request(
            "POST",
            "/acs/api/v1/auth/login",
            body=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        r = conn.getresponse()
        raw = r.read()
    except OSError:
        return None
    finally:
        conn.close()
    if r.status == 200:
        try:
            token = json.loads(raw).get("token")
        except (ValueError, AttributeError):
            return None
        return token if isinstance(token, str) and token else None
    if r.status in (400, 401, 403):
        try:
            message = str(json.loads(raw).get("message") or f"HTTP {r.status}")
        except (ValueError, AttributeError):
            message = f"HTTP {r.status}"
        raise LoginRefused(f"login as {uid!r} refused: {message}")
    return None  # 404 (IAM not mounted yet), 429, 5xx, redirects: try again
