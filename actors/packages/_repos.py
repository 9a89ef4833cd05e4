"""The list of package repositories: add, delete, order (pure).

Cosmos keeps an ordered list of ``{"name", "uri"}``; a package found in an earlier
repository hides the same name in later ones, so ``repository/add`` takes an ``index``.
Names and URIs are unique. Only ``file://``, ``http://`` and ``https://`` URIs are
repositories here (what this cluster can read with no internet: a local file or a
local HTTP server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._errors import (
    MalformedRequest,
    RepoNameOrUriMissing,
    RepositoryAddIndexOutOfBounds,
    RepositoryAlreadyPresent,
    RepositoryNotPresent,
    UnsupportedRepositoryUri,
)

SCHEMES = ("file", "http", "https")

Repos = list[dict[str, str]]


def check_repository(name: Any, uri: Any) -> tuple[str, str]:
    """A valid ``(name, uri)`` or a `MalformedRequest`/`UnsupportedRepositoryUri` naming
    the field and the value."""
    if not isinstance(name, str) or not name.strip():
        raise MalformedRequest(f"name: {name!r} is not a non-empty string", {"field": "name"})
    if not isinstance(uri, str) or not uri.strip():
        raise MalformedRequest(f"uri: {uri!r} is not a non-empty string", {"field": "uri"})
    parts = urlsplit(uri.strip())
    if parts.scheme not in SCHEMES:
        raise UnsupportedRepositoryUri(
            f"uri: {uri!r}: repositories are file://, http:// or https:// URIs",
            {"uri": uri, "scheme": parts.scheme},
        )
    if parts.scheme == "file" and (
        parts.netloc not in ("", "localhost") or not parts.path.startswith("/")
    ):
        raise UnsupportedRepositoryUri(
            f"uri: {uri!r}: a file:// URI needs an absolute path (file:///path/repo.json)",
            {"uri": uri},
        )
    if parts.scheme != "file" and not parts.hostname:
        raise UnsupportedRepositoryUri(f"uri: {uri!r} names no host", {"uri": uri})
    return name.strip(), uri.strip()


def add_repository(repos: Repos, name: str, uri: str, index: Any = None) -> Repos:
    """``repos`` with ``{name, uri}`` inserted at ``index`` (default: last)."""
    for r in repos:
        if r["name"] == name or r["uri"] == uri:
            raise RepositoryAlreadyPresent(
                f"Repository name [{name}] or uri [{uri}] already present in the list "
                f"(as [{r['name']}] {r['uri']})",
                {"name": name, "uri": uri},
            )
    if index is None:
        index = len(repos)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= len(repos):
        raise RepositoryAddIndexOutOfBounds(
            f"index: {index!r} is not between 0 and {len(repos)} (the number of repositories)",
            {"field": "index", "max": len(repos)},
        )
    out = list(repos)
    out.insert(index, {"name": name, "uri": uri})
    return out


def delete_repository(repos: Repos, name: Any = None, uri: Any = None) -> Repos:
    """``repos`` without the one named by ``name`` or ``uri`` (at least one given)."""
    if name is None and uri is None:
        raise RepoNameOrUriMissing("give the repository's name or uri", {"field": "name"})
    for i, r in enumerate(repos):
        if (name is not None and r["name"] == name) or (uri is not None and r["uri"] == uri):
            return repos[:i] + repos[i + 1 :]
    what = f"name [{name}]" if name is not None else f"uri [{uri}]"
    raise RepositoryNotPresent(
        f"Repository with {what} not present in the list", {"name": name, "uri": uri}
    )


def parse_stored(doc: Any) -> Repos:
    """The stored list, checked: ``{"repositories": [{"name", "uri"}...]}``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("repositories"), list):
        raise ValueError("expected {'repositories': [...]}")
    out: Repos = []
    for r in doc["repositories"]:
        if (
            not isinstance(r, dict)
            or not isinstance(r.get("name"), str)
            or not isinstance(r.get("uri"), str)
        ):
            raise ValueError(f"bad repository entry {r!r}")
        out.append({"name": r["name"], "uri": r["uri"]})
    return out


BUNDLED_UNIVERSE = Path(__file__).resolve().parents[2] / "universe" / "repo.json"
"""The local Universe shipped in the source tree (``universe/``): every cluster's
default repository, as DC/OS clusters start with Mesosphere's Universe."""


def default_repositories() -> list[dict[str, str]]:
    """The repositories a new cluster starts with: the bundled Universe, if present."""
    if not BUNDLED_UNIVERSE.is_file():
        return []
    return [{"name": "Universe", "uri": BUNDLED_UNIVERSE.as_uri()}]
