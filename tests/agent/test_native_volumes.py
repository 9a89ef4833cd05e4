"""Volumes in native (MESOS) containers without an image, on the real kernel: host-path
and sandbox volumes bind-mounted in the task's mount namespace, RO and RW, and refused
(never ignored) when they cannot be mounted."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import protocol as p
from actors.agent import (
    REASON_CONTAINER_LAUNCH_FAILED,
    TASK_FAILED,
    TASK_FINISHED,
    NativeContainerizer,
    Sandbox,
    TaskSpec,
    UpdateLog,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")


@pytest.fixture
def native(work_dir: Path) -> Iterator[NativeContainerizer]:
    c = NativeContainerizer(work_dir / "agent", cgroup_root=f"pydcos-test-{os.getpid()}")
    if not c.isolated:
        pytest.skip(f"no isolation: {c.isolation_note}")
    yield c
    c.remove_cgroup_root(kill_tasks=True)


def run(c: NativeContainerizer, spec: TaskSpec) -> tuple[str, UpdateLog, str]:
    u = UpdateLog()
    h = c.launch(spec, None, u)
    state = h.wait(30)
    assert state is not None, u.updates
    out = Sandbox(c.work_dir, spec.task_id)
    logs = [f.read_text() for f in (out.stdout, out.stderr) if f.exists()]
    return state, u, "".join(logs)


def test_host_and_sandbox_volumes_mount_read_only_and_read_write(
    native: NativeContainerizer, tmp_path: Path
) -> None:
    ro = tmp_path / "ro-data"  # under /tmp: hidden by the task's private /tmp, still mounted
    ro.mkdir()
    (ro / "hello").write_text("from the host\n")
    rw = tmp_path / "rw-data"
    spec = TaskSpec(
        task_id="vols",
        command=(
            "cat data/hello; "
            "{ echo x > data/new; } 2>/dev/null && echo RO-WRITABLE || echo ro-refused; "
            "echo written > /tmp/out/file && echo rw-ok; "
            "echo shared > scratch/s && cat cache/s; "
            "grep -c ' /tmp/out ' /proc/self/mounts"
        ),
        volumes=(
            p.VolumeInfo("data", str(ro), "RO"),
            p.VolumeInfo("/tmp/out", str(rw), "RW"),
            p.VolumeInfo("scratch", "cache", "RW"),  # sandbox volume: <sandbox>/cache
        ),
    )
    state, u, out = run(native, spec)
    assert state == TASK_FINISHED, (u.updates, out)
    assert out.splitlines() == ["from the host", "ro-refused", "rw-ok", "shared", "1"], out
    assert (rw / "file").read_text() == "written\n"  # created on the host, written through
    assert not (ro / "new").exists()
    assert (Path(native.work_dir) / "sandboxes/vols/cache/s").read_text() == "shared\n"
    # The mounts lived in the task's namespace only.
    assert str(rw) not in Path("/proc/self/mounts").read_text()


def test_a_missing_absolute_container_path_fails_the_task_naming_it(
    native: NativeContainerizer,
) -> None:
    spec = TaskSpec(
        task_id="nodir",
        command="true",
        volumes=(p.VolumeInfo("/no/such/pydcos-dir", "/srv", "RO"),),
    )
    state, u, _ = run(native, spec)
    assert state == TASK_FAILED
    assert u.updates[-1][1] == REASON_CONTAINER_LAUNCH_FAILED
    assert "'/no/such/pydcos-dir'" in u.updates[-1][2] and "does not exist" in u.updates[-1][2]


def test_volumes_without_isolation_fail_instead_of_being_ignored(work_dir: Path) -> None:
    c = NativeContainerizer(work_dir, isolation=False)
    spec = TaskSpec(task_id="noiso", command="true", volumes=(p.VolumeInfo("d", "/srv", "RO"),))
    state, u, _ = run(c, spec)
    assert state == TASK_FAILED
    assert "cannot run a task with volumes" in u.updates[-1][2]


def test_a_volume_below_a_directory_hidden_from_the_tasks_user_is_still_mounted() -> None:
    """A task user's sandbox below a directory closed to that user (hidden under an empty
    tmpfs, `_user.closed_ancestor`): a host path in that directory is mounted through the
    descriptor the init opened before hiding it; the rest of the directory stays hidden."""
    closed = Path(tempfile.mkdtemp(prefix="pydcos-vol-", dir="/var/tmp"))  # mode 0700
    try:
        data = closed / "data"
        data.mkdir(mode=0o755)
        (data / "f").write_text("behind a closed directory\n")
        (closed / "secret").write_text("root only")
        c = NativeContainerizer(closed / "work", cgroup_root=f"pydcos-test-{os.getpid()}")
        spec = TaskSpec(
            task_id="hidden",
            command=f"id -u; cat vol/f; ls -A {closed}",
            user="nobody",
            volumes=(p.VolumeInfo("vol", str(data), "RO"),),
        )
        state, u, out = run(c, spec)
        assert state == TASK_FINISHED, (u.updates, out)
        assert out.splitlines() == ["65534", "behind a closed directory", "work"]
    finally:
        shutil.rmtree(closed)
