"""The zookeeper member's light readiness entry point (``ready.py``): run as the svc.yml
runs it (``python -S -m``, the project on ``PYTHONPATH``) against a socket answering
ZooKeeper's ``srvr``/``conf`` four-letter words, it says what ``ensemble.ready`` says."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from actors.sdk.services.zookeeper.ensemble import Member, ready

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def four_letter_server(replies: dict[str, str]) -> Iterator[int]:
    """A loopback server answering each four-letter word with ``replies[word]``."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.1)  # accept wakes to see stop
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            with conn:
                word = conn.recv(4).decode()
                conn.sendall(replies.get(word, "").encode())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield int(srv.getsockname()[1])
    finally:
        stop.set()
        srv.close()
        t.join(5)


def run_ready(port: int, index: int = 0) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "POD_INSTANCE_INDEX": str(index),
        "PORT_CLIENT": str(port),
        "PORT_QUORUM": "2888",
        "PORT_ELECTION": "3888",
        "HOST": "127.0.0.1",
    }
    return subprocess.run(
        [sys.executable, "-S", "-m", "actors.sdk.services.zookeeper.ready"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )


@pytest.mark.parametrize(
    ("mode", "membership_line"),
    [
        ("follower", "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:{port}"),
        ("leader", "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:{port}"),
        ("follower", "server.1=127.0.0.1:2888:3888:observer;127.0.0.1:{port}"),
        ("looking", "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:{port}"),
        ("follower", "server.2=127.0.0.1:2888:3888:participant;127.0.0.1:{port}"),
    ],
)
def test_ready_entry_point_agrees_with_the_rule(mode: str, membership_line: str) -> None:
    replies: dict[str, str] = {}
    with four_letter_server(replies) as port:  # filled in once the port is known
        line = membership_line.format(port=port)
        replies["srvr"] = f"Zookeeper version: 3.8.0\nMode: {mode}\nNode count: 5\n"
        replies["conf"] = f"clientPort={port}\nmembership: \n{line}\nversion=100000000\n"
        done = run_ready(port)
        me = Member(1, "127.0.0.1", 2888, 3888, port)
        ok, why = ready(me, replies["srvr"], replies["conf"])
    assert done.returncode == (0 if ok else 1), done.stderr
    assert why in done.stdout


def test_no_member_answering_is_not_ready_and_bad_env_is_named() -> None:
    with four_letter_server({}) as port:
        pass
    done = run_ready(port)  # nothing listens there any more
    assert done.returncode == 1
    assert "not serving in a quorum" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-S", "-m", "actors.sdk.services.zookeeper.ready"],
        env={"PYTHONPATH": str(ROOT), "PORT_CLIENT": "x"},
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )
    assert bad.returncode == 1
    assert "POD_INSTANCE_INDEX" in bad.stderr
