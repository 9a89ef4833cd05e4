"""A framework in 60 lines: run N tasks to completion through resource offers, then exit.

    python examples/run_tasks.py zk://127.0.0.1:2181/pydcos --tasks 10 --insecure-dev

It registers with the leading master, launches each task (`echo hello from $TASK`)
from the offers it gets, declines what it does not need, and exits when every task
is FINISHED. Mesos' "test framework", as a pydcos script.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors import protocol as p
from actors.framework import Scheduler, SchedulerDriver
from actors.resources import Resources
from runtime import connect

TASK = Resources.parse("cpus:0.1;mem:32")


class RunN(Scheduler):
    def __init__(self, n: int, command: str) -> None:
        self.n, self.command = n, command
        self.launched = 0
        self.finished: set[str] = set()
        self.failed: list[p.StatusUpdate] = []
        self.done = threading.Event()

    def registered(self, driver: SchedulerDriver, framework_id: str, master_id: str) -> None:
        print(f"registered as framework {framework_id} with master {master_id}")

    def resource_offers(self, driver: SchedulerDriver, offers: list[p.Offer]) -> None:
        for offer in offers:
            free, tasks = Resources.from_dict(offer.resources), []
            while self.launched < self.n and free.contains(TASK):
                task_id = f"task-{self.launched}"
                tasks.append(
                    p.TaskInfo(
                        task_id,
                        task_id,
                        offer.agent_id,
                        TASK.to_dict(),
                        p.CommandSpec(self.command, env={"TASK": task_id}),
                    )
                )
                free, self.launched = free - TASK, self.launched + 1
            if tasks:
                print(f"launching {len(tasks)} task(s) on {offer.hostname}")
                driver.launch([offer.offer_id], tasks)
            else:
                driver.decline([offer.offer_id], refuse_seconds=30, reason="all tasks launched")

    def status_update(self, driver: SchedulerDriver, update: p.StatusUpdate) -> None:
        print(f"{update.task_id}: {update.state} {update.message}".rstrip())
        if update.state == "TASK_FINISHED":
            self.finished.add(update.task_id)
        elif update.state in ("TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED"):
            self.failed.append(update)
        if len(self.finished) + len(self.failed) >= self.n:
            self.done.set()

    def error(self, driver: SchedulerDriver, message: str) -> None:
        print(f"error from the master: {message}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zk", nargs="?", help="zk://host:port/pydcos (default: $PYDCOS_ZK)")
    ap.add_argument("--tasks", type=int, default=5)
    ap.add_argument("--command", default='echo "hello from $TASK"')
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--keys", default=None)
    ap.add_argument("--insecure-dev", action="store_true")
    args = ap.parse_args()
    if args.tasks < 1:
        ap.error(f"--tasks: {args.tasks} is not a positive number")
    with connect(args.zk, keys=args.keys, insecure_dev=args.insecure_dev) as cluster:
        sched = RunN(args.tasks, args.command)
        driver = SchedulerDriver(sched, p.FrameworkInfo("run-tasks"), cluster.node)
        cluster.on_leader_change(lambda a: driver.master_changed(a and f"{a}/master"))
        driver.start()
        ok = sched.done.wait(args.timeout)
        driver.stop()
    if not ok:
        print(f"timed out: {len(sched.finished)}/{args.tasks} finished", file=sys.stderr)
        return 1
    print(f"done: {len(sched.finished)} finished, {len(sched.failed)} failed")
    return 0 if not sched.failed else 1


if __name__ == "__main__":
    sys.exit(main())
