"""Connecting to ZooKeeper: one place that sets session timeout, chroot, retries and ACLs.

Digest ACLs: with ``credentials`` every client authenticates (``addAuth digest``) and
every znode it creates carries ``digest:<user>:<hash>`` with all permissions, so another
local user who can reach the port can neither read nor change the cluster's state. The
only exception is the election (``leader_acl``): its znodes are world-readable, never
world-writable, as Mesos' master group is (``EVERYONE_READ_CREATOR_ALL``): a client finds
the leader without holding the secret that can rewrite the cluster's state.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState
from kazoo.security import ACL, READ_ACL_UNSAFE, make_digest_acl

from zk._errors import ZkError, ZkUnavailable
from zk._poll import PollHandler
from zk._retry import DEFAULT_RETRY, RetryPolicy

log = logging.getLogger(__name__)

#: Development default. Mesos and Marathon default to 10 s; shorter means faster
#: failover after a crash, at the price of stepping down on a shorter network hiccup.
DEFAULT_SESSION_TIMEOUT = 2.0
DEFAULT_CHROOT = "/pydcos"
CREDENTIALS_ENV = "PYDCOS_ZK_CREDENTIALS"
"""Environment variable naming a credentials file (used when none is passed)."""
CREDENTIALS_FILE = "zk.credentials"
"""Its name beside the CURVE keys (``<keys dir>/zk.credentials``)."""


class BadCredentials(ZkError):
    """A ZooKeeper credentials file is missing, malformed or readable by others."""


@dataclass(frozen=True)
class ZkCredentials:
    """The cluster's ZooKeeper digest identity: ``user:password``."""

    user: str
    password: str

    def __post_init__(self) -> None:
        if not self.user or ":" in self.user or not self.user.isprintable():
            raise BadCredentials(f"ZooKeeper user {self.user!r}: non-empty, printable, no ':'")
        if (
            not self.password
            or not self.password.isprintable()
            or self.password.strip() != (self.password)
        ):
            raise BadCredentials("ZooKeeper password: non-empty, printable, no outer spaces")

    @property
    def auth_data(self) -> list[tuple[str, str]]:
        """kazoo's ``auth_data``: sent as ``addAuth`` on every (re)connection."""
        return [("digest", f"{self.user}:{self.password}")]

    def acl(self) -> list[ACL]:
        """All permissions for the holder of these credentials, nothing for anyone else."""
        return [make_digest_acl(self.user, self.password, all=True)]

    def __repr__(self) -> str:  # never print the password
        return f"ZkCredentials(user={self.user!r}, password=***)"


def generate_credentials(user: str = "pydcos") -> ZkCredentials:
    """A fresh random password (256 bits) for ``user``."""
    return ZkCredentials(user, secrets.token_urlsafe(32))


