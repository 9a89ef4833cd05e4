"""The image store (actors/agent/_images.py): Docker save and OCI layout parsing, digest
checks, provisioning with and without overlayfs, release, GC, the local registry the
``pydcos image`` verbs fill, and pulls over real loopback HTTP through the fetcher."""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import shutil
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.agent import _gc
from actors.agent._images import (
    IMAGE_REGISTRY_ENV,
    MIN_AGE,
    ImageConfig,
    ImageStore,
    Rootfs,
    import_image,
    inspect_image,
    list_images,
    normalize_name,
    overlay_supported,
    parse_reference,
    registry_file,
    remove_image,
    resolve_in_root,
)
from actors.agent._layers import ImageError
from tests.ucr._image import (
    BUSYBOX_NAME,
    HOSTNAME_IN_IMAGE,
    IMAGE_ENV,
    build_image,
    busybox_image,
    busybox_layer,
    image_config,
    layer_tar,
    sha256,
)

OVERLAY = overlay_supported()
BACKENDS = [
    pytest.param(False, id="copy"),
    pytest.param(
        True, id="overlay", marks=pytest.mark.skipif(not OVERLAY, reason="no overlayfs / root")
    ),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageStore]:
    s = ImageStore(tmp_path / "store", registry=tmp_path / "registry", overlay=False)
    yield s
    for cid in s.containers():
        s.release(cid)


def overlay_store(tmp_path: Path, overlay: bool) -> ImageStore:
    return ImageStore(
        tmp_path / f"store-{overlay}", registry=tmp_path / "registry", overlay=overlay
    )


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("ref", "kind", "value"),
    [
        ("busybox", "name", "busybox:latest"),
        ("busybox:1.36", "name", "busybox:1.36"),
        ("library/busybox", "name", "busybox:latest"),
        ("docker.io/library/busybox:1", "name", "busybox:1"),
        ("registry.local:5000/team/app:v2", "name", "registry.local:5000/team/app:v2"),
        ("/images/bb.tar", "path", "/images/bb.tar"),
        ("file:///images/b%20b.tar", "path", "/images/b b.tar"),
        ("http://127.0.0.1:8080/bb.tar", "http", "http://127.0.0.1:8080/bb.tar"),
    ],
)
def test_references(ref: str, kind: str, value: str) -> None:
    r = parse_reference(ref)
    assert (r.kind, r.value) == (kind, value)


@pytest.mark.parametrize(
    "ref", ["", "  ", "Bad Name", "a/../b", "busybox:", "busybox@sha256:00", "ftp://x/y", "a:b:c/"]
)
def test_bad_references_name_themselves(ref: str) -> None:
    with pytest.raises(ImageError, match="image "):
        parse_reference(ref)


def test_registry_layout_is_mesos_local_puller(tmp_path: Path) -> None:
    assert registry_file(tmp_path, "busybox") == tmp_path / "busybox:latest.tar"
    assert registry_file(tmp_path, "team/app:1") == tmp_path / "team/app:1.tar"


# ------------------------------------------------------------------------------ parsing


@pytest.mark.parametrize("fmt", ["docker-save", "docker25", "oci", "oci-dir"])
def test_inspect_docker_save_and_oci_layouts(tmp_path: Path, fmt: str) -> None:
    path = busybox_image(tmp_path / "img", fmt=fmt)
    doc = inspect_image(path)
    assert doc["format"] == ("docker-save" if fmt.startswith("docker") else "oci")
    assert doc["names"][0] == BUSYBOX_NAME
    assert len(doc["layers"]) == 1 and doc["size"] > 1_000_000
    assert doc["config"]["Cmd"] == ["sh"] and doc["config"]["Env"] == list(IMAGE_ENV)


def test_config_fields_entrypoint_cmd_env_workdir_user(tmp_path: Path) -> None:
    cfg = {
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo hi"],
        "Env": ["A=1", "B=x=y"],
        "WorkingDir": "/srv",
        "User": "nobody",
    }
    path = build_image(tmp_path / "i.tar", [layer_tar([("dir", "srv")])], config=cfg)
    rootfs = ImageStore(tmp_path / "s", overlay=False).provision(str(path), "t1")
    assert rootfs.config == ImageConfig(
        ("/bin/sh", "-c"), ("echo hi",), ("A=1", "B=x=y"), "/srv", "nobody"
    )
    assert rootfs.config.env_dict() == {"A": "1", "B": "x=y"}
    assert ImageConfig.from_config({"config": None, "rootfs": {}}) == ImageConfig()


