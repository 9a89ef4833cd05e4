"""ZooKeeper for pydcos: embedded server, leader election, state store, registry.

Imports nothing from the rest of pydcos. See ``zk/README.md`` for the znode layout.

Imports are lazy (PEP 562): the errors and the document limits (``DEFAULT_MAX_BYTES``,
``encoded_size``, in the pure ``_documents``) load with the package; everything that
needs kazoo or starts a server (client, election, registry, retry, server, store) loads
on first use. So a pure module can catch ``ZkError`` or size a value without loading
kazoo. A module-level ``from zk import X`` binds once: no lookup cost afterwards.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zk._documents import DEFAULT_MAX_BYTES, Delete, Put, encoded_size
from zk._errors import (
    BatchFailed,
    CorruptData,
    DocumentExists,
    Fenced,
    InvalidKey,
    NoDocument,
    ValueTooLarge,
    VersionConflict,
    ZkError,
    ZkNotInstalled,
    ZkServerError,
    ZkUnavailable,
)

if TYPE_CHECKING:
    from zk._client import (
        CREDENTIALS_ENV,
        CREDENTIALS_FILE,
        DEFAULT_CHROOT,
        DEFAULT_SESSION_TIMEOUT,
        BadCredentials,
        ZkCredentials,
        close_quietly,
        connect,
        ensure_credentials,
        expire_session,
        generate_credentials,
        leader_acl,
        protect_root,
        read_credentials,
        resolve_credentials,
        secure_tree,
        write_credentials,
    )
    from zk._election import (
        DEFAULT_ELECTION_PATH,
        Election,
        LeaderInfo,
        LeaderWatch,
        read_contenders,
        read_leader,
        read_term,
        term_path,
    )
    from zk._hand_over import take_hand_over
    from zk._lease import Acting, LeaderLease
    from zk._mirror import HandOver, MirrorUnavailable, StoreMirror
    from zk._registry import Entry, Registry
    from zk._retry import DEFAULT_RETRY, RetryPolicy
    from zk._server import (
        DEFAULT_JVM_OPTS,
        DEFAULT_TICK_MS,
        HEAP_MB,
        JUTE_MAXBUFFER,
        Peer,
        ZooKeeperEnsemble,
        ZooKeeperServer,
        find_classpath,
        find_java,
        four_letter_word,
        loopback_peers,
        parse_peers,
    )
    from zk._store import (
        DEFAULT_NODE_LIMIT,
        MAGIC,
        Delete,
        Document,
        Fence,
        Put,
        StateStore,
        StoreWatch,
    )

_EXPORTS = {
    "zk._client": (
        "CREDENTIALS_ENV",
        "CREDENTIALS_FILE",
        "DEFAULT_CHROOT",
        "DEFAULT_SESSION_TIMEOUT",
        "BadCredentials",
        "ZkCredentials",
        "close_quietly",
        "connect",
        "ensure_credentials",
        "expire_session",
        "generate_credentials",
        "leader_acl",
        "protect_root",
        "read_credentials",
        "resolve_credentials",
        "secure_tree",
        "write_credentials",
    ),
    "zk._election": (
        "DEFAULT_ELECTION_PATH",
        "Election",
        "LeaderInfo",
        "LeaderWatch",
        "read_contenders",
        "read_leader",
        "read_term",
        "term_path",
    ),
    "zk._lease": ("Acting", "LeaderLease"),
    "zk._mirror": ("HandOver", "MirrorUnavailable", "StoreMirror"),
    "zk._hand_over": ("take_hand_over",),
    "zk._registry": ("Entry", "Registry"),
    "zk._retry": ("DEFAULT_RETRY", "RetryPolicy"),
    "zk._server": (
        "DEFAULT_JVM_OPTS",
        "DEFAULT_TICK_MS",
        "HEAP_MB",
        "JUTE_MAXBUFFER",
        "Peer",
        "ZooKeeperEnsemble",
        "ZooKeeperServer",
        "find_classpath",
        "find_java",
        "four_letter_word",
        "loopback_peers",
        "parse_peers",
    ),
    "zk._store": (
        "DEFAULT_NODE_LIMIT",
        "MAGIC",
        "Document",
        "Fence",
        "StateStore",
        "StoreWatch",
    ),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "CREDENTIALS_ENV",
    "CREDENTIALS_FILE",
    "DEFAULT_CHROOT",
    "DEFAULT_ELECTION_PATH",
    "DEFAULT_JVM_OPTS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_NODE_LIMIT",
    "DEFAULT_RETRY",
    "DEFAULT_SESSION_TIMEOUT",
    "DEFAULT_TICK_MS",
    "HEAP_MB",
    "JUTE_MAXBUFFER",
    "MAGIC",
    "Acting",
    "BadCredentials",
    "BatchFailed",
    "CorruptData",
    "Delete",
    "Document",
    "DocumentExists",
    "Election",
    "Entry",
    "Fence",
    "Fenced",
    "HandOver",
    "InvalidKey",
    "LeaderInfo",
    "LeaderLease",
    "LeaderWatch",
    "MirrorUnavailable",
    "NoDocument",
    "Peer",
    "Put",
    "Registry",
    "RetryPolicy",
    "StateStore",
    "StoreMirror",
    "StoreWatch",
    "ValueTooLarge",
    "VersionConflict",
    "ZkCredentials",
    "ZkError",
    "ZkNotInstalled",
    "ZkServerError",
    "ZkUnavailable",
    "ZooKeeperEnsemble",
    "ZooKeeperServer",
    "close_quietly",
    "connect",
    "encoded_size",
    "ensure_credentials",
    "expire_session",
    "find_classpath",
    "find_java",
    "four_letter_word",
    "generate_credentials",
    "leader_acl",
    "loopback_peers",
    "parse_peers",
    "protect_root",
    "read_contenders",
    "read_credentials",
    "read_leader",
    "read_term",
    "resolve_credentials",
    "secure_tree",
    "take_hand_over",
    "term_path",
    "write_credentials",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'zk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
