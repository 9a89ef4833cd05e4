"""Kept so that ``from tests._wait import wait_for`` goes on working: the one
``wait_for`` now ships with the runtime, in `runtime.testing`."""

from __future__ import annotations

from runtime.testing import wait_for

__all__ = ["wait_for"]
