"""Serving files of one node: task sandboxes (an agent) and process logs (any node).

``confine`` (pure, over path strings plus one ``realpath``) decides whether a requested
path stays inside a task's sandbox: ``..`` anywhere, an absolute path elsewhere, and a
symlink whose target leaves the sandbox are refused (403) before anything is opened;
the opened file descriptor is checked once more (``/proc/self/fd``) so a symlink
swapped in between is refused too.

``FileServer`` answers ``BrowseFiles``/``ReadFile`` at once and holds ``FollowFile``s
(long polls) in a bounded table that one poller thread looks at every
``poll_interval``: a waiter is answered as soon as its file grows (or shrinks: rotated),
its writer finishes, or its wait runs out. Each answer is at most ``MAX_READ_BYTES``
and a reader keeps one request outstanding, so memory stays bounded whatever the
readers' speed.

```
  agent actor / logs actor --(BrowseFiles, ReadFile)--> FileServer.browse/read -> reply
                           --(FollowFile)-----------> FileServer.follow
                                                         |  data now? -> send(reply_to)
                                                         v
                                                   waiters (<= max_waiters)
                                                   poller thread, every 20 ms
                                                         -> send(reply_to, FileChunk)
```
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from actors import protocol as p
from runtime import real_now

log = logging.getLogger("actors.logs")

DEFAULT_MAX_WAITERS = 1024
"""Follow requests one server holds at most; beyond, a follow is answered 503."""


@dataclass(frozen=True, slots=True)
class Confined:
    """A path found inside a sandbox (or a component log)."""

    path: Path
    """The absolute path on this node."""
    task_id: str
    """Whose sandbox (``""`` for a component log)."""
    base: Path
    """The sandbox (or the component log itself) the file must stay in."""


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a path is not served: the HTTP status and a message naming the path."""

    status: int
    message: str


def valid_task_id(task_id: str) -> str | None:
    """Why ``task_id`` cannot name a sandbox directory (None: it can)."""
    if not task_id or len(task_id) > 255:
        return f"task id {task_id!r} is empty or longer than 255 characters"
    if "/" in task_id or "\x00" in task_id or task_id in (".", ".."):
        return f"task id {task_id!r} cannot name a sandbox"
    return None


def confine(root: Path, path: str, task_id: str = "") -> Confined | Refused:
    """Where ``path`` (relative to ``task_id``'s sandbox, or absolute under ``root``)
    is, or why it is refused. ``root`` is the real (symlink-free) sandboxes directory.

    Refused: 400 for a malformed path or task id, 403 for ``..`` components, absolute
    paths outside the sandbox, and symlinks that lead out of it. Existence is not
    checked here (the caller says 404)."""
    if "\x00" in path or len(path) > 4096:
        return Refused(400, f"path {path[:100]!r} is not a valid path")
    parts = [x for x in path.split("/") if x not in ("", ".")]
    if ".." in parts:
        return Refused(403, f"path {path!r} is outside the sandbox: '..' is not allowed")
    if task_id:
        why = valid_task_id(task_id)
        if why:
            return Refused(400, why)
        base = root / task_id
        if path.startswith("/"):
            absolute = Path("/", *parts)
            if absolute != base and base not in absolute.parents:
                return Refused(
                    403, f"path {path!r} is outside the sandbox of task {task_id!r} ({base})"
                )
            candidate = absolute
        else:
            candidate = base.joinpath(*parts)
    else:
        if not path.startswith("/"):
            return Refused(
                400, f"path {path!r} is not absolute (a sandbox path on the agent, e.g. {root}/ID)"
            )
        candidate = Path("/", *parts)
        if root not in candidate.parents:
            return Refused(403, f"path {path!r} is outside the agent's sandboxes ({root})")
        rel = candidate.relative_to(root).parts
        task_id = rel[0]
        base = root / task_id
    real = Path(os.path.realpath(candidate))
    real_base = Path(os.path.realpath(base))
    if real != real_base and real_base not in real.parents:
        return Refused(403, f"path {path!r} leads outside the sandbox of task {task_id!r}")
    return Confined(candidate, task_id, base)


def mode_string(mode: int) -> str:
    """``-rw-r--r--`` as Mesos' browse shows it."""
    return stat.filemode(mode)


