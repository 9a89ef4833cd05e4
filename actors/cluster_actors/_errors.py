"""Errors of the cluster actors framework: one root, ``ClusterActorsError``."""

from __future__ import annotations


class ClusterActorsError(Exception):
    """Root of every error raised by ``actors.cluster_actors``."""


class InvalidActorSpec(ClusterActorsError, ValueError):
    """A spawn request, name or group is malformed; the message names the field and value."""


class CodeError(ClusterActorsError):
    """An uploaded code archive is refused (too large, or not what its sha256 says)."""


class ActorStoreError(ClusterActorsError):
    """ZooKeeper refused a write of the framework's state (the shell retries or crashes)."""
