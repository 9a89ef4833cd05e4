"""``FakeSource``: a scripted cluster for the dashboard's tests and benchmark.

It emits the same events a live feed does (a leader, masters, nodes, apps, tasks, jobs)
and answers the actions by emitting what Marathon would (``api_post_event``, then
``status_update_event`` per new or killed task), so a test sees a key press go all the
way round: key -> action -> events -> table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from console import _model as m
from console._feed import Emit


def sample_nodes(n: int = 2) -> list[dict[str, Any]]:
    return [
        {
            "id": f"S{i}",
            "hostname": f"agent-{i}",
            "active": True,
            "resources": {"cpus": 2.0, "mem": 2048.0, "disk": 4096.0},
            "used_resources": {"cpus": 0.1 * i, "mem": 32.0 * i, "disk": 0.0},
            "task_count": i,
        }
        for i in range(1, n + 1)
    ]


class FakeSource:
    """Deterministic data; ``tasks`` active tasks spread over ``apps`` apps."""

    def __init__(self, apps: int = 2, tasks: int = 4, log_dir: Path | None = None) -> None:
        self.n_apps, self.n_tasks = apps, tasks
        self.emit: Emit = lambda ev: None
        self.calls: list[tuple[Any, ...]] = []
        self.instances: dict[str, int] = {}
        self.next_task = tasks
        self.log_dir = log_dir

    def app_ids(self) -> list[str]:
        return [f"/svc-{i}" for i in range(self.n_apps)]

    def tasks(self) -> list[dict[str, Any]]:
        apps = self.app_ids()
        return [
            {
                "id": f"{apps[i % len(apps)].strip('/')}.task-{i:05d}",
                "appId": apps[i % len(apps)],
                "state": "TASK_RUNNING",
                "host": f"agent-{1 + i % 2}",
                "healthCheckResults": [{"alive": True}],
            }
            for i in range(self.n_tasks)
        ]

    def start(self, emit: Emit) -> None:
        self.emit = emit
        emit(m.LeaderChanged("tcp://127.0.0.1:5050", "http://127.0.0.1:5051", "master-1"))
        emit(
            m.Masters(
                [
                    {
                        "hostname": f"master-{i}",
                        "address": f"tcp://127.0.0.1:505{i - 1}",
                        "http_url": f"http://127.0.0.1:606{i}",
                        "leader": i == 1,
                    }
                    for i in (1, 2, 3)
                ]
            )
        )
        emit(m.Nodes(sample_nodes()))
        apps = self.app_ids()
        per_app = {a: 0 for a in apps}
        for t in self.tasks():
            per_app[t["appId"]] += 1
        self.instances = dict(per_app)
        emit(
            m.Apps(
                [
                    {"id": a, "instances": n, "healthChecks": [{"protocol": "TCP"}]}
                    for a, n in per_app.items()
                ]
            )
        )
        emit(m.Tasks(self.tasks()))
        emit(
            m.Jobs(
                [
                    {
                        "id": "tick",
                        "schedules": [{"cron": "* * * * *"}],
                        "historySummary": {"successCount": 3, "failureCount": 0},
                    }
                ]
            )
        )

    def stop(self) -> None:
        self.calls.append(("stop",))

    def scale_app(self, app_id: str, instances: int) -> str:
        self.calls.append(("scale", app_id, instances))
        before = self.instances.get(app_id, 0)
        self.instances[app_id] = instances
        self.emit(
            m.MarathonEvent(
                {
                    "eventType": "api_post_event",
                    "appDefinition": {
                        "id": app_id,
                        "instances": instances,
                        "healthChecks": [{"protocol": "TCP"}],
                    },
                }
            )
        )
        for _ in range(before, instances):
            task_id = f"{app_id.strip('/')}.task-{self.next_task:05d}"
            self.next_task += 1
            for state in ("TASK_STAGING", "TASK_RUNNING"):
                self.emit(
                    m.MarathonEvent(
                        {
                            "eventType": "status_update_event",
                            "appId": app_id,
                            "taskId": task_id,
                            "taskStatus": state,
                            "host": "agent-1",
                        }
                    )
                )
        return f"scaling {app_id} to {instances}"

    def restart_app(self, app_id: str) -> str:
        self.calls.append(("restart", app_id))
        return f"restarting {app_id}"

    def kill_task(self, task_id: str, app_id: str) -> str:
        self.calls.append(("kill", task_id, app_id))
        self.emit(
            m.MarathonEvent(
                {
                    "eventType": "status_update_event",
                    "appId": app_id,
                    "taskId": task_id,
                    "taskStatus": "TASK_KILLED",
                    "host": "agent-1",
                }
            )
        )
        return f"killing {task_id}"

    def log_path(self, task_id: str) -> Path | None:
        if self.log_dir is None:
            return None
        p = self.log_dir / task_id / "stdout"
        return p if p.exists() else None
