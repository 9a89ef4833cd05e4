"""Pure parts of the native runtime: the init script, volume planning and validation,
and the image's argv/env/user applied as the Mesos runtime does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from actors import protocol as p
from actors.agent import LaunchError
from actors.agent._images import ImageConfig, Rootfs
from actors.agent._native import (
    DEFAULT_IMAGE_PATH,
    IMAGE_SANDBOX,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REMOUNT,
    ImageUser,
    Mount,
    VolumeError,
    host_mounts,
    image_argv,
    image_env,
    image_mounts,
    image_user,
    init_script,
    ops_argv,
    rootfs_ops,
)

CFG = ImageConfig(
    entrypoint=("/bin/ep", "-x"),
    cmd=("serve", "--port", "80"),
    env=("PATH=/opt/bin:/bin", "A=image", "B=image"),
    working_dir="/app",
    user="www",
)
PASSWD = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34:www:/var/www:/bin/false\n# comment\n"
GROUP = "root:x:0:\nwww-data:x:34:\nweb:x:101:www,other\nadm:x:4:www\n"


# -- validation (Marathon / Metronome -> 422, the typed description) --------------------


@pytest.mark.parametrize(
    ("container_path", "host_path", "field"),
    [
        ("../up", "/srv", "container_path"),
        ("a/../../up", "/srv", "container_path"),
        (".", "/srv", "container_path"),
        ("/", "/srv", "container_path"),
        ("data", "../../etc", "host_path"),
        ("data", "x/../..", "host_path"),
    ],
)
def test_volume_paths_leaving_the_sandbox_are_refused(
    container_path: str, host_path: str, field: str
) -> None:
    bad = p.volume_problem(container_path, host_path)
    assert bad is not None and bad[0] == field
    with pytest.raises(p.TaskDescriptionError, match=f"VolumeInfo.{field}"):
        p.VolumeInfo(container_path, host_path, "RO")


@pytest.mark.parametrize(
    ("container_path", "host_path"),
    [
        ("data", "/srv/data"),
        ("/var/lib/x", "/srv"),
        ("a/b", "cache"),
        ("logs", "."),
        ("x", "a/../b"),
    ],
)
def test_volumes_inside_the_sandbox_or_with_absolute_paths_are_fine(
    container_path: str, host_path: str
) -> None:
    assert p.volume_problem(container_path, host_path) is None


def test_marathon_and_metronome_answer_422_naming_the_volume_field() -> None:
    from actors.marathon import AppDefinition
    from actors.marathon import ValidationFailed as MarathonInvalid
    from actors.metronome import JobSpec
    from actors.metronome import ValidationFailed as MetronomeInvalid

    vol = {"containerPath": "../escape", "hostPath": "/srv", "mode": "RW"}
    with pytest.raises(MarathonInvalid) as app_err:
        AppDefinition.from_json({"id": "/a", "cmd": "x", "container": {"volumes": [vol]}})
    assert app_err.value.status == 422
    assert app_err.value.paths == ["/container/volumes/0/containerPath"]
    run = {"cmd": "true", "cpus": 0.1, "mem": 32, "disk": 0}
    bad_host = {"containerPath": "d", "hostPath": "../../etc", "mode": "RO"}
    with pytest.raises(MetronomeInvalid) as job_err:
        JobSpec.from_json({"id": "j", "run": {**run, "volumes": [bad_host]}})
    assert job_err.value.paths == ["/run/volumes/0/hostPath"]
    ok = {"containerPath": "data", "hostPath": "/srv/data", "mode": "RO"}
    assert JobSpec.from_json({"id": "j", "run": {**run, "volumes": [ok]}}).run.volumes


def test_marathon_refuses_docker_engine_switches_on_a_mesos_container() -> None:
    from actors.marathon import AppDefinition, ValidationFailed

    image = {"image": "busybox", "privileged": True, "parameters": [{"key": "a", "value": "b"}]}
    with pytest.raises(ValidationFailed) as err:
        AppDefinition.from_json({"id": "/a", "container": {"type": "MESOS", "docker": image}})
    assert err.value.paths == ["/container/docker/privileged", "/container/docker/parameters"]
    app = AppDefinition.from_json(
        {"id": "/a", "container": {"type": "MESOS", "docker": {"image": "busybox"}}}
    )
    assert app.container is not None and app.container.docker is not None


# -- the image's command, environment and user ------------------------------------------


def test_shell_command_runs_through_the_images_sh_ignoring_entrypoint_and_cmd() -> None:
    assert image_argv("echo hi", (), CFG, "img") == ["/bin/sh", "-c", "echo hi"]


def test_args_follow_the_entrypoint_and_replace_cmd() -> None:
    assert image_argv(None, ("a", "b"), CFG, "img") == ["/bin/ep", "-x", "a", "b"]
    assert image_argv(None, (), CFG, "img") == ["/bin/ep", "-x", "serve", "--port", "80"]
    no_ep = ImageConfig(cmd=("httpd", "-f"))
    assert image_argv(None, (), no_ep, "img") == ["httpd", "-f"]
    assert image_argv(None, ("sh",), no_ep, "img") == ["sh"]


def test_an_image_without_entrypoint_or_cmd_needs_a_command() -> None:
    with pytest.raises(LaunchError, match="image 'bare' has neither Entrypoint nor Cmd"):
        image_argv(None, (), ImageConfig(), "bare")


def test_env_image_over_defaults_task_over_image() -> None:
    user = ImageUser(33, 34, (), "/var/www")
    env = image_env(CFG, {"B": "task", "MESOS_SANDBOX": IMAGE_SANDBOX}, user)
    assert env == {
        "PATH": "/opt/bin:/bin",
        "HOME": "/var/www",
        "A": "image",
        "B": "task",
        "MESOS_SANDBOX": IMAGE_SANDBOX,
    }
    assert image_env(ImageConfig(), {}, ImageUser(0, 0, (), "/root"))["PATH"] == DEFAULT_IMAGE_PATH


def test_user_resolved_in_the_images_own_passwd_and_group() -> None:
    assert image_user("www", PASSWD, GROUP, "img") == ImageUser(33, 34, (4, 101), "/var/www")
    assert image_user("", PASSWD, GROUP, "img") == ImageUser(0, 0, (), "/root")
    assert image_user("33:web", PASSWD, GROUP, "img") == ImageUser(33, 101, (4,), "/var/www")
    assert image_user("1234", PASSWD, GROUP, "img") == ImageUser(1234, 0, (), "/")
    assert image_user("1234:55", "", "", "img") == ImageUser(1234, 55, (), "/")
    with pytest.raises(
        LaunchError, match="user 'nobody2' is not in the /etc/passwd of image 'img'"
    ):
        image_user("nobody2", PASSWD, GROUP, "img")
    with pytest.raises(LaunchError, match="group 'nope'"):
        image_user("www:nope", PASSWD, GROUP, "img")


# -- the init script ----------------------------------------------------------------------


def test_init_script_binds_then_remounts_read_only_and_is_valid_sh() -> None:
    mounts = [
        Mount("/proc/self/fd/3/x y", "/tmp/data", True, "dir", "/tmp/data"),
        Mount("/srv/f", "/sb/conf", False, "", "conf"),
    ]
    script = init_script(mounts)
    lines = script.splitlines()
    i = lines.index(
        "mkdir -p /tmp/data || fail 'cannot mount volume /tmp/data (/proc/self/fd/3/x y)'"
    )
    assert lines[i + 1].startswith("mount --no-canonicalize --bind '/proc/self/fd/3/x y' /tmp/data")
    assert lines[i + 2].startswith("mount --no-canonicalize -o remount,bind,ro /tmp/data")
    assert "mount --no-canonicalize --bind /srv/f /sb/conf" in script
    assert "remount,bind,ro /sb/conf" not in script
    assert "exec 3</tmp" in script and "@MOUNTS@" not in script and "@SETUP@" not in script
    subprocess.run(["/bin/sh", "-n", "-c", script], check=True)


def test_an_image_tasks_init_leaves_the_hosts_tmp_alone() -> None:
    script = init_script([], host=False)
    assert "mount -t tmpfs -o mode=1777 tmpfs /tmp" not in script
    subprocess.run(["/bin/sh", "-n", "-c", script], check=True)


def test_rootfs_ops_mount_the_sandbox_proc_dev_then_the_volumes_read_only_last() -> None:
    layout = {"R": "/r", "SB": "/r/mnt/mesos/sandbox", "PROC": "/r/proc", "DEV": "/r/dev"}
    layout["SYS"] = "/r/sys"
    vol = Mount("/srv/data", "/r/data", True, "", "/data")
    ops = rootfs_ops(layout, "/agent/sandboxes/t", [vol])
    mounts = [(o[3], o[4], o[5], o[6]) for o in ops if o[0] == "mount"]
    assert mounts[:4] == [
        ("/r", "/r", None, MS_BIND),
        ("/agent/sandboxes/t", "/r/mnt/mesos/sandbox", None, MS_BIND),
        ("proc", "/r/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC),
        ("tmpfs", "/r/dev", "tmpfs", MS_NOSUID),
    ]
    assert ("/dev/null", "/r/dev/null", None, MS_BIND) in mounts
    assert mounts[-2:] == [
        ("/srv/data", "/r/data", None, MS_BIND),
        (None, "/r/data", None, MS_REMOUNT | MS_BIND | MS_RDONLY),
    ]
    # Only the extras may fail (devpts, sysfs, /dev symlinks); every other op is required.
    assert {o[0] for o in ops if o[1]} == {"mount", "symlink"}
    assert [o[3] for o in ops if o[1] and o[0] == "mount"] == ["devpts", "sysfs"]
    flat = ops_argv(ops)  # the launcher gets them as argv
    assert flat[0] == str(len(ops)) and flat[1:5] == ["mount", "", "bind the image root /r", "5"]
    assert flat[5:10] == ["/r", "/r", "", str(MS_BIND), ""]


# -- volume planning (real directories, no mounts) ----------------------------------------


def test_host_mounts_follow_mesos_rules(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    host = tmp_path / "host-data"  # under /tmp here: hidden by the private /tmp
    existing = Path("/etc")
    vols = [
        p.VolumeInfo("data", str(host), "RO"),
        p.VolumeInfo("/tmp/inside", "cache", "RW"),
        p.VolumeInfo(str(existing), "cache", "RO"),
    ]
    hidden = [(Path("/tmp"), "3")]
    m = host_mounts(vols, sandbox, hidden)
    sb = sandbox.resolve()
    rel = host.resolve().relative_to("/tmp")
    assert m[0] == Mount(f"/proc/self/fd/3/{rel}", str(sb / "data"), True, "", "data")
    assert host.is_dir() and (sandbox / "data").is_dir()  # created, as Mesos and Docker
    assert m[1] == Mount(str(sb / "cache"), "/tmp/inside", False, "dir", "/tmp/inside")
    assert m[2] == Mount(str(sb / "cache"), "/etc", True, "", "/etc")


def test_host_mounts_refuse_missing_absolute_targets_and_symlink_escapes(tmp_path: Path) -> None:
    sandbox = tmp_path / "sb"
    sandbox.mkdir()
    with pytest.raises(VolumeError, match="containerPath does not exist on the agent"):
        host_mounts([p.VolumeInfo("/no/such/dir/pydcos", "/srv", "RO")], sandbox)
    (sandbox / "evil").symlink_to("/etc")
    with pytest.raises(VolumeError, match="hostPath 'evil' leaves the sandbox"):
        host_mounts([p.VolumeInfo("x", "evil", "RO")], sandbox)
    with pytest.raises(VolumeError, match="containerPath leaves the sandbox"):
        host_mounts([p.VolumeInfo("evil/passwd", "/srv", "RO")], sandbox)


def test_image_mounts_land_in_the_root_through_its_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "data").symlink_to("/srv/real")  # absolute link: inside the image's root
    sandbox = tmp_path / "sb"
    sandbox.mkdir()
    rootfs = Rootfs(root, ImageConfig(), "img", "sha256:x", "copy", "sb")
    vols = [p.VolumeInfo("/data", "cache", "RW"), p.VolumeInfo("logs", "/var/log", "RO")]
    m = image_mounts(vols, sandbox, rootfs)
    by_name = {x.name: x for x in m}
    assert (
        by_name["/etc/hosts"].target == str(root / "etc/hosts") and by_name["/etc/hosts"].readonly
    )
    assert by_name["/data"].target == str(root / "srv/real")
    assert (root / "srv/real").is_dir() and not Path("/srv/real").exists()
    assert by_name["logs"].target == str(rootfs.resolve(IMAGE_SANDBOX) / "logs")
    assert (sandbox / "logs").is_dir()


# -- the typed task description -> the agent's spec ---------------------------------------


def test_a_metronome_jobs_run_volumes_reach_the_native_agent_as_mounts(tmp_path: Path) -> None:
    from actors.agent._runner import task_spec
    from actors.metronome import JobRun, JobSpec, task_info

    vols = [
        {"containerPath": "cache", "hostPath": "scratch", "mode": "RW"},
        {"containerPath": "/etc", "hostPath": str(tmp_path / "conf"), "mode": "RO"},
    ]
    job = JobSpec.from_json(
        {
            "id": "nightly",
            "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "disk": 0, "volumes": vols},
        }
    )
    info = task_info(JobRun("r1", job, 0.0), "nightly.r1", "agent-1")
    spec = task_spec(info)
    assert spec.container_type == "MESOS" and spec.image is None
    assert spec.volumes == (
        p.VolumeInfo("cache", "scratch", "RW"),
        p.VolumeInfo("/etc", str(tmp_path / "conf"), "RO"),
    )
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    mounts = host_mounts(spec.volumes, sandbox)
    assert [(m.target, m.readonly) for m in mounts] == [
        (str(sandbox.resolve() / "cache"), False),
        ("/etc", True),
    ]


def test_a_marathon_mesos_app_with_an_image_reaches_the_agent_with_it() -> None:
    from actors.agent._runner import task_spec

    info = p.TaskInfo(
        "web.1",
        "web",
        "agent-1",
        {"cpus": 0.1, "mem": 32.0},
        command=p.CommandSpec(value=None, args=["-f"], shell=False, user="nobody"),
        container=p.ContainerInfo(type="MESOS", docker=p.DockerInfo(image="busybox:1.36")),
    )
    spec = task_spec(info, default_user="agentuser")
    assert (spec.container_type, spec.image, spec.args, spec.user) == (
        "MESOS",
        "busybox:1.36",
        ("-f",),
        "nobody",  # the task's own user, resolved in the image
    )
    bare = p.TaskInfo(
        "web.2", "web", "agent-1", {"cpus": 0.1, "mem": 32.0}, container=info.container
    )
    assert task_spec(bare, default_user="agentuser").user is None  # no host user in an image


def test_a_v1_scheduler_api_mesos_image_is_run_by_the_universal_runtime() -> None:
    """A pymesos-style TaskInfo with Mesos' ``container.mesos.image`` (type DOCKER) reaches
    the agent as a MESOS task with that image (it used to be refused: "runs no images")."""
    from actors.agent._runner import task_spec
    from actors.mesos_api._convert import BadCall, task_from_v1

    v1 = {
        "name": "web",
        "task_id": {"value": "t1"},
        "agent_id": {"value": "A1"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}],
        "container": {  # no command: the image's Entrypoint/Cmd
            "type": "MESOS",
            "mesos": {"image": {"type": "DOCKER", "docker": {"name": "busybox:1.36"}}},
            "volumes": [{"container_path": "data", "host_path": "/srv", "mode": "RO"}],
        },
    }
    spec = task_spec(task_from_v1(v1, "t").task)
    assert (spec.container_type, spec.image, spec.force_pull) == ("MESOS", "busybox:1.36", False)
    assert spec.volumes == (p.VolumeInfo("data", "/srv", "RO"),)
    assert spec.command is None and spec.args == ()
    appc = {**v1, "container": {"type": "MESOS", "mesos": {"image": {"type": "APPC"}}}}
    with pytest.raises(BadCall, match=r"t.container.mesos.image.type: 'APPC'"):
        task_from_v1(appc, "t")


def test_the_v1_apis_show_an_image_task_as_mesos_shows_a_ucr_container() -> None:
    from actors.master import v1_container

    ucr = p.ContainerInfo(type="MESOS", docker=p.DockerInfo(image="busybox", force_pull_image=True))
    assert v1_container(ucr) == {
        "type": "MESOS",
        "mesos": {"image": {"type": "DOCKER", "docker": {"name": "busybox"}, "cached": False}},
    }
    engine = v1_container(p.ContainerInfo(type="DOCKER", docker=p.DockerInfo(image="busybox")))
    assert engine["docker"]["image"] == "busybox" and "mesos" not in engine
