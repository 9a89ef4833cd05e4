"""Mesos v1 scheduler API throughput: HTTP framework vs pydcos' actor driver.

    .venv/bin/python bench/mesos_api.py [--agents 150] [--tasks 5000]

Three OS processes on loopback, with the real ZooKeeper electing the master: the
leading master (with the ``mesos_api`` leader service); a host of N simulated agents
(cpus:8, mem:16384 each; tasks "run" with no process, as in bench/scheduling.py); and
this script as the framework. The same workload runs twice, one framework after the
other on the same cluster: first through ``/api/v1/scheduler`` (the SUBSCRIBE stream
read with aiohttp; ACCEPT with LAUNCH for every offer and ACKNOWLEDGE for every update,
as a Mesos client does, pipelined on one keep-alive connection as Mesos' scheduler
library sends them), then through ``actors.framework.SchedulerDriver`` (the baseline).
Each clock runs from the subscription until every task is RUNNING at the framework.

Offer latency: from the moment the allocation cycle's ``Offers`` reached the
subscription's bridge actor in the master (stamped with the master's monotonic clock)
to the moment this client has parsed the OFFERS event (this process' monotonic clock:
the same CLOCK_MONOTONIC on one machine).

Targets (issue 22): HTTP >= 0.5x the actor driver and >= 1,000 tasks/s; offer event to
the framework p50 <= 5 ms after the allocation cycle. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scheduling import (  # noqa: E402 - bench/ on the path first
    _serve_until_stdin_closes,
    launch_all,
    role_agents,
    spawn_role,
    stop_processes,
)

AGENT_RES = "cpus:8;mem:16384"
TASK_CPUS, TASK_MEM = 0.1, 32.0
LATENCY_ROUNDS = 20
"""After the launch: cycles whose offers the HTTP framework declines at once, for the
offer-latency figures on a quiet cluster."""


def role_master(zk_hosts: str) -> None:
    from actors.master import MasterConfig, MasterOptions, MasterProcess
    from actors.mesos_api import MesosApiService
    from transport import Security

    service = MesosApiService()
    proc = MasterProcess(
        MasterOptions(
            zk=zk_hosts,
            security=Security.plain(),
            config=MasterConfig(ping_interval=5.0, max_missed_pings=5),
            services=(service,),
        )
    ).start()
    print(f"MASTER {proc.address} {proc.gateway.url if proc.gateway else ''}", flush=True)
    _serve_until_stdin_closes()
    # Hand the bench the bridges' offer timestamps before leaving.
    times = list(service.api.offer_times) if service.api is not None else []
    print(json.dumps({"offer_times": times}), flush=True)
    proc.stop()


class CallPipeline:
    """Calls on one keep-alive connection, pipelined (HTTP/1.1): requests go out back to
    back, answers are read in order, each must be 202. Mesos' own scheduler library
    sends its calls this way; it keeps the client's cost per call (every update is
    acknowledged) small next to the master's."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        from urllib.parse import urlsplit

        u = urlsplit(url)
        self.host, self.port, self.path = u.hostname or "", u.port or 80, u.path
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.head = f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\n{extra}"
        self.sent: list[str] = []
        self.answered = 0
        self.error: str | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.reading = asyncio.ensure_future(self._read())

    def send(self, *bodies: dict[str, Any]) -> None:
        for body in bodies:
            data = json.dumps(body).encode()
            self.writer.write(f"{self.head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
            self.sent.append(body["type"])

    async def _read(self) -> None:
        while True:
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await self.reader.readexactly(length) if length else b""
            kind = self.sent[self.answered]
            self.answered += 1
            if status != 202 and self.error is None:
                self.error = f"{kind}: {status} {body[:300]!r}"

    async def close(self) -> None:
        await self.writer.drain()
        while self.answered < len(self.sent) and not self.reading.done():
            await asyncio.sleep(0.01)
        self.reading.cancel()
        self.writer.close()
        if self.error is not None:
            raise RuntimeError(self.error)


async def http_framework(url: str, tasks: int) -> dict[str, Any]:
    """A Mesos v1 HTTP framework: launch ``tasks`` tasks from offers, ack every update."""
    import aiohttp

    from actors.mesos_api import Decoder

    launched = running = rounds = 0
    elapsed = 0.0
    offer_seen: dict[str, float] = {}
    started = time.perf_counter()
    done = asyncio.Event()
    headers = {"Content-Type": "application/json"}
    sub = {
        "type": "SUBSCRIBE",
        "subscribe": {"framework_info": {"name": "bench-http", "user": "root"}},
    }
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as session:
        resp = await session.post(url, data=json.dumps(sub), headers=headers)
        if resp.status != 200:
            raise RuntimeError(f"SUBSCRIBE: {resp.status} {await resp.text()}")
        call_headers = {**headers, "Mesos-Stream-Id": resp.headers["Mesos-Stream-Id"]}
        fid = ""

        calls = CallPipeline(url, call_headers)
        await calls.open()
        send = send_in_order = calls.send

        decoder = Decoder()
        async for chunk in resp.content.iter_any():
            now = time.monotonic()
            for record in decoder.feed(chunk):
                event = json.loads(record)
                kind = event["type"]
                if kind == "SUBSCRIBED":
                    fid = event["subscribed"]["framework_id"]["value"]
                elif kind == "OFFERS" and done.is_set():
                    # Latency rounds: decline everything, then revive for the next cycle.
                    ids = [o["id"] for o in event["offers"]["offers"]]
                    offer_seen.update((i["value"], now) for i in ids)
                    rounds += 1
                    decline = {"offer_ids": ids, "filters": {"refuse_seconds": 60}}
                    fw = {"value": fid}
                    send_in_order(
                        {"type": "DECLINE", "framework_id": fw, "decline": decline},
                        *(
                            [{"type": "REVIVE", "framework_id": fw}]
                            if rounds < LATENCY_ROUNDS
                            else []
                        ),
                    )
                elif kind == "OFFERS":
                    for offer in event["offers"]["offers"]:
                        offer_seen[offer["id"]["value"]] = now
                        cpus = sum(
                            r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus"
                        )
                        mem = sum(
                            r["scalar"]["value"] for r in offer["resources"] if r["name"] == "mem"
                        )
                        batch = []
                        while launched < tasks and cpus >= TASK_CPUS and mem >= TASK_MEM:
                            batch.append(
                                {
                                    "task_id": {"value": f"h{launched}"},
                                    "name": "h",
                                    "agent_id": offer["agent_id"],
                                    "command": {"value": "true"},
                                    "resources": [
                                        {
                                            "name": "cpus",
                                            "type": "SCALAR",
                                            "scalar": {"value": TASK_CPUS},
                                        },
                                        {
                                            "name": "mem",
                                            "type": "SCALAR",
                                            "scalar": {"value": TASK_MEM},
                                        },
                                    ],
                                }
                            )
                            cpus, mem, launched = cpus - TASK_CPUS, mem - TASK_MEM, launched + 1
                        fw = {"value": fid}
                        if batch:
                            op = {"type": "LAUNCH", "launch": {"task_infos": batch}}
                            accept = {
                                "offer_ids": [offer["id"]],
                                "operations": [op],
                                "filters": {"refuse_seconds": 60},
                            }
                            send({"type": "ACCEPT", "framework_id": fw, "accept": accept})
                        else:
                            decline = {
                                "offer_ids": [offer["id"]],
                                "filters": {"refuse_seconds": 60},
                            }
                            send({"type": "DECLINE", "framework_id": fw, "decline": decline})
                elif kind == "UPDATE":
                    status = event["update"]["status"]
                    if "uuid" in status:
                        ack = {k: status[k] for k in ("agent_id", "task_id", "uuid")}
                        send(
                            {
                                "type": "ACKNOWLEDGE",
                                "framework_id": {"value": fid},
                                "acknowledge": ack,
                            }
                        )
                    if status["state"] == "TASK_RUNNING":
                        running += 1
                        if running == tasks:
                            done.set()
                            elapsed = time.perf_counter() - started
                            send({"type": "REVIVE", "framework_id": {"value": fid}})
            if rounds >= LATENCY_ROUNDS:
                break
        await calls.close()
        # Leave without a teardown: the tasks stay (failover), the next run gets the rest.
        resp.close()
    if running < tasks:
        raise RuntimeError(f"HTTP framework: only {running}/{tasks} tasks RUNNING")
    return {"elapsed_s": elapsed, "tasks_per_s": tasks / elapsed, "offer_seen": offer_seen}


def driver_framework(zk_hosts: str, master_addr: str, tasks: int) -> dict[str, Any]:
    from actors import protocol as p
    from actors.framework import SchedulerDriver
    from actors.resources import Resources
    from runtime import connect

    cluster = connect("zk://" + zk_hosts, insecure_dev=True)
    bench = launch_all(tasks, Resources.parse(f"cpus:{TASK_CPUS};mem:{TASK_MEM}"), "d")
    started = time.perf_counter()
    driver = SchedulerDriver(
        bench, p.FrameworkInfo("bench-driver"), cluster.node, master=master_addr
    ).start()
    if not bench.done.wait(300):
        raise RuntimeError(f"driver: only {bench.running}/{tasks} RUNNING after 300 s")
    elapsed = time.perf_counter() - started
    driver.stop(failover=True)
    cluster.close()
    return {"elapsed_s": elapsed, "tasks_per_s": tasks / elapsed}


def run(agents: int, tasks: int) -> dict[str, Any]:
    from actors.protocol import GetState
    from runtime import connect
    from zk import ZooKeeperServer

    procs: list[Any] = []
    tmp = tempfile.mkdtemp(prefix="pydcos-bench-mesos-api-")
    ok = False
    with ZooKeeperServer() as zk_server:
        try:
            zk_hosts = f"{zk_server.hosts}/pydcos-bench"
            master_proc, line = spawn_role(
                __file__, ["--role", "master", "--zk", zk_hosts], tmp, procs
            )
            master_addr, http_url = line.split()[1] + "/master", line.split()[2]
            spawn_role(
                __file__,
                ["--role", "agents", "--master", master_addr, "--agents", str(agents)],
                tmp,
                procs,
            )
            client = connect("zk://" + zk_hosts, insecure_dev=True)
            master = client.node.ref(master_addr)
            deadline = time.monotonic() + 120
            while master.ask(GetState("metrics"), timeout=30)["agents"] < agents:
                if time.monotonic() > deadline:
                    raise RuntimeError("agents did not all register within 120 s")
                time.sleep(0.2)
            client.close()
            http = asyncio.run(http_framework(http_url + "/api/v1/scheduler", tasks))
            driver = driver_framework(zk_hosts, master_addr, tasks)
            # The master prints its bridges' offer timestamps when told to stop.
            assert master_proc.stdin is not None and master_proc.stdout is not None
            master_proc.stdin.close()
            stamped = dict(json.loads(master_proc.stdout.readline())["offer_times"])
            latencies = sorted(
                (seen - stamped[oid]) * 1000
                for oid, seen in http["offer_seen"].items()
                if oid in stamped
            )
            if not latencies:
                raise RuntimeError("no offer was stamped by the master")
            ok = True
            return {
                "http": http,
                "driver": driver,
                "offer_latency_p50_ms": latencies[len(latencies) // 2],
                "offer_latency_p99_ms": latencies[
                    min(len(latencies) - 1, len(latencies) * 99 // 100)
                ],
                "offers": len(latencies),
            }
        finally:
            stop_processes(procs)
            if ok:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"logs kept in {tmp}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["bench", "master", "agents"], default="bench")
    ap.add_argument("--zk", default="")
    ap.add_argument("--master", default="")
    ap.add_argument("--agents", type=int, default=150)
    ap.add_argument("--tasks", type=int, default=5000)
    args = ap.parse_args()
    if args.role == "master":
        role_master(args.zk)
        return
    if args.role == "agents":
        role_agents(args.master, args.agents)
        return
    r = run(args.agents, args.tasks)
    http_tps, driver_tps = r["http"]["tasks_per_s"], r["driver"]["tasks_per_s"]
    ratio = http_tps / driver_tps
    p50 = r["offer_latency_p50_ms"]
    print(
        f"HTTP scheduler API: {args.tasks} tasks on {args.agents} agents in "
        f"{r['http']['elapsed_s']:.2f} s = {http_tps:,.0f} tasks/s"
    )
    print(f"actor driver:       {r['driver']['elapsed_s']:.2f} s = {driver_tps:,.0f} tasks/s")
    print(
        f"offer to framework: p50 {p50:.2f} ms, p99 {r['offer_latency_p99_ms']:.2f} ms "
        f"over {r['offers']} offers"
    )
    targets = ratio >= 0.5 and http_tps >= 1000 and p50 <= 5.0
    print(
        json.dumps(
            {
                "bench": "mesos_api",
                "http_tasks_per_s": round(http_tps, 1),
                "driver_tasks_per_s": round(driver_tps, 1),
                "ratio": round(ratio, 3),
                "offer_latency_p50_ms": round(p50, 3),
                "targets_met": targets,
            }
        )
    )


if __name__ == "__main__":
    main()
