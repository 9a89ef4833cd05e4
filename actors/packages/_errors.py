"""Errors of the packages service (Cosmos).

One root (`PackagesError`). Each error is one of Cosmos' error types: ``type`` is the
name Cosmos puts in its error body (``{"type", "message", "data"}``), ``status`` the
HTTP status Cosmos answers with, so the REST layer renders every failure in one place
and the DC/OS CLI's error handling (which reads ``type`` and ``message``) works unchanged.
"""

from __future__ import annotations

from typing import Any


class PackagesError(Exception):
    """Root of every error raised by `actors.packages`; also a Cosmos error body."""

    type: str = "CosmosError"
    status: int = 400

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = dict(data or {})

    def body(self) -> dict[str, Any]:
        """Cosmos' ErrorResponse: ``{"type", "message", "data"?}``."""
        out: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.data:
            out["data"] = self.data
        return out


class MalformedRequest(PackagesError):
    """The request body or its media type is not what the operation takes."""

    type = "MalformedRequest"
    status = 400


class PackageNotFound(PackagesError):
    type = "PackageNotFound"
    status = 404


class VersionNotFound(PackagesError):
    type = "VersionNotFound"
    status = 404


class JsonSchemaMismatch(PackagesError):
    """The options do not validate against the package's ``config.json``; ``data.errors``
    lists each bad option with its JSON pointer."""

    type = "JsonSchemaMismatch"
    status = 400


class PackageAlreadyInstalled(PackagesError):
    type = "PackageAlreadyInstalled"
    status = 409


class InvalidTemplate(PackagesError):
    """The package's template does not render to a JSON object."""

    type = "MarathonTemplateMustBeJsonObject"
    status = 400


class ServiceSpecInvalid(PackagesError):
    """An SDK service's spec (svc.yml), rendered with the app's env, is invalid;
    ``data.path`` is the YAML path of the bad value."""

    type = "ServiceSpecInvalid"
    status = 400


class MarathonRejected(PackagesError):
    """Marathon (or Metronome) refused what the package rendered; ``data`` carries its
    errors, the message names the package."""

    type = "MarathonBadResponse"
    status = 422


class ServiceUnavailable(PackagesError):
    """Marathon, Metronome or the repository store did not answer."""

    type = "ServiceUnavailable"
    status = 503


class NotInstalled(PackagesError):
    """Uninstall of a package (or app id) that is not installed."""

    type = "UninstallNonExistentAppForPackage"
    status = 404


class AmbiguousAppId(PackagesError):
    """Several instances match an uninstall that named neither ``appId`` nor ``all``."""

    type = "AmbiguousAppId"
    status = 400


class RepositoryError(PackagesError):
    """A repository that cannot be added, read or removed."""

    type = "RepositoryUriConnection"
    status = 400


class UnsupportedRepositoryUri(RepositoryError):
    type = "UnsupportedRepositoryUri"
    status = 400


class RepositoryNotUniverse(RepositoryError):
    """The URI answered, but not with a Universe repository (a ``packages`` array)."""

    type = "IndexNotFound"
    status = 400


class RepositoryAlreadyPresent(RepositoryError):
    type = "RepositoryAlreadyPresent"
    status = 409


class RepositoryAddIndexOutOfBounds(RepositoryError):
    type = "RepositoryAddIndexOutOfBounds"
    status = 400


class RepoNameOrUriMissing(RepositoryError):
    type = "RepoNameOrUriMissing"
    status = 400


class RepositoryNotPresent(RepositoryError):
    type = "RepositoryNotPresent"
    status = 404


class ResourceNotFound(PackagesError):
    """``/package/resource?url=``: a URL no package of the configured repositories names."""

    type = "ResourceNotFound"
    status = 404
