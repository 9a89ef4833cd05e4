"""The universal container runtime's image store: images without the Docker engine.

An image is a Docker ``save`` tarball (``manifest.json`` + config + layer tars) or an
OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/...``; a directory or
a tar of one). It comes from a local path (``/x.tar``, ``file:///x.tar``), an
``http(s)://`` URI (through the agent's fetcher), or a name (``busybox``,
``busybox:1.36``) looked up in the local registry directory ``pydcos image import``
fills: ``<registry>/<repository>:<tag>.tar``, like Mesos' local puller
(``--docker_registry=/dir``). The agent finds that directory in
``$PYDCOS_IMAGE_REGISTRY`` (``pydcos cluster up`` gives every agent
``<state dir>/images``).

Layout under the store's root (``<agent work_dir>/images``)::

    layers/<diff_id hex>/fs/          one unpacked layer (content-addressed: the sha256
    layers/<diff_id hex>/layer.json   of its uncompressed tar, checked while unpacking)
    index/<key>.json                  a local image file already checked (key: its path,
                                      size, mtime, inode): the warm path parses nothing
    containers/<id>/rootfs/           a task's root: overlayfs of the layers (+ upper/,
    containers/<id>/rootfs.json       work/) when available, else a copy of them

Digests: every layer is hashed while it is unpacked (compressed blob vs the manifest's
descriptor, uncompressed tar vs the config's ``rootfs.diff_ids``); the config blob vs
its name or descriptor. A mismatch, an unsafe entry (`_layers`), a tarball that is not
an image, or an image bigger than the free disk is an `ImageError` naming the image
and the reason, and nothing of that layer stays in the cache.

GC (`ImageStore.gc`) follows the sandbox GC's rules (`_gc`): a container's root is
removed when its task is no longer live (and it is older than ``MIN_AGE``), a layer no
root uses once idle for ``max_age(gc_delay, headroom, disk used)``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tarfile
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from actors.agent._layers import (
    ImageError,
    LayerInfo,
    merge_layer,
    scan_layer,
    unpack_layer,
)

log = logging.getLogger("actors.agent.images")

IMAGE_REGISTRY_ENV = "PYDCOS_IMAGE_REGISTRY"
"""The local registry directory an agent resolves image names in."""
MIN_AGE = 60.0
"""Seconds: a container root younger than this is never collected (being provisioned);
the sandbox GC's floor (``_gc.MIN_AGE``), which decides the layers' age (`gc`)."""
_MNT_DETACH = 2
_HEX = re.compile(r"^[0-9a-f]{64}$")
_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(:[0-9]+)?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DEFAULT_HOSTS = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")
_GZIP_TYPES = (
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
)
_TAR_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar",
)
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class ImageConfig:
    """What the image says about running it (its config JSON's ``config``), applied by
    the native containerizer as the Mesos runtime does."""

    entrypoint: tuple[str, ...] | None = None
    """None: the image sets none."""
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    """``KEY=VALUE`` strings, in the image's order."""
    working_dir: str = ""
    user: str = ""

    def env_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for kv in self.env:
            key, _, value = kv.partition("=")
            if key:
                out[key] = value
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "Entrypoint": None if self.entrypoint is None else list(self.entrypoint),
            "Cmd": None if self.cmd is None else list(self.cmd),
            "Env": list(self.env),
            "WorkingDir": self.working_dir,
            "User": self.user,
        }

    @staticmethod
    def from_config(doc: Any, image: str = "") -> ImageConfig:
        """From an image config JSON (the whole document or its ``config`` object)."""
        if isinstance(doc, dict) and ("rootfs" in doc or "architecture" in doc):
            doc = doc.get("config")
        if doc is None:
            return ImageConfig()
        if not isinstance(doc, dict):
            raise ImageError(f"image {image!r}: its config is not a JSON object")

        def strings(key: str) -> tuple[str, ...] | None:
            v = doc.get(key)
            if v is None:
                return None
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ImageError(f"image {image!r}: config {key} is not a list of strings")
            return tuple(v)

        def string(key: str) -> str:
            v = doc.get(key) or ""
            if not isinstance(v, str):
                raise ImageError(f"image {image!r}: config {key} is not a string")
            return v

        return ImageConfig(
            entrypoint=strings("Entrypoint"),
            cmd=strings("Cmd"),
            env=strings("Env") or (),
            working_dir=string("WorkingDir"),
            user=string("User"),
        )


