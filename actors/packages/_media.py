"""Cosmos' media types (pure).

Every Cosmos operation is a POST whose body has its own media type,
``application/vnd.dcos.package.<op>-request+json;charset=utf-8;version=v1``, answered
with ``application/vnd.dcos.package.<op>-response+json;charset=utf-8;version=vN``; the
response version is the one the client's ``Accept`` asks for (the DC/OS CLI asks
``install`` for v2 and ``describe`` for v3). Plain ``application/json`` is accepted on
both sides, and then the newest version this service speaks is answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import PackagesError

RESPONSE_VERSIONS: dict[str, tuple[str, ...]] = {
    "search": ("v1",),
    "describe": ("v1", "v2", "v3"),
    "list-versions": ("v1",),
    "render": ("v1",),
    "install": ("v1", "v2"),
    "uninstall": ("v1",),
    "list": ("v1",),
    "repository.list": ("v1",),
    "repository.add": ("v1",),
    "repository.delete": ("v1",),
}
"""The response versions each operation can answer with, oldest first."""

ERROR_TYPE = "application/vnd.dcos.package.error+json;charset=utf-8;version=v1"


class UnsupportedMediaType(PackagesError):
    type = "UnsupportedContentType"
    status = 415


class NotAcceptable(PackagesError):
    type = "NotAcceptable"
    status = 406


@dataclass(frozen=True)
class MediaType:
    type: str
    """``application/vnd.dcos.package.install-request+json`` (lower case)."""
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)


def parse(value: str) -> MediaType:
    """One media type: ``type/sub+json;k=v;...`` (quality and the like are kept as params)."""
    head, *rest = value.split(";")
    params = []
    for p in rest:
        k, _, v = p.partition("=")
        if k.strip():
            params.append((k.strip().lower(), v.strip().strip('"')))
    return MediaType(head.strip().lower(), tuple(params))


def request_type(op: str) -> str:
    return f"application/vnd.dcos.package.{op}-request+json"


def response_type(op: str, version: str) -> str:
    return f"application/vnd.dcos.package.{op}-response+json;charset=utf-8;version={version}"


def check_content_type(op: str, header: str | None) -> None:
    """The request body's type must be the op's request type (v1) or plain JSON; a
    missing header is taken as JSON (curl -d sends a form type: refused, named)."""
    if not header:
        return
    mt = parse(header)
    if mt.type == "application/json":
        return
    if mt.type == request_type(op) and mt.param("version") in (None, "v1"):
        return
    raise UnsupportedMediaType(
        f"Content-Type {header!r} is not supported by {op}: send "
        f"{request_type(op)};charset=utf-8;version=v1 or application/json",
        {"contentType": header},
    )


def negotiate(op: str, accept: str | None) -> str:
    """The response version for ``Accept``: the op's response type at the version named
    (the newest named if several), else the newest for JSON or ``*/*``; 406 otherwise."""
    versions = RESPONSE_VERSIONS[op]
    if not accept:
        return versions[-1]
    wanted = f"application/vnd.dcos.package.{op}-response+json"
    named: list[str] = []
    generic = False
    for part in accept.split(","):
        if not part.strip():
            continue
        mt = parse(part)
        if mt.type == wanted:
            v = mt.param("version")
            if v is None:
                generic = True
            elif v in versions:
                named.append(v)
        elif mt.type in ("application/json", "*/*", "application/*"):
            generic = True
    if named:
        return max(named, key=versions.index)
    if generic:
        return versions[-1]
    raise NotAcceptable(
        f"Accept {accept!r}: {op} answers {wanted} with version "
        f"{' or '.join(versions)}, or application/json",
        {"accept": accept},
    )
