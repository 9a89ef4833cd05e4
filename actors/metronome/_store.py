"""Metronome's persistence: one ZooKeeper document per job, written in batches.

Layout under ``zk.StateStore(client, "/metronome")``::

    framework            {"frameworkId": "..."}                  once per registration
    jobs/<job id>        {"job": JobSpec, "cursors": {schedule id: last fired slot},
                          "runs": [active JobRun...], "history": JobHistory,
                          "skipped": [recent SlotSkipped...]}

Everything that changes together lives in ONE document, so the persistence ordering
rules of the pure half (README) hold by construction: a schedule cursor and the run it
starts are one write; a finished run leaves ``runs`` and enters ``history`` in one
write; a schedule's ``enabled`` flag is part of the job spec and only a user's request
changes it.

Throughput: the actor coalesces the changes of many messages and writes every changed
job document in a few ZooKeeper ``multi`` transactions (`write_batch`), each op a
compare-and-set on the version the actor last wrote. A multi is one request for
ZooKeeper, so 1,000 run state changes cost a handful of round trips instead of 3,000.
The batching itself is the store's (`zk.StateStore.write_many`), so the document
format stays private to ``zk``; a document too large for one znode is chunked there.

A failed compare-and-set means another writer (a deposed leader that still runs, or a
bug) touched our documents: `StoreConflict` is raised and the actor crashes and
reloads, rather than overwrite what it did not read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zk import BatchFailed, Fenced, StateStore, ZkError, take_hand_over
from zk import Delete as ZkDelete
from zk import Put as ZkPut

from ._errors import MetronomeError

log = logging.getLogger("actors.metronome")

STORE_ROOT = "/metronome"
FRAMEWORK_KEY = "framework"
JOBS = "jobs"
MIRRORED = (JOBS,)
"""The store prefixes a new leader reads in bulk (the jobs): what a standby master keeps
warm (``zk.StoreMirror``; ``MetronomeService.warm_stores``). The framework id is one
document, read from the store."""


class StoreError(MetronomeError):
    """A batch failed; ``done`` says what it wrote before failing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.done: dict[str, Written] = {}


class StoreConflict(StoreError):
    """A document changed under us: someone else writes Metronome's state."""


class StoreUnavailable(StoreError):
    """ZooKeeper did not answer for part of a batch; retry the rest later."""


def job_key(job_id: str) -> str:
    return f"{JOBS}/{job_id}"


@dataclass(frozen=True)
class Put:
    """Write ``value`` at ``key``: create it (``version`` None) or CAS from ``version``."""

    key: str
    value: Any
    version: int | None
    chunked: bool = False
    """Informational: the stored value was chunked (the store decides how to write)."""


@dataclass(frozen=True)
class Delete:
    """Delete ``key`` if it is still at ``version``."""

    key: str
    version: int
    chunked: bool = False


Op = Put | Delete


@dataclass(frozen=True)
class Written:
    """What a batch did to one key: its new version (None: deleted) and layout."""

    version: int | None
    chunked: bool = False


