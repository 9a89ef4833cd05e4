"""A pydcos master with Marathon, as its own OS process (end-to-end tests).

    python tests/marathon/_master_main.py --zk HOST:PORT/chroot --hostname master-1

Prints ``master <transport address> http <gateway url>`` once up; stops on SIGTERM.
Plain transport security (``--insecure-dev`` style): loopback tests only.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    from actors.marathon import MarathonConfig, MarathonService
    from actors.master import MasterConfig, MasterOptions, MasterProcess
    from console.cli import _banner
    from transport import Security

    ap = argparse.ArgumentParser()
    ap.add_argument("--zk", required=True)
    ap.add_argument("--hostname", default="master")
    ap.add_argument(
        "--reregister-timeout",
        type=float,
        default=5.0,
        help="agent_reregister_timeout: how long agents of the registry have to come back",
    )
    args = ap.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    proc = MasterProcess(
        MasterOptions(
            zk=args.zk,
            security=Security.plain(),
            hostname=args.hostname,
            session_timeout=2.0,
            min_leader_tenure=0.0,
            config=MasterConfig(
                ping_interval=0.25,
                max_missed_pings=4,
                agent_reregister_timeout=args.reregister_timeout,
            ),
            services=(MarathonService(MarathonConfig(tick_interval=0.1)),),
        )
    ).start()
    # One write (console.cli's _banner): print() writes the text and its newline apart,
    # and unbuffered, a log line from another thread glued itself to the URL.
    _banner(f"master {proc.address} http {proc.gateway.url if proc.gateway else '-'}")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    proc.stop()


if __name__ == "__main__":
    main()
