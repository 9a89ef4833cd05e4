"""The Docker containerizer, through the docker SDK against a real engine.

Containers are named `pydcos-<agent_id>-<task_id>` and labelled `pydcos.agent_id`,
`pydcos.task_id`, so a restarted agent finds them again. The sandbox is mounted at
/mnt/mesos/sandbox (as Mesos does) and the container's logs are streamed into the
sandbox's stdout/stderr by two pump threads. Containers are removed once their
terminal update has been delivered.

Logs survive an agent restart: each pump records how many bytes of the engine's stream
are in the sandbox (``LogPosition``, under ``<work_dir>/meta/logpos``, written after
the bytes), so a restarted agent reattaches from the start of the engine's log and skips
exactly those: lines written while the agent was down are caught up, none twice (at
most the one chunk in flight at a crash). A container that ended while the agent was
down has its missing tail copied before it is removed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import docker.errors

from actors.agent import _user
from actors.agent._base import TaskHandle, busy_port, invalid
from actors.agent._checkpoint import read_checkpoints, write_checkpoint
from actors.agent._fetcher import fetch
from actors.agent._health_runner import CommandRunner
from actors.agent._sandbox import RotatingFile, Sandbox
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
from runtime import Clock, SystemClock

log = logging.getLogger("actors.agent.docker")

LABEL_AGENT = "pydcos.agent_id"
LABEL_TASK = "pydcos.task_id"
SANDBOX_IN_CONTAINER = "/mnt/mesos/sandbox"


class LogPosition:
    """Bytes of one container stream already copied into the sandbox, on disk: a fixed
    20-digit counter rewritten in place (one ``pwrite`` per chunk, no fsync: the page
    cache outlives the agent process, which is the crash this covers)."""

    def __init__(self, work_dir: str | Path, task_id: str, stream: str) -> None:
        self.path = Path(work_dir, "meta", "logpos", f"{task_id}.{stream}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        raw = os.pread(self._fd, 20, 0)
        self.value = int(raw) if raw.strip().isdigit() else 0

    def set(self, value: int) -> None:
        self.value = value
        os.pwrite(self._fd, b"%020d" % value, 0)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def _engine_message(e: Exception) -> str:
    if isinstance(e, docker.errors.APIError):
        return str(e.explanation or e)
    return str(e)


def _exit_state(code: int, oom: bool, mem: float) -> tuple[str, str | None, str]:
    if oom:
        return (
            TASK_FAILED,
            REASON_CONTAINER_LIMITATION_MEMORY,
            f"memory limit exceeded ({mem:g} MB): the kernel OOM killer killed the container",
        )
    if code == 0:
        return TASK_FINISHED, None, "exited with status 0"
    if code == 127:
        return (
            TASK_FAILED,
            REASON_COMMAND_EXECUTOR_FAILED,
            "exited with status 127: command not found",
        )
    return TASK_FAILED, REASON_COMMAND_EXECUTOR_FAILED, f"exited with status {code}"


def docker_limits(spec: TaskSpec) -> dict[str, Any]:
    """``containers.create`` limits from the request and the task's limits (pure): no
    ``nano_cpus`` when cpus are unlimited (``cpu_shares`` keep the request's weight), no
    memory limit when mem is unlimited."""
    cpus = spec.cpus if spec.cpus_limit is None else max(spec.cpus_limit, spec.cpus)
    mem = spec.mem if spec.mem_limit is None else max(spec.mem_limit, spec.mem)
    out: dict[str, Any] = {}
    if math.isinf(cpus):
        out["cpu_shares"] = max(2, int(spec.cpus * 1024))
    else:
        out["nano_cpus"] = int(cpus * 1e9)
    if not math.isinf(mem):
        out["mem_limit"] = out["memswap_limit"] = int(mem * 1024 * 1024)
    return out


class DockerTask(TaskHandle):
    kind = "docker"

    def __init__(self, *a: Any, containerizer: DockerContainerizer, **kw: Any) -> None:
        kw["clock"] = containerizer.clock
        super().__init__(*a, **kw)
        self._c = containerizer
        self._container: Any = None
        self._pumps: list[threading.Thread] = []
        self._pumped: dict[str, int] = {"stdout": 0, "stderr": 0}
        """Bytes each pump wrote, so the tail a follow missed at exit can be added."""
        self._pumps_since: int | None = None
        self._positions: dict[str, LogPosition] = {}

    @property
    def container_id(self) -> str | None:
        return self._container.id if self._container is not None else None

    def _launch(self) -> None:
        try:
            self._launch_inner()
        except Exception as e:
            log.exception("launch of %s failed", self.task_id)
            self._remove()
            self._emit(
                TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, f"launch failed: {_engine_message(e)}"
            )

    def _launch_inner(self) -> None:
        spec, c = self.spec, self._c
        bad = invalid(spec)
        if bad:
            self._emit(*bad)
            return
        self.sandbox.create()
        try:
            for uri in spec.uris:
                fetch(uri, self.sandbox.path)
        except FetchError as e:
            self._emit(TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, str(e))
            return
        mappings = spec.resolved_port_mappings() if spec.network == "BRIDGE" else ()
        busy = busy_port(spec.host_ports())
        if busy:
            self._emit(TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, busy)
            return
        self._emit(TASK_STARTING, None, "starting")
        assert spec.image is not None
        client = c.client
        try:
            if spec.force_pull:
                client.images.pull(spec.image)
            else:
                client.images.get(spec.image)
        except docker.errors.ImageNotFound as e:
            self._emit(
                TASK_FAILED,
                REASON_CONTAINER_LAUNCH_FAILED,
                f"image {spec.image!r} not found: {_engine_message(e)}",
            )
            return
        except docker.errors.APIError as e:
            self._emit(
                TASK_FAILED,
                REASON_CONTAINER_LAUNCH_FAILED,
                f"cannot pull image {spec.image!r}: {_engine_message(e)}",
            )
            return
        name = c.container_name(self.task_id)
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)  # a stale one from a crash
        labels = dict(spec.labels)
        labels.update({LABEL_AGENT: c.agent_id, LABEL_TASK: self.task_id})
        volumes = {str(self.sandbox.path): {"bind": SANDBOX_IN_CONTAINER, "mode": "rw"}}
        for v in spec.volumes:
            # Mesos' rules (as the native runtime): relative paths are in the sandbox.
            host = v.host_path
            if not host.startswith("/"):
                host = str(self.sandbox.path / host)
            bind = v.container_path
            if not bind.startswith("/"):
                bind = f"{SANDBOX_IN_CONTAINER}/{bind}"
            volumes[host] = {"bind": bind, "mode": "ro" if v.mode.upper() == "RO" else "rw"}
        for name, bind, mode in spec.docker_volumes:  # named volumes (created if missing)
            volumes[name] = {"bind": bind, "mode": mode}
        kw: dict[str, Any] = {
            "name": name,
            "labels": labels,
            "environment": self.sandbox.environment(spec, c.host, SANDBOX_IN_CONTAINER),
            **docker_limits(spec),
            "network_mode": "host" if spec.network == "HOST" else "bridge",
            "volumes": volumes,
            "detach": True,
        }
        if spec.volume_driver:
            kw["volume_driver"] = spec.volume_driver
        if spec.command:
            kw["entrypoint"] = ["/bin/sh", "-c"]
            kw["command"] = [spec.command]
        elif spec.args:
            kw["command"] = list(spec.args)
        if mappings:
            kw["ports"] = {f"{m.container_port}/{m.protocol}": m.host_port for m in mappings}
        if spec.user:
            # The engine resolves it among the image's users (an unknown one fails the
            # start naming it). The sandbox goes to the host user of that name, if any,
            # so the task can write there (Mesos does the same).
            kw["user"] = spec.user
            with contextlib.suppress(_user.UserError, OSError):
                _user.chown_tree(self.sandbox.path, _user.lookup(spec.user))
        self._container = client.containers.create(spec.image, **kw)
        if self._kill_requested.is_set():
            self._remove()
            self._emit(*self._killed_state())
            return
        try:
            self._container.start()
        except docker.errors.APIError as e:
            msg = _engine_message(e)
            self._remove()
            self._emit(
                TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, f"cannot start container: {msg}"
            )
            return
        self.checkpoint_data = {
            "kind": "docker",
            "task_id": self.task_id,
            "spec": spec.to_json(),
            "container_id": self._container.id,
            "container_name": name,
            "sandbox": str(self.sandbox.path),
        }
        write_checkpoint(self.work_dir, self.task_id, self.checkpoint_data)
        self._emit(TASK_RUNNING, None, "running")
        self._attach(since=None)
        if self._kill_requested.is_set():
            threading.Thread(
                target=self._stop_container, args=(spec.kill_grace_period,), daemon=True
            ).start()

    def _position(self, stream: str) -> LogPosition | None:
        """The on-disk count of ``stream``'s bytes in the sandbox (None: unwritable)."""
        if stream not in self._positions:
            try:
                self._positions[stream] = LogPosition(self.work_dir, self.task_id, stream)
            except OSError as e:
                log.warning("log position of %s %s: %s", self.task_id, stream, e)
                return None
            self._pumped[stream] = self._positions[stream].value
        return self._positions[stream]

    def _attach(self, since: int | None) -> None:
        self._pumps_since = since
        for stream in ("stdout", "stderr"):
            self._position(stream)
            t = threading.Thread(
                target=self._pump,
                args=(stream, since),
                name=f"logs-{stream}-{self.task_id}",
                daemon=True,
            )
            t.start()
            self._pumps.append(t)
        threading.Thread(target=self._watch, name=f"watch-{self.task_id}", daemon=True).start()
        self._start_health(self._host_ports(), self._exec_runner())

    def _host_ports(self) -> tuple[int, ...]:
        return self.spec.host_ports()

    def _exec_runner(self) -> CommandRunner:
        def run(command: str, timeout: float) -> tuple[bool, str]:
            result: list[Any] = []

            def go() -> None:
                try:
                    result.append(self._container.exec_run(["/bin/sh", "-c", command]))
                except Exception as e:
                    result.append(e)

            t = threading.Thread(target=go, daemon=True)
            t.start()
            t.join(timeout)
            if not result:
                return False, f"command health check timed out after {timeout:g}s"
            r = result[0]
            if isinstance(r, Exception):
                return False, f"command health check failed: {_engine_message(r)}"
            return r.exit_code == 0, f"command health check exited with status {r.exit_code}"

        return run

    def _pump(self, stream: str, since: int | None) -> None:
        sink = RotatingFile(
            self.sandbox.path / stream, self.sandbox.max_log_bytes, self.sandbox.max_log_files
        )
        try:
            kw: dict[str, Any] = {
                "stream": True,
                "follow": True,
                "stdout": stream == "stdout",
                "stderr": stream == "stderr",
            }
            if since is not None:
                kw["since"] = since
            skip = self._pumped[stream]  # already in the sandbox (a reattach)
            pos = self._positions.get(stream)
            for chunk in self._container.logs(**kw):
                if skip:
                    if len(chunk) <= skip:
                        skip -= len(chunk)
                        continue
                    chunk, skip = chunk[skip:], 0
                sink.write(chunk)
                self._pumped[stream] += len(chunk)
                if pos is not None:
                    pos.set(self._pumped[stream])
        except Exception as e:
            log.debug("log pump %s of %s ended: %s", stream, self.task_id, e)
        finally:
            sink.close()

    def _watch(self) -> None:
        code: int | None = None
        while code is None:
            try:
                code = int(self._container.wait()["StatusCode"])
            except docker.errors.NotFound:
                break
            except Exception as e:  # engine hiccup or read timeout: look again
                log.debug("wait on %s: %s", self.task_id, e)
                time.sleep(0.5)
        oom = False
        with contextlib.suppress(Exception):
            self._container.reload()
            oom = bool(self._container.attrs["State"].get("OOMKilled"))
        for t in self._pumps:
            t.join(5)
        self._catch_up_logs()
        for p in self._positions.values():
            p.remove()  # the container goes: nothing to resume any more
        if self._kill_requested.is_set():
            st = self._killed_state()
        elif code is None:
            st = (TASK_FAILED, REASON_EXECUTOR_TERMINATED, "container disappeared")
        else:
            st = _exit_state(code, oom, self.spec.mem)
        self._remove()
        self._emit(*st)

    def _catch_up_logs(self) -> None:
        """A ``logs(follow=True)`` that attaches while the container exits can end before
        the last lines (the engine closes the follow at exit): read the whole log once
        more and append what the pump did not get. Only when nothing was reattached
        with ``since`` (the counts would not cover the log from its start)."""
        if self._pumps_since is not None:
            return
        for stream in ("stdout", "stderr"):
            try:
                data = self._container.logs(
                    stream=False, stdout=stream == "stdout", stderr=stream == "stderr"
                )
            except Exception as e:
                log.debug("log catch-up %s of %s: %s", stream, self.task_id, e)
                continue
            missed = data[self._pumped[stream] :]
            if not missed:
                continue
            sink = RotatingFile(
                self.sandbox.path / stream, self.sandbox.max_log_bytes, self.sandbox.max_log_files
            )
            try:
                sink.write(missed)
                self._pumped[stream] += len(missed)
                pos = self._positions.get(stream)
                if pos is not None:
                    pos.set(self._pumped[stream])
            finally:
                sink.close()

    def _remove(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.remove(force=True)

    def _stop_container(self, grace: float) -> None:
        try:
            self._container.stop(timeout=max(0, round(grace)))
        except docker.errors.NotFound:
            pass
        except Exception as e:
            log.warning("docker stop %s: %s; killing", self.task_id, e)
            with contextlib.suppress(Exception):
                self._container.kill()

    def _kill_sequence(self, grace: float) -> None:
        if self._container is None:
            return  # _launch notices the kill request
        self._stop_container(grace)

    def usage(self) -> Usage | None:
        if self._container is None:
            return None
        try:
            s = self._container.stats(stream=False, one_shot=True)
        except Exception:
            return None
        cpu = s.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage", 0) / 1e9
        mem = int(s.get("memory_stats", {}).get("usage", 0))
        return Usage(cpu, mem, int(self.spec.mem * 1024 * 1024), self.spec.cpus)


class DockerContainerizer:
    """Launches DOCKER tasks. `available` is False (with `unavailable_reason`) when the
    engine does not answer; construction never raises for that."""

    name = "docker"

    def __init__(
        self,
        work_dir: str | Path,
        docker_url: str | None = None,
        agent_id: str = "local",
        host: str = "127.0.0.1",
        max_log_bytes: int = 10 * 1024 * 1024,
        max_log_files: int = 3,
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        """The agent's clock: task health timing, and where a reattached log follow
        resumes (wall seconds)."""
        self.work_dir = str(work_dir)
        self.agent_id = agent_id
        self.host = host
        self.max_log_bytes = max_log_bytes
        self.max_log_files = max_log_files
        self.available = False
        self.unavailable_reason: str | None = None
        self.client: Any = None
        try:
            if docker_url:
                self.client = docker.DockerClient(base_url=docker_url, timeout=60)
            else:
                self.client = docker.from_env(timeout=60)
            self.client.ping()
            self.available = True
        except Exception as e:
            self.unavailable_reason = f"Docker engine unreachable ({docker_url or 'env'}): {e}"
            log.warning("docker containerizer unavailable: %s", self.unavailable_reason)

    def container_name(self, task_id: str) -> str:
        return re.sub(r"[^a-zA-Z0-9_.-]", "_", f"pydcos-{self.agent_id}-{task_id}")

    def _sandbox(self, task_id: str) -> Sandbox:
        return Sandbox(self.work_dir, task_id, self.max_log_bytes, self.max_log_files)

    def launch(
        self,
        spec: TaskSpec,
        sandbox: Sandbox | None,
        on_update: OnUpdate,
        on_health: OnHealth | None = None,
    ) -> DockerTask:
        task = DockerTask(
            spec,
            sandbox or self._sandbox(spec.task_id),
            on_update,
            on_health,
            self.work_dir,
            containerizer=self,
        )
        if not self.available:
            task._fail_early(
                TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED, str(self.unavailable_reason)
            )
            return task
        threading.Thread(target=task._launch, name=f"launch-{spec.task_id}", daemon=True).start()
        return task

    def _catch_up_exited(self, spec: TaskSpec, task_id: str, container: Any) -> None:
        """A container that ended while the agent was down: copy the tail of its log
        the pumps never got into the sandbox, before the container (and its log) goes."""
        task = DockerTask(
            spec, self._sandbox(task_id), lambda *_: None, None, self.work_dir, containerizer=self
        )
        task._container = container
        for stream in ("stdout", "stderr"):
            task._position(stream)
        try:
            task._catch_up_logs()
        finally:
            for p in task._positions.values():
                p.remove()

    def recover(
        self,
        checkpoints: list[dict[str, Any]] | None = None,
        on_update_for: Callable[[str], OnUpdate] | None = None,
        on_health_for: Callable[[str], OnHealth | None] | None = None,
        kill_orphans: bool = True,
    ) -> list[RecoveredTask]:
        """Find this agent's containers by label; reattach running ones, report the rest."""
        cps = [
            cp
            for cp in (read_checkpoints(self.work_dir) if checkpoints is None else checkpoints)
            if cp.get("kind") == "docker"
        ]
        if not self.available:
            return [
                RecoveredTask(
                    cp["task_id"],
                    False,
                    None,
                    TASK_FAILED,
                    REASON_EXECUTOR_TERMINATED,
                    f"cannot recover: {self.unavailable_reason}",
                )
                for cp in cps
            ]
        found = {
            c.labels.get(LABEL_TASK): c
            for c in self.client.containers.list(
                all=True, filters={"label": f"{LABEL_AGENT}={self.agent_id}"}
            )
        }
        out = []
        for cp in cps:
            tid = cp["task_id"]
            container = found.pop(tid, None)
            term = cp.get("terminal")
            if term:
                if container is not None:
                    with contextlib.suppress(Exception):
                        container.remove(force=True)
                out.append(
                    RecoveredTask(tid, False, None, term["state"], term["reason"], term["message"])
                )
                continue
            try:
                spec = TaskSpec.from_json(cp["spec"])
            except (KeyError, TypeError, ValueError) as e:
                # A checkpoint this agent cannot read (another version's): the task cannot
                # be supervised, so it ends here rather than run on unwatched.
                log.error("cannot recover %s from its checkpoint: %s", tid, e)
                if container is not None:
                    with contextlib.suppress(Exception):
                        container.remove(force=True)
                out.append(
                    RecoveredTask(
                        tid,
                        False,
                        None,
                        TASK_FAILED,
                        REASON_EXECUTOR_TERMINATED,
                        f"cannot recover: unreadable checkpoint ({e})",
                    )
                )
                continue
            if container is not None and container.status in ("running", "restarting"):
                on_update = on_update_for(tid) if on_update_for else (lambda *_: None)
                on_health = on_health_for(tid) if on_health_for else None
                task = DockerTask(
                    spec,
                    self._sandbox(tid),
                    on_update,
                    on_health,
                    self.work_dir,
                    containerizer=self,
                )
                task._container = container
                task.checkpoint_data = cp
                task.state = TASK_RUNNING
                task._attach(since=None)  # from the start, skipping what is in the sandbox
                out.append(RecoveredTask(tid, True, task, TASK_RUNNING, None, "reattached"))
                continue
            if container is None:
                st: tuple[str, str | None, str] = (
                    TASK_FAILED,
                    REASON_EXECUTOR_TERMINATED,
                    "container is gone after the agent restarted",
                )
            else:
                state = container.attrs.get("State", {})
                s, r, m = _exit_state(
                    int(state.get("ExitCode", -1)), bool(state.get("OOMKilled")), spec.mem
                )
                st = (s, r, f"{m} while the agent was down")
                self._catch_up_exited(spec, tid, container)
                with contextlib.suppress(Exception):
                    container.remove(force=True)
            cp["terminal"] = {"state": st[0], "reason": st[1], "message": st[2]}
            write_checkpoint(self.work_dir, tid, cp)
            out.append(RecoveredTask(tid, False, None, *st))
        if kill_orphans:
            for tid, container in found.items():
                log.warning("removing orphan container %s (task %s)", container.name, tid)
                with contextlib.suppress(Exception):
                    container.remove(force=True)
        return out
