"""The scheduler's state in ZooKeeper: ``/sdk/<service>/docs/...`` (a ``zk.StateStore``),
as dcos-commons keeps its state under ``dcos-service-<name>``.

| key | value |
|---|---|
| ``framework`` | ``{"id": framework id}`` (re-subscribe with it after a restart) |
| ``target`` | ``{"configId", "spec"}``: the target config (the rendered svc.yml as data) |
| ``configs/<id>`` | every config the service ran (``/v1/configurations``) |
| ``tasks/<pod>-<i>-<task>`` | the task's last launch and status |
| ``reservations/<pod>-<i>`` | the instance's reservation (agent, ports, volumes) |
| ``plans/<plan>`` | the plan's progress (complete/started steps, params, interrupted) |
"""

from __future__ import annotations

from typing import Any

from actors.sdk._errors import StateError


class SdkStore:
    """Read and write one service's documents; ZooKeeper errors become ``StateError``."""

    def __init__(self, client: Any, service: str) -> None:
        from zk import StateStore

        self.store = StateStore(client, f"/sdk/{service}")

    def load(self) -> dict[str, Any]:
        """Everything stored: ``framework``, ``target``, ``configs``, ``tasks``,
        ``reservations``, ``plans``."""
        from zk import ZkError

        try:
            fw = self.store.get("framework")
            target = self.store.get("target")
            out: dict[str, Any] = {
                "framework": fw.value.get("id") if fw is not None else None,
                "target": target.value if target is not None else None,
            }
            for kind in ("configs", "tasks", "reservations", "plans"):
                out[kind] = {
                    key.partition("/")[2]: doc.value
                    for key, doc in self.store.get_all(kind).items()
                }
            return out
        except ZkError as exc:
            raise StateError(f"cannot read the service's state: {exc}") from exc

    def put(self, key: str, value: Any) -> None:
        from zk import ZkError

        try:
            if value is None:
                self.store.delete(key)
            else:
                self.store.put(key, value)
        except ZkError as exc:
            raise StateError(f"cannot write {key}: {exc}") from exc

    def clear(self) -> None:
        """Forget everything (the framework was torn down: its tasks are gone)."""
        for kind in ("configs", "tasks", "reservations", "plans"):
            for name in self.store.list(kind):
                self.put(f"{kind}/{name}", None)
        for key in ("framework", "target"):
            self.put(key, None)
