"""The ``redis`` service's task helpers: readiness, backup, restore.

    python -m actors.sdk.services.redis.node ready primary|replica
    python -m actors.sdk.services.redis.node backup     # BACKUP_NAME from the plan's parameters
    python -m actors.sdk.services.redis.node restore    # BACKUP_NAME from the plan's parameters

Run by the SDK with the task's env (``HOST``, ``PORT_<NAME>``, ``SDK_<POD>_<j>_...`` for
every instance, the plan's parameters). They talk to the servers with ``redis-cli``, the
real client (Debian ``redis-tools``); see ``logic`` for what a backup and a restore are.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from actors.sdk.services.redis.feed import RedisConn, SnapshotFeed
from actors.sdk.services.redis.logic import (
    Address,
    RedisServiceError,
    backup_dir,
    backup_name,
    keys_of,
    parse_info,
    primary_ready,
    replica_synced,
    sdk_address,
    sdk_count,
)

SYNC_TIMEOUT_S = 300.0
POLL_S = 0.01
"""The restore's polls are one INFO round trip each: a sync is seen done within 10 ms."""


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RedisServiceError(
            f"{name} not found on PATH ({os.environ.get('PATH', '')!r}); the redis service's "
            "tasks run the host's binaries: apt-get install redis-server redis-tools"
        )
    return found


