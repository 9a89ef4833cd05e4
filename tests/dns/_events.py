"""v1 operator-API events (CONTRACT.md section 1) for the DNS tests."""

from __future__ import annotations

from typing import Any


def v1_task(
    task_id: str,
    *,
    name: str = "web.shop",
    framework: str = "fw-1",
    agent: str = "ag-S0",
    state: str = "TASK_RUNNING",
    ports: tuple[int, ...] = (31000,),
    discovery: str | None = "web-shop",
    vip: str | None = None,
    container_ip: str | None = None,
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": name,
        "task_id": {"value": task_id},
        "framework_id": {"value": framework},
        "agent_id": {"value": agent},
        "state": state,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": p, "end": p} for p in ports]},
            },
        ],
        "statuses": [],
    }
    if discovery is not None:
        task["discovery"] = {
            "visibility": "FRAMEWORK",
            "name": discovery,
            "ports": {
                "ports": [
                    {
                        "number": p,
                        "protocol": "tcp",
                        "labels": {"labels": [{"key": "VIP_0", "value": vip}] if vip else []},
                    }
                    for p in ports
                ]
            },
        }
    if container_ip:
        task["statuses"] = [
            {
                "task_id": {"value": task_id},
                "state": state,
                "container_status": {
                    "network_infos": [{"ip_addresses": [{"ip_address": container_ip}]}]
                },
            }
        ]
    return task


def v1_agent(agent_id: str, ip: str = "127.0.0.2", port: int = 5051) -> dict[str, Any]:
    return {
        "agent_info": {"id": {"value": agent_id}, "hostname": "agent", "port": port},
        "active": True,
        "pid": f"slave(1)@{ip}:{port}",
    }


def v1_framework(fid: str = "fw-1", name: str = "marathon") -> dict[str, Any]:
    return {"framework_info": {"id": {"value": fid}, "name": name}, "active": True}


def subscribed(
    tasks: list[dict[str, Any]],
    agents: list[dict[str, Any]] | None = None,
    frameworks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "get_state": {
                "get_tasks": {"tasks": tasks},
                "get_agents": {"agents": [v1_agent("ag-S0")] if agents is None else agents},
                "get_frameworks": {
                    "frameworks": [v1_framework()] if frameworks is None else frameworks
                },
            },
            "heartbeat_interval_seconds": 15.0,
        },
    }


def task_added(task: dict[str, Any]) -> dict[str, Any]:
    return {"type": "TASK_ADDED", "task_added": {"task": task}}


def task_updated(task_id: str, state: str, framework: str = "fw-1") -> dict[str, Any]:
    return {
        "type": "TASK_UPDATED",
        "task_updated": {
            "framework_id": {"value": framework},
            "status": {"task_id": {"value": task_id}, "state": state},
            "state": state,
        },
    }
