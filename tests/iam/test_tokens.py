"""Login tokens under attack (issue 24): every forged, altered or stale JWT is refused
with a reason that names what was wrong and never echoes the token."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.iam import (
    AuditLog,
    GatewayAuth,
    IamView,
    Principal,
    Unauthenticated,
    generate_cluster_key,
    generate_keypair,
    issue_token,
    jwks,
    load_private_key,
    parse_authorization,
    service_login_token,
)
from actors.iam import _model as m
from actors.iam._tokens import DEFAULT_TTL, TokenCache, key_id, verify_service_login, verify_token

NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("iam") / "cluster.key"
    generate_cluster_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    return load_private_key(path)


@pytest.fixture(scope="module")
def other_key(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("iam2") / "other.key"
    generate_cluster_key(path)
    return load_private_key(path)


def keys(k):  # type: ignore[no-untyped-def]
    return {key_id(k.public_key()): k.public_key()}


def b64(d: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


def claims(**over: object) -> dict[str, object]:
    c: dict[str, object] = {
        "uid": "alice",
        "iat": int(NOW),
        "nbf": int(NOW),
        "exp": int(NOW) + 3600,
        "iss": "pydcos",
        "aud": "pydcos",
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def test_a_good_token_verifies_with_claims_and_kid(key) -> None:  # type: ignore[no-untyped-def]
    token = issue_token(key, "alice", NOW)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == key_id(key.public_key())
    body = jwt.decode(token, options={"verify_signature": False})
    assert body["exp"] - body["iat"] == DEFAULT_TTL == 5 * 24 * 3600
    assert (body["iss"], body["aud"], body["uid"]) == ("pydcos", "pydcos", "alice")
    assert verify_token(token, keys(key), NOW + 10).uid == "alice"


def test_jwks_has_the_key_a_client_verifies_with(key) -> None:  # type: ignore[no-untyped-def]
    doc = jwks(key.public_key())
    (jwk,) = doc["keys"]
    public = jwt.PyJWK(jwk).key
    token = issue_token(key, "alice", time.time())
    assert jwt.decode(token, public, algorithms=["RS256"], audience="pydcos")["uid"] == "alice"


def _attacks(key, other_key):  # type: ignore[no-untyped-def]
    kid = key_id(key.public_key())
    pub_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    good = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": kid})
    h, p, s = good.split(".")
    hs256 = ".".join(
        [
            b64({"alg": "HS256", "typ": "JWT", "kid": kid}),
            b64(claims()),
        ]
    )
    import hashlib
    import hmac

    mac = hmac.new(pub_pem, hs256.encode(), hashlib.sha256).digest()
    hs256 += "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return {
        "alg none": b64({"alg": "none", "typ": "JWT", "kid": kid}) + "." + b64(claims()) + ".",
        "alg none, signature kept": b64({"alg": "none", "kid": kid}) + "." + p + "." + s,
        "HS256 with the public key as secret": hs256,
        "wrong issuer": jwt.encode(
            claims(iss="evil"), key, algorithm="RS256", headers={"kid": kid}
        ),
        "wrong audience": jwt.encode(
            claims(aud="other"), key, algorithm="RS256", headers={"kid": kid}
        ),
        "no audience": jwt.encode(claims(aud=None), key, algorithm="RS256", headers={"kid": kid}),
        "expired": jwt.encode(
            claims(exp=int(NOW) - 3600), key, algorithm="RS256", headers={"kid": kid}
        ),
        "no exp": jwt.encode(claims(exp=None), key, algorithm="RS256", headers={"kid": kid}),
        "not yet valid": jwt.encode(
            claims(nbf=int(NOW) + 3600), key, algorithm="RS256", headers={"kid": kid}
        ),
        "tampered payload": h + "." + b64(claims(uid="root")) + "." + s,
        "signed by another key, same kid": jwt.encode(
            claims(), other_key, algorithm="RS256", headers={"kid": kid}
        ),
        "unknown kid": jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "nope"}),
        "no kid": jwt.encode(claims(), key, algorithm="RS256"),
        "RS512": jwt.encode(claims(), key, algorithm="RS512", headers={"kid": kid}),
        "PS256": jwt.encode(claims(), key, algorithm="PS256", headers={"kid": kid}),
        "not a jwt": "hello",
        "empty": "",
        "huge": "a" * 100_000,
        "uid not a string": jwt.encode(claims(uid=7), key, algorithm="RS256", headers={"kid": kid}),
        "truncated signature": good[:-10],
    }


ATTACKS = [
    "alg none",
    "alg none, signature kept",
    "HS256 with the public key as secret",
    "wrong issuer",
    "wrong audience",
    "no audience",
    "expired",
    "no exp",
    "not yet valid",
    "tampered payload",
    "signed by another key, same kid",
    "unknown kid",
    "no kid",
    "RS512",
    "PS256",
    "not a jwt",
    "empty",
    "huge",
    "uid not a string",
    "truncated signature",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_are_unauthenticated(key, other_key, attack: str) -> None:  # type: ignore[no-untyped-def]
    token = _attacks(key, other_key)[attack]
    with pytest.raises(Unauthenticated) as err:
        verify_token(token, keys(key), NOW)
    if len(token) > 20:
        assert token not in str(err.value) and token[-20:] not in str(err.value)


def auth_for(key, state=None) -> GatewayAuth:  # type: ignore[no-untyped-def]
    if state is None:
        state = m.add_user(None, "alice", password_hash="$argon2id$x")
    return GatewayAuth(keys(key), IamView(state, 1), AuditLog(None, lambda: NOW), lambda: NOW)


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_gateway_refuses_attacks_even_after_a_good_token_is_cached(
    key, other_key, attack: str
) -> None:  # type: ignore[no-untyped-def]
    auth = auth_for(key)
    good = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": key_id(key.public_key())})
    assert auth.authenticate(f"token={good}") == Principal("alice", "user", False)
    with pytest.raises(Unauthenticated):
        auth.authenticate(f"token={_attacks(key, other_key)[attack]}")


def test_authorization_header_forms() -> None:
    assert parse_authorization("token=abc") == "abc"
    assert parse_authorization("Bearer abc") == "abc"
    assert parse_authorization(" token=abc ") == "abc"
    for bad in (None, "", "Basic YWxhZGRpbjpvcGVu", "token=", "abc"):
        assert parse_authorization(bad) is None


def test_missing_or_malformed_header_is_unauthenticated(key) -> None:  # type: ignore[no-untyped-def]
    auth = auth_for(key)
    for header in (None, "", "Basic x"):
        with pytest.raises(Unauthenticated):
            auth.authenticate(header)


def test_a_deleted_user_token_stops_working_at_once(key) -> None:  # type: ignore[no-untyped-def]
    auth = auth_for(key)
    token = issue_token(key, "alice", NOW)
    auth.authenticate(f"Bearer {token}")
    auth.view.update({"users": {}, "groups": {}, "acls": {}}, 2)
    with pytest.raises(Unauthenticated, match="does not exist"):
        auth.authenticate(f"Bearer {token}")


def test_cache_holds_a_token_until_it_expires() -> None:
    from actors.iam._tokens import LEEWAY, Verified

    cache = TokenCache(limit=2)
    cache.put("a.b.c", Verified("alice", NOW + 10), NOW)
    assert cache.get("a.b.c", NOW + 5) == Verified("alice", NOW + 10)
    assert cache.get("a.b.X", NOW + 5) is None  # another token, same signature part? no
    assert cache.get("a.b.c", NOW + 11 + LEEWAY) is None
    for i in range(5):
        cache.put(f"t{i}", Verified("u", NOW + 100), NOW)
    assert len(cache._by_sig) <= 2


def test_permissions_follow_the_current_state(key) -> None:  # type: ignore[no-untyped-def]
    s = m.add_user(None, "alice", password_hash="$argon2id$x")
    auth = auth_for(key, s)
    who = auth.authenticate("token=" + issue_token(key, "alice", NOW))
    assert not auth.allowed(who, "dcos:adminrouter:service:marathon", "full")
    auth.view.update(m.grant(s, "dcos:adminrouter:service:marathon", "users", "alice", "full"), 2)
    assert auth.allowed(who, "dcos:adminrouter:service:marathon", "full")
    assert auth.allowed(Principal("agent", "node", False), "dcos:anything", "full")


def test_curve_key_maps_to_its_service_account(key) -> None:  # type: ignore[no-untyped-def]
    _, pub = generate_keypair()
    z85 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    s = m.add_user(None, "svc", public_key=pub, curve_key=z85)
    auth = auth_for(key, s)
    assert auth.principal_for_curve_key(z85) == Principal("svc", "service", False)
    assert auth.principal_for_curve_key("x" * 40) is None


# -- service-account login -------------------------------------------------------------


def test_service_login_token_verifies_with_the_registered_key() -> None:
    priv, pub = generate_keypair()
    verify_service_login(service_login_token(priv, "svc", NOW), "svc", pub, NOW)


@pytest.mark.parametrize(
    "case",
    ["other key", "other uid", "expired", "a year ahead", "HS256 public", "no key", "alg none"],
)
def test_service_login_attacks(case: str) -> None:
    priv, pub = generate_keypair()
    priv2, _ = generate_keypair()
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    k = load_pem_private_key(priv.encode(), None)
    assert isinstance(k, rsa.RSAPrivateKey)
    token = {
        "other key": lambda: service_login_token(priv2, "svc", NOW),
        "other uid": lambda: service_login_token(priv, "root", NOW),
        "expired": lambda: jwt.encode({"uid": "svc", "exp": int(NOW) - 600}, k, "RS256"),
        "a year ahead": lambda: jwt.encode({"uid": "svc", "exp": int(NOW) + 3e7}, k, "RS256"),
        "HS256 public": lambda: jwt.encode({"uid": "svc", "exp": int(NOW) + 60}, "x" * 32, "HS256"),
        "no key": lambda: service_login_token(priv, "svc", NOW),
        "alg none": lambda: b64({"alg": "none"}) + "." + b64({"uid": "svc", "exp": NOW + 9}) + ".",
    }[case]()
    with pytest.raises(Unauthenticated):
        verify_service_login(token, "svc", None if case == "no key" else pub, NOW)


def test_bad_cluster_key_files_are_named(tmp_path: Path) -> None:
    from actors.iam import IamConfigError

    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(IamConfigError, match=r"bad\.pem"):
        load_private_key(tmp_path / "bad.pem")
    with pytest.raises(IamConfigError, match="cannot read"):
        load_private_key(tmp_path / "missing.pem")
