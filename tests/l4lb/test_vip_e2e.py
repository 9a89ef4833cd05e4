"""Named VIPs end to end (issue 20): real masters (with only the ``l4lb`` node service),
a real agent running native tasks, real HAProxy, real ZooKeeper.

One cluster for the module, in order: an app with 3 instances behind ``VIP_0``; plain
HTTP through the VIP reaches all three; HAProxy's own runtime API (``show servers
state``) on every master lists them; a killed instance leaves every HAProxy while a
request loop through the VIP sees no failure; a rolling upgrade with health checks
fails no request either; a SIGKILLed HAProxy comes back with the backends; after a
leader SIGKILL the VIP still answers and still follows the tasks.

What "no request fails" rests on is what Marathon and dcos-l4lb promise, nothing timed:
a task being killed goes TASK_KILLING before its SIGTERM, every balancer stops sending
it new connections once it sees that (dcos-net sets its weight to 0; HAProxy ``state
drain`` here), and the service keeps serving until it was drained, within its kill
grace period (``SERVER``). A service that stops at a fixed moment after SIGTERM races
the balancers (marathon-lb's maintainers call that "probabilistic"): on a loaded machine
the drain came later than its 2.5 s and requests were reset. After a failover the new
leader's own l4lb subscribes before Marathon can kill anything (a WatchMaster sent
before its master actor ran used to be lost, and retried 2 s later).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.l4lb import ready_servers
from actors.l4lb._process import _ask
from tests.e2e.conftest import E2ECluster, http_request, module_cluster
from tests.marathon._harness import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.zk]

APP = "/l4lb-e2e/web"
VIP = "/l4lb-e2e:80"
APPS = "/marathon/v2/apps"


SERVER = """
import http.server, os, signal, threading, time
me = os.environ["MESOS_TASK_ID"].encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(me)))
        self.end_headers()
        self.wfile.write(me)
    def log_message(self, *args):
        pass
last = [time.monotonic()]
class S(http.server.ThreadingHTTPServer):
    def process_request(self, request, client_address):
        last[0] = time.monotonic()
        super().process_request(request, client_address)
srv = S(("127.0.0.1", int(os.environ["PORT0"])), H)
# Graceful, as a service behind a load balancer must be (Marathon, dcos-l4lb): on SIGTERM
# keep serving until the balancers drained it (they do on TASK_KILLING: no new request
# for a second), then close; the kill grace period only bounds that wait.
def drained():
    while time.monotonic() - last[0] < 1.0:
        time.sleep(0.1)
    srv.shutdown()
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=drained).start())
srv.serve_forever()
srv.server_close()
"""


def _app() -> dict[str, Any]:
    serve = f"exec python3 -c '{SERVER}'"
    return {
        "id": APP,
        "cmd": serve,
        "cpus": 0.1,
        "mem": 64,
        "instances": 3,
        # the bound of the SERVER's wait for its drain (Marathon's default is 3 s)
        "taskKillGracePeriodSeconds": 20,
        "portDefinitions": [{"port": 0, "name": "http", "labels": {"VIP_0": VIP}}],
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": "/id",
                "portIndex": 0,
                "gracePeriodSeconds": 10,
                "intervalSeconds": 2,
                "timeoutSeconds": 1,
                "maxConsecutiveFailures": 3,
            }
        ],
    }


@pytest.fixture(scope="module")
def vip_cluster(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    scratch = tmp_path_factory.mktemp("l4lb")
    resources = "cpus:4;mem:2048;disk:1000;ports:[31000-31100]"
    # The e2e default finds an agent unreachable after 1 s without pongs: a machine
    # that starves the agent that long (CI beside CPU burners) made it "unreachable",
    # and its tasks rightly left every VIP (both HAProxys with no server, thousands of
    # requests closed). This module is about VIPs, not agent failure: 10 s here.
    args = ("--node-services", "l4lb", "--max-missed-pings", "40")
    with module_cluster(zk_hosts, scratch, args, resources) as c:
        yield c


def _json(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    reply = http_request(url, method, None if body is None else json.dumps(body).encode())
    return reply.status, (reply.json() if reply.body else None)


def _vips(master_url: str) -> list[dict[str, Any]]:
    status, body = _json(f"{master_url}/networking/api/v1/vips")
    return body if status == 200 else []


def _haproxy_sockets(master_pid: int) -> tuple[int, str] | None:
    """(HAProxy master PID, runtime socket) of the HAProxy a master process started."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == master_pid and argv and argv[0].endswith(b"haproxy") and b"-S" in argv:
            master_sock = argv[argv.index(b"-S") + 1].decode().split(",")[0]
            return int(entry.name), str(Path(master_sock).with_name("runtime.sock"))
    return None


