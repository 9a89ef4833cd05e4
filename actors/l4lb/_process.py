"""One real HAProxy (Debian's ``haproxy``), in master-worker mode, owned by this process.

Started like the embedded ZooKeeper: its own directory (configuration, runtime socket,
master CLI socket, pid file, log), the kernel kills it if the thread that started it
dies (``PR_SET_PDEATHSIG``), and it is stopped by PID (SIGTERM, then SIGKILL). Its
worker exits by itself when the master goes (HAProxy's master-worker pipe), and any
worker still alive after a stop or a crash is killed by PID too, so no old HAProxy is
left listening on a VIP (marathon-lb #71, #267, #519).

- ``start(config)``: ``haproxy -W -S <master.sock> -f <cfg>``; returns when the worker
  answers on the runtime socket.
- ``reload(config)``: the file is checked (``haproxy -c``) then swapped in, and SIGUSR2
  makes the master start a new worker that takes the listening sockets over from the
  old one (``expose-fd listeners``: no connection refused meanwhile); returns when the
  new worker answers. The old worker finishes its connections and exits
  (``hard-stop-after`` bounds it).
- ``command(...)``: runtime-API commands (``set server ...``), sent in one line.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from actors.l4lb._errors import HaproxyError
from actors.l4lb._haproxy import Paths
from runtime import real_now

log = logging.getLogger("actors.l4lb.haproxy")

INSTALL_HINT = (
    "HAProxy is not installed: install Debian's haproxy package (apt-get install haproxy) "
    "or set PYDCOS_HAPROXY to its path; until then VIPs are served by pydcos' small "
    "asyncio proxy (the documented fallback, slower and without the runtime API)"
)


def find_haproxy() -> str | None:
    """``$PYDCOS_HAPROXY``, else ``haproxy`` on PATH (Debian: /usr/sbin), else None."""
    given = os.environ.get("PYDCOS_HAPROXY")
    if given:
        return given if os.access(given, os.X_OK) else None
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    return found


def _pdeathsig() -> None:
    """In the child before exec: SIGKILL when the thread that started it dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def _ask(path: str, line: str, timeout: float = 2.0) -> str:
    """One command line on a HAProxy UNIX socket -> output (the runtime API closes after
    a line; the master CLI only after ``quit``, which callers append)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def _is_haproxy(pid: int) -> bool:
    try:
        return b"haproxy" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Haproxy:
    """One HAProxy master and its worker (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike[str], binary: str) -> None:
        self.dir = Path(directory)
        self.binary = binary
        self.paths = Paths(
            config=str(self.dir / "haproxy.cfg"),
            runtime_socket=str(self.dir / "runtime.sock"),
            master_socket=str(self.dir / "master.sock"),
            pidfile=str(self.dir / "haproxy.pid"),
        )
        self.log_path = self.dir / "haproxy.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.worker: int | None = None
        self.reloads = 0

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The HAProxy master's PID."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, config: str, timeout: float = 5.0) -> None:
        """Write ``config`` and start HAProxy; returns once its worker answers."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._kill_leftover_worker()
        self._write(config)
        self.check(self.paths.config)
        for path in (self.paths.runtime_socket, self.paths.master_socket):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    "-W",
                    "-S",
                    f"{self.paths.master_socket},mode,600",
                    "-f",
                    self.paths.config,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_pdeathsig,
                close_fds=True,
            )
        self.worker = self._wait_worker(None, timeout)
        log.info("l4lb: haproxy master %s worker %s (%s)", self.pid, self.worker, self.dir)

    def stop(self, timeout: float = 3.0) -> None:
        """SIGTERM the master (its worker goes with it), SIGKILL after ``timeout``; any
        worker still alive is killed by PID."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._kill_leftover_worker()

    def _kill_leftover_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is None or not _is_haproxy(worker):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)
        deadline = real_now() + 2.0
        while _is_haproxy(worker) and real_now() < deadline:
            time.sleep(0.01)

    # -- configuration --------------------------------------------------------------------

    def check(self, path: str) -> None:
        """``haproxy -c``: a configuration HAProxy would refuse is an ``HaproxyError``
        quoting its alerts (the running one stays in place)."""
        done = subprocess.run(
            [self.binary, "-c", "-q", "-f", path], capture_output=True, timeout=10, check=False
        )
        if done.returncode != 0:
            alerts = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise HaproxyError(f"haproxy refused {path}: {alerts[-600:]}")

    def _write(self, config: str) -> None:
        tmp = Path(self.paths.config + ".new")
        tmp.write_text(config)
        self.check(str(tmp))
        os.replace(tmp, self.paths.config)

    def reload(self, config: str, timeout: float = 5.0) -> None:
        """Hitless reload onto ``config`` (see the module docstring)."""
        if not self.running or self.pid is None:
            raise HaproxyError("haproxy is not running: nothing to reload")
        self._write(config)
        old = self.worker
        os.kill(self.pid, signal.SIGUSR2)
        self.worker = self._wait_worker(old, timeout)
        self.reloads += 1

    def _wait_worker(self, old: int | None, timeout: float) -> int:
        """The current worker's PID once it is not ``old`` and answers the runtime API."""
        deadline = real_now() + timeout
        last: Exception | None = None
        while real_now() < deadline:
            if not self.running:
                raise HaproxyError(f"haproxy exited: see {self.log_path}: {self._tail()}")
            try:
                worker = self.current_worker()
                if worker is not None and worker != old:
                    _ask(self.paths.runtime_socket, "show info", timeout=1.0)
                    return worker
            except OSError as exc:
                last = exc
            time.sleep(0.005)
        raise HaproxyError(f"haproxy did not come up in {timeout:.0f}s ({last}): {self._tail()}")

    def current_worker(self) -> int | None:
        """The newest worker's PID, from the master CLI's ``show proc``."""
        text = _ask(self.paths.master_socket, "show proc; quit")
        section = ""
        for line in text.splitlines():
            if line.startswith("#"):
                section = line
                continue
            fields = line.split()
            if len(fields) >= 2 and fields[1] == "worker" and "old" not in section:
                return int(fields[0])
        return None

    def old_workers(self) -> list[int]:
        """Workers of previous configurations still finishing their connections."""
        text = _ask(self.paths.master_socket, "show proc; quit")
        out, section = [], ""
        for line in text.splitlines():
            if line.startswith("#"):
                section = line
                continue
            fields = line.split()
            if "old" in section and len(fields) >= 2 and fields[0].isdigit():
                out.append(int(fields[0]))
        return out

    def _tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-400:].strip()
        except OSError:
            return ""

    # -- runtime API ----------------------------------------------------------------------

    def command(self, commands: Sequence[str]) -> str:
        """Send ``commands`` in one line (``;``-separated) to the worker; an answer line
        HAProxy marks as an error is an ``HaproxyError``."""
        if not commands:
            return ""
        out = _ask(self.paths.runtime_socket, "; ".join(commands))
        bad = [
            line
            for line in out.splitlines()
            if line.strip() and ("Unknown" in line or "No such" in line or "Require" in line)
        ]
        if bad:
            raise HaproxyError(f"haproxy refused runtime commands: {bad[:3]}")
        return out

    def servers_state(self) -> str:
        return _ask(self.paths.runtime_socket, "show servers state")
