"""Image layers: the unpack rules (Docker/OCI layer tars) and the copy-merge of layers.

A layer is a tar of the files it adds or changes; ``.wh.<name>`` entries delete
``<name>`` from the layers below (whiteouts) and ``.wh..wh..opq`` hides everything a
lower layer had in its directory (opaque dirs), as the OCI image spec says. Each layer
is unpacked into a directory of its own (``unpack_layer``): ready to be an overlayfs
lowerdir (whiteouts written as 0:0 character devices, opaque dirs marked with the
``trusted.overlay.opaque`` xattr, when ``markers``), and described by a `LayerInfo`
(whiteouts, opaque dirs, size) so `merge_layer` can apply it onto a plain directory
when overlayfs is not available.

Security (why the rules are strict): a layer comes from whoever built the image. An
entry whose path is absolute or climbs out with ``..``, a symlink whose target resolves
outside the image's root (even an absolute one, resolved as the container would), a
hardlink to anything but an earlier entry of the same layer, a device node, or an entry
beneath a symlink is refused with an `ImageError` naming the image and the entry: the
agent runs as root, and following any of those would write on the host. Nothing here
ever follows a symlink: paths are walked with ``lstat`` and created with ``O_NOFOLLOW``.

Pure decisions (`entry_path`, `symlink_inside`, `classify`) take no file system; the
rest only touches the directory it is given.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from actors.agent._errors import AgentError

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
_CHUNK = 1 << 20


class ImageError(AgentError):
    """An image cannot be used: the message names the image and the reason (bad digest,
    an entry escaping the root, not an image, too big for the disk, unknown name...)."""


class UnsafeEntry(ImageError):
    """A layer entry the rules refuse; the message is the reason (no image name yet)."""


@dataclass(frozen=True)
class Entry:
    """What one tar member means for the layer directory."""

    kind: str
    """dir | file | symlink | hardlink | fifo | whiteout | opaque | skip"""
    path: str
    """Relative POSIX path inside the layer ('' is the root itself); for whiteouts the
    path deleted, for opaque markers the directory made opaque."""
    target: str = ""
    """symlink target as written, or the hardlink's (normalised) relative path."""


@dataclass
class LayerInfo:
    """A layer's description, stored next to its unpacked directory (``layer.json``)."""

    diff_id: str
    size: int = 0
    """Bytes of file content written."""
    whiteouts: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    markers: bool = False
    """Whiteouts and opaque dirs are also written overlayfs' way (usable as a lowerdir)."""

    def overlay_ready(self) -> bool:
        """Usable as an overlayfs lowerdir: it hides nothing, or says so overlay's way."""
        return self.markers or not (self.whiteouts or self.opaque)

    def to_json(self) -> dict[str, Any]:
        return {
            "diff_id": self.diff_id,
            "size": self.size,
            "whiteouts": self.whiteouts,
            "opaque": self.opaque,
            "markers": self.markers,
        }

    @staticmethod
    def from_json(doc: dict[str, Any]) -> LayerInfo:
        return LayerInfo(
            str(doc["diff_id"]),
            int(doc.get("size", 0)),
            [str(x) for x in doc.get("whiteouts", [])],
            [str(x) for x in doc.get("opaque", [])],
            bool(doc.get("markers", False)),
        )


# ---------------------------------------------------------------------------- pure rules


def entry_path(name: str) -> str:
    """A member name as a relative POSIX path ('' for the root). Absolute names and any
    ``..`` component are refused (`UnsafeEntry`)."""
    if "\x00" in name:
        raise UnsafeEntry("has a NUL byte in its name")
    if name.startswith("/"):
        raise UnsafeEntry("is an absolute path")
    parts = [c for c in name.split("/") if c not in ("", ".")]
    if ".." in parts:
        raise UnsafeEntry("climbs out of the root with '..'")
    return "/".join(parts)


def symlink_inside(link: str, target: str) -> bool:
    """Whether a symlink at ``link`` (relative path) pointing at ``target`` resolves
    inside the root, read lexically as the container sees it: an absolute target starts
    at the image's root, a relative one at the link's directory, and ``..`` above the
    root is an escape (the host would follow it out)."""
    parts: list[str] = [] if target.startswith("/") else link.split("/")[:-1]
    for c in target.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if not parts:
                return False
            parts.pop()
        else:
            parts.append(c)
    return True