@dataclass(frozen=True)
class Rootfs:
    """A task's root file system, provisioned from an image."""

    path: Path
    """The directory to chroot/pivot_root into."""
    config: ImageConfig
    image: str
    """The reference it was provisioned from, as given."""
    digest: str
    """``sha256:...`` of the image's config (the image id)."""
    backend: str
    """``overlay`` (mounted in the agent's mount namespace) or ``copy``."""
    container_id: str
    layers: tuple[str, ...] = ()
    """diff_ids, lowest first."""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "config": self.config.to_json(),
            "image": self.image,
            "digest": self.digest,
            "backend": self.backend,
            "container_id": self.container_id,
            "layers": list(self.layers),
        }

    @staticmethod
    def from_json(doc: dict[str, Any]) -> Rootfs:
        return Rootfs(
            Path(doc["path"]),
            ImageConfig.from_config(doc.get("config")),
            str(doc["image"]),
            str(doc["digest"]),
            str(doc["backend"]),
            str(doc["container_id"]),
            tuple(str(x) for x in doc.get("layers", [])),
        )

    def resolve(self, container_path: str) -> Path:
        """``container_path`` as a host path inside this root, following the image's
        symlinks the way the container would (never out of the root): where to
        bind-mount a volume. Missing components are kept as they are."""
        return resolve_in_root(self.path, container_path)


@dataclass(frozen=True)
class Reference:
    """An image reference, parsed: ``kind`` is name | path | http."""

    kind: str
    value: str
    """name: ``repository:tag`` (normalised); path: an absolute path; http: the URI."""


@dataclass(frozen=True)
class LayerRef:
    diff_id: str
    blob: str
    """The blob's name inside the image (tar member or layout-relative path)."""
    digest: str | None
    """The compressed blob's descriptor digest, when the format gives one."""
    size: int


@dataclass(frozen=True)
class ParsedImage:
    format: str
    """docker-save | oci"""
    config_digest: str
    config_doc: dict[str, Any]
    layers: tuple[LayerRef, ...]
    names: tuple[str, ...]
    """The names the image carries (RepoTags, OCI ref annotations)."""


# --------------------------------------------------------------------------- references


def parse_reference(image: str) -> Reference:
    """``busybox``, ``busybox:1.36``, ``library/busybox``, ``docker.io/library/busybox``
    -> a name in the local registry (``busybox:latest``...); ``/x.tar`` and
    ``file:///x.tar`` -> a path; ``http(s)://...`` -> a download. Anything else is an
    `ImageError` naming the reference."""
    if not isinstance(image, str) or not image.strip():
        raise ImageError(f"image {image!r}: empty image reference")
    image = image.strip()
    if image.startswith(("http://", "https://")):
        return Reference("http", image)
    if image.startswith("file://"):
        from urllib.parse import unquote, urlparse

        path = unquote(urlparse(image).path)
        if not path.startswith("/"):
            raise ImageError(f"image {image!r}: a file:// URI needs an absolute path")
        return Reference("path", path)
    if image.startswith("/"):
        return Reference("path", image)
    if "://" in image:
        raise ImageError(
            f"image {image!r}: unsupported scheme (use a name, a path, file:// or http://)"
        )
    if "@" in image:
        raise ImageError(
            f"image {image!r}: references by digest are not supported here: "
            "import the image under a name:tag"
        )
    return Reference("name", normalize_name(image))


def normalize_name(name: str) -> str:
    """``repository:tag`` with Docker Hub's defaults stripped (``docker.io/``,
    ``library/``) and ``latest`` as the default tag. `ImageError` if malformed."""
    original = name
    for host in _DEFAULT_HOSTS:
        if name.startswith(host):
            name = name[len(host) :]
            break
    if name.startswith("library/"):
        name = name[len("library/") :]
    repo, tag = name, "latest"
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _, tag = name.rpartition(":")
    parts = repo.split("/")
    if (
        not repo
        or not all(_COMPONENT.match(c) for c in parts)
        or any(c in (".", "..") for c in parts)
    ):
        raise ImageError(f"image {original!r}: {repo!r} is not a repository name")
    if ":" in repo.split("/", 1)[-1] and "/" in repo:
        raise ImageError(f"image {original!r}: {repo!r} is not a repository name")
    if not _TAG.match(tag):
        raise ImageError(f"image {original!r}: {tag!r} is not a tag")
    return f"{repo}:{tag}"


def registry_file(registry: Path, name: str) -> Path:
    """Where the local registry keeps image ``repository:tag`` (Mesos' local puller
    layout: ``<registry>/<repository>:<tag>.tar``)."""
    return Path(registry) / f"{normalize_name(name)}.tar"


# ------------------------------------------------------------------------------ sources


