"""CURVE: only authorised keys get a message through."""

from __future__ import annotations

import queue
from pathlib import Path

from tests.transport.conftest import spawn_peer, stop_process, wait_for
from transport import Envelope, Kind, Security, ZmqTransport, generate_keys

FAST = {"heartbeat_interval": 0.05, "heartbeat_timeout": 0.25}
"""For the clients that must give a server up: heard nothing, not even a pong."""


def _client(
    security: Security, downs: list[str] | None = None
) -> tuple[ZmqTransport, queue.Queue[Envelope]]:
    q: queue.Queue[Envelope] = queue.Queue()
    if downs is None:
        return ZmqTransport(None, security=security, on_envelope=q.put).start(), q
    t = ZmqTransport(None, security=security, on_envelope=q.put, on_peer_down=downs.append, **FAST)
    return t.start(), q


def _ask(t: ZmqTransport, peer: str, body: object) -> Envelope:
    env = Envelope(
        sender_node=t.address, sender_actor="me", target="echo", kind=Kind.ASK, body=body
    )
    t.send(peer, env)
    return env


def test_authorised_client_is_served_without_the_cluster_secret(keydir: Path) -> None:
    proc, peer = spawn_peer("curve", keydir)
    try:
        sec = Security.curve(
            keydir / "cluster.key", client_secret_file=keydir / "client.key_secret"
        )
        assert sec.server_secret is None  # a client does not hold the cluster secret
        t, q = _client(sec)
        try:
            env = _ask(t, peer, {"op": "echo", "v": "hi"})
            reply = q.get(timeout=10)
            assert (reply.corr_id, reply.body) == (env.msg_id, "hi")
        finally:
            t.stop()
    finally:
        stop_process(proc)


def test_nodes_with_the_cluster_keypair_talk_to_each_other(keydir: Path) -> None:
    sec = Security.curve(keydir / "cluster.key_secret", keydir / "authorized_keys")
    got: queue.Queue[Envelope] = queue.Queue()
    with (
        ZmqTransport(security=sec, on_envelope=got.put) as a,
        ZmqTransport(security=sec, on_envelope=lambda e: b.reply(e, e.body)) as b,
    ):
        _ask(a, b.address, 42)
        assert got.get(timeout=10).body == 42


def test_unauthorised_key_cannot_deliver_anything(keydir: Path, tmp_path: Path) -> None:
    other = generate_keys(tmp_path / "other")
    served: list[Envelope] = []
    server_sec = Security.curve(keydir / "cluster.key_secret", keydir / "authorized_keys")
    with ZmqTransport(security=server_sec, on_envelope=served.append) as server:
        intruder_sec = Security.curve(
            keydir / "cluster.key", client_secret_file=other.client_secret
        )
        downs: list[str] = []
        t, q = _client(intruder_sec, downs)
        try:
            for i in range(20):
                _ask(t, server.address, i)
            wait_for(lambda: server.counters.get("auth:denied", 0) >= 1, what="auth:denied")
            # The intruder heard nothing back, not even a heartbeat's pong, for a whole
            # heartbeat timeout: its connection never carried anything either way.
            wait_for(lambda: server.address in downs, what="the intruder to give up")
            assert served == [] and q.empty()
        finally:
            t.stop()


def test_plain_client_cannot_reach_a_curve_server(keydir: Path) -> None:
    served: list[Envelope] = []
    server_sec = Security.curve(keydir / "cluster.key_secret", keydir / "authorized_keys")
    with ZmqTransport(security=server_sec, on_envelope=served.append) as server:
        downs: list[str] = []
        t, q = _client(Security.plain(), downs)
        try:
            for i in range(20):
                _ask(t, server.address, i)
            # The handshake never completes: the client hears nothing, not even a pong,
            # for a whole heartbeat timeout, and declares the server down.
            wait_for(lambda: server.address in downs, what="the plain client to give up")
            assert served == [] and q.empty()
        finally:
            t.stop()


def test_generate_keys_writes_loadable_files(tmp_path: Path) -> None:
    k = generate_keys(tmp_path)
    for p in k[:4]:
        assert p.exists()
    assert (k.authorized_keys_dir / "client.key").exists()
    sec = Security.curve(k.server_secret, k.authorized_keys_dir)
    assert len(sec.authorized) == 2 and "secret" not in repr(sec).lower().replace("security", "")
