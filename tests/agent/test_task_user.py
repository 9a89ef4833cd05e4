"""Tasks run as their user (issue 30): the app's ``user``, else the agent's
``--default-user`` (``nobody`` for an agent running as root), root only when asked for.

Mesos' rule (``CommandInfo.user``, ``--switch_user``): the command runs with the user's
uid, gid and groups, in a sandbox it owns; a user that does not exist fails the task
saying which; an agent that is not root never runs a task as itself instead of the user
asked for.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors import protocol as p
from actors.agent import (
    REASON_CONTAINER_LAUNCH_FAILED,
    TASK_FAILED,
    TASK_FINISHED,
    HealthCheckSpec,
    HealthReport,
    NativeContainerizer,
    SpecError,
    TaskSpec,
    UpdateLog,
    _user,
    check_default_user,
    default_task_user,
    task_spec,
)
from actors.resources import Resources
from tests._wait import wait_for

NOBODY = pwd.getpwnam("nobody")
REPO = Path(__file__).resolve().parents[2]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")

# ------------------------------------------------------------------------------ pure


def info(user: str | None = None, container: p.ContainerInfo | None = None) -> p.TaskInfo:
    return p.TaskInfo(
        "t",
        "t",
        "a",
        Resources.parse("cpus:0.1;mem:32").to_dict(),
        p.CommandSpec("id -u", user=user),
        container,
    )


@pytest.mark.parametrize(
    ("user", "default", "container", "expected"),
    [
        ("alice", "nobody", None, "alice"),  # the task's own user wins
        (None, "nobody", None, "nobody"),  # else the agent's default
        ("", "nobody", None, "nobody"),  # Marathon's "" is no user
        (None, None, None, None),  # else the agent's own user
        (None, "nobody", p.ContainerInfo("DOCKER", docker=p.DockerInfo("x")), None),  # image's
        ("alice", "nobody", p.ContainerInfo("DOCKER", docker=p.DockerInfo("x")), "alice"),
    ],
)
def test_the_tasks_user_then_the_agents_default(
    user: str | None, default: str | None, container: Any, expected: str | None
) -> None:
    assert task_spec(info(user, container), default_user=default).user == expected


def test_metronomes_run_user_reaches_the_task() -> None:
    from actors.metronome import task_info
    from actors.metronome._job import JobSpec
    from actors.metronome._run import JobRun

    job = JobSpec.from_json({"id": "etl", "run": {"cmd": "id -u", "user": "nobody"}})
    spec = task_spec(task_info(JobRun("r1", job, 0.0), "etl.r1", "a"), default_user="other")
    assert spec.user == "nobody"


@pytest.mark.parametrize("bad", ["a b", "x:y", "../x", "nul\0", "\n"])
def test_a_user_that_cannot_be_a_name_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(SpecError, match=r"^user: "):
        task_spec(info(bad))


def test_switching_needs_root_running_as_oneself_does_not() -> None:
    bob = _user.RunAs("bob", 1001, 1001, (1001, 27))
    assert _user.switch_problem(bob, 0) is None
    assert _user.switch_problem(bob, 1001) is None
    problem = _user.switch_problem(bob, 1000)
    assert problem is not None and "'bob'" in problem and "not root" in problem
    assert _user.setpriv_argv(bob, "/usr/bin/setpriv") == [
        "/usr/bin/setpriv",
        "--reuid=1001",
        "--regid=1001",
        "--groups=1001,27",
        "--",
    ]


def test_an_unknown_user_is_named_and_a_non_root_agent_refuses_another_user() -> None:
    with pytest.raises(_user.UserError, match="user 'no-such-user-x' does not exist"):
        _user.resolve("no-such-user-x")
    with pytest.raises(_user.UserError, match=r"'root'.*not root"):
        _user.resolve("root", euid=NOBODY.pw_uid)
    assert _user.resolve("nobody", euid=NOBODY.pw_uid) is None  # itself: no switch
    assert _user.resolve(None) is None


def test_default_user_is_nobody_for_a_root_agent_and_checked_at_start() -> None:
    assert default_task_user(0) == "nobody"
    assert default_task_user(1000) is None
    assert check_default_user("nobody", euid=0) == "nobody"
    with pytest.raises(ValueError, match="--default-user: user 'no-such-user-x'"):
        check_default_user("no-such-user-x", euid=0)
    with pytest.raises(ValueError, match=r"--default-user: .*'root'.*not root"):
        check_default_user("root", euid=NOBODY.pw_uid)
    with pytest.raises(ValueError, match="--default-user: user: "):
        check_default_user("a b", euid=0)


def test_pydcos_agent_refuses_an_unknown_default_user_in_one_line(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "console.cli", "agent", "--zk", "127.0.0.1:1"]
    argv += ["--insecure-dev", "--work-dir", str(tmp_path), "--default-user", "no-such-user-x"]
    r = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=60)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert "--default-user" in lines[0] and "'no-such-user-x'" in lines[0]


# ------------------------------------------------------------------------------ native


@pytest.fixture(params=[True, False], ids=["isolated", "plain"])
def native(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NativeContainerizer]:
    c = NativeContainerizer(
        tmp_path, cgroup_root=f"pydcos-test-{os.getpid()}", isolation=request.param
    )
    yield c
    c.remove_cgroup_root(kill_tasks=True)


@as_root
def test_a_native_task_runs_as_its_user_in_a_sandbox_it_owns(
    native: NativeContainerizer,
) -> None:
    u = UpdateLog()
    spec = TaskSpec(
        task_id="as-nobody",
        command='id -u > uid; id -g > gid; echo "$USER"; touch made-here',
        user="nobody",
    )
    h = native.launch(spec, None, u)
    assert h.wait(20) == TASK_FINISHED, u.updates
    sandbox = h.sandbox.path
    assert (sandbox / "uid").read_text().strip() == str(NOBODY.pw_uid)
    assert (sandbox / "gid").read_text().strip() == str(NOBODY.pw_gid)
    assert h.sandbox.stdout.read_text().strip() == "nobody"
    assert sandbox.stat().st_uid == NOBODY.pw_uid
    assert (sandbox / "made-here").stat().st_uid == NOBODY.pw_uid


@as_root
def test_a_sandbox_below_a_directory_closed_to_the_user_is_reachable_at_its_path() -> None:
    """A work dir under root's 0700 home (``cluster up``'s default state dir): the task
    (as nobody) still reaches ``$MESOS_SANDBOX`` by its absolute path, and sees nothing
    else of the closed directory."""
    closed = Path(tempfile.mkdtemp(prefix="pydcos-user-", dir="/var/tmp"))  # mode 0700
    native = NativeContainerizer(closed / "work", cgroup_root=f"pydcos-test-{os.getpid()}")
    (closed / "secret").write_text("root only")
    try:
        u = UpdateLog()
        command = f'echo hi > "$MESOS_SANDBOX/abs" && ls -A {closed}'
        spec = TaskSpec(task_id="closed", command=command, user="nobody")
        h = native.launch(spec, None, u)
        assert h.wait(20) == TASK_FINISHED, (u.updates, h.sandbox.stderr.read_text())
        assert (h.sandbox.path / "abs").read_text() == "hi\n"
        assert h.sandbox.stdout.read_text().split() == ["work"]  # no "secret"
    finally:
        native.remove_cgroup_root(kill_tasks=True)
        shutil.rmtree(closed)


def test_the_topmost_directory_closed_to_the_user_is_found() -> None:
    nobody = _user.RunAs("nobody", 65534, 65534, (65534,))
    modes = {"/": 0o755, "/root": 0o700, "/root/a": 0o700, "/root/a/b": 0o755}

    def fake_stat(path: Path) -> os.stat_result:
        return os.stat_result((0o040000 | modes[str(path)], 0, 0, 0, 0, 0, 0, 0, 0, 0))

    assert _user.closed_ancestor(Path("/root/a/b/sandbox"), nobody, fake_stat) == Path("/root")
    root = _user.RunAs("root", 0, 0, (0,))
    assert _user.closed_ancestor(Path("/root/a/b/sandbox"), root, fake_stat) is None


@as_root
def test_an_unknown_user_fails_the_task_naming_the_user(native: NativeContainerizer) -> None:
    u = UpdateLog()
    h = native.launch(TaskSpec(task_id="ghost", command="true", user="no-such-user-x"), None, u)
    assert h.wait(20) == TASK_FAILED
    _, reason, message = u.updates[-1]
    assert reason == REASON_CONTAINER_LAUNCH_FAILED
    assert message == "user 'no-such-user-x' does not exist on this agent"
    assert "TASK_RUNNING" not in u.states()


@as_root
def test_command_health_checks_run_as_the_tasks_user(native: NativeContainerizer) -> None:
    reports: list[HealthReport] = []
    check = HealthCheckSpec(
        protocol="COMMAND",
        command=f'test "$(id -u)" = {NOBODY.pw_uid}',
        grace_period_seconds=0,
        interval_seconds=0.2,
        timeout_seconds=5,
        delay_seconds=0,
    )
    spec = TaskSpec(task_id="hc", command="sleep 30", user="nobody", health_checks=(check,))
    h = native.launch(spec, None, UpdateLog(), reports.append)
    try:
        first = wait_for(lambda: reports[:1], 20, "a health result")[0]
        assert first.healthy, first.message
    finally:
        h.kill(0)
        h.wait(20)


# ------------------------------------------------------------------------------ end to end


@as_root
@pytest.mark.slow
@pytest.mark.zk
def test_marathon_apps_run_as_their_user_or_the_agents_default(
    zk_hosts: str, zk_chroot: str, zk_client: Any, tmp_path: Path
) -> None:
    """`pydcos agent` as root: an app without ``user`` runs as nobody, ``"user": "root"``
    as root (asked for), an unknown user fails naming it."""
    from tests.marathon.test_marathon_e2e import APPS, E2E, _app

    e2e = E2E(f"{zk_hosts}{zk_chroot}", tmp_path, zk_client)
    try:
        e2e.master()
        e2e.agent("cpus:2;mem:512;ports:[31000-31050]", containerizers="mesos")
        work = e2e.work_dirs[-1]
        http = e2e.http()
        wait_for(lambda: http.get("/marathon/v2/info")["frameworkId"], what="Marathon up")

        def uid_of(app_id: str, **extra: Any) -> str:
            app = {"id": app_id, "cmd": "id -u; sleep 1000", "cpus": 0.1, "mem": 32, **extra}
            status, body, _ = http("POST", APPS, app)
            assert status == 201, body
            task = wait_for(
                lambda: [t for t in _app(http, app_id)["tasks"] if t["state"] == "TASK_RUNNING"],
                timeout=30,
                what=f"{app_id} running",
            )[0]
            out = work / "sandboxes" / task["id"] / "stdout"
            return str(wait_for(lambda: out.read_text().strip(), what=f"{app_id} output"))

        assert uid_of("/plain") == str(NOBODY.pw_uid)
        assert uid_of("/as-root", user="root") == "0"
        app = {"id": "/ghost", "cmd": "true", "cpus": 0.1, "mem": 32, "user": "no-such-user-x"}
        assert http("POST", APPS, app)[0] == 201
        failure = wait_for(lambda: _app(http, "/ghost").get("lastTaskFailure"), timeout=30)
        assert failure["state"] == "TASK_FAILED"
        assert failure["message"] == "user 'no-such-user-x' does not exist on this agent"
    finally:
        e2e.stop()


# ------------------------------------------------------------------------------ docker


@pytest.mark.docker
def test_a_docker_task_runs_as_its_user_inside_the_image(dockerd: Any, tmp_path: Path) -> None:
    from actors.agent import TEST_IMAGE, DockerContainerizer

    dk = DockerContainerizer(tmp_path, dockerd.url, agent_id=f"test-{tmp_path.name[-12:]}")

    def docker(task_id: str, user: str | None) -> TaskSpec:
        return TaskSpec(
            task_id=task_id,
            command="id -u",
            container_type="DOCKER",
            image=TEST_IMAGE,
            mem=64,
            user=user,
        )

    u = UpdateLog()
    h = dk.launch(docker("dk-nobody", str(NOBODY.pw_uid)), None, u)  # no passwd in the image
    assert h.wait(60) == TASK_FINISHED, u.updates
    assert h.sandbox.stdout.read_text().strip() == str(NOBODY.pw_uid)
    u = UpdateLog()
    h = dk.launch(docker("dk-ghost", "no-such-user-x"), None, u)
    assert h.wait(60) == TASK_FAILED
    _, reason, message = u.updates[-1]
    assert reason == REASON_CONTAINER_LAUNCH_FAILED and "no-such-user-x" in message, message
