"""Mesos' v1 HTTP APIs on pydcos: unmodified Mesos frameworks and tools run against it.

``/api/v1/scheduler`` (and ``/mesos/api/v1/scheduler``): the scheduler API, a RecordIO
event stream per framework, each framework bridged to the master actor as an ordinary
framework (``_bridge.py``, ``_scheduler.py``); JSON <-> pydcos records in ``_convert.py``
(pure), framing in ``_recordio.py`` (pure). ``/api/v1``: the operator API
(``_operator.py``). The leader publishes Mesos' MasterInfo under ``<chroot>/mesos`` so
clients given ``zk://.../mesos`` follow failovers (``_service.py``).

Imports are lazy (PEP 562): the pure modules load no aiohttp, ZeroMQ or kazoo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.mesos_api._errors import BadCall, BadRecordIO, MesosApiError
from actors.mesos_api._recordio import Decoder, decode_all, encode, encode_event
from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.mesos_api._agents import AgentApiService
    from actors.mesos_api._service import MESOS_ZK_PATH, MesosApiActor, MesosApiService

_LAZY = {
    "AgentApiService": "actors.mesos_api._agents",
    "MESOS_ZK_PATH": "actors.mesos_api._service",
    "MesosApiActor": "actors.mesos_api._service",
    "MesosApiService": "actors.mesos_api._service",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "MESOS_ZK_PATH",
    "AgentApiService",
    "BadCall",
    "BadRecordIO",
    "Decoder",
    "MesosApiActor",
    "MesosApiError",
    "MesosApiService",
    "decode_all",
    "encode",
    "encode_event",
]
