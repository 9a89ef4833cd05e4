"""Cluster actors: users' Python actors placed on the cluster, named and supervised.

A third framework on the toolkit (beside Marathon and Metronome): the leader service
``actors`` runs the actor ``cluster_actors`` (``runtime.FRAMEWORK_ACTOR``) on the leading
master. Scripts (``runtime.connect`` + ``runtime.remote``) ask it to spawn actors; it
places each one as a native task running ``python -m runtime.worker`` through resource
offers, registers names in ZooKeeper, restarts crashed workers per their OTP restart
type and supervision group, stops owned actors when their script goes away, keeps
checkpoints, and survives leader failover (same framework id, actors keep running).

- ``_model.py`` (pure): ``ActorConfig``, ``ActorRecord``, ``Group``, ``ActorState``.
- ``_core.py`` (pure): ``ActorsCore`` — events in, effects out, on a manual clock.
- ``_actor.py``: ``ClusterActorsActor``, the thin shell (driver, ZooKeeper, replies).
- ``_store.py``: the framework's ZooKeeper documents (actors, names, groups, code,
  checkpoints, framework id).
- ``_service.py``: ``ClusterActorsService`` (leader service ``actors``; routes
  ``/actors/v1/...``; Prometheus collector).

Imports are lazy (PEP 562): the pure modules load no aiohttp, kazoo or zmq.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.cluster_actors._actor import ClusterActorsActor, FrameworkSettings
    from actors.cluster_actors._core import ActorsCore, CoreConfig
    from actors.cluster_actors._errors import (
        ActorStoreError,
        ClusterActorsError,
        CodeError,
        InvalidActorSpec,
    )
    from actors.cluster_actors._model import ActorConfig, ActorRecord, ActorState, Group
    from actors.cluster_actors._service import ClusterActorsService

_EXPORTS = {
    "actors.cluster_actors._actor": ("ClusterActorsActor", "FrameworkSettings"),
    "actors.cluster_actors._core": ("ActorsCore", "CoreConfig"),
    "actors.cluster_actors._errors": (
        "ActorStoreError",
        "ClusterActorsError",
        "CodeError",
        "InvalidActorSpec",
    ),
    "actors.cluster_actors._model": ("ActorConfig", "ActorRecord", "ActorState", "Group"),
    "actors.cluster_actors._service": ("ClusterActorsService",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "ActorConfig",
    "ActorRecord",
    "ActorState",
    "ActorStoreError",
    "ActorsCore",
    "ClusterActorsActor",
    "ClusterActorsError",
    "ClusterActorsService",
    "CodeError",
    "CoreConfig",
    "FrameworkSettings",
    "Group",
    "InvalidActorSpec",
]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