def cli(addr: Address, *args: str, timeout: float = 10.0) -> str:
    """One ``redis-cli`` command's reply text (raises with redis-cli's words on failure)."""
    proc = subprocess.run(
        [binary("redis-cli"), "-h", addr.host, "-p", str(addr.port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = proc.stdout.strip()
    if proc.returncode != 0 or out.startswith(("ERR", "Could not connect")):
        raise RedisServiceError(
            f"redis-cli {' '.join(args)} on {addr}: {(out or proc.stderr).strip()}"
        )
    return out


def command(addr: Address, *words: str, timeout: float = 10.0) -> object:
    """One command's reply over a connection of its own (raises naming the command)."""
    try:
        conn = RedisConn(addr.host, addr.port, timeout)
    except OSError as exc:
        raise RedisServiceError(f"{' '.join(words)} on {addr}: {exc}") from exc
    try:
        return conn.call(*words)
    except OSError as exc:
        raise RedisServiceError(f"{' '.join(words)} on {addr}: {exc}") from exc
    finally:
        conn.close()


def info(addr: Address, section: str = "") -> dict[str, str]:
    """``INFO [section]`` as fields ({} when the server does not answer)."""
    try:
        reply = command(addr, "INFO", *([section] if section else []), timeout=5.0)
    except RedisServiceError:
        return {}
    return parse_info(reply) if isinstance(reply, str) else {}


def wait(what: str, check: object, timeout: float = SYNC_TIMEOUT_S) -> str:
    """Poll ``check() -> (ok, why)`` until ok; raise with the last reason at the deadline."""
    deadline = time.monotonic() + timeout
    why = "not checked yet"
    while time.monotonic() < deadline:
        ok, why = check()  # type: ignore[operator]
        if ok:
            return str(why)
        time.sleep(POLL_S)
    raise RedisServiceError(f"{what}: not done after {timeout:.0f} s ({why})")


def own_address(env: Mapping[str, str], port_name: str) -> Address:
    raw = env.get(f"PORT_{port_name.upper()}", "")
    if not raw.isdigit():
        raise RedisServiceError(f"PORT_{port_name.upper()} must be a port, got {raw!r}")
    return Address(env.get("HOST") or "127.0.0.1", int(raw))


def ready(role: str, env: Mapping[str, str]) -> int:
    me = own_address(env, "redis")
    data = info(me)
    if role == "primary":
        ok, why = primary_ready(data)
    else:
        ok, why = replica_synced(data, sdk_address(env, "primary", 0, "redis"))
    print(f"redis {role} {me}: {why}")
    return 0 if ok else 1


def backup(env: Mapping[str, str]) -> int:
    name = backup_name(env)
    directory = Path(backup_dir(env))
    directory.mkdir(parents=True, exist_ok=True)
    primary = sdk_address(env, "primary", 0, "redis")
    keys = keys_of(info(primary, "keyspace"))
    partial = directory / f"{name}.rdb.partial"
    started = time.monotonic()
    cli(primary, "--rdb", str(partial), timeout=SYNC_TIMEOUT_S)
    final = directory / f"{name}.rdb"
    partial.replace(final)
    meta = {
        "name": name,
        "keys": keys,
        "bytes": final.stat().st_size,
        "primary": str(primary),
        "service": env.get("FRAMEWORK_NAME", ""),
        "taken_at": time.time(),  # a process entry point: wall clock for the record
    }
    (directory / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(
        f"redis backup {name}: {keys} keys, {meta['bytes']} bytes from {primary} to {final} "
        f"in {time.monotonic() - started:.2f} s",
        flush=True,
    )
    return 0


def rdb_keys(env: Mapping[str, str], directory: Path, name: str) -> int | None:
    """The key count the backup's record states (None without a readable record)."""
    try:
        return int(json.loads((directory / f"{name}.json").read_text())["keys"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def restore(env: Mapping[str, str]) -> int:
    name = backup_name(env)
    directory = Path(backup_dir(env))
    rdb = directory / f"{name}.rdb"
    if not rdb.is_file():
        have = sorted(p.stem for p in directory.glob("*.rdb")) if directory.is_dir() else []
        raise RedisServiceError(
            f"no backup {name!r} in {directory} (backups there: {', '.join(have) or 'none'})"
        )
    primary = sdk_address(env, "primary", 0, "redis")
    replicas = [sdk_address(env, "replica", j, "redis") for j in range(sdk_count(env, "replica"))]
    source = own_address(env, "restore")
    started = time.monotonic()
    marks: list[str] = []
    feed = SnapshotFeed(rdb, source.host, source.port).start()
    try:
        expected = rdb_keys(env, directory, name)
        # Every server full-syncs from the backup at once; then the primary is promoted
        # back and its replicas follow it again with a partial resync (the primary keeps
        # the feed's replication id as its secondary id).
        for server_address in (primary, *replicas):
            command(server_address, "REPLICAOF", source.host, str(source.port))

        def from_backup(a: Address) -> None:
            wait(
                f"full sync of {a} from the backup",
                lambda: replica_synced(info(a, "replication"), source),
            )

        from_backup(primary)
        marks.append(f"primary loaded {time.monotonic() - started:.2f} s")
        command(primary, "REPLICAOF", "NO", "ONE")
        got = keys_of(info(primary, "keyspace"))
        if expected is None:
            expected = got
        elif got != expected:
            raise RedisServiceError(
                f"primary {primary} has {got} keys after the restore, backup {expected}"
            )
        # Each replica follows the primary again as soon as its own load is done.
        for replica in replicas:
            from_backup(replica)
            marks.append(f"{replica} loaded {time.monotonic() - started:.2f} s")
            command(replica, "REPLICAOF", primary.host, str(primary.port))
        for replica in replicas:

            def synced(replica: Address = replica) -> tuple[bool, str]:
                ok, why = replica_synced(info(replica), primary)
                n = keys_of(info(replica, "keyspace"))
                return (ok and n == expected), f"{why}, {n}/{expected} keys"

            wait(f"replica {replica} following the primary again", synced)
    finally:
        feed.stop()
    if feed.errors:
        print(f"redis restore {name}: feed: {'; '.join(feed.errors)}", file=sys.stderr)
    print(
        f"redis restore {name}: {expected} keys into {primary} and its replicas "
        f"in {time.monotonic() - started:.2f} s ({', '.join(marks)})",
        flush=True,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="redis-node", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("ready", help="exit 0 once this server is ready")
    r.add_argument("role", choices=("primary", "replica"))
    sub.add_parser("backup", help="snapshot the primary to BACKUP_DIR/BACKUP_NAME.rdb")
    sub.add_parser("restore", help="load BACKUP_DIR/BACKUP_NAME.rdb into the primary")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "ready":
            return ready(args.role, os.environ)
        if args.cmd == "backup":
            return backup(os.environ)
        return restore(os.environ)
    except (RedisServiceError, subprocess.TimeoutExpired) as exc:
        print(f"redis-node {args.cmd}: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
