"""The framework (scheduler) API: what Marathon, Metronome and users' scripts build on.

Mesos' SchedulerDriver, as an actor: subclass ``Scheduler`` for the callbacks and drive
the cluster through ``SchedulerDriver`` (accept, decline, launch, kill, reconcile,
revive, suppress, acknowledge).
"""

from actors.framework._driver import Scheduler, SchedulerDriver

__all__ = ["Scheduler", "SchedulerDriver"]
