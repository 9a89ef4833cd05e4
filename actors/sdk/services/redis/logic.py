"""The ``redis`` service's decisions (pure: env and ``INFO`` text in, answers out).

Backups are RDB snapshots taken over the wire (``redis-cli --rdb``, Redis' own
replication handshake), written to a directory on the agent's host that outlives every
pod (``BACKUP_DIR``, default ``/var/tmp/pydcos-backups/<service>``: outside the task's
private /tmp). The backup task is a sh command in ``svc.yml`` that follows the rules of
``backup_name`` and ``backup_dir`` (the restore's, here) with the same messages.

A restore serves the snapshot file over Redis' replication protocol
(``feed.SnapshotFeed``: a master whose full sync payload is the file itself) and makes
the primary and its replicas replicas of it, all at once, then promotes the primary back
(``REPLICAOF NO ONE``) and points the replicas at it again (a partial resync: the
primary keeps the feed's replication id as its secondary one). No server is stopped, no
file is placed by hand, and each server's own RDB on its volume is the restored dataset
(a replica writes what it receives before loading it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from actors.sdk import SdkError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
DEFAULT_BACKUP_ROOT = "/var/tmp/pydcos-backups"


class RedisServiceError(SdkError, ValueError):
    """A bad parameter or a state the task cannot work from (names the value)."""


class Address:
    """A server's ``host:port``, compared and hashed by value. A plain class, not a
    dataclass: ``dataclasses`` imports ``inspect``, several ms of a restore task's start
    under the tools pod's CPU quota."""

    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Address) and (self.host, self.port) == (other.host, other.port)

    def __hash__(self) -> int:
        return hash((self.host, self.port))

    def __repr__(self) -> str:
        return f"Address({self.host!r}, {self.port})"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def backup_name(env: Mapping[str, str]) -> str:
    """``BACKUP_NAME`` (the plan's parameter): a file-name-safe word."""
    name = env.get("BACKUP_NAME", "")
    if not NAME_RE.match(name):
        raise RedisServiceError(
            f"BACKUP_NAME must be 1-100 letters, digits, '.', '_' or '-' (starting with a "
            f"letter or digit), got {name!r}"
        )
    return name


def backup_dir(env: Mapping[str, str]) -> str:
    """Where backups go: ``BACKUP_DIR``, else the default root plus the service name."""
    explicit = env.get("BACKUP_DIR", "").strip()
    if explicit:
        if not explicit.startswith("/"):
            raise RedisServiceError(f"BACKUP_DIR must be an absolute path, got {explicit!r}")
        if explicit == "/tmp" or explicit.startswith("/tmp/"):
            raise RedisServiceError(
                f"BACKUP_DIR {explicit!r} is under /tmp, which every task sees as its own "
                "private tmpfs: a backup there would vanish with the task"
            )
        return explicit.rstrip("/")
    service = env.get("FRAMEWORK_NAME", "redis") or "redis"
    return f"{DEFAULT_BACKUP_ROOT}/{service}"


def sdk_address(env: Mapping[str, str], pod: str, index: int, port: str) -> Address:
    """Instance ``index`` of ``pod``'s ``host:port`` for a named port, from the SDK's
    env (``SDK_<POD>_<j>_HOST``, ``SDK_<POD>_<j>_PORT_<NAME>``)."""
    key = f"SDK_{pod.upper().replace('-', '_')}_{index}"
    host = env.get(f"{key}_HOST", "")
    raw = env.get(f"{key}_PORT_{port.upper().replace('-', '_')}", "")
    if not host or not raw.isdigit():
        raise RedisServiceError(
            f"no address for {pod}-{index} port {port} in the task env "
            f"({key}_HOST={host!r}, {key}_PORT_{port.upper()}={raw!r})"
        )
    return Address(host, int(raw))


def sdk_count(env: Mapping[str, str], pod: str) -> int:
    raw = env.get(f"SDK_{pod.upper().replace('-', '_')}_COUNT", "0")
    return int(raw) if raw.isdigit() else 0


def parse_info(text: str) -> dict[str, str]:
    """``INFO`` reply -> {field: value} (sections and blank lines skipped)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        out[key] = value
    return out


def loaded(info: Mapping[str, str]) -> bool:
    """The server answers with its dataset in memory (not loading an RDB/AOF)."""
    return info.get("loading") == "0"


def replica_synced(info: Mapping[str, str], master: Address | None = None) -> tuple[bool, str]:
    """A replica whose link to (``master``, when given) is up and not in a full sync."""
    if info.get("role") != "slave":
        return False, f"role is {info.get('role')!r}, not a replica"
    if master is not None and (
        info.get("master_host") != master.host or info.get("master_port") != str(master.port)
    ):
        return False, (
            f"replicating {info.get('master_host')}:{info.get('master_port')}, not {master}"
        )
    if info.get("master_link_status") != "up":
        return False, f"link to the master is {info.get('master_link_status')!r}"
    if info.get("master_sync_in_progress") != "0":
        return False, "full sync in progress"
    return True, f"in sync with {info.get('master_host')}:{info.get('master_port')}"


def primary_ready(info: Mapping[str, str]) -> tuple[bool, str]:
    """The primary is ready once it is a master with its dataset loaded."""
    if info.get("role") != "master":
        return False, f"role is {info.get('role')!r}, not master"
    if not loaded(info):
        return False, "loading its dataset"
    return True, f"master with {info.get('connected_slaves', '0')} replica(s)"


def keys_of(keyspace: Mapping[str, str]) -> int:
    """Total keys from ``INFO keyspace`` fields (``db0:keys=3,expires=0,avg_ttl=0``)."""
    total = 0
    for field, value in keyspace.items():
        if field.startswith("db"):
            for part in value.split(","):
                k, _, v = part.partition("=")
                if k == "keys" and v.isdigit():
                    total += int(v)
    return total
