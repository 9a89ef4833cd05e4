"""Errors of the DNS package: one root, so a caller catches "the DNS service refused"
with one except clause."""

from __future__ import annotations


class DnsError(Exception):
    """Root of every error raised by `actors.dns`."""


class DnsConfigError(DnsError, ValueError):
    """A DNS setting (port, upstream, TTL...) is not valid; the message names it."""


class DnsStartError(DnsError):
    """The DNS server could not listen (port taken, no permission for port 53...)."""
