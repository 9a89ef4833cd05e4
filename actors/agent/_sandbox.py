"""Task sandboxes: directory layout, Mesos-like environment, size-capped logs.

Logs are written by the task itself (native) straight into `stdout`/`stderr` so the
task keeps running when the agent dies; a rotator trims them logrotate-style
(copytruncate) from the agent. The Docker log pump owns its files and rotates by
rename instead (`RotatingFile`).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from actors.agent._spec import TaskSpec

DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024
DEFAULT_LOG_FILES = 3


class Sandbox:
    """`<work_dir>/sandboxes/<task_id>/` with stdout, stderr and fetched files."""

    def __init__(
        self,
        work_dir: str | Path,
        task_id: str,
        max_log_bytes: int = DEFAULT_MAX_LOG_BYTES,
        max_log_files: int = DEFAULT_LOG_FILES,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.task_id = task_id
        self.path = self.work_dir / "sandboxes" / task_id
        self.max_log_bytes = max_log_bytes
        self.max_log_files = max_log_files

    @property
    def stdout(self) -> Path:
        return self.path / "stdout"

    @property
    def stderr(self) -> Path:
        return self.path / "stderr"

    def create(self) -> Sandbox:
        self.path.mkdir(parents=True, exist_ok=True)
        for p in (self.stdout, self.stderr):
            p.touch(exist_ok=True)
        return self

    def environment(
        self, spec: TaskSpec, host: str, sandbox_path: str | None = None
    ) -> dict[str, str]:
        """The task's environment: the one place it is built (frameworks send only their
        own variables, e.g. Marathon's ``MARATHON_APP_ID``, in ``CommandSpec.env``).

        Precedence, lowest first: the agent's defaults (PATH, HOME and the sandbox
        paths), then the task's own env, then the variables that describe this task on
        this agent (MESOS_TASK_ID, HOST, PORT0..n, PORT, PORTS, PORT_<NAME>), which a
        task's env cannot fake (Marathon's values always won over the app's env)."""
        path = sandbox_path or str(self.path)
        env: dict[str, str] = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "MESOS_SANDBOX": path,
            "PYDCOS_SANDBOX": path,
            "HOME": path,
        }
        env.update(dict(spec.env))
        env.update(task_variables(spec, host))
        dns = os.environ.get("PYDCOS_DNS")
        if dns:
            # The cluster's DNS servers (ip:port,...), as the launcher gave them to the
            # agent: tasks resolve <app>.marathon.mesos through them (issue 20).
            env["PYDCOS_DNS"] = dns
        return env

    def rotate_if_needed(self) -> None:
        """copytruncate rotation: stdout -> stdout.1 -> ... capped at max_log_files."""
        for p in (self.stdout, self.stderr):
            copytruncate(p, self.max_log_bytes, self.max_log_files)

    def tail(self, name: str = "stdout", limit: int = 4096) -> str:
        p = self.path / name
        try:
            with open(p, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - limit))
                return f.read().decode(errors="replace")
        except OSError:
            return ""


def task_variables(spec: TaskSpec, host: str) -> dict[str, str]:
    """MESOS_TASK_ID, HOST, PORT0..n, PORT and PORTS (the task's host ports, in the
    framework's order) and PORT_<NAME> for each named port (upper-cased, ``-`` -> ``_``)."""
    env = {"MESOS_TASK_ID": spec.task_id, "HOST": host}
    ports = spec.host_ports()
    for i, port in enumerate(ports):
        env[f"PORT{i}"] = str(port)
    if ports:
        env["PORT"] = str(ports[0])
        env["PORTS"] = ",".join(str(port) for port in ports)
    for name, port in spec.named_ports:
        env[f"PORT_{name.upper().replace('-', '_')}"] = str(port)
    return env


def _shift(path: Path, keep: int) -> None:
    """Drop stdout.<keep>, then stdout.(n-1) -> stdout.n down to stdout.1 -> stdout.2."""
    oldest = path.with_name(f"{path.name}.{keep}")
    if keep >= 1 and oldest.exists():
        oldest.unlink()
    for i in range(keep - 1, 0, -1):
        src = path.with_name(f"{path.name}.{i}")
        if src.exists():
            os.replace(src, path.with_name(f"{path.name}.{i + 1}"))


def copytruncate(path: Path, max_bytes: int, keep: int) -> bool:
    """Rotate a file another process appends to (O_APPEND), like logrotate copytruncate.

    Lines written between the copy and the truncate are lost, as with logrotate.
    """
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except OSError:
        return False
    if keep <= 0:
        os.truncate(path, 0)
        return True
    _shift(path, keep)
    shutil.copyfile(path, path.with_name(f"{path.name}.1"))
    os.truncate(path, 0)
    return True


class RotatingFile:
    """A file we write ourselves, rotated by rename when it passes max_bytes."""

    def __init__(self, path: Path, max_bytes: int, keep: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._lock = threading.Lock()
        self._f = open(path, "ab")  # noqa: SIM115 - kept open for the pump's lifetime

    def write(self, data: bytes) -> None:
        with self._lock:
            self._f.write(data)
            self._f.flush()
            if self._f.tell() > self.max_bytes:
                self._f.close()
                if self.keep > 0:
                    _shift(self.path, self.keep)
                    os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
                    self._f = open(self.path, "ab")  # noqa: SIM115
                else:
                    self._f = open(self.path, "wb")  # noqa: SIM115

    def close(self) -> None:
        with self._lock:
            self._f.close()
