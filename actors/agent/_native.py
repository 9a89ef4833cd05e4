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
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from actors.agent import _cgroups, _user
from actors.agent._base import TaskHandle, busy_port, invalid
from actors.agent._checkpoint import checkpoint_dir, read_checkpoints, write_checkpoint
from actors.agent._fetcher import fetch
from actors.agent._health_runner import command_runner
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
    OnHealth,
    OnUpdate,
    RecoveredTask,
    TaskSpec,
    Usage,
)
from runtime import Clock, SystemClock, real_now

log = logging.getLogger("actors.agent.native")

# Moves itself into each cgroup.procs named before "--", then execs the rest.
_JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; exec "$@"'
# pid 1 of the task (or the session leader without isolation). $1 status file,
# $2 sandbox, $3 "1" to set up the private /tmp, $4 a directory to hide under an empty
# tmpfs (one the task's user cannot pass through on the way to its sandbox) or "", then
# the command's argv. A sandbox under either tmpfs is bound back to its own path.
_INIT = r"""
st="$1"; sb="$2"; iso="$3"; hide="$4"; shift 4
exec 9>"$st"
if [ "$iso" = 1 ]; then
  mount -t tmpfs -o mode=1777 tmpfs /tmp || exit 125
  if [ -n "$hide" ]; then
    mount -t tmpfs -o mode=0755 tmpfs "$hide" || exit 125
  fi
  case "$sb" in /tmp|/tmp/*) hide=/tmp ;; esac
  if [ -n "$hide" ]; then
    (umask 022; mkdir -p "$sb") && mount --no-canonicalize --bind /proc/self/cwd "$sb" \
      && cd "$sb" || exit 125
  fi
fi
"$@" 9>&- &
c=$!
trap 'kill -TERM $c 2>/dev/null' TERM
while :; do wait $c; s=$?; kill -0 $c 2>/dev/null || break; done
echo $s >&9
exit $s
"""


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
        if run_as is not None:
            _user.chown_tree(self.sandbox.path, run_as)
        busy = busy_port(spec.host_ports())
        if busy:
            self._emit(TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, busy)
            return
        self._emit(TASK_STARTING, None, "starting")
        if self._kill_requested.is_set():
            self._emit(*self._killed_state())
            return
        c = self._c
        inner = ["/bin/sh", "-c", spec.command] if spec.command else list(spec.args)
        env = self.sandbox.environment(spec, c.host)
        if run_as is not None and setpriv is not None:
            # Only the command switches: the isolation steps before it need root.
            inner = [*_user.setpriv_argv(run_as, setpriv), *inner]
            env.setdefault("USER", run_as.name)
            env.setdefault("LOGNAME", run_as.name)
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        self.isolated = c.isolated
        sandbox_path = Path(os.path.abspath(self.sandbox.path))
        hide = None
        if run_as is not None and self.isolated and not _under_tmp(sandbox_path):
            hide = _user.closed_ancestor(sandbox_path, run_as)
        init = [
            "/bin/sh",
            "-c",
            _INIT,
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
            self.cgroup.create(spec.cpus, spec.mem)
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
        write_checkpoint(self.work_dir, self.task_id, self.checkpoint_data)
        # Published only once checkpointed: whoever sees the pid (the agent, a test that
        # SIGKILLs the agent next) can rely on a restarted agent finding the task.
        self._pid = pid
        message = "running" if self.isolated else f"running WITHOUT isolation: {c.isolation_note}"
        self._emit(TASK_RUNNING, None, message)
        self._start_watch()
        self._start_health(spec.host_ports(), command_runner(env, str(self.sandbox.path), run_as))
        if self._kill_requested.is_set():
            self._signal_term()

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
            return Usage(
                self.cgroup.cpu_time_s(),
                self.cgroup.mem_bytes(),
                int(self.spec.mem * 1024 * 1024),
                self.spec.cpus,
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
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        """The agent's clock, passed to every task (health check timing)."""
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
            task._start_watch()
            env = task.sandbox.environment(spec, cp.get("host", self.host))
            run_as = None
            with contextlib.suppress(_user.UserError):
                run_as = _user.resolve(spec.user)
            task._start_health(
                spec.host_ports(), command_runner(env, str(task.sandbox.path), run_as)
            )
            return RecoveredTask(tid, True, task, TASK_RUNNING, None, "reattached")
        # Gone while the agent was away (or the pid was reused by another process).
        code = _read_status(Path(cp["status_file"]))
        oom = cgroup.oom_killed() if cgroup else False
        if cgroup:
            cgroup.destroy()
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
