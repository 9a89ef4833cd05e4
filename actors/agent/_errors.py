"""The agent package's one root exception (no imports: every agent module may use it)."""

from __future__ import annotations


class AgentError(Exception):
    """Root of the errors raised by ``actors.agent``: catch it to catch any of them."""
