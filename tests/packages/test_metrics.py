"""The packages service's Prometheus collector, read back by prometheus_client's parser."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from actors.packages._metrics import PackagesMetrics


def test_requests_latency_installs_and_catalog_size_are_exported() -> None:
    metrics = PackagesMetrics()
    metrics.request("install", 200, 0.25)
    metrics.request("install", 409, 0.05)
    metrics.request("search", 200, 0.001)
    metrics.installed("hello-world")
    metrics.catalog_packages = 5
    registry = CollectorRegistry()
    registry.register(metrics)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert samples[("pydcos_packages_requests_total", (("code", "409"), ("op", "install")))] == 1
    assert samples[("pydcos_packages_request_seconds_count", (("op", "install"),))] == 2
    assert samples[("pydcos_packages_request_seconds_sum", (("op", "install"),))] == 0.3
    assert samples[("pydcos_packages_installs_total", (("package", "hello-world"),))] == 1
    assert samples[("pydcos_packages_catalog_packages", ())] == 5
