"""Native tasks in an image (the universal runtime), no Docker engine: the task's root is
the image's, with the sandbox at /mnt/mesos/sandbox, its own /proc, the image's
Entrypoint/Cmd/Env/WorkingDir/User, volumes, health checks and recovery after an agent
restart; an image that cannot be provisioned fails the task naming it."""

from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import protocol as p
from actors.agent import (
    REASON_CONTAINER_LAUNCH_FAILED,
    TASK_FAILED,
    TASK_FINISHED,
    TASK_KILLED,
    HealthCheckSpec,
    HealthReport,
    ImageStore,
    NativeContainerizer,
    Sandbox,
    TaskSpec,
    UpdateLog,
)
from tests._wait import wait_for
from tests.ucr._image import HOSTNAME_IN_IMAGE, INDEX_HTML, busybox_image

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="image roots need root")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_image(tmp_path_factory.mktemp("img") / "busybox.tar")


@pytest.fixture
def native(tmp_path: Path) -> Iterator[NativeContainerizer]:
    c = NativeContainerizer(tmp_path / "agent", cgroup_root=f"pydcos-test-{os.getpid()}")
    if not c.isolated:
        pytest.skip(f"no isolation: {c.isolation_note}")
    yield c
    c.remove_cgroup_root(kill_tasks=True)
    for cid in c.images().containers():  # overlay mounts on the host: never leak one
        c.images().release(cid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def output(c: NativeContainerizer, task_id: str) -> str:
    return Sandbox(c.work_dir, task_id).stdout.read_text()


def test_the_tasks_root_is_the_image(native: NativeContainerizer, image: Path) -> None:
    spec = TaskSpec(
        task_id="inside",
        command='cat /etc/hostname; ls /; echo "$MESOS_SANDBOX|$IMAGE_VAR|$PWD"; '
        "ls /proc | grep -c '^[0-9]'; echo in-sandbox > $MESOS_SANDBOX/made-inside",
        image=str(image),
    )
    u = UpdateLog()
    h = native.launch(spec, None, u)
    assert h.wait(60) == TASK_FINISHED, (
        u.updates,
        Sandbox(native.work_dir, "inside").tail("stderr"),
    )
    lines = output(native, "inside").splitlines()
    assert lines[0] == HOSTNAME_IN_IMAGE  # the image's file, not the host's
    listing = set(lines[1:-2])
    assert {"bin", "etc", "mnt", "proc", "var"} <= listing
    assert "usr" not in listing and "home" not in listing  # nothing of the host's root
    assert lines[-2] == "/mnt/mesos/sandbox|from-image|/"  # image WorkingDir "/"
    assert int(lines[-1]) < 8  # its own pid namespace and /proc: a handful of processes
    assert (Sandbox(native.work_dir, "inside").path / "made-inside").read_text() == "in-sandbox\n"
    assert "running in image" in u.updates[1][2]
    assert native.images().containers() == []  # the root is released when the task ends


def test_httpd_in_the_image_serves_the_images_files_and_health_checks_pass(
    native: NativeContainerizer, image: Path, tmp_path: Path
) -> None:
    port = free_port()
    host_dir = tmp_path / "shared"
    host_dir.mkdir()
    (host_dir / "ro.txt").write_text("read only\n")
    reports: list[HealthReport] = []
    fast = {"grace_period_seconds": 20.0, "interval_seconds": 0.3, "timeout_seconds": 2.0}
    spec = TaskSpec(
        task_id="web",
        args=("httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/var/www"),  # Cmd replaced
        image=str(image),
        ports=(port,),
        volumes=(p.VolumeInfo("/data", str(host_dir), "RO"), p.VolumeInfo("logs", "logs", "RW")),
        health_checks=(
            HealthCheckSpec(protocol="HTTP", path="/index.html", delay_seconds=0, **fast),  # type: ignore[arg-type]
            # Runs inside the container: the image's sh, the RO volume, the image's root.
            HealthCheckSpec(
                protocol="COMMAND",
                command="test -f /data/ro.txt && ! touch /data/x 2>/dev/null && "
                "test -f /etc/hostname && grep -q busybox /etc/hostname",
                delay_seconds=0,
                **fast,  # type: ignore[arg-type]
            ),
        ),
    )
    u = UpdateLog()
    h = native.launch(spec, None, u, reports.append)
    try:
        wait_for(lambda: any(r.healthy for r in reports), what=f"healthy {reports}", timeout=30)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5).read()
        assert body.decode() == INDEX_HTML
        assert not (host_dir / "x").exists()
    finally:
        h.kill(0)
    assert h.wait(20) == TASK_KILLED, u.updates