def browse_entry(path: Path, st: os.stat_result) -> dict[str, Any]:
    """One Mesos ``/files/browse`` entry."""
    return {
        "path": str(path),
        "size": st.st_size,
        "mtime": st.st_mtime,
        "mode": mode_string(st.st_mode),
        "nlink": st.st_nlink,
        "uid": str(st.st_uid),
        "gid": str(st.st_gid),
    }


def clamp_length(length: int) -> int:
    return max(0, min(int(length), p.MAX_READ_BYTES))


class _Waiter:
    __slots__ = ("deadline", "request", "target")

    def __init__(self, request: p.FollowFile, target: Confined, deadline: float) -> None:
        self.request = request
        self.target = target
        self.deadline = deadline


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


class FileServer:
    """Serves one node's sandboxes (under ``root``) and component logs.

    ``live(task_id)``: whether the task's writer may still append (running on this
    agent); a file of a task that is not live is ``done`` once read to its end.
    ``send(address, chunk)``: tells a follower's answer (any thread may call it).
    ``wall()``: this node's wall clock (``read_at``)."""

    def __init__(
        self,
        root: str | Path | None,
        *,
        components: Mapping[str, str | Path] | Callable[[], Mapping[str, str | Path]] = (
            lambda: {}
        ),
        live: Callable[[str], bool] = lambda task_id: False,
        send: Callable[[str, p.FileChunk], None],
        wall: Callable[[], float],
        poll_interval: float = 0.02,
        max_waiters: int = DEFAULT_MAX_WAITERS,
    ) -> None:
        self.root = Path(os.path.realpath(root)) if root is not None else None
        self.root_alias = os.path.abspath(root) if root is not None else None
        """The sandboxes directory as the agent names it (``--work-dir`` may go through
        a symlink): absolute paths under it are read under ``root``."""
        self._components = components
        self._live = live
        self._send = send
        self._wall = wall
        self.poll_interval = poll_interval
        self.max_waiters = max_waiters
        self._waiters: list[_Waiter] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    # -- where --------------------------------------------------------------------

    def components(self) -> dict[str, Path]:
        c = self._components() if callable(self._components) else self._components
        return {k: Path(v) for k, v in c.items()}

    def locate(self, path: str, task_id: str, component: str) -> Confined | Refused:
        if component:
            logs = self.components()
            if component not in logs:
                known = ", ".join(sorted(logs)) or "none"
                return Refused(404, f"component log {component!r} is not kept here ({known})")
            f = logs[component]
            return Confined(f, "", f)
        if self.root is None:
            return Refused(404, "this node keeps no sandboxes")
        alias = self.root_alias
        if alias and alias != str(self.root) and (path == alias or path.startswith(alias + "/")):
            path = str(self.root) + path[len(alias) :]
        return confine(self.root, path, task_id)

    # -- browse -------------------------------------------------------------------

    def browse(self, m: p.BrowseFiles) -> p.FileListing:
        where = self.locate(m.path, m.task_id, "")
        if isinstance(where, Refused):
            return p.FileListing(where.status, where.message)
        if not where.path.is_dir():
            what = "a file" if where.path.exists() else "not found"
            if not where.base.is_dir() and m.task_id:
                return p.FileListing(404, f"task {m.task_id!r} has no sandbox on this agent")
            return p.FileListing(404, f"{where.path}: {what}, not a directory")
        entries = []
        try:
            names = sorted(os.listdir(where.path))
        except OSError as exc:
            return p.FileListing(404, f"{where.path}: {exc.strerror}")
        for name in names:
            child = where.path / name
            try:
                entries.append(browse_entry(child, child.lstat()))
            except OSError:
                continue  # removed meanwhile
        return p.FileListing(200, "", entries)

    # -- read ---------------------------------------------------------------------

    def read(self, m: p.ReadFile) -> p.FileChunk:
        if m.offset < -1:
            return p.FileChunk(400, f"offset {m.offset} is negative")
        if m.length < 0:
            return p.FileChunk(400, f"length {m.length} is negative")
        where = self.locate(m.path, m.task_id, m.component)
        if isinstance(where, Refused):
            return p.FileChunk(where.status, where.message)
        return self._read(where, m.offset, clamp_length(m.length), follow=False)

    def _done(self, target: Confined) -> bool:
        return bool(target.task_id) and not self._live(target.task_id)

    def _read(self, target: Confined, offset: int, length: int, follow: bool) -> p.FileChunk:
        """Read ``length`` bytes at ``offset`` (-1: the size only). Following, a file
        that shrank below ``offset`` was rotated: read again from 0."""
        now = self._wall()
        try:
            fd = os.open(target.path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            if follow and not self._done(target):
                return p.FileChunk(200, "", offset, b"", 0, False, read_at=now)
            if target.task_id and not target.base.is_dir():
                return p.FileChunk(404, f"task {target.task_id!r} has no sandbox on this node")
            return p.FileChunk(404, f"{target.path}: no such file")
        except OSError as exc:
            return p.FileChunk(403 if exc.errno == 13 else 404, f"{target.path}: {exc.strerror}")
        try:
            real = Path(os.path.realpath(f"/proc/self/fd/{fd}"))
            real_base = Path(os.path.realpath(target.base))
            if real != real_base and real_base not in real.parents:
                return p.FileChunk(403, f"{target.path} leads outside its sandbox")
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                return p.FileChunk(400, f"{target.path} is a directory")
            size = st.st_size
            done = self._done(target)
            if offset == -1:
                return p.FileChunk(
                    200, "", size, b"", size, done, read_at=now, path=str(target.path)
                )
            if offset > size and follow:
                offset = 0  # rotated (copytruncate or rename): start over
            data = os.pread(fd, length, offset) if offset < size and length else b""
            return p.FileChunk(
                200,
                "",
                offset,
                data,
                max(size, offset + len(data)),
                done,
                read_at=now,
                path=str(target.path),
            )
        finally:
            os.close(fd)

    # -- follow -------------------------------------------------------------------

    def follow(self, m: p.FollowFile) -> None:
        """Answer now if there is something to say, else hold the request (bounded)."""
        if m.offset < 0 or m.length < 0:
            self._answer(m, p.FileChunk(400, f"offset {m.offset}/length {m.length} is negative"))
            return
        where = self.locate(m.path, m.task_id, m.component)
        if isinstance(where, Refused):
            self._answer(m, p.FileChunk(where.status, where.message))
            return
        chunk = self._read(where, m.offset, clamp_length(m.length) or 1, follow=True)
        wait = min(max(0.0, float(m.wait)), p.MAX_FOLLOW_WAIT)
        if chunk.status != 200 or chunk.data or chunk.done or wait <= 0:
            self._answer(m, chunk)
            return
        with self._lock:
            if self._closed or len(self._waiters) >= self.max_waiters:
                full = True
            else:
                full = False
                self._waiters.append(_Waiter(m, where, real_now() + wait))
                self._ensure_thread()
        if full:
            self._answer(m, p.FileChunk(503, f"too many log followers here ({self.max_waiters})"))
            return
        self._wake.set()

    def _answer(self, m: p.FollowFile, chunk: p.FileChunk) -> None:
        try:
            self._send(m.reply_to, replace(chunk, request_id=m.request_id))
        except Exception:
            log.exception("logs: answering follower %s failed", m.reply_to)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._poll, name="logs-follow", daemon=True)
            self._thread.start()

    def waiting(self) -> int:
        """Follow requests held now (for tests and metrics)."""
        with self._lock:
            return len(self._waiters)

    def _poll(self) -> None:
        while True:
            with self._lock:
                waiters = list(self._waiters)
                if self._closed or not waiters:
                    self._thread = None  # a new follow starts another
                    return
            now = real_now()
            ready: list[_Waiter] = []
            for w in waiters:
                size = _size(w.target.path)
                grew = size is not None and size != w.request.offset
                if grew or now >= w.deadline or self._done(w.target):
                    ready.append(w)
            if ready:
                with self._lock:
                    self._waiters = [w for w in self._waiters if w not in ready]
                for w in ready:
                    m = w.request
                    self._answer(
                        m, self._read(w.target, m.offset, clamp_length(m.length) or 1, True)
                    )
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    def close(self) -> None:
        """Stop the poller; held followers get no answer (their reader times out)."""
        with self._lock:
            self._closed = True
            self._waiters.clear()
        self._wake.set()
