"""Images built in Python, no Docker engine: a busybox image (Debian's busybox-static,
as the Docker tests use) and arbitrary layers, written as a Docker ``save`` tarball or an
OCI image layout (tar or directory). Shared by the image store's tests (W1) and the
native runtime's (W2).

    from tests.ucr._image import busybox_image, BUSYBOX
    path = busybox_image(tmp_path / "busybox.tar")          # docker save format
    path = busybox_image(tmp_path / "bb-oci.tar", fmt="oci")

The busybox root has /bin/busybox + every applet as a symlink to it (``/bin/sh``,
``/bin/httpd``...), ``/etc/hostname`` = ``HOSTNAME_IN_IMAGE``, ``/etc/passwd`` (root,
nobody), ``/var/www/index.html`` = ``INDEX_HTML``, ``/tmp`` (1777), empty ``/proc``,
``/dev``, ``/sys``; config: Cmd ``["sh"]``, Env PATH + ``IMAGE_VAR=from-image``,
WorkingDir ``/``. Layers are deterministic (mtime 0), so digests are stable.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BUSYBOX = "/bin/busybox"
BUSYBOX_NAME = "busybox:latest"
HOSTNAME_IN_IMAGE = "pydcos-busybox-image"
INDEX_HTML = "hello from the busybox image\n"
IMAGE_ENV = ("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "IMAGE_VAR=from-image")

Spec = tuple[Any, ...]
"""("file", name, data: bytes, mode=0o644) | ("dir", name, mode=0o755) |
("symlink", name, target) | ("hardlink", name, target) | ("chr"|"blk", name) |
("fifo", name) | ("raw", TarInfo, data | None)"""


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(entries: Iterable[Spec]) -> bytes:
    """An uncompressed layer tar of ``entries`` (in order, mtime 0, uid/gid 0)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            kind, name = e[0], e[1]
            if kind == "raw":
                tar.addfile(name, io.BytesIO(e[2]) if e[2] is not None else None)
                continue
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            data: bytes | None = None
            if kind == "file":
                data = e[2]
                ti.size = len(data)
                ti.mode = e[3] if len(e) > 3 else 0o644
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = e[2] if len(e) > 2 else 0o755
            elif kind == "symlink":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, e[2], 0o777
            elif kind == "hardlink":
                ti.type, ti.linkname, ti.mode = tarfile.LNKTYPE, e[2], 0o644
            elif kind in ("chr", "blk"):
                ti.type = tarfile.CHRTYPE if kind == "chr" else tarfile.BLKTYPE
                ti.devmajor, ti.devminor, ti.mode = 1, 3, 0o666
            elif kind == "fifo":
                ti.type, ti.mode = tarfile.FIFOTYPE, 0o644
            else:
                raise ValueError(kind)
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


@functools.cache
def busybox_applets() -> tuple[str, ...]:
    out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    return tuple(a for a in out.stdout.split() if a and a != "busybox")


@functools.cache
def busybox_layer() -> bytes:
    """The busybox root as one layer tar."""
    entries: list[Spec] = [
        ("dir", "bin"),
        ("file", "bin/busybox", Path(BUSYBOX).read_bytes(), 0o755),
    ]
    entries += [("symlink", f"bin/{a}", "busybox") for a in busybox_applets()]
    entries += [
        ("dir", "etc"),
        ("file", "etc/hostname", f"{HOSTNAME_IN_IMAGE}\n".encode()),
        (
            "file",
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("file", "etc/group", b"root:x:0:\nnogroup:x:65534:\n"),
        ("dir", "root", 0o700),
        ("dir", "tmp", 0o1777),
        ("dir", "proc", 0o555),
        ("dir", "sys", 0o555),
        ("dir", "dev"),
        ("dir", "var"),
        ("dir", "var/www"),
        ("file", "var/www/index.html", INDEX_HTML.encode()),
    ]
    return layer_tar(entries)


def image_config(
    diff_ids: Sequence[str], config: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-12-06T00:00:00Z",
        "config": config
        if config is not None
        else {"Cmd": ["sh"], "Env": list(IMAGE_ENV), "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created_by": "tests/ucr/_image.py"} for _ in diff_ids],
    }
    doc.update(extra)
    return doc


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
    tar.addfile(ti, io.BytesIO(data))