def test_an_image_task_is_recovered_by_a_restarted_agent(
    native: NativeContainerizer, image: Path
) -> None:
    spec = TaskSpec(task_id="durable", command="echo up; exec sleep 600", image=str(image))
    u = UpdateLog()
    h = native.launch(spec, None, u)
    wait_for(lambda: h.pid is not None and "up" in output(native, "durable"), what="running")
    # "Restart": a new containerizer on the same work dir, as a restarted agent makes.
    again = NativeContainerizer(native.work_dir, cgroup_root=native.cgroup_root)
    (rec,) = again.recover()
    assert rec.running and rec.handle is not None, rec
    assert rec.handle.rootfs is not None and rec.handle.rootfs.image == str(image)
    assert again.images().containers() == ["durable"]
    rec.handle.kill(0)
    assert rec.handle.wait(20) == TASK_KILLED
    wait_for(lambda: again.images().containers() == [], what="root released")


@pytest.mark.parametrize(
    ("ref", "why"),
    [("no-such-image:1.0", "no-such-image"), ("/nonexistent/pydcos-image.tar", "pydcos-image.tar")],
)
def test_an_image_that_cannot_be_provisioned_fails_the_task_naming_it(
    native: NativeContainerizer, ref: str, why: str
) -> None:
    u = UpdateLog()
    h = native.launch(TaskSpec(task_id="bad", command="true", image=ref), None, u)
    assert h.wait(30) == TASK_FAILED
    _, reason, message = u.updates[-1]
    assert reason == REASON_CONTAINER_LAUNCH_FAILED and why in message, u.updates
    assert "TASK_RUNNING" not in u.states()  # never run on the host instead


def test_image_tasks_without_isolation_fail_instead_of_running_on_the_host(
    tmp_path: Path, image: Path
) -> None:
    c = NativeContainerizer(tmp_path, isolation=False, image_store=ImageStore(tmp_path / "i"))
    u = UpdateLog()
    h = c.launch(TaskSpec(task_id="noiso", command="true", image=str(image)), None, u)
    assert h.wait(30) == TASK_FAILED
    assert "cannot run a task with image" in u.updates[-1][2]


def test_the_task_runs_as_a_user_of_the_image_and_owns_its_sandbox(
    native: NativeContainerizer, image: Path
) -> None:
    """``user`` is looked up in the image's /etc/passwd (nobody = 65534 there), the
    sandbox is the user's, root's powers are gone (no mount, no write to /etc)."""
    spec = TaskSpec(
        task_id="asuser",
        command='id -u; id -g; echo "$HOME"; echo ok > "$MESOS_SANDBOX/mine"; '
        "touch /etc/x 2>/dev/null && echo ETC-WRITABLE; "
        "mount -t tmpfs t /tmp 2>/dev/null && echo CAN-MOUNT; true",
        image=str(image),
        user="nobody",
    )
    u = UpdateLog()
    h = native.launch(spec, None, u)
    assert h.wait(60) == TASK_FINISHED, (u.updates, h.sandbox.tail("stderr"))
    assert output(native, "asuser").splitlines() == ["65534", "65534", "/nonexistent"]
    mine = Sandbox(native.work_dir, "asuser").path / "mine"
    assert mine.read_text() == "ok\n" and mine.stat().st_uid == 65534


def test_a_user_the_image_does_not_know_fails_the_task_naming_both(
    native: NativeContainerizer, image: Path
) -> None:
    u = UpdateLog()
    h = native.launch(
        TaskSpec(task_id="nouser", command="true", image=str(image), user="alice"), None, u
    )
    assert h.wait(60) == TASK_FAILED
    assert "user 'alice' is not in the /etc/passwd of image" in u.updates[-1][2], u.updates
    assert native.images().containers() == []  # its root was given back
