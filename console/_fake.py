"""``FakeSource``: a scripted cluster for the dashboard's tests and benchmark.

It keeps a small truth (apps, tasks, deployments, masters), emits the same events a live
feed does (a leader, masters, nodes, apps, tasks, jobs) and answers the actions by
emitting what Marathon would (``api_post_event``, then ``status_update_event`` per new
or killed task), so a test sees a key press go all the way round: key -> action ->
events -> table. Like ``LiveSource`` it re-reads its truth after a deployment or app
event (``RefreshPlan``), at once rather than 0.5 s later. Incidents a test can play:
``kill_leader`` / ``elect`` (a failover), ``stuck`` scale-ups and ``rollback``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from console import _model as m
from console._feed import Emit, RefreshPlan


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


def sample_masters(n: int = 3) -> list[dict[str, Any]]:
    """``master-1`` .. ``master-n`` (what the state dir and ZooKeeper both list)."""
    return [
        {
            "hostname": f"master-{i}",
            "address": f"tcp://127.0.0.1:505{i - 1}",
            "http_url": f"http://127.0.0.1:606{i}",
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
        self.masters = sample_masters()
        self.up = [x["address"] for x in self.masters]
        self.leader = self.masters[0]
        self.truth_tasks = self.tasks()
        self.deployments: list[dict[str, Any]] = []
        self.stuck = False
        """When set, a scale-up launches its new tasks but they never leave STAGING."""
        self.plan = RefreshPlan(now=0.0)
        self.rereads = 0

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

    # -- what a live source reads ---------------------------------------------------

    def _apps_json(self) -> list[dict[str, Any]]:
        return [
            {
                "id": a,
                "instances": n,
                "healthChecks": [{"protocol": "TCP"}],
                "deployments": [
                    {"id": d["id"]} for d in self.deployments if a in d["affectedApps"]
                ],
            }
            for a, n in self.instances.items()
        ]

    def _masters_event(self) -> m.Masters:
        up = [x for x in self.masters if x["address"] in self.up]
        up.sort(key=lambda x: x["address"] != self.leader["address"])
        return m.Masters([{**x, "leader": x is up[0]} for x in up], list(self.masters))

    def reread(self) -> None:
        """What ``LiveSource`` reads after a deployment event: Marathon's truth."""
        self.rereads += 1
        self.emit(m.Apps(self._apps_json()))
        self.emit(m.Deployments([dict(d) for d in self.deployments]))
        self.emit(m.Tasks([dict(t) for t in self.truth_tasks]))

    def _event(self, event: dict[str, Any]) -> None:
        self.emit(m.MarathonEvent(event))
        if self.plan.event(str(event.get("eventType")), 0.0):
            self.plan.done("marathon", 0.0)
            self.reread()

    def start(self, emit: Emit) -> None:
        self.emit = emit
        emit(m.LeaderChanged(self.leader["address"], "http://127.0.0.1:5051", "master-1"))
        emit(self._masters_event())
        emit(m.Nodes(sample_nodes()))
        apps = self.app_ids()
        per_app = {a: 0 for a in apps}
        for t in self.truth_tasks:
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

    # -- incidents --------------------------------------------------------------------

    def kill_leader(self) -> None:
        """SIGKILL of the leader: its event stream breaks and its port is shut, while
        ZooKeeper still lists it until its session expires."""
        self.emit(m.LeaderLost(self.leader["address"]))

    def elect(self, hostname: str) -> None:
        """The dead leader's session expired: ``hostname`` leads, the dead one left."""
        dead = self.leader["address"]
        self.up = [a for a in self.up if a != dead]
        self.leader = next(x for x in self.masters if x["hostname"] == hostname)
        x = self.leader
        self.emit(m.LeaderChanged(x["address"], x["http_url"], x["hostname"]))
        self.emit(self._masters_event())

    def rollback(self, dep_id: str) -> str:
        """``DELETE /v2/deployments/{id}``: Marathon reverts the app and sends events for
        the rollback deployment only; the reverted one ends without an event."""
        dep = next(d for d in self.deployments if d["id"] == dep_id)
        app_id = dep["affectedApps"][0]
        self.deployments.remove(dep)
        self.instances[app_id] = dep["from"]
        back = str(uuid.uuid4())
        self.deployments.append({"id": back, "affectedApps": [app_id], "from": dep["to"]})
        self._event(
            {"eventType": "deployment_info", "plan": {"id": back, "affectedApps": [app_id]}}
        )
        for t in [t for t in self.truth_tasks if t["appId"] == app_id][dep["from"] :]:
            self.truth_tasks.remove(t)
            self._status(app_id, t["id"], "TASK_KILLED")
        self.deployments = [d for d in self.deployments if d["id"] != back]
        self._event({"eventType": "deployment_success", "id": back})
        return f"rolling back {dep_id}"

    # -- actions ----------------------------------------------------------------------

    def _status(self, app_id: str, task_id: str, state: str) -> None:
        self._event(
            {
                "eventType": "status_update_event",
                "appId": app_id,
                "taskId": task_id,
                "taskStatus": state,
                "host": "agent-1",
            }
        )

    def scale_app(self, app_id: str, instances: int) -> str:
        self.calls.append(("scale", app_id, instances))
        before = self.instances.get(app_id, 0)
        self.instances[app_id] = instances
        dep = {"id": str(uuid.uuid4()), "affectedApps": [app_id], "from": before, "to": instances}
        self.deployments.append(dep)
        self._event(
            {
                "eventType": "api_post_event",
                "appDefinition": {
                    "id": app_id,
                    "instances": instances,
                    "healthChecks": [{"protocol": "TCP"}],
                },
            }
        )
        self._event(
            {"eventType": "deployment_info", "plan": {"id": dep["id"], "affectedApps": [app_id]}}
        )
        for _ in range(before, instances):
            task_id = f"{app_id.strip('/')}.task-{self.next_task:05d}"
            self.next_task += 1
            states = ("TASK_STAGING",) if self.stuck else ("TASK_STAGING", "TASK_RUNNING")
            task = {"id": task_id, "appId": app_id, "state": "", "host": "agent-1"}
            self.truth_tasks.append(task)
            for state in states:
                task["state"] = state
                self._status(app_id, task_id, state)
        if not self.stuck:
            self.deployments.remove(dep)
            self._event({"eventType": "deployment_success", "id": dep["id"]})
        return f"scaling {app_id} to {instances}"

    def restart_app(self, app_id: str) -> str:
        self.calls.append(("restart", app_id))
        return f"restarting {app_id}"

    def kill_task(self, task_id: str, app_id: str) -> str:
        self.calls.append(("kill", task_id, app_id))
        self.truth_tasks = [t for t in self.truth_tasks if t["id"] != task_id]
        self._status(app_id, task_id, "TASK_KILLED")
        return f"killing {task_id}"

    def log_path(self, task_id: str) -> Path | None:
        if self.log_dir is None:
            return None
        p = self.log_dir / task_id / "stdout"
        return p if p.exists() else None
