"""The console's root exception: every failure the CLI, the launcher or the cluster client
reports to a person derives from it (printed as one line, non-zero exit)."""

from __future__ import annotations


class ConsoleError(Exception):
    """Root of every error raised by ``console``."""
