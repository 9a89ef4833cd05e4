"""``pydcos cluster up|down|status|logs``: the launcher with a face (rich progress, tables)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from console import _state as st
from console._launcher import (
    Launcher,
    LauncherError,
    UpOptions,
    credentials_path,
    dns_addresses,
)
from console._output import Out, console


def _state_dir(arg: str | None) -> Path:
    return Path(arg).expanduser() if arg else st.default_state_dir()


def cluster_up(opts: UpOptions, as_json: bool = False) -> int:
    launcher = Launcher(opts.state_dir)
    out = Out(as_json)
    rec = launcher.running()
    if rec is not None:
        up = sum(st.alive(p) for p in rec.processes)
        out.result(
            {"already_up": True, "state_dir": str(launcher.state_dir), "zk": rec.zk},
            f"the cluster in {launcher.state_dir} is already up ({up} of "
            f"{len(rec.processes)} processes running): 'pydcos cluster status' shows it, "
            "'pydcos cluster down' stops it",
        )
        return 0
    err = console(stderr=True)
    if opts.hosts:
        from console._netns import netns_unsupported

        why = netns_unsupported()
        if why:
            err.print(f"[yellow]warning:[/] {why}: falling back to loopback (127.0.0.1)")
    started = time.monotonic()
    steps = {
        "zk": "ZooKeeper" if opts.zk is None else f"ZooKeeper {opts.zk}",
        "masters": "masters started",
        "leader": "leader elected",
        "agents": "agents registered",
    }
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<20}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        console=err,
        transient=not err.is_terminal,
        disable=not err.is_terminal,
    ) as progress:
        ids = {
            "zk": progress.add_task(steps["zk"], total=1),
            "masters": progress.add_task(steps["masters"], total=opts.masters),
            "leader": progress.add_task(steps["leader"], total=1),
            "agents": progress.add_task(steps["agents"], total=max(opts.agents, 1)),
        }

        def report(step: str, done: int, total: int) -> None:
            progress.update(ids[step], completed=done, total=max(total, 1))

        rec = launcher.up(opts, report)
    elapsed = time.monotonic() - started
    status = launcher.status(rec)
    auth = _auth_summary(launcher)
    if as_json:
        if not auth["enabled"]:
            from console._iam_setup import NO_AUTH_WARNING

            err.print(f"[bold red]{NO_AUTH_WARNING}[/]")
        out.json({**status, "ready_s": round(elapsed, 3), "auth": auth})
        return 0
    _print_ready(out, status, rec, elapsed)
    _print_auth(out, auth)
    return 0


def _auth_summary(launcher: Launcher) -> dict[str, Any]:
    """Auth as ``up`` left it: on/off, the superuser, its password the FIRST time only."""
    iam = launcher.iam
    if iam is None:
        return {"enabled": False}
    doc: dict[str, Any] = {
        "enabled": True,
        "uid": iam.uid,
        "password_file": str(iam.password_file),
        "logged_in": bool(launcher.token),
    }
    if iam.fresh:
        doc["password"] = iam.password  # printed once; the file keeps it (mode 0600)
    if launcher.login_error:
        doc["login_error"] = launcher.login_error
    return doc


def _print_auth(out: Out, auth: dict[str, Any]) -> None:
    if not auth["enabled"]:
        from console._iam_setup import NO_AUTH_WARNING

        out.line(f"[bold red]{NO_AUTH_WARNING}[/]")
        return
    out.line("")
    if "password" in auth:
        out.line(
            f"[bold]superuser[/] {auth['uid']}  password [bold]{auth['password']}[/]  "
            f"(shown once; kept in {auth['password_file']}, mode 0600)"
        )
    else:
        out.line(f"superuser   {auth['uid']}  (password in {auth['password_file']})")
    if auth["logged_in"]:
        out.line(f"the CLI is logged in as {auth['uid']} ('pydcos auth login' for another user)")
    else:
        why = auth.get("login_error", "no answer")
        out.line(f"[yellow]warning:[/] the CLI could not log in ({why}): 'pydcos auth login'")


def _print_ready(out: Out, status: dict[str, Any], rec: st.ClusterRecord, elapsed: float) -> None:
    out.line(f"[bold green]cluster up[/] in {elapsed:.1f} s  (state dir {rec.state_dir})")
    if rec.docker_note:
        out.line(f"[yellow]note:[/] {rec.docker_note}")
    if rec.hosts_note:
        out.line(f"[yellow]warning:[/] {rec.hosts_note}")
    _status_table(out, status)
    _hosts_tables(out, status, rec)
    leader = status.get("leader") or {}
    url = leader.get("http_url", "")
    sd = "" if Path(rec.state_dir) == st.default_state_dir() else f" --state-dir {rec.state_dir}"
    out.line("")
    out.line(f"ZooKeeper   zk://{rec.zk}")
    creds = credentials_path(Path(rec.state_dir))
    if creds.exists():
        out.line(f"  ACL       digest, credentials in {creds} (mode 0600)")
    if url:
        out.line(f"Mesos       {url}/mesos/master/state")
        out.line(f"Marathon    {url}/marathon/v2/apps")
        out.line(f"Metronome   {url}/metronome/v1/jobs")
    dns = dns_addresses(rec)
    if dns:
        host, _, port = dns[0].rpartition(":")
        dig = f"dig @{host}" if port == "53" else f"dig -p {port} @{host}"
        out.line(f"DNS         {', '.join(dns)}  ({dig} leader.mesos)")
    out.line("")
    out.line("next:")
    for cmd in (
        "node list",
        "marathon app add examples/apps/web.json",
        "task list",
        "dashboard",
        "cluster status",
        "cluster down",
    ):
        extra = sd if cmd.startswith("cluster") else ""
        out.line(f"  pydcos {cmd}{extra}")
    if sd:
        hint = f"export PYDCOS_ZK={rec.zk}"
        if rec.keys:
            hint += f" PYDCOS_KEYS={rec.keys}"
        if creds.exists():
            hint += f" PYDCOS_ZK_CREDENTIALS={creds}"
        out.line(f"  (from another shell or state dir, find this cluster with: {hint})")


def _hosts_tables(out: Out, status: dict[str, Any], rec: st.ClusterRecord) -> None:
    """``--hosts``: each host's address and namespace; an ensemble: each member's health."""
    if rec.network:
        hrows = [(h["name"], h["ip"], h["netns"]) for h in rec.hosts]
        title = f"Hosts on {rec.network['subnet']} (this machine: {rec.network['gateway_ip']})"
        out.table(("HOST", "IP", "NETNS"), hrows, title)
    members = status.get("zk_members") or []
    if len(members) > 1 or rec.zk_members:
        rows = [
            (
                str(m["id"] or "-"),
                m["host"] or "-",
                m["address"],
                m["mode"] if m["mode"] != "down" else "[red]down[/]",
                m.get("znode_count", "-"),
                m.get("num_alive_connections", "-"),
            )
            for m in members
        ]
        head = ("ID", "HOST", "ADDRESS", "MODE", "ZNODES", "CONNECTIONS")
        out.table(head, rows, "ZooKeeper ensemble (srvr/mntr)")
        on = {m["host"] for m in rec.zk_members if m.get("host")}
        if on and len(on) < len(rec.zk_members):
            out.line(
                f"[yellow]note:[/] {len(rec.zk_members)} ZooKeeper members share "
                f"{len(on)} master host(s) (next ports on a shared host): losing a host "
                "may lose the quorum; start 3 masters for one member per host"
            )


def _status_table(out: Out, status: dict[str, Any]) -> None:
    rows = [
        (
            p["name"],
            p["pid"],
            "[green]up[/]" if p["up"] else "[red]down[/]",
            p["role"],
            p["http_url"] or p["address"],
            p["log"],
        )
        for p in status["processes"]
    ]
    out.table(("COMPONENT", "PID", "STATE", "ROLE", "ADDRESS", "LOG"), rows, "Processes")


def cluster_down(state_dir: Path, as_json: bool = False) -> int:
    launcher = Launcher(state_dir)
    out = Out(as_json)
    rec = launcher.record()
    if rec is None:
        out.result(
            {"stopped": [], "state_dir": str(state_dir)},
            f"no local cluster recorded in {state_dir}: nothing to stop",
        )
        return 0
    started = time.monotonic()
    stopped = launcher.down()
    took = time.monotonic() - started
    out.result(
        {"stopped": stopped, "state_dir": str(state_dir), "down_s": round(took, 3)},
        f"stopped {len(stopped)} process(es) in {took:.1f} s: {', '.join(stopped) or '-'}",
    )
    return 0


def cluster_status(state_dir: Path, as_json: bool = False) -> int:
    launcher = Launcher(state_dir)
    out = Out(as_json)
    rec = launcher.record()
    if rec is None:
        if as_json:
            out.json({"state_dir": str(state_dir), "up": False, "processes": []})
        else:
            out.line(f"no local cluster in {state_dir}; start one with 'pydcos cluster up'")
        return 1
    status = launcher.status(rec)
    up = all(p["up"] for p in status["processes"])
    status["up"] = up
    if as_json:
        out.json(status)
        return 0 if up else 1
    leader = status.get("leader")
    if leader:
        out.line(f"leader: {leader['hostname']} {leader['http_url']}  (zk://{status['zk']})")
    elif status["zk_error"]:
        out.line(f"[red]{status['zk_error']}[/]")
    else:
        out.line("[yellow]no leader: an election is in progress[/]")
    _status_table(out, status)
    _hosts_tables(out, status, rec)
    return 0 if up else 1


def cluster_logs(state_dir: Path, component: str, follow: bool, lines: int) -> int:
    rec = st.load(state_dir)
    if rec is None:
        raise LauncherError(f"no local cluster in {state_dir}; start one with 'pydcos cluster up'")
    p = rec.get(component)
    if p is None:
        names = ", ".join(x.name for x in rec.processes)
        raise LauncherError(f"no component {component!r}; one of: {names}")
    path = Path(p.log)
    with open(path, "rb") as f:
        data = f.read().splitlines(keepends=True)
        sys.stdout.write(b"".join(data[-lines:] if lines > 0 else data).decode(errors="replace"))
        sys.stdout.flush()
        try:
            while follow:
                chunk = f.read()
                if chunk:
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0
