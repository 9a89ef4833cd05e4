"""The scale bench's transfer baseline: a static HTTP server in a process of its own.

``GET /<n>`` answers ``n`` bytes (made once per size, written in 1 MiB slices as the
gateway writes its cached views), on a keep-alive HTTP/1.1 connection. bench/scale.py
reads, for each large GET it measures, the same number of bytes from here with the same
client: what moving that many bytes through loopback costs on this machine, in the same
run. On a 2-core box 10x the bytes cost more than 10x the time (61 MB leaves the CPU
caches and needs fresh pages on both sides), so a view's growth exponent is read beside
its baseline's.

Prints ``baseline tcp://127.0.0.1:PORT`` when listening; stops when stdin closes.
"""

from __future__ import annotations

import http.server
import socketserver
import sys
import threading

SLICE = 1 << 20
MAX_BYTES = 512 * 1024 * 1024
_bodies: dict[int, bytes] = {}
_lock = threading.Lock()


def body(n: int) -> bytes:
    with _lock:
        b = _bodies.get(n)
        if b is None:
            _bodies.clear()  # one size at a time: the bench asks size by size
            b = _bodies[n] = b"x" * n
        return b


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms ACK wait

    def do_GET(self) -> None:
        try:
            n = int(self.path.strip("/"))
            if not 0 <= n <= MAX_BYTES:
                raise ValueError(n)
        except ValueError:
            self.send_error(400, f"path must be a byte count 0..{MAX_BYTES}: {self.path!r}")
            return
        data = memoryview(body(n))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        for i in range(0, n, SLICE):
            self.wfile.write(data[i : i + SLICE])

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main() -> None:
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"baseline tcp://127.0.0.1:{server.server_address[1]}", flush=True)
    sys.stdin.read()  # the bench closes our stdin to stop us
    server.shutdown()


if __name__ == "__main__":
    main()