def build_image(
    path: Path,
    layers: Sequence[bytes],
    *,
    fmt: str = "docker-save",
    name: str = BUSYBOX_NAME,
    config: dict[str, Any] | None = None,
    compress: bool = False,
    diff_ids: Sequence[str] | None = None,
    config_doc: dict[str, Any] | None = None,
) -> Path:
    """Write an image of ``layers`` (uncompressed tars, lowest first) at ``path``.

    fmt: ``docker-save`` (a tar like ``docker save`` before Docker 25), ``docker25`` (an
    OCI layout with a ``manifest.json``, as Docker >= 25 saves), ``oci`` (a tar of an OCI
    layout) or ``oci-dir`` (the layout as a directory). ``compress``: gzip the layer blobs (OCI
    only; Docker save layers are plain tars). ``diff_ids``/``config_doc`` override what
    the config says (tests of bad digests)."""
    ids = list(diff_ids) if diff_ids is not None else [sha256(layer) for layer in layers]
    cfg = _dump(config_doc if config_doc is not None else image_config(ids, config))
    cfg_digest = sha256(cfg)
    files: dict[str, bytes] = {}
    if fmt == "docker-save":
        names = []
        for layer in layers:
            d = sha256(layer).split(":")[1]
            files[f"{d}/layer.tar"] = layer
            files[f"{d}/VERSION"] = b"1.0"
            names.append(f"{d}/layer.tar")
        files[f"{cfg_digest.split(':')[1]}.json"] = cfg
        manifest = [
            {"Config": f"{cfg_digest.split(':')[1]}.json", "RepoTags": [name], "Layers": names}
        ]
        files["manifest.json"] = _dump(manifest)
    elif fmt in ("oci", "oci-dir", "docker25"):
        descs = []
        for layer in layers:
            blob = gzipped(layer) if compress else layer
            media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else "")
            files[f"blobs/sha256/{sha256(blob).split(':')[1]}"] = blob
            descs.append({"mediaType": media, "digest": sha256(blob), "size": len(blob)})
        files[f"blobs/sha256/{cfg_digest.split(':')[1]}"] = cfg
        manifest_doc = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": cfg_digest,
                "size": len(cfg),
            },
            "layers": descs,
        }
        m = _dump(manifest_doc)
        files[f"blobs/sha256/{sha256(m).split(':')[1]}"] = m
        tag = name.rsplit(":", 1)[-1] if ":" in name else "latest"
        files["index.json"] = _dump(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": sha256(m),
                        "size": len(m),
                        "annotations": {
                            "io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": tag,
                        },
                    }
                ],
            }
        )
        files["oci-layout"] = _dump({"imageLayoutVersion": "1.0.0"})
        if fmt == "docker25":  # Docker >= 25 saves an OCI layout plus its manifest.json
            files["manifest.json"] = _dump(
                [
                    {
                        "Config": f"blobs/sha256/{cfg_digest.split(':')[1]}",
                        "RepoTags": [name],
                        "Layers": [f"blobs/sha256/{d['digest'].split(':')[1]}" for d in descs],
                    }
                ]
            )
    else:
        raise ValueError(fmt)
    if fmt == "oci-dir":
        for rel, data in files.items():
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            (path / rel).write_bytes(data)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for rel, data in files.items():
            _add(tar, rel, data)
    return path


def busybox_image(path: Path, fmt: str = "docker-save", name: str = BUSYBOX_NAME) -> Path:
    """The busybox image at ``path`` (see the module docstring)."""
    return build_image(path, [busybox_layer()], fmt=fmt, name=name)
