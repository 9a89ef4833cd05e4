"""Transport benchmark: remote ActorRefs against raw pyzmq + msgpack, two OS processes.

    .venv/bin/python bench/transport.py

Each server runs in its own subprocess on 127.0.0.1: a raw pyzmq ROUTER that echoes and
counts msgpack frames (the baseline), and a pydcos Node with an ``echo`` and a
``counter`` actor (ours); each in plain mode and with CURVE. This process is the
client: a bare DEALER for the baseline, a listening Node with remote refs for ours.

Measured, for plain and CURVE separately:

* round trip p50: synchronous request/reply, raw ``send``+``recv`` against
  ``RemoteActorRef.ask``; taken in alternating blocks so that noise hits both alike;
* pipelined asks/s: windows of ``ask_future`` calls, then ``get`` on each;
* one-way msgs/s: raw DEALER sends against ``RemoteActorRef.tell``; both end with a
  request for the server's running count, and only delivered messages count.

The machine is shared and noisy, so the figures that matter are ratios against the
baseline measured in the same run, in the same rounds. If ``ray`` is importable its
figures for the same three measurements are printed beside ours (it is never a
dependency). The last line printed is one JSON object for CI.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # before bench/ itself

import msgpack
import zmq

from runtime import Actor, Node
from transport import Security, generate_keys, io_spin

ROOT = Path(__file__).resolve().parents[1]

ROUNDS = 6
RTT_BLOCK = 100  # round trips per alternating block
RTT_BLOCKS = 10  # blocks per side per round and mode
WARMUP = 500
PIPE_WINDOW = 1000
PIPE_WINDOWS = 8  # per round
TELLS = 20_000  # per round
RAW_ONEWAY = 40_000  # per round
PAYLOAD = {"v": 0, "pad": "x" * 20}

TARGET_RTT_RATIO = 2.0
TARGET_PIPELINED = 20_000.0
TARGET_TELLS = 50_000.0

MODES = ("plain", "curve")


# -- servers (subprocesses) -------------------------------------------------------------


def _exit_on_stdin_eof(cleanup: Any = None) -> None:
    """The parent closes our stdin to stop us; it also kills us by PID if we linger."""
    sys.stdin.read()
    if cleanup is not None:
        try:
            cleanup()
        except Exception:
            pass
    os._exit(0)


def serve_raw(mode: str, keydir: str) -> None:
    ctx = zmq.Context()
    s = ctx.socket(zmq.ROUTER)
    s.linger = 0
    if mode == "curve":
        sec = Security.curve(f"{keydir}/cluster.key_secret", f"{keydir}/authorized_keys")
        s.curve_server = True
        s.curve_secretkey = sec.server_secret
        s.curve_publickey = sec.server_public
    port = s.bind_to_random_port("tcp://127.0.0.1")
    threading.Thread(target=_exit_on_stdin_eof, daemon=True).start()
    print(f"tcp://127.0.0.1:{port}", flush=True)
    count = 0
    unpackb, packb = msgpack.unpackb, msgpack.packb
    while True:
        ident, data = s.recv_multipart()
        msg = unpackb(data)
        op = msg[0]
        if op == "echo":
            s.send_multipart([ident, packb(["echo", msg[1]])])
        elif op == "tell":
            count += 1
        elif op == "total":
            s.send_multipart([ident, packb(["total", count])])


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


class Counter(Actor):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def receive(self, message: Any) -> Any:
        if message == "total":
            return self.total
        self.total += 1
        return None


def _security(mode: str, keydir: str) -> Security:
    if mode == "plain":
        return Security.plain()
    return Security.curve(f"{keydir}/cluster.key_secret", f"{keydir}/authorized_keys")


def serve_node(mode: str, keydir: str) -> None:
    node = Node(f"bench-server-{mode}")
    address = node.listen(security=_security(mode, keydir))
    if mode == "curve" and os.environ.get("PYDCOS_BENCH_PEER_POLICY"):
        # As a master with auth on (issue 24): every message read with its User-Id.
        node.set_peer_policy(lambda key: False, lambda key, env: None)
    node.spawn(Echo, name="echo")
    node.spawn(Counter, name="counter")
    threading.Thread(target=_exit_on_stdin_eof, args=(node.shutdown,), daemon=True).start()
    print(address, flush=True)
    threading.Event().wait()


# -- client side ----------------------------------------------------------------------


class Servers:
    """Every subprocess we start, stopped by PID in ``close`` (also on error)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, kind: str, mode: str, keydir: str) -> str:
        p = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", kind, mode, keydir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.procs.append(p)
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        if not line.startswith("tcp://"):
            raise RuntimeError(f"{kind}/{mode} server (pid {p.pid}) did not start: {line!r}")
        return line

    def close(self) -> None:
        for p in self.procs:
            try:
                if p.stdin is not None:
                    p.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + 3.0
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()  # by PID, this child only
                p.wait()


