"""Password hashing: argon2id through argon2-cffi, constant-time checks.

Parameters (reported by ``bench/iam.py``): OWASP's argon2id minimum, m=19 MiB, t=2,
p=1 -- slow enough to make an offline guess expensive, fast enough for a login well
under 50 ms on a small machine. A hash carries its own parameters, so raising them later
keeps old hashes verifiable (``needs_rehash`` says which to upgrade at next login).
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST = 2
MEMORY_COST_KIB = 19456
PARALLELISM = 1
HASH_LEN = 32
SALT_LEN = 16

PARAMETERS = {
    "type": "argon2id",
    "time_cost": TIME_COST,
    "memory_cost_kib": MEMORY_COST_KIB,
    "parallelism": PARALLELISM,
    "hash_len": HASH_LEN,
    "salt_len": SALT_LEN,
}


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=TIME_COST,
        memory_cost=MEMORY_COST_KIB,
        parallelism=PARALLELISM,
        hash_len=HASH_LEN,
        salt_len=SALT_LEN,
    )


def hash_password(password: str) -> str:
    """``password`` -> argon2id encoded hash (``$argon2id$v=19$m=...``), salted."""
    return _hasher().hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("pydcos-dummy-password-for-timing")


def is_password_hash(value: object) -> bool:
    """A string that looks like an argon2id hash (bootstrap files are checked with it)."""
    return isinstance(value, str) and value.startswith("$argon2id$") and len(value) < 512


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. With no hash (unknown uid, a service account)
    the password is still checked against a dummy hash, so a wrong uid costs the same
    time as a wrong password and timing does not reveal which uids exist."""
    target = stored_hash if stored_hash else _dummy_hash()
    try:
        ok = _hasher().verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and bool(stored_hash)
