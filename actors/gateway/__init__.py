"""The HTTP edge of every master, at DC/OS Admin Router paths.

The leader answers the cluster's state; a standby redirects it to the leader (307) or
answers 503 when no master leads. A master's own facts (``/flags``, ``/version``,
``/metrics/snapshot``, ``/redirect``) every master answers. Leader services mount their
routes on the same server: Marathon at ``/marathon`` and DC/OS' ``/service/marathon``,
Metronome at ``/metronome`` and ``/service/metronome``.
"""

from actors.gateway._server import HttpGateway, LeaderInfo

__all__ = ["HttpGateway", "LeaderInfo"]
