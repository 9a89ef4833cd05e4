"""The HTTP edge of every master, at DC/OS Admin Router paths.

The leader answers; a standby redirects to the leader (307) or answers 503 when no
master leads. Later issues mount Marathon (``/marathon``) and Metronome (``/metronome``,
``/service/metronome``) routes on the same server.
"""

from actors.gateway._server import HttpGateway, LeaderInfo

__all__ = ["HttpGateway", "LeaderInfo"]
