"""HTTPS / MESOS_HTTPS health checks: run by the agent without certificate verification,
as Mesos' checker does (``curl -k``), against a server with a self-signed certificate."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from actors.agent import (
    TASK_KILLED,
    HealthCheckSpec,
    HealthReport,
    NativeContainerizer,
    TaskSpec,
    UpdateLog,
    UriSpec,
)
from actors.agent._health_runner import RUNNABLE_PROTOCOLS, HealthCheckRunner, check_http
from tests.agent.conftest import wait_for

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl(1) is not installed")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1 (cert.pem, key.pem)."""
    assert OPENSSL is not None
    cert, key = directory / "cert.pem", directory / "key.pem"
    argv = [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    subprocess.run(
        [*argv, "-subj", "/CN=pydcos-test", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = {"/ok": 200, "/moved": 302}.get(self.path, 503)
        self.send_response(code)
        if code == 302:
            self.send_header("Location", "/elsewhere-that-fails")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if OPENSSL is None:
        pytest.skip("openssl(1) is not installed")
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_every_protocol_frameworks_accept_is_one_the_agent_runs() -> None:
    """Marathon's schema and the typed task description never accept a protocol the
    agent would then fail forever ("unknown health check protocol")."""
    from actors import protocol as p
    from actors.marathon._schema import HEALTH_PROTOCOLS

    assert set(HEALTH_PROTOCOLS) <= RUNNABLE_PROTOCOLS
    assert set(p.HEALTH_PROTOCOLS) <= RUNNABLE_PROTOCOLS


def test_marathon_accepts_https_checks_and_refuses_unknown_protocols_naming_the_field() -> None:
    from actors.marathon import AppDefinition, ValidationFailed

    base = {"id": "/web", "cmd": "sleep 1", "portDefinitions": [{"port": 0}]}
    for protocol in ("HTTPS", "MESOS_HTTPS"):
        app = AppDefinition.from_json({**base, "healthChecks": [{"protocol": protocol}]})
        assert app.health_checks[0].protocol == protocol
    with pytest.raises(ValidationFailed) as info:
        AppDefinition.from_json({**base, "healthChecks": [{"protocol": "GRPC"}]})
    assert info.value.status == 422
    assert info.value.paths == ["/healthChecks/0/protocol"]


def test_https_check_passes_on_a_self_signed_certificate(https_server: int) -> None:
    ok, message = check_http("127.0.0.1", https_server, "/ok", 5.0, "https")
    assert ok, message
    assert message == f"HTTP GET https://127.0.0.1:{https_server}/ok returned 200"


def test_https_check_fails_on_a_5xx_and_a_redirect_is_healthy_unfollowed(
    https_server: int,
) -> None:
    ok, message = check_http("127.0.0.1", https_server, "/broken", 5.0, "https")
    assert not ok and "returned 503" in message
    # Mesos counts 200..399 healthy and does not follow the redirect (which would 503).
    ok, message = check_http("127.0.0.1", https_server, "/moved", 5.0, "https")
    assert ok and "returned 302" in message


def test_plain_http_against_a_tls_port_is_unhealthy(https_server: int) -> None:
    ok, message = check_http("127.0.0.1", https_server, "/ok", 5.0)
    assert not ok and message.startswith(f"HTTP GET http://127.0.0.1:{https_server}/ok")


@pytest.mark.parametrize("protocol", ["HTTPS", "MESOS_HTTPS"])
def test_runner_runs_https_and_mesos_https(https_server: int, protocol: str) -> None:
    spec = HealthCheckSpec(protocol=protocol, path="/ok", port_index=0)
    runner = HealthCheckRunner("t", spec, (https_server,), lambda r: None)
    ok, message = runner.check_once()
    assert ok, message
    assert "unknown health check protocol" not in message


@needs_openssl
def test_native_task_serving_https_turns_healthy_and_is_not_killed(work_dir: Path) -> None:
    """A real task (openssl s_server, self-signed) with an HTTPS check: healthy, and
    still running after several checks (it used to be killed after 3 'unknown protocol'
    failures)."""
    import socket

    assert OPENSSL is not None
    tls = work_dir / "tls"
    tls.mkdir()
    cert, key = self_signed(tls)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    native = NativeContainerizer(work_dir, cgroup_root=f"pydcos-test-{os.getpid()}")
    reports: list[HealthReport] = []
    spec = TaskSpec(
        task_id="tls",
        command=f"exec {OPENSSL} s_server -quiet -www -accept 127.0.0.1:{port} "
        "-cert cert.pem -key key.pem",
        ports=(port,),
        uris=(UriSpec(str(cert), extract=False), UriSpec(str(key), extract=False)),
        health_checks=(
            HealthCheckSpec(
                protocol="HTTPS",
                path="/",
                grace_period_seconds=10,
                interval_seconds=0.3,
                timeout_seconds=2,
                max_consecutive_failures=2,
                delay_seconds=0,
            ),
        ),
    )
    u = UpdateLog()
    h = native.launch(spec, None, u, reports.append)
    try:
        wait_for(lambda: any(r.healthy for r in reports), what="https healthy", timeout=20)
        runner = h._health_runners[0]
        done = runner.state.checks_done
        wait_for(lambda: runner.state.checks_done >= done + 3, what="3 more checks")
        assert not h.done and all(r.healthy for r in reports), (reports, u.updates)
    finally:
        h.kill(0)
        assert h.wait(10) == TASK_KILLED
        native.remove_cgroup_root()
