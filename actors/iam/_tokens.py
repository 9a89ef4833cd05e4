"""Login tokens: RS256 JWTs signed by the cluster key, and their verification.

Pure (``now`` is a parameter): pyjwt checks the signature and the algorithm, this module
checks the times against ``now``, so tests need no clock. Only RS256 is accepted, with
the key the header's ``kid`` names: ``alg: none``, HS256 "signed" with the public key
as a secret, any other algorithm, a wrong issuer or audience, an expired or not yet
valid token, a tampered payload or an unknown ``kid`` are all ``Unauthenticated`` with
a reason that never contains the token.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.iam._errors import IamConfigError, InvalidInput, Unauthenticated

ISSUER = "pydcos"
AUDIENCE = "pydcos"
ALGORITHM = "RS256"
DEFAULT_TTL = 5 * 24 * 3600
"""Login token lifetime: 5 days, as DC/OS' default."""
LEEWAY = 30.0
"""Seconds of clock skew tolerated on ``exp``/``nbf`` (masters' clocks differ a little)."""
MAX_TOKEN_BYTES = 8192
SA_LOGIN_MAX_TTL = 24 * 3600
"""A service account's login JWT may not claim to live longer than a day."""


def parse_authorization(value: str | None) -> str | None:
    """``Authorization`` header -> the raw JWT: ``token=<jwt>`` (DC/OS) or
    ``Bearer <jwt>``; anything else, or nothing, is None."""
    if not value:
        return None
    value = value.strip()
    for prefix in ("token=", "Bearer ", "bearer "):
        if value.startswith(prefix):
            token = value[len(prefix) :].strip()
            return token or None
    return None


# -- keys ----------------------------------------------------------------------------


def generate_cluster_key(path: Path | str) -> None:
    """Write a new RSA 2048 private key, PEM (PKCS#8), mode 0600 from the first byte."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(path, 0o600)


def generate_keypair() -> tuple[str, str]:
    """A service account's keypair as the Enterprise CLI's ``keypair`` makes it:
    (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    pub = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return priv, pub


def load_private_key(path: Path | str) -> rsa.RSAPrivateKey:
    """The cluster key (``--iam-key``); IamConfigError names the file and what is wrong."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise IamConfigError(f"iam-key: cannot read {str(path)!r}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise IamConfigError(f"iam-key: {str(path)!r} is not a PEM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise IamConfigError(f"iam-key: {str(path)!r} is not an RSA key of 2048 bits or more")
    return key


def check_public_key(pem: object) -> str:
    """A service account's public key: PEM, RSA, >= 2048 bits (400 otherwise)."""
    if not isinstance(pem, str) or not pem.strip():
        raise InvalidInput("public_key: is not a PEM string")
    if len(pem) > 16384:
        raise InvalidInput("public_key: is longer than 16384 characters")
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnicodeError):
        raise InvalidInput("public_key: is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise InvalidInput("public_key: must be an RSA key of 2048 bits or more")
    return pem.strip() + "\n"


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(public: rsa.RSAPublicKey) -> str:
    """``kid``: a short digest of the public key (RFC 7638-style thumbprint)."""
    nums = public.public_numbers()
    return _b64(hashlib.sha256(_int_bytes(nums.n) + _int_bytes(nums.e)).digest())[:22]


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwks(public: rsa.RSAPublicKey) -> dict[str, Any]:
    """``GET /acs/api/v1/auth/jwks``: the JWK set clients verify tokens with."""
    nums = public.public_numbers()
    return {
        "keys": [
            {
                "kty": "RSA",
                "alg": ALGORITHM,
                "use": "sig",
                "kid": key_id(public),
                "n": _b64(_int_bytes(nums.n)),
                "e": _b64(_int_bytes(nums.e)),
            }
        ]
    }


# -- tokens --------------------------------------------------------------------------


def issue_token(key: rsa.RSAPrivateKey, uid: str, now: float, ttl: float = DEFAULT_TTL) -> str:
    """A login token for ``uid``: RS256, claims uid/exp/iat/nbf/iss/aud, header kid."""
    t = int(now)
    claims = {
        "uid": uid,
        "iat": t,
        "nbf": t,
        "exp": t + int(ttl),
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": key_id(key.public_key())})


@dataclass(frozen=True, slots=True)
class Verified:
    uid: str
    exp: float


def _header(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or not token:
        raise Unauthenticated("no token")
    if len(token) > MAX_TOKEN_BYTES:
        raise Unauthenticated(f"token is longer than {MAX_TOKEN_BYTES} bytes")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated("token is not a JWT") from None
    if header.get("alg") != ALGORITHM:
        raise Unauthenticated(f"token algorithm {str(header.get('alg'))[:20]!r} is not RS256")
    return header


def _check_times(claims: Mapping[str, Any], now: float) -> float:
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise Unauthenticated("token has no exp claim")
    if now > exp + LEEWAY:
        raise Unauthenticated("token has expired")
    if nbf is not None:
        if not isinstance(nbf, int | float) or isinstance(nbf, bool):
            raise Unauthenticated("token nbf claim is not a number")
        if now + LEEWAY < nbf:
            raise Unauthenticated("token is not valid yet (nbf in the future)")
    return float(exp)


def verify_token(token: str, keys: Mapping[str, rsa.RSAPublicKey], now: float) -> Verified:
    """Check a cluster login token against the public keys by ``kid``; Unauthenticated
    with the reason otherwise."""
    header = _header(token)
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise Unauthenticated("token was signed by an unknown key (kid)")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["exp", "uid", "iss", "aud"],
            },
        )
    except jwt.InvalidAudienceError:
        raise Unauthenticated("token audience is not pydcos") from None
    except jwt.InvalidIssuerError:
        raise Unauthenticated("token issuer is not pydcos") from None
    except jwt.InvalidSignatureError:
        raise Unauthenticated("token signature does not verify") from None
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthenticated(f"token has no {exc.claim} claim") from None
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"token is invalid: {type(exc).__name__}") from None
    uid = claims.get("uid")
    if not isinstance(uid, str) or not uid:
        raise Unauthenticated("token uid claim is not a string")
    return Verified(uid, _check_times(claims, now))


