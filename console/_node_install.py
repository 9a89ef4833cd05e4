"""``pydcos node install``: systemd units and key files for a real host (pure rendering).

```
 <root>/etc/systemd/system/pydcos-master.service     (or pydcos-agent.service)
 <root>/etc/systemd/system/pydcos-zookeeper.service  (a master whose IP is in --zk)
 <root>/etc/pydcos/keys/cluster.key, cluster.key_secret (0600), authorized_keys/
 <root>/etc/pydcos/keys/zk.credentials (0600)        ZooKeeper digest ACL, if the keys have it
 <root>/etc/pydcos/<role>.env                        the flags, one per line, for editing
```

Ports (what docs/deploy.md tells operators to open between hosts):
master transport 5050, HTTP gateway 80, DNS 53 (UDP+TCP), ZooKeeper 2181 (clients)
and 2888/3888 (peers); agent transport 5051 and the task port range 31000-32000.

Nothing here touches the machine: ``plan_install`` returns the files (path, text, mode);
the command writes them under ``--root`` (``/`` on a real host, a temp dir in tests).
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from console._netns import HostsError

MASTER_PORT = 5050
AGENT_PORT = 5051
HTTP_PORT = 80
DNS_PORT = 53
ZK_PORTS = (2181, 2888, 3888)
TASK_PORTS = "31000-32000"
ETC = "etc/pydcos"
KEYS = f"{ETC}/keys"
UNITS = "etc/systemd/system"
DATA = "/var/lib/pydcos"
KEY_FILES = ("cluster.key", "cluster.key_secret", "zk.credentials")
"""What a node needs of the cluster's key directory (``pydcos cluster keys --dir``): the
cluster keypair (secret 0600), the authorised client keys, the ZooKeeper credentials. The
client keypair stays with operators (the CLI)."""
SECRET = 0o600


@dataclass(frozen=True, slots=True)
class InstallFile:
    path: str
    """Relative to the install root (``etc/pydcos/master.env``)."""
    text: str
    mode: int = 0o644
    source: str = ""
    """A file to copy (keys) instead of ``text``."""


def parse_zk_url(url: str) -> tuple[list[tuple[str, int]], str]:
    """``zk://h1,h2:2182,h3/pydcos`` -> ([(h1, 2181), (h2, 2182), (h3, 2181)], /pydcos).
    Raises HostsError naming what is wrong."""
    if not url.startswith("zk://"):
        raise HostsError(f"--zk {url!r}: expected zk://HOST[:PORT],.../CHROOT")
    rest = url[len("zk://") :]
    hosts_part, slash, chroot = rest.partition("/")
    chroot = "/" + chroot.strip("/") if slash and chroot.strip("/") else ""
    if not chroot:
        raise HostsError(f"--zk {url!r}: name the chroot (zk://.../pydcos)")
    out: list[tuple[str, int]] = []
    for item in hosts_part.split(","):
        host, sep, port = item.strip().partition(":")
        if not host:
            raise HostsError(f"--zk {url!r}: an empty host")
        try:
            p = int(port) if sep else ZK_PORTS[0]
        except ValueError:
            raise HostsError(f"--zk {url!r}: port {port!r} is not a number") from None
        if not 0 < p < 65536:
            raise HostsError(f"--zk {url!r}: port {p} is not 1-65535")
        out.append((host, p))
    return out, chroot


def _check_ip(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        raise HostsError(f"--ip {ip!r} is not an IP address") from None


def _unit(description: str, exec_start: Sequence[str], workdir: str, after: str = "") -> str:
    return (
        "[Unit]\n"
        f"Description={description}\n"
        "Wants=network-online.target\n"
        f"After=network-online.target{(' ' + after) if after else ''}\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"WorkingDirectory={workdir}\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        f"Environment=PYTHONPATH={workdir}\n"
        f"ExecStart={shlex.join(exec_start)}\n"
        "Restart=always\n"
        "RestartSec=2\n"
        # The agent's tasks live in their own cgroups/sessions and survive a restart of
        # the agent (Mesos' agent recovery); only the main process is signalled.
        "KillMode=process\n"
        "LimitNOFILE=65536\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def plan_install(
    role: str,
    zk_url: str,
    ip: str,
    *,
    python: str,
    repo: str,
    keys_dir: Path,
    key_files: Sequence[str],
    hostname: str = "",
    resources: str = "",
    attributes: str = "",
    iam_key: str = "",
) -> list[InstallFile]:
    """The files that make this host a master or agent of the cluster at ``zk_url``."""
    if role not in ("master", "agent"):
        raise HostsError(f"--role {role!r}: master or agent")
    ip = _check_ip(ip)
    zk_hosts, chroot = parse_zk_url(zk_url)
    zk = ",".join(f"{h}:{p}" for h, p in zk_hosts) + chroot
    missing = [f for f in ("cluster.key", "cluster.key_secret") if f not in key_files]
    if missing:
        raise HostsError(
            f"--keys {keys_dir}: no {', '.join(missing)}; make the cluster's keys once with "
            f"'pydcos cluster keys --dir {keys_dir}' and copy that directory to every host"
        )
    keys = f"/{KEYS}"
    files: list[InstallFile] = []
    for name in key_files:
        mode = SECRET if name.endswith(("_secret", ".credentials")) else 0o644
        files.append(InstallFile(f"{KEYS}/{name}", "", mode, str(keys_dir / name)))
    for pub in sorted((keys_dir / "authorized_keys").glob("*.key")):
        files.append(InstallFile(f"{KEYS}/authorized_keys/{pub.name}", "", 0o644, str(pub)))
    common = ["--zk", zk, "--keys", keys, "--hostname", hostname or ip]
    if "zk.credentials" in key_files:
        common += ["--zk-credentials", f"{keys}/zk.credentials"]
    cli = [python, "-m", "console.cli"]
    if role == "master":
        flags = [
            *common,
            *("--bind", f"tcp://{ip}:{MASTER_PORT}", "--advertise", f"tcp://{ip}:{MASTER_PORT}"),
            *("--http-host", ip, "--http-port", str(HTTP_PORT)),
            *("--dns-host", ip, "--dns-port", str(DNS_PORT)),
            *("--log-file", f"{DATA}/master.log"),
        ]
        if iam_key:
            files.append(InstallFile(f"{KEYS}/iam.key", "", SECRET, iam_key))
            flags += ["--iam-key", f"{keys}/iam.key"]
        member = [i for i, (h, _) in enumerate(zk_hosts, 1) if h == ip]
        after = ""
        if member:
            sid = member[0]
            peers = ",".join(
                f"{i}={h}:{p}:{ZK_PORTS[1]}:{ZK_PORTS[2]}" for i, (h, p) in enumerate(zk_hosts, 1)
            )
            zk_cmd = [*cli, "zk", "--data-dir", f"{DATA}/zookeeper", "--server-id", str(sid)]
            zk_cmd += ["--peers", peers]
            files.append(
                InstallFile(
                    f"{UNITS}/pydcos-zookeeper.service",
                    _unit(f"pydcos ZooKeeper member {sid}", zk_cmd, repo),
                )
            )
            after = "pydcos-zookeeper.service"
        exec_start = [*cli, "master", *flags]
        files.append(
            InstallFile(
                f"{UNITS}/pydcos-master.service", _unit("pydcos master", exec_start, repo, after)
            )
        )
    else:
        flags = [
            *common,
            *("--bind", f"tcp://{ip}:{AGENT_PORT}", "--advertise", f"tcp://{ip}:{AGENT_PORT}"),
            *("--work-dir", f"{DATA}/agent", "--log-file", f"{DATA}/agent.log"),
            *("--containerizers", "mesos,docker"),
        ]
        if resources:
            flags += ["--resources", resources]
        if attributes:
            flags += ["--attributes", attributes]
        exec_start = [*cli, "agent", *flags]
        files.append(
            InstallFile(f"{UNITS}/pydcos-agent.service", _unit("pydcos agent", exec_start, repo))
        )
    env = "".join(f"# {shlex.join(flags)}\n" for _ in [0])
    files.append(
        InstallFile(
            f"{ETC}/{role}.env",
            f"# pydcos {role} on {ip}: the flags its unit runs with\n{env}",
        )
    )
    return files


def write_install(root: Path, files: Sequence[InstallFile]) -> list[Path]:
    """Write (or copy) ``files`` under ``root`` with their modes. Returns the paths."""
    import os
    import shutil

    out = []
    for f in files:
        dest = root / f.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        if f.source:
            shutil.copyfile(f.source, tmp)
        else:
            tmp.write_text(f.text)
        os.chmod(tmp, f.mode)
        os.replace(tmp, dest)
        out.append(dest)
    return out