def classify(member: tarfile.TarInfo) -> Entry:
    """The meaning of one tar member under the rules above; `UnsafeEntry` if refused."""
    path = entry_path(member.name)
    base = path.rsplit("/", 1)[-1]
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    if base.startswith(WHITEOUT_PREFIX):
        if base == OPAQUE_MARKER:
            return Entry("opaque", parent)
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return Entry("skip", path)  # aufs' own bookkeeping (.wh..wh.plnk, .wh..wh.aufs)
        hidden = base[len(WHITEOUT_PREFIX) :]
        if hidden in ("", ".", ".."):
            raise UnsafeEntry("is a whiteout of nothing")
        return Entry("whiteout", f"{parent}/{hidden}" if parent else hidden)
    if member.ischr() or member.isblk():
        raise UnsafeEntry("is a device node")
    if member.issym():
        if not member.linkname:
            raise UnsafeEntry("is a symlink to nothing")
        if "\x00" in member.linkname:
            raise UnsafeEntry("has a NUL byte in its link target")
        if not symlink_inside(path, member.linkname):
            raise UnsafeEntry(f"is a symlink to {member.linkname!r}, outside the image's root")
        return Entry("symlink", path, member.linkname)
    if member.islnk():
        if member.linkname.startswith("/"):
            raise UnsafeEntry(f"is a hardlink to {member.linkname!r}, outside the layer")
        try:
            target = entry_path(member.linkname)
        except UnsafeEntry:
            raise UnsafeEntry(f"is a hardlink to {member.linkname!r}, outside the layer") from None
        if not target:
            raise UnsafeEntry("is a hardlink to the root")
        return Entry("hardlink", path, target)
    if member.isdir():
        return Entry("dir", path)
    if member.isfifo():
        return Entry("fifo", path)
    if member.isreg():
        if not path:
            raise UnsafeEntry("is a file in place of the root")
        return Entry("file", path)
    raise UnsafeEntry(f"has an unsupported tar type {member.type!r}")


# ------------------------------------------------------------------------ hashing reads


class HashingReader(io.RawIOBase):
    """Reads through ``raw`` and hashes every byte (a layer is read once: digest and
    unpack together)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.hash.update(data)
        self.count += n
        return n

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def open_layer_stream(blob: IO[bytes], what: str) -> tuple[HashingReader, HashingReader]:
    """(compressed reader, uncompressed reader) over a layer blob: gzip or plain tar,
    told apart by the magic bytes as Docker does; zstd and others are refused."""
    outer = HashingReader(blob)
    buffered = io.BufferedReader(outer, _CHUNK)
    magic = buffered.peek(4)[:4]
    if magic[:2] == b"\x1f\x8b":
        inner = HashingReader(gzip.GzipFile(fileobj=buffered, mode="rb"))  # type: ignore[arg-type]
    elif magic == b"\x28\xb5\x2f\xfd":
        raise UnsafeEntry(f"{what} is zstd-compressed (unsupported: use gzip or plain tar)")
    else:
        inner = HashingReader(buffered)
    return outer, inner


# ---------------------------------------------------------------------- file operations


def _lexists(p: Path) -> bool:
    try:
        os.lstat(p)
    except FileNotFoundError:
        return False
    return True


def _remove(p: Path) -> None:
    """Remove whatever is at ``p`` (a directory recursively), never following a link."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(p)
    else:
        os.unlink(p)


def real_parent(root: Path, rel: str, create: bool = True) -> Path | None:
    """``root/dirname(rel)`` if every component below ``root`` is a real directory
    (missing ones are created 0755 when ``create``); None if one is a symlink or a file
    (writing there would follow it)."""
    parts = rel.split("/")[:-1]
    cur = root
    for c in parts:
        cur = cur / c
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            if not create:
                return None
            os.mkdir(cur, 0o755)
            continue
        if not stat.S_ISDIR(st.st_mode):
            return None
    return cur


def _owner(path: Path, uid: int, gid: int, as_root: bool) -> None:
    if as_root:
        with contextlib.suppress(OSError):
            os.lchown(path, uid, gid)