def verify_service_login(token: str, uid: str, public_key_pem: str | None, now: float) -> None:
    """A service account's login JWT (DC/OS' ``{uid, token}``): RS256, signed with the
    account's private key, claims ``uid`` (== the login's uid) and ``exp`` (at most a day
    ahead). Unauthenticated otherwise, also when the uid has no public key."""
    _header(token)
    if not public_key_pem:
        # Still parse the token so an unknown uid is not obviously faster.
        raise Unauthenticated(f"uid {uid!r} is not a service account with a public key")
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
        claims = jwt.decode(
            token,
            key,  # type: ignore[arg-type]
            algorithms=[ALGORITHM],
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "require": ["exp", "uid"],
            },
        )
    except jwt.InvalidSignatureError:
        raise Unauthenticated("login token signature does not verify") from None
    except (jwt.PyJWTError, ValueError) as exc:
        raise Unauthenticated(f"login token is invalid: {type(exc).__name__}") from None
    if claims.get("uid") != uid:
        raise Unauthenticated("login token uid claim does not match uid")
    exp = _check_times(claims, now)
    if exp > now + SA_LOGIN_MAX_TTL + LEEWAY:
        raise Unauthenticated("login token exp is more than a day ahead")


def service_login_token(private_key_pem: str, uid: str, now: float, ttl: float = 300) -> str:
    """What a service account sends to log in (the Enterprise CLI / dcos-sdk do the same)."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return jwt.encode(
        {"uid": uid, "exp": int(now + ttl)},
        key,  # type: ignore[arg-type]
        algorithm=ALGORITHM,
    )


class TokenCache:
    """Verified tokens until they expire: a request whose token was already verified
    costs one dict lookup instead of an RSA verification. Keyed by the WHOLE token, not
    only its signature part: a payload tampered under a cached signature is a miss, so it
    is verified (and refused). Bounded: when full, expired entries go, then everything
    (the next requests re-verify)."""

    def __init__(self, limit: int = 10000) -> None:
        self.limit = limit
        self._by_sig: dict[str, Verified] = {}

    def get(self, token: str, now: float) -> Verified | None:
        sig = token
        hit = self._by_sig.get(sig)
        if hit is None:
            return None
        if now > hit.exp + LEEWAY:
            self._by_sig.pop(sig, None)
            return None
        return hit

    def put(self, token: str, verified: Verified, now: float) -> None:
        if len(self._by_sig) >= self.limit:
            self._by_sig = {s: v for s, v in self._by_sig.items() if now <= v.exp + LEEWAY}
            if len(self._by_sig) >= self.limit:
                self._by_sig.clear()
        self._by_sig[token] = verified

    def clear(self) -> None:
        self._by_sig.clear()
