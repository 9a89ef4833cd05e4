"""Runs health checks (HTTP, HTTPS, TCP, COMMAND) in a thread and feeds `_health.on_result`.

HTTPS checks do not verify the task's certificate (neither its chain nor its host
name), as Mesos' checker does (it runs ``curl -k``): the task's certificate is usually
self-signed, and the check asks "does it answer", not "is it who it claims".
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from actors.agent import _health
from actors.agent._spec import HealthCheckSpec, HealthReport
from actors.agent._user import RunAs
from runtime import real_now

log = logging.getLogger(__name__)

CommandRunner = Callable[[str, float], tuple[bool, str]]
"""run(command, timeout) -> (ok, message); lets Docker run COMMAND checks in the container."""


RUNNABLE_PROTOCOLS = frozenset(
    {"HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"}
)
"""Every health-check protocol this runner can run: frameworks refuse any other at
create time (tests check that their lists are subsets of this one)."""


def _unverified_context() -> ssl.SSLContext:
    """TLS without certificate or host-name verification (Mesos' ``curl -k``)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer (healthy, as Mesos counts 200..399), not a hop to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def check_http(
    host: str, port: int, path: str, timeout: float, scheme: str = "http"
) -> tuple[bool, str]:
    """GET scheme://host:port/path; 200..399 is healthy (Mesos' HTTP check rule)."""
    url = f"{scheme}://{host}:{port}{path}"
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if scheme == "https":
        handlers.append(urllib.request.HTTPSHandler(context=_unverified_context()))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=timeout) as r:
            code = r.status
    except urllib.error.HTTPError as e:
        code = e.code
    except (OSError, ValueError) as e:
        return False, f"HTTP GET {url} failed: {e}"
    # Mesos: 2xx and 3xx are healthy.
    return 200 <= code < 400, f"HTTP GET {url} returned {code}"


def check_tcp(host: str, port: int, timeout: float) -> tuple[bool, str]:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, f"TCP connect to {host}:{port} succeeded"
    except OSError as e:
        return False, f"TCP connect to {host}:{port} failed: {e}"


def _run_command(
    argv: list[str], env: dict[str, str], cwd: str, timeout: float, **switch: Any
) -> tuple[bool, str]:
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **switch,
    )
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        return False, f"command health check timed out after {timeout:g}s"
    return rc == 0, f"command health check exited with status {rc}"


def command_runner(env: dict[str, str], cwd: str, run_as: RunAs | None = None) -> CommandRunner:
    """COMMAND checks run on the host, as the task's user (``run_as``) when it has one."""
    switch: dict[str, Any] = {}
    if run_as is not None:
        switch = {"user": run_as.uid, "group": run_as.gid, "extra_groups": list(run_as.groups)}

    def run(command: str, timeout: float) -> tuple[bool, str]:
        return _run_command(["/bin/sh", "-c", command], env, cwd, timeout, **switch)

    return run


def namespace_runner(
    target_pid: Callable[[], int | None],
    env: dict[str, str],
    workdir: str,
    uid: int,
    gid: int,
    nsenter: str | None = None,
) -> CommandRunner:
    """COMMAND checks of a task in an image: run inside its mount and pid namespaces
    and its root (``nsenter -r``), as its user, from its working dir, with the image's
    ``/bin/sh`` (Mesos runs a check in the task's container the same way)."""
    tool = nsenter or shutil.which("nsenter") or "nsenter"

    def run(command: str, timeout: float) -> tuple[bool, str]:
        pid = target_pid()
        if pid is None:
            return False, "command health check: the task's container is gone"
        argv = [tool, "-t", str(pid), "-m", "-p", "-r", "-S", str(uid), "-G", str(gid)]
        script = f"cd {shlex.quote(workdir)} 2>/dev/null; {command}"
        return _run_command([*argv, "/bin/sh", "-c", script], env, "/", timeout)

    return run


class HealthCheckRunner:
    """One thread running one of a task's health checks (the task handle runs one per
    check and combines their results: `_health.combine`)."""

    def __init__(
        self,
        task_id: str,
        spec: HealthCheckSpec,
        host_ports: tuple[int, ...],
        on_report: Callable[[HealthReport], None],
        run_command: CommandRunner | None = None,
        host: str = "127.0.0.1",
        clock: Callable[[], float] = real_now,
    ) -> None:
        self.task_id = task_id
        self.spec = spec
        self.host = host
        self.host_ports = host_ports
        self.on_report = on_report
        self.run_command = run_command
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"health-{task_id}", daemon=True)
        self.state = _health.initial(clock())

    def start(self) -> HealthCheckRunner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _port(self) -> int:
        if self.spec.port:
            return self.spec.port
        idx = self.spec.port_index or 0
        if idx >= len(self.host_ports):
            raise ValueError(f"health check port index {idx} but task has ports {self.host_ports}")
        return self.host_ports[idx]

    def check_once(self) -> tuple[bool, str]:
        proto = self.spec.protocol.upper().removeprefix("MESOS_")
        timeout = self.spec.timeout_seconds
        try:
            if proto in ("HTTP", "HTTPS"):
                scheme = proto.lower()
                return check_http(self.host, self._port(), self.spec.path, timeout, scheme)
            if proto == "TCP":
                return check_tcp(self.host, self._port(), timeout)
            if proto == "COMMAND":
                if not self.spec.command or self.run_command is None:
                    return False, "COMMAND health check without a command"
                return self.run_command(self.spec.command, timeout)
            return False, f"unknown health check protocol {self.spec.protocol!r}"
        except Exception as e:  # a check must never kill the runner
            return False, f"health check error: {e}"

    def _run(self) -> None:
        last: float | None = None
        while not self._stop.is_set():
            due = _health.next_check_at(self.state, self.spec, last)
            if self._stop.wait(max(0.0, due - self.clock())):
                return
            last = self.clock()
            ok, msg = self.check_once()
            now = self.clock()
            self.state, effects = _health.on_result(self.state, self.spec, ok, now, msg, now - last)
            for e in effects:
                if self._stop.is_set():
                    return
                try:
                    self.on_report(
                        HealthReport(
                            self.task_id, e.healthy, e.consecutive_failures, e.message, e.kill
                        )
                    )
                except Exception:
                    log.exception("health report callback failed for %s", self.task_id)
            if self.state.killed:
                return
