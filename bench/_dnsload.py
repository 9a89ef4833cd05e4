"""DNS load generator (run as its own process by bench/networking.py): raw UDP, many
queries in flight, stdlib only, so the server under test has the other core.

    python bench/_dnsload.py max  HOST PORT SECONDS WINDOW QUERIES.json
    python bench/_dnsload.py rate HOST PORT SECONDS RATE   QUERIES.json

QUERIES.json: a list of hex-encoded DNS queries (their ids are overwritten). Prints one
JSON line: sent, answered, lost, qps (answers/s), and for ``rate`` p50/p99/max ms.
A reply counts when its id matches an outstanding query and its rcode is NOERROR.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import sys
import time

WARMUP = 0.5
TIMEOUT = 1.0


def _socket(host: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    s.connect((host, port))
    s.setblocking(False)
    return s


def run_max(host: str, port: int, seconds: float, window: int, bodies: list[bytes]) -> dict:
    sock = _socket(host, port)
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    outstanding: dict[int, float] = {}
    seq = 0
    answered = bad = sent = lost = 0
    nb = len(bodies)
    start = time.perf_counter()
    measure_from = start + WARMUP
    end = measure_from + seconds
    counting = False
    last_sweep = start
    while True:
        now = time.perf_counter()
        if not counting and now >= measure_from:
            counting, answered, bad, sent, lost = True, 0, 0, 0, 0
        if now >= end:
            break
        while len(outstanding) < window:
            qid = seq & 0xFFFF
            seq += 1
            try:
                sock.send(struct.pack("!H", qid) + bodies[seq % nb])
            except BlockingIOError:
                break
            outstanding[qid] = now
            sent += 1
        if poller.poll(50):
            while True:
                try:
                    data = sock.recv(65535)
                except BlockingIOError:
                    break
                qid = struct.unpack("!H", data[:2])[0]
                if outstanding.pop(qid, None) is not None:
                    if data[3] & 0x0F == 0:
                        answered += 1
                    else:
                        bad += 1
        if now - last_sweep > 0.2:
            last_sweep = now
            stale = [q for q, t in outstanding.items() if now - t > TIMEOUT]
            for q in stale:
                del outstanding[q]
            lost += len(stale)
    return {
        "sent": sent,
        "answered": answered,
        "errors": bad,
        "lost": lost,
        "qps": answered / seconds,
    }


def run_rate(host: str, port: int, seconds: float, rate: float, bodies: list[bytes]) -> dict:
    sock = _socket(host, port)
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    outstanding: dict[int, float] = {}
    lat: list[float] = []
    seq = 0
    sent = bad = 0
    nb = len(bodies)
    start = time.perf_counter()
    measure_from = start + WARMUP
    end = measure_from + seconds
    k = 0
    while True:
        now = time.perf_counter()
        if now >= end + TIMEOUT or (now >= end and not outstanding):
            break
        while now < end and start + k / rate <= now:
            qid = seq & 0xFFFF
            seq += 1
            k += 1
            t = time.perf_counter()
            try:
                sock.send(struct.pack("!H", qid) + bodies[seq % nb])
            except BlockingIOError:
                continue
            if t >= measure_from:
                outstanding[qid] = t
                sent += 1
            else:
                outstanding[qid] = -t  # warm-up: answered, not measured
        # Sleep until the next send is due, at least 1 ms: queries go in small bursts
        # (rate/1000 at a time) instead of a busy loop taking the server's core.
        wait_ms = max(1, min(5, int((start + k / rate - time.perf_counter()) * 1000) + 1))
        if poller.poll(wait_ms):
            while True:
                try:
                    data = sock.recv(65535)
                except BlockingIOError:
                    break
                t = time.perf_counter()
                qid = struct.unpack("!H", data[:2])[0]
                sent_at = outstanding.pop(qid, None)
                if sent_at is None or sent_at < 0:
                    continue
                if data[3] & 0x0F:
                    bad += 1
                lat.append((t - sent_at) * 1000)
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    lost = sum(1 for t in outstanding.values() if t >= 0)
    return {
        "rate": rate,
        "sent": sent,
        "answered": len(lat),
        "errors": bad,
        "lost": lost,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": lat[-1] if lat else float("nan"),
    }


def main() -> None:
    mode, host, port, seconds, knob, path = sys.argv[1:7]
    with open(path) as f:
        bodies = [bytes.fromhex(h)[2:] for h in json.load(f)]
    if mode == "max":
        out = run_max(host, int(port), float(seconds), int(knob), bodies)
    else:
        out = run_rate(host, int(port), float(seconds), float(knob), bodies)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
