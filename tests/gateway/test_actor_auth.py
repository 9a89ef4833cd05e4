"""The actor API's identities (issue 24): a connection's CURVE key, authenticated by the
transport's ZAP handler, names a service account whose permissions every message it
sends is checked against; the nodes' keys stay trusted. Real ZeroMQ (CURVE) between two
in-process nodes; the rules themselves, pure."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq.auth

from actors import protocol as p
from actors.gateway import ActorApiAuth
from actors.gateway._actor_auth import master_needs
from runtime import Actor, AskTimeout, Node, RemoteError
from transport import Envelope, Kind, Security, generate_keys


@dataclass(frozen=True, slots=True)
class Who:
    uid: str
    kind: str = "service"
    superuser: bool = False


class Auth:
    """Stand-in for ``actors.iam.GatewayAuth``: keys -> accounts, grants as a set."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.grants: set[tuple[str, str, str]] = set()
        self.audited: list[dict[str, Any]] = []

    def principal_for_curve_key(self, key: str) -> Who | None:
        uid = self.keys.get(key)
        return Who(uid) if uid else None

    def allowed(self, who: Who, rid: str, action: str) -> bool:
        return (who.uid, rid, action) in self.grants or (who.uid, rid, "full") in self.grants

    def authenticate(self, authorization: str | None) -> Any:
        raise NotImplementedError

    def audit(self, who: Any, what: str, allowed: bool, **detail: str) -> None:
        self.audited.append({"uid": getattr(who, "uid", None), "what": what, **detail})


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


@dataclass
class Setup:
    server: Node
    auth: Auth
    keys: Path
    tmp: Path

    def client(self, name: str, register_as: str | None = None) -> tuple[Node, str]:
        """A connect-only node with its own CURVE keypair (a script's)."""
        d = self.tmp / name
        d.mkdir()
        public, secret = zmq.auth.create_certificates(d, "client")
        shutil.copy(self.keys / "cluster.key", d / "cluster.key")
        key = zmq.auth.load_certificate(public)[0].decode()
        if register_as:
            self.auth.keys[key] = register_as
        n = Node(name, on_fatal=lambda reason: None)
        n.listen(None, security=Security.curve(d / "cluster.key", client_secret_file=secret))
        return n, key


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    keys = generate_keys(tmp_path / "keys")
    server = Node("master", on_fatal=lambda reason: None)
    server.listen(
        security=Security.curve(keys.server_secret, keys.authorized_keys_dir),
        heartbeat_interval=0.2,
        heartbeat_timeout=1.0,
    )
    server.spawn(Echo, name="echo")
    auth = Auth()
    actor_auth = ActorApiAuth(auth)
    server.set_peer_policy(actor_auth.key_check, actor_auth.policy)
    s = Setup(server, auth, tmp_path / "keys", tmp_path)
    yield s
    server.shutdown(5)


def test_a_service_account_key_acts_as_its_account(setup: Setup) -> None:
    script, _ = setup.client("ci-script", register_as="ci")
    try:
        echo = script.ref(f"{setup.server.address}/echo")
        with pytest.raises(RemoteError, match="'ci' may not full dcos:adminrouter:ops:actors"):
            echo.ask("hello", timeout=10)
        assert setup.auth.audited[-1]["uid"] == "ci"
        assert setup.auth.audited[-1]["rid"] == "dcos:adminrouter:ops:actors"
        setup.auth.grants.add(("ci", "dcos:adminrouter:ops:actors", "full"))
        assert echo.ask("hello", timeout=10) == "hello"
    finally:
        script.shutdown(5)


def test_the_cluster_s_own_keys_stay_trusted(setup: Setup, tmp_path: Path) -> None:
    client = Node("cli", on_fatal=lambda reason: None)
    client.listen(
        None,
        security=Security.curve(
            setup.keys / "cluster.key", client_secret_file=setup.keys / "client.key_secret"
        ),
    )
    try:
        assert client.ref(f"{setup.server.address}/echo").ask("hi", timeout=10) == "hi"
        assert setup.auth.audited == []  # never asked: a node key
    finally:
        client.shutdown(5)


def test_an_unknown_key_cannot_connect(setup: Setup) -> None:
    stranger, _ = setup.client("stranger")  # registered nowhere
    try:
        with pytest.raises(AskTimeout):  # no answer: ZAP refused the connection
            stranger.ref(f"{setup.server.address}/echo").ask("hi", timeout=2)
        assert setup.server.transport_counters.get("auth:denied", 0) >= 1
    finally:
        stranger.shutdown(5)


def _env(target: str, body: Any, sender: str = "client:abc") -> Envelope:
    return Envelope(sender_node=sender, target=target, kind=Kind.ASK, body=body)


def test_master_rules_mirror_admin_router_and_mesos_roles() -> None:
    info = p.FrameworkInfo(name="fw", roles=["web", "batch"])
    assert master_needs(p.Subscribe(info, "tcp://x/fw")) == [
        ("dcos:adminrouter:ops:mesos", "full"),
        ("dcos:mesos:master:framework:role:web", "create"),
        ("dcos:mesos:master:framework:role:batch", "create"),
    ]
    assert master_needs(p.Teardown("fw-1")) == [("dcos:adminrouter:ops:mesos", "full")]
    assert master_needs(p.Kill("fw-1", "t1")) == [("dcos:adminrouter:ops:mesos", "full")]
    assert master_needs(p.GetState("state")) == [("dcos:adminrouter:ops:mesos", "full")]
    assert isinstance(master_needs("register me as an agent"), str)

    auth = Auth()
    auth.keys["K"] = "ci"
    auth.grants |= {
        ("ci", "dcos:adminrouter:ops:mesos", "full"),
        ("ci", "dcos:mesos:master:framework:role:web", "create"),
    }
    a = ActorApiAuth(auth)
    assert a.key_check("K") and not a.key_check("other")
    web = p.FrameworkInfo(name="fw", roles=["web"])
    assert a.policy("K", _env(p.MASTER_ACTOR, p.Subscribe(web, "tcp://x/fw"))) is None
    both = p.Subscribe(info, "tcp://x/fw")
    why = a.policy("K", _env(p.MASTER_ACTOR, both))
    assert why == "forbidden: 'ci' may not create dcos:mesos:master:framework:role:batch"
    spoof = p.FrameworkInfo(name="fw", roles=["web"], principal="marathon")
    why = a.policy("K", _env(p.MASTER_ACTOR, p.Subscribe(spoof, "tcp://x/fw")))
    assert why is not None and "principal 'marathon'" in why
    assert a.policy("K", _env(p.MASTER_ACTOR, p.Teardown("fw-1"))) is None
    assert a.policy("gone", _env(p.MASTER_ACTOR, p.Teardown("fw-1"))) is not None
