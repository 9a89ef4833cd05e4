"""Connecting to ZooKeeper: one place that sets session timeout, chroot and retries."""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState

from zk._errors import CorruptData, ZkUnavailable
from zk._retry import DEFAULT_RETRY, RetryPolicy

log = logging.getLogger(__name__)

#: Development default. Mesos and Marathon default to 10 s; shorter means faster
#: failover after a crash, at the price of stepping down on a shorter network hiccup.
DEFAULT_SESSION_TIMEOUT = 2.0
DEFAULT_CHROOT = "/pydcos"


def connect(
    hosts: str,
    *,
    chroot: str | None = DEFAULT_CHROOT,
    session_timeout: float = DEFAULT_SESSION_TIMEOUT,
    retry: RetryPolicy = DEFAULT_RETRY,
    connect_timeout: float = 15.0,
    client_id: tuple[int, bytes] | None = None,
) -> KazooClient:
    """A started ``KazooClient`` on ``hosts`` under ``chroot`` (created if missing).

    ``hosts`` may carry its own chroot (``"h:p,h:p/pydcos"``); then ``chroot`` is ignored.
    Raises ``ZkUnavailable`` if no server answers within ``connect_timeout``.
    """
    if "/" not in hosts and chroot:
        if not chroot.startswith("/"):
            raise ValueError(f"chroot must start with '/', got {chroot!r}")
        hosts = hosts + chroot.rstrip("/")
    # Reconnect quickly after a server dies: the session survives only session_timeout.
    connection_retry = {"max_tries": -1, "delay": 0.05, "backoff": 2, "max_delay": 0.5}
    client = KazooClient(
        hosts=hosts,
        timeout=session_timeout,
        connection_retry=connection_retry,
        command_retry=retry.kazoo(),
        client_id=client_id,
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
    other = KazooClient(hosts=hosts + chroot, client_id=(session_id, password), timeout=2.0)
    other.start(timeout=timeout)
    other.stop()
    other.close()
    if not lost.wait(timeout):
        client.remove_listener(listener)
        raise ZkUnavailable(f"session 0x{session_id:x} did not expire within {timeout} s")


def encode_json(value: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON (stable bytes for stable versions)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


def decode_json(path: str, data: bytes) -> Any:
    """Decode JSON found at ``path``; raise CorruptData naming the path if it is not JSON."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptData(path, f"not UTF-8 JSON ({exc})", data) from None


Listener = Callable[[KazooState], Any]