class _Source:
    """Read access to an image's files: a tar (Docker save, OCI layout tar) or a dir."""

    def __init__(self, path: Path, image: str) -> None:
        self.path = path
        self.image = image
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if path.is_dir():
            return
        try:
            self._tar = tarfile.open(path, "r:*")  # noqa: SIM115 (closed by close())
            for m in self._tar.getmembers():
                name = m.name[2:] if m.name.startswith("./") else m.name
                self._members[name.rstrip("/")] = m
        except (tarfile.TarError, EOFError) as e:
            self.close()
            reason = "not a tar archive" if isinstance(e, tarfile.ReadError) else str(e)
            raise ImageError(f"image {image!r}: {path} is not an image tarball: {reason}") from None
        except OSError as e:
            self.close()
            raise ImageError(f"image {image!r}: cannot read {path}: {e}") from None

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def exists(self, name: str) -> bool:
        if self._tar is None:
            return self._dir_path(name) is not None
        return name in self._members

    def _dir_path(self, name: str) -> Path | None:
        if name.startswith("/") or ".." in name.split("/"):
            return None
        p = self.path / name
        try:
            st = os.lstat(p)
        except OSError:
            return None
        return p if stat.S_ISREG(st.st_mode) else None

    def size(self, name: str) -> int:
        if self._tar is None:
            p = self._dir_path(name)
            return p.stat().st_size if p else 0
        m = self._members.get(name)
        return m.size if m else 0

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self._tar is None:
            p = self._dir_path(name)
            if p is None:
                raise ImageError(f"image {self.image!r}: {name!r} is missing from the image")
            with open(p, "rb") as f:
                yield f
            return
        m = self._members.get(name)
        member = self._tar.extractfile(m) if m is not None and m.isreg() else None
        if member is None:
            raise ImageError(f"image {self.image!r}: {name!r} is missing from the image")
        with member:
            yield member

    def read(self, name: str, limit: int = 16 << 20) -> bytes:
        if self.size(name) > limit:
            raise ImageError(f"image {self.image!r}: {name!r} is too big for a JSON document")
        with self.open(name) as f:
            return f.read()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except (ValueError, UnicodeDecodeError) as e:
            raise ImageError(f"image {self.image!r}: {name!r} is not JSON: {e}") from None


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _hex_of(digest: str, image: str) -> str:
    alg, _, hexd = digest.partition(":")
    if alg != "sha256" or not _HEX.match(hexd):
        raise ImageError(f"image {image!r}: unsupported digest {digest!r} (only sha256)")
    return hexd


def parse_image(src: _Source, image: str) -> ParsedImage:
    """Read an image's manifest and config (no layer is read): Docker save first (it
    also carries ``manifest.json`` when Docker writes OCI layouts), else OCI layout."""
    if src.exists("manifest.json"):
        return _parse_docker_save(src, image)
    if src.exists("index.json"):
        return _parse_oci(src, image)
    raise ImageError(
        f"image {image!r}: not an image (no manifest.json of a Docker save, "
        "no index.json of an OCI layout)"
    )


def _parse_docker_save(src: _Source, image: str) -> ParsedImage:
    manifest = src.json("manifest.json")
    if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
        raise ImageError(f"image {image!r}: manifest.json is not a list of images")
    if len(manifest) > 1:
        raise ImageError(
            f"image {image!r}: the tarball holds {len(manifest)} images: save one per file"
        )
    entry = manifest[0]
    config_name, layer_names = entry.get("Config"), entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list):
        raise ImageError(f"image {image!r}: manifest.json has no Config or Layers")
    raw = src.read(config_name)
    digest = _sha256(raw)
    stem = config_name.rsplit("/", 1)[-1].removesuffix(".json")
    if _HEX.match(stem) and digest != f"sha256:{stem}":
        raise ImageError(
            f"image {image!r}: config digest mismatch: {config_name} hashes to {digest}"
        )
    config = _config_doc(raw, image)
    diff_ids = _diff_ids(config, image)
    if len(diff_ids) != len(layer_names):
        raise ImageError(
            f"image {image!r}: {len(layer_names)} layers but {len(diff_ids)} diff_ids in its config"
        )
    layers = []
    for name, diff_id in zip(layer_names, diff_ids, strict=True):
        if not isinstance(name, str):
            raise ImageError(f"image {image!r}: a layer name is not a string: {name!r}")
        blob_hex = name.rsplit("/", 1)[-1]
        blob_digest = f"sha256:{blob_hex}" if name.startswith("blobs/sha256/") else None
        layers.append(LayerRef(diff_id, name, blob_digest, src.size(name)))
    tags = entry.get("RepoTags") or []
    names = tuple(t for t in tags if isinstance(t, str))
    return ParsedImage("docker-save", digest, config, tuple(layers), names)


