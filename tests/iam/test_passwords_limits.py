"""Passwords (argon2id, constant-time checks), the login rate limiter, the bootstrap
file, the audit log and the CLI token store: pure or plain files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from actors.iam import (
    IamConfigError,
    hash_password,
    read_bootstrap,
    verify_password,
    write_bootstrap,
)
from actors.iam._audit import AuditLog, audit_path
from actors.iam._passwords import PARAMETERS
from actors.iam._ratelimit import LoginLimiter


def test_hash_is_argon2id_with_the_reported_parameters() -> None:
    h = hash_password("correct horse")
    assert h.startswith("$argon2id$v=19$")
    assert f"m={PARAMETERS['memory_cost_kib']},t={PARAMETERS['time_cost']}" in h
    assert "correct horse" not in h
    assert hash_password("correct horse") != h  # salted
    assert verify_password(h, "correct horse")
    assert not verify_password(h, "correct hors")
    assert not verify_password(None, "correct horse")  # unknown uid: dummy hash, False
    assert not verify_password("not a hash", "x")


def test_failed_logins_are_limited_per_uid_then_released() -> None:
    lim = LoginLimiter(uid_limit=3, address_limit=100, window=60)
    for i in range(3):
        assert lim.retry_after("bob", "1.1.1.1", 100 + i) == (0, "")
        lim.fail("bob", "1.1.1.1", 100 + i)
    wait, by = lim.retry_after("bob", "1.1.1.1", 103)
    assert by == "uid" and 1 <= wait <= 60
    assert lim.retry_after("alice", "1.1.1.1", 103) == (0, "")  # other uids unaffected
    assert lim.retry_after("bob", "1.1.1.1", 161) == (0, "")  # the window moved on


def test_failed_logins_are_limited_per_address_across_uids() -> None:
    lim = LoginLimiter(uid_limit=100, address_limit=4, window=60)
    for i in range(4):
        lim.fail(f"user{i}", "9.9.9.9", 10)
    assert lim.retry_after("someone-else", "9.9.9.9", 11)[1] == "address"
    assert lim.retry_after("someone-else", "8.8.8.8", 11) == (0, "")


def test_bootstrap_file_is_0600_and_holds_only_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "bootstrap.json"
    write_bootstrap(path, "bootstrapuser", "s3cret-pass")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "s3cret-pass" not in path.read_text()
    uid, h = read_bootstrap(path)
    assert uid == "bootstrapuser" and verify_password(h, "s3cret-pass")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("nope", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"uid": "a/b", "password_hash": "$argon2id$x"}', "uid"),
        ('{"uid": "a", "password_hash": "plain"}', "argon2id"),
    ],
)
def test_bad_bootstrap_files_are_named(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(IamConfigError, match=match):
        read_bootstrap(path)


def test_audit_lines_are_json_and_drop_secret_fields(tmp_path: Path) -> None:
    path = audit_path(str(tmp_path / "master-0.log"))
    assert path == tmp_path / "master-0.iam-audit.log"
    log = AuditLog(path, lambda: 1234.5)
    log.append("alice", "GET /marathon/v2/apps", False, rid="dcos:x", password="p4ss", token="t")
    (line,) = path.read_text().splitlines()
    doc = json.loads(line)
    assert doc == {
        "time": 1234.5,
        "who": "alice",
        "what": "GET /marathon/v2/apps",
        "allowed": False,
        "rid": "dcos:x",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_cli_token_store_is_0600_keyed_by_target_env_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console._auth_cmds import forget_token, load_token, save_token, token_store_path

    monkeypatch.setenv("PYDCOS_HOME", str(tmp_path))
    monkeypatch.delenv("PYDCOS_TOKEN", raising=False)
    assert load_token("127.0.0.1:2181/pydcos") is None
    save_token("127.0.0.1:2181/pydcos", "tok-a")
    save_token("127.0.0.1:2182/pydcos", "tok-b")
    assert stat.S_IMODE(token_store_path().stat().st_mode) == 0o600
    assert load_token("127.0.0.1:2181/pydcos") == "tok-a"
    assert load_token("127.0.0.1:2182/pydcos") == "tok-b"
    monkeypatch.setenv("PYDCOS_TOKEN", "from-env")
    assert load_token("127.0.0.1:2181/pydcos") == "from-env"
    monkeypatch.delenv("PYDCOS_TOKEN")
    assert forget_token("127.0.0.1:2181/pydcos") and not forget_token("127.0.0.1:2181/pydcos")
    assert load_token("127.0.0.1:2181/pydcos") is None


def test_bootstrap_creates_the_superuser_only_on_an_empty_cluster() -> None:
    from actors.iam import Policy
    from actors.iam._service import bootstrap_state

    first = bootstrap_state(None, "bootstrapuser", "$argon2id$h")
    assert Policy(first).superusers() == ["bootstrapuser"]
    again = bootstrap_state(first, "other", "$argon2id$h2")
    assert again is first  # a cluster with users is left alone (a second leader, a restart)


def test_token_ttl_flag_is_checked() -> None:
    from actors.iam._service import _ttl

    assert _ttl(None) == 5 * 24 * 3600 and _ttl("3600") == 3600
    for bad in ("x", "10", str(10**9), "nan", "inf"):
        with pytest.raises(IamConfigError, match="iam-token-ttl"):
            _ttl(bad)
