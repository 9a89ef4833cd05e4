"""The l4lb package's root exception: catch ``L4lbError`` to catch any of its own."""

from __future__ import annotations


class L4lbError(Exception):
    """Root of every exception the load balancer package raises on purpose."""


class InvalidVip(L4lbError, ValueError):
    """A VIP label value cannot be used; the message names the value and the rule."""


class HaproxyError(L4lbError, RuntimeError):
    """HAProxy could not be started, configured or reached; says which and why."""
