"""Rendering a package into a Marathon app (or Metronome job), labelled as Cosmos does
(pure).

The template is mustache (``chevron``), rendered with the resolved options and, under
``resource``, the package's ``resource.json``, so ``{{resource.assets.uris.server}}``
names an asset. The result must be a JSON object. Cosmos then adds its labels, which
is all ``list`` and ``uninstall`` ever read: an installed package is a Marathon app
carrying them, so the catalog of installed packages cannot drift from what runs.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import chevron

from ._errors import InvalidTemplate
from ._universe import Package

NAME = "DCOS_PACKAGE_NAME"
VERSION = "DCOS_PACKAGE_VERSION"
RELEASE = "DCOS_PACKAGE_RELEASE"
METADATA = "DCOS_PACKAGE_METADATA"
OPTIONS = "DCOS_PACKAGE_OPTIONS"
DEFINITION = "DCOS_PACKAGE_DEFINITION"
SOURCE = "DCOS_PACKAGE_SOURCE"
REGISTRY_VERSION = "DCOS_PACKAGE_REGISTRY_VERSION"
IS_FRAMEWORK = "DCOS_PACKAGE_IS_FRAMEWORK"
FRAMEWORK_NAME = "DCOS_PACKAGE_FRAMEWORK_NAME"
SERVICE_NAME = "DCOS_SERVICE_NAME"
GROUP = "DCOS_PACKAGE_GROUP"
"""pydcos: on each app of a package that renders a Marathon *group*, the group's id (the
installation is the group: ``list`` shows it once, ``uninstall`` deletes the group)."""

PACKAGE_MEDIA_TYPE = "application/vnd.dcos.universe.package+json;charset=utf-8;version=v3"


class _JsonBool:
    """A boolean that renders as JSON's ``true``/``false`` (mustache.java's rendering;
    chevron would print Python's ``True``) and still opens or skips a section."""

    _CHEVRON_return_scope_when_falsy = True
    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __str__(self) -> str:
        return "true" if self.value else "false"


