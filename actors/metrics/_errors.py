"""The metrics package's root exception."""

from __future__ import annotations


class MetricsError(Exception):
    """Root of every exception the metrics package raises on purpose."""


class BadMetricsDocument(MetricsError, ValueError):
    """An agent's metrics document is not shaped as ``GetMetrics`` promises."""
