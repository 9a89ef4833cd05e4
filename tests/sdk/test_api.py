"""The scheduler's HTTP API over a real ServiceCore (no cluster): dcos-commons' paths,
shapes and statuses, and every refusal as JSON naming what was wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from actors.sdk import ServiceCore
from actors.sdk._api import SchedulerApi
from tests.sdk.test_core import Sim, spec


class Shell:
    def __init__(self, core: ServiceCore) -> None:
        self.core = core

    def call(self, fn: Callable[[ServiceCore], Any]) -> Any:
        return fn(self.core)


def run(body: Callable[[TestClient, ServiceCore], Any]) -> None:
    core = ServiceCore(spec(count=2))
    sim = Sim(core)
    for _ in range(4):
        sim.round()

    async def main() -> None:
        async with TestClient(TestServer(SchedulerApi(Shell(core)).app())) as client:
            await body(client, core)

    asyncio.run(main())


def test_plans_pods_endpoints_configurations() -> None:
    async def body(c: TestClient, core: ServiceCore) -> None:
        r = await c.get("/v1/plans")
        assert await r.json() == ["deploy", "backup", "update", "recovery"]
        r = await c.get("/v1/plans/deploy")
        doc = await r.json()
        assert r.status == 200 and doc["status"] == "COMPLETE"
        r = await c.get("/v1/plans/backup")
        assert r.status == 202 and (await r.json())["status"] == "WAITING"
        r = await c.post("/v1/plans/backup/start", json={"BACKUP_NAME": "b1"})
        assert r.status == 200 and await r.json() == {"message": "Received cmd: start"}
        assert core.runs["backup"].params == {"BACKUP_NAME": "b1"}
        r = await c.post("/v1/plans/backup/interrupt")
        assert r.status == 200 and core.runs["backup"].interrupted
        r = await c.post("/v1/plans/deploy/restart?phase=nodes&step=node-1:[server]")
        assert r.status == 200
        assert await (await c.get("/v1/pod")).json() == ["node-0", "node-1"]
        status = await (await c.get("/v1/pod/status")).json()
        assert status["pods"][0]["instances"][0]["tasks"][0]["status"] == "TASK_RUNNING"
        info = await (await c.get("/v1/pod/node-0/info")).json()
        assert info[0]["info"]["name"] == "node-0-server"
        assert sorted(await (await c.get("/v1/endpoints")).json()) == ["client", "peer"]
        ep = await (await c.get("/v1/endpoints/client")).json()
        assert len(ep["address"]) == 2 and ep["dns"][0].startswith("node-0-server.kv.mesos:")
        target = await (await c.get("/v1/configurations/targetId")).json()
        assert target == core.spec.config_id
        assert await (await c.get("/v1/configurations")).json() == [target]
        assert (await (await c.get(f"/v1/configurations/{target}")).json())["name"] == "kv"

    run(body)


def test_refusals() -> None:
    async def body(c: TestClient, core: ServiceCore) -> None:
        cases = [
            ("GET", "/v1/plans/nope", None, 404, "plan 'nope' does not exist"),
            ("POST", "/v1/plans/nope/start", None, 404, "plan 'nope' does not exist"),
            ("POST", "/v1/plans/deploy/explode", None, 404, "no plan command 'explode'"),
            ("POST", "/v1/plans/deploy/forceComplete?phase=x", None, 404, "no phase 'x'"),
            ("POST", "/v1/plans/deploy/restart?phase=nodes&step=s", None, 404, "no step 's'"),
            ("POST", "/v1/plans/backup/start", [1, 2], 400, "must be a JSON object"),
            ("POST", "/v1/plans/backup/start", {"1X": "a"}, 400, "environment variable name"),
            ("POST", "/v1/plans/recovery/start", None, 400, "driven by the scheduler"),
            ("GET", "/v1/pod/node-9/info", None, 404, "pod 'node-9' does not exist"),
            ("POST", "/v1/pod/node-0/replace", None, 409, "is healthy"),
            ("POST", "/v1/pod/node-0/replace?force=maybe", None, 400, "force: 'maybe'"),
            ("GET", "/v1/endpoints/nope", None, 404, "endpoint 'nope' does not exist"),
            ("GET", "/v1/configurations/nope", None, 404, "configuration 'nope'"),
        ]
        for method, path, body_, status, words in cases:
            r = await c.request(method, path, json=body_)
            doc = await r.json()
            assert r.status == status, (path, r.status, doc)
            assert words in doc["message"], (path, doc)
        r = await c.post("/v1/plans/backup/start", data=b"{not json")
        assert r.status == 400 and "not JSON" in (await r.json())["message"]
        r = await c.post("/v1/pod/node-0/replace?force=true")
        assert r.status == 200 and (await r.json())["tasks"] == ["node-0-server"]

    run(body)