class RawClient:
    def __init__(self, ctx: zmq.Context[Any], address: str, mode: str, keydir: str) -> None:
        d = ctx.socket(zmq.DEALER)
        d.linger = 0
        if mode == "curve":
            sec = Security.curve(
                f"{keydir}/cluster.key", client_secret_file=f"{keydir}/client.key_secret"
            )
            d.curve_serverkey = sec.server_public
            d.curve_publickey = sec.client_public
            d.curve_secretkey = sec.client_secret
        d.connect(address)
        self.sock = d

    def rtt(self, n: int, out: list[float]) -> None:
        send, recv = self.sock.send, self.sock.recv
        packb, unpackb = msgpack.packb, msgpack.unpackb
        clock = time.perf_counter
        payload = dict(PAYLOAD)
        for i in range(n):
            payload["v"] = i
            t0 = clock()
            send(packb(["echo", payload]))
            reply = unpackb(recv())
            out.append(clock() - t0)
            assert reply[1]["v"] == i

    def total(self) -> int:
        self.sock.send(msgpack.packb(["total"]))
        return int(msgpack.unpackb(self.sock.recv())[1])

    def oneway(self, n: int) -> float:
        before = self.total()
        send, packb = self.sock.send, msgpack.packb
        pad = PAYLOAD["pad"]
        t0 = time.perf_counter()
        for i in range(n):
            send(packb(["tell", {"v": i, "pad": pad}]))
        delivered = self.total() - before
        return delivered / (time.perf_counter() - t0)


class OurClient:
    def __init__(self, node: Node, address: str) -> None:
        self.echo = node.ref(f"{address}/echo")
        self.counter = node.ref(f"{address}/counter")

    def rtt(self, n: int, out: list[float]) -> None:
        ask = self.echo.ask
        clock = time.perf_counter
        pad = PAYLOAD["pad"]
        for i in range(n):
            payload = {"v": i, "pad": pad}
            t0 = clock()
            reply = ask(payload)
            out.append(clock() - t0)
            assert reply["v"] == i

    def pipelined(self, windows: int, window: int) -> float:
        ask_future = self.echo.ask_future
        pad = PAYLOAD["pad"]
        t0 = time.perf_counter()
        for w in range(windows):
            futs = [ask_future({"v": i, "pad": pad}, 30.0) for i in range(window)]
            for i, f in enumerate(futs):
                assert f.get()["v"] == i, w
        return windows * window / (time.perf_counter() - t0)

    def tells(self, n: int) -> float:
        before = self.counter.ask("total")
        tell = self.counter.tell
        pad = PAYLOAD["pad"]
        t0 = time.perf_counter()
        for i in range(n):
            tell({"v": i, "pad": pad})
        delivered = self.counter.ask("total", 60.0) - before
        return delivered / (time.perf_counter() - t0)


