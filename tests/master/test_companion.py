"""Node services apart from the master (``actors.master._companion``): the companion's
command line, and the actor that keeps a real process running (no cluster here; the
whole path through a cluster is tests/dns/test_companion_e2e.py)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.master._companion import Companion, CompanionActor, companion_argv, zero_port
from console.cli import build_parser
from runtime import Node
from runtime.testing import wait_for

REPO = Path(__file__).resolve().parents[2]


def test_zero_port_keeps_the_interface_and_frees_the_port() -> None:
    assert zero_port("tcp://10.0.0.5:5050") == "tcp://10.0.0.5:0"
    assert zero_port("tcp://127.0.0.1:0") == "tcp://127.0.0.1:0"
    assert zero_port("tcp://host") == "tcp://host"


def test_the_companions_flags_come_after_the_masters_and_win() -> None:
    master = ["--log-level", "INFO", "master", "--zk", "127.0.0.1:2181/pydcos"]
    master += ["--bind", "tcp://10.0.0.5:5050", "--advertise", "tcp://10.0.0.5:5050"]
    master += ["--http-host", "10.0.0.5", "--http-port", "8080", "--node-services", "dns,iam"]
    argv = companion_argv(master, ["dns"], ["--dns-host", "10.0.0.5", "--dns-port", "5353"])
    assert argv[:3] == [sys.executable, "-m", "console.cli"]
    args = build_parser().parse_args(argv[3:])
    assert args.log_level == "INFO" and args.zk == "127.0.0.1:2181/pydcos"
    assert args.companion_of == os.getpid()
    assert args.node_services == "dns" and args.node_services_apart == ""
    assert args.services == ""
    assert args.bind == "tcp://10.0.0.5:0" and args.advertise == "tcp://10.0.0.5:0"
    assert (args.http_host, args.http_port) == ("127.0.0.1", 0)
    assert (args.dns_host, args.dns_port) == ("10.0.0.5", 5353)


def test_an_unknown_service_to_run_apart_is_one_readable_line() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    argv = ["master", "--zk", "127.0.0.1:1", "--insecure-dev", "--node-services-apart", "dns,nope"]
    r = subprocess.run(
        [sys.executable, "-m", "console.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert r.returncode == 1
    assert (
        r.stderr.strip()
        .splitlines()[-1]
        .startswith("pydcos: --node-services-apart: 'nope' is not one of")
    )


@pytest.fixture
def node() -> Iterator[Node]:
    n = Node("companion-test")
    yield n
    n.shutdown(10)


def test_a_companion_that_exits_is_started_again_and_stopped_with_its_actor(
    node: Node, tmp_path: Path
) -> None:
    # A stand-in companion: says where it serves, lives 0.3 s (the first time), then exits.
    marker = tmp_path / "runs"
    script = (
        "import sys, time, pathlib\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "n = len(p.read_text()) if p.exists() else 0\n"
        "p.write_text('x' * (n + 1))\n"
        "print(f'companion http http://127.0.0.1:{n + 1}', flush=True)\n"
        "print('a line of its own', flush=True)\n"
        "time.sleep(0.3 if n == 0 else 600)\n"
    )
    companion = Companion([sys.executable, "-c", script])
    ref = node.spawn(CompanionActor, companion, check_every=0.05)
    wait_for(lambda: companion.restarts == 1, timeout=30, what="a restart after it exited")
    wait_for(lambda: companion.url == "http://127.0.0.1:2", timeout=30, what="the new URL")
    popen = companion.popen
    assert popen is not None and popen.poll() is None
    assert node.stop(ref, timeout=30)
    wait_for(lambda: popen.poll() is not None, timeout=30, what="the companion stopped")
    assert companion.popen is None and companion.url == ""


def test_a_companion_that_cannot_start_is_tried_again_without_crashing_its_actor(
    node: Node, tmp_path: Path
) -> None:
    companion = Companion([str(tmp_path / "no-such-interpreter")])
    ref = node.spawn(CompanionActor, companion, check_every=0.05)
    wait_for(lambda: companion.restarts >= 1, timeout=30, what="a second attempt")
    assert companion.popen is None and companion.failed_spawn
    assert node.stop(ref, timeout=30)


def catches_sigterm(pid: int) -> bool:
    """Whether ``pid`` has a handler for SIGTERM (``SigCgt`` in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (15 - 1)))
    return False


def test_a_process_waiting_for_its_signal_stops_however_many_sigterms_come() -> None:
    """``_wait_for_signal``'s handler takes no lock: a companion signalled by its dying
    master and by ``cluster down`` at once hung in ``Event.set`` (CI, 2026-12-07)."""
    import signal
    import time

    code = "from console.cli import _wait_for_signal\nprint('waiting', flush=True)\n"
    code += "_wait_for_signal()\n"
    for _ in range(5):
        p = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
        try:
            assert p.stdout is not None and p.stdout.readline() == "waiting\n"
            wait_for(functools.partial(catches_sigterm, p.pid), timeout=30, what="its handler")
            end = time.monotonic() + 0.5
            while time.monotonic() < end and p.poll() is None:
                p.send_signal(signal.SIGTERM)
            # It stops (the old handler hung for good); a SIGTERM that lands while the
            # interpreter exits, its handlers reset, ends it a moment sooner.
            assert p.wait(30) in (0, -signal.SIGTERM)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