class MetronomeStore:
    """Jobs and the framework id in ZooKeeper (see the module docstring)."""

    def __init__(
        self, client: Any, root: str = STORE_ROOT, fence: Any = None, mirror: Any = None
    ) -> None:
        self.client = client
        self.state = StateStore(client, root, fence=fence)
        self.client_retry = self.state.retry
        self.state.retry(client.ensure_path, self.state.path(JOBS))
        self.mirror = mirror
        """A standby's warm copy of this store (``zk.StoreMirror`` over ``MIRRORED``):
        the first `load_jobs_checked` takes its hand-over instead of reading every job
        (then it is gone: a later load reads ZooKeeper)."""
        self.load_note = "cold"
        """How the last load read the store, for the actor's start-up line."""
        self.prepared: dict[str, Any] = {}
        """Job id -> what the copy's ``prepare`` made ahead of the very document the
        last load returned for it (``MetronomeService.warm_stores``); empty when cold."""

    # -- reads ---------------------------------------------------------------------

    def _hand_over(self) -> Any:
        """The mirror's hand-over (once), else the store itself (``zk.take_hand_over``)."""
        mirror, self.mirror = self.mirror, None
        reader, self.load_note = take_hand_over(mirror, self.state, "metronome")
        return reader

    def framework_id(self) -> str | None:
        try:
            doc = self.state.get(FRAMEWORK_KEY)
        except ZkError as exc:  # corrupt or foreign data: reported with its path, skipped
            log.error(
                "metronome: %s is unreadable (%s); registering as a new framework",
                self.state.path(FRAMEWORK_KEY),
                exc,
            )
            return None
        if doc is None or not isinstance(doc.value, dict):
            return None
        fid = doc.value.get("frameworkId")
        return fid if isinstance(fid, str) and fid else None

    def save_framework_id(self, framework_id: str) -> None:
        self.state.put(FRAMEWORK_KEY, {"frameworkId": framework_id})

    def load_jobs(self) -> dict[str, tuple[Any, int, bool]]:
        """``{job id: (document value, version, chunked)}``; corrupt ones are skipped
        (logged by the StateStore) and reported by `unreadable`."""
        out: dict[str, tuple[Any, int, bool]] = {}
        for key, doc in self.state.get_all(JOBS).items():
            out[key.split("/", 1)[1]] = (doc.value, doc.version, doc.chunked)
        return out

    def load_jobs_checked(self) -> tuple[dict[str, tuple[Any, int, bool]], dict[str, str]]:
        """Like `load_jobs`, and the job documents that could not be read at all
        (``{job id: reason}``: not JSON, a foreign header, missing chunks), which
        `load_jobs` only logs; the actor quarantines both kinds of bad record.

        From a standby's warm copy (``mirror``), a new leader reads only what changed
        since the copy's last round; else pipelined (``StateStore.get_all``). At 5,000
        jobs beside the agents' re-registration storm (bench/scale.py at 10k agents), one
        round trip after the other took 18-23 s, pipelined 16 s, with the jobs API
        answering 503 meanwhile and Marathon's writes on the same session waiting
        behind the reads (a new app's first instance write: 5.3 s). A document the
        pipelined read skipped (corrupt, chunked, changing) is read again alone, which
        names the problem."""
        docs: dict[str, tuple[Any, int, bool]] = {}
        unreadable: dict[str, str] = {}
        reader = self._hand_over()
        try:
            read = reader.get_all(JOBS)
        except ZkError:
            read = {}
        ahead = getattr(reader, "prepared", {})
        prefix = f"{JOBS}/"
        self.prepared = {
            key.removeprefix(prefix): entry
            for key, entry in ahead.items()
            if key.startswith(prefix)
        }
        for name in reader.list(JOBS):
            doc = read.get(job_key(name))
            if doc is None:
                try:
                    doc = self.state.get(job_key(name))
                except ZkError as exc:
                    log.error("metronome: %s is unreadable: %s", self.path(name), exc)
                    unreadable[name] = f"unreadable: {exc}"[:500]
                    continue
            if doc is not None:
                docs[name] = (doc.value, doc.version, doc.chunked)
        return docs, unreadable

    def path(self, job_id: str) -> str:
        """The znode of a job's document (under the cluster chroot), for reports."""
        try:
            return str(self.state.path(job_key(job_id)))
        except ZkError:
            return f"{self.state.docs}/{JOBS}/{job_id!r}"

    def delete_quarantined(self, job_id: str) -> bool:
        """Delete a quarantined job's document whatever its version (an operator's
        ``DELETE /v1/jobs/{id}``: the actor never tracked it)."""
        return bool(self.state.delete(job_key(job_id)))

    def names(self) -> list[str]:
        return self.state.list(JOBS)

    # -- writes --------------------------------------------------------------------

    def write_batch(self, ops: list[Op]) -> dict[str, Written]:
        """Carry out ``ops`` (at most one per key) with `StateStore.write_many`: a few
        compare-and-set multi transactions.

        Raises `StoreConflict` when a version check fails and `StoreUnavailable` when
        ZooKeeper is unreachable; in both cases the caller must assume any subset of
        the batch may have been applied (each multi is atomic, the batch is not).
        """
        zops: list[ZkPut | ZkDelete] = [
            ZkPut(op.key, op.value, op.version)
            if isinstance(op, Put)
            else ZkDelete(op.key, op.version)
            for op in ops
        ]
        try:
            versions = self.state.write_many(zops)
        except BatchFailed as exc:
            err: StoreError = (
                StoreConflict(str(exc)) if exc.conflict else StoreUnavailable(str(exc))
            )
            err.done = {k: Written(v) for k, v in exc.done.items()}
            raise err from exc
        return {k: Written(v) for k, v in versions.items()}

    def write_batch_async(
        self,
        ops: list[Op],
        on_done: Callable[[dict[str, Written], StoreError | None], None],
    ) -> bool:
        """`write_batch` without waiting (`StateStore.write_many_async`):
        ``on_done(written, error)`` is called on the ZooKeeper client's thread once
        every multi was answered; ``error`` is None, `StoreConflict` or
        `StoreUnavailable` (also for a write refused by the fence), its ``done`` what
        was written. Returns False (nothing sent) when a document must be chunked: use
        `write_batch`. Raises ``zk.Fenced`` (nothing sent) when the term is over."""
        zops: list[ZkPut | ZkDelete] = [
            ZkPut(op.key, op.value, op.version)
            if isinstance(op, Put)
            else ZkDelete(op.key, op.version)
            for op in ops
        ]

        def done(versions: dict[str, int | None], error: ZkError | None) -> None:
            written = {k: Written(v) for k, v in versions.items()}
            if error is None:
                on_done(written, None)
                return
            err: StoreError
            if isinstance(error, BatchFailed) and error.conflict:
                err = StoreConflict(str(error))
            else:
                err = StoreUnavailable(str(error))
            err.done = written
            on_done(written, err)

        return self.state.write_many_async(zops, done)


def unavailable(exc: BaseException) -> StoreUnavailable:
    """A write that could not be sent (fenced, ZooKeeper unreachable) as the batch
    error the actor retries."""
    what = "refused by the fence" if isinstance(exc, Fenced) else "not sent"
    return StoreUnavailable(f"{what}: {exc!r}")


def record_problem(value: Any, where: str = "") -> str | None:
    """Where a stored record holds a NaN or an Infinity (JSON ``NaN`` parses to one),
    or None; iterative, so a deeply nested record cannot exhaust the stack."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return f"{path or '/'}: {item!r} is not a finite number"
        if isinstance(item, dict):
            stack.extend((v, f"{path}/{k}") for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{path}/{i}") for i, v in enumerate(item))
    return None
