"""Universe repositories, read as Cosmos reads them (pure: no I/O).

A repository is one JSON document (Universe's ``repo/meta`` output: what
``universe.mesosphere.com/repo`` serves) whose ``packages`` array holds one entry per
package *version*, each the merge of that version's ``package.json`` with its
``config.json`` (``config``), ``resource.json`` (``resource``) and
``marathon.json.mustache`` (base64 in ``marathon.v2AppMustacheTemplate``)::

    {"packages": [{"packagingVersion": "4.0", "name": "hello-world", "version": "0.2.0",
                   "releaseVersion": 1, "maintainer": "...", "description": "...",
                   "tags": ["web"], "framework": false, "postInstallNotes": "...",
                   "upgradesFrom": ["*"], "downgradesTo": ["*"],
                   "config": {JSON schema}, "resource": {"assets": {"uris": {...}}},
                   "marathon": {"v2AppMustacheTemplate": "<base64>"}}]}

Packaging versions 2.0, 3.0 and 4.0 are read (4.0 adds ``upgradesFrom``/
``downgradesTo``). One pydcos extension: ``metronome.v1JobMustacheTemplate`` (base64) for
a package that installs a Metronome job instead of a Marathon app. Another: an asset URI
that is relative (``assets/echo.py``) is resolved against the repository's own URI, so a
repository directory can be moved, or served, without being rebuilt.

Search, version selection and the response shapes of ``search``, ``describe`` and
``list-versions`` are here too, so the REST layer only moves bytes.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from ._errors import PackageNotFound, RepositoryNotUniverse, VersionNotFound

PACKAGING_VERSIONS = ("2.0", "3.0", "4.0")
"""What this Cosmos reads (5.0 adds the SDK's ``manager``, not supported here)."""

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
"""Universe's package name rule (``repo/meta/schema/package-schema.json``)."""

_TAG = re.compile(r"^[^\s]+$")

METADATA_FIELDS = (
    "packagingVersion",
    "name",
    "version",
    "maintainer",
    "description",
    "tags",
    "selected",
    "scm",
    "website",
    "framework",
    "preInstallNotes",
    "postInstallNotes",
    "postUninstallNotes",
    "licenses",
    "images",
)
"""What Cosmos stores in an app's ``DCOS_PACKAGE_METADATA`` label (``images`` comes from
``resource.images``)."""


@dataclass(frozen=True)
class Package:
    """One version of one package, as found in a repository."""

    name: str
    version: str
    release: int
    """``releaseVersion``: orders the versions of a package (higher is newer)."""
    definition: dict[str, Any]
    """The repository entry, with ``releaseVersion`` set and asset URIs made absolute."""
    source: str
    """URI of the repository it came from."""
    haystack: str = field(default="", compare=False)
    """Lower-cased name, description and tags, for search."""

    @property
    def packaging_version(self) -> str:
        return str(self.definition.get("packagingVersion", "3.0"))

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.definition.get("config") or {})

    @property
    def resource(self) -> dict[str, Any]:
        return dict(self.definition.get("resource") or {})

    @property
    def framework(self) -> bool:
        return bool(self.definition.get("framework", False))

    @property
    def marathon_template(self) -> str | None:
        return _template(self.definition, "marathon", "v2AppMustacheTemplate")

    @property
    def metronome_template(self) -> str | None:
        return _template(self.definition, "metronome", "v1JobMustacheTemplate")

    def metadata(self) -> dict[str, Any]:
        """The package's metadata as Cosmos labels an installed app with."""
        out = {k: self.definition[k] for k in METADATA_FIELDS if k in self.definition}
        images = self.resource.get("images")
        if images:
            out["images"] = images
        out.setdefault("framework", False)
        out.setdefault("selected", False)
        return out

    def asset_uris(self) -> set[str]:
        """Every URI the package's ``resource`` names (what ``/package/resource`` serves)."""
        return set(_resource_uris(self.resource))


def _template(definition: dict[str, Any], key: str, field_name: str) -> str | None:
    section = definition.get(key)
    if not isinstance(section, dict) or field_name not in section:
        return None
    return base64.b64decode(section[field_name]).decode("utf-8")


