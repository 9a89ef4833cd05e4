"""Argument parsing for the console's commands (``cli.py`` keeps the process commands).

Every verb takes the same cluster flags (``--zk``, ``--state-dir``, ``--keys``,
``--insecure-dev``) and ``--json``; argparse prints a usage line for unknown commands
and flags (exit 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console import _verbs as v
from console._client import ClientError, ClusterClient, resolve_target
from console._launcher import LauncherError, UpOptions
from console._output import Out


def user_error(exc: BaseException) -> str | None:
    """The one line to print for a failure the user can act on; None for a bug."""
    if isinstance(exc, ClientError | LauncherError):
        return str(exc)
    from runtime import NoCluster

    if isinstance(exc, NoCluster):
        return str(exc)
    return None


def _cluster_flags() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("cluster")
    g.add_argument("--zk", default=None, help="ZooKeeper HOST:PORT[,...][/chroot] ($PYDCOS_ZK)")
    g.add_argument("--state-dir", default=None, help="local cluster state dir")
    g.add_argument("--keys", default=None, help="client key directory (CURVE)")
    g.add_argument("--insecure-dev", action="store_true", help="plain transport (dev clusters)")
    g.add_argument("--json", action="store_true", help="JSON output for scripts")
    p.set_defaults(quiet_logs=True)
    return p


Verb = Callable[[ClusterClient, Out, argparse.Namespace], int]


def _run(verb: Verb) -> Callable[[argparse.Namespace], int]:
    def fn(args: argparse.Namespace) -> int:
        import logging

        # The cluster's own choice (--insecure-dev at `cluster up`); not news to the user.
        logging.getLogger("transport.security").setLevel(logging.ERROR)
        target = resolve_target(
            args.zk,
            Path(args.state_dir).expanduser() if args.state_dir else None,
            args.keys,
            args.insecure_dev,
        )
        with ClusterClient(target) as client:
            return verb(client, Out(args.json), args)

    return fn


def _state_dir(args: argparse.Namespace) -> Path:
    from console._state import default_state_dir

    return Path(args.state_dir).expanduser() if args.state_dir else default_state_dir()


def _leaf(
    sub: Any, name: str, help: str, verb: Verb | None = None, **kw: Any
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help, parents=[_cluster_flags()], **kw)
    if verb is not None:
        p.set_defaults(fn=_run(verb))
    return p


def _group(sub: Any, name: str, help: str) -> Any:
    p = sub.add_parser(name, help=help)
    g = p.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
    g.required = True
    return g


# ------------------------------------------------------------------------------ cluster


def _cmd_up(args: argparse.Namespace) -> int:
    from console._cluster_cmds import cluster_up

    opts = UpOptions(
        masters=args.masters,
        agents=args.agents,
        zk=args.zk,
        state_dir=_state_dir(args),
        docker=not args.no_docker,
        docker_url=args.docker_url,
        insecure_dev=args.insecure_dev,
        timeout=args.timeout,
        default_user=args.default_user,
        zk_credentials=Path(args.zk_credentials) if args.zk_credentials else None,
        dns_port=getattr(args, "dns_port", 0),
        dns_upstream=getattr(args, "dns_upstream", None),
        hosts=getattr(args, "hosts", False),
        zk_ensemble=getattr(args, "zk_ensemble", 0),
        auth=not args.no_auth,
        offer_timeout=args.offer_timeout,
    )
    return cluster_up(opts, args.json)


def _cmd_down(args: argparse.Namespace) -> int:
    from console._cluster_cmds import cluster_down

    return cluster_down(_state_dir(args), args.json)


def _cmd_status(args: argparse.Namespace) -> int:
    from console._cluster_cmds import cluster_status

    return cluster_status(_state_dir(args), args.json)


def _cmd_logs(args: argparse.Namespace) -> int:
    from console._cluster_cmds import cluster_logs

    return cluster_logs(_state_dir(args), args.component, args.follow, args.lines)


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from console._dashboard import run_dashboard

    target = resolve_target(
        args.zk,
        Path(args.state_dir).expanduser() if args.state_dir else None,
        args.keys,
        args.insecure_dev,
    )
    return run_dashboard(target)


def _by_job_id(fn: Callable[[ClusterClient, Out, str], int]) -> Verb:
    return lambda c, o, a: fn(c, o, a.job_id)


def add_console_commands(sub: Any, csub: Any) -> None:
    """Add the console's commands to the top-level parser ``sub`` and ``cluster``'s ``csub``."""
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument(
        "--state-dir", default=None, help="default ~/.pydcos/cluster ($PYDCOS_HOME/cluster)"
    )
    state.add_argument("--json", action="store_true", help="JSON output for scripts")
    state.set_defaults(quiet_logs=True)

    up = csub.add_parser(
        "up", help="start a local cluster (ZooKeeper, masters, agents)", parents=[state]
    )
    up.add_argument("--masters", type=int, default=3)
    up.add_argument("--agents", type=int, default=3)
    up.add_argument("--zk", default=None, help="use this ZooKeeper (HOST:PORT,...) instead")
    up.add_argument("--no-docker", action="store_true", help="native (mesos) tasks only")
    up.add_argument("--docker-url", default=None, help="Docker engine (default: its socket)")
    up.add_argument("--insecure-dev", action="store_true", help="plain transport, no keys")
    up.add_argument(
        "--no-auth",
        action="store_true",
        help="no login: anyone who reaches a master is superuser (throw-away dev clusters)",
    )
    up.add_argument(
        "--zk-credentials",
        default=None,
        metavar="FILE",
        help="ZooKeeper digest credentials (user:password, mode 0600) for --zk's ensemble "
        "(default: made in the state dir beside the keys)",
    )
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for ready")
    up.add_argument(
        "--offer-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="masters rescind offers held longer than this (120, as DC/OS; 0: never)",
    )
    up.add_argument(
        "--default-user",
        default=None,
        metavar="USER",
        help="user of native tasks that name none (default: nobody as root, else you)",
    )
    up.set_defaults(fn=_cmd_up)
    down = csub.add_parser("down", help="stop everything 'cluster up' started", parents=[state])
    down.set_defaults(fn=_cmd_down)
    status = csub.add_parser("status", help="who leads, who is up", parents=[state])
    status.set_defaults(fn=_cmd_status)
    logs = csub.add_parser(
        "logs", help="a component's log (zk, master-1, agent-2...)", parents=[state]
    )
    logs.add_argument("component")
    logs.add_argument("--follow", "-f", action="store_true")
    logs.add_argument("--lines", "-n", type=int, default=50)
    logs.set_defaults(fn=_cmd_logs)

    # node
    node = _group(sub, "node", "agents of the cluster")
    _leaf(node, "list", "agents with their resources", lambda c, o, a: v.node_list(c, o))

    # task
    task = _group(sub, "task", "tasks of every framework")
    t = _leaf(
        task,
        "list",
        "tasks (active; --completed for all)",
        lambda c, o, a: v.task_list(c, o, a.completed),
    )
    t.add_argument("--completed", action="store_true", help="include finished tasks")
    # task log: console/_obs_cmds.py (through any master's HTTP API)

    # marathon
    m = _group(sub, "marathon", "long-running services (Marathon's v2 API)")
    app = _group(m, "app", "apps")
    a = _leaf(
        app,
        "add",
        "create an app from a JSON file (- for stdin)",
        lambda c, o, a: v.app_add(c, o, a.file),
    )
    a.add_argument("file", metavar="FILE")
    _leaf(app, "list", "apps with task counts", lambda c, o, a: v.app_list(c, o))
    a = _leaf(app, "show", "an app's definition", lambda c, o, a: v.app_show(c, o, a.app_id))
    a.add_argument("app_id", metavar="ID")
    a = _leaf(
        app,
        "update",
        "change an app: name=value ... or a FILE",
        lambda c, o, a: v.app_update(c, o, a.app_id, a.changes, a.force),
    )
    a.add_argument("app_id", metavar="ID")
    a.add_argument("changes", nargs="*", metavar="instances=N|FILE")
    a.add_argument("--force", action="store_true")
    a = _leaf(
        app,
        "restart",
        "restart an app's tasks (rolling)",
        lambda c, o, a: v.app_restart(c, o, a.app_id, a.force),
    )
    a.add_argument("app_id", metavar="ID")
    a.add_argument("--force", action="store_true")
    a = _leaf(
        app,
        "remove",
        "remove an app and kill its tasks",
        lambda c, o, a: v.app_remove(c, o, a.app_id, a.force),
    )
    a.add_argument("app_id", metavar="ID")
    a.add_argument("--force", action="store_true")
    dep = _group(m, "deployment", "deployments")
    _leaf(dep, "list", "deployments in progress", lambda c, o, a: v.deployment_list(c, o))
    d = _leaf(
        dep,
        "watch",
        "follow a deployment (without ID: every deployment) until it ends",
        lambda c, o, a: v.deployment_watch(c, o, a.deployment_id, a.timeout),
    )
    d.add_argument("deployment_id", metavar="ID", nargs="?")
    d.add_argument("--timeout", type=float, default=600.0)
    d = _leaf(
        dep,
        "rollback",
        "cancel a deployment, rolling its apps back (--force: no rollback)",
        lambda c, o, a: v.deployment_rollback(c, o, a.deployment_id, a.force),
    )
    d.add_argument("deployment_id", metavar="ID")
    d.add_argument("--force", action="store_true")
    mt = _group(m, "task", "Marathon's tasks")
    d = _leaf(
        mt,
        "list",
        "Marathon's tasks (of one app)",
        lambda c, o, a: v.marathon_task_list(c, o, a.app_id),
    )
    d.add_argument("app_id", nargs="?", metavar="APP")

    # job
    job = _group(sub, "job", "jobs (Metronome's v1 API)")
    j = _leaf(
        job,
        "add",
        "create a job from a JSON file (- for stdin)",
        lambda c, o, a: v.job_add(c, o, a.file),
    )
    j.add_argument("file", metavar="FILE")
    _leaf(job, "list", "jobs with their schedules and last runs", lambda c, o, a: v.job_list(c, o))
    for name, fn, hlp in (
        ("show", v.job_show, "a job's definition"),
        ("run", v.job_run, "start a run now"),
        ("history", v.job_history, "a job's runs"),
    ):
        j = _leaf(job, name, hlp, _by_job_id(fn))
        j.add_argument("job_id", metavar="ID")
    j = _leaf(
        job,
        "remove",
        "remove a job",
        lambda c, o, a: v.job_remove(c, o, a.job_id, a.stop_current_job_runs),
    )
    j.add_argument("job_id", metavar="ID")
    j.add_argument("--stop-current-job-runs", action="store_true")
    sched = _group(job, "schedule", "a job's cron schedules")
    s = _leaf(
        sched,
        "add",
        "add a schedule from a JSON file",
        lambda c, o, a: v.schedule_add(c, o, a.job_id, a.file),
    )
    s.add_argument("job_id", metavar="JOB")
    s.add_argument("file", metavar="FILE")
    s = _leaf(sched, "show", "a job's schedules", lambda c, o, a: v.schedule_show(c, o, a.job_id))
    s.add_argument("job_id", metavar="JOB")
    s = _leaf(
        sched,
        "remove",
        "remove a schedule",
        lambda c, o, a: v.schedule_remove(c, o, a.job_id, a.schedule_id),
    )
    s.add_argument("job_id", metavar="JOB")
    s.add_argument("schedule_id", metavar="SCHEDULE")

    # actor
    from console import _actor_cmds as ua  # users' cluster actors (issue 27)

    act = _group(sub, "actor", "named actors: list, ask, tell")
    _leaf(
        act,
        "list",
        "named actors across the cluster (system, then users')",
        lambda c, o, a: ua.actor_list(c, o, v.actor_list),
    )
    x = _leaf(
        act,
        "ask",
        "ask NAME (or tcp://host:port/name) a JSON message; print the reply "
        "(a user actor: ask NAME METHOD [JSON_ARGS])",
        lambda c, o, a: ua.actor_ask(c, o, a, v.actor_ask),
    )
    x.add_argument("name", metavar="NAME")
    x.add_argument("message", metavar="JSON")
    x.add_argument("args", metavar="JSON_ARGS", nargs="?", default=None)
    x.add_argument("--timeout", type=float, default=5.0)
    x = _leaf(
        act,
        "tell",
        "send NAME a JSON message (no reply)",
        lambda c, o, a: v.actor_tell(c, o, a.name, a.message),
    )
    x.add_argument("name", metavar="NAME")
    x.add_argument("message", metavar="JSON")

    # dashboard
    dash = sub.add_parser(
        "dashboard", help="the live console (Textual)", parents=[_cluster_flags()]
    )
    dash.set_defaults(fn=_cmd_dashboard)

    # The platform services' verbs: each area adds its own, in its own module.
    from console import _mesos_cmds, _net_cmds, _obs_cmds, _package_cmds

    groups = {"node": node, "task": task, "marathon": m, "up": up, "leaf": _leaf, "group": _group}
    for area in (_net_cmds, _obs_cmds, _package_cmds, _mesos_cmds):
        area.add_commands(sub, groups)
    from console import _image_cmds  # pydcos image import|list|rm (issue 19)

    _image_cmds.add_commands(sub, groups)
    from console import _pod_cmds  # pydcos marathon pod add|list|show|update|remove (issue 19)

    _pod_cmds.add_commands(sub, groups)
    ua.add_commands(sub, {**groups, "actor": act})  # pydcos actor show|kill (issue 27)
    from console import _storage_cmds  # pydcos quota list|set|remove (issue 23)

    _storage_cmds.add_commands(sub, groups)
    from console import _auth_cmds  # pydcos auth ..., security org ... (issue 24)

    _auth_cmds.add_commands(sub, groups)
    from console import _hosts_cmds  # cluster up --hosts, partition, heal, zk; node install (26)

    _hosts_cmds.add_commands(sub, {**groups, "cluster": csub})
    from console import _sdk_cmds  # pydcos service plan|pod|endpoints (issue 28)

    _sdk_cmds.add_commands(sub, groups)
