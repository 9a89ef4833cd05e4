"""Errors of the zk package: one root, a few named subclasses.

Every message names the znode path (and, where it helps, the offending value), so a
log line alone says what was wrong and where.
"""

from __future__ import annotations

INSTALL_HINT = "install it with: apt-get install zookeeper default-jre-headless"


class ZkError(Exception):
    """Root of every error the zk package raises."""


class ZkNotInstalled(ZkError):
    """Java or the ZooKeeper jars are missing; the message says which and how to install."""


class ZkServerError(ZkError):
    """The embedded ZooKeeper server failed to start, answer or stop."""


class ZkUnavailable(ZkError):
    """ZooKeeper could not be reached within the retry policy's tries or deadline."""


class CorruptData(ZkError):
    """A znode holds data pydcos did not write or cannot decode (foreign or damaged)."""

    def __init__(self, path: str, reason: str, data: bytes | None = None) -> None:
        shown = "" if data is None else f" (first bytes: {data[:40]!r})"
        super().__init__(f"corrupt data at {path}: {reason}{shown}")
        self.path = path
        self.reason = reason


class VersionConflict(ZkError):
    """A compare-and-set lost: the document changed since the version the caller read."""

    def __init__(self, path: str, expected: int, actual: int | None) -> None:
        now = "it no longer exists" if actual is None else f"it is at version {actual}"
        super().__init__(f"version conflict at {path}: expected version {expected}, {now}")
        self.path = path
        self.expected = expected
        self.actual = actual


class DocumentExists(ZkError):
    """``create`` found a document already stored under the key."""

    def __init__(self, path: str) -> None:
        super().__init__(f"document already exists at {path}")
        self.path = path


class NoDocument(ZkError, KeyError):
    """The key names no document."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no document at {path}")
        self.path = path

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ValueTooLarge(ZkError):
    """An encoded value is above the limit (one znode without chunking, or ``max_bytes``)."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        super().__init__(
            f"value for {path} is {size} bytes encoded, above the limit of {limit} bytes; "
            "nothing was written"
        )
        self.path = path
        self.size = size
        self.limit = limit


class InvalidKey(ZkError, ValueError):
    """A document or registry key is not a valid relative znode path."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"invalid key {key!r}: {reason}")
        self.key = key


class BatchFailed(ZkError):
    """A ``StateStore.write_many`` batch stopped part way.

    ``done`` maps each key written before the failure to its new version (None:
    deleted); each multi transaction is atomic, the batch as a whole is not.
    ``conflict`` is True when a version check failed (another writer), False when
    ZooKeeper did not answer.
    """

    def __init__(self, message: str, done: dict[str, int | None], conflict: bool) -> None:
        super().__init__(message)
        self.done = done
        self.conflict = conflict


class Fenced(ZkError):
    """A write of leader state refused: the writer's election term is over.

    Every write of a fenced ``StateStore`` is one ZooKeeper transaction that also checks
    the election's term znode is still at the writer's term; a deposed leader's late
    write (a reply lost in a partition, a thread that had not stopped yet) fails here
    instead of overwriting what the new leader wrote. Also raised without a round trip
    when the writer already knows it stopped leading (connection SUSPENDED)."""

    def __init__(self, path: str, term: int, detail: str) -> None:
        super().__init__(f"write to {path} refused: the writer's term {term} is over ({detail})")
        self.path = path
        self.term = term
        self.detail = detail
