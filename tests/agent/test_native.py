"""Native ("mesos") containerizer against the real kernel: cgroups, namespaces, OOM."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from actors.agent import (
    REASON_CONTAINER_LIMITATION_MEMORY,
    TASK_ERROR,
    TASK_FAILED,
    TASK_FINISHED,
    TASK_KILLED,
    TASK_RUNNING,
    Containerizers,
    HealthCheckSpec,
    HealthReport,
    NativeContainerizer,
    Sandbox,
    TaskSpec,
    UpdateLog,
    UriSpec,
    copytruncate,
)
from tests.agent.conftest import wait_for

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def run(c: NativeContainerizer, spec: TaskSpec, timeout: float = 20) -> tuple[str, UpdateLog]:
    u = UpdateLog()
    h = c.launch(spec, None, u)
    state = h.wait(timeout)
    assert state is not None, f"{spec.task_id} did not end: {u.updates}"
    return state, u


@pytest.fixture
def native(work_dir: Path) -> Iterator[NativeContainerizer]:
    c = NativeContainerizer(work_dir, cgroup_root=f"pydcos-test-{os.getpid()}")
    yield c
    c.remove_cgroup_root(kill_tasks=True)  # whatever a failed test left behind


def test_output_and_mesos_environment_land_in_the_sandbox(native: NativeContainerizer) -> None:
    spec = TaskSpec(
        task_id="env",
        command='echo out; echo err >&2; echo "$MESOS_SANDBOX|$PYDCOS_SANDBOX|$HOST|'
        '$PORT|$PORT0|$PORT1|$PORTS|$MESOS_TASK_ID|$MARATHON_APP_ID"; pwd',
        ports=(31000, 31001),
        env=(("MARATHON_APP_ID", "/web"),),  # Marathon sends it in the task env
    )
    state, u = run(native, spec)
    assert state == TASK_FINISHED, u.updates
    sb = Sandbox(native.work_dir, "env")
    out = sb.stdout.read_text().splitlines()
    assert out[0] == "out"
    assert out[1] == f"{sb.path}|{sb.path}|127.0.0.1|31000|31000|31001|31000,31001|env|/web"
    assert out[2] == str(sb.path)
    assert sb.stderr.read_text() == "err\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root")
def test_isolated_task_has_own_pid_namespace_private_tmp_and_limits(
    native: NativeContainerizer,
) -> None:
    marker = Path("/tmp") / f"pydcos-host-marker-{os.getpid()}"
    marker.write_text("x")
    try:
        spec = TaskSpec(
            task_id="iso",
            command=f"echo $$; test -e {marker} && echo leak || echo private; ls /tmp | wc -l",
            cpus=0.5,
            mem=64,
        )
        state, u = run(native, spec)
    finally:
        marker.unlink()
    assert state == TASK_FINISHED, u.updates
    pid, tmp, _ = Sandbox(native.work_dir, "iso").stdout.read_text().split()
    assert int(pid) < 10  # pid namespace: one of the first processes in it
    assert tmp == "private"
    assert "WITHOUT isolation" not in u.updates[1][2]


def test_exit_codes_map_to_finished_and_failed(native: NativeContainerizer) -> None:
    assert run(native, TaskSpec(task_id="ok", command="true"))[0] == TASK_FINISHED
    state, u = run(native, TaskSpec(task_id="bad", command="exit 3"))
    assert state == TASK_FAILED and u.updates[-1][2] == "exited with status 3"


def test_command_that_does_not_exist_fails_saying_so(native: NativeContainerizer) -> None:
    state, u = run(native, TaskSpec(task_id="nocmd", command="no-such-command-xyz"))
    assert state == TASK_FAILED
    assert "command not found" in u.updates[-1][2] and "no-such-command-xyz" in u.updates[-1][2]


def test_memory_below_minimum_is_a_task_error(native: NativeContainerizer) -> None:
    state, u = run(native, TaskSpec(task_id="tiny", command="true", mem=16))
    assert state == TASK_ERROR and "below the minimum of 32 MB" in u.updates[-1][2]


def test_port_that_is_not_free_fails_with_the_port(native: NativeContainerizer) -> None:
    import socket

    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        state, u = run(native, TaskSpec(task_id="busy", command="true", ports=(port,)))
    finally:
        s.close()
    assert state == TASK_FAILED
    assert u.updates[-1][1:] == (
        "REASON_CONTAINER_LAUNCH_FAILED",
        f"port {port} is already in use on this host",
    )


def test_kill_sends_sigterm_then_sigkill_after_grace(native: NativeContainerizer) -> None:
    u = UpdateLog()
    spec = TaskSpec(
        task_id="stubborn",
        command="trap 'echo got-term' TERM; echo ready; while :; do sleep 0.1; done",
        kill_grace_period=0.5,
    )
    h = native.launch(spec, None, u)
    wait_for(lambda: "ready" in h.sandbox.tail("stdout"), what="ready")
    pids = h.cgroup.pids() if h.cgroup else [p for p in [h.pid] if p]
    h.kill()
    assert h.wait(10) == TASK_KILLED
    assert "got-term" in h.sandbox.stdout.read_text()
    wait_for(lambda: all(gone(p) for p in pids), 5, "tree gone")


def test_polite_task_ends_on_sigterm(native: NativeContainerizer) -> None:
    u = UpdateLog()
    h = native.launch(TaskSpec(task_id="polite", command="sleep 60", kill_grace_period=30), None, u)
    wait_for(lambda: h.pid, what="pid")
    h.kill()
    assert h.wait(10) == TASK_KILLED  # well before the 30 s grace


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroup limits need root")
def test_exceeding_memory_is_reported_as_memory_limitation(native: NativeContainerizer) -> None:
    spec = TaskSpec(
        task_id="hog",
        command="dd if=/dev/zero bs=1M count=200 2>/dev/null | tail -c 150000000 >/dev/null",
        mem=48,
    )
    state, u = run(native, spec, 30)
    assert state == TASK_FAILED
    assert u.updates[-1][1] == REASON_CONTAINER_LIMITATION_MEMORY
    assert "memory limit exceeded" in u.updates[-1][2]


def test_usage_reports_cpu_and_memory(native: NativeContainerizer) -> None:
    u = UpdateLog()
    h = native.launch(TaskSpec(task_id="busy-cpu", command="while :; do :; done"), None, u)
    wait_for(lambda: h.pid, what="pid")
    wait_for(lambda: (x := h.usage()) and x.cpu_time_s > 0.01, what="cpu usage")
    usage = h.usage()
    assert usage is not None and usage.mem_bytes > 0
    h.kill(0)
    assert h.wait(10) == TASK_KILLED


# -- health checks ---------------------------------------------------------------------
FAST = {
    "grace_period_seconds": 15,
    "interval_seconds": 0.2,
    "timeout_seconds": 1,
    "max_consecutive_failures": 3,
    "delay_seconds": 0,
}


def test_http_health_check_turns_healthy_then_unhealthy_kills(
    native: NativeContainerizer,
) -> None:
    port = free_port()
    reports: list[HealthReport] = []
    spec = TaskSpec(
        task_id="web",
        # busybox, not this venv's Python: the task's private /tmp hides a checkout
        # (and its venv) that lives under /tmp.
        command=f"/bin/busybox httpd -f -p 127.0.0.1:{port} -h . & "
        "echo started; sleep 2; rm -rf ./*; echo gone > /dev/null; kill %1; sleep 60",
        ports=(port,),
        health_checks=(HealthCheckSpec(protocol="HTTP", path="/stdout", **FAST),),  # type: ignore[arg-type]
    )
    u = UpdateLog()
    h = native.launch(spec, None, u, reports.append)
    wait_for(lambda: any(r.healthy for r in reports), what="healthy")
    assert h.wait(20) == TASK_KILLED
    assert reports[-1].kill and not reports[-1].healthy
    assert "consecutive failed health checks" in u.updates[-1][2]


def test_tcp_health_check_healthy(native: NativeContainerizer) -> None:
    port = free_port()
    reports: list[HealthReport] = []
    spec = TaskSpec(
        task_id="tcp",
        command=f"/bin/busybox httpd -f -p 127.0.0.1:{port} -h .",
        ports=(port,),
        health_checks=(HealthCheckSpec(protocol="TCP", **FAST),),  # type: ignore[arg-type]
    )
    h = native.launch(spec, None, UpdateLog(), reports.append)
    wait_for(lambda: any(r.healthy for r in reports), what="tcp healthy")
    h.kill(0)
    assert h.wait(10) == TASK_KILLED


def test_command_health_check_unhealthy_then_killed(native: NativeContainerizer) -> None:
    reports: list[HealthReport] = []
    spec = TaskSpec(
        task_id="cmdcheck",
        command="touch ok; sleep 1; rm ok; sleep 60",
        health_checks=(HealthCheckSpec(protocol="COMMAND", command="test -e ok", **FAST),),  # type: ignore[arg-type]
    )
    h = native.launch(spec, None, UpdateLog(), reports.append)
    assert h.wait(20) == TASK_KILLED
    assert [r.healthy for r in reports][:1] == [True]
    assert reports[-1].kill


def test_several_health_checks_all_must_pass_and_any_can_kill(
    native: NativeContainerizer,
) -> None:
    port = free_port()
    reports: list[HealthReport] = []
    spec = TaskSpec(
        task_id="twochecks",
        command=f"/bin/busybox httpd -f -p 127.0.0.1:{port} -h . & "
        "sleep 1; touch ok; sleep 1; rm ok; sleep 60",
        ports=(port,),
        health_checks=(
            HealthCheckSpec(protocol="TCP", **FAST),  # type: ignore[arg-type]
            HealthCheckSpec(protocol="COMMAND", command="test -e ok", **FAST),  # type: ignore[arg-type]
        ),
    )
    h = native.launch(spec, None, UpdateLog(), reports.append)
    assert h.wait(20) == TASK_KILLED
    # Healthy only once both passed: the first report carries both checks' messages.
    assert reports[0].healthy
    assert "TCP connect" in reports[0].message and "command" in reports[0].message
    assert [r.kill for r in reports].count(True) == 1 and reports[-1].kill
    assert "command health check" in reports[-1].message


# -- fetcher and sandbox ----------------------------------------------------------------
@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(root), **kw)  # type: ignore[arg-type]

        def log_message(self, *a: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield root, int(srv.server_address[1])
    srv.shutdown()
    srv.server_close()


def test_fetcher_file_http_extract_and_executable(
    native: NativeContainerizer, http_dir: tuple[Path, int], tmp_path: Path
) -> None:
    root, port = http_dir
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = b"from-tar\n"
        info = tarfile.TarInfo("tardir/a.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    (root / "bundle.tar.gz").write_bytes(buf.getvalue())
    with zipfile.ZipFile(root / "bundle.zip", "w") as z:
        z.writestr("zipdir/b.txt", "from-zip\n")
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho from-script\n")
    spec = TaskSpec(
        task_id="fetch",
        command="./run.sh; cat tardir/a.txt zipdir/b.txt; cat plain.txt",
        uris=(
            UriSpec(f"file://{script}", executable=True),
            UriSpec(f"http://127.0.0.1:{port}/bundle.tar.gz"),
            UriSpec(f"http://127.0.0.1:{port}/bundle.zip"),
            UriSpec(str(script), output_file="plain.txt"),
        ),
    )
    state, u = run(native, spec)
    assert state == TASK_FINISHED, (u.updates, Sandbox(native.work_dir, "fetch").tail("stderr"))
    out = Sandbox(native.work_dir, "fetch").stdout.read_text()
    assert out.startswith("from-script\nfrom-tar\nfrom-zip\n#!/bin/sh")


def test_unfetchable_uri_fails_with_a_clear_message(
    native: NativeContainerizer, http_dir: tuple[Path, int]
) -> None:
    _, port = http_dir
    state, u = run(
        native,
        TaskSpec(task_id="f404", command="true", uris=(UriSpec(f"http://127.0.0.1:{port}/nope"),)),
    )
    assert state == TASK_FAILED and "HTTP 404" in u.updates[-1][2] and "/nope" in u.updates[-1][2]
    state, u = run(
        native, TaskSpec(task_id="fmissing", command="true", uris=(UriSpec("/no/such/file"),))
    )
    assert state == TASK_FAILED and "cannot fetch '/no/such/file'" in u.updates[-1][2]


def test_log_rotation_caps_the_size(tmp_path: Path) -> None:
    p = tmp_path / "stdout"
    for i in range(5):
        with open(p, "ab") as f:
            f.write(bytes([65 + i]) * 150)
        copytruncate(p, 100, 2)
    assert p.stat().st_size == 0
    assert (tmp_path / "stdout.1").read_bytes() == b"E" * 150
    assert (tmp_path / "stdout.2").read_bytes() == b"D" * 150
    assert not (tmp_path / "stdout.3").exists()


def test_native_log_rotation_while_running(work_dir: Path) -> None:
    c = NativeContainerizer(
        work_dir,
        max_log_bytes=2000,
        max_log_files=2,
        rotate_interval=0.1,
        cgroup_root=f"pydcos-test-{os.getpid()}",
    )
    h = c.launch(
        TaskSpec(task_id="chatty", command="while :; do echo 0123456789; sleep 0.01; done"),
        None,
        UpdateLog(),
    )
    wait_for(lambda: (h.sandbox.path / "stdout.2").exists(), 20, "stdout.2")
    assert not (h.sandbox.path / "stdout.3").exists()
    h.kill(0)
    assert h.wait(10) == TASK_KILLED


def test_facade_reports_docker_unavailable_without_raising(work_dir: Path) -> None:
    cs = Containerizers(work_dir, ["mesos", "docker"], docker_url="unix:///nonexistent.sock")
    assert cs.available() == ["mesos"]
    assert "unreachable" in cs.reasons["docker"]
    u = UpdateLog()
    h = cs.launch(TaskSpec(task_id="d", container_type="DOCKER", image="x"), None, u)
    assert h.wait(1) == TASK_FAILED and "unreachable" in u.updates[-1][2]


# -- recovery ------------------------------------------------------------------------
AGENT = """
import sys, time
sys.path.insert(0, {repo!r})
from actors.agent import NativeContainerizer, TaskSpec
c = NativeContainerizer({wd!r}, cgroup_root={cg!r})
hs = [c.launch(TaskSpec(task_id="long", command="sleep 60"), None, lambda *a: None),
      c.launch(TaskSpec(task_id="short", command="sleep 1; exit 4"), None, lambda *a: None)]
