"""Persistent volumes and dynamic reservations on the agent (Mesos' checkpointed resources).

What the master applied on this agent (RESERVE, UNRESERVE, CREATE, DESTROY) arrives as
the agent's WHOLE set of checkpointed resources (Mesos' ``CheckpointResourcesMessage``):
the dynamically reserved resources and the persistent volumes. The agent:

* writes it atomically to ``<work_dir>/meta/resources.json`` BEFORE touching a directory,
  so a crash between the two is repaired by the next sync (which is idempotent);
* creates each new volume's directory ``<work_dir>/volumes/roles/<role>/<persistence id>``
  (Mesos' layout; a hierarchical role's ``/`` becomes a space so a role is one level);
* removes the directory of a volume no longer listed (DESTROY) — unless a live task still
  mounts it (it is kept and removed at the next sync after that task ended);
* mounts a task's volumes at their ``container_path`` by turning each into a host-path
  ``VolumeInfo`` (absolute host path = the volume's directory): the native containerizer
  bind-mounts it in the task's mount namespace, Docker gets a ``-v``;
* accounts the bytes of each volume (``du``: ``disk_usage``) at an interval; a task whose
  volume outgrows its size is reported, and killed with ``--enforce-disk-quota``;
* at start, refuses ``--resources`` that no longer contain the checkpointed reservations
  (``reservation_problem``): losing them would lose the volumes' data.

Everything deciding is pure (``plan_sync``, ``reservation_problem``, ``over_quota``,
``task_volumes``, ``mounts_for``); ``VolumeBook`` is the thin I/O part.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import posixpath
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors import protocol as p
from actors.agent._checkpoint import atomic_write_json
from actors.agent._errors import AgentError
from actors.resources import ResourceError, Resources, apply_checkpointed

log = logging.getLogger("actors.agent")

FORMAT = 1
"""Version of ``meta/resources.json``."""

_ID_RE = re.compile(r"[A-Za-z0-9_.\-#:@+]+\Z")
_MAX_ID = 255


class VolumeError(AgentError, ValueError):
    """A persistent volume or reservation the agent cannot accept (names it)."""


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """One persistent volume as the agent keeps it."""

    persistence_id: str
    role: str
    size_mb: float = 0.0
    container_path: str = ""
    """Where a task mounts it (from the task's resources; empty in the checkpoint)."""
    mode: str = "RW"
    principal: str = ""


def check_persistence_id(value: object) -> str:
    """A persistence id is one path component: no ``/``, not ``.``/``..``, bounded."""
    if not isinstance(value, str) or not value:
        raise VolumeError(f"persistence_id: {value!r:.80} must be a non-empty string")
    if len(value) > _MAX_ID or not _ID_RE.match(value) or value in (".", ".."):
        raise VolumeError(
            f"persistence_id: {value!r:.80} must be 1-{_MAX_ID} of A-Z a-z 0-9 _ . - # : @ +"
        )
    return value


def check_role(value: object) -> str:
    """A reservation's role: a Mesos role name, never ``*`` (that is unreserved)."""
    if not isinstance(value, str) or not value or value == "*":
        raise VolumeError(f"role: {value!r:.80} is not a role a volume can belong to")
    parts = value.split("/")
    if any(part in ("", ".", "..") for part in parts) or not all(
        re.match(r"[A-Za-z0-9_.\-]+\Z", part) for part in parts
    ):
        raise VolumeError(f"role: {value!r:.80} is not a valid role name")
    return value


def volumes_root(work_dir: str | Path) -> Path:
    return Path(work_dir) / "volumes" / "roles"


def volume_path(work_dir: str | Path, role: str, persistence_id: str) -> Path:
    """``<work_dir>/volumes/roles/<role>/<persistence_id>`` (validated: never outside)."""
    check_role(role)
    check_persistence_id(persistence_id)
    return volumes_root(work_dir) / role.replace("/", " ") / persistence_id


def specs_of(resources: Resources) -> list[VolumeSpec]:
    """The persistent volumes of a resource bag (``actors.resources``' volume entries:
    ``disk(role,principal,{labels})[id:path]:MB``), checked."""
    out = []
    for e in resources.volumes():
        vol = e.volume
        assert vol is not None  # volumes() lists only entries with one
        value = e.value
        out.append(
            VolumeSpec(
                persistence_id=check_persistence_id(vol.persistence_id),
                role=check_role(e.role),
                size_mb=float(value) if isinstance(value, int | float) else 0.0,
                container_path=vol.container_path,
                mode=vol.mode,
                principal=e.reservation.principal if e.reservation is not None else "",
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Checkpointed:
    """The agent's checkpointed resources: its dynamic reservations, volumes included
    (``Resources.dynamic()`` of its total, as the master applied them)."""

    resources: Resources = dataclasses.field(default_factory=Resources)

    @property
    def volumes(self) -> tuple[VolumeSpec, ...]:
        return tuple(specs_of(self.resources))

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "resources": self.resources.to_dict()}

    @classmethod
    def from_json(cls, doc: Any) -> Checkpointed:
        if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
            raise VolumeError(f"meta/resources.json: not a format-{FORMAT} document")
        try:
            res = Resources.from_dict(doc.get("resources") or {})
        except ResourceError as exc:
            raise VolumeError(f"meta/resources.json: resources: {exc}") from None
        return cls(res)


# ------------------------------------------------------------------------ pure rules


def plan_sync(
    old: Iterable[VolumeSpec], new: Iterable[VolumeSpec], in_use: Iterable[tuple[str, str]] = ()
) -> tuple[list[VolumeSpec], list[VolumeSpec], list[VolumeSpec]]:
    """(to create, to destroy, destroy postponed because a live task mounts them).
    Volumes are identified by (role, persistence id)."""
    new = list(new)
    new_keys = {(v.role, v.persistence_id) for v in new}
    old_list = list(old)
    busy = set(in_use)
    create = list(new)
    destroy = [v for v in old_list if (v.role, v.persistence_id) not in new_keys]
    now = [v for v in destroy if (v.role, v.persistence_id) not in busy]
    later = [v for v in destroy if (v.role, v.persistence_id) in busy]
    return create, now, later


def reservation_problem(checkpointed: Resources, total: Resources) -> str | None:
    """Why an agent started with ``total`` (its ``--resources``) cannot hold the dynamic
    reservations and volumes it checkpointed, or None (``apply_checkpointed``'s rule:
    they are carved out of the unreserved part, which must still contain them)."""
    try:
        apply_checkpointed(total, checkpointed)
    except ResourceError as exc:
        return (
            f"{exc}; restart the agent with --resources that include them, or unreserve "
            "them (destroying their volumes) first"
        )
    return None


def task_volumes(task: p.TaskInfo) -> list[VolumeSpec]:
    """The persistent volumes a task mounts: the volume entries of its resources."""
    if not task.resources:
        return []
    try:
        res = Resources.from_dict(task.resources)
    except ResourceError as exc:
        raise VolumeError(f"task {task.task_id}: resources: {exc}") from None
    return specs_of(res)


def mounts_for(work_dir: str | Path, specs: Sequence[VolumeSpec]) -> list[p.VolumeInfo]:
    """Host-path volumes mounting each persistent volume at its container path."""
    out = []
    for v in specs:
        if not v.container_path:
            raise VolumeError(f"volume {v.persistence_id}: no container_path to mount it at")
        out.append(
            p.VolumeInfo(
                v.container_path,
                str(volume_path(work_dir, v.role, v.persistence_id).resolve()),
                v.mode if v.mode in ("RW", "RO") else "RW",
            )
        )
    return out


def attach(work_dir: str | Path, task: p.TaskInfo, known: Iterable[VolumeSpec]) -> p.TaskInfo:
    """``task`` with its persistent volumes added to its container's volumes. A volume
    this agent never created (no CREATE reached it) refuses the launch (VolumeError)."""
    specs = task_volumes(task)
    if not specs:
        return task
    have = {(v.role, v.persistence_id) for v in known}
    for v in specs:
        if (v.role, v.persistence_id) not in have:
            raise VolumeError(
                f"persistent volume {v.persistence_id} (role {v.role}) does not exist on this agent"
            )
    extra = mounts_for(work_dir, specs)
    c = task.container or p.ContainerInfo()
    c = dataclasses.replace(c, volumes=[*c.volumes, *extra])
    return dataclasses.replace(task, container=c)


def over_quota(
    usage: Mapping[tuple[str, str], int], specs: Iterable[VolumeSpec]
) -> list[tuple[VolumeSpec, int]]:
    """Volumes using more bytes than their size (size 0: unlimited)."""
    out = []
    for v in specs:
        used = usage.get((v.role, v.persistence_id), 0)
        if v.size_mb > 0 and used > v.size_mb * 1024 * 1024:
            out.append((v, used))
    return out


def disk_usage(path: Path) -> int:
    """Bytes under ``path`` (``du``-style: allocated blocks, hard links once, no symlink
    following, never leaving the file system)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    try:
        top = os.lstat(path)
    except OSError:
        return 0
    dev = top.st_dev
    stack = [str(path)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_dev != dev:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                total += st.st_blocks * 512
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
    return total


# ------------------------------------------------------------------------ the I/O part


class VolumeBook:
    """The agent's checkpointed resources on disk and its volume directories."""

    def __init__(self, work_dir: str | Path) -> None:
        self.work_dir = Path(work_dir)
        self.path = self.work_dir / "meta" / "resources.json"
        self.current = Checkpointed()
        self.pending_destroy: list[VolumeSpec] = []
        """Destroyed volumes a live task still mounted: removed at the next sync."""

    def load(self) -> Checkpointed:
        """Read the checkpoint (none: nothing reserved). A corrupt file raises: the agent
        refuses to start rather than forget reservations and volumes."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            self.current = Checkpointed()
            return self.current
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise VolumeError(f"{self.path}: not JSON ({exc})") from None
        self.current = Checkpointed.from_json(doc)
        for v in self.current.volumes:  # a crash between checkpoint and mkdir
            self._create(v)
        return self.current

    def apply(
        self, new: Checkpointed, in_use: Iterable[tuple[str, str]] = ()
    ) -> tuple[list[VolumeSpec], list[VolumeSpec]]:
        """Checkpoint ``new`` then make the directories agree; returns (created, removed)."""
        create, destroy, later = plan_sync(
            [*self.current.volumes, *self.pending_destroy], new.volumes, in_use
        )
        atomic_write_json(self.path, new.to_json())
        self.current = new
        created = [v for v in create if self._create(v)]
        for v in destroy:
            self._remove(v)
        for v in later:
            log.warning(
                "agent: volume %s (role %s) destroyed while a task mounts it: removed once "
                "the task ends",
                v.persistence_id,
                v.role,
            )
        self.pending_destroy = later
        return created, destroy

    def _create(self, v: VolumeSpec) -> bool:
        d = volume_path(self.work_dir, v.role, v.persistence_id)
        if d.is_dir():
            return False
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o777)  # tasks may run as another user (Mesos leaves it to the task)
        log.info("agent: created persistent volume %s at %s", v.persistence_id, d)
        return True

    def _remove(self, v: VolumeSpec) -> None:
        d = volume_path(self.work_dir, v.role, v.persistence_id)
        root = volumes_root(self.work_dir).resolve()
        real = d.resolve()
        if root not in real.parents:
            log.error("agent: not removing %s: outside %s", real, root)
            return
        shutil.rmtree(real, ignore_errors=True)
        log.info("agent: destroyed persistent volume %s (%s)", v.persistence_id, real)

    def usage(self) -> dict[tuple[str, str], int]:
        """Bytes used by each volume, by (role, persistence id)."""
        return {
            (v.role, v.persistence_id): disk_usage(
                volume_path(self.work_dir, v.role, v.persistence_id)
            )
            for v in self.current.volumes
        }


# ------------------------------------------------------------------ agent actor hooks

REASON_DISK_LIMIT = "REASON_CONTAINER_LIMITATION_DISK"
DEFAULT_DISK_WATCH_INTERVAL = 15.0
"""Seconds between two volume usage checks (Mesos' ``--container_disk_watch_interval``)."""


@dataclass(frozen=True, slots=True)
class DiskTick:
    """Timer -> agent actor: account the persistent volumes' disk usage."""


def setup(agent: Any) -> None:
    """At ``started()``: load the checkpointed resources, refuse ``--resources`` that no
    longer hold them (raises VolumeError: the agent does not start), start the usage
    checks. Without a work dir nothing is persistent, so nothing happens."""
    agent.disk_limited = {}
    if not agent.work_dir:
        agent.volume_book = None
        return
    book = agent.volume_book = VolumeBook(agent.work_dir)
    cp = book.load()
    bad = reservation_problem(cp.resources, agent.resources)
    if bad is not None:
        raise VolumeError(bad)
    if cp.resources:
        log.info("agent: checkpointed reservations and volumes: %s", cp.resources)
    agent.send_interval(
        getattr(agent, "disk_watch_interval", DEFAULT_DISK_WATCH_INTERVAL), DiskTick()
    )


def in_use(agent: Any) -> set[tuple[str, str]]:
    """(role, persistence id) of the volumes of the agent's live tasks."""
    out: set[tuple[str, str]] = set()
    for t in agent.tasks.values():
        if not _terminal(t.state):
            try:
                out.update((v.role, v.persistence_id) for v in task_volumes(t.info))
            except VolumeError:
                continue
    return out


def on_checkpoint(agent: Any, resources: Mapping[str, Any]) -> None:
    """The master's whole set of this agent's checkpointed resources: checkpoint it,
    then create and remove volume directories to match."""
    book: VolumeBook | None = agent.volume_book
    try:
        res = Resources.from_dict(resources).dynamic()
        specs_of(res)  # every volume checked before anything is written
    except (ResourceError, VolumeError) as exc:
        log.error("agent: refusing checkpointed resources from the master: %s", exc)
        return
    if book is None:
        log.warning("agent: no work dir: reservations are not checkpointed (%s)", res)
        return
    created, removed = book.apply(Checkpointed(res), in_use(agent))
    if created or removed:
        log.info(
            "agent: volumes created %s, destroyed %s",
            [v.persistence_id for v in created],
            [v.persistence_id for v in removed],
        )


def prepare(agent: Any, task: p.TaskInfo) -> p.TaskInfo:
    """``task`` with its persistent volumes mounted (raises VolumeError naming one the
    agent does not hold)."""
    specs = task_volumes(task)
    if not specs:
        return task
    book: VolumeBook | None = agent.volume_book
    if book is None:
        raise VolumeError(f"task {task.task_id}: persistent volumes need an agent work dir")
    return attach(book.work_dir, task, book.current.volumes)


def check_usage(agent: Any) -> list[tuple[str, VolumeSpec, int]]:
    """Account every volume; a live task whose volume outgrew its size is reported, and
    killed when the agent enforces disk quotas. Returns (task id, volume, bytes)."""
    book: VolumeBook | None = agent.volume_book
    if book is None:
        return []
    if book.pending_destroy:  # destroyed while mounted: gone once their tasks ended
        book.apply(book.current, in_use(agent))
    if not book.current.volumes:
        return []
    usage = book.usage()
    agent.volume_usage = usage
    found = []
    for tid, t in agent.tasks.items():
        if _terminal(t.state) or tid in agent.disk_limited:
            continue
        try:
            specs = task_volumes(t.info)
        except VolumeError:
            continue
        for v, used in over_quota(usage, specs):
            found.append((tid, v, used))
            message = (
                f"Disk usage ({used / 1048576:.1f} MB) of persistent volume "
                f"{v.persistence_id} exceeds its size ({v.size_mb:g} MB)"
            )
            if getattr(agent, "enforce_disk_quota", False):
                log.warning("agent: killing task %s: %s", tid, message)
                agent.disk_limited[tid] = message
                agent.runner.kill(tid, 0.0, agent._report_fn)
                break
            log.warning("agent: task %s: %s (not enforced)", tid, message)
    return found


def translate(
    agent: Any, state: str, reason: str | None, message: str, task_id: str
) -> tuple[str, str | None, str]:
    """A task the agent killed for its disk usage ends FAILED with Mesos' limitation
    reason, whatever its runner saw (a kill)."""
    limited = getattr(agent, "disk_limited", {})
    if task_id in limited and _terminal(state):
        return "TASK_FAILED", REASON_DISK_LIMIT, limited.pop(task_id)
    return state, reason, message


def _terminal(state: str) -> bool:
    from actors.task_states import is_terminal

    return is_terminal(state)


def check_checkpointed_resources(work_dir: str | Path, resources: Resources) -> str | None:
    """Why an agent with this work dir may not start with ``resources`` (its checkpointed
    reservations no longer fit, or the checkpoint is unreadable), or None. For
    ``pydcos agent``, before anything starts."""
    try:
        cp = VolumeBook(work_dir).load()
    except VolumeError as exc:
        return str(exc)
    return reservation_problem(cp.resources, resources)


def checkpointed(agent: Any) -> dict[str, Any]:
    """What the agent reports at (re-)registration: its checkpointed dynamic set."""
    book: VolumeBook | None = getattr(agent, "volume_book", None)
    return book.current.resources.to_dict() if book is not None else {}


# ------------------------------------------------------------------ Docker named volumes

_DOCKER_VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}\Z")


def parse_docker_volume(value: str) -> tuple[str, str, str]:
    """A Docker named volume from a ``volume`` docker parameter (``docker run --volume``):
    ``name:/container/path[:ro|rw]`` -> (name, path, "ro"|"rw"). A host path (``/x:/y``)
    is not a named volume: host paths are ``container.volumes`` entries."""
    parts = value.split(":")
    if len(parts) not in (2, 3):
        raise VolumeError(f"volume {value!r:.80}: expected name:/container/path[:ro|rw]")
    name, path = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    if not _DOCKER_VOLUME_NAME.match(name):
        raise VolumeError(
            f"volume {value!r:.80}: {name!r:.60} is not a Docker volume name "
            "([A-Za-z0-9][A-Za-z0-9_.-]*; host paths go in container.volumes)"
        )
    if not path.startswith("/") or posixpath.normpath(path) == "/" or "\0" in path:
        raise VolumeError(f"volume {value!r:.80}: {path!r:.60} must be an absolute path, not /")
    if mode not in ("ro", "rw"):
        raise VolumeError(f"volume {value!r:.80}: mode {mode!r:.20} is not ro or rw")
    return name, posixpath.normpath(path), mode


def docker_volumes(
    parameters: Iterable[Any],
) -> tuple[tuple[tuple[str, str, str], ...], str | None]:
    """The named volumes and the volume driver of a Docker task's parameters."""
    vols = []
    driver = None
    for prm in parameters:
        if prm.key == "volume":
            vols.append(parse_docker_volume(prm.value))
        elif prm.key == "volume-driver":
            if not _DOCKER_VOLUME_NAME.match(prm.value):
                raise VolumeError(f"volume-driver {prm.value!r:.60} is not a driver name")
            driver = prm.value
    return tuple(vols), driver
