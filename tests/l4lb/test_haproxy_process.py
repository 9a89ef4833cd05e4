"""The real HAProxy the l4lb supervises, and the asyncio fallback, against real sockets:
backends changed through the runtime API, a VIP added by a hitless reload that leaves no
old worker behind, the worker gone with its master, and the fallback serving the same
model. No cluster: a plan is fed to the data plane by hand."""

from __future__ import annotations

import http.server
import os
import signal
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.l4lb import HaproxyModel, find_haproxy, plan, ready_servers
from actors.l4lb._actor import HaproxyPlane
from actors.l4lb._fallback import AsyncioPlane
from actors.l4lb._table import Backend, Vip
from runtime.testing import wait_for

HAPROXY = find_haproxy()


class _Named(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.tag  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    servers = []
    for tag in (b"one", b"two"):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Named)
        srv.tag = tag  # type: ignore[attr-defined]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    yield [Backend("127.0.0.1", s.server_address[1], s.tag.decode()) for s in servers]  # type: ignore[attr-defined]
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _vip(address: str, port: int, *bs: Backend) -> Vip:
    return Vip("/t", None, address, port, "roundrobin", frozenset(bs))


def _get(address: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{address}:{port}/", timeout=3) as r:
        return str(r.read().decode())


def _alive(pid: int) -> bool:
    try:
        return b"haproxy" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_haproxy_follows_the_plan_and_reloads_without_leftovers(
    backends: list[Backend], tmp_path: Path
) -> None:
    one, two = backends
    a = ("127.128.200.1", _free_port("127.128.200.1"))
    b = ("127.128.200.2", _free_port("127.128.200.2"))
    assert HAPROXY is not None
    plane = HaproxyPlane(HAPROXY, str(tmp_path))
    try:
        plane.start(HaproxyModel())
        step = plan(HaproxyModel(), {"a": _vip(*a, one)})
        plane.apply(step)  # a new VIP: reload
        assert _get(*a) == "one"
        haproxy = plane.haproxy
        first_worker = haproxy.worker
        step = plan(step.model, {"a": _vip(*a, one, two)})
        assert not step.reload
        plane.apply(step)  # runtime API only: same worker
        assert haproxy.worker == first_worker
        assert {_get(*a) for _ in range(6)} == {"one", "two"}
        state = ready_servers(haproxy.servers_state())
        assert set().union(*state.values()) == {(x.ip, x.port) for x in backends}

        step = plan(step.model, {"a": _vip(*a, two), "b": _vip(*b, one)})
        assert step.reload
        plane.apply(step)  # a VIP added: hitless reload, the old worker goes
        assert haproxy.worker != first_worker and haproxy.reloads == 2
        assert {_get(*a) for _ in range(4)} == {"two"} and _get(*b) == "one"
        assert first_worker is not None
        wait_for(lambda: not _alive(first_worker), 10, "the old worker gone")
        assert haproxy.old_workers() == []

        master, worker = haproxy.pid, haproxy.worker
        assert master is not None and worker is not None
        os.kill(master, signal.SIGKILL)
        wait_for(lambda: not _alive(worker), 5, "the worker gone with its master")
        assert not plane.running
        plane.start(step.model)  # what the actor does on its next tick
        assert _get(*b) == "one"
    finally:
        plane.stop()
    assert not _alive(master)


def test_the_asyncio_fallback_serves_the_same_model(backends: list[Backend]) -> None:
    one, two = backends
    a = ("127.128.201.1", _free_port("127.128.201.1"))
    plane = AsyncioPlane()
    try:
        plane.start(HaproxyModel())
        step = plan(HaproxyModel(), {"a": _vip(*a, one, two)})
        plane.apply(step)
        assert {_get(*a) for _ in range(6)} == {"one", "two"}
        step = plan(step.model, {"a": _vip(*a, two)})
        plane.apply(step)
        assert {_get(*a) for _ in range(4)} == {"two"}
    finally:
        plane.stop()
    assert not plane.running


def test_directories_of_gone_masters_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    from actors.l4lb._actor import DIR_PREFIX, remove_stale_dirs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name, owner in (("dead", str(dead.pid)), ("alive", str(os.getpid())), ("none", None)):
        d = tmp_path / f"{DIR_PREFIX}{name}"
        d.mkdir()
        if owner is not None:
            (d / "owner").write_text(owner)
    remove_stale_dirs(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{DIR_PREFIX}alive", f"{DIR_PREFIX}none"]


def test_an_address_held_without_reuseport_is_reported_before_any_reload() -> None:
    import socket

    from actors.l4lb._actor import bind_problem

    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        port = plain.getsockname()[1]
        problem = bind_problem("127.0.0.1", port)
        assert problem is not None and f"127.0.0.1:{port}" in problem
    with socket.socket() as shared:  # another master's HAProxy: shared, no problem
        shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        shared.bind(("127.128.202.1", 0))
        shared.listen()
        assert bind_problem("127.128.202.1", shared.getsockname()[1]) is None