def write_credentials(path: str | os.PathLike[str], creds: ZkCredentials) -> Path:
    """Write ``user:password`` to ``path`` with mode 0600 (created that way, never
    widened later: no window in which another user could read it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(f"{creds.user}:{creds.password}\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def ensure_credentials(path: str | os.PathLike[str]) -> ZkCredentials:
    """The credentials in ``path``, created (mode 0600) if the file does not exist."""
    path = Path(path)
    if not path.exists():
        write_credentials(path, generate_credentials())
    return read_credentials(path)


def read_credentials(path: str | os.PathLike[str]) -> ZkCredentials:
    """Read ``user:password`` from ``path``; refuse a file others can read or write
    (as ssh refuses a private key with loose permissions)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise BadCredentials(f"ZooKeeper credentials file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadCredentials(f"ZooKeeper credentials file {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BadCredentials(
            f"ZooKeeper credentials file {path} has mode {stat.S_IMODE(mode):04o}: other "
            f"users could read it; run 'chmod 600 {path}'"
        )
    line = text.strip()
    user, colon, password = line.partition(":")
    if not colon or "\n" in line:
        raise BadCredentials(f"ZooKeeper credentials file {path}: expected one line user:password")
    try:
        return ZkCredentials(user, password)
    except BadCredentials as exc:
        raise BadCredentials(f"ZooKeeper credentials file {path}: {exc}") from None


def resolve_credentials(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> ZkCredentials | None:
    """Credentials from ``path``, else from ``$PYDCOS_ZK_CREDENTIALS``, else None (an
    open ensemble, as in tests)."""
    env = os.environ if env is None else env
    chosen = path or env.get(CREDENTIALS_ENV) or None
    return None if chosen is None else read_credentials(chosen)


def leader_acl(client: KazooClient) -> list[ACL] | None:
    """ACL for the election's znodes: the client's own ACL plus world READ, so the
    leader pointer is readable without credentials but writable only with them. None
    (kazoo's open default) on a client without credentials."""
    own = list(client.default_acl or [])
    return [*own, *READ_ACL_UNSAFE] if own else None


def connect(
    hosts: str,
    *,
    chroot: str | None = DEFAULT_CHROOT,
    session_timeout: float = DEFAULT_SESSION_TIMEOUT,
    retry: RetryPolicy = DEFAULT_RETRY,
    connect_timeout: float = 15.0,
    client_id: tuple[int, bytes] | None = None,
    credentials: ZkCredentials | None = None,
    randomize_hosts: bool = True,
) -> KazooClient:
    """A started ``KazooClient`` on ``hosts`` under ``chroot`` (created if missing).

    ``randomize_hosts=False`` tries the servers in the order given (two clients given the
    same order sit on the same server).

    ``hosts`` may carry its own chroot (``"h:p,h:p/pydcos"``); then ``chroot`` is ignored.
    With ``credentials`` the client authenticates and everything it creates (the chroot
    too) carries their digest ACL. Raises ``ZkUnavailable`` if no server answers within
    ``connect_timeout``.
    """
    if "/" not in hosts and chroot:
        if not chroot.startswith("/"):
            raise ValueError(f"chroot must start with '/', got {chroot!r}")
        hosts = hosts + chroot.rstrip("/")
    # Reconnect quickly after a server dies: the session survives only session_timeout.
    connection_retry = {"max_tries": -1, "delay": 0.05, "backoff": 2, "max_delay": 0.5}
    client = KazooClient(
        hosts=hosts,
        handler=PollHandler(),
        timeout=session_timeout,
        connection_retry=connection_retry,
        command_retry=retry.kazoo(),
        client_id=client_id,
        auth_data=credentials.auth_data if credentials is not None else None,
        default_acl=credentials.acl() if credentials is not None else None,
        randomize_hosts=randomize_hosts,
    )
    try:
        with warnings.catch_warnings():  # we create the chroot just below
            warnings.filterwarnings("ignore", message="No chroot path exists")
            client.start(timeout=connect_timeout)
    except KazooTimeoutError as exc:
        client.stop()
        client.close()
        raise ZkUnavailable(f"no ZooKeeper answered at {hosts} within {connect_timeout} s") from exc
    if "/" in hosts:
        # kazoo resolves paths under the chroot; ensure_path("/") creates the chroot itself.
        retry(client.ensure_path, "/")
    return client


def protect_root(hosts: str, credentials: ZkCredentials, connect_timeout: float = 15.0) -> None:
    """Make the ensemble's top node ``/`` readable by anyone but writable only with
    ``credentials``: then no other local user can create znodes there (and fill the
    server's memory). Only for an ensemble this cluster owns, such as the development
    server ``cluster up`` starts; other tenants of a shared ensemble need ``/`` too."""
    client = connect(
        hosts.split("/", 1)[0],
        chroot=None,
        credentials=credentials,
        connect_timeout=connect_timeout,
    )
    try:
        client.set_acls("/", [*credentials.acl(), *READ_ACL_UNSAFE])
    finally:
        close_quietly(client)


def secure_tree(
    client: KazooClient, readable: tuple[str, ...] = ("/election", "/election-term")
) -> int:
    """Give every znode under the client's chroot the client's ACL (``readable`` paths
    and what is below them: ``leader_acl``), for znodes written before ACLs existed: a
    rewrite keeps a znode's ACL, so old open znodes would stay open. Znodes another
    identity owns (``NoAuth``) or that vanish meanwhile are left alone. Returns how many
    changed."""
    from kazoo.exceptions import NoAuthError, NoNodeError

    own = list(client.default_acl or [])
    if not own:
        raise BadCredentials("secure_tree needs a client connected with credentials")
    changed = 0
    stack = ["/"]
    while stack:
        path = stack.pop()
        wanted = own
        if any(path == r or path.startswith(r + "/") for r in readable):
            wanted = leader_acl(client) or own
        try:
            acls, _ = client.get_acls(path)
            if sorted(map(repr, acls)) != sorted(map(repr, wanted)):
                client.set_acls(path, wanted)
                changed += 1
            children = client.get_children(path)
        except (NoAuthError, NoNodeError):
            continue
        stack.extend(f"{path.rstrip('/')}/{c}" for c in children)
    return changed


def close_quietly(client: KazooClient) -> None:
    """Stop and close a client, ignoring errors (used in teardown paths)."""
    for step in (client.stop, client.close):
        try:
            step()
        except Exception as exc:
            log.debug("closing the ZooKeeper client: %s: %r", step.__name__, exc)


def expire_session(client: KazooClient, timeout: float = 10.0) -> None:
    """Make the server expire ``client``'s session, the way kazoo's old test harness did.

    A second client attaches to the same session id and password, then closes it: the
    server ends the session (ephemeral nodes vanish, watchers fire) and the first client
    first drops its connection (SUSPENDED) and then learns its session is gone (LOST).
    Blocks until the first client saw LOST (or ``timeout``).
    """
    lost = threading.Event()

    def listener(state: KazooState) -> bool:
        if state == KazooState.LOST:
            lost.set()
            return True
        return False

    client.add_listener(listener)
    session_id, password = client.client_id
    hosts = ",".join(f"{h}:{p}" for h, p in client.hosts)
    chroot = client.chroot or ""
    other = KazooClient(
        hosts=hosts + chroot,
        client_id=(session_id, password),
        handler=PollHandler(),
        timeout=2.0,
        auth_data=list(client.auth_data) or None,
    )
    other.start(timeout=timeout)
    other.stop()
    other.close()
    if not lost.wait(timeout):
        client.remove_listener(listener)
        raise ZkUnavailable(f"session 0x{session_id:x} did not expire within {timeout} s")


Listener = Callable[[KazooState], Any]