def _config_doc(raw: bytes, image: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError(f"image {image!r}: its config is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ImageError(f"image {image!r}: its config is not a JSON object")
    os_name, arch = doc.get("os"), doc.get("architecture")
    if os_name not in (None, "", "linux"):
        raise ImageError(f"image {image!r} is built for {os_name!r}, not linux")
    host = _ARCH.get(os.uname().machine, os.uname().machine)
    if arch not in (None, "", host):
        raise ImageError(f"image {image!r} is built for {arch!r}, this agent runs {host!r}")
    ImageConfig.from_config(doc, image)  # its types are checked once, here
    return doc


def _diff_ids(config: dict[str, Any], image: str) -> list[str]:
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(d, str) for d in ids):
        raise ImageError(f"image {image!r}: its config has no rootfs.diff_ids")
    for d in ids:
        _hex_of(d, image)
    return list(ids)


def _blob(digest: Any, image: str) -> str:
    if not isinstance(digest, str):
        raise ImageError(f"image {image!r}: a descriptor has no digest")
    return f"blobs/sha256/{_hex_of(digest, image)}"


def _read_blob(src: _Source, digest: Any, image: str) -> bytes:
    raw = src.read(_blob(digest, image))
    if _sha256(raw) != digest:
        raise ImageError(f"image {image!r}: blob {digest} does not match its digest")
    return raw


def _pick_manifest(index: Any, image: str) -> dict[str, Any]:
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise ImageError(f"image {image!r}: index.json lists no manifests")
    host = _ARCH.get(os.uname().machine, os.uname().machine)
    for m in manifests:
        plat = m.get("platform") if isinstance(m, dict) else None
        if isinstance(plat, dict) and plat.get("architecture") == host:
            return dict(m)
    if len(manifests) > 1 and not all(
        isinstance(m, dict) and not m.get("platform") for m in manifests
    ):
        raise ImageError(f"image {image!r}: the index has no manifest for {host!r}")
    first = manifests[0]
    if not isinstance(first, dict):
        raise ImageError(f"image {image!r}: index.json's manifests are not objects")
    return first


def _parse_oci(src: _Source, image: str) -> ParsedImage:
    if src.exists("oci-layout"):
        layout = src.json("oci-layout")
        if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
            raise ImageError(f"image {image!r}: oci-layout has no imageLayoutVersion")
    index = src.json("index.json")
    desc = _pick_manifest(index, image)
    names = []
    ann = desc.get("annotations") or {}
    if isinstance(ann, dict):
        for key in ("io.containerd.image.name", "org.opencontainers.image.ref.name"):
            if isinstance(ann.get(key), str):
                names.append(ann[key])
    for _ in range(4):  # nested indexes (multi-platform), bounded
        if desc.get("mediaType") not in _INDEX_TYPES:
            break
        desc = _pick_manifest(json.loads(_read_blob(src, desc.get("digest"), image)), image)
    try:
        manifest = json.loads(_read_blob(src, desc.get("digest"), image))
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError(f"image {image!r}: its manifest is not JSON: {e}") from None
    cfg_desc = manifest.get("config") if isinstance(manifest, dict) else None
    layer_descs = manifest.get("layers") if isinstance(manifest, dict) else None
    if not isinstance(cfg_desc, dict) or not isinstance(layer_descs, list):
        raise ImageError(f"image {image!r}: its manifest has no config or layers")
    config_digest = cfg_desc.get("digest")
    raw = _read_blob(src, config_digest, image)
    config = _config_doc(raw, image)
    diff_ids = _diff_ids(config, image)
    if len(diff_ids) != len(layer_descs):
        raise ImageError(
            f"image {image!r}: {len(layer_descs)} layers but {len(diff_ids)} diff_ids in its config"
        )
    layers = []
    for d, diff_id in zip(layer_descs, diff_ids, strict=True):
        if not isinstance(d, dict):
            raise ImageError(f"image {image!r}: a layer descriptor is not an object")
        media = d.get("mediaType", "")
        if media not in _GZIP_TYPES + _TAR_TYPES:
            raise ImageError(f"image {image!r}: unsupported layer media type {media!r}")
        name = _blob(d.get("digest"), image)
        layers.append(LayerRef(diff_id, name, str(d["digest"]), src.size(name)))
    return ParsedImage("oci", str(config_digest), config, tuple(layers), tuple(names))


# ------------------------------------------------------------------------- import (CLI)


def inspect_image(path: Path, image: str | None = None, verify: bool = True) -> dict[str, Any]:
    """Check an image file completely (format, config, every layer's digests and
    entries, without unpacking) and describe it: ``{"format", "id", "names", "layers",
    "size", "created", "config"}``. `ImageError` naming the image and the reason."""
    label = image or str(path)
    if not path.exists():
        raise ImageError(f"image {label!r}: no such file or directory: {path}")
    with _Source(path, label) as src:
        parsed = parse_image(src, label)
        size = 0
        if verify:
            for i, layer in enumerate(parsed.layers):
                with src.open(layer.blob) as f:
                    n, outer, inner = scan_layer(f, image=label, layer=str(i))
                _check_digests(label, i, layer, outer, inner)
                size += n
    created = parsed.config_doc.get("created")
    return {
        "format": parsed.format,
        "id": parsed.config_digest,
        "names": list(parsed.names),
        "layers": [layer.diff_id for layer in parsed.layers],
        "size": size,
        "created": created if isinstance(created, str) else "",
        "config": ImageConfig.from_config(parsed.config_doc).to_json(),
    }


def _check_digests(image: str, i: int, layer: LayerRef, outer: str, inner: str) -> None:
    if layer.digest is not None and outer != layer.digest:
        raise ImageError(
            f"image {image!r}: layer {i} digest mismatch: the manifest says "
            f"{layer.digest}, the blob hashes to {outer}"
        )
    if inner != layer.diff_id:
        raise ImageError(
            f"image {image!r}: layer {i} digest mismatch: the config says "
            f"{layer.diff_id}, the layer hashes to {inner}"
        )


def import_image(registry: Path, file: Path, name: str | None = None) -> dict[str, Any]:
    """Check ``file`` (a Docker save or OCI layout tar, or an OCI layout directory) and
    store it in the local registry as ``name`` (default: the name it carries). Returns
    its description with ``name`` and ``path``. Nothing is stored if it is refused."""
    file = Path(file)
    desc = inspect_image(file, name or str(file))
    if name is None:
        if not desc["names"]:
            raise ImageError(f"image {str(file)!r} carries no name: give one with --name")
        name = str(desc["names"][0])
        if ":" not in name.rsplit("/", 1)[-1] and "/" not in name and "." not in name:
            name = f"{name}:latest"
    full = normalize_name(name)
    dest = registry_file(registry, full)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".import-", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            if file.is_dir():
                with tarfile.open(fileobj=out, mode="w|") as tar:
                    for child in sorted(file.iterdir()):
                        tar.add(child, arcname=child.name)
            else:
                with open(file, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        doc = {**desc, "name": full, "path": str(dest)}
        meta = dest.with_name(dest.name[: -len(".tar")] + ".json")
        meta_tmp = meta.with_name(f".{meta.name}.tmp")
        meta_tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
        os.replace(tmp, dest)
        os.replace(meta_tmp, meta)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return doc


def list_images(registry: Path) -> list[dict[str, Any]]:
    """The images in the local registry, by name (their descriptions from the import;
    an image file copied in by hand is described by reading it)."""
    out: list[dict[str, Any]] = []
    root = Path(registry)
    if not root.is_dir():
        return out
    for tar in sorted(root.rglob("*.tar")):
        if tar.name.startswith("."):
            continue
        name = str(tar.relative_to(root))[: -len(".tar")]
        meta = tar.with_name(tar.name[: -len(".tar")] + ".json")
        try:
            doc = json.loads(meta.read_text())
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except (OSError, ValueError):
            try:
                doc = inspect_image(tar, name, verify=False)
            except ImageError as e:
                doc = {"error": str(e)}
        doc["name"] = name
        doc["path"] = str(tar)
        out.append(doc)
    return out


def remove_image(registry: Path, name: str) -> str:
    """Remove ``name`` from the local registry; returns its normalised name. Agents keep
    the layers they unpacked until their GC removes them."""
    full = normalize_name(name)
    dest = registry_file(registry, full)
    if not dest.exists():
        raise ImageError(f"image {name!r} is not in the local image store {registry}")
    dest.unlink()
    with contextlib.suppress(OSError):
        dest.with_name(dest.name[: -len(".tar")] + ".json").unlink()
    return full


# --------------------------------------------------------------------------- the store


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _store_lock(root: Path) -> threading.Lock:
    key = str(root.resolve())
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def overlay_supported() -> bool:
    """overlayfs is in the kernel and we may mount (root)."""
    if os.geteuid() != 0:
        return False
    try:
        text = Path("/proc/filesystems").read_text()
    except OSError:
        return False
    return any(line.split()[-1:] == ["overlay"] for line in text.splitlines())


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _mount_overlay(lower: list[Path], upper: Path, work: Path, target: Path) -> None:
    for p in (*lower, upper, work):
        if any(ch in str(p) for ch in ",:\n"):
            raise OSError(f"path {p} cannot be an overlay option")
    opts = f"lowerdir={':'.join(map(str, lower))},upperdir={upper},workdir={work}"
    if len(opts) >= 4000:
        raise OSError("too many layers for one overlay mount")
    rc = _libc().mount(b"overlay", os.fsencode(target), b"overlay", 0, opts.encode())
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount overlay on {target}: {os.strerror(err)}")


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path)
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) > 1:
            mp = fields[1].replace("\\040", " ")
            if mp == prefix or mp.startswith(prefix + "/"):
                found.append(mp)
    return sorted(found, key=len, reverse=True)