def _ready_backends(master_pid: int) -> set[tuple[str, int]]:
    """The servers the master's HAProxy sends new connections to (its runtime API)."""
    found = _haproxy_sockets(master_pid)
    if found is None:
        return set()
    try:
        state = _ask(found[1], "show servers state")
    except OSError:
        return set()
    return set().union(*ready_servers(state).values())


def _has_exactly(pid: int, want: set[tuple[str, int]]) -> bool:
    return _ready_backends(pid) == want


def _lacks(pid: int, gone: tuple[str, int]) -> bool:
    return gone not in _ready_backends(pid)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
    return out


def _gone(pid: int) -> bool:
    """Whether the process has closed every file it held (its listening sockets: one on
    the VIP still open takes a share of the new connections, and resets them as it
    closes). An empty ``cmdline`` is not enough: a dying process lets go of its memory
    before its files, and a multi-threaded HAProxy's other threads still hold the
    sockets after its main thread exited. A process is past closing its files once it
    is a zombie with no thread left but its main one (the kernel marks it a zombie only
    after that), or once it is reaped."""
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        threads = os.listdir(proc / "task")
    except OSError:
        return True
    return state in ("Z", "X") and threads == [str(pid)]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(r.read().decode().strip())


class _Loop:
    """Requests through the VIP in a loop on a thread, counting failures (each with the
    second it came, from the loop's start, as the ``mark``s of what the test did)."""

    def __init__(self, url: str, pids: tuple[int, ...] = ()) -> None:
        self.url, self.ok, self.failed = url, 0, []  # type: ignore[var-annotated]
        self.pids = pids
        """Masters whose HAProxy's ready servers a failure notes (the first, every 500th)."""
        self.marks: list[str] = []
        self.t0, self.wall0 = time.monotonic(), time.time()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _at(self) -> str:
        return f"+{time.monotonic() - self.t0:.2f}s"

    def mark(self, what: str) -> None:
        self.marks.append(f"{self._at()} {what}")

    def report(self) -> str:
        """What failed (first and last) among what the test did: the assertion message."""
        began = "began " + time.strftime("%H:%M:%S", time.localtime(self.wall0))
        failed = [*self.failed[:3], *self.failed[-2:], f"{len(self.failed)} failed"]
        noted = [f for f in self.failed if " ready " in f][:6]
        return "\n".join([*failed, *noted, began, *self.marks])

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                _get(self.url)
                self.ok += 1
            except Exception as exc:
                seen = ""
                if len(self.failed) % 500 == 0:
                    seen = f" ready {[sorted(_ready_backends(pid)) for pid in self.pids]}"
                self.failed.append(f"{self._at()} {exc!r}{seen}")

    def __enter__(self) -> _Loop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _backends(vip: dict[str, Any]) -> set[tuple[str, int]]:
    return {(b["ip"], b["port"]) for b in vip["backend"]}


