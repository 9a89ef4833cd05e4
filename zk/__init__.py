"""ZooKeeper for pydcos: embedded server, leader election, state store, registry.

Imports nothing from the rest of pydcos. See ``zk/README.md`` for the znode layout.
"""

from zk._client import (
    DEFAULT_CHROOT,
    DEFAULT_SESSION_TIMEOUT,
    close_quietly,
    connect,
    expire_session,
)
from zk._election import (
    DEFAULT_ELECTION_PATH,
    Election,
    LeaderInfo,
    LeaderWatch,
    read_contenders,
    read_leader,
)
from zk._errors import (
    BatchFailed,
    CorruptData,
    DocumentExists,
    InvalidKey,
    NoDocument,
    ValueTooLarge,
    VersionConflict,
    ZkError,
    ZkNotInstalled,
    ZkServerError,
    ZkUnavailable,
)
from zk._registry import Entry, Registry
from zk._retry import DEFAULT_RETRY, RetryPolicy
from zk._server import (
    DEFAULT_JVM_OPTS,
    DEFAULT_TICK_MS,
    ZooKeeperEnsemble,
    ZooKeeperServer,
    find_classpath,
    find_java,
    four_letter_word,
)
from zk._store import Delete, Document, Put, StateStore, StoreWatch

__all__ = [
    "DEFAULT_CHROOT",
    "DEFAULT_ELECTION_PATH",
    "DEFAULT_JVM_OPTS",
    "DEFAULT_RETRY",
    "DEFAULT_SESSION_TIMEOUT",
    "DEFAULT_TICK_MS",
    "BatchFailed",
    "CorruptData",
    "Delete",
    "Document",
    "DocumentExists",
    "Election",
    "Entry",
    "InvalidKey",
    "LeaderInfo",
    "LeaderWatch",
    "NoDocument",
    "Put",
    "Registry",
    "RetryPolicy",
    "StateStore",
    "StoreWatch",
    "ValueTooLarge",
    "VersionConflict",
    "ZkError",
    "ZkNotInstalled",
    "ZkServerError",
    "ZkUnavailable",
    "ZooKeeperEnsemble",
    "ZooKeeperServer",
    "close_quietly",
    "connect",
    "expire_session",
    "find_classpath",
    "find_java",
    "four_letter_word",
    "read_contenders",
    "read_leader",
]
