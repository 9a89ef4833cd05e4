"""The console's verbs for packages (issue 25), shaped like ``dcos package``.

```
 pydcos package search [TERM]                         package list [NAME]
 pydcos package describe NAME [--package-version V] [--config | --render [--options F]]
 pydcos package install NAME [--options FILE] [--yes] [--package-version V] [--app-id ID]
 pydcos package uninstall NAME [--app-id ID] [--all]
 pydcos package repo add NAME URL [--index N] | repo list | repo remove NAME
```

Every verb is one Cosmos operation (``POST /package/<op>``) on the leader; ``--json``
prints Cosmos' response as it is. Cosmos errors (``{"type", "message"}``) come back as one
line and a non-zero exit, like every other verb's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape

from console._client import ClientError, ClusterClient
from console._output import Out


def cosmos(c: ClusterClient, op: str, body: dict[str, Any], what: str = "") -> Any:
    """One Cosmos operation (plain JSON in and out: Cosmos accepts it)."""
    return c.request("POST", f"/package/{op}", body=body, what=what or f"package {op}")


def read_options(path: str | None) -> dict[str, Any] | None:
    """The ``--options`` file as a JSON object (``-`` reads stdin)."""
    if path is None:
        return None
    try:
        text = sys.stdin.read() if path == "-" else Path(path).expanduser().read_text()
    except OSError as exc:
        raise ClientError(f"--options {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ClientError(f"--options {path}: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ClientError(f"--options {path}: expected a JSON object, got {type(doc).__name__}")
    return doc


def _version_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"packageName": args.name}
    if getattr(args, "package_version", None):
        body["packageVersion"] = args.package_version
    return body


# ------------------------------------------------------------------------------ verbs


def search(c: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    doc = cosmos(c, "search", {"query": args.term or ""})
    if out.as_json:
        out.json(doc)
        return 0
    rows = [
        (
            p.get("name"),
            p.get("currentVersion"),
            "yes" if p.get("selected") else "no",
            "yes" if p.get("framework") else "no",
            str(p.get("description", ""))[:80],
        )
        for p in doc.get("packages", [])
    ]
    out.table(("NAME", "VERSION", "SELECTED", "FRAMEWORK", "DESCRIPTION"), rows, "Packages")
    return 0


def describe(c: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    body = _version_body(args)
    if args.render:
        options = read_options(args.options)
        if options is not None:
            body["options"] = options
        doc = cosmos(c, "render", body)
        out.json(doc.get("marathonJson") or doc.get("metronomeJson") or doc)
        return 0
    pkg = cosmos(c, "describe", body).get("package", {})
    if args.config:
        out.json(pkg.get("config", {}))
        return 0
    if out.as_json:
        out.json(pkg)
        return 0
    versions = cosmos(c, "list-versions", {"packageName": args.name}).get("results", {})
    head = f"{pkg.get('version')}  {pkg.get('description', '')}"
    out.line(f"[bold]{escape(str(pkg.get('name')))}[/bold] {escape(head)}")
    rows = [
        ("maintainer", pkg.get("maintainer", "")),
        ("packaging", pkg.get("packagingVersion", "")),
        ("tags", ", ".join(pkg.get("tags", []))),
        ("framework", "yes" if pkg.get("framework") else "no"),
        ("versions", ", ".join(sorted(versions, key=lambda v: int(versions[v])))),
        ("installs", "Metronome job" if "metronome" in pkg else "Marathon app"),
    ]
    if pkg.get("upgradesFrom"):
        rows.append(("upgrades from", ", ".join(pkg["upgradesFrom"])))
    for key in ("preInstallNotes", "postInstallNotes"):
        if pkg.get(key):
            rows.append((key, pkg[key]))
    for lic in pkg.get("licenses", []):
        rows.append(("license", f"{lic.get('name')} {lic.get('url', '')}"))
    out.table(("FIELD", "VALUE"), rows, "Fields")
    option_rows = _option_rows(pkg.get("config") or {})
    if option_rows:
        out.line("")
        out.table(("OPTION", "TYPE", "DEFAULT", "DESCRIPTION"), option_rows, "Options")
    return 0


def _option_rows(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """One row per leaf option of a config schema: ``service.port  integer  0  ...``."""
    rows = []
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        name = f"{prefix}{key}"
        if prop.get("type") == "object" and "properties" in prop:
            rows.extend(_option_rows(prop, name + "."))
            continue
        default = json.dumps(prop["default"]) if "default" in prop else "-"
        rows.append((name, str(prop.get("type", "")), default, str(prop.get("description", ""))))
    return rows


def install(c: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    body = _version_body(args)
    options = read_options(args.options)
    if options is not None:
        body["options"] = options
    if args.app_id:
        body["appId"] = args.app_id
    if not args.yes and not out.as_json:
        pkg = cosmos(c, "describe", _version_body(args))
        pre = pkg.get("package", {}).get("preInstallNotes")
        if pre:
            out.line(escape(str(pre)))
        if not sys.stdin.isatty():
            raise ClientError("package install: not a terminal, so nothing asked: pass --yes")
        answer = input(f"Continue installing {args.name}? [yes/no] ").strip().lower()
        if answer not in ("y", "yes"):
            out.line("Installation cancelled.")
            return 1
    doc = cosmos(c, "install", body, what=f"package install {args.name}")
    if out.as_json:
        out.json(doc)
        return 0
    kind = "Metronome job" if not str(doc.get("appId", "")).startswith("/") else "Marathon app"
    out.line(
        f"Installed {kind} [bold]{escape(str(doc.get('appId')))}[/bold] for package "
        f"{escape(str(doc.get('packageName')))} {escape(str(doc.get('packageVersion')))}"
    )
    if doc.get("postInstallNotes"):
        out.line(escape(str(doc["postInstallNotes"])))
    return 0


def uninstall(c: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"packageName": args.name, "all": bool(args.all)}
    if args.app_id:
        body["appId"] = args.app_id
    doc = cosmos(c, "uninstall", body, what=f"package uninstall {args.name}")
    if out.as_json:
        out.json(doc)
        return 0
    for r in doc.get("results", []):
        out.line(
            escape(
                f"Uninstalled package {r.get('packageName')} {r.get('packageVersion')} "
                f"({r.get('appId')})"
            )
        )
        if r.get("postUninstallNotes"):
            out.line(escape(str(r["postUninstallNotes"])))
    return 0


def package_list(c: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    body = {"packageName": args.name} if args.name else {}
    doc = cosmos(c, "list", body)
    if out.as_json:
        out.json(doc)
        return 0
    rows = []
    for p in doc.get("packages", []):
        d = p.get("packageInformation", {}).get("packageDefinition", {})
        rows.append(
            (d.get("name"), d.get("version"), p.get("appId"), str(d.get("description", ""))[:70])
        )
    out.table(("NAME", "VERSION", "APP", "DESCRIPTION"), rows, "Installed packages")
    return 0


def repo_list(c: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    doc = cosmos(c, "repository/list", {})
    if out.as_json:
        out.json(doc)
        return 0
    rows = [(i, r.get("name"), r.get("uri")) for i, r in enumerate(doc.get("repositories", []))]
    out.table(("INDEX", "NAME", "URI"), rows, "Repositories")
    return 0


def repo_add(c: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    uri = args.url
    if "://" not in uri and Path(uri).expanduser().exists():
        uri = Path(uri).expanduser().resolve().as_uri()  # a local path: its file:// URI
    body: dict[str, Any] = {"name": args.repo_name, "uri": uri}
    if args.index is not None:
        body["index"] = args.index
    doc = cosmos(c, "repository/add", body, what=f"package repo add {args.repo_name}")
    out.result(doc, escape(f"Added repository {args.repo_name}: {uri}"))
    return 0


def repo_remove(c: ClusterClient, out: Out, args: argparse.Namespace) -> int:
    doc = cosmos(
        c,
        "repository/delete",
        {"name": args.repo_name},
        what=f"package repo remove {args.repo_name}",
    )
    out.result(doc, escape(f"Removed repository {args.repo_name}"))
    return 0


# ------------------------------------------------------------------------------ parser


def _index(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is negative")
    return value


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    """Add this area's verbs: ``sub`` is the top-level subparsers, ``groups`` the
    ``node``, ``task`` and ``marathon`` groups' subparsers and ``cluster up``'s parser."""
    _leaf, _group = groups["leaf"], groups["group"]  # importing console._commands: a cycle
    pkg = _group(sub, "package", "install and manage packages from Universe repositories")
    x = _leaf(pkg, "search", "search the repositories' packages", search)
    x.add_argument("term", nargs="?", default="", metavar="TERM", help="name, tag or word; * globs")

    x = _leaf(pkg, "describe", "a package's details, options, or rendered app", describe)
    x.add_argument("name", metavar="NAME")
    x.add_argument("--package-version", default=None, metavar="V")
    what = x.add_mutually_exclusive_group()
    what.add_argument("--config", action="store_true", help="the options schema (config.json)")
    what.add_argument("--render", action="store_true", help="the Marathon app it would install")
    x.add_argument("--options", default=None, metavar="FILE", help="options for --render")

    x = _leaf(pkg, "install", "install a package (a Marathon app or a Metronome job)", install)
    x.add_argument("name", metavar="NAME")
    x.add_argument("--options", default=None, metavar="FILE", help="JSON options file (- : stdin)")
    x.add_argument("--package-version", default=None, metavar="V")
    x.add_argument("--app-id", default=None, metavar="ID", help="install under this app id")
    x.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    x = _leaf(pkg, "uninstall", "uninstall a package's app(s)", uninstall)
    x.add_argument("name", metavar="NAME")
    x.add_argument("--app-id", default=None, metavar="ID", help="which instance")
    x.add_argument("--all", action="store_true", help="every instance of the package")

    x = _leaf(
        pkg, "list", "installed packages (from Marathon's and Metronome's state)", package_list
    )
    x.add_argument("name", nargs="?", default=None, metavar="NAME")

    repo = pkg.add_parser("repo", help="package repositories").add_subparsers(
        dest="repo_command", metavar="SUBCOMMAND"
    )
    repo.required = True
    x = _leaf(
        repo, "add", "add a Universe repository (file://, http://, or a local path)", repo_add
    )
    x.add_argument("repo_name", metavar="NAME")
    x.add_argument("url", metavar="URL")
    x.add_argument("--index", type=_index, default=None, metavar="N", help="position (0: first)")
    _leaf(repo, "list", "the repositories, in search order", repo_list)
    x = _leaf(repo, "remove", "remove a repository", repo_remove)
    x.add_argument("repo_name", metavar="NAME")