def _whiteout_marker(path: Path) -> None:
    _remove(path)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def _opaque_marker(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.setxattr(path, OVERLAY_OPAQUE_XATTR, b"y", follow_symlinks=False)


def unpack_layer(
    blob: IO[bytes],
    dest: Path,
    *,
    image: str,
    layer: str,
    markers: bool = False,
    budget: int | None = None,
) -> tuple[LayerInfo, str, str]:
    """Unpack one layer blob (plain or gzipped tar) into the empty directory ``dest``.

    Returns (info, compressed digest, uncompressed digest ``sha256:...``) read in the
    same pass; the caller compares them to the manifest. ``markers``: write overlayfs
    whiteouts/opaque xattrs too (root only). ``budget``: bytes the disk can take; more
    is an `ImageError`. Every refusal is an `ImageError` naming ``image``, the layer and
    the entry; ``dest`` is then left for the caller to remove."""
    as_root = os.geteuid() == 0
    info = LayerInfo(diff_id="", markers=markers)
    dirs: list[tuple[Path, tarfile.TarInfo]] = []
    try:
        outer, inner = open_layer_stream(blob, f"layer {layer}")
    except UnsafeEntry as e:
        raise ImageError(f"image {image!r}: {e}") from None
    except OSError as e:
        raise ImageError(f"image {image!r}: layer {layer} cannot be read: {e}") from None
    name = ""
    try:
        with tarfile.open(fileobj=inner, mode="r|") as tar:
            for member in tar:
                name = member.name
                entry = classify(member)
                _apply(tar, member, entry, dest, info, markers, as_root)
                if budget is not None and info.size > budget:
                    raise ImageError(
                        f"image {image!r} does not fit on the agent's disk: layer {layer} "
                        f"alone needs more than the {budget // (1 << 20)} MiB free"
                    )
                if entry.kind == "dir":
                    dirs.append((dest / entry.path if entry.path else dest, member))
            name = ""
        inner.drain()
        outer.drain()
    except UnsafeEntry as e:
        where = f"entry {name!r} of layer {layer}" if name else f"layer {layer}"
        raise ImageError(f"image {image!r}: {where} {e}") from None
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise ImageError(f"image {image!r}: layer {layer} is not a valid tar: {e}") from None
    except OSError as e:
        raise ImageError(f"image {image!r}: cannot unpack layer {layer}: {e}") from None
    for path, member in reversed(dirs):  # children first changed their parents' mtimes
        with contextlib.suppress(OSError):
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
    return info, outer.digest(), inner.digest()


def _apply(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    entry: Entry,
    dest: Path,
    info: LayerInfo,
    markers: bool,
    as_root: bool,
) -> None:
    kind, rel = entry.kind, entry.path
    if kind == "skip":
        return
    if kind == "opaque":
        target = dest / rel if rel else dest
        parent = real_parent(dest, rel + "/x") if rel else dest
        if parent is None:
            raise UnsafeEntry("lies beneath a symlink or a file")
        if not _lexists(target):
            os.mkdir(target, 0o755)
        elif not stat.S_ISDIR(os.lstat(target).st_mode):
            raise UnsafeEntry("marks a non-directory opaque")
        info.opaque.append(rel)
        if markers:
            _opaque_marker(target)
        return
    if not rel:
        if kind == "dir":
            os.chmod(dest, member.mode & 0o7777)
            _owner(dest, member.uid, member.gid, as_root)
            return
        raise UnsafeEntry("replaces the root")
    parent = real_parent(dest, rel)
    if parent is None:
        raise UnsafeEntry("lies beneath a symlink or a file")
    target = dest / rel
    if kind == "whiteout":
        info.whiteouts.append(rel)
        if markers:
            _whiteout_marker(target)
        return
    if kind == "dir":
        if _lexists(target) and not stat.S_ISDIR(os.lstat(target).st_mode):
            _remove(target)
        if not _lexists(target):
            os.mkdir(target, 0o700)
        os.chmod(target, member.mode & 0o7777)
        _owner(target, member.uid, member.gid, as_root)
        return
    _remove(target)  # a later entry for the same path replaces the earlier one
    if kind == "symlink":
        os.symlink(entry.target, target)
        _owner(target, member.uid, member.gid, as_root)
    elif kind == "hardlink":
        src_parent = real_parent(dest, entry.target, create=False)
        src = dest / entry.target
        if src_parent is None or not _lexists(src) or stat.S_ISDIR(os.lstat(src).st_mode):
            raise UnsafeEntry(
                f"is a hardlink to {entry.target!r}, not an earlier file of the same layer"
            )
        os.link(src, target, follow_symlinks=False)
        return
    elif kind == "fifo":
        os.mkfifo(target, member.mode & 0o777)
        _owner(target, member.uid, member.gid, as_root)
    else:  # file
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        content = tar.extractfile(member)
        with os.fdopen(fd, "wb") as out:
            if content is not None:
                shutil.copyfileobj(content, out, _CHUNK)
        info.size += member.size
        _owner(target, member.uid, member.gid, as_root)
        os.chmod(target, member.mode & 0o7777)  # after chown: it clears setuid bits
    with contextlib.suppress(OSError, NotImplementedError):
        os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)


