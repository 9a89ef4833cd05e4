"""Cost of one task event on the DNS table at datacenter size (pure: no processes).

The DnsActor's path for each master event: ``apply_event`` on its ClusterView, then a new
record table (and the VIP names). ``--mode full``: ``build_table`` + ``vip_records`` over
the whole view, as before issue 29's incremental table (and as ``build_table`` still does
for a reference); ``--mode incremental``: ``TableIndex`` + ``VipNames`` (what the actor
serves now). The cluster: ``--tasks`` tasks as apps of up to 1,000 instances (as
``bench/scale.py``) on ``tasks/10`` agents, 1 app in 20 with a named VIP. Each measured
event is one launch step (TASK_ADDED staging, TASK_UPDATED running) or a kill, followed
by a table; the figure is CPU milliseconds (this thread's) per event+table, median and
p99, so other processes on the machine do not inflate it.

    .venv/bin/python bench/dns_table.py --tasks 10000,100000 --mode incremental
    cp bench/dns_table.py /tmp/old/bench/  # a tree before the index: git archive
    .venv/bin/python /tmp/old/bench/dns_table.py --mode full

Last line: ``{"bench": "dns_table", "mode": ..., "results": [{"tasks", "events",
"p50_ms", "p99_ms", "setup_s", "resubscribe_s"}]}``: ``setup_s`` the first state's
table, ``resubscribe_s`` a new leader's full state (after the events) and its table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/actors.py is not it

from actors.dns import ClusterView, DnsConfig, apply_event, build_table, set_leader

CONFIG = DnsConfig(ttl=5, ns_ip="127.0.0.1")
SALT = "127.0.0.1:2181"
APP_SIZE = 1000


def v1_task(task_id: str, app: int, agent: int, state: str) -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": f"app-{app}.scale",
        "task_id": {"value": task_id},
        "framework_id": {"value": "fw-marathon"},
        "agent_id": {"value": f"ag-S{agent}"},
        "state": state,
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.01}}],
        "statuses": [],
        "labels": {"labels": [{"key": "MARATHON_APP_ID", "value": f"/scale/app-{app}"}]},
        "discovery": {"visibility": "FRAMEWORK", "name": f"app-{app}-scale", "ports": {}},
    }
    if app % 20 == 0:  # a named VIP on a container port
        task["discovery"]["ports"] = {
            "ports": [
                {
                    "number": 0,
                    "protocol": "tcp",
                    "labels": {"labels": [{"key": "VIP_0", "value": f"/app-{app}:80"}]},
                }
            ]
        }
    return task


def agent(i: int) -> dict[str, Any]:
    ip = f"127.{1 + i // 65536}.{(i // 256) % 256}.{i % 256}"
    return {
        "agent_info": {"id": {"value": f"ag-S{i}"}, "hostname": ip, "port": 5051},
        "pid": f"slave(1)@{ip}:5051",
    }


def state(tasks: int) -> dict[str, Any]:
    agents = max(1, tasks // 10)
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "get_state": {
                "get_agents": {"agents": [agent(i) for i in range(agents)]},
                "get_frameworks": {
                    "frameworks": [
                        {"framework_info": {"id": {"value": "fw-marathon"}, "name": "marathon"}}
                    ]
                },
                "get_tasks": {
                    "tasks": [
                        v1_task(f"t{i}", i // APP_SIZE, i % agents, "TASK_RUNNING")
                        for i in range(tasks)
                    ]
                },
            }
        },
    }


def events(tasks: int, count: int) -> list[dict[str, Any]]:
    """Launch steps for new tasks of the existing apps, and kills of old ones."""
    agents = max(1, tasks // 10)
    out: list[dict[str, Any]] = []
    for n in range(count):
        i = tasks + n
        if n % 3 == 0:
            task = v1_task(f"t{i}", n % (tasks // APP_SIZE + 1), i % agents, "TASK_STAGING")
            out.append({"type": "TASK_ADDED", "task_added": {"task": task}})
        else:
            task_id, st = (f"t{i - 1}", "TASK_RUNNING") if n % 3 == 1 else (f"t{n}", "TASK_KILLED")
            out.append(
                {
                    "type": "TASK_UPDATED",
                    "task_updated": {
                        "framework_id": {"value": "fw-marathon"},
                        "status": {"task_id": {"value": task_id}, "state": st},
                        "state": st,
                    },
                }
            )
    return out


class Full:
    """The table as before: ``build_table`` + the VIP names over every task (what
    ``vip_records`` does, written with public names that older trees have too)."""

    def __init__(self) -> None:
        self.view = ClusterView()
        set_leader(self.view, "tcp://127.0.0.1:5050/master", "127.0.0.1")

    def event(self, ev: dict[str, Any], serial: int, master: str = "m1") -> Any:
        from actors.l4lb import vip_dns_records

        self.view = apply_event(self.view, ev, master)
        tasks = [{**t.raw, "state": t.state} for t in self.view.tasks.values()]
        names = vip_dns_records(tasks, dict(self.view.frameworks), salt=SALT)
        extra = {name: [ip] for name, ip in names.items()}
        return build_table(self.view, CONFIG, serial, extra)


class Incremental:
    """What the DnsActor serves: ``LiveTable`` (a table after every event here)."""

    def __init__(self) -> None:
        import functools

        from actors.dns import LiveTable, vip_records

        self.live = LiveTable(CONFIG, functools.partial(vip_records, salt=SALT), 0.0)
        set_leader(self.live.view, "tcp://127.0.0.1:5050/master", "127.0.0.1")

    def event(self, ev: dict[str, Any], serial: int, master: str = "m1") -> Any:
        self.live.apply(ev, master, 0.0)
        return self.live.table(serial)


def storm_task(i: int, agents: int, leader: str) -> dict[str, Any]:
    """Task ``t<i>`` as a master's v1 Task: ``old`` with the executor's last status (what
    the old leader streamed), ``new`` as a new leader adopting it from its agent's
    re-registration (a status made by the master: same state, no uuid)."""
    task = v1_task(f"t{i}", i // APP_SIZE, i % agents, "TASK_RUNNING")
    task["resources"][0]["allocation_info"] = {"role": "*"}
    task["kill_policy"] = {"grace_period": {"nanoseconds": 3_000_000_000}}
    ip = agent(i % agents)["agent_info"]["hostname"]
    status: dict[str, Any] = {
        "task_id": {"value": f"t{i}"},
        "state": "TASK_RUNNING",
        "source": "SOURCE_EXECUTOR" if leader == "old" else "SOURCE_MASTER",
        "agent_id": {"value": f"ag-S{i % agents}"},
        "timestamp": 1_765_000_000.0 + i / 1000,
        "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": ip}]}]},
    }
    if leader == "old":
        status["uuid"] = "AAAAAAAAAAAAAAAAAAAAAA=="
    task["statuses"] = [status]
    return task


def storm_events(tasks: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The old leader's whole state, then what a new leader streams to its own DNS and
    l4lb: SUBSCRIBED with no agent or task re-registered yet, then per agent (one
    ``flush`` of its re-registration) AGENT_ADDED and a TASK_ADDED per task on it."""
    agents = max(1, tasks // 10)
    old = state(tasks)
    old["subscribed"]["get_state"]["get_tasks"]["tasks"] = [
        storm_task(i, agents, "old") for i in range(tasks)
    ]
    new = state(0)
    new["subscribed"]["get_state"]["get_agents"]["agents"] = []
    out = [new]
    for a in range(agents):
        out.append({"type": "AGENT_ADDED", "agent_added": {"agent": agent(a)}})
        out += [
            {"type": "TASK_ADDED", "task_added": {"task": storm_task(i, agents, "new")}}
            for i in range(a, tasks, agents)
        ]
    return old, out


def run_storm(tasks: int, table_every: int) -> dict[str, Any]:
    """CPU per storm event in the DNS (``LiveTable``) and the l4lb (``VipTable``), and
    their tables: one per ``table_every`` events that asked for one (the actors pace
    their rebuilds), and their periodic carried-task checks (a storm of ~11,000 events
    a second: the l4lb's every 2,200 events, 200 ms; the DNS's every 5,500, 500 ms)."""
    from actors.l4lb import VipTable

    old, storm = storm_events(tasks)
    dns, l4lb = Incremental(), VipTable(salt=SALT)
    dns.live.carry_for = 15.0
    dns.live.apply(old, "m1", 0.0)
    dns.live.table(1)
    l4lb.apply(old)
    l4lb.vips()
    out: dict[str, Any] = {"tasks": tasks, "events": len(storm)}
    for name, apply, table, check, every in (
        (
            "dns",
            lambda ev: dns.live.apply(ev, "m2", 1.0),
            lambda n: dns.live.table(n),
            lambda: dns.live.carried_due(1.0),
            5500,
        ),
        (
            "l4lb",
            lambda ev: l4lb.apply(ev, carry_until=16.0),
            lambda n: l4lb.vips(),
            lambda: l4lb.expire(1.0),
            2200,
        ),
    ):
        tabled = 0.0
        asked = tables = 0
        started = time.thread_time()  # the whole loop: a clock read per event costs ~1 us
        for n, ev in enumerate(storm):
            changed = apply(ev)
            if n % every == 0:
                check()
            asked += changed is not False
            if changed is not False and asked % table_every == 1:
                t0 = time.thread_time()
                table(tables + 2)
                tabled += time.thread_time() - t0
                tables += 1
        applied = time.thread_time() - started - tabled
        out[f"{name}_us_per_event"] = round(applied / len(storm) * 1e6, 2)
        out[f"{name}_apply_s"] = round(applied, 3)
        out[f"{name}_tables"] = tables
        out[f"{name}_tables_s"] = round(tabled, 3)
    return out


def run(mode: str, tasks: int, count: int) -> dict[str, Any]:
    table = Full() if mode == "full" else Incremental()
    first = state(tasks)
    t0 = time.thread_time()
    table.event(first, 1)
    setup = time.thread_time() - t0
    costs = []
    for serial, ev in enumerate(events(tasks, count), start=2):
        t0 = time.thread_time()
        table.event(ev, serial)
        costs.append((time.thread_time() - t0) * 1000)
    costs.sort()
    again = state(tasks)  # a failover: the new leader's full state, nearly the same
    t0 = time.thread_time()
    table.event(again, count + 2, "m2")
    resync = time.thread_time() - t0
    return {
        "tasks": tasks,
        "events": count,
        "p50_ms": round(statistics.median(costs), 3),
        "p99_ms": round(costs[min(len(costs) - 1, int(len(costs) * 0.99))], 3),
        "setup_s": round(setup, 2),
        "resubscribe_s": round(resync, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="10000,100000", help="comma-separated task counts")
    p.add_argument("--mode", choices=("full", "incremental", "storm"), default="incremental")
    p.add_argument("--table-every", type=int, default=2000, help="storm: events per table")
    p.add_argument("--events", type=int, default=0, help="events per size (0: by mode)")
    args = p.parse_args(argv)
    try:
        sizes = [int(x) for x in args.tasks.split(",")]
    except ValueError:
        print(f"--tasks: {args.tasks!r} is not a comma-separated list of integers")
        return 2
    if any(n < 1000 for n in sizes) or args.events < 0:
        print(f"--tasks: {args.tasks!r}: each size must be >= 1000; --events must be >= 0")
        return 2
    results = []
    for n in sizes:
        if args.mode == "storm":
            results.append(run_storm(n, max(1, args.table_every)))
            print(f"storm {n:>7d} tasks: {results[-1]}", file=sys.stderr)
            continue
        count = args.events or (3000 if args.mode == "incremental" else max(6, 300_000 // n))
        results.append(run(args.mode, n, count))
        print(f"{args.mode:12s} {n:>7d} tasks: {results[-1]}", file=sys.stderr)
    print(json.dumps({"bench": "dns_table", "mode": args.mode, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
