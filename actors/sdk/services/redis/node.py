"""The ``redis`` service's task helpers: readiness and restore (the backup is a sh
command in ``svc.yml``: ``redis-cli --rdb``).

    python -m actors.sdk.services.redis.node ready primary|replica
    python -m actors.sdk.services.redis.node restore    # BACKUP_NAME from the plan's parameters

Run by the SDK with the task's env (``HOST``, ``PORT_<NAME>``, ``SDK_<POD>_<j>_...`` for
every instance, the plan's parameters). They talk RESP to the servers over a socket (the
restore's feed is a replication master of its own, ``feed``); see ``logic`` for what a
backup and a restore are. A restore task starts this module under the tools pod's CPU
quota on every plan run: it imports only what it uses (no argparse, subprocess,
dataclasses or typing: each costs ms of the start).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
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

USAGE = "usage: python -m actors.sdk.services.redis.node ready primary|replica | restore"
SYNC_TIMEOUT_S = 300.0
CONN_TIMEOUT_S = 30.0
"""A reply's deadline: a server loading a snapshot answers between chunks of its load."""
POLL_S = 0.003
"""The restore's polls are one INFO round trip each (a server still loading answers at
its load's next pause): a load or a resync is seen done within 3 ms. At 10 ms, the
detections on the restore's critical path (the primary loaded, each replica following it
again) cost ~5 ms each on average; a poll costs a loaded server ~50 us."""


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

    def mark(what: str) -> None:
        marks.append(f"{what} {time.monotonic() - started:.3f} s")

    feed = SnapshotFeed(rdb, source.host, source.port).start()
    conns: dict[Address, RedisConn] = {}
    try:
        expected = rdb_keys(env, directory, name)
        # One connection per server for the whole restore: commands and polls are one
        # round trip each. Every server full-syncs from the backup at once.
        for a in (primary, *replicas):
            try:
                conns[a] = RedisConn(a.host, a.port, CONN_TIMEOUT_S)
            except OSError as exc:
                raise RedisServiceError(f"connect to {a}: {exc}") from exc
        follow_feed = ("REPLICAOF", source.host, str(source.port))
        try:
            for a in (primary, *replicas):
                conns[a].send(*follow_feed)
            for a in (primary, *replicas):
                conns[a].reply(*follow_feed)
        except OSError as exc:
            raise RedisServiceError(f"{' '.join(follow_feed)}: {exc}") from exc
        expected = follow_through(conns, primary, replicas, source, expected, mark)
    finally:
        feed.stop()
        for c in conns.values():
            c.close()
    if feed.errors:
        print(f"redis restore {name}: feed: {'; '.join(feed.errors)}", file=sys.stderr)
    print(
        f"redis restore {name}: {expected} keys into {primary} and its replicas "
        f"in {time.monotonic() - started:.2f} s ({', '.join(marks)})",
        flush=True,
    )
    return 0


def follow_through(
    conns: Mapping[Address, RedisConn],
    primary: Address,
    replicas: Sequence[Address],
    source: Address,
    expected: int | None,
    mark: Callable[[str], None],
) -> int:
    """Watch every server's load from the feed at once, each from a thread of its own
    (an INFO to a server still loading waits for the load's next pause: one server's
    poll must not hold up noticing another's end): the primary is promoted back
    (``REPLICAOF NO ONE``) the moment its load is done, and each replica follows it
    again (a partial resync) once its own load and the promotion are done. Returns the
    key count once every replica serves it from the primary."""
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    promoted = threading.Event()
    keys: list[int] = [] if expected is None else [expected]
    errors: list[str] = []

    def until(what: str, a: Address, check: Callable[[dict[str, str]], tuple[bool, str]]) -> None:
        why = "not checked yet"
        while time.monotonic() < deadline and not errors:
            reply = conns[a].call("INFO", "replication", "keyspace")
            ok, why = check(parse_info(reply) if isinstance(reply, str) else {})
            if ok:
                return
            time.sleep(POLL_S)
        raise RedisServiceError(f"{what}: not done after {SYNC_TIMEOUT_S:.0f} s ({why})")

    def loaded_from_feed(a: Address) -> None:
        until(f"full sync of {a} from the backup", a, lambda d: replica_synced(d, source))
        mark(f"{'primary' if a == primary else a} loaded")

    def run_primary() -> None:
        loaded_from_feed(primary)
        conns[primary].call("REPLICAOF", "NO", "ONE")
        reply = conns[primary].call("INFO", "keyspace")
        got = keys_of(parse_info(reply) if isinstance(reply, str) else {})
        if keys and got != keys[0]:
            raise RedisServiceError(
                f"primary {primary} has {got} keys after the restore, backup {keys[0]}"
            )
        keys[:] = [got]
        mark("primary promoted")
        promoted.set()

    def run_replica(a: Address) -> None:
        loaded_from_feed(a)
        while not promoted.wait(0.1):
            if errors or time.monotonic() > deadline:
                return
        conns[a].call("REPLICAOF", primary.host, str(primary.port))

        def following(d: dict[str, str]) -> tuple[bool, str]:
            ok, why = replica_synced(d, primary)
            n = keys_of(d)
            return ok and n == keys[0], f"{why}, {n}/{keys[0]} keys"

        until(f"replica {a} following the primary again", a, following)

    def guarded(fn: Callable[[], None]) -> None:
        try:
            fn()
        except (OSError, RedisServiceError) as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=guarded, args=(run_primary,), daemon=True)]
    threads += [
        threading.Thread(target=guarded, args=(lambda r=r: run_replica(r),), daemon=True)
        for r in replicas
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RedisServiceError("; ".join(errors))
    mark("replicas following")
    return keys[0]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args == ["restore"]:
            return restore(os.environ)
        if len(args) == 2 and args[0] == "ready" and args[1] in ("primary", "replica"):
            return ready(args[1], os.environ)
    except (RedisServiceError, OSError) as exc:
        print(f"redis-node {args[0]}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"redis-node: {USAGE} (got {' '.join(args)!r})", file=sys.stderr, flush=True)
    return 2


if __name__ == "__main__":
    code = main()
    # The task's end is the plan step's end: skip the interpreter's teardown (module
    # cleanup, the feed's daemon threads) once the output is out.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