def test_vip_reaches_every_healthy_instance_and_follows_kills_and_crashes(
    vip_cluster: E2ECluster,
) -> None:
    c = vip_cluster
    leader = c.serving_leader()
    url = leader.http_url
    # a bad VIP is a 422 naming the label, and nothing is stored
    bad = {**_app(), "id": "/l4lb-e2e/bad"}
    bad["portDefinitions"] = [{"port": 0, "labels": {"VIP_0": "/bad:70000"}}]
    status, body = _json(f"{url}{APPS}", "POST", bad)
    assert status == 422 and body["details"][0]["path"] == "/portDefinitions/0/labels/VIP_0"
    assert _json(f"{url}{APPS}/l4lb-e2e/bad")[0] == 404

    status, body = _json(f"{url}{APPS}", "POST", _app())
    assert status == 201, body

    def healthy_tasks() -> list[dict[str, Any]] | None:
        tasks = _json(f"{url}{APPS}{APP}/tasks")[1]["tasks"]
        ok = [t for t in tasks if all(h.get("alive") for h in t.get("healthCheckResults", []))]
        ok = [t for t in ok if t.get("healthCheckResults")]
        return ok if len(ok) == 3 else None

    tasks = wait_for(healthy_tasks, 60, "3 healthy instances")
    want = {("127.0.0.1", t["ports"][0]) for t in tasks}

    # every master's API and HAProxy have the three
    vip: dict[str, Any] = {}
    for m in c.masters:

        def listed(url: str = m.http_url) -> dict[str, Any] | None:
            return next((v for v in _vips(url) if _backends(v) == want), None)

        vip = wait_for(listed, 20, f"{m.name}'s VIP table")
        assert vip["vip"] == "l4lb-e2e.marathon.l4lb.thisdcos.directory:80"
        assert vip["apps"] == [APP] and vip["protocol"] == "tcp"
        wait_for(partial(_has_exactly, m.pid, want), 10, f"{m.name}'s haproxy")
    address = vip["address"]
    through = f"http://{address}/id"
    # Prometheus' own parser reads the l4lb's figures on a standby's /metrics
    text = http_request(f"{c.masters[-1].http_url}/metrics").body.decode()
    samples = {
        s.name: s
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("pydcos_l4lb_")
    }
    assert samples["pydcos_l4lb_backends"].value == 3
    assert samples["pydcos_l4lb_backends"].labels["address"] == address

    # plain HTTP through the VIP reaches all three instances
    seen: set[str] = set()

    def all_answered() -> bool:
        seen.add(_get(through))
        return len(seen) == 3

    wait_for(all_answered, 20, "all 3 instances answer")
    assert seen == {t["id"] for t in tasks}

    # a VIP on an address another program holds is left out (the API says why); the
    # other VIPs are untouched
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        squatter = {
            "id": "/l4lb-e2e/held",
            "cmd": "sleep 1000",
            "cpus": 0.1,
            "mem": 32,
            "portDefinitions": [{"port": 0, "labels": {"VIP_0": f"127.0.0.1:{port}"}}],
        }
        assert _json(f"{url}{APPS}", "POST", squatter)[0] == 201

        def refused() -> dict[str, Any] | None:
            got = [v for v in _vips(url) if v["address"] == f"127.0.0.1:{port}"]
            return got[0] if got and "error" in got[0] else None

        entry = wait_for(refused, 20, "the held VIP reported")
        assert "cannot be bound" in entry["error"]
        assert _get(through) in seen
        _json(f"{url}{APPS}/l4lb-e2e/held?force=true", "DELETE")
        # gone everywhere before the port is let go: else a master still listing the
        # VIP (its task not yet reported killed) would bind it then, and reload HAProxy
        # twice in the next step (hitless, but not what that step is about)
        for m in c.masters:

            def unlisted(url: str = m.http_url) -> bool:
                return all(v["address"] != f"127.0.0.1:{port}" for v in _vips(url))

            wait_for(unlisted, 20, f"the held VIP gone from {m.name}")

    # kill one: gone from every HAProxy, no request through the VIP fails meanwhile
    victim = tasks[0]
    gone = ("127.0.0.1", victim["ports"][0])
    with _Loop(through, tuple(m.pid for m in c.masters)) as loop:
        wait_for(lambda: loop.ok >= 20, 20, "the request loop running")
        status, _ = _json(f"{url}{APPS}{APP}/tasks/{victim['id']}?scale=true", "DELETE")
        assert status == 200
        loop.mark("killing one")
        for m in c.masters:
            wait_for(partial(_lacks, m.pid, gone), 10, f"{m.name} drops it")
            loop.mark(f"{m.name} drained it")
        wait_for(lambda: loop.ok >= 40, 20, "more requests after the kill")
    assert loop.failed == [], loop.report()
    remaining = want - {gone}

    # a rolling upgrade with health checks: zero failed requests through the VIP, and
    # the VIP ends on the new instances only
    with _Loop(through, tuple(m.pid for m in c.masters)) as loop:
        wait_for(lambda: loop.ok >= 10, 20, "the request loop running")
        upgrade = f"{url}{APPS}{APP}?force=true"
        status, body = _json(upgrade, "PATCH", {"env": {"VERSION": "2"}})
        assert status == 200, body
        loop.mark("upgrading")
        wait_for(lambda: _json(f"{url}/marathon/v2/deployments")[1] == [], 90, "upgraded")
        loop.mark("upgraded")
        new = {("127.0.0.1", t["ports"][0]) for t in _json(f"{url}{APPS}{APP}/tasks")[1]["tasks"]}
        assert len(new) == 2 and not new & remaining
        for m in c.masters:
            wait_for(partial(_has_exactly, m.pid, new), 10, f"{m.name} on the new instances")
    assert loop.failed == [], loop.report()
    assert loop.ok > 0
    remaining = new
    tasks = _json(f"{url}{APPS}{APP}/tasks")[1]["tasks"]

    # HAProxy SIGKILLed: its supervisor starts it again with the current backends
    first = c.masters[0]
    found = _haproxy_sockets(first.pid)
    assert found is not None
    os.kill(found[0], signal.SIGKILL)
    wait_for(
        lambda: (f := _haproxy_sockets(first.pid)) is not None and f[0] != found[0],
        5,
        "a new haproxy",
    )
    wait_for(lambda: _ready_backends(first.pid) == remaining, 5, "backends restored")
    assert _get(through) in {t["id"] for t in tasks}

    # leader SIGKILL: its HAProxy goes with it (PDEATHSIG; the worker follows its master,
    # cutting the connections it held); the other master's HAProxy, on the same
    # addresses, answers every new request and follows the new leader
    doomed = _haproxy_sockets(leader.pid)
    assert doomed is not None
    doomed_worker = _children(doomed[0])
    os.kill(leader.pid, signal.SIGKILL)
    for pid in (doomed[0], *doomed_worker):
        wait_for(partial(_gone, pid), 10, f"the killed leader's haproxy {pid} gone")
    survivor = next(m for m in c.masters if m is not leader)
    with _Loop(through, tuple(m.pid for m in c.masters)) as loop:
        wait_for(lambda: loop.ok >= 10, 20, "requests through the VIP after the kill")
        loop.mark(f"{loop.ok} ok")
        new_leader = c.serving_leader(timeout=60)
        assert new_leader is survivor
        loop.mark("a new leader serves")
        patch = f"{new_leader.http_url}{APPS}{APP}?force=true"
        # Marathon answers 503 until it has loaded its state on the new leader
        wait_for(lambda: _json(patch, "PATCH", {"instances": 1})[0] == 200, 30, "scaled down")
        loop.mark(f"scaling down, backends {_ready_backends(survivor.pid)}")
        wait_for(lambda: len(_ready_backends(survivor.pid)) == 1, 40, "scaled down to one")
        loop.mark(f"scaled down, backends {_ready_backends(survivor.pid)}")
    assert loop.failed == [], loop.report()
    with contextlib.suppress(Exception):
        _json(f"{new_leader.http_url}{APPS}{APP}", "DELETE")
