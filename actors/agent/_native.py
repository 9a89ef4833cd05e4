"""The native ("mesos") containerizer: /bin/sh -c in a cgroup and fresh namespaces.

Process tree of one isolated task (pid = the tracked pid, checkpointed):

    pid: sh (joins the task cgroup) --exec--> unshare --pid --mount --ipc --uts --kill-child
          └─ pid 1 in the new pid ns: sh "init" (tmpfs /tmp, proc, forwards SIGTERM,
             records the exit status in meta/tasks/<id>.exit)
               └─ /bin/sh -c <command>  (stdout/stderr appended to the sandbox files)

The task is started in a new session, so SIGKILLing the agent leaves it running; a
restarted agent reattaches through the checkpoint (pid + start time + cgroup) and
watches it with a pidfd. When pid 1 exits the kernel kills the rest of the namespace;
the cgroup catches anything left.

Volumes (``TaskSpec.volumes``, Mesos' host-path and sandbox volumes) are bind mounts
the init makes in the task's mount namespace (RO: bind, then remount read-only): a
relative container path is in the sandbox, a relative host path is a directory of the
sandbox; host paths hidden by the private /tmp are reached through a descriptor the
init opened before hiding them (``/proc/self/fd/3``). Without an image an absolute
container path must exist on the host (Mesos' rule; under the private /tmp it is
created there).

An image (``TaskSpec.image`` on a MESOS container: the universal runtime) is
provisioned by the agent's `ImageStore` into a per-container root; the init then
mounts the sandbox at ``/mnt/mesos/sandbox``, a fresh ``/proc``, a minimal ``/dev``,
read-only ``/sys``, the host's ``/etc/hosts`` and ``/etc/resolv.conf`` (host
networking, as Mesos' network isolator) and the volumes into that root, and a tiny
launcher (`_ROOTFS_EXEC`) pivot_roots into it, detaches the host's root, switches to
the image's user and execs the image's Entrypoint/Cmd (`image_argv`) with its Env
(`image_env`) in its WorkingDir, as the Mesos runtime does. Nothing falls back to the
host's filesystem: an image that cannot be provisioned fails the task naming it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from actors.agent import _cgroups, _user
from actors.agent._base import TaskHandle, busy_port, invalid
from actors.agent._checkpoint import checkpoint_dir, read_checkpoints, write_checkpoint
from actors.agent._fetcher import fetch
from actors.agent._health_runner import command_runner, namespace_runner
from actors.agent._images import ImageError, ImageStore, Rootfs
from actors.agent._sandbox import Sandbox
from actors.agent._spec import (
    REASON_COMMAND_EXECUTOR_FAILED,
    REASON_CONTAINER_LAUNCH_FAILED,
    REASON_CONTAINER_LIMITATION_MEMORY,
    REASON_EXECUTOR_TERMINATED,
    TASK_FAILED,
    TASK_FINISHED,
    TASK_RUNNING,
    TASK_STARTING,
    FetchError,
    LaunchError,
    OnHealth,
    OnUpdate,
    RecoveredTask,
    TaskSpec,
    Usage,
    Volume,
)
from runtime import Clock, SystemClock, real_now

log = logging.getLogger("actors.agent.native")

# Moves itself into each cgroup.procs named before "--", then execs the rest.
_JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; exec "$@"'
# pid 1 of the task (or the session leader without isolation). $1 status file,
# $2 sandbox, $3 "1" to set up the private /tmp, $4 a directory to hide under an empty
# tmpfs (one the task's user cannot pass through on the way to its sandbox) or "", then
# the command's argv. A sandbox under either tmpfs is bound back to its own path.
# Descriptors 3 and 4 keep the hidden /tmp and directory reachable for the volumes'
# mounts; the task inherits neither. `init_script` fills @SETUP@ (this host setup, or
# the image root's) and @MOUNTS@ (the volumes).
_INIT = r"""
st="$1"; sb="$2"; iso="$3"; hide="$4"; shift 4
exec 9>"$st"
fail() { echo "pydcos-init: $*" >&2; exit 125; }
P="$PATH"; PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
@SETUP@
@MOUNTS@
PATH="$P"
"$@" 3<&- 4<&- 9>&- &
c=$!
trap 'kill -TERM $c 2>/dev/null' TERM
while :; do wait $c; s=$?; kill -0 $c 2>/dev/null || break; done
echo $s >&9
exit $s
"""

_HOST_SETUP = r"""if [ "$iso" = 1 ]; then
  exec 3</tmp || exit 125
  if [ -n "$hide" ]; then exec 4<"$hide" || exit 125; fi
  mount -t tmpfs -o mode=1777 tmpfs /tmp || exit 125
  if [ -n "$hide" ]; then
    mount -t tmpfs -o mode=0755 tmpfs "$hide" || exit 125
  fi
  case "$sb" in /tmp|/tmp/*) hide=/tmp ;; esac
  if [ -n "$hide" ]; then
    (umask 022; mkdir -p "$sb") && mount --no-canonicalize --bind /proc/self/cwd "$sb" \
      && cd "$sb" || exit 125
  fi
fi"""

# The image task's setup and exec, run by pid 1 of its namespaces (as root, in its mount
# namespace) as ``python -I -S -c _ROOTFS_EXEC root workdir uid gid groups <ops> --
# argv...``: make the root's mounts (`rootfs_ops`, flattened by `ops_argv`: one process
# instead of a fork+exec of mount(8) per mount, and no json/re imports), pivot_root into
# the root, detach the host's root (runc's sequence), switch to the image's user and exec
# the command with its PATH.
# Exit 125 (setup), 126 (cannot exec), 127 (not found), as a shell would.
_ROOTFS_EXEC = r"""
import ctypes, os, sys
a = sys.argv
root, wd, uid, gid, groups = a[1:6]
ops, i = [], 7
for _ in range(int(a[6])):
    k = int(a[i + 3])
    ops.append([a[i], a[i + 1] == "1", a[i + 2], *a[i + 4 : i + 4 + k]])
    i += 4 + k
argv = a[i + 1 :]
def die(code, msg):
    sys.stderr.write("pydcos-init: " + msg + "\n"); sys.stderr.flush(); os._exit(code)
libc = ctypes.CDLL(None, use_errno=True)
def b(x):
    return x.encode() if x else None
for op in ops:
    kind, optional, what = op[0], op[1], op[2]
    try:
        if kind == "mount":
            src, tgt, fstype, flags, data = op[3:8]
            if libc.mount(b(src), b(tgt), b(fstype), int(flags), b(data)) != 0:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))
        elif kind == "file":
            os.close(os.open(op[3], os.O_WRONLY | os.O_CREAT, 0o666))
        elif kind == "mkdir":
            os.makedirs(op[3], exist_ok=True)
        elif kind == "symlink":
            os.symlink(op[3], op[4])
    except OSError as e:
        if not optional:
            die(125, "cannot %s: %s" % (what, e.strerror))
nr = {"x86_64": 155, "aarch64": 41, "armv7l": 218, "ppc64le": 203, "s390x": 217}
try:
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY)
    os.chdir(root)
    if libc.syscall(nr[os.uname().machine], b".", b".") != 0:
        raise OSError(ctypes.get_errno(), "pivot_root " + root)
    os.fchdir(old)
    if libc.umount2(b".", 2) != 0:
        raise OSError(ctypes.get_errno(), "detaching the host's root")
    os.close(old)
    os.chdir("/")
    os.setgroups([int(g) for g in groups.split(",") if g])
    os.setgid(int(gid))
    os.setuid(int(uid))
except (OSError, KeyError) as e:
    die(125, "cannot enter the image root: %s" % (e,))
try:
    os.chdir(wd or "/")
except OSError as e:
    die(125, "cannot change to the working directory %s: %s" % (wd, e.strerror))
# PATH is searched here: os.execvp would import modules the image does not have.
cmd = argv[0]
found = None
if "/" in cmd:
    found = cmd
else:
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        c = (d or ".") + "/" + cmd
        if os.path.isfile(c) and os.access(c, os.X_OK):
            found = c
            break
if found is None:
    die(127, "%s: not found in the image" % cmd)
try:
    os.execv(found, argv)
except FileNotFoundError:
    die(127, "%s: not found in the image" % cmd)
except OSError as e:
    die(126, "%s: cannot execute: %s" % (cmd, e.strerror))
"""

IMAGE_SANDBOX = "/mnt/mesos/sandbox"
"""Where an image task sees its sandbox (Mesos' ``--sandbox_directory``)."""
DEFAULT_IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH of an image task whose image and task set none (Docker's default)."""


class VolumeError(LaunchError):
    """A volume cannot be mounted (TASK_FAILED naming it)."""


@dataclass(frozen=True)
class Mount:
    """One bind mount the init makes, as paths the init sees when it makes it."""

    source: str
    """The file or directory mounted (maybe ``/proc/self/fd/N/...``: under a hidden
    directory)."""
    target: str
    """Where (the task's view; under the image root for image tasks)."""
    readonly: bool
    make: str = ""
    """``dir`` or ``file``: create the target in the namespace first (inside a private
    tmpfs, where the agent cannot)."""
    name: str = ""
    """The volume's container path, for messages."""


@dataclass(frozen=True)
class ImageUser:
    """Who an image task runs as, from the image's own /etc/passwd and /etc/group."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def init_script(mounts: Sequence[Mount] = (), host: bool = True) -> str:
    """The init's shell script (pure): the host setup (private /tmp) unless ``host`` is
    False (an image task: its launcher makes the root's mounts, `rootfs_ops`), then each
    mount in order (bind; RO: remount read-only)."""
    q = shlex.quote
    setup = _HOST_SETUP if host else ":"
    lines = []
    for m in mounts:
        what = q(f"cannot mount volume {m.name or m.target} ({m.source})")
        if m.make == "dir":
            lines.append(f"mkdir -p {q(m.target)} || fail {what}")
        elif m.make == "file":
            parent = q(os.path.dirname(m.target) or "/")
            lines.append(f"mkdir -p {parent} && : >> {q(m.target)} || fail {what}")
        lines.append(f"mount --no-canonicalize --bind {q(m.source)} {q(m.target)} || fail {what}")
        if m.readonly:
            lines.append(f"mount --no-canonicalize -o remount,bind,ro {q(m.target)} || fail {what}")
    return _INIT.replace("@SETUP@", setup).replace("@MOUNTS@", "\n".join(lines))


MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
"""mount(2) flags (linux/mount.h)."""
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
"""The host devices an image task gets in its own /dev (Mesos' and runc's default set)."""


def rootfs_ops(layout: Mapping[str, str], sandbox: str, mounts: Sequence[Mount]) -> list[list[Any]]:
    """What the launcher does in the task's mount namespace before pivot_root (pure):
    the root bound on itself (pivot_root needs a mount point), the sandbox at
    /mnt/mesos/sandbox, a new /proc, a /dev tmpfs with the usual devices, shm and a
    private devpts, /sys read-only, then ``mounts`` (bind; RO: remounted read-only).
    Each op is ``[kind, optional, what, *args]``."""
    root, dev = layout["R"], layout["DEV"]
    nosuid = MS_NOSUID | MS_NODEV | MS_NOEXEC
    ops: list[list[Any]] = [
        ["mount", False, f"bind the image root {root}", root, root, None, MS_BIND, None],
        [
            "mount",
            False,
            "mount the sandbox in the image",
            sandbox,
            layout["SB"],
            None,
            MS_BIND,
            None,
        ],
        ["mount", False, "mount /proc in the image", "proc", layout["PROC"], "proc", nosuid, None],
        ["mount", False, "mount /dev in the image", "tmpfs", dev, "tmpfs", MS_NOSUID, "mode=0755"],
    ]
    for d in _DEVICES:
        ops.append(["file", False, f"make /dev/{d} in the image", f"{dev}/{d}"])
        ops.append(
            [
                "mount",
                False,
                f"make /dev/{d} in the image",
                f"/dev/{d}",
                f"{dev}/{d}",
                None,
                MS_BIND,
                None,
            ]
        )
    ops += [
        ["mkdir", False, "make /dev/shm in the image", f"{dev}/shm"],
        ["mkdir", False, "make /dev/pts in the image", f"{dev}/pts"],
        [
            "mount",
            False,
            "mount /dev/shm in the image",
            "shm",
            f"{dev}/shm",
            "tmpfs",
            MS_NOSUID | MS_NODEV,
            "mode=1777",
        ],
        [
            "mount",
            True,
            "",
            "devpts",
            f"{dev}/pts",
            "devpts",
            MS_NOSUID | MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620",
        ],
        ["symlink", True, "", "pts/ptmx", f"{dev}/ptmx"],
        ["symlink", True, "", "/proc/self/fd", f"{dev}/fd"],
    ]
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        ops.append(["symlink", True, "", f"/proc/self/fd/{i}", f"{dev}/{name}"])
    ops.append(["mount", True, "", "sysfs", layout["SYS"], "sysfs", MS_RDONLY | nosuid, None])
    for m in mounts:
        what = f"mount volume {m.name or m.target} ({m.source})"
        ops.append(["mount", False, what, m.source, m.target, None, MS_BIND, None])
        if m.readonly:
            flags = MS_REMOUNT | MS_BIND | MS_RDONLY
            ops.append(["mount", False, what, None, m.target, None, flags, None])
    return ops


def ops_argv(ops: Sequence[Sequence[Any]]) -> list[str]:
    """``ops`` as the launcher's argv (pure): their count, then per op its kind,
    ``1`` if optional, what it does, its argument count and arguments (None -> "")."""
    out = [str(len(ops))]
    for kind, optional, what, *args in ops:
        out += [kind, "1" if optional else "", what, str(len(args))]
        out += ["" if x is None else str(x) for x in args]
    return out


def image_argv(command: str | None, args: Sequence[str], config: Any, image: str) -> list[str]:
    """The argv of an image task, as the Mesos runtime builds it (pure): a shell command
    runs as ``/bin/sh -c`` inside the image (Entrypoint and Cmd ignored); else the
    image's Entrypoint followed by the task's args, or by the image's Cmd when the task
    gives none; without an Entrypoint, the task's args, else the Cmd."""
    if command:
        return ["/bin/sh", "-c", command]
    entrypoint = list(config.entrypoint or ())
    rest = list(args) if args else list(config.cmd or ())
    argv = entrypoint + rest
    if not argv:
        raise LaunchError(
            f"image {image!r} has neither Entrypoint nor Cmd and the task gives no command"
        )
    return argv


def image_env(config: Any, task_env: Mapping[str, str], user: ImageUser) -> dict[str, str]:
    """An image task's environment (pure): a default PATH and the user's HOME, then the
    image's Env, then the task's (its own variables and the agent's MESOS_*, PORT*
    ones, which win, as Mesos sets the CommandInfo environment over the image's)."""
    env = {"PATH": DEFAULT_IMAGE_PATH, "HOME": user.home or "/"}
    env.update(config.env_dict())
    env.update(task_env)
    return env


def _db_rows(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def image_user(spec: str, passwd: str, group: str, image: str) -> ImageUser:
    """``user``, ``uid``, ``user:group`` or ``uid:gid`` resolved in the image's own
    /etc/passwd and /etc/group texts (pure), as Docker does; "" is root."""
    name, _, grp = (spec or "0").partition(":")
    users = [r for r in _db_rows(passwd) if len(r) >= 7]
    groups = [r for r in _db_rows(group) if len(r) >= 3]
    row = next((r for r in users if r[0] == name or (name.isdigit() and r[2] == name)), None)
    if row is None and not name.isdigit():
        raise LaunchError(f"user {name!r} is not in the /etc/passwd of image {image!r}")
    uid = int(name) if row is None else int(row[2])
    # An id with no passwd entry runs with group 0, as runc does.
    gid = int(row[3]) if row is not None and row[3].isdigit() else 0
    home = row[5] if row is not None else "/"
    if grp:
        g = next((r for r in groups if r[0] == grp or (grp.isdigit() and r[2] == grp)), None)
        if g is None and not grp.isdigit():
            raise LaunchError(f"group {grp!r} is not in the /etc/group of image {image!r}")
        gid = int(grp) if g is None else int(g[2])
    member_of = set()
    if row is not None:
        for r in groups:
            if len(r) >= 4 and r[2].isdigit() and row[0] in r[3].split(","):
                member_of.add(int(r[2]))
    extra = tuple(sorted(member_of - {gid}))
    return ImageUser(uid, gid, extra, home)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _volume_source(v: Volume, sandbox: Path) -> Path:
    """The host file or directory a volume mounts (created as a directory if missing,
    as Mesos' host-path isolator and Docker do); a relative one must stay in the
    sandbox (symlinks included)."""
    if v.host_path.startswith("/"):
        src = Path(os.path.realpath(v.host_path))
    else:
        src = Path(os.path.realpath(sandbox / v.host_path))
        if not _inside(src, sandbox):
            raise VolumeError(
                f"volume {v.container_path!r}: hostPath {v.host_path!r} leaves the sandbox"
            )
    if not src.exists():
        try:
            src.mkdir(parents=True)
        except OSError as e:
            raise VolumeError(
                f"volume {v.container_path!r}: cannot create hostPath {v.host_path!r}: {e.strerror}"
            ) from None
    return src


def _in_sandbox_target(v: Volume, sandbox: Path, is_file: bool) -> Path:
    """A relative container path's place in the sandbox (created), never out of it."""
    t = Path(os.path.realpath(sandbox / v.container_path))
    if not _inside(t, sandbox) or t == sandbox:
        raise VolumeError(f"volume {v.container_path!r}: containerPath leaves the sandbox")
    _make(t, is_file, v)
    return t


def _make(t: Path, is_file: bool, v: Volume) -> None:
    try:
        if is_file:
            t.parent.mkdir(parents=True, exist_ok=True)
            if not t.exists():
                t.touch()
        else:
            t.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VolumeError(
            f"volume {v.container_path!r}: cannot create its mount point: {e.strerror}"
        ) from None


def _host_view(src: Path, sandbox: Path, hidden: Sequence[tuple[Path, str]]) -> str:
    """``src`` as the init sees it after hiding /tmp (and the closed directory): through
    the descriptor it opened on the hidden directory; the sandbox is bound back."""
    if _inside(src, sandbox):
        return str(src)
    for top, fd in hidden:
        if _inside(src, top):
            rel = os.path.relpath(src, top)
            return f"/proc/self/fd/{fd}" + ("" if rel == "." else f"/{rel}")
    return str(src)


def host_mounts(
    volumes: Sequence[Volume], sandbox: Path, hidden: Sequence[tuple[Path, str]] = ()
) -> list[Mount]:
    """The mounts of a task without an image. ``hidden``: (directory, descriptor) the
    init hides under a private tmpfs (/tmp -> 3, the closed directory -> 4); an
    absolute container path there is created in that tmpfs, elsewhere it must exist
    on the host (Mesos' rule for containers without an image)."""
    sandbox = Path(os.path.realpath(sandbox))
    out = []
    for v in volumes:
        src = _volume_source(v, sandbox)
        is_file = not src.is_dir()
        make = ""
        if v.container_path.startswith("/"):
            target = Path(os.path.normpath(v.container_path))
            if any(_inside(target, top) for top, _ in hidden):
                make = "file" if is_file else "dir"
            elif not target.exists():
                raise VolumeError(
                    f"volume {v.container_path!r}: containerPath does not exist on the agent "
                    "(without an image a volume is mounted over an existing path)"
                )
            else:
                target = Path(os.path.realpath(target))
        else:
            target = _in_sandbox_target(v, sandbox, is_file)
        out.append(
            Mount(
                _host_view(src, sandbox, hidden),
                str(target),
                v.mode == "RO",
                make,
                v.container_path,
            )
        )
    return out


_HOST_FILES = ("/etc/hosts", "/etc/resolv.conf")
"""Host files an image task sees (host networking), as Mesos' network isolator binds
them; /etc/hostname stays the image's."""


def image_layout(rootfs: Any, sandbox: Path) -> dict[str, str]:
    """The image root's mount points (created in the container's own root)."""
    layout = {"R": str(rootfs.path)}
    for key, where in (("SB", IMAGE_SANDBOX), ("PROC", "/proc"), ("DEV", "/dev"), ("SYS", "/sys")):
        p = rootfs.resolve(where)
        p.mkdir(parents=True, exist_ok=True)
        layout[key] = str(p)
    return layout


def image_mounts(volumes: Sequence[Volume], sandbox: Path, rootfs: Any) -> list[Mount]:
    """The mounts of an image task: the host's /etc/hosts and /etc/resolv.conf (RO),
    then the volumes; a relative container path is in the sandbox
    (``/mnt/mesos/sandbox/<path>``), an absolute one is created in the image's root."""
    sandbox = Path(os.path.realpath(sandbox))
    sb_in_root = rootfs.resolve(IMAGE_SANDBOX)
    out = []
    for f in _HOST_FILES:
        if os.path.isfile(f):
            t = rootfs.resolve(f)
            _make(t, True, Volume(f, f, "RO"))
            out.append(Mount(os.path.realpath(f), str(t), True, "", f))
    for v in volumes:
        src = _volume_source(v, sandbox)
        is_file = not src.is_dir()
        if v.container_path.startswith("/"):
            target = rootfs.resolve(v.container_path)
            if target == Path(rootfs.path):
                raise VolumeError(f"volume {v.container_path!r}: covers the image's root")
            _make(target, is_file, v)
        else:
            in_sb = _in_sandbox_target(v, sandbox, is_file)
            target = sb_in_root / os.path.relpath(in_sb, sandbox)
        out.append(Mount(str(src), str(target), v.mode == "RO", "", v.container_path))
    return out


def _start_time(pid: int) -> float | None:
    """The process' start time, None when it is gone (a zombie counts as gone)."""
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        return p.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _children(pid: int) -> set[int]:
    try:
        return {int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except (OSError, ValueError):
        return set()


class NativeTask(TaskHandle):
    kind = "mesos"

    def __init__(self, *a: Any, containerizer: NativeContainerizer, **kw: Any) -> None:
        kw["clock"] = containerizer.clock
        super().__init__(*a, **kw)
        self._c = containerizer
        self._pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.cgroup: _cgroups.Cgroup | None = None
        self.status_file = checkpoint_dir(self.work_dir) / f"{self.task_id}.exit"
        self.isolated = False
        self.rootfs: Rootfs | None = None
        """The image root the task runs in (None: the host's filesystem)."""
        self.image_run: dict[str, Any] = {}
        """uid, gid, workdir, env of an image task (checkpointed: COMMAND checks)."""

    @property
    def pid(self) -> int | None:
        return self._pid

    # -- launch ---------------------------------------------------------------------
    def _launch(self) -> None:
        try:
            self._launch_inner()
        except Exception as e:  # never let a launch bug escape as an exception
            log.exception("launch of %s failed", self.task_id)
            self._cleanup_cgroup()
            self._emit(TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, f"launch failed: {e}")

    def _launch_inner(self) -> None:
        spec = self.spec
        bad = invalid(spec)
        if bad:
            self._emit(*bad)
            return
        c = self._c
        image = spec.image
        if (image or spec.volumes) and not c.isolated:
            # Never on the host's filesystem instead: the task would believe otherwise.
            what = f"image {image!r}" if image else "volumes"
            self._emit(
                TASK_FAILED,
                REASON_CONTAINER_LAUNCH_FAILED,
                f"cannot run a task with {what}: the native containerizer has no "
                f"isolation ({c.isolation_note})",
            )
            return
        run_as = setpriv = None
        if not image:  # an image task's user is one of the image's (`image_user`)
            try:
                run_as = _user.resolve(spec.user)
                setpriv = _user.find_setpriv() if run_as is not None else None
                if run_as is not None and setpriv is None:
                    raise _user.UserError(
                        f"cannot run the task as user {run_as.name!r}: setpriv(1) not found"
                    )
            except _user.UserError as e:
                self._emit(TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, str(e))
                return
        self.sandbox.create()
        try:
            for uri in spec.uris:
                fetch(uri, self.sandbox.path)
        except FetchError as e:
            self._emit(TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, str(e))
            return
        sandbox_path = Path(os.path.abspath(self.sandbox.path))
        if image:
            try:
                self.rootfs = c.images().provision(image, sandbox_path)
            except ImageError as e:
                self._emit(TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, str(e))
                return
            except OSError as e:
                self._emit(
                    TASK_FAILED,
                    REASON_CONTAINER_LAUNCH_FAILED,
                    f"image {image!r} cannot be provisioned: {e}",
                )
                return
        if run_as is not None:
            _user.chown_tree(self.sandbox.path, run_as)
        busy = busy_port(spec.host_ports())
        if busy:
            self._release_rootfs()
            self._emit(TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, busy)
            return
        self._emit(TASK_STARTING, None, "starting")
        if self._kill_requested.is_set():
            self._release_rootfs()
            self._emit(*self._killed_state())
            return
        self.isolated = c.isolated
        hide = None
        try:
            if self.rootfs is not None:
                inner, env, script = self._image_launch(sandbox_path)
            else:
                inner = ["/bin/sh", "-c", spec.command] if spec.command else list(spec.args)
                env = self.sandbox.environment(spec, c.host)
                if run_as is not None and setpriv is not None:
                    # Only the command switches: the isolation steps before it need root.
                    inner = [*_user.setpriv_argv(run_as, setpriv), *inner]
                    env.setdefault("USER", run_as.name)
                    env.setdefault("LOGNAME", run_as.name)
                if run_as is not None and self.isolated and not _under_tmp(sandbox_path):
                    hide = _user.closed_ancestor(sandbox_path, run_as)
                hidden = [(Path("/tmp"), "3")]
                if hide is not None:
                    hidden.append((Path(os.path.realpath(hide)), "4"))
                volumes = (*spec.volumes, *install_volumes()) if self.isolated else spec.volumes
                script = init_script(host_mounts(volumes, sandbox_path, hidden))
        except LaunchError as e:
            self._release_rootfs()
            self._emit(TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, str(e))
            return
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        init = [
            "/bin/sh",
            "-c",
            script,
            "pydcos-init",
            str(self.status_file),
            str(sandbox_path),
            "1" if self.isolated else "0",
            str(hide or ""),
            *inner,
        ]
        if self.isolated:
            assert c.cgroup_version is not None
            self.cgroup = _cgroups.Cgroup(c.cgroup_version, f"{c.cgroup_root}/{self.task_id}")
            self.cgroup.destroy(timeout=1.0)  # a stale one from an earlier run
            self.cgroup.create(spec.cpus, spec.mem, spec.cpus_limit, spec.mem_limit)
            argv = [
                "/bin/sh",
                "-c",
                _JOIN_CGROUPS,
                "pydcos-join",
                *self.cgroup.procs_files(),
                "--",
                c.unshare,
                "--pid",
                "--fork",
                "--mount",
                "--ipc",
                "--uts",
                "--kill-child",
                "--mount-proc",
                *init,
            ]
        else:
            argv = init
        with open(self.sandbox.stdout, "ab") as out, open(self.sandbox.stderr, "ab") as err:
            try:
                self._proc = subprocess.Popen(
                    argv,
                    cwd=self.sandbox.path,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as e:
                self._cleanup_cgroup()
                self._release_rootfs()
                self._emit(TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, f"cannot start: {e}")
                return
        pid = self._proc.pid
        self.checkpoint_data = {
            "kind": "mesos",
            "task_id": self.task_id,
            "spec": spec.to_json(),
            "pid": pid,
            "start_time": _start_time(pid),
            "isolated": self.isolated,
            "cgroup": self.cgroup.name if self.cgroup else None,
            "cgroup_version": self.cgroup.version if self.cgroup else None,
            "status_file": str(self.status_file),
            "sandbox": str(self.sandbox.path),
            "host": c.host,
        }
        if self.rootfs is not None:
            self.checkpoint_data["image"] = {"rootfs": self.rootfs.to_json(), **self.image_run}
        write_checkpoint(self.work_dir, self.task_id, self.checkpoint_data)
        # Published only once checkpointed: whoever sees the pid (the agent, a test that
        # SIGKILLs the agent next) can rely on a restarted agent finding the task.
        self._pid = pid
        message = "running" if self.isolated else f"running WITHOUT isolation: {c.isolation_note}"
        if self.rootfs is not None:
            message = f"running in image {self.rootfs.image!r} ({self.rootfs.digest[:19]})"
        self._emit(TASK_RUNNING, None, message)
        self._start_watch()
        self._start_health(spec.host_ports(), self._command_runner(env, run_as))
        if self._kill_requested.is_set():
            self._signal_term()

    def _image_launch(self, sandbox_path: Path) -> tuple[list[str], dict[str, str], str]:
        """(the init's command, its environment, its script) for a task in an image:
        the image's user, argv, env and working dir applied as the Mesos runtime does."""
        spec, rootfs = self.spec, self.rootfs
        assert rootfs is not None
        config = rootfs.config

        def read(path: str) -> str:
            try:
                return rootfs.resolve(path).read_text(errors="replace")
            except OSError:
                return ""

        user = image_user(
            spec.user or config.user, read("/etc/passwd"), read("/etc/group"), rootfs.image
        )
        argv = image_argv(spec.command, spec.args, config, rootfs.image)
        task_env = self.sandbox.environment(spec, self._c.host, sandbox_path=IMAGE_SANDBOX)
        own = dict(spec.env)
        for key in ("PATH", "HOME"):  # the agent's own, meaningless in the image
            if key not in own:
                task_env.pop(key, None)
        env = image_env(config, task_env, user)
        wd = config.working_dir or IMAGE_SANDBOX
        if wd != IMAGE_SANDBOX:
            with contextlib.suppress(OSError):
                rootfs.resolve(wd).mkdir(parents=True, exist_ok=True)
        if user.uid != 0:
            _user.chown_tree(
                sandbox_path, _user.RunAs(str(user.uid), user.uid, user.gid, user.groups)
            )
        layout = image_layout(rootfs, sandbox_path)
        mounts = image_mounts(spec.volumes, sandbox_path, rootfs)
        ops = ops_argv(rootfs_ops(layout, str(sandbox_path), mounts))
        groups = ",".join(str(g) for g in user.groups)
        inner = [sys.executable, "-I", "-S", "-c", _ROOTFS_EXEC, str(rootfs.path), wd]
        inner += [str(user.uid), str(user.gid), groups, *ops, "--", *argv]
        self.image_run = {"uid": user.uid, "gid": user.gid, "workdir": wd, "env": env}
        return inner, env, init_script(host=False)

    def _command_runner(self, env: dict[str, str], run_as: _user.RunAs | None) -> Any:
        """COMMAND checks: on the host for a host task; inside the container (its
        namespaces and root, as the image's user) for an image task, as Mesos does."""
        if self.rootfs is None:
            return command_runner(env, str(self.sandbox.path), run_as)
        run = self.image_run
        return namespace_runner(
            self._namespace_pid, run["env"], run["workdir"], run["uid"], run["gid"]
        )

    def _namespace_pid(self) -> int | None:
        """pid 1 of the task's namespaces (unshare's child)."""
        if self._pid is None:
            return None
        kids = _children(self._pid)
        return min(kids) if kids else None

    def _release_rootfs(self) -> None:
        """Give the image root back to the store (unmounted and removed); a failure is
        left to the store's GC."""
        if self.rootfs is None:
            return
        try:
            self._c.images().release(self.sandbox.path)
        except (OSError, ImageError) as e:
            log.warning("task %s: cannot release its image root: %s", self.task_id, e)

    # -- watching -------------------------------------------------------------------
    def _start_watch(self) -> None:
        threading.Thread(target=self._watch, name=f"watch-{self.task_id}", daemon=True).start()
        self._c._track(self)

    def _watch(self) -> None:
        rc: int | None = None
        if self._proc is not None:
            rc = self._proc.wait()
        else:
            assert self._pid is not None
            _wait_pid_gone(self._pid)
        self._finish(rc)

    def _finish(self, rc: int | None) -> None:
        # The exit status first: the cgroup may still hold the dying namespace.
        code = _read_status(self.status_file)
        oom = self.cgroup.oom_killed() if self.cgroup else False
        self._cleanup_cgroup()
        self._release_rootfs()
        self._c._untrack(self)
        self.sandbox.rotate_if_needed()
        if self._kill_requested.is_set():
            self._emit(*self._killed_state())
        elif oom:
            self._emit(
                TASK_FAILED,
                REASON_CONTAINER_LIMITATION_MEMORY,
                "memory limit exceeded "
                f"({self.spec.mem:g} MB): the kernel OOM killer killed the task",
            )
        else:
            self._emit(*_exit_state(code, rc, self.sandbox))

    def _cleanup_cgroup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.destroy()

    # -- kill -----------------------------------------------------------------------
    def _signal_term(self) -> int:
        """SIGTERM the task's tree; returns how many processes were signalled."""
        if self._pid is None:
            return 0
        n = 0
        if self.cgroup is not None:
            # Everything but unshare and pid 1 (the init only forwards SIGTERM):
            # the whole tree gets SIGTERM, as Mesos' killtree does.
            skip = {self._pid} | _children(self._pid)
            for p in self.cgroup.pids():
                if p not in skip:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(p, signal.SIGTERM)
                        n += 1
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGTERM)
                n += 1
        return n

    def _signal_kill(self) -> None:
        if self.cgroup is not None:
            self.cgroup.kill_all(signal.SIGKILL)
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)

    def _kill_sequence(self, grace: float) -> None:
        # A task killed while its namespace is still being set up has no process to
        # receive SIGTERM yet: keep trying until one got it or the grace period is over.
        # A SIGTERM that races the task's start (it lands on a setup step, or before
        # the init's trap exists) is lost, so it is repeated every second of the grace
        # period until the task is gone.
        # real_now: this bounds how long this thread blocks on the task's exit (runtime's
        # rule for real waits); a manual clock would never let the grace period end.
        deadline = real_now() + grace
        while self._signal_term() == 0 and real_now() < deadline:
            if self._done.wait(0.02):
                return
        while (left := deadline - real_now()) > 0:
            if self._done.wait(min(1.0, left)):
                return
            if real_now() < deadline:
                self._signal_term()
        if self._done.is_set():
            return
        while True:
            self._signal_kill()
            if self._done.wait(0.5):
                return

    # -- usage ----------------------------------------------------------------------
    def usage(self) -> Usage | None:
        if self.cgroup is not None:
            cpus_lim, mem_lim = self.spec.cpus_limit, self.spec.mem_limit
            mem_lim = self.spec.mem if mem_lim is None else mem_lim
            return Usage(
                self.cgroup.cpu_time_s(),
                self.cgroup.mem_bytes(),
                None if math.isinf(mem_lim) else int(mem_lim * 1024 * 1024),
                # No quota: the reservation is what the task can count on.
                self.spec.cpus if cpus_lim is None or math.isinf(cpus_lim) else cpus_lim,
            )
        if self._pid is None:
            return None
        try:
            root = psutil.Process(self._pid)
            procs = [root, *root.children(recursive=True)]
            cpu = mem = 0.0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    cpu += t.user + t.system
                    mem += p.memory_info().rss
            return Usage(cpu, int(mem), None, None)
        except psutil.Error:
            return None


def install_volumes() -> tuple[Volume, ...]:
    """This agent's own Python and pydcos, read-only at their own paths, when they live
    under /tmp: the task's private /tmp would hide them, and some tasks run them (the
    cluster actors' workers, a framework packaged with the cluster's Python), e.g. from
    a checkout cloned into /tmp. Nested paths are mounted once."""
    here = Path(os.path.realpath(Path(__file__).resolve().parents[2]))  # the source tree
    roots = sorted(
        {
            p
            for p in (Path(os.path.realpath(sys.prefix)), here)
            if _under_tmp(p) and p != Path("/tmp")
        }
    )
    keep = [r for r in roots if not any(o != r and o in r.parents for o in roots)]
    return tuple(Volume(container_path=str(r), host_path=str(r), mode="RO") for r in keep)


def _under_tmp(path: Path) -> bool:
    return path == Path("/tmp") or Path("/tmp") in path.parents


def _read_status(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _exit_state(code: int | None, rc: int | None, sandbox: Sandbox) -> tuple[str, str | None, str]:
    if code is None and rc is not None:
        code = rc if rc >= 0 else None
        if rc < 0:
            return (
                TASK_FAILED,
                REASON_COMMAND_EXECUTOR_FAILED,
                f"terminated by signal {signal.Signals(-rc).name}",
            )
    if code is None:
        return TASK_FAILED, REASON_EXECUTOR_TERMINATED, "task process ended without an exit status"
    if code == 0:
        return TASK_FINISHED, None, "exited with status 0"
    last = sandbox.tail("stderr", 512).strip().splitlines()
    hint = f": {last[-1]}" if last else ""
    if code == 127:
        return (
            TASK_FAILED,
            REASON_COMMAND_EXECUTOR_FAILED,
            f"exited with status 127: command not found{hint}",
        )
    if code == 126:
        return (
            TASK_FAILED,
            REASON_COMMAND_EXECUTOR_FAILED,
            f"exited with status 126: command not executable{hint}",
        )
    if code == 125:
        return (
            TASK_FAILED,
            REASON_CONTAINER_LAUNCH_FAILED,
            f"exited with status 125: isolation setup failed{hint}",
        )
    if code > 128 and code - 128 < signal.NSIG:
        with contextlib.suppress(ValueError):
            return (
                TASK_FAILED,
                REASON_COMMAND_EXECUTOR_FAILED,
                f"exited with status {code} (signal {signal.Signals(code - 128).name})",
            )
    return TASK_FAILED, REASON_COMMAND_EXECUTOR_FAILED, f"exited with status {code}"


def _wait_pid_gone(pid: int) -> None:
    """Block until `pid` (not our child) is gone: a pidfd, else polling."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        while _start_time(pid) is not None:
            time.sleep(0.2)
        return
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        while not p.poll(1000):
            pass
    finally:
        os.close(fd)


class NativeContainerizer:
    """Launches MESOS tasks. `isolated` is False (with `isolation_note`) when not root
    or when cgroups/unshare are missing; tasks then run as plain process groups."""

    name = "mesos"

    def __init__(
        self,
        work_dir: str | Path,
        host: str = "127.0.0.1",
        cgroup_root: str = "pydcos",
        isolation: bool | None = None,
        max_log_bytes: int = 10 * 1024 * 1024,
        max_log_files: int = 3,
        rotate_interval: float = 1.0,
        clock: Clock | None = None,
        image_store: ImageStore | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        """The agent's clock, passed to every task (health check timing)."""
        self._image_store = image_store
        self._image_lock = threading.Lock()
        self.work_dir = str(work_dir)
        self.host = host
        self.cgroup_root = cgroup_root
        self.max_log_bytes = max_log_bytes
        self.max_log_files = max_log_files
        self.available = True
        self.unavailable_reason: str | None = None
        self.cgroup_version = _cgroups.detect_version()
        self.unshare = shutil.which("unshare") or "unshare"
        note = None
        if os.geteuid() != 0:
            note = "not running as root"
        elif self.cgroup_version is None:
            note = "no usable cgroup hierarchy under /sys/fs/cgroup"
        elif shutil.which("unshare") is None:
            note = "unshare(1) not found"
        if isolation is False:
            note = note or "isolation disabled by configuration"
        self.isolated = note is None
        self.isolation_note = note
        if note:
            log.warning("native containerizer runs tasks without isolation: %s", note)
        self._tasks: dict[str, NativeTask] = {}
        self._tasks_lock = threading.Lock()
        self._rotate_interval = rotate_interval
        self._rotator: threading.Thread | None = None

    def images(self) -> ImageStore:
        """The agent's image store (``<work_dir>/images``), made on first use."""
        with self._image_lock:
            if self._image_store is None:
                self._image_store = ImageStore.for_agent(self.work_dir)
            return self._image_store

    def _sandbox(self, task_id: str) -> Sandbox:
        return Sandbox(self.work_dir, task_id, self.max_log_bytes, self.max_log_files)

    def launch(
        self,
        spec: TaskSpec,
        sandbox: Sandbox | None,
        on_update: OnUpdate,
        on_health: OnHealth | None = None,
    ) -> NativeTask:
        """Start `spec` in a background thread; updates arrive through on_update."""
        task = NativeTask(
            spec,
            sandbox or self._sandbox(spec.task_id),
            on_update,
            on_health,
            self.work_dir,
            containerizer=self,
        )
        threading.Thread(target=task._launch, name=f"launch-{spec.task_id}", daemon=True).start()
        return task

    def recover(
        self,
        checkpoints: list[dict[str, Any]] | None = None,
        on_update_for: Callable[[str], OnUpdate] | None = None,
        on_health_for: Callable[[str], OnHealth | None] | None = None,
    ) -> list[RecoveredTask]:
        """Reattach to checkpointed native tasks still running; report the others."""
        cps = read_checkpoints(self.work_dir) if checkpoints is None else checkpoints
        out = []
        for cp in cps:
            if cp.get("kind") != "mesos":
                continue
            try:
                out.append(self._recover_one(cp, on_update_for, on_health_for))
            except Exception as e:
                log.exception("cannot recover %s", cp.get("task_id"))
                out.append(
                    RecoveredTask(
                        str(cp.get("task_id")),
                        False,
                        None,
                        TASK_FAILED,
                        REASON_EXECUTOR_TERMINATED,
                        f"cannot recover: {e}",
                    )
                )
        return out

    def _recover_one(
        self,
        cp: dict[str, Any],
        on_update_for: Callable[[str], OnUpdate] | None,
        on_health_for: Callable[[str], OnHealth | None] | None,
    ) -> RecoveredTask:
        spec = TaskSpec.from_json(cp["spec"])
        tid = spec.task_id
        term = cp.get("terminal")
        if term:
            return RecoveredTask(tid, False, None, term["state"], term["reason"], term["message"])
        cgroup = _cgroups.Cgroup(cp["cgroup_version"], cp["cgroup"]) if cp.get("cgroup") else None
        pid = int(cp["pid"])
        started = _start_time(pid)
        same = (
            started is not None
            and cp.get("start_time") is not None
            and abs(started - float(cp["start_time"])) < 0.05
        )
        if same:
            on_update = on_update_for(tid) if on_update_for else (lambda *_: None)
            on_health = on_health_for(tid) if on_health_for else None
            task = NativeTask(
                spec, self._sandbox(tid), on_update, on_health, self.work_dir, containerizer=self
            )
            task._pid = pid
            task.cgroup = cgroup
            task.isolated = bool(cp.get("isolated"))
            task.checkpoint_data = cp
            task.state = TASK_RUNNING
            image = cp.get("image")
            if image:
                task.rootfs = Rootfs.from_json(image["rootfs"])
                task.image_run = {k: image[k] for k in ("uid", "gid", "workdir", "env")}
            task._start_watch()
            env = task.sandbox.environment(spec, cp.get("host", self.host))
            run_as = None
            if not image:
                with contextlib.suppress(_user.UserError):
                    run_as = _user.resolve(spec.user)
            task._start_health(spec.host_ports(), task._command_runner(env, run_as))
            return RecoveredTask(tid, True, task, TASK_RUNNING, None, "reattached")
        # Gone while the agent was away (or the pid was reused by another process).
        code = _read_status(Path(cp["status_file"]))
        oom = cgroup.oom_killed() if cgroup else False
        if cgroup:
            cgroup.destroy()
        if cp.get("image"):
            try:
                self.images().release(cp["sandbox"])
            except (OSError, ImageError) as e:
                log.warning("task %s: cannot release its image root: %s", tid, e)
        if oom:
            st: tuple[str, str | None, str] = (
                TASK_FAILED,
                REASON_CONTAINER_LIMITATION_MEMORY,
                "memory limit exceeded",
            )
        elif code is None:
            st = (
                TASK_FAILED,
                REASON_EXECUTOR_TERMINATED,
                f"task process {pid} is gone after the agent restarted (no exit status)",
            )
        else:
            s, r, m = _exit_state(code, None, self._sandbox(tid))
            st = (s, r if s != TASK_FINISHED else None, f"{m} while the agent was down")
        cp["terminal"] = {"state": st[0], "reason": st[1], "message": st[2]}
        write_checkpoint(self.work_dir, tid, cp)
        return RecoveredTask(tid, False, None, *st)

    # -- log rotation -----------------------------------------------------------------
    def _track(self, task: NativeTask) -> None:
        with self._tasks_lock:
            self._tasks[task.task_id] = task
            if self._rotator is None:
                self._rotator = threading.Thread(
                    target=self._rotate_loop, name="log-rotate", daemon=True
                )
                self._rotator.start()

    def _untrack(self, task: NativeTask) -> None:
        with self._tasks_lock:
            self._tasks.pop(task.task_id, None)

    def _rotate_loop(self) -> None:
        while True:
            time.sleep(self._rotate_interval)
            with self._tasks_lock:
                tasks = list(self._tasks.values())
                if not tasks:  # no task left: end; the next _track starts a new one
                    self._rotator = None
                    return
            for t in tasks:
                with contextlib.suppress(OSError):
                    t.sandbox.rotate_if_needed()

    def remove_cgroup_root(self, kill_tasks: bool = False) -> None:
        """Remove this containerizer's (empty) cgroup root; with kill_tasks, SIGKILL and
        remove every task cgroup under it first (tests and benches only)."""
        if self.cgroup_version is None:
            return
        top = _cgroups.Cgroup(self.cgroup_version, self.cgroup_root)
        if kill_tasks:
            for d in top.dirs():
                for sub in d.glob("*/"):
                    if sub.is_dir():
                        _cgroups.Cgroup(
                            self.cgroup_version, f"{self.cgroup_root}/{sub.name}"
                        ).destroy()
        for d in top.dirs():
            with contextlib.suppress(OSError):
                d.rmdir()

    def tasks(self) -> list[NativeTask]:
        with self._tasks_lock:
            return list(self._tasks.values())
