"""Packages: a Cosmos-style package manager over Universe repositories (issue 25).

The pure half reads Universe repositories (``_universe.py``), resolves and validates a
package's options against its ``config.json`` (``_options.py``), renders its mustache
template into a Marathon app or Metronome job labelled as Cosmos labels them
(``_render.py``), keeps the repository list (``_repos.py``) and speaks Cosmos' media
types (``_media.py``). On top: ``PackagesActor`` (the repository list, persisted in
ZooKeeper), the ``/package`` REST API (``_api.py``) and ``PackagesService``, the leader
service that runs them on the leading master. ``build_repository`` turns a Universe
source tree (``packages/H/hello-world/0/package.json``...) into a repository file.

Imports are lazy (PEP 562): the pure modules load no aiohttp, kazoo or zmq.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.packages._build import build_repository
    from actors.packages._errors import (
        JsonSchemaMismatch,
        PackageNotFound,
        PackagesError,
        RepositoryError,
        VersionNotFound,
    )
    from actors.packages._options import merge, resolve_options, schema_defaults, schema_errors
    from actors.packages._render import build_app, build_job, installation, render_template
    from actors.packages._repos import BUNDLED_UNIVERSE, default_repositories
    from actors.packages._service import PackagesService
    from actors.packages._universe import Catalog, Package, parse_repository

_WHERE = {
    "build_repository": "._build",
    "JsonSchemaMismatch": "._errors",
    "PackageNotFound": "._errors",
    "PackagesError": "._errors",
    "RepositoryError": "._errors",
    "VersionNotFound": "._errors",
    "merge": "._options",
    "resolve_options": "._options",
    "schema_defaults": "._options",
    "schema_errors": "._options",
    "build_app": "._render",
    "build_job": "._render",
    "installation": "._render",
    "render_template": "._render",
    "BUNDLED_UNIVERSE": "._repos",
    "PackagesService": "._service",
    "default_repositories": "._repos",
    "Catalog": "._universe",
    "Package": "._universe",
    "parse_repository": "._universe",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
__all__ = [
    "BUNDLED_UNIVERSE",
    "Catalog",
    "JsonSchemaMismatch",
    "Package",
    "PackageNotFound",
    "PackagesError",
    "PackagesService",
    "RepositoryError",
    "VersionNotFound",
    "build_app",
    "build_job",
    "build_repository",
    "default_repositories",
    "installation",
    "merge",
    "parse_repository",
    "render_template",
    "resolve_options",
    "schema_defaults",
    "schema_errors",
]
