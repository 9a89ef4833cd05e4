"""Layer unpacking rules (actors/agent/_layers.py) on tarballs built in the test:
whiteouts, opaque dirs, path escapes, symlinks, hardlinks, device nodes, and the copy
merge of several layers."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from actors.agent._layers import (
    OVERLAY_OPAQUE_XATTR,
    Entry,
    ImageError,
    LayerInfo,
    UnsafeEntry,
    classify,
    entry_path,
    merge_layer,
    scan_layer,
    symlink_inside,
    unpack_layer,
)
from tests.ucr._image import gzipped, layer_tar, sha256

ROOT = os.geteuid() == 0


def unpack(
    tmp: Path, entries: list, markers: bool = False, name: str = "l"
) -> tuple[Path, LayerInfo]:
    dest = tmp / name
    dest.mkdir()
    info, outer, inner = unpack_layer(
        io.BytesIO(layer_tar(entries)), dest, image="img:1", layer="0", markers=markers
    )
    assert outer == inner == sha256(layer_tar(entries))
    return dest, info


# ------------------------------------------------------------------------------- pure


@pytest.mark.parametrize(
    ("name", "path"),
    [("./etc/hostname", "etc/hostname"), ("bin/", "bin"), (".", ""), ("a//b/./c", "a/b/c")],
)
def test_entry_paths_are_normalised(name: str, path: str) -> None:
    assert entry_path(name) == path


@pytest.mark.parametrize("name", ["../etc/passwd", "a/../../b", "/etc/passwd", "a/.."])
def test_escaping_or_absolute_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafeEntry):
        entry_path(name)


@pytest.mark.parametrize(
    ("link", "target", "inside"),
    [
        ("bin/sh", "busybox", True),
        ("bin/sh", "/bin/busybox", True),  # absolute: from the image's root
        ("usr/lib/x", "../../lib/x", True),
        ("a", "../etc/passwd", False),
        ("usr/x", "../../../etc", False),
        ("x", "/../../etc/shadow", False),
        ("a/b", "c/../../..", False),
    ],
)
def test_symlinks_resolve_inside_the_root_or_are_refused(
    link: str, target: str, inside: bool
) -> None:
    assert symlink_inside(link, target) is inside


def member(name: str, type: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = type, linkname
    return ti


def test_classify_whiteouts_and_opaque_markers() -> None:
    assert classify(member("etc/.wh.passwd")) == Entry("whiteout", "etc/passwd")
    assert classify(member(".wh.opt")) == Entry("whiteout", "opt")
    assert classify(member("var/lib/.wh..wh..opq")) == Entry("opaque", "var/lib")
    assert classify(member(".wh..wh..opq")) == Entry("opaque", "")
    assert classify(member("x/.wh..wh.plnk")).kind == "skip"
    assert classify(member("bin/sh", tarfile.SYMTYPE, "busybox")) == Entry(
        "symlink", "bin/sh", "busybox"
    )
    assert classify(member("b", tarfile.LNKTYPE, "./a")) == Entry("hardlink", "b", "a")


@pytest.mark.parametrize(
    ("m", "reason"),
    [
        (member("dev/null", tarfile.CHRTYPE), "device node"),
        (member("dev/sda", tarfile.BLKTYPE), "device node"),
        (member("escape", tarfile.SYMTYPE, "../../../etc"), "outside the image's root"),
        (member("h", tarfile.LNKTYPE, "/etc/passwd"), "outside the layer"),
        (member("h", tarfile.LNKTYPE, "../x"), "outside the layer"),
        (member("a/.wh...", tarfile.REGTYPE), "whiteout of nothing"),
    ],
)
def test_classify_refuses(m: tarfile.TarInfo, reason: str) -> None:
    with pytest.raises(UnsafeEntry, match=reason):
        classify(m)


# --------------------------------------------------------------------------- unpacking


def test_unpack_files_dirs_symlinks_hardlinks_fifos(tmp_path: Path) -> None:
    dest, info = unpack(
        tmp_path,
        [
            ("dir", "bin"),
            ("file", "bin/tool", b"#!/bin/sh\n", 0o755),
            ("symlink", "bin/sh", "/bin/tool"),
            ("hardlink", "bin/tool2", "bin/tool"),
            ("fifo", "run.fifo"),
            ("file", "etc/implicit/parent", b"x"),  # parents the tar never lists
        ],
    )
    assert (dest / "bin/tool").read_bytes() == b"#!/bin/sh\n"
    assert stat.S_IMODE(os.lstat(dest / "bin/tool").st_mode) == 0o755
    assert os.readlink(dest / "bin/sh") == "/bin/tool"  # kept as is: chroot resolves it
    assert os.lstat(dest / "bin/tool2").st_ino == os.lstat(dest / "bin/tool").st_ino
    assert stat.S_ISFIFO(os.lstat(dest / "run.fifo").st_mode)
    assert (dest / "etc/implicit/parent").read_bytes() == b"x"
    assert info.size == len(b"#!/bin/sh\n") + 1 and info.whiteouts == [] == info.opaque


def test_whiteouts_and_opaque_dirs_are_recorded(tmp_path: Path) -> None:
    dest, info = unpack(
        tmp_path,
        [
            ("dir", "etc"),
            ("file", "etc/.wh.motd", b""),
            ("dir", "var"),
            ("file", "var/.wh..wh..opq", b""),
        ],
    )
    assert info.whiteouts == ["etc/motd"] and info.opaque == ["var"]
    assert not (dest / "etc/.wh.motd").exists() and not (dest / "etc/motd").exists()


@pytest.mark.skipif(not ROOT, reason="overlay markers need root (mknod, trusted xattrs)")
def test_overlay_markers_when_asked(tmp_path: Path) -> None:
    dest, _ = unpack(
        tmp_path,
        [
            ("dir", "etc"),
            ("file", "etc/.wh.motd", b""),
            ("dir", "var"),
            ("file", "var/.wh..wh..opq", b""),
        ],
        markers=True,
    )
    st = os.lstat(dest / "etc/motd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(dest / "var", OVERLAY_OPAQUE_XATTR) == b"y"


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ([("raw", tarfile.TarInfo("../outside/pwned"), None)], "climbs out"),
        ([("raw", tarfile.TarInfo("/outside/pwned"), None)], "absolute path"),
        ([("symlink", "etc", "../outside")], "outside the image's root"),
        ([("symlink", "etc", "/../../outside")], "outside the image's root"),
        ([("hardlink", "passwd", "../outside/secret")], "outside the layer"),
        ([("hardlink", "passwd", "/outside/secret")], "outside the layer"),
        ([("hardlink", "passwd", "not-there")], "not an earlier file"),
        ([("chr", "dev/null")], "device node"),
        ([("blk", "dev/sda")], "device node"),
        # an entry beneath a symlink of the same layer would be written through it
        (
            [
                ("symlink", "lib", "usr/lib"),
                ("dir", "usr"),
                ("dir", "usr/lib"),
                ("file", "lib/x", b"1"),
            ],
            "beneath a symlink",
        ),
    ],
)
def test_unsafe_entries_are_refused_naming_image_and_entry(
    tmp_path: Path, entries: list, reason: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host")
    with pytest.raises(ImageError, match=reason) as e:
        unpack(tmp_path, entries)
    assert "'img:1'" in str(e.value) and "entry " in str(e.value)
    assert sorted(os.listdir(outside)) == ["secret"]  # nothing written outside the layer


def test_a_later_entry_replaces_an_earlier_one(tmp_path: Path) -> None:
    dest, _ = unpack(
        tmp_path,
        [
            ("file", "a", b"1"),
            ("dir", "a"),
            ("file", "a/b", b"2"),
            ("file", "c", b"x"),
            ("file", "c", b"y"),
        ],
    )
    assert (dest / "a/b").read_bytes() == b"2" and (dest / "c").read_bytes() == b"y"


def test_gzip_layers_hash_both_forms_and_zstd_is_refused(tmp_path: Path) -> None:
    raw = layer_tar([("file", "x", b"hello")])
    blob = gzipped(raw)
    dest = tmp_path / "d"
    dest.mkdir()
    _, outer, inner = unpack_layer(io.BytesIO(blob), dest, image="i", layer="0")
    assert outer == sha256(blob) and inner == sha256(raw)
    assert (dest / "x").read_bytes() == b"hello"
    with pytest.raises(ImageError, match="zstd"):
        unpack_layer(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\0" * 600), dest, image="i", layer="0")
    with pytest.raises(ImageError, match="not a valid tar"):
        unpack_layer(io.BytesIO(gzipped(b"garbage" * 200)), dest, image="i", layer="0")


def test_a_layer_over_budget_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "d"
    dest.mkdir()
    with pytest.raises(ImageError, match="does not fit on the agent's disk"):
        unpack_layer(
            io.BytesIO(layer_tar([("file", "big", b"x" * 5000)])),
            dest,
            image="i",
            layer="0",
            budget=4096,
        )


def test_scan_checks_every_entry_without_writing(tmp_path: Path) -> None:
    size, outer, inner = scan_layer(
        io.BytesIO(layer_tar([("file", "a", b"123"), ("symlink", "b", "/a")])), image="i", layer="0"
    )
    assert size == 3 and outer == inner
    with pytest.raises(ImageError, match=r"entry 'dev/kmem' .* device node"):
        scan_layer(io.BytesIO(layer_tar([("chr", "dev/kmem")])), image="i", layer="0")


# ----------------------------------------------------------------------------- merging


def test_merge_applies_whiteouts_opaque_dirs_and_replacements(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    low, low_info = unpack(
        tmp_path,
        [
            ("file", "etc/motd", b"lower"),
            ("file", "etc/keep", b"k"),
            ("file", "var/cache/a", b"a"),
            ("file", "var/cache/b", b"b"),
            ("file", "opt", b"a file"),
            ("dir", "srv"),
            ("file", "srv/x", b"x"),
            ("symlink", "link", "/host"),  # an absolute symlink inside the image
        ],
        name="low",
    )
    up, up_info = unpack(
        tmp_path,
        [
            ("file", "etc/.wh.motd", b""),
            ("dir", "var/cache"),
            ("file", "var/cache/.wh..wh..opq", b""),
            ("file", "var/cache/new", b"n"),
            ("dir", "opt"),  # a dir replaces a file
            ("file", "opt/y", b"y"),
            ("file", "srv", b"now a file"),  # a file replaces a dir
            ("dir", "link"),  # a dir replaces the symlink: never written through
            ("file", "link/z", b"z"),
        ],
        name="up",
    )
    root = tmp_path / "rootfs"
    root.mkdir()
    merge_layer(low, low_info, root)
    merge_layer(up, up_info, root)
    assert not (root / "etc/motd").exists() and (root / "etc/keep").read_bytes() == b"k"
    assert sorted(os.listdir(root / "var/cache")) == ["new"]
    assert (root / "opt/y").read_bytes() == b"y"
    assert (root / "srv").read_bytes() == b"now a file"
    assert (root / "link").is_dir() and not (root / "link").is_symlink()
    assert os.listdir(host) == []
    # a copy: writing the root leaves the cache alone
    (root / "etc/keep").write_bytes(b"changed")
    assert (low / "etc/keep").read_bytes() == b"k"


def test_merge_never_deletes_through_a_symlink(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "precious").write_text("p")
    root = tmp_path / "rootfs"
    root.mkdir()
    os.symlink(str(host), root / "data")  # as if a lower layer had put it there
    empty = tmp_path / "empty"
    empty.mkdir()
    merge_layer(empty, LayerInfo("sha256:x", whiteouts=["data/precious"], opaque=["data"]), root)
    assert (host / "precious").read_text() == "p"
