"""The ``zookeeper`` service's task: one ensemble member, and its readiness check.

    python -m actors.sdk.services.zookeeper.node start --volume zookeeper-data --config zoo.cfg
    python -m actors.sdk.services.zookeeper.node ready

Run by the SDK in the task's sandbox with its env (``POD_INSTANCE_INDEX``,
``PORT_CLIENT``/``PORT_QUORUM``/``PORT_ELECTION``, ``HOST``, the peers' client
addresses). ``start`` writes ``myid`` and the membership on the persistent volume (see
``ensemble.plan_start``), runs the real ZooKeeper (Debian's jars and java, found as
``zk`` finds them for the cluster's own ZooKeeper) in the foreground, asks the ensemble
to reconfig it in when it joins, and passes SIGTERM on. ``ready`` exits 0 once the
member serves in the quorum as a voter at its own address.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from actors.sdk.services.zookeeper.ensemble import (
    BOOTSTRAP_VERSION,
    EnsembleError,
    Member,
    StartPlan,
    dynamic_version,
    latest_dynamic,
    member_from_env,
    membership_of_conf,
    parse_membership,
    parse_version,
    peers_from_env,
    plan_start,
    ready,
)

MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
JOIN_TIMEOUT_S = 120.0
FORCED = {
    # What the ensemble logic relies on, whatever the template says.
    "standaloneEnabled": "false",
    "reconfigEnabled": "true",
    "4lw.commands.whitelist": "srvr,ruok,mntr,conf,stat,cons,envi",
    "admin.enableServer": "false",
}
DROPPED = ("dataDir", "dynamicConfigFile", "clientPort", "clientPortAddress")


def super_digest(password: str) -> str:
    """ZooKeeper's ``superDigest`` for user ``super``: base64(sha1("super:<password>"))."""
    raw = hashlib.sha1(f"super:{password}".encode()).digest()  # ZooKeeper's scheme
    return "super:" + base64.b64encode(raw).decode()


def static_config(template_text: str, data_dir: Path, dynamic_file: Path) -> str:
    """The static zoo.cfg: the template's settings (tickTime, limits, ...) minus what
    this member decides (data dir, membership, client address), plus ``FORCED``."""
    lines: list[str] = []
    for raw in template_text.splitlines():
        key = raw.split("=", 1)[0].strip()
        if not key or key.startswith("#"):
            continue
        if key in DROPPED or key in FORCED or key.startswith("server."):
            continue
        lines.append(raw.strip())
    lines += [f"{k}={v}" for k, v in FORCED.items()]
    lines += [f"dataDir={data_dir}", f"dynamicConfigFile={dynamic_file}"]
    return "\n".join(lines) + "\n"


def _die_with_parent() -> None:
    """In the JVM's child: SIGKILLed if this launcher dies (a kill -9 of the task's
    process kills its server too, as outside a pid namespace nothing else would)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def four_letter(host: str, port: int, word: str) -> str:
    from zk import four_letter_word

    try:
        return str(four_letter_word(host, port, word, 1.0))
    except OSError:
        return ""


def peer_membership(
    peers: Sequence[tuple[str, int]],
) -> tuple[dict[int, str], int | None, str | None]:
    """The membership (and its version) the first answering peer reports, and who."""
    for host, port in peers:
        text = four_letter(host, port, "conf")
        members = membership_of_conf(text)
        if members:
            return members, parse_version(text.partition("membership:")[2]), f"{host}:{port}"
    return {}, None, None


def write_dynamic(volume: Path, plan: StartPlan) -> Path:
    """The membership file ZooKeeper starts from, named after its version (ZooKeeper
    reads the version from the name); an identical file is left as it is."""
    target = volume / plan.file_name
    if not target.exists() or parse_membership(target.read_text()) != plan.members:
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(plan.dynamic_text())
        tmp.replace(target)
    return target


def java_argv(cfg: Path, env: Mapping[str, str]) -> list[str]:
    from zk import find_classpath, find_java

    heap = env.get("ZK_HEAP_MB", "128")
    argv = [
        find_java(None, env),
        f"-Xmx{int(heap)}m",
        "-Xss512k",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-XX:-UsePerfData",
        "-XX:+ExitOnOutOfMemoryError",
        "-Dzookeeper.jmx.log4j.disable=true",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
    ]
    password = env.get("ZK_SUPER_PASSWORD", "")
    if password:
        argv.append(
            f"-Dzookeeper.DigestAuthenticationProvider.superDigest={super_digest(password)}"
        )
    return [*argv, "-cp", os.pathsep.join(find_classpath(None, env)), MAIN_CLASS, str(cfg)]


def reconfig_in(
    me: Member,
    peers: Sequence[tuple[str, int]],
    env: Mapping[str, str],
    alive: Callable[[], bool],
) -> str:
    """Ask the ensemble (through any peer) to add or move my line; retried until the
    new member has synced and the quorum accepts it, while ``alive()`` (the server runs,
    no SIGTERM). Returns the new config's text."""
    from kazoo.client import KazooClient

    hosts = ",".join(f"{h}:{p}" for h, p in peers)
    client = KazooClient(hosts=hosts, timeout=5.0)
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    last = ""
    try:
        client.start(timeout=15)
        password = env.get("ZK_SUPER_PASSWORD", "")
        if password:
            client.add_auth("digest", f"super:{password}")
        while time.monotonic() < deadline and alive():
            try:
                data, _ = client.reconfig(
                    joining=f"server.{me.sid}={me.line()}", leaving=None, new_members=None
                )
                return data.decode()
            except Exception as exc:  # the new member may not have synced yet
                last = f"{type(exc).__name__}: {exc}"
                time.sleep(0.5)
    finally:
        with contextlib.suppress(Exception):
            client.stop()
            client.close()
    raise EnsembleError(f"reconfig of server.{me.sid} failed for {JOIN_TIMEOUT_S:.0f} s: {last}")


