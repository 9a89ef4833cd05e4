"""The auth verbs' pieces that need no cluster: rid encoding, argument checks, keypair."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from console._auth_cmds import _rid, _seg
from console._client import ClientError

ROOT = Path(__file__).resolve().parents[2]


def test_a_rid_is_one_url_segment() -> None:
    assert _rid("dcos:service:marathon:marathon:services:/prod/web") == (
        "dcos%3Aservice%3Amarathon%3Amarathon%3Aservices%3A%2Fprod%2Fweb"
    )


@pytest.mark.parametrize("bad", ["", "a/b", "a b", "a\nb", "a\x00"])
def test_bad_uids_fail_before_any_request(bad: str) -> None:
    with pytest.raises(ClientError, match=r"^uid: "):
        _seg(bad, "uid")


def test_keypair_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    priv, pub = tmp_path / "sa.key", tmp_path / "sa.pub"
    argv = [sys.executable, "-m", "console.cli", "security", "org", "service-accounts"]
    run = subprocess.run(
        [*argv, "keypair", str(priv), str(pub)], capture_output=True, text=True, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert priv.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = subprocess.run(
        [*argv, "keypair", str(priv), str(pub)], capture_output=True, text=True, cwd=ROOT
    )
    assert again.returncode != 0 and "exists" in again.stderr
