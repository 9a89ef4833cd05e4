"""A pydcos master with Metronome as a leader service, for the end-to-end tests and
``bench/metronome.py`` (until ``pydcos master --services metronome`` exists).

    python tests/metronome/_master_main.py --zk HOST:PORT/CHROOT [--tick 0.2]

Prints ``master <address> http <url>`` (the CLI's banner) once up; stops on SIGTERM
or when stdin closes (if ``--stdin``).

Test hook (this script only; ``pydcos master`` never reads it): with
``PYDCOS_TEST_METRONOME_CLOCK=SCALE[@ANCHOR]`` Metronome runs on an accelerated wall
clock, ``ANCHOR + (time.time() - ANCHOR) * SCALE`` (ANCHOR: epoch seconds, default the
start of this process), so with SCALE 60 a ``* * * * *`` schedule fires about once a
real second. Masters given the same ANCHOR share one accelerated clock, so a failover
neither replays nor skips slots.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actors.master import MasterConfig, MasterOptions, MasterProcess
from actors.metronome import MetronomeConfig, MetronomeService
from console.cli import _banner
from transport import Security

TEST_CLOCK_ENV = "PYDCOS_TEST_METRONOME_CLOCK"
"""``SCALE[@ANCHOR]``: run Metronome on an accelerated clock (end-to-end tests only)."""


def scaled_clock(spec: str) -> Callable[[], float]:
    """The accelerated wall clock ``TEST_CLOCK_ENV`` describes (ValueError if malformed)."""
    scale_text, _, anchor_text = spec.partition("@")
    scale = float(scale_text)
    if not (math.isfinite(scale) and 1.0 <= scale <= 3600.0):
        raise ValueError(f"{TEST_CLOCK_ENV}: scale {scale_text!r} is not within 1..3600")
    anchor = float(anchor_text) if anchor_text else time.time()
    if not math.isfinite(anchor):
        raise ValueError(f"{TEST_CLOCK_ENV}: anchor {anchor_text!r} is not a time")

    def clock() -> float:
        return anchor + (time.time() - anchor) * scale

    return clock


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--zk", required=True)
    ap.add_argument("--tick", type=float, default=0.2)
    ap.add_argument("--ping-interval", type=float, default=0.25)
    ap.add_argument("--max-missed-pings", type=int, default=4)
    ap.add_argument("--agent-reregister-timeout", type=float, default=2.0)
    ap.add_argument("--stdin", action="store_true", help="also stop when stdin closes")
    args = ap.parse_args()
    logging.basicConfig(
        level=os.environ.get("PYDCOS_LOG", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    clock: Callable[[], float] = time.time
    if spec := os.environ.get(TEST_CLOCK_ENV):
        clock = scaled_clock(spec)
        logging.getLogger("actors.metronome").warning(
            "metronome: TEST CLOCK %s=%s (not wall time)", TEST_CLOCK_ENV, spec
        )
    service = MetronomeService(MetronomeConfig(tick_interval=args.tick), clock=clock)
    proc = MasterProcess(
        MasterOptions(
            zk=args.zk,
            security=Security.plain(),
            config=MasterConfig(
                ping_interval=args.ping_interval,
                max_missed_pings=args.max_missed_pings,
                agent_reregister_timeout=args.agent_reregister_timeout,
            ),
            services=(service,),
        )
    ).start()
    # One write (console.cli's _banner): print() writes the text and its newline apart,
    # and unbuffered, a log line from another thread glued itself to the URL.
    _banner(f"master {proc.address} http {proc.gateway.url if proc.gateway else '-'}")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    if args.stdin:

        def watch_stdin() -> None:
            try:
                sys.stdin.read()
            except (OSError, ValueError):
                pass
            done.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    proc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
