"""CURVE: only authorised keys get a message through."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from tests.transport.conftest import spawn_peer, stop_process, wait_for
from transport import Envelope, Kind, Security, ZmqTransport, generate_keys


def _client(security: Security) -> tuple[ZmqTransport, queue.Queue[Envelope]]:
    q: queue.Queue[Envelope] = queue.Queue()
    return ZmqTransport(None, security=security, on_envelope=q.put).start(), q


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
        t, q = _client(intruder_sec)
        try:
            for i in range(20):
                _ask(t, server.address, i)
            wait_for(lambda: server.counters.get("auth:denied", 0) >= 1, what="auth:denied")
            time.sleep(0.5)
            assert served == [] and q.empty()
        finally:
            t.stop()


def test_plain_client_cannot_reach_a_curve_server(keydir: Path) -> None:
    served: list[Envelope] = []
    server_sec = Security.curve(keydir / "cluster.key_secret", keydir / "authorized_keys")
    with ZmqTransport(security=server_sec, on_envelope=served.append) as server:
        t, q = _client(Security.plain())
        try:
            for i in range(20):
                _ask(t, server.address, i)
            time.sleep(1.0)  # nothing to poll for: the handshake never completes
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