def p50_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def bench_mode(raw: RawClient, ours: OurClient, rounds: int, log_round: bool) -> dict[str, Any]:
    raw_rtt: list[float] = []
    our_rtt: list[float] = []
    raw_ow: list[float] = []
    our_tells: list[float] = []
    our_pipe: list[float] = []
    warm: list[float] = []
    raw.rtt(WARMUP, warm)
    ours.rtt(WARMUP, warm)
    ours.pipelined(1, PIPE_WINDOW)
    ours.tells(2000)
    raw.oneway(2000)
    for r in range(rounds):
        first_raw = r % 2 == 0
        for _ in range(RTT_BLOCKS):
            if first_raw:
                raw.rtt(RTT_BLOCK, raw_rtt)
                ours.rtt(RTT_BLOCK, our_rtt)
            else:
                ours.rtt(RTT_BLOCK, our_rtt)
                raw.rtt(RTT_BLOCK, raw_rtt)
        if first_raw:
            raw_ow.append(raw.oneway(RAW_ONEWAY))
            our_tells.append(ours.tells(TELLS))
        else:
            our_tells.append(ours.tells(TELLS))
            raw_ow.append(raw.oneway(RAW_ONEWAY))
        our_pipe.append(ours.pipelined(PIPE_WINDOWS, PIPE_WINDOW))
        if log_round:
            print(
                f"  round {r + 1}: rtt raw {p50_us(raw_rtt):.0f}us ours {p50_us(our_rtt):.0f}us,"
                f" pipelined {our_pipe[-1]:,.0f}/s, tells {our_tells[-1]:,.0f}/s,"
                f" raw one-way {raw_ow[-1]:,.0f}/s",
                file=sys.stderr,
            )
    raw_p50 = p50_us(raw_rtt)
    our_p50 = p50_us(our_rtt)
    return {
        "raw_rtt_p50_us": raw_p50,
        "raw_rtt_p90_us": statistics.quantiles(raw_rtt, n=10)[-1] * 1e6,
        "ask_rtt_p50_us": our_p50,
        "ask_rtt_p90_us": statistics.quantiles(our_rtt, n=10)[-1] * 1e6,
        "raw_rtt_p99_us": statistics.quantiles(raw_rtt, n=100)[-1] * 1e6,
        "ask_rtt_p99_us": statistics.quantiles(our_rtt, n=100)[-1] * 1e6,
        "ask_rtt_p50_ratio": our_p50 / raw_p50,
        "pipelined_asks_per_s": statistics.median(our_pipe),
        "tells_per_s": statistics.median(our_tells),
        "raw_oneway_per_s": statistics.median(raw_ow),
        "samples": len(our_rtt),
    }


def bench_ray() -> dict[str, Any] | None:
    """Ray's figures for the same measurements, if ray happens to be installed."""
    try:
        import ray  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)

        @ray.remote
        class RayEcho:
            def __init__(self) -> None:
                self.total = 0

            def echo(self, m: Any) -> Any:
                return m

            def count(self, m: Any) -> None:
                self.total += 1

            def get_total(self) -> int:
                return self.total

        a = RayEcho.remote()  # type: ignore[attr-defined]
        for _ in range(WARMUP):
            ray.get(a.echo.remote(PAYLOAD))
        rtts = []
        for _ in range(RTT_BLOCK * RTT_BLOCKS):
            t0 = time.perf_counter()
            ray.get(a.echo.remote(PAYLOAD))
            rtts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(2):
            ray.get([a.echo.remote(PAYLOAD) for _ in range(PIPE_WINDOW)])
        pipe = 2 * PIPE_WINDOW / (time.perf_counter() - t0)
        before = ray.get(a.get_total.remote())
        t0 = time.perf_counter()
        for _ in range(5000):
            a.count.remote(PAYLOAD)
        delivered = ray.get(a.get_total.remote()) - before
        tells = delivered / (time.perf_counter() - t0)
        return {
            "ask_rtt_p50_us": p50_us(rtts),
            "pipelined_asks_per_s": pipe,
            "tells_per_s": tells,
        }
    except Exception as exc:  # an optional comparison must not sink the bench
        print(f"ray: failed: {exc!r}", file=sys.stderr)
        return None
    finally:
        try:
            ray.shutdown()
        except Exception:
            pass