def _unmount_all(path: Path) -> None:
    libc = None
    for mp in _mounts_under(path):
        libc = libc or _libc()
        if libc.umount2(os.fsencode(mp), _MNT_DETACH) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"umount {mp}: {os.strerror(err)}")


def _disk_free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def resolve_in_root(root: Path, container_path: str) -> Path:
    """``container_path`` resolved inside ``root`` as chroot would: symlinks followed
    (absolute ones from ``root``), ``..`` never above ``root``; at most 40 links."""
    parts = [c for c in container_path.split("/") if c not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        c = parts.pop(0)
        if c == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, c)
        try:
            st = os.lstat(candidate)
        except OSError:
            resolved.append(c)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > 40:
                raise ImageError(f"too many symlinks resolving {container_path!r} in {root}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [x for x in target.split("/") if x not in ("", ".")] + parts
            continue
        resolved.append(c)
    return root.joinpath(*resolved)


@dataclass(frozen=True)
class _Pulled:
    image: str
    digest: str
    config: ImageConfig
    diff_ids: tuple[str, ...]


class ImageStore:
    """An agent's image store: pulls (checks and unpacks) images into the layer cache
    and provisions per-container roots. Thread-safe; one per agent work dir."""

    def __init__(
        self,
        root: Path | str,
        *,
        registry: Path | str | None = None,
        overlay: bool | None = None,
        disk_free: Callable[[Path], int] | None = None,
        fetch_timeout: float = 60.0,
    ) -> None:
        self.root = Path(root)
        self.registry = Path(registry) if registry else None
        self.overlay = overlay_supported() if overlay is None else overlay
        self.disk_free = disk_free or _disk_free
        self.fetch_timeout = fetch_timeout
        self.layers_dir = self.root / "layers"
        self.index_dir = self.root / "index"
        self.containers_dir = self.root / "containers"
        self.tmp_dir = self.root / "tmp"
        for d in (self.layers_dir, self.index_dir, self.containers_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._lock = _store_lock(self.root)

    @classmethod
    def for_agent(cls, work_dir: Path | str, **kw: Any) -> ImageStore:
        """The store of the agent whose work dir is ``work_dir``: ``<work_dir>/images``,
        names resolved in ``$PYDCOS_IMAGE_REGISTRY`` (unless ``registry=`` is given)."""
        kw.setdefault("registry", os.environ.get(IMAGE_REGISTRY_ENV) or None)
        return cls(Path(work_dir) / "images", **kw)

    # ---------------------------------------------------------------------------- pull

    def pull(self, image: str, *, fetch_uri: str | None = None) -> _Pulled:
        """Make ``image``'s layers present in the cache (checked); its config."""
        ref = parse_reference(fetch_uri or image)
        if ref.kind == "http":
            from actors.agent._fetcher import fetch
            from actors.agent._spec import FetchError, UriSpec

            tmp = Path(tempfile.mkdtemp(prefix="fetch-", dir=self.tmp_dir))
            try:
                try:
                    path = fetch(
                        UriSpec(ref.value, extract=False, output_file="image.tar"),
                        tmp,
                        timeout=self.fetch_timeout,
                    )
                except FetchError as e:
                    raise ImageError(f"image {image!r} cannot be pulled: {e}") from None
                return self._pull_file(path, image, cache=False)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        if ref.kind == "path":
            path = Path(ref.value)
            if not path.exists():
                raise ImageError(f"image {image!r}: no such file or directory: {path}")
            return self._pull_file(path, image, cache=True)
        if self.registry is None:
            raise ImageError(
                f"image {image!r} is not a path or URI and this agent has no local image "
                f"store (${IMAGE_REGISTRY_ENV})"
            )
        path = registry_file(self.registry, ref.value)
        if not path.is_file() and ref.value.endswith(":latest"):
            # Mesos' local puller names an untagged image's archive <repository>.tar
            path = self.registry / f"{ref.value[: -len(':latest')]}.tar"
        if not path.is_file():
            raise ImageError(
                f"image {image!r} not found in the local image store {self.registry} "
                f"(import it: pydcos image import FILE --name {ref.value})"
            )
        return self._pull_file(path, image, cache=True)

    def _index_key(self, path: Path) -> str | None:
        try:
            st = path.stat()
        except OSError:
            return None
        if path.is_dir():
            return None  # a layout directory can change under the same stat
        raw = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def _layer_path(self, diff_id: str) -> Path:
        return self.layers_dir / diff_id.partition(":")[2]

    def _layer_ready(self, diff_id: str) -> bool:
        return (self._layer_path(diff_id) / "layer.json").is_file()

    def _pull_file(self, path: Path, image: str, cache: bool) -> _Pulled:
        key = self._index_key(path) if cache else None
        if key is not None:
            pulled = self._cached(key, image)
            if pulled is not None:
                return pulled
        with self._lock:
            with _Source(path, image) as src:
                parsed = parse_image(src, image)
                missing = [
                    (i, layer)
                    for i, layer in enumerate(parsed.layers)
                    if not self._layer_ready(layer.diff_id)
                ]
                need = sum(layer.size for _, layer in missing)
                free = self.disk_free(self.root)
                if need > free:
                    raise ImageError(
                        f"image {image!r} does not fit on the agent's disk: its layers need "
                        f"{need >> 20} MiB, {free >> 20} MiB free"
                    )
                for i, layer in missing:
                    if not self._layer_ready(layer.diff_id):
                        self._unpack(src, image, i, layer)
            pulled = _Pulled(
                image,
                parsed.config_digest,
                ImageConfig.from_config(parsed.config_doc, image),
                tuple(layer.diff_id for layer in parsed.layers),
            )
            if key is not None:
                doc = {
                    "image": image,
                    "digest": pulled.digest,
                    "config": pulled.config.to_json(),
                    "diff_ids": list(pulled.diff_ids),
                }
                _atomic_json(self.index_dir / f"{key}.json", doc)
        return pulled

    def _cached(self, key: str, image: str) -> _Pulled | None:
        try:
            doc = json.loads((self.index_dir / f"{key}.json").read_text())
            ids = tuple(str(d) for d in doc["diff_ids"])
            pulled = _Pulled(image, str(doc["digest"]), ImageConfig.from_config(doc["config"]), ids)
        except (OSError, ValueError, KeyError, TypeError, ImageError):
            return None
        if not all(self._layer_ready(d) for d in ids):
            return None
        return pulled

    def _unpack(self, src: _Source, image: str, i: int, layer: LayerRef) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="layer-", dir=self.tmp_dir))
        try:
            fs = tmp / "fs"
            fs.mkdir()
            budget = self.disk_free(self.root)
            with src.open(layer.blob) as f:
                info, outer, inner = unpack_layer(
                    f,
                    fs,
                    image=image,
                    layer=str(i),
                    markers=self.overlay,
                    budget=budget,
                )
            _check_digests(image, i, layer, outer, inner)
            info.diff_id = layer.diff_id
            _atomic_json(tmp / "layer.json", info.to_json())
            dest = self._layer_path(layer.diff_id)
            if dest.exists():  # a half-written one from a crash: replace it
                shutil.rmtree(dest)
            os.rename(tmp, dest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    # ----------------------------------------------------------------------- provision

    def provision(self, image: str, sandbox: Path | str, *, fetch_uri: str | None = None) -> Rootfs:
        """A fresh root for the container of ``sandbox`` (its name is the container id)
        from ``image``; `ImageError` naming the image and the reason if it cannot be."""
        cid = _container_id(sandbox)
        pulled = self.pull(image, fetch_uri=fetch_uri)
        with self._lock:
            self._release(cid)
            cdir = self.containers_dir / cid
            cdir.mkdir(parents=True)
            target = cdir / "rootfs"
            target.mkdir()
            lower = _dedupe_top([self._layer_path(d) / "fs" for d in pulled.diff_ids])
            backend = "copy"
            if self.overlay and lower and self._overlay_ready(pulled.diff_ids):
                upper, work = cdir / "upper", cdir / "work"
                upper.mkdir()
                work.mkdir()
                try:
                    _mount_overlay(list(reversed(lower)), upper, work, target)
                    backend = "overlay"
                except OSError as e:
                    log.warning("image %s: overlay mount failed (%s): copying", image, e)
            for d in pulled.diff_ids:  # last used: the GC's idle time
                with contextlib.suppress(OSError):
                    os.utime(self._layer_path(d) / "layer.json")
            rootfs = Rootfs(
                target, pulled.config, image, pulled.digest, backend, cid, pulled.diff_ids
            )
            _atomic_json(cdir / "rootfs.json", rootfs.to_json())
        if backend == "copy":
            try:
                self._copy_layers(image, pulled.diff_ids, target)
            except BaseException:
                self.release(cid)
                raise
        return rootfs

    def _overlay_ready(self, diff_ids: tuple[str, ...]) -> bool:
        """Every layer can be an overlayfs lowerdir (one unpacked by a store without
        overlay has no whiteout markers: that root is copied instead)."""
        for d in diff_ids:
            try:
                doc = json.loads((self._layer_path(d) / "layer.json").read_text())
            except (OSError, ValueError):
                return False
            if not LayerInfo.from_json(doc).overlay_ready():
                return False
        return True

    def _copy_layers(self, image: str, diff_ids: tuple[str, ...], target: Path) -> None:
        infos = []
        for d in diff_ids:
            doc = json.loads((self._layer_path(d) / "layer.json").read_text())
            infos.append((self._layer_path(d) / "fs", LayerInfo.from_json(doc)))
        need = sum(info.size for _, info in infos)
        free = self.disk_free(self.root)
        if need > free:
            raise ImageError(
                f"image {image!r} does not fit on the agent's disk: its root needs "
                f"{need >> 20} MiB, {free >> 20} MiB free"
            )
        try:
            for fs, info in infos:
                merge_layer(fs, info, target)
        except OSError as e:
            raise ImageError(f"image {image!r}: cannot copy its layers: {e}") from None

    def rootfs(self, sandbox: Path | str) -> Rootfs | None:
        """The root provisioned for ``sandbox``'s container (after an agent restart)."""
        try:
            doc = json.loads(
                (self.containers_dir / _container_id(sandbox) / "rootfs.json").read_text()
            )
            return Rootfs.from_json(doc)
        except (OSError, ValueError, KeyError, ImageError):
            return None

    def release(self, sandbox: Path | str) -> bool:
        """Unmount and remove the container's root; False if it had none."""
        with self._lock:
            return self._release(_container_id(sandbox))

    def _release(self, cid: str) -> bool:
        cdir = self.containers_dir / cid
        if not cdir.exists():
            return False
        _unmount_all(cdir)
        if _mounts_under(cdir):
            raise ImageError(f"container {cid}: its root is still mounted")
        shutil.rmtree(cdir)
        return True

    def containers(self) -> list[str]:
        try:
            return sorted(p.name for p in self.containers_dir.iterdir() if p.is_dir())
        except OSError:
            return []

    def layers(self) -> list[str]:
        return sorted(
            f"sha256:{p.name}" for p in self.layers_dir.iterdir() if (p / "layer.json").exists()
        )

    # ------------------------------------------------------------------------------ gc

    def gc(
        self,
        keep: Collection[str],
        now: float,
        layer_age: float,
    ) -> dict[str, list[str]]:
        """Remove the roots of containers not in ``keep`` (older than ``MIN_AGE``), then
        the layers no remaining root uses that have been idle for ``layer_age`` seconds
        (the sandbox GC passes its ``max_age(gc_delay, headroom, disk used)``: the same
        rules as sandboxes); ``now`` is wall time. Returns ``{"containers": [...],
        "layers": [...]}`` removed."""
        removed: dict[str, list[str]] = {"containers": [], "layers": []}
        with self._lock:
            created: dict[str, float] = {}
            for cid in self.containers():
                with contextlib.suppress(OSError):
                    created[cid] = (self.containers_dir / cid).stat().st_mtime
            for cid in _due(created, set(keep), now, MIN_AGE):
                try:
                    if self._release(cid):
                        removed["containers"].append(cid)
                except (OSError, ImageError) as e:
                    log.warning("image gc: cannot remove the root of %s: %s", cid, e)
            used_layers: set[str] = set()
            for cid in self.containers():
                rf = self.rootfs(cid)
                if rf is not None:
                    used_layers.update(rf.layers)
            idle: dict[str, float] = {}
            for d in self.layers():
                with contextlib.suppress(OSError):
                    idle[d] = (self._layer_path(d) / "layer.json").stat().st_mtime
            for d in _due(idle, used_layers, now, layer_age):
                path = self._layer_path(d)
                trash = Path(tempfile.mkdtemp(prefix="gc-", dir=self.tmp_dir))
                try:
                    os.rename(path, trash / "layer")
                except OSError as e:
                    log.warning("image gc: cannot remove layer %s: %s", d, e)
                    continue
                shutil.rmtree(trash, ignore_errors=True)
                removed["layers"].append(d)
            if removed["layers"]:  # checked images whose layers are gone: read again
                present = set(self.layers())
                for entry in self.index_dir.glob("*.json"):
                    try:
                        ids = json.loads(entry.read_text())["diff_ids"]
                        stale_entry = not set(ids) <= present
                    except (OSError, ValueError, KeyError, TypeError):
                        stale_entry = True
                    if stale_entry:
                        with contextlib.suppress(OSError):
                            entry.unlink()
            for stale in self.tmp_dir.iterdir():
                with contextlib.suppress(OSError):
                    if now - stale.stat().st_mtime > MIN_AGE:
                        shutil.rmtree(stale, ignore_errors=True)
        if removed["containers"] or removed["layers"]:
            log.info(
                "image gc: removed %d roots, %d layers",
                len(removed["containers"]),
                len(removed["layers"]),
            )
        return removed


def release_all(work_dir: Path | str) -> list[str]:
    """Unmount and remove every container root of the agent whose work dir this is (its
    tasks are gone: ``pydcos cluster down`` killed them); the layer cache stays, so the
    next agent starts warm. Returns the container ids released."""
    root = Path(work_dir) / "images"
    if not (root / "containers").is_dir():
        return []
    store = ImageStore(root, overlay=False)
    released = []
    for cid in store.containers():
        try:
            if store.release(cid):
                released.append(cid)
        except (OSError, ImageError) as e:
            log.warning("images: cannot release the root of %s: %s", cid, e)
    return released


def _due(since: dict[str, float], keep: Collection[str], now: float, age: float) -> list[str]:
    """Not kept and idle for longer than ``age`` (as ``_gc.due`` for sandboxes)."""
    return sorted(k for k, t in since.items() if k not in keep and now - t > age)


def _container_id(sandbox: Path | str) -> str:
    cid = Path(sandbox).name
    if not cid or cid in (".", "..") or "/" in cid:
        raise ImageError(f"{sandbox!r} does not name a container")
    return cid


def _dedupe_top(paths: list[Path]) -> list[Path]:
    """Lowest first; a layer listed twice is kept at its topmost place (overlayfs
    refuses a lowerdir twice; the upper copy wins anyway)."""
    seen: set[Path] = set()
    out: list[Path] = []
    for p in reversed(paths):
        if p not in seen:
            seen.add(p)
            out.append(p)
    return list(reversed(out))


def _atomic_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True))
    os.replace(tmp, path)


__all__ = [
    "IMAGE_REGISTRY_ENV",
    "ImageConfig",
    "ImageError",
    "ImageStore",
    "Reference",
    "Rootfs",
    "import_image",
    "inspect_image",
    "list_images",
    "normalize_name",
    "parse_reference",
    "registry_file",
    "remove_image",
    "resolve_in_root",
]
