"""The scale bench's GET reader (bench/_scale_cluster.Http.get_into): the timed GETs
read each answer into a buffer the client keeps, and must see what ``read()`` sees."""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from _scale_cluster import Http  # noqa: E402


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/missing":
            body = b'{"message": "no such thing"}'
            self.send_response(404)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"abc", b"defg"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        else:
            n = int(self.path.strip("/"))
            body = bytes(i % 251 for i in range(n))
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(10)


def test_get_into_reads_what_read_reads_and_keeps_its_buffer(server: str) -> None:
    client = Http(server)
    sizes = (10, 3_000_000, 1_000, 2_500_000, 0)
    buffers = []
    for n in sizes:
        status, got, dt, head = client.get_into(f"/{n}")
        buffers.append(id(client.local.buf))
        full = client.request("GET", f"/{n}")[1]
        assert (status, got, head) == (200, n, full[:200])
        assert bytes(client.local.buf[:n]) == full
        assert dt > 0
    # one buffer, grown once for 3 MB with room to spare, then kept
    assert len(set(buffers[1:])) == 1 and len(client.local.buf) >= 3_000_000
    client.close()


def test_get_into_error_and_chunked_answers(server: str) -> None:
    client = Http(server)
    status, n, _, head = client.get_into("/missing")
    assert (status, n, head) == (404, 28, b'{"message": "no such thing"}')
    assert client.get_into("/chunked")[:2] == (200, 7)
    assert client.get_into("/chunked")[3] == b"abcdefg"
    # the connection is still good for the next request
    assert client.get_into("/5")[:2] == (200, 5)
    client.close()
