"""Build a small busybox image without Docker, as a ``docker save`` tarball.

    python examples/images/build_busybox.py /tmp/busybox.tar
    pydcos image import /tmp/busybox.tar        # then "docker": {"image": "busybox"}

The image's root is Debian's static busybox (``apt-get install busybox-static``) with a
symlink per applet (``/bin/sh``, ``/bin/httpd``, ...), ``/etc/hostname`` =
``pydcos-busybox-image`` (so a task can show it runs inside the image, not on the host),
``/etc/passwd`` and ``/etc/group`` (root, nobody), and ``/var/www/index.html``. One
layer, every entry with mtime 0, so the digests are the same on every run. The real
engine ``docker load``s the result too.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

BUSYBOX = "/bin/busybox"
NAME = "busybox:latest"


def _entry(tar: tarfile.TarFile, name: str, data: bytes | None = None, **kw: object) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    for key, value in kw.items():
        setattr(info, key, value)
    if data is not None:
        info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def busybox_layer(busybox: str = BUSYBOX) -> bytes:
    """The image's root file system as one uncompressed layer tar."""
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, mode in [("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777),
                           ("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("var", 0o755),
                           ("var/www", 0o755)]:  # fmt: skip
            _entry(tar, name, type=tarfile.DIRTYPE, mode=mode)
        _entry(tar, "bin/busybox", Path(busybox).read_bytes(), mode=0o755)
        for applet in applets.stdout.split():
            if applet != "busybox":
                _entry(tar, f"bin/{applet}", type=tarfile.SYMTYPE, linkname="busybox", mode=0o777)
        files = {
            "etc/hostname": "pydcos-busybox-image\n",
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            "etc/group": "root:x:0:\nnogroup:x:65534:\n",
            "var/www/index.html": "hello from the busybox image\n",
        }
        for name, text in files.items():
            _entry(tar, name, text.encode(), mode=0o644)
    return buf.getvalue()


def docker_save(layer: bytes, name: str = NAME) -> bytes:
    """``layer`` as a ``docker save`` tarball: ``manifest.json``, the config, the layer."""
    layer_id = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-12-06T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
        "history": [{"created_by": "examples/images/build_busybox.py"}],
    }
    config_doc = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config_doc).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [name], "Layers": [f"{layer_id}/layer.tar"]}]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _entry(tar, f"{layer_id}/VERSION", b"1.0", mode=0o644)
        _entry(tar, f"{layer_id}/layer.tar", layer, mode=0o644)
        _entry(tar, config_name, config_doc, mode=0o644)
        _entry(tar, "manifest.json", json.dumps(manifest).encode(), mode=0o644)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="where to write the tarball")
    parser.add_argument("--name", default=NAME, help=f"repository:tag (default {NAME})")
    parser.add_argument("--busybox", default=BUSYBOX, help=f"a static busybox (default {BUSYBOX})")
    args = parser.parse_args()
    if not os.access(args.busybox, os.X_OK):
        parser.error(f"{args.busybox} is not an executable busybox: apt-get install busybox-static")
    data = docker_save(busybox_layer(args.busybox), args.name)
    tmp = args.output.with_name(f".{args.output.name}.{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(args.output)  # atomic: a concurrent reader never sees half a tarball
    print(f"wrote {args.name} to {args.output} ({len(data) / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
