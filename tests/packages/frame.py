"""A framework package's scheduler (an asset of the e2e test's repository): an unmodified
pymesos scheduler that registers under NAME and declines every offer, until killed.

    python frame.py MASTER NAME

A long failover timeout, so only a teardown (not its scheduler's death) removes it.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from pymesos import MesosSchedulerDriver, Scheduler


class Decliner(Scheduler):
    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        print(f"registered {framework_id['value']}", flush=True)

    def resourceOffers(self, driver: Any, offers: list[Any]) -> None:
        for offer in offers:
            driver.declineOffer(offer["id"], {"refuse_seconds": 5.0})


def main() -> None:
    master, name = sys.argv[1], sys.argv[2]
    framework = {"name": name, "user": "", "hostname": "pkg-test", "failover_timeout": 3600.0}
    driver = MesosSchedulerDriver(Decliner(), framework, master, use_addict=True)
    driver.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    driver.stop(failover=True)  # leaves the framework registered: Mesos keeps it


if __name__ == "__main__":
    main()
