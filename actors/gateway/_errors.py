"""The gateway package's root exception."""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every exception the gateway package raises on purpose."""


class GatewayStartError(GatewayError, RuntimeError):
    """The HTTP server did not start (port taken, no answer in time); a
    ``RuntimeError`` too, as before, so callers that caught that keep working."""