while not all(h.pid for h in hs):
    time.sleep(0.01)
print(" ".join(str(h.pid) for h in hs), flush=True)
time.sleep(600)
"""


def test_recover_reattaches_running_task_and_reports_one_that_died(work_dir: Path) -> None:
    cg = f"pydcos-test-{os.getpid()}"
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT.format(repo=str(REPO), wd=str(work_dir), cg=cg)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert agent.stdout is not None
    long_pid, short_pid = (int(x) for x in agent.stdout.readline().split())
    os.kill(agent.pid, signal.SIGKILL)  # the agent dies; its tasks must not
    agent.wait()
    assert psutil.pid_exists(long_pid)
    wait_for(
        lambda: (
            not psutil.pid_exists(short_pid)
            or psutil.Process(short_pid).status() == psutil.STATUS_ZOMBIE
        ),
        10,
        "short ends",
    )
    # (an orphan stays a zombie until init reaps it; recover() counts zombies as gone)
    c = NativeContainerizer(work_dir, cgroup_root=cg)
    updates: dict[str, UpdateLog] = {}
    got = {
        r.task_id: r for r in c.recover(on_update_for=lambda t: updates.setdefault(t, UpdateLog()))
    }
    assert got["long"].running and got["long"].handle.pid == long_pid
    assert not got["short"].running
    assert got["short"].state == TASK_FAILED and "exited with status 4" in got["short"].message
    h = got["long"].handle
    h.kill(0)
    assert h.wait(10) == TASK_KILLED
    assert updates["long"].states() == [TASK_KILLED]
    wait_for(lambda: gone(long_pid), 5, "long gone")
    # A second restart finds both tasks terminal in their checkpoints.
    again = {r.task_id: r.state for r in NativeContainerizer(work_dir, cgroup_root=cg).recover()}
    assert again == {"long": TASK_KILLED, "short": TASK_FAILED}


def test_running_state_message_says_when_unisolated(work_dir: Path) -> None:
    c = NativeContainerizer(work_dir, isolation=False)
    state, u = run(c, TaskSpec(task_id="plain", command="true"))
    assert state == TASK_FINISHED
    assert [s for s, _, m in u.updates if s == TASK_RUNNING and "WITHOUT isolation" in m]
