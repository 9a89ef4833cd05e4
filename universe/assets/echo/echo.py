"""An httpbin-like echo service (the `echo` package's server), standard library only.

GET /            the banner (the package's `echo.message` option)
GET /get         {"args", "headers", "origin", "url"}, as httpbin's /get
POST /post       the same plus "data" and "json" (the body, parsed when JSON)
ANY /anything    the same for any method
GET /headers     {"headers"}          GET /ip       {"origin"}
GET /status/N    an empty answer with status N
GET /health      "ok"
"""

from __future__ import annotations

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Echo(BaseHTTPRequestHandler):
    banner = "echo"
    server_version = "pydcos-echo/0.1"

    def _send(self, status: int, doc: object) -> None:
        body = (json.dumps(doc, indent=2) + "\n").encode() if doc is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _request_doc(self) -> dict[str, object]:
        parts = urlsplit(self.path)
        args = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(parts.query).items()}
        host = self.headers.get("Host", "localhost")
        return {
            "args": args,
            "headers": dict(self.headers.items()),
            "origin": self.client_address[0],
            "url": f"http://{host}{self.path}",
            "method": self.command,
        }

    def _body_doc(self) -> dict[str, object]:
        doc = self._request_doc()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, 1 << 20)).decode(errors="replace") if length else ""
        doc["data"] = raw
        try:
            doc["json"] = json.loads(raw) if raw else None
        except ValueError:
            doc["json"] = None
        return doc

    def _route(self) -> None:
        path = urlsplit(self.path).path
        if path == "/":
            body = (self.banner + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif path == "/health":
            self._send(200, {"status": "ok"})
        elif path == "/get" and self.command == "GET":
            self._send(200, self._request_doc())
        elif path.startswith("/anything") or (
            path in ("/post", "/put", "/patch", "/delete") and self.command == path[1:].upper()
        ):
            self._send(200, self._body_doc())
        elif path == "/headers":
            self._send(200, {"headers": dict(self.headers.items())})
        elif path == "/ip":
            self._send(200, {"origin": self.client_address[0]})
        elif path.startswith("/status/") and path[8:].isdigit() and 100 <= int(path[8:]) < 600:
            self._send(int(path[8:]), None)
        else:
            self._send(404, {"message": f"no such endpoint: {self.command} {path}"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _route

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.client_address[0]} {format % args}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT0", "8080")))
    p.add_argument("--message", default="echo")
    args = p.parse_args()
    Echo.banner = args.message
    server = ThreadingHTTPServer(("0.0.0.0", args.port), Echo)
    print(f"echo listening on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
