"""CURVE keys and the security mode of a transport."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import zmq.auth

from transport._errors import TransportError

log = logging.getLogger("transport.security")


class KeyFiles(NamedTuple):
    """Paths written by ``generate_keys``."""

    server_public: Path
    """``cluster.key``: the cluster's public key; clients need it to connect."""
    server_secret: Path
    """``cluster.key_secret``: the cluster keypair; every node that listens needs it."""
    client_public: Path
    """``client.key``: a client's public key (also copied into ``authorized_keys``)."""
    client_secret: Path
    """``client.key_secret``: that client's keypair."""
    authorized_keys_dir: Path
    """``authorized_keys/``: public keys allowed to connect to the cluster."""


def generate_keys(directory: str | Path) -> KeyFiles:
    """Create a cluster keypair, a client keypair and an authorised-keys directory.

    Files use ZeroMQ's certificate format (``zmq.auth.create_certificates``). Existing
    files are overwritten.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    server_public, server_secret = zmq.auth.create_certificates(d, "cluster")
    client_public, client_secret = zmq.auth.create_certificates(d, "client")
    authorized = d / "authorized_keys"
    authorized.mkdir(exist_ok=True)
    shutil.copy(client_public, authorized / "client.key")
    for secret in (server_secret, client_secret):
        Path(secret).chmod(0o600)
    return KeyFiles(
        Path(server_public),
        Path(server_secret),
        Path(client_public),
        Path(client_secret),
        authorized,
    )


def _load(path: str | Path, what: str) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise TransportError(f"cannot load {what} from {str(path)!r}: {exc}") from None
    if not public:
        raise TransportError(f"{what} file {str(path)!r} holds no public key")
    return public, secret


@dataclass(frozen=True)
class Security:
    """How a transport authenticates and encrypts. Build with ``plain()`` or ``curve()``."""

    mode: str
    """``"plain"`` or ``"curve"``."""
    server_public: bytes | None = None
    """Cluster public key (Z85): what every DEALER expects the ROUTER it connects to to hold."""
    server_secret: bytes | None = None
    """Cluster secret key; None on a client-only transport that does not listen."""
    client_public: bytes | None = None
    """Public key this transport presents when it connects."""
    client_secret: bytes | None = None
    authorized: frozenset[bytes] = frozenset()
    """Public keys (Z85) a ROUTER accepts; always includes the cluster key itself."""

    @classmethod
    def plain(cls) -> Security:
        """No authentication, no encryption. Local development only; logs a warning."""
        log.warning(
            "transport security is PLAIN: no authentication and no encryption "
            "(use Security.curve(...) for anything but local development)"
        )
        return cls(mode="plain")

    @classmethod
    def curve(
        cls,
        server_secret_file: str | Path,
        authorized_keys_dir: str | Path | None = None,
        client_secret_file: str | Path | None = None,
    ) -> Security:
        """CURVE security from ``zmq.auth`` certificate files.

        ``server_secret_file`` is the cluster keypair (``cluster.key_secret``). A node
        connects to its peers with the cluster keypair unless ``client_secret_file`` names
        another keypair. A client that must not hold the cluster secret passes the public
        ``cluster.key`` and its own ``client_secret_file``: it can connect but not listen
        (``ZmqTransport(bind=None, ...)``). The cluster key is always authorised, so nodes
        accept each other; ``authorized_keys_dir`` adds client keys.
        """
        server_public, server_secret = _load(server_secret_file, "cluster key")
        if client_secret_file is not None:
            client_public, client_secret = _load(client_secret_file, "client key")
        else:
            client_public, client_secret = server_public, server_secret
        if client_secret is None:
            raise TransportError(
                "no secret key to connect with: pass the cluster keypair "
                "(cluster.key_secret) or a client_secret_file"
            )
        keys = {server_public}
        if authorized_keys_dir is not None:
            d = Path(authorized_keys_dir)
            if not d.is_dir():
                raise TransportError(f"authorized keys directory {str(d)!r} does not exist")
            for f in sorted(d.glob("*.key")):
                keys.add(_load(f, "authorized key")[0])
        return cls(
            mode="curve",
            server_public=server_public,
            server_secret=server_secret,
            client_public=client_public,
            client_secret=client_secret,
            authorized=frozenset(keys),
        )

    @property
    def can_serve(self) -> bool:
        return self.mode == "plain" or self.server_secret is not None

    def __repr__(self) -> str:  # never print secrets
        return f"Security(mode={self.mode!r}, authorized={len(self.authorized)} keys)"
