"""Errors of identity and access management.

One root (``IamError``). Each carries the HTTP status the ACS API answers with and a
DC/OS-style ``code`` (bouncer's ``ERR_*`` names), so the REST layer renders every failure
in one place as ``{"message", "code"}``. Messages name the field and the value that was
wrong, never a password or a token.
"""

from __future__ import annotations


class IamError(Exception):
    """Root of every error raised by ``actors.iam``."""

    status: int = 400
    code: str = "ERR_INVALID_DATA"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        return {"message": self.message, "code": self.code}


class InvalidInput(IamError):
    """A uid, gid, rid, action or body field that is not acceptable (400)."""

    status = 400
    code = "ERR_INVALID_DATA"


class NotFound(IamError):
    status = 404
    code = "ERR_UNKNOWN_RESOURCE"


class Conflict(IamError):
    """Already exists, or the change would leave the cluster without a superuser (409)."""

    status = 409
    code = "ERR_CONFLICT"


class Unauthenticated(IamError):
    """No credentials, or credentials that do not verify (401). ``message`` says what was
    wrong (expired, bad signature...), never the token or password itself."""

    status = 401
    code = "ERR_INVALID_CREDENTIALS"


class Forbidden(IamError):
    """Authenticated but not permitted (403); names the rid and the action."""

    status = 403
    code = "ERR_FORBIDDEN"


class RateLimited(IamError):
    """Too many failed logins for a uid or from an address (429)."""

    status = 429
    code = "ERR_TOO_MANY_REQUESTS"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IamConfigError(IamError, ValueError):
    """A bad ``--iam-key``/``--iam-bootstrap``/``--iam-token-ttl`` (the master refuses to
    start)."""

    status = 500
    code = "ERR_CONFIG"
