"""What a package's Marathon template needs to start an SDK scheduler: ``pydcos.*``.

Cosmos renders every template with this scope beside the options (``{{{pydcos.python}}}``
...), so a package's ``marathon.json.mustache`` can start ``python -m
actors.sdk.scheduler`` against this cluster without the user typing its ZooKeeper
address or key paths. DC/OS schedulers find ``master.mesos:2181`` the same implicit way.

| key | value |
|---|---|
| ``python`` | the master's Python (the project's venv: it imports ``actors``) |
| ``root`` | the project directory (bundled specs: ``{{{pydcos.root}}}/actors/sdk/services/...``) |
| ``zk`` | ``zk://host:port,.../chroot`` of the cluster |
| ``keys_uri`` | ``file://.../sdk-keys.tar.gz``: the CURVE client keys (secure clusters) and |
| | the ZooKeeper credentials, for the fetcher to unpack as ``keys/`` (mode 0600, beside |
| | the cluster's keys); ``""`` when there is neither |
| ``insecure`` | true on an ``--insecure-dev`` cluster (plain ZeroMQ: no CURVE keys) |
| ``user`` | the user the master runs as (the scheduler and its tasks run as it) |
"""

from __future__ import annotations

import getpass
import os
import sys
import tarfile
from pathlib import Path
from typing import Any

BUNDLE = "sdk-keys.tar.gz"
_BUNDLED = (
    "cluster.key",
    "client.key",
    "client.key_secret",
    "zk.credentials",
)


def zk_url_of(client: Any) -> str:
    hosts = ",".join(f"{h}:{p}" for h, p in getattr(client, "hosts", []))
    chroot = getattr(client, "chroot", "") or ""
    return f"zk://{hosts}{chroot}" if hosts else ""


def key_bundle(files: dict[str, Path], where: Path) -> Path:
    """``files`` (arcname -> path) as ``keys/<arcname>`` in a tar.gz in ``where`` (0600),
    rewritten atomically."""
    bundle = where / BUNDLE
    tmp = bundle.with_name(f".{bundle.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, path in sorted(files.items()):
            tar.add(path, arcname=f"keys/{name}")
    os.replace(tmp, bundle)
    return bundle


def cluster_scope(
    zk_client: Any, keys: str | None, insecure: bool, zk_credentials: str | None = None
) -> dict[str, Any]:
    """The ``pydcos`` template scope (see the module docstring). The bundle holds the
    CURVE client keys (secure clusters) and the ZooKeeper credentials (whenever the
    ensemble has them: an ``--insecure-dev`` cluster's ZooKeeper has an ACL too)."""
    files: dict[str, Path] = {}
    where: Path | None = None
    if keys and not insecure:
        where = Path(keys)
        for name in _BUNDLED:
            if (where / name).exists():
                files[name] = where / name
    creds = Path(zk_credentials) if zk_credentials else None
    if creds is None and keys and (Path(keys) / "zk.credentials").exists():
        creds = Path(keys) / "zk.credentials"
    if creds is not None and creds.exists():
        files["zk.credentials"] = creds
        where = where or creds.parent
    keys_uri = ""
    if files and where is not None:
        try:
            keys_uri = key_bundle(files, where).as_uri()
        except OSError:
            keys_uri = ""
    return {
        "python": sys.executable,
        "root": str(Path(__file__).resolve().parents[2]),
        "zk": zk_url_of(zk_client),
        "keys_uri": keys_uri,
        "insecure": insecure or not keys,
        "user": getpass.getuser(),
    }
