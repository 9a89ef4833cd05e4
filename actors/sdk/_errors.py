"""The SDK's exceptions: one root, a few kinds, each naming what was wrong."""

from __future__ import annotations


class SdkError(Exception):
    """Root of every error the service SDK raises."""


class SpecError(SdkError, ValueError):
    """A service spec (svc.yml) is invalid: ``path`` is the YAML path of the bad value
    (``pods.zk.tasks.server.goal``), ``message`` what is wrong with it."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class UpdateRefused(SdkError, ValueError):
    """A new target config changes what cannot change (a volume, a count below the
    declared quorum): the running service is left untouched."""


class PlanNotFound(SdkError, LookupError):
    """No such plan, phase or step (the HTTP API answers 404)."""


class PlanCommandError(SdkError, ValueError):
    """A plan or pod command that cannot apply now (bad parameters: 400, a healthy pod
    replaced without force: 409): ``status`` is the HTTP API's answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


class StateError(SdkError):
    """The scheduler's state in ZooKeeper could not be read or written."""
