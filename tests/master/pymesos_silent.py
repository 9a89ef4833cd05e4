"""An unmodified pymesos scheduler that takes every offer and never answers it (no
accept, no decline): the scale bench's "framework that never answers offers".

    python pymesos_silent.py MASTER

Reports JSON lines on stdout: ``{"event": "registered", ...}``, ``{"event": "offers",
"ids": [...]}``, ``{"event": "rescinded", "id": ...}`` (pymesos' offerRescinded, from the
v1 API's RESCIND). Runs until stdin closes.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

from pymesos import MesosSchedulerDriver, Scheduler

out_lock = threading.Lock()


def emit(**event: Any) -> None:
    with out_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


class Silent(Scheduler):
    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        emit(event="registered", framework_id=framework_id["value"])

    def resourceOffers(self, driver: Any, offers: list[Any]) -> None:
        emit(event="offers", ids=[o["id"]["value"] for o in offers])

    def offerRescinded(self, driver: Any, offer_id: Any) -> None:
        emit(event="rescinded", id=offer_id["value"])


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    framework = {"name": "silent", "user": "", "hostname": "silent", "failover_timeout": 300.0}
    driver = MesosSchedulerDriver(Silent(), framework, sys.argv[1], use_addict=True)
    driver.start()
    sys.stdin.read()
    driver.stop()
    driver.join()


if __name__ == "__main__":
    main()
