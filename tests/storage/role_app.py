"""An UNMODIFIED pymesos scheduler in one role, reporting its offers on stdout.

    python role_app.py MASTER NAME ROLE PRINCIPAL

Each offer becomes ``{"event": "offer", "cpus": n, "reserved": [...], "volumes": [...]}``
(``reserved``: the offer's resources with a ``reservations`` list, as Mesos' JSON) and is
declined for 0.3 s, except that a ``{"reserve": [Resource]}`` line on stdin makes the next
offer be accepted with a RESERVE operation of those resources (then ``{"event":
"accepted"}``). Errors: ``{"event": "error", "message": ...}``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

from pymesos import MesosSchedulerDriver, Scheduler

lock = threading.Lock()
pending: list[list[dict[str, Any]]] = []


def emit(**event: Any) -> None:
    with lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


class App(Scheduler):
    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        emit(event="registered", framework_id=framework_id["value"])

    def reregistered(self, driver: Any, master_info: Any) -> None:
        emit(event="reregistered")

    def error(self, driver: Any, message: str) -> None:
        emit(event="error", message=message)

    def resourceOffers(self, driver: Any, offers: list[Any]) -> None:
        for offer in offers:
            res = offer["resources"]
            cpus = sum(r["scalar"]["value"] for r in res if r["name"] == "cpus")
            reserved = [r for r in res if r.get("reservations")]
            volumes = [r for r in res if r.get("disk", {}).get("persistence")]
            emit(event="offer", cpus=cpus, reserved=reserved, volumes=volumes)
            with lock:
                todo = pending.pop(0) if pending else None
            if todo is not None:
                op = {"type": "RESERVE", "reserve": {"resources": todo}}
                driver.acceptOffers([offer["id"]], [op], {"refuse_seconds": 0.3})
                emit(event="accepted")
            else:
                driver.declineOffer(offer["id"], {"refuse_seconds": 0.3})


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    master, name, role, principal = sys.argv[1:5]
    framework = {
        "user": "",
        "name": name,
        "roles": [role],
        "principal": principal,
        "capabilities": [{"type": "MULTI_ROLE"}],
        "failover_timeout": 0.0,
        "hostname": "e2e",
    }
    driver = MesosSchedulerDriver(App(), framework, master, use_addict=False)
    driver.start()
    for line in sys.stdin:
        cmd = json.loads(line)
        if "reserve" in cmd:
            with lock:
                pending.append(cmd["reserve"])
        if cmd.get("stop"):
            break
    driver.stop()


if __name__ == "__main__":
    main()
