"""Readiness checks, the pure part (``actors.marathon._readiness``: definition, URL,
probe bookkeeping) and the shell's GET (``http_get``: real HTTP and HTTPS servers on
loopback, a self-signed certificate accepted as Marathon does)."""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.marathon._app import AppDefinition
from actors.marathon._instances import Instance
from actors.marathon._readiness import (
    BODY_LIMIT,
    Readiness,
    ReadinessCheck,
    check_url,
    response_of,
    waiting_text,
)


def _app(**over: object) -> AppDefinition:
    doc: dict[str, object] = {
        "id": "/web",
        "cmd": "x",
        "portDefinitions": [{"port": 0, "name": "admin"}, {"port": 0, "name": "http-api"}],
        "readinessChecks": [{"path": "/ready", "intervalSeconds": 3, "timeoutSeconds": 1}],
    }
    doc.update(over)
    return AppDefinition.from_json(doc)


def _inst(ports: list[int], ip: str = "127.0.0.1") -> Instance:
    return Instance("web.1", "/web", "v", "v", "a1", "agent1", ports, 0.0, ip=ip)


def test_defaults_and_round_trip() -> None:
    check = ReadinessCheck.from_json({})
    assert check == ReadinessCheck()
    assert ReadinessCheck.from_json(check.to_json()) == check
    codes = ReadinessCheck.from_json({"httpStatusCodesForReady": [204, 200]})
    assert codes.http_status_codes_for_ready == (200, 204)


def test_the_url_is_the_task_address_and_the_host_port_of_the_named_port() -> None:
    app = _app()
    check = app.readiness_checks[0]
    assert check_url(check, app, _inst([31000, 31001])) == "http://127.0.0.1:31001/ready"
    assert check_url(check, app, _inst([31000, 31001], ip="::1")) == "http://[::1]:31001/ready"
    assert check_url(check, app, _inst([31000])) is None, "no such host port: never ready"
    https = _app(readinessChecks=[{"protocol": "HTTPS", "path": "health", "portName": "admin"}])
    assert (
        check_url(https.readiness_checks[0], https, _inst([9, 10])) == "https://127.0.0.1:9/health"
    )
    mapped = _app(
        portDefinitions=None,
        container={
            "type": "MESOS",
            "portMappings": [{"containerPort": 80, "hostPort": 0, "name": "http-api"}],
        },
    )
    assert check_url(mapped.readiness_checks[0], mapped, _inst([31005])) == (
        "http://127.0.0.1:31005/ready"
    )


def test_probe_bookkeeping() -> None:
    app = _app()
    table = Readiness()
    inst = _inst([1, 2])
    first = table.poll(app, inst, 10.0)
    assert first is not None and first.timeout == 1.0
    assert table.poll(app, inst, 10.5) is None
    assert table.answer(inst.task_id, first.seq, 11.0, status=500) is None
    assert "last answer: 500" in waiting_text(table.waiting("/web"))
    assert table.poll(app, inst, 13.9) is None
    second = table.poll(app, inst, 14.0)
    assert second is not None
    assert table.answer(inst.task_id, second.seq, 14.1, status=200) is not None
    assert table.is_ready(inst.task_id) and table.waiting("/web") == []
    assert table.poll(app, inst, 100.0) is None
    assert table.results_json("/web") == [
        {"name": "readinessCheck", "taskId": "web.1", "ready": True}
    ]
    table.keep([])
    assert table.probes == {}


def test_a_failed_request_reads_as_marathons_504() -> None:
    got = response_of("http://h:1/", 0, "", "", "ConnectionRefusedError: refused")
    assert got.status == 504 and got.content_type == "text/plain"
    assert got.body == "Marathon could not query http://h:1/: ConnectionRefusedError: refused"
    assert len(response_of("u", 200, "text/plain", "x" * (BODY_LIMIT + 5), "").body) == BODY_LIMIT


# ------------------------------------------------------------------- the shell's GET


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 503 if self.path == "/busy" else 302 if self.path == "/moved" else 200
        body = f"path={self.path}".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    scheme = "http"
    if request.param == "https":
        if shutil.which("openssl") is None:
            pytest.skip("openssl is needed to make a self-signed certificate")
        key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-subj", "/CN=not-this-host", "-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("server", ["http", "https"], indirect=True)
def test_http_get_answers_status_type_and_body(server: str) -> None:
    from actors.marathon._actor import http_get

    assert http_get(server + "/ready?x=1", 5.0) == (200, "text/plain", "path=/ready?x=1")
    assert http_get(server + "/busy", 5.0)[0] == 503
    assert http_get(server + "/moved", 5.0)[0] == 302, "redirects are not followed"


def test_http_get_raises_when_nothing_listens() -> None:
    from actors.marathon._actor import http_get

    with pytest.raises(OSError):
        http_get("http://127.0.0.1:1/", 2.0)


def test_the_console_names_the_instances_waiting_for_readiness() -> None:
    from console._verbs import _action_text

    action = {
        "action": "RestartApplication",
        "app": "/web",
        "readinessCheckResults": [
            {"name": "r", "taskId": "a", "ready": False, "lastResponse": {"status": 503}},
            {"name": "r", "taskId": "b", "ready": False},
            {"name": "r", "taskId": "c", "ready": True},
        ],
    }
    assert _action_text(action) == "RestartApplication /web (2 waiting for readiness: 503)"
    assert _action_text({"action": "ScaleApplication", "app": "/web"}) == "ScaleApplication /web"
