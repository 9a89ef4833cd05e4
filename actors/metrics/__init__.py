"""Metrics on every master (issue 21): DC/OS' metrics API v0 per agent
(``/system/v1/agent/{agent_id}/metrics/v0/node|containers|containers/{id}[/app]``), each
agent's Prometheus text (``.../metrics/v0/prometheus``), and the master's own figures in
``/metrics`` (Prometheus, every master: ``pydcos_master_elected 0`` on a standby).

The agents sample (``actors.agent``'s ``_metrics``); this package is the gateway side: a
``NodeService`` named ``metrics`` (``MetricsService``) and the pure conversion of metrics
documents into Prometheus metric families (``_prom``). Imports are lazy (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.metrics._errors import BadMetricsDocument, MetricsError
from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.metrics._prom import agent_families, master_families, render
    from actors.metrics._service import MasterCollector, MetricsService

_LAZY = {
    "MetricsService": "actors.metrics._service",
    "MasterCollector": "actors.metrics._service",
    "agent_families": "actors.metrics._prom",
    "master_families": "actors.metrics._prom",
    "render": "actors.metrics._prom",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "BadMetricsDocument",
    "MasterCollector",
    "MetricsError",
    "MetricsService",
    "agent_families",
    "master_families",
    "render",
]