def _scope(value: Any) -> Any:
    if isinstance(value, bool):
        return _JsonBool(value)
    if isinstance(value, dict):
        return {k: _scope(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scope(v) for v in value]
    return value


def render_template(
    package: str,
    template: str,
    options: dict[str, Any],
    resource: dict[str, Any],
    cluster: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``template`` rendered with ``options`` and ``resource`` in scope, parsed as JSON.
    Anything but a JSON object is `InvalidTemplate` naming the package. ``cluster`` is
    the ``pydcos`` scope (``actors.sdk``'s ``cluster_scope``: how an SDK scheduler
    reaches this cluster)."""
    scope = _scope(options)
    if resource:
        scope = {**scope, "resource": _scope(resource)}
    if cluster:
        scope = {**scope, "pydcos": _scope(cluster)}
    text = chevron.render(template, scope)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidTemplate(
            f"package [{package}]: the rendered template is not JSON: {exc}",
            {"packageName": package},
        ) from None
    if not isinstance(doc, dict):
        raise InvalidTemplate(
            f"package [{package}]: the rendered template is a {type(doc).__name__}, "
            "not a JSON object",
            {"packageName": package},
        )
    return doc


def _b64json(doc: Any) -> str:
    return base64.b64encode(
        json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    ).decode()


def storage_envelope(pkg: Package) -> str:
    """Cosmos' ``DCOS_PACKAGE_DEFINITION``: the whole definition, gzipped, in a
    storage envelope, base64 -- so ``describe`` of an installed app needs no repository."""
    raw = json.dumps(pkg.definition, sort_keys=True, separators=(",", ":")).encode()
    envelope = {
        "metadata": {"Content-Type": PACKAGE_MEDIA_TYPE, "Content-Encoding": "gzip"},
        "data": base64.b64encode(gzip.compress(raw, mtime=0)).decode(),
    }
    return _b64json(envelope)


def package_labels(
    pkg: Package, user_options: dict[str, Any], template_labels: dict[str, Any]
) -> dict[str, str]:
    """The labels Cosmos puts on an installed app: the package's name, version,
    metadata and the user's options (base64 JSON), where it came from."""
    labels = {
        NAME: pkg.name,
        VERSION: pkg.version,
        RELEASE: str(pkg.release),
        METADATA: _b64json(pkg.metadata()),
        OPTIONS: _b64json(user_options),
        DEFINITION: storage_envelope(pkg),
        SOURCE: pkg.source,
        REGISTRY_VERSION: pkg.packaging_version,
        IS_FRAMEWORK: "true" if pkg.framework else "false",
    }
    if FRAMEWORK_NAME in template_labels:
        labels[FRAMEWORK_NAME] = str(template_labels[FRAMEWORK_NAME])
    return labels


def decode_label(value: str) -> Any:
    """A base64 JSON label back to JSON (``DCOS_PACKAGE_METADATA``, ``..._OPTIONS``)."""
    return json.loads(base64.b64decode(value))


def decode_definition(value: str) -> dict[str, Any]:
    """``DCOS_PACKAGE_DEFINITION`` back to the package definition."""
    envelope = decode_label(value)
    data = base64.b64decode(envelope["data"])
    if envelope.get("metadata", {}).get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError("DCOS_PACKAGE_DEFINITION does not hold an object")
    return doc


def service_id(doc: dict[str, Any]) -> str:
    """The app (or job) id a rendered document installs, Marathon-style (``/x``)."""
    raw = str(doc.get("id", "")).strip()
    return raw if raw.startswith("/") else "/" + raw


def is_group(doc: dict[str, Any]) -> bool:
    """A rendered Marathon *group* (``apps``/``groups``), not an app."""
    return ("apps" in doc or "groups" in doc) and "cmd" not in doc and "container" not in doc


def _label(app: dict[str, Any], pkg: Package, user_options: dict[str, Any]) -> None:
    labels = {str(k): str(v) for k, v in (app.get("labels") or {}).items()}
    labels.setdefault(SERVICE_NAME, service_id(app).strip("/"))
    labels.update(package_labels(pkg, user_options, labels))
    app["labels"] = labels


def _group_apps(group: dict[str, Any], parent: str) -> list[tuple[dict[str, Any], str]]:
    """Every app of a group document with its absolute id (Marathon resolves a relative
    id against its group)."""
    gid = str(group.get("id", ""))
    here = gid if gid.startswith("/") else parent.rstrip("/") + "/" + gid
    out = []
    for app in group.get("apps") or []:
        if isinstance(app, dict):
            aid = str(app.get("id", ""))
            out.append((app, aid if aid.startswith("/") else here.rstrip("/") + "/" + aid))
    for sub in group.get("groups") or []:
        if isinstance(sub, dict):
            out.extend(_group_apps(sub, here))
    return out


def build_app(
    pkg: Package,
    options: dict[str, Any],
    user_options: dict[str, Any],
    app_id: str | None = None,
    cluster: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Marathon app (or group) ``install`` creates: the rendered template, its id
    replaced by ``app_id`` when given, labelled. ``DCOS_SERVICE_NAME`` defaults to the
    id's path. In a group, every app is labelled, with the group's id in ``GROUP``."""
    template = pkg.marathon_template
    if template is None:
        raise InvalidTemplate(
            f"package [{pkg.name}] has no Marathon template", {"packageName": pkg.name}
        )
    app = render_template(pkg.name, template, options, pkg.resource, cluster)
    if app_id:
        app["id"] = app_id
    if not str(app.get("id", "")).strip("/"):
        raise InvalidTemplate(
            f"package [{pkg.name}]: the rendered app has no id (give appId)",
            {"packageName": pkg.name},
        )
    if not is_group(app):
        _label(app, pkg, user_options)
        return app
    gid = service_id(app)
    members = _group_apps(app, "/")
    if not members:
        raise InvalidTemplate(
            f"package [{pkg.name}]: the rendered group {gid} has no apps", {"packageName": pkg.name}
        )
    for member, _ in members:
        _label(member, pkg, user_options)
        member["labels"][GROUP] = gid
    return app


def build_job(
    pkg: Package,
    options: dict[str, Any],
    user_options: dict[str, Any],
    job_id: str | None = None,
) -> dict[str, Any]:
    """The Metronome job ``install`` creates for a job package (pydcos' extension):
    rendered, labelled like an app. Job ids have no slashes (``a.b``)."""
    template = pkg.metronome_template
    if template is None:
        raise InvalidTemplate(
            f"package [{pkg.name}] has no Metronome template", {"packageName": pkg.name}
        )
    job = render_template(pkg.name, template, options, pkg.resource)
    if job_id:
        job["id"] = job_id.strip("/")
    labels = {str(k): str(v) for k, v in (job.get("labels") or {}).items()}
    labels.setdefault(SERVICE_NAME, str(job.get("id", "")))
    labels.update(package_labels(pkg, user_options, labels))
    # Metronome keeps labels small; the full definition stays with Marathon apps only.
    labels.pop(DEFINITION, None)
    job["labels"] = labels
    return job


def installation(doc: dict[str, Any], kind: str = "marathon") -> dict[str, Any] | None:
    """One ``list`` entry from an app's (or job's) labels, or None if it is no package:
    ``{"appId", "packageInformation": {"packageDefinition", "resourceDefinition"?}}``."""
    labels = doc.get("labels") or {}
    if NAME not in labels or METADATA not in labels:
        return None
    try:
        metadata = decode_label(labels[METADATA])
    except (ValueError, TypeError):
        return None
    if not isinstance(metadata, dict):
        return None
    metadata.setdefault("name", labels[NAME])
    metadata.setdefault("version", labels.get(VERSION, ""))
    info: dict[str, Any] = {"packageDefinition": metadata}
    if DEFINITION in labels:
        try:
            resource = decode_definition(labels[DEFINITION]).get("resource")
        except (ValueError, TypeError, KeyError, OSError):
            resource = None
        if resource:
            info["resourceDefinition"] = resource
    app_id = str(labels.get(GROUP) or doc.get("id", ""))
    if kind == "marathon" and not app_id.startswith("/"):
        app_id = "/" + app_id
    if GROUP in labels:
        kind = "group"
    return {"appId": app_id, "packageInformation": info, "kind": kind}


PLATFORM_FRAMEWORKS = frozenset({"marathon", "metronome"})
"""Frameworks the platform itself runs: no package's uninstall ever tears them down,
whatever its ``DCOS_PACKAGE_FRAMEWORK_NAME`` label claims."""


def frameworks_to_teardown(
    name: str, frameworks: list[dict[str, Any]], still_named: set[str]
) -> list[str]:
    """Ids of the frameworks called ``name`` (Mesos ``/frameworks`` entries) to tear down
    once the package app that ran their scheduler is gone -- none for the platform's own
    frameworks, none while another installed app still names ``name`` (``still_named``)."""
    if not name or name in PLATFORM_FRAMEWORKS or name in still_named:
        return []
    return [str(f["id"]) for f in frameworks if f.get("name") == name and f.get("id")]
