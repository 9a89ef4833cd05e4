"""Images end to end, with real clients.

- The real Docker engine (a private dockerd) loads and runs the busybox tarball
  tests/ucr/_image.py builds, and reports the same layer digests we compute; an image the
  engine built from a Dockerfile and ``docker save``d is imported with ``pydcos image
  import`` and provisioned by the image store, as a Docker save and as the OCI layout
  inside it.
(The cluster tests come first: no Docker engine runs while they do.)
- A ``pydcos cluster up --no-docker`` cluster: ``pydcos image import`` then a Marathon
  app ``{"container": {"type": "MESOS", "docker": {"image": "busybox"}}}`` serves the
  image's own files with the image's busybox httpd (read with urllib); an app naming an
  image nobody imported fails its task with a message naming the image; after a leader
  SIGKILL the running image app is untouched and a new one launches.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.agent import DockerDaemon, DockerDaemonError, ImageStore, inspect_image
from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, leader, pydcos, started_cluster
from tests.console.conftest import http_json as http
from tests.ucr._image import HOSTNAME_IN_IMAGE, INDEX_HTML, busybox_image, busybox_layer, sha256

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="image roots need root"),
]


# -------------------------------------------------------------------- a local cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("ucr-cluster")
    args = ("--insecure-dev", "--no-docker", "--masters", "2", "--agents", "1")
    with started_cluster(state, *args) as c:
        yield c
    # The image app was left running: cluster down unmounted its root too.
    assert mounts_under(state) == []


def mounts_under(path: Path) -> list[str]:
    lines = Path("/proc/self/mounts").read_text().splitlines()
    return [m.split()[1] for m in lines if m.split()[1].startswith(str(path))]


def marathon(c: LocalCluster) -> str:
    return str(leader(c)["http_url"]) + "/marathon"


def running_tasks(base: str, app_id: str) -> Any:
    tasks = http(f"{base}/v2/apps{app_id}/tasks")["tasks"]
    return [t for t in tasks if t.get("state") == "TASK_RUNNING"] or None


def served(url: str) -> Any:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as resp:
        return resp.read().decode()
    return None


def test_an_imported_image_runs_as_a_marathon_app(cluster: LocalCluster, tmp_path: Path) -> None:
    tar = busybox_image(tmp_path / "bb.tar")
    r = cluster.cli("image", "import", str(tar))
    assert r.returncode == 0, r.stderr
    assert "busybox:latest" in cluster.cli("image", "list").stdout
    app = {
        "id": "/ucr/web",
        "cmd": "cat /etc/hostname; exec httpd -f -p $PORT0 -h /var/www",
        "container": {"type": "MESOS", "docker": {"image": "busybox"}},
        "cpus": 0.1,
        "mem": 32,
        "portDefinitions": [{"port": 0}],
    }
    base = marathon(cluster)
    http(base + "/v2/apps", "POST", app)
    try:
        task = wait_for(lambda: running_tasks(base, "/ucr/web"), 60, "the image app RUNNING")[0]
        url = f"http://127.0.0.1:{task['ports'][0]}/index.html"
        assert wait_for(lambda: served(url), 30, "httpd in the image") == INDEX_HTML
        log = cluster.cli("task", "log", task["id"])
        assert HOSTNAME_IN_IMAGE in log.stdout, log.stdout + log.stderr
        assert len(mounts_under(cluster.state_dir)) == 1  # its overlay root
    except BaseException:
        http(base + "/v2/apps/ucr/web?force=true", "DELETE")
        raise
    # left running on purpose: `cluster down` must clean its root up (the fixture checks)


def test_an_image_nobody_imported_fails_the_task_naming_it(cluster: LocalCluster) -> None:
    app = {
        "id": "/ucr/missing",
        "cmd": "sleep 100",
        "container": {"type": "MESOS", "docker": {"image": "nope:1.0"}},
        "cpus": 0.1,
        "mem": 32,
    }
    base = marathon(cluster)
    http(base + "/v2/apps", "POST", app)
    try:

        def failure() -> Any:
            doc = http(base + "/v2/apps/ucr/missing")["app"]
            return doc.get("lastTaskFailure")

        failed = wait_for(failure, 60, "the task failure")
        assert failed["state"] == "TASK_FAILED"
        assert "nope:1.0" in failed["message"] and "not found" in failed["message"]
    finally:
        http(base + "/v2/apps/ucr/missing?force=true", "DELETE")


def test_after_a_leader_sigkill_image_apps_run_on(cluster: LocalCluster) -> None:
    old = leader(cluster)
    before = running_tasks(marathon(cluster), "/ucr/web")
    assert before, "test_an_imported_image_runs_as_a_marathon_app runs first"
    os.kill(old["pid"], signal.SIGKILL)
    wait_for(lambda: leader(cluster)["pid"] != old["pid"], 30, "a new leader")
    base = marathon(cluster)
    app = {
        "id": "/ucr/after",
        "cmd": "exec httpd -f -p $PORT0 -h /var/www",
        "container": {"type": "MESOS", "docker": {"image": "busybox:latest"}},
        "cpus": 0.1,
        "mem": 32,
        "portDefinitions": [{"port": 0}],
    }
    wait_for(lambda: http(base + "/v2/apps", "POST", app), 30, "the new leader's Marathon")
    try:
        task = wait_for(
            lambda: running_tasks(base, "/ucr/after"), 60, "an image app after failover"
        )
    except AssertionError as e:
        doc = http(marathon(cluster) + "/v2/apps/ucr/after")["app"]
        raise AssertionError(f"{e}; lastTaskFailure {doc.get('lastTaskFailure')}") from None
    url = f"http://127.0.0.1:{task[0]['ports'][0]}/index.html"
    assert wait_for(lambda: served(url), 30, "httpd in the image") == INDEX_HTML
    # the first app's task was never touched
    assert [t["id"] for t in running_tasks(base, "/ucr/web")] == [t["id"] for t in before]


# ---------------------------------------------------------------- the real Docker engine


@pytest.fixture(scope="module")
def dockerd() -> Iterator[DockerDaemon]:
    if not Path("/usr/sbin/dockerd").exists() or shutil.which("docker") is None:
        pytest.skip("no dockerd/docker on this machine")
    d = DockerDaemon()
    try:
        d.start()
    except DockerDaemonError as e:
        pytest.skip(f"dockerd does not start here: {e}")
    yield d
    d.stop()


def docker(d: DockerDaemon, *args: str) -> str:
    r = subprocess.run(["docker", "-H", d.url, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_engine_loads_and_runs_our_busybox_tarball(
    dockerd: DockerDaemon, tmp_path: Path
) -> None:
    tar = busybox_image(tmp_path / "bb.tar", name="pydcos-w1-bb:1")
    assert "pydcos-w1-bb:1" in docker(dockerd, "load", "-i", str(tar))
    assert docker(dockerd, "run", "--rm", "pydcos-w1-bb:1", "cat", "/var/www/index.html") == (
        INDEX_HTML
    )
    layers = json.loads(docker(dockerd, "image", "inspect", "pydcos-w1-bb:1"))[0]["RootFS"]
    assert layers["Layers"] == [sha256(busybox_layer())] == inspect_image(tar)["layers"]


def test_an_image_the_engine_built_and_saved_is_imported_and_provisioned(
    dockerd: DockerDaemon, tmp_path: Path
) -> None:
    tag = dockerd.build_test_image("pydcos-w1-built:2")  # FROM scratch + RUN busybox --install
    saved = tmp_path / "saved.tar"
    docker(dockerd, "save", "-o", str(saved), tag)
    state = tmp_path / "state"
    r = pydcos("image", "import", str(saved), "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"imported {tag} (")
    listed = json.loads(pydcos("image", "list", "--json", "--state-dir", str(state)).stdout)
    assert [d["name"] for d in listed] == [tag]
    engine_layers = json.loads(docker(dockerd, "image", "inspect", tag))[0]["RootFS"]["Layers"]
    assert listed[0]["layers"] == engine_layers

    store = ImageStore(tmp_path / "store", registry=state / "images")
    rootfs = store.provision(tag, "t1")
    try:
        assert os.access(rootfs.path / "bin/busybox", os.X_OK)
        assert os.readlink(rootfs.path / "bin/sh") == "/bin/busybox"  # busybox --install -s
        assert rootfs.layers == tuple(engine_layers)
    finally:
        store.release("t1")


def test_the_oci_layout_of_a_docker_save_is_provisioned(
    dockerd: DockerDaemon, tmp_path: Path
) -> None:
    """Docker 25+ writes an OCI image layout beside manifest.json; read it alone."""
    tag = dockerd.build_test_image("pydcos-w1-built:2")
    saved = tmp_path / "saved.tar"
    docker(dockerd, "save", "-o", str(saved), tag)
    engine_layers = json.loads(docker(dockerd, "image", "inspect", tag))[0]["RootFS"]["Layers"]
    store = ImageStore(tmp_path / "store")
    layout = tmp_path / "layout"
    with tarfile.open(saved) as t:
        t.extractall(layout, filter="data")
    if not (layout / "index.json").exists():
        pytest.skip("this Docker (< 25) saves no OCI layout: tests/agent/test_images.py covers it")
    (layout / "manifest.json").unlink()
    assert inspect_image(layout)["format"] == "oci"
    rootfs = store.provision(str(layout), "t2")
    try:
        assert rootfs.layers == tuple(engine_layers)
        assert (rootfs.path / "bin/busybox").exists()
    finally:
        store.release("t2")