def start(volume: Path, template: Path, env: Mapping[str, str]) -> int:
    me = member_from_env(env)
    volume.mkdir(parents=True, exist_ok=True)
    data_dir = volume / "data"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "myid").write_text(f"{me.sid}\n")
    stored_name = latest_dynamic(p.name for p in volume.iterdir())
    stored = parse_membership((volume / stored_name).read_text()) if stored_name else None
    stored_version = dynamic_version(stored_name) if stored_name else None
    peers = peers_from_env(env, me, env.get("ZK_POD", "zookeeper"))
    peer, peer_version, who = peer_membership(peers)
    plan = plan_start(me, stored, stored_version, peer, peer_version)
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    while plan.version == BOOTSTRAP_VERSION and not stored and me.sid != 1:
        # Only member 1 founds an ensemble: another member that hears nobody waits for a
        # peer rather than found a second ensemble (split brain).
        if time.monotonic() > deadline:
            raise EnsembleError(f"server.{me.sid}: no live peer among {peers} to join")
        time.sleep(0.5)
        peer, peer_version, who = peer_membership(peers)
        plan = plan_start(me, stored, stored_version, peer, peer_version)
    dynamic = write_dynamic(volume, plan)
    # On the volume: ZooKeeper writes each reconfig's membership next to its static
    # config (``zoo.cfg.dynamic.<version>``), and it must outlive the task.
    cfg = volume / "zoo.cfg"
    cfg.write_text(static_config(template.read_text(), data_dir, dynamic))
    print(
        f"zookeeper-node: server.{me.sid}={me.line()}: {plan.reason}"
        f"{f' ({who})' if who else ''}; membership {dynamic.name}",
        flush=True,
    )
    proc = subprocess.Popen(java_argv(cfg, env), env=dict(env), preexec_fn=_die_with_parent)

    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    if plan.join:
        join_peers = peers or [
            (line.split(";")[1].rsplit(":", 1)[0], int(line.split(";")[1].rsplit(":", 1)[1]))
            for sid, line in plan.members.items()
            if sid != me.sid and ";" in line
        ]
        try:
            new = reconfig_in(me, join_peers, env, lambda: not stopping and proc.poll() is None)
            print(f"zookeeper-node: reconfig done: {' '.join(new.split())}", flush=True)
        except EnsembleError as exc:
            if stopping or proc.poll() is not None:
                return proc.wait()
            print(f"zookeeper-node: {exc}", file=sys.stderr, flush=True)
            proc.terminate()
            proc.wait()
            return 1
    return proc.wait()


def check_ready(env: Mapping[str, str]) -> int:
    me = member_from_env(env)
    ok, why = ready(
        me,
        four_letter("127.0.0.1" if me.host == "0.0.0.0" else me.host, me.client_port, "srvr"),
        four_letter(me.host, me.client_port, "conf"),
    )
    print(f"zookeeper-node ready: {why}")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zookeeper-node", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="run this ensemble member in the foreground")
    s.add_argument("--volume", default="zookeeper-data", help="the persistent volume's path")
    s.add_argument("--config", default="zoo.cfg", help="the rendered zoo.cfg template")
    sub.add_parser("ready", help="exit 0 once this member is a serving voter")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "start":
            return start(Path(args.volume).resolve(), Path(args.config), os.environ)
        return check_ready(os.environ)
    except EnsembleError as exc:
        print(f"zookeeper-node: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
