"""An unmodified pymesos scheduler, driven by JSON lines on stdin, reporting on stdout.

    python pymesos_app.py MASTER NAME [FRAMEWORK_ID]

MASTER is what pymesos takes: ``host:port`` or ``zk://host:port/chroot/mesos``.
Commands (one JSON object a line): ``{"launch": [{"id": "t1", "cmd": "echo hi"}]}``
(launched from the next offers, 0.1 cpus and 32 MB each), ``{"kill": "t1"}``,
``{"reconcile": ["t1"]}`` (``[]``: implicit), ``{"stop": true}`` (failover: tasks live on).
Events (one JSON object a line): registered, reregistered, update, error, disconnected.
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


class App(Scheduler):
    def __init__(self) -> None:
        self.pending: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        emit(event="registered", framework_id=framework_id["value"])

    def reregistered(self, driver: Any, master_info: Any) -> None:
        emit(event="reregistered", framework_id=driver.framework_id, master=driver.master)

    def disconnected(self, driver: Any) -> None:
        emit(event="disconnected")

    def error(self, driver: Any, message: str) -> None:
        emit(event="error", message=message)

    def resourceOffers(self, driver: Any, offers: list[Any]) -> None:
        for offer in offers:
            cpus = sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus")
            mem = sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "mem")
            tasks = []
            with self.lock:
                while self.pending and cpus >= 0.1 and mem >= 32:
                    t = self.pending.pop(0)
                    cpus, mem = cpus - 0.1, mem - 32
                    task = {
                        "task_id": {"value": t["id"]},
                        "agent_id": offer["agent_id"],
                        "name": t["id"],
                        "command": {"value": t["cmd"]},
                        "resources": [
                            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                        ],
                    }
                    if "limits" in t:  # TaskInfo.limits, as the caller wrote them
                        task["limits"] = t["limits"]
                    tasks.append(task)
            if tasks:
                driver.launchTasks(offer["id"], tasks)
                emit(event="launched", tasks=[t["task_id"]["value"] for t in tasks])
            else:
                driver.declineOffer(offer["id"], {"refuse_seconds": 0.5})

    def statusUpdate(self, driver: Any, update: Any) -> None:
        emit(
            event="update",
            task_id=update["task_id"]["value"],
            state=update["state"],
            source=update.get("source"),
            reason=update.get("reason"),
            has_uuid="uuid" in update,
        )


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    master, name = sys.argv[1], sys.argv[2]
    framework: dict[str, Any] = {
        "name": name,
        "user": "",
        "hostname": "pymesos-test",
        "failover_timeout": 300.0,
    }
    if len(sys.argv) > 3:
        framework["id"] = {"value": sys.argv[3]}
    app = App()
    driver = MesosSchedulerDriver(app, framework, master, use_addict=True)
    driver.start()
    for line in sys.stdin:
        cmd = json.loads(line)
        if "launch" in cmd:
            with app.lock:
                app.pending.extend(cmd["launch"])
            driver.reviveOffers()
        elif "kill" in cmd:
            driver.killTask({"value": cmd["kill"]})
        elif "reconcile" in cmd:
            driver.reconcileTasks([{"task_id": {"value": t}} for t in cmd["reconcile"]])
        elif "stop" in cmd:
            break
    driver.stop(failover=True)
    driver.join()


if __name__ == "__main__":
    main()