def scan_layer(blob: IO[bytes], *, image: str, layer: str) -> tuple[int, str, str]:
    """Check every entry of a layer against the rules without writing anything
    (``pydcos image import`` refuses a bad image before storing it). Returns (content
    bytes, compressed digest, uncompressed digest)."""
    try:
        outer, inner = open_layer_stream(blob, f"layer {layer}")
    except UnsafeEntry as e:
        raise ImageError(f"image {image!r}: {e}") from None
    size, name = 0, ""
    try:
        with tarfile.open(fileobj=inner, mode="r|") as tar:
            for member in tar:
                name = member.name
                classify(member)
                if member.isreg():
                    size += member.size
            name = ""
        inner.drain()
        outer.drain()
    except UnsafeEntry as e:
        where = f"entry {name!r} of layer {layer}" if name else f"layer {layer}"
        raise ImageError(f"image {image!r}: {where} {e}") from None
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        raise ImageError(f"image {image!r}: layer {layer} is not a valid tar: {e}") from None
    return size, outer.digest(), inner.digest()


# ------------------------------------------------------------------------------- merging


def _walk(top: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative path, entry) of everything under ``top``, parents before children,
    never following symlinks."""
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(top / rel if rel else top) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            child = f"{rel}/{e.name}" if rel else e.name
            yield child, e
            if e.is_dir(follow_symlinks=False):
                stack.append(child)


def merge_layer(layer_dir: Path, info: LayerInfo, rootfs: Path) -> None:
    """Apply one unpacked layer onto ``rootfs`` (the copy backend): its opaque dirs and
    whiteouts first (they hide what the layers below put there), then its files, copied
    (never hardlinked: a task writing its root must not change the cache). Paths under
    a symlink of the rootfs are never written through."""
    for rel in info.opaque:
        target = rootfs / rel if rel else rootfs
        if rel and real_parent(rootfs, rel, create=False) is None:
            continue
        if _lexists(target) and stat.S_ISDIR(os.lstat(target).st_mode):
            for child in os.listdir(target):
                _remove(target / child)
        elif rel:
            _remove(target)
    for rel in info.whiteouts:
        if real_parent(rootfs, rel, create=False) is not None:
            _remove(rootfs / rel)
    for rel, e in _walk(layer_dir):
        src = layer_dir / rel
        st = e.stat(follow_symlinks=False)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            continue  # an overlay whiteout marker: applied above from the layer's info
        parent = real_parent(rootfs, rel)
        if parent is None:
            _remove(rootfs / rel.split("/")[0])  # cannot happen with checked layers
            parent = real_parent(rootfs, rel)
            assert parent is not None
        dst = rootfs / rel
        if stat.S_ISDIR(st.st_mode):
            if _lexists(dst) and not stat.S_ISDIR(os.lstat(dst).st_mode):
                _remove(dst)
            if not _lexists(dst):
                os.mkdir(dst, 0o700)
            os.chmod(dst, stat.S_IMODE(st.st_mode))
            with contextlib.suppress(OSError):
                os.lchown(dst, st.st_uid, st.st_gid)
            continue
        _remove(dst)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(dst, stat.S_IMODE(st.st_mode))
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(src, dst, follow_symlinks=False)
        else:
            continue  # nothing else is ever unpacked
        with contextlib.suppress(OSError):
            os.lchown(dst, st.st_uid, st.st_gid)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(dst, stat.S_IMODE(st.st_mode))
        with contextlib.suppress(OSError, NotImplementedError):
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
