"""A contender as its own OS process, for fault tests and the failover benchmark.

    python -m zk._contender HOSTS CHROOT NAME [--session-timeout S] [--path P] [--kazoo]

Prints one line per event on stdout (``ready <session-hex>``, ``elected <term> <t>``,
``revoked <reason> <t>``, ``checked <0|1>``; ``t`` is ``time.monotonic()``, system-wide
on Linux so comparable between processes). Reads commands on stdin: ``abdicate``,
``check`` (re-read the line now and act on it, then say ``checked`` and whether it
leads), ``quit``.
``--kazoo`` runs bare kazoo's ``Election`` recipe instead (the benchmark's baseline).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from zk._client import connect
from zk._election import Election, LeaderInfo


def _say(*parts: object) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("hosts")
    ap.add_argument("chroot")
    ap.add_argument("name")
    ap.add_argument("--session-timeout", type=float, default=2.0)
    ap.add_argument("--path", default="/election")
    ap.add_argument("--kazoo", action="store_true")
    args = ap.parse_args(argv)
    client = connect(args.hosts, chroot=args.chroot, session_timeout=args.session_timeout)
    info = LeaderInfo(address=f"tcp://{args.name}", http_url=f"http://{args.name}")
    _say("ready", f"{client.client_id[0]:x}")
    if args.kazoo:
        election = client.Election(args.path, identifier=info.encode().decode())

        def lead() -> None:
            _say("elected", 1, time.monotonic())
            threading.Event().wait()  # lead until killed

        threading.Thread(target=election.run, args=(lead,), daemon=True).start()
        for line in sys.stdin:
            if line.strip() == "quit":
                break
        return 0
    e = Election(
        client,
        info,
        path=args.path,
        on_elected=lambda term: _say("elected", term, time.monotonic()),
        on_revoked=lambda reason: _say("revoked", reason.replace(" ", "_"), time.monotonic()),
    )
    e.start()
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "abdicate":
            e.abdicate()
        elif cmd == "check":
            _say("checked", int(e.recheck()))
        elif cmd == "quit":
            break
    e.stop()
    client.stop()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
