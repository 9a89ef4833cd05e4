"""The packages service's Prometheus metrics, on every master's ``/metrics`` (the
leader's count; a standby's stay at zero, its requests are redirected).

``pydcos_packages_requests_total{op,code}``, ``pydcos_packages_request_seconds{op}``
(summary: ``_count`` and ``_sum``), ``pydcos_packages_installs_total{package}`` and
``pydcos_packages_catalog_packages`` (package versions in the catalog last built).
Updated on the gateway's event loop, read by ``collect`` on an executor thread: the
counters are copied under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any


class PackagesMetrics:
    """A ``prometheus_client`` custom collector (``collect()``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str], int] = {}
        self.seconds: dict[str, tuple[int, float]] = {}
        self.installs: dict[str, int] = {}
        self.catalog_packages = 0

    def request(self, op: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (op, str(status))
            self.requests[key] = self.requests.get(key, 0) + 1
            n, total = self.seconds.get(op, (0, 0.0))
            self.seconds[op] = (n + 1, total + max(0.0, seconds))

    def installed(self, package: str) -> None:
        with self._lock:
            self.installs[package] = self.installs.get(package, 0) + 1

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            SummaryMetricFamily,
        )

        with self._lock:
            requests = dict(self.requests)
            seconds = dict(self.seconds)
            installs = dict(self.installs)
            catalog = self.catalog_packages
        r = CounterMetricFamily(
            "pydcos_packages_requests", "Cosmos operations answered", labels=["op", "code"]
        )
        for (op, code), n in sorted(requests.items()):
            r.add_metric([op, code], n)
        yield r
        s = SummaryMetricFamily(
            "pydcos_packages_request_seconds", "Cosmos operation latency", labels=["op"]
        )
        for op, (n, total) in sorted(seconds.items()):
            s.add_metric([op], count_value=n, sum_value=total)
        yield s
        i = CounterMetricFamily(
            "pydcos_packages_installs", "packages installed", labels=["package"]
        )
        for name, n in sorted(installs.items()):
            i.add_metric([name], n)
        yield i
        yield GaugeMetricFamily(
            "pydcos_packages_catalog_packages",
            "package versions in the catalog last built",
            value=catalog,
        )
