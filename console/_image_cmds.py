"""``pydcos image import|list|rm``: the local cluster's image registry (issue 19).

Where images live: one directory per local cluster, ``<state dir>/images`` (Mesos'
``--docker_registry`` local-puller layout: ``<repository>:<tag>.tar``). ``cluster up``
gives every agent that directory in ``$PYDCOS_IMAGE_REGISTRY``; an agent resolves an
app's ``container.docker.image`` (``busybox``, ``busybox:1.36``) there when it launches
the task, then unpacks and checks the layers into its own cache (``<work dir>/images``).
The verbs only touch that directory: no cluster needs to be running, and an image
imported while the cluster runs is used by the next launch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from console._output import Out


def registry_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "registry", None):
        return Path(args.registry).expanduser()
    from console._state import default_state_dir

    state = Path(args.state_dir).expanduser() if args.state_dir else default_state_dir()
    return state / "images"


def _flags() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("store")
    g.add_argument("--state-dir", default=None, help="local cluster state dir")
    g.add_argument("--registry", default=None, help="image directory (default: <state dir>/images)")
    g.add_argument("--json", action="store_true", help="JSON output for scripts")
    p.set_defaults(quiet_logs=True)
    return p


def _size(n: Any) -> str:
    try:
        v = float(n)
    except (TypeError, ValueError):
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if v < 1024 or unit == "GiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return "?"


def _short(digest: Any) -> str:
    return str(digest).split(":", 1)[-1][:12] if digest else ""


def _guard(fn: Any) -> Any:
    """ImageError -> one line on stderr, exit 1 (the console's rule for user errors)."""

    def run(args: argparse.Namespace) -> int:
        from actors.agent import ImageError

        try:
            return int(fn(args, Out(args.json)))
        except ImageError as exc:
            print(f"pydcos: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"pydcos: image store {registry_dir(args)}: {exc}", file=sys.stderr)
            return 1

    return run


def cmd_import(args: argparse.Namespace, out: Out) -> int:
    from actors.agent import import_image, normalize_name

    file = Path(args.file).expanduser()
    if not file.exists():
        print(f"pydcos: FILE: {args.file!r}: no such file or directory", file=sys.stderr)
        return 1
    if args.name is not None:
        normalize_name(args.name)  # a bad --name is refused before anything is read
    doc = import_image(registry_dir(args), file, args.name)
    n = len(doc["layers"])
    out.result(
        doc,
        f"imported {doc['name']} ({_short(doc['id'])}, {n} layer{'s' * (n != 1)}, "
        f"{_size(doc['size'])}) into {registry_dir(args)}",
    )
    return 0


def cmd_list(args: argparse.Namespace, out: Out) -> int:
    from actors.agent import list_images

    images = list_images(registry_dir(args))
    if out.as_json:
        out.json(images)
        return 0
    out.table(
        ["NAME", "ID", "LAYERS", "SIZE", "CREATED"],
        (
            [
                d["name"],
                _short(d.get("id")) or d.get("error", ""),
                len(d.get("layers", [])),
                _size(d.get("size")),
                d.get("created", ""),
            ]
            for d in images
        ),
        title="images",
    )
    return 0


def cmd_rm(args: argparse.Namespace, out: Out) -> int:
    from actors.agent import remove_image

    name = remove_image(registry_dir(args), args.name)
    out.result({"removed": name}, f"removed {name}")
    return 0


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    """``pydcos image ...`` (the hook in console/_commands.py's area loop)."""
    image = sub.add_parser("image", help="container images of the local cluster (no Docker)")
    g = image.add_subparsers(dest="image_command", metavar="SUBCOMMAND")
    g.required = True
    x = g.add_parser(
        "import",
        help="check a Docker save / OCI layout tarball and store it for the agents",
        parents=[_flags()],
    )
    x.add_argument("file", metavar="FILE", help="docker save tarball, OCI layout tar or dir")
    x.add_argument("--name", default=None, metavar="NAME:TAG", help="default: its own tag")
    x.set_defaults(fn=_guard(cmd_import))
    x = g.add_parser("list", help="the images agents can run by name", parents=[_flags()])
    x.set_defaults(fn=_guard(cmd_list))
    x = g.add_parser("rm", help="remove an image from the store", parents=[_flags()])
    x.add_argument("name", metavar="NAME:TAG")
    x.set_defaults(fn=_guard(cmd_rm))
