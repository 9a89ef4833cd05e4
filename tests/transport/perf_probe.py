"""Quick transport performance probe (not collected by pytest).

    .venv/bin/python -m tests.transport.perf_probe [N]

Measures, between two OS processes on loopback:
  raw   pyzmq DEALER/ROUTER + msgpack: round trip p50, one-way msgs/s
  plain ZmqTransport envelopes: ask round trip p50, pipelined asks/s, one-way tells/s
  curve the same with CURVE
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import msgpack
import zmq

from transport import Envelope, Kind, Security, ZmqTransport, generate_keys


def raw_server() -> None:
    ctx = zmq.Context()
    s = ctx.socket(zmq.ROUTER)
    port = s.bind_to_random_port("tcp://127.0.0.1")
    print(f"tcp://127.0.0.1:{port}", flush=True)
    count = 0
    while True:
        ident, data = s.recv_multipart()
        msg = msgpack.unpackb(data)
        if msg[0] == "ping":
            s.send_multipart([ident, msgpack.packb(["pong", msg[1]])])
        elif msg[0] == "tell":
            count += 1
        elif msg[0] == "count":
            s.send_multipart([ident, msgpack.packb(["count", count])])
            count = 0


def spawn(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(
        [sys.executable, "-m", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None
    return p, p.stdout.readline().strip()


def raw(n: int) -> dict[str, float]:
    p, addr = spawn(["tests.transport.perf_probe", "raw-server"])
    ctx = zmq.Context()
    d = ctx.socket(zmq.DEALER)
    d.connect(addr)
    rtts = []
    for i in range(max(2000, n // 50)):
        t0 = time.perf_counter()
        d.send(msgpack.packb(["ping", i]))
        msgpack.unpackb(d.recv())
        rtts.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n):
        d.send(msgpack.packb(["tell", i, "x" * 20]))
    d.send(msgpack.packb(["count"]))
    got = msgpack.unpackb(d.recv())
    dt = time.perf_counter() - t0
    assert got == ["count", n], got
    d.close(0)
    ctx.term()
    p.kill()
    p.wait()
    return {"rtt_p50_us": statistics.median(rtts[100:]) * 1e6, "oneway_per_s": n / dt}


class Client:
    def __init__(self, security: Security) -> None:
        self.waiters: dict[int, Any] = {}
        self.lock = threading.Lock()
        self.t = ZmqTransport(security=security, on_envelope=self.on_envelope)
        self.t.start()
        self.replies = 0
        self.all_done = threading.Event()
        self.expect = 0

    def on_envelope(self, env: Envelope) -> None:
        w = self.waiters.pop(env.corr_id, None) if env.corr_id is not None else None
        if w is not None:
            w[1] = env.body
            w[0].set()
            return
        self.replies += 1
        if self.replies >= self.expect:
            self.all_done.set()

    def ask(self, peer: str, body: Any) -> Any:
        env = Envelope(sender_node=self.t.address, target="echo", kind=Kind.ASK, body=body)
        w = [threading.Event(), None]
        self.waiters[env.msg_id] = w
        self.t.send(peer, env)
        if not w[0].wait(5):
            raise TimeoutError("ask timed out")
        return w[1]


def stack(n: int, mode: str, keydir: str) -> dict[str, float]:
    p, addr = spawn(["tests.transport._peer", mode, keydir, "0", str(1 << 20)])
    sec = (
        Security.plain()
        if mode == "plain"
        else Security.curve(f"{keydir}/cluster.key_secret", f"{keydir}/authorized_keys")
    )
    c = Client(sec)
    rtts = []
    for i in range(max(2000, n // 50)):
        t0 = time.perf_counter()
        c.ask(addr, {"op": "echo", "v": i})
        rtts.append(time.perf_counter() - t0)
    # pipelined asks: all sent, then wait for all replies
    c.expect = n // 2
    c.replies = 0
    c.all_done.clear()
    me = c.t.address
    t0 = time.perf_counter()
    for i in range(n // 2):
        c.t.send(
            addr,
            Envelope(sender_node=me, target="echo", kind=Kind.ASK, body={"op": "echo", "v": i}),
        )
    assert c.all_done.wait(60)
    asks_per_s = (n // 2) / (time.perf_counter() - t0)
    # one-way tells
    t0 = time.perf_counter()
    body = {"op": "count", "v": "x" * 20}
    send = c.t.send
    for _ in range(n):
        send(addr, Envelope(sender_node=me, target="echo", kind=Kind.TELL, body=body))
    got = c.ask(addr, {"op": "count"})
    dt = time.perf_counter() - t0
    assert got == n, got
    c.t.stop()
    assert p.stdin is not None
    p.stdin.close()
    p.wait()
    return {
        "rtt_p50_us": statistics.median(rtts[100:]) * 1e6,
        "pipelined_asks_per_s": asks_per_s,
        "oneway_per_s": n / dt,
        "counters": c.t.counters,  # type: ignore[dict-item]
    }


def main() -> None:
    if sys.argv[1:2] == ["raw-server"]:
        raw_server()
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    keydir = tempfile.mkdtemp()
    generate_keys(keydir)
    print("raw  ", raw(n))
    print("plain", stack(n, "plain", keydir))
    print("curve", stack(n, "curve", keydir))


if __name__ == "__main__":
    main()