def print_table(results: dict[str, dict[str, Any]], ray_fig: dict[str, Any] | None) -> None:
    rows = [
        ("round trip p50 (us)", "raw_rtt_p50_us", "ask_rtt_p50_us", "{:,.0f}"),
        ("round trip p90 (us)", "raw_rtt_p90_us", "ask_rtt_p90_us", "{:,.0f}"),
        ("round trip p99 (us)", "raw_rtt_p99_us", "ask_rtt_p99_us", "{:,.0f}"),
        ("pipelined asks/s", None, "pipelined_asks_per_s", "{:,.0f}"),
        ("one-way msgs/s", "raw_oneway_per_s", "tells_per_s", "{:,.0f}"),
    ]
    head = f"{'':22}" + "".join(f"{m + ' raw':>14}{m + ' ours':>14}" for m in results)
    if ray_fig is not None:
        head += f"{'ray':>14}"
    print(head)
    for label, raw_key, our_key, fmt in rows:
        line = f"{label:22}"
        for res in results.values():
            line += f"{fmt.format(res[raw_key]) if raw_key else '-':>14}"
            line += f"{fmt.format(res[our_key]):>14}"
        if ray_fig is not None:
            v = ray_fig.get(our_key)
            line += f"{fmt.format(v) if v is not None else '-':>14}"
        print(line)
    line = f"{'ask / raw p50':22}"
    for res in results.values():
        line += f"{'':>14}{res['ask_rtt_p50_ratio']:>13.2f}x"
    print(line)
    if ray_fig is None:
        print("(ray is not installed: no ray column)")


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        kind, mode, keydir = sys.argv[2:5]
        (serve_raw if kind == "raw" else serve_node)(mode, keydir)
        return 0
    logging.basicConfig(level=logging.ERROR)
    servers = Servers()
    nodes: list[Node] = []
    ctx: zmq.Context[Any] = zmq.Context()
    t_start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="pydcos-bench-") as keydir:
            generate_keys(keydir)
            clients: dict[str, tuple[RawClient, OurClient]] = {}
            for mode in MODES:
                raw_addr = servers.start("raw", mode, keydir)
                node_addr = servers.start("node", mode, keydir)
                node = Node(f"bench-client-{mode}")
                nodes.append(node)
                node.listen(security=_security(mode, keydir))
                clients[mode] = (RawClient(ctx, raw_addr, mode, keydir), OurClient(node, node_addr))
            results: dict[str, dict[str, Any]] = {}
            for mode in MODES:
                print(f"{mode}:", file=sys.stderr)
                raw, ours = clients[mode]
                results[mode] = bench_mode(raw, ours, ROUNDS, log_round=True)
            for raw, _ in clients.values():
                raw.sock.close(0)
    finally:
        for node in nodes:
            node.shutdown()
        servers.close()
        ctx.term()
    ray_fig = bench_ray()
    print_table(results, ray_fig)
    plain, curve = results["plain"], results["curve"]
    met = (
        plain["ask_rtt_p50_ratio"] <= TARGET_RTT_RATIO
        and plain["pipelined_asks_per_s"] >= TARGET_PIPELINED
        and plain["tells_per_s"] >= TARGET_TELLS
    )
    print(
        f"targets (plain): ask/raw p50 <= {TARGET_RTT_RATIO}x, pipelined >= "
        f"{TARGET_PIPELINED:,.0f}/s, tells >= {TARGET_TELLS:,.0f}/s -> "
        f"{'met' if met else 'NOT met'}; {plain['samples']} round trips per side and mode, "
        f"{ROUNDS} rounds, {time.monotonic() - t_start:.0f}s"
    )
    spin_us, helper = io_spin()
    print(f"I/O thread spin after an ask or reply: {spin_us:g} us ({helper}; PYDCOS_IO_SPIN_US)")
    out = {
        "bench": "transport",
        "ask_rtt_p50_ratio": round(plain["ask_rtt_p50_ratio"], 3),
        "ask_rtt_p50_us": round(plain["ask_rtt_p50_us"], 1),
        "raw_rtt_p50_us": round(plain["raw_rtt_p50_us"], 1),
        "ask_rtt_p99_us": round(plain["ask_rtt_p99_us"], 1),
        "raw_rtt_p99_us": round(plain["raw_rtt_p99_us"], 1),
        "pipelined_asks_per_s": round(plain["pipelined_asks_per_s"]),
        "tells_per_s": round(plain["tells_per_s"]),
        "raw_oneway_per_s": round(plain["raw_oneway_per_s"]),
        "curve_ask_rtt_p50_ratio": round(curve["ask_rtt_p50_ratio"], 3),
        "io_spin_us": spin_us,
        "targets_met": met,
    }
    if ray_fig is not None:
        out["ray"] = {k: round(v, 1) for k, v in ray_fig.items()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