def _resource_uris(resource: dict[str, Any]) -> Iterable[str]:
    assets = resource.get("assets") or {}
    yield from (assets.get("uris") or {}).values()
    yield from (resource.get("images") or {}).values()
    cli = resource.get("cli") or {}
    for platform in (cli.get("binaries") or {}).values():
        for binary in (platform or {}).values():
            if isinstance(binary, dict) and "url" in binary:
                yield binary["url"]


def _resolve_resource(resource: Any, base: str) -> Any:
    """The resource with every relative URI made absolute against ``base``."""
    if not isinstance(resource, dict):
        return resource
    out = dict(resource)
    assets = out.get("assets")
    if isinstance(assets, dict) and isinstance(assets.get("uris"), dict):
        out["assets"] = {
            **assets,
            "uris": {k: _absolute(v, base) for k, v in assets["uris"].items()},
        }
    if isinstance(out.get("images"), dict):
        out["images"] = {k: _absolute(v, base) for k, v in out["images"].items()}
    return out


def _absolute(uri: Any, base: str) -> Any:
    if not isinstance(uri, str) or urlsplit(uri).scheme:
        return uri
    return urljoin(base, uri)


# ------------------------------------------------------------------------- parsing


def _problems(i: int, entry: Any) -> list[str]:
    """Why ``packages[i]`` is not a Universe package entry (empty: it is)."""
    at = f"/packages/{i}"
    if not isinstance(entry, dict):
        return [f"{at}: expected an object, got {type(entry).__name__}"]
    out: list[str] = []
    pv = entry.get("packagingVersion")
    if pv not in PACKAGING_VERSIONS:
        out.append(f"{at}/packagingVersion: {pv!r} is not one of {', '.join(PACKAGING_VERSIONS)}")
    for key in ("name", "version", "maintainer", "description"):
        if not isinstance(entry.get(key), str) or not entry.get(key):
            out.append(f"{at}/{key}: required, a non-empty string")
    name = entry.get("name")
    if isinstance(name, str) and name and not _NAME.match(name):
        out.append(f"{at}/name: {name!r} must match {_NAME.pattern}")
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and _TAG.match(t) for t in tags):
        out.append(f"{at}/tags: must be a list of strings without spaces")
    release = entry.get("releaseVersion", 0)
    if not isinstance(release, int) or isinstance(release, bool) or release < 0:
        out.append(f"{at}/releaseVersion: {release!r} is not a non-negative integer")
    for key in ("config", "resource", "marathon", "metronome", "command"):
        if key in entry and not isinstance(entry[key], dict):
            out.append(f"{at}/{key}: must be an object")
    for key, field_name in (
        ("marathon", "v2AppMustacheTemplate"),
        ("metronome", "v1JobMustacheTemplate"),
    ):
        section = entry.get(key)
        if isinstance(section, dict):
            raw = section.get(field_name)
            try:
                base64.b64decode(str(raw), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                out.append(f"{at}/{key}/{field_name}: not base64 of UTF-8 text")
    for key in ("upgradesFrom", "downgradesTo"):
        if key in entry and (
            not isinstance(entry[key], list) or not all(isinstance(v, str) for v in entry[key])
        ):
            out.append(f"{at}/{key}: must be a list of version strings")
    return out


def parse_repository(doc: Any, source: str) -> list[Package]:
    """A Universe repository document -> its packages, asset URIs resolved against
    ``source``. Anything else is `RepositoryNotUniverse` naming the first problems (a
    repository is all or nothing, as in Cosmos: one broken entry rejects the file)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("packages"), list):
        raise RepositoryNotUniverse(
            f"{source} is not a Universe repository: expected a JSON object with a "
            "'packages' array",
            {"uri": source},
        )
    problems: list[str] = []
    out: list[Package] = []
    for i, entry in enumerate(doc["packages"]):
        found = _problems(i, entry)
        if found:
            problems.extend(found)
            continue
        definition = dict(entry)
        definition.setdefault("releaseVersion", 0)
        definition.setdefault("tags", [])
        if "resource" in definition:
            definition["resource"] = _resolve_resource(definition["resource"], source)
        text = " ".join([entry["name"], entry["description"], *definition["tags"]]).lower()
        out.append(
            Package(
                entry["name"],
                entry["version"],
                definition["releaseVersion"],
                definition,
                source,
                text,
            )
        )
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise RepositoryNotUniverse(
            f"{source} is not a valid Universe repository: {'; '.join(problems[:5])}{more}",
            {"uri": source, "errors": problems[:50]},
        )
    return out


# ------------------------------------------------------------------------- the catalog


class Catalog:
    """The packages of the configured repositories, in repository order: a package name
    found in an earlier repository hides the same name in later ones (Cosmos' rule, so
    ``repo add --index 0`` overrides the default Universe)."""

    def __init__(self, repositories: Sequence[Sequence[Package]]) -> None:
        self.by_name: dict[str, list[Package]] = {}
        for packages in repositories:
            here: dict[str, list[Package]] = {}
            for pkg in packages:
                if pkg.name not in self.by_name:
                    here.setdefault(pkg.name, []).append(pkg)
            for name, versions in here.items():
                self.by_name[name] = sorted(versions, key=lambda p: p.release)

    def versions(self, name: str) -> list[Package]:
        """Every version of ``name``, oldest first; `PackageNotFound` if none."""
        found = self.by_name.get(name)
        if not found:
            raise PackageNotFound(f"Package [{name}] not found", {"packageName": name})
        return found

    def select(self, name: str, version: str | None = None) -> Package:
        """``version`` of ``name``, or its newest (highest ``releaseVersion``)."""
        versions = self.versions(name)
        if version is None:
            return versions[-1]
        for pkg in reversed(versions):
            if pkg.version == version:
                return pkg
        raise VersionNotFound(
            f"Version [{version}] of package [{name}] not found",
            {"packageName": name, "packageVersion": version},
        )

    def search(self, query: str = "") -> list[dict[str, Any]]:
        """Cosmos' ``search``: a package matches when the query is a substring of its
        name, description or a tag (case-insensitive), or, with ``*``, a glob over them.
        One result per package (its newest version); selected packages first."""
        q = query.strip().lower()
        glob = "*" in q
        results = []
        for name, versions in self.by_name.items():
            newest = versions[-1]
            if q:
                if glob:
                    words = [name, *newest.haystack.split()]
                    if not any(fnmatch.fnmatchcase(w, q) for w in words) and not (
                        fnmatch.fnmatchcase(newest.haystack, f"*{q}*")
                    ):
                        continue
                elif q not in newest.haystack:
                    continue
            results.append(search_result(versions))
        results.sort(key=lambda r: (not r["selected"], r["name"]))
        return results

    def asset_uris(self) -> set[str]:
        return {
            uri for versions in self.by_name.values() for p in versions for uri in p.asset_uris()
        }


def search_result(versions: Sequence[Package]) -> dict[str, Any]:
    """Cosmos' ``SearchResult`` for a package's versions (oldest first)."""
    newest = versions[-1]
    d = newest.definition
    out: dict[str, Any] = {
        "name": newest.name,
        "currentVersion": newest.version,
        "versions": {p.version: str(p.release) for p in versions},
        "description": d["description"],
        "framework": bool(d.get("framework", False)),
        "tags": list(d.get("tags", [])),
        "selected": bool(d.get("selected", False)),
    }
    images = newest.resource.get("images")
    if images:
        out["images"] = images
    return out


def describe_v3(pkg: Package) -> dict[str, Any]:
    """``describe-response`` v3: ``{"package": <the package definition>}`` (v2 is the
    definition alone)."""
    return {"package": dict(pkg.definition)}


def describe_v1(pkg: Package) -> dict[str, Any]:
    """``describe-response`` v1: package.json beside its template, config and resource."""
    d = pkg.definition
    package = {
        k: v
        for k, v in d.items()
        if k not in ("config", "resource", "marathon", "metronome", "command")
    }
    out: dict[str, Any] = {"package": package}
    if pkg.marathon_template is not None:
        out["marathonMustache"] = pkg.marathon_template
    for key in ("config", "resource", "command"):
        if key in d:
            out[key] = d[key]
    return out


def list_versions(versions: Sequence[Package]) -> dict[str, Any]:
    """``list-versions`` response: ``{"results": {version: releaseVersion}}``."""
    return {"results": {p.version: str(p.release) for p in versions}}