def test_bad_config_types_are_refused(tmp_path: Path) -> None:
    layer = layer_tar([("file", "x", b"1")])
    path = build_image(tmp_path / "i.tar", [layer], config={"Cmd": "not a list"})
    with pytest.raises(ImageError, match="config Cmd is not a list of strings"):
        inspect_image(path, "bad:cmd")


def test_other_architecture_is_refused(tmp_path: Path) -> None:
    layer = layer_tar([("file", "x", b"1")])
    doc = image_config([sha256(layer)], architecture="s390x")
    path = build_image(tmp_path / "i.tar", [layer], config_doc=doc)
    with pytest.raises(ImageError, match="built for 's390x'"):
        inspect_image(path, "arch:x")


def test_not_an_image(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as t:
        t.add(__file__, arcname="hello.py")
    with pytest.raises(ImageError, match=r"'plain:1': not an image \(no manifest.json"):
        inspect_image(plain, "plain:1")
    (tmp_path / "junk.tar").write_bytes(b"\0junk" * 100)
    with pytest.raises(ImageError, match="not an image tarball: not a tar archive"):
        ImageStore(tmp_path / "s", overlay=False).provision(str(tmp_path / "junk.tar"), "t")


# ------------------------------------------------------------------------------ digests


def test_bad_diff_id_fails_and_leaves_nothing_in_the_cache(
    store: ImageStore, tmp_path: Path
) -> None:
    layer = layer_tar([("file", "etc/hostname", b"x\n")])
    wrong = sha256(b"something else")
    path = build_image(tmp_path / "bad.tar", [layer], diff_ids=[wrong])
    with pytest.raises(ImageError, match=r"'bad:1': layer 0 digest mismatch: the config says"):
        store.provision("bad:1", "t1", fetch_uri=str(path))
    assert store.layers() == [] and store.containers() == []
    assert list(store.tmp_dir.iterdir()) == []
    with pytest.raises(ImageError, match="digest mismatch"):
        inspect_image(path)  # what `pydcos image import` runs first


def test_tampered_oci_blob_is_refused(tmp_path: Path) -> None:
    path = busybox_image(tmp_path / "oci", fmt="oci-dir")
    index = json.loads((path / "index.json").read_text())
    manifest = json.loads((path / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text())
    blob = path / "blobs/sha256" / manifest["layers"][0]["digest"][7:]
    data = bytearray(blob.read_bytes())
    data[-2000] ^= 0xFF  # inside the tar's padding/data: still a readable tar
    blob.write_bytes(bytes(data))
    store = ImageStore(tmp_path / "s", overlay=False)
    with pytest.raises(ImageError, match="layer 0 digest mismatch: the manifest says"):
        store.provision(str(path), "t")
    assert store.layers() == []


def test_tampered_config_is_refused(tmp_path: Path) -> None:
    path = busybox_image(tmp_path / "bb.tar")
    out = tmp_path / "evil.tar"
    with tarfile.open(path) as src, tarfile.open(out, "w") as dst:
        for m in src.getmembers():
            f = src.extractfile(m)
            data = f.read() if f else b""
            if m.name.endswith(".json") and m.name != "manifest.json":
                data = data.replace(b'"sh"', b'"id"')
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(ImageError, match="config digest mismatch"):
        inspect_image(out, "evil:1")


def test_gzip_oci_layers(tmp_path: Path) -> None:
    layers = [
        layer_tar([("file", "a", b"1")]),
        layer_tar([("file", "b", b"2"), ("file", ".wh.a", b"")]),
    ]
    path = build_image(tmp_path / "gz.tar", layers, fmt="oci", compress=True)
    rootfs = ImageStore(tmp_path / "s", overlay=False).provision(str(path), "t")
    assert sorted(os.listdir(rootfs.path)) == ["b"]


def test_image_larger_than_the_free_disk(tmp_path: Path) -> None:
    path = busybox_image(tmp_path / "bb.tar")
    store = ImageStore(tmp_path / "s", overlay=False, disk_free=lambda _: 1 << 20)
    with pytest.raises(ImageError, match=r"'busybox:latest' does not fit on the agent's disk"):
        store.provision("busybox:latest", "t", fetch_uri=str(path))
    assert store.layers() == [] and store.containers() == []


def test_unsafe_layer_names_image_and_entry_and_writes_nothing_outside(tmp_path: Path) -> None:
    layer = layer_tar([("dir", "etc"), ("symlink", "etc/evil", "../../../../tmp")])
    path = build_image(tmp_path / "evil.tar", [layer])
    store = ImageStore(tmp_path / "s", overlay=False)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(ImageError, match=r"image 'evil:1': entry 'etc/evil' of layer 0"):
        store.provision("evil:1", "t", fetch_uri=str(path))
    assert sorted(os.listdir(tmp_path)) == before and store.layers() == []


# ------------------------------------------------------------------------- provisioning


@pytest.mark.parametrize("overlay", BACKENDS)
@pytest.mark.parametrize("fmt", ["docker-save", "docker25", "oci"])
def test_provision_busybox(tmp_path: Path, overlay: bool, fmt: str) -> None:
    store = overlay_store(tmp_path, overlay)
    path = busybox_image(tmp_path / "bb", fmt=fmt)
    a = store.provision(str(path), tmp_path / "sandboxes" / "task-a")
    b = store.provision(f"file://{path}", "task-b")
    try:
        assert a.backend == ("overlay" if overlay else "copy") and a.container_id == "task-a"
        for r in (a, b):
            assert (r.path / "etc/hostname").read_text() == f"{HOSTNAME_IN_IMAGE}\n"
            assert os.readlink(r.path / "bin/sh") == "busybox"
            assert os.access(r.path / "bin/busybox", os.X_OK)
        # each container writes its own root
        (a.path / "etc/hostname").write_text("changed\n")
        assert (b.path / "etc/hostname").read_text() == f"{HOSTNAME_IN_IMAGE}\n"
        assert len(store.layers()) == 1  # one cache for both
        # an agent restart finds what it provisioned
        again = ImageStore(store.root, overlay=overlay).rootfs("task-a")
        assert again is not None and again.path == a.path and again.config == a.config
    finally:
        assert store.release("task-a") and store.release(tmp_path / "sandboxes" / "task-b")
    assert store.containers() == [] and not store.release("task-a")
    assert not any(
        str(store.root) in line for line in Path("/proc/self/mounts").read_text().splitlines()
    )


@pytest.mark.parametrize("overlay", BACKENDS)
def test_layers_stack_with_whiteouts_and_opaque_dirs(tmp_path: Path, overlay: bool) -> None:
    l1 = layer_tar([("file", "etc/motd", b"old"), ("file", "var/a", b"a"), ("file", "keep", b"k")])
    l2 = layer_tar(
        [
            ("file", "etc/.wh.motd", b""),
            ("dir", "var"),
            ("file", "var/.wh..wh..opq", b""),
            ("file", "var/b", b"b"),
        ]
    )
    store = overlay_store(tmp_path, overlay)
    r = store.provision(str(build_image(tmp_path / "i.tar", [l1, l2])), "t")
    try:
        assert not (r.path / "etc/motd").exists()
        assert sorted(os.listdir(r.path / "var")) == ["b"]
        assert (r.path / "keep").read_bytes() == b"k"
    finally:
        store.release("t")


def test_warm_provision_reads_no_manifest(
    store: ImageStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = busybox_image(tmp_path / "bb.tar")
    store.provision(str(path), "t1")
    from actors.agent import _images

    def boom(*a: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(_images, "parse_image", boom)
    r = store.provision(str(path), "t2")
    assert (r.path / "etc/hostname").exists()
    path.touch()  # a new file under the same name is read again
    with pytest.raises(AssertionError, match="parsed again"):
        store.provision(str(path), "t3")


def test_names_resolve_in_the_local_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = tmp_path / "registry"
    doc = import_image(registry, busybox_image(tmp_path / "bb.tar"))
    assert doc["name"] == "busybox:latest" and registry_file(registry, "busybox").exists()
    monkeypatch.setenv(IMAGE_REGISTRY_ENV, str(registry))
    store = ImageStore.for_agent(tmp_path / "work", overlay=False)
    assert store.root == tmp_path / "work" / "images"
    r = store.provision("library/busybox", "t")
    assert (r.path / "etc/hostname").read_text() == f"{HOSTNAME_IN_IMAGE}\n"
    with pytest.raises(
        ImageError,
        match=r"'nginx:1' not found in the local image store .*image import FILE --name nginx:1",
    ):
        store.provision("nginx:1", "t2")
    # an archive dropped in Mesos' way (<repository>.tar for an untagged name) is found too
    shutil.copy(tmp_path / "bb.tar", registry / "mesos-style.tar")
    assert store.provision("mesos-style", "t5").path.is_dir()
    with pytest.raises(ImageError, match="not found"):
        store.provision("mesos-style:1", "t6")
    with pytest.raises(ImageError, match="no local image store"):
        ImageStore(tmp_path / "other", overlay=False).provision("busybox", "t3")
    with pytest.raises(ImageError, match="no such file"):
        store.provision("/nonexistent/x.tar", "t4")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_pull_over_http_through_the_fetcher(tmp_path: Path) -> None:
    busybox_image(tmp_path / "www" / "bb.tar")
    handler = functools.partial(_Quiet, directory=str(tmp_path / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        store = ImageStore(tmp_path / "s", overlay=False)
        r = store.provision(f"{url}/bb.tar", "t")
        assert (r.path / "var/www/index.html").exists()
        with pytest.raises(ImageError, match=r"image 'web:1' cannot be pulled: .*HTTP 404"):
            store.provision("web:1", "t2", fetch_uri=f"{url}/missing.tar")
        assert list(store.tmp_dir.iterdir()) == []
    finally:
        server.shutdown()
        server.server_close()


def test_resolve_in_root_never_leaves_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    os.symlink("/usr/lib", root / "lib")
    os.symlink("../../../../etc", root / "usr/up")
    os.symlink("/", root / "usr/top")
    assert resolve_in_root(root, "/lib/x") == root / "usr/lib/x"
    assert resolve_in_root(root, "/usr/up/passwd") == root / "etc/passwd"
    assert resolve_in_root(root, "/usr/top/../../mnt/mesos/sandbox") == root / "mnt/mesos/sandbox"


# ---------------------------------------------------------------------------- registry


def test_import_list_rm(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    assert list_images(registry) == []
    import_image(registry, busybox_image(tmp_path / "bb.tar"))
    import_image(registry, busybox_image(tmp_path / "oci.tar", fmt="oci"), "tools/bb:2")
    import_image(registry, busybox_image(tmp_path / "dir", fmt="oci-dir"), "dir:1")
    names = [d["name"] for d in list_images(registry)]
    assert names == ["busybox:latest", "dir:1", "tools/bb:2"]
    assert remove_image(registry, "tools/bb:2") == "tools/bb:2"
    with pytest.raises(ImageError, match="'tools/bb:2' is not in the local image store"):
        remove_image(registry, "tools/bb:2")
    store = ImageStore(tmp_path / "s", registry=registry, overlay=False)
    assert (store.provision("dir:1", "t").path / "bin/busybox").exists()


def test_import_refuses_bad_images_and_stores_nothing(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    layer = layer_tar([("chr", "dev/mem")])
    with pytest.raises(ImageError, match=r"entry 'dev/mem' of layer 0 .* device node"):
        import_image(registry, build_image(tmp_path / "dev.tar", [layer]), "dev:1")
    unnamed = build_image(tmp_path / "n", [layer_tar([("file", "x", b"")])], fmt="oci-dir", name="")
    (unnamed / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {k: v for k, v in m.items() if k != "annotations"}
                    for m in json.loads((unnamed / "index.json").read_text())["manifests"]
                ],
            }
        )
    )
    with pytest.raises(ImageError, match="carries no name: give one with --name"):
        import_image(registry, unnamed)
    assert list_images(registry) == []
    assert normalize_name("BusyBox:Tag") == "BusyBox:Tag"  # the registry keeps names as given


# ---------------------------------------------------------------------------------- gc


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.mark.parametrize("overlay", BACKENDS)
def test_gc_follows_the_sandbox_gc_rules(tmp_path: Path, overlay: bool) -> None:
    store = overlay_store(tmp_path, overlay)
    path = busybox_image(tmp_path / "bb.tar")
    other = build_image(tmp_path / "o.tar", [layer_tar([("file", "o", b"o")])], name="o:1")
    store.provision(str(path), "live")
    store.provision(str(path), "dead")
    store.provision(str(other), "gone")
    store.release("gone")
    now = time.time()
    # too young: nothing goes, even if not live
    assert store.gc({"live"}, now, _gc.max_age(_gc.DEFAULT_GC_DELAY, 0.1, 0.0)) == {
        "containers": [],
        "layers": [],
    }
    for cid in ("live", "dead"):
        _age(store.containers_dir / cid, MIN_AGE + 5)
    for d in store.layers():
        _age(store._layer_path(d) / "layer.json", 3600)
    removed = store.gc({"live"}, now, _gc.max_age(7200, 0.1, 0.0))
    # dead's root goes; the busybox layer stays (live uses it); o:1's layer is idle 1 h
    # but a 7200 s delay on an empty disk keeps it ...
    assert removed == {"containers": ["dead"], "layers": []}
    # ... and a fuller disk shortens the delay, as for sandboxes
    removed = store.gc({"live"}, now, _gc.max_age(7200, 0.1, 0.6))
    assert removed["layers"] == [sha256(layer_tar([("file", "o", b"o")]))]
    assert store.containers() == ["live"]
    store.release("live")
    assert len(list(store.index_dir.glob("*.json"))) == 1  # busybox's, still valid
    removed = store.gc(set(), now, _gc.max_age(60, 0.1, 0.0))
    assert removed["layers"] == [sha256(busybox_layer())] and store.layers() == []
    assert list(store.index_dir.glob("*.json")) == []


def test_sandbox_gc_pass_collects_image_roots(tmp_path: Path) -> None:
    work = tmp_path / "work"
    store = ImageStore.for_agent(work, overlay=False)
    store.provision(str(busybox_image(tmp_path / "bb.tar")), "old-task")
    _age(store.containers_dir / "old-task", MIN_AGE + 5)
    _gc.collect(work, live=set(), now=time.time())
    assert store.containers() == [] and len(store.layers()) == 1  # layers: a week by default


@pytest.mark.skipif(not OVERLAY, reason="no overlayfs / root")
def test_layers_unpacked_without_overlay_markers_are_copied_not_mounted(tmp_path: Path) -> None:
    l1 = layer_tar([("file", "a", b"1"), ("file", "b", b"2")])
    l2 = layer_tar([("file", ".wh.a", b"")])
    path = build_image(tmp_path / "i.tar", [l1, l2])
    ImageStore(tmp_path / "s", overlay=False).pull(str(path))  # no markers in the cache
    store = ImageStore(tmp_path / "s", overlay=True)
    r = store.provision(str(path), "t")
    try:
        assert r.backend == "copy" and sorted(os.listdir(r.path)) == ["b"]
    finally:
        store.release("t")


@pytest.mark.parametrize("overlay", BACKENDS)
def test_release_all_roots_of_a_stopped_agent(tmp_path: Path, overlay: bool) -> None:
    from actors.agent import release_image_roots

    store = ImageStore.for_agent(tmp_path / "work", overlay=overlay)
    path = busybox_image(tmp_path / "bb.tar")
    store.provision(str(path), "a")
    store.provision(str(path), "b")
    assert release_image_roots(tmp_path / "work") == ["a", "b"]
    assert store.containers() == [] and len(store.layers()) == 1
    assert str(store.root) not in Path("/proc/self/mounts").read_text()
    assert release_image_roots(tmp_path / "nothing-here") == []


def test_concurrent_launches_of_one_cold_image_unpack_it_once(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "s", overlay=OVERLAY)
    path = busybox_image(tmp_path / "bb.tar")
    results: dict[str, Any] = {}

    def launch(cid: str) -> None:
        try:
            results[cid] = store.provision(str(path), cid)
        except Exception as e:  # reported below
            results[cid] = e

    threads = [threading.Thread(target=launch, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert all(isinstance(r, Rootfs) for r in results.values()), results
        assert len(results) == 4 and len(store.layers()) == 1
        assert list(store.tmp_dir.iterdir()) == []
    finally:
        for cid in list(results):
            store.release(cid)


def test_docker25_layer_blob_is_checked_against_its_name(tmp_path: Path) -> None:
    path = busybox_image(tmp_path / "bb.tar", fmt="docker25")
    out = tmp_path / "evil.tar"
    layer_blob = f"blobs/sha256/{sha256(busybox_layer())[7:]}"
    with tarfile.open(path) as src, tarfile.open(out, "w") as dst:
        for m in src.getmembers():
            f = src.extractfile(m)
            data = bytearray(f.read() if f else b"")
            if m.name == layer_blob:
                data[-5000] ^= 0xFF  # in the tar's end padding: still a valid tar
            dst.addfile(m, io.BytesIO(bytes(data)))
    with pytest.raises(ImageError, match="layer 0 digest mismatch: the manifest says"):
        inspect_image(out, "evil:25")
