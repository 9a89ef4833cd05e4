"""Test helpers: a master process with Marathon in this process, simulated agents on
its node, and a small HTTP client for the gateway (urllib, no redirects followed)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from actors import protocol as p
from actors.agent import AgentActor, SimulatedRunner
from actors.resources import Resources
from actors.task_states import TaskState
from runtime.testing import wait_for  # noqa: F401  (re-exported: the suite's one wait_for)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class Http:
    """``http(method, path, body) -> (status, json_or_text, headers)`` against one base URL."""

    def __init__(self, base: str | Callable[[], str]) -> None:
        self._base = base

    @property
    def base(self) -> str:
        return self._base() if callable(self._base) else self._base

    def __call__(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with _opener.open(req, timeout=20) as resp:
                status, payload, headers = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            status, payload, headers = err.code, err.read(), dict(err.headers)
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode(errors="replace")
        return status, parsed, headers

    def get(self, path: str) -> Any:
        status, body, _ = self("GET", path)
        assert status == 200, (path, status, body)
        return body


class SseListener:
    """Reads ``/marathon/v2/events`` on a thread; ``events`` collects (type, data)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=30
        )
        self.conn.request("GET", parts.path, headers={"Accept": "text/event-stream"})
        self.response = self.conn.getresponse()
        assert self.response.status == 200, self.response.status
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event_type = ""
        try:
            while True:
                line = self.response.readline()
                if not line:
                    return
                text = line.decode().rstrip("\n")
                if text.startswith("event: "):
                    event_type = text[7:]
                elif text.startswith("data: "):
                    self.events.append((event_type, json.loads(text[6:])))
        except (OSError, ValueError, AttributeError):  # closed under our feet
            return

    def types(self) -> list[str]:
        return [t for t, _ in self.events]

    def close(self) -> None:
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the reader thread at once
            except OSError:
                pass
        self.thread.join(5)
        self.conn.close()


class HealthRunner(SimulatedRunner):
    """Simulated tasks with health: a task whose app id is in ``sick`` reports
    unhealthy, then is killed by "the agent" (as after maxConsecutiveFailures); others
    report healthy. ``sick`` entries are consumed one per launch."""

    def __init__(self) -> None:
        super().__init__()
        self.sick: dict[str, int] = {}

    def launch(self, framework_id: str, task: p.TaskInfo, report: Any) -> None:
        super().launch(framework_id, task, report)
        if not task.health_checks:
            return
        app_id = task.labels.get("MARATHON_APP_ID", "")
        sick = self.sick.get(app_id, 0) > 0
        if sick:
            self.sick[app_id] -= 1

        def later() -> None:
            running = TaskState.RUNNING.value
            if sick:
                report(
                    task.task_id, running, "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", "503", False
                )
                self.running.discard(task.task_id)
                report(
                    task.task_id,
                    TaskState.KILLED.value,
                    "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
                    "killed after 3 consecutive health check failures",
                    False,
                )
            else:
                report(task.task_id, running, "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", "ok", True)

        threading.Timer(0.1, later).start()


def spawn_agents(
    node: Any,
    master: str,
    count: int,
    *,
    resources: str = "cpus:4;mem:4096;ports:[31000-31099]",
    runner: Callable[[], Any] = SimulatedRunner,
) -> list[Any]:
    refs = []
    for i in range(count):
        name = f"agent{i}"
        refs.append(
            node.spawn(
                AgentActor,
                hostname=f"agent{i}",
                address=node.actor_address(name),
                resources=Resources.parse(resources),
                runner=runner(),
                master=master,
                update_retry_interval=0.5,
                register_retry_interval=0.2,
                name=name,
            )
        )
    return refs
