"""What a master process knows about itself, leading or not.

Mesos serves some endpoints from every master (``/flags``, ``/version``,
``/metrics/snapshot``) and puts some of the same facts in the leader's
``/master/state`` (``flags``, ``cluster``, ``log_dir``, ``build_time``). They are gathered
here once, at start-up, so the gateway and the master actor show the same values. They
live with the gateway, which serves them from every master; the master actor imports
them from ``actors.gateway`` (downward), never the reverse.

Reading the environment (the build, where stderr goes) is kept in small functions
apart from the pure ones that turn options into Mesos' string flags.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import stat
import time
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

MESOS_VERSION = "1.11.0"
"""The Mesos API version whose shapes the master's endpoints follow."""

DEFAULT_CLUSTER = "pydcos"
"""The cluster name when the ZooKeeper URL has no chroot to name it after."""

_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """Mesos' build facts (``/version``, ``/master/state``) for this pydcos."""

    build_date: str
    """``YYYY-MM-DD HH:MM:SS`` (UTC), as Mesos prints it."""
    build_time: float
    """The same instant in seconds since the epoch."""
    build_user: str
    git_sha: str | None = None
    """The source commit, when running from a git checkout."""
    git_branch: str | None = None


@dataclass(frozen=True, slots=True)
class MasterAbout:
    """One master's own facts, fixed at start-up."""

    hostname: str
    started_at: float
    """Wall-clock start of the master process (seconds since the epoch)."""
    cluster: str = DEFAULT_CLUSTER
    log_dir: str | None = None
    """Where this master's log file is, if it logs to a file (Mesos omits it otherwise)."""
    flags: dict[str, str] = field(default_factory=dict)
    """Mesos' ``/flags``: every option of this master as a string."""
    http_url: str = ""
    """This master's HTTP API (its gateway), e.g. ``http://127.0.0.1:5050``."""


def cluster_name(zk: str) -> str:
    """The cluster's name: the ZooKeeper chroot (``host:2181/prod`` -> ``prod``), so
    clusters sharing one ensemble have distinct names; ``pydcos`` without a chroot."""
    rest = zk.removeprefix("zk://")
    _, sep, chroot = rest.partition("/")
    name = chroot.strip("/").replace("/", "-") if sep else ""
    return name or DEFAULT_CLUSTER


def flag_value(value: Any) -> str:
    """A flag as Mesos prints it: booleans lower-case, durations and numbers plain."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ",".join(flag_value(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={flag_value(v)}" for k, v in sorted(value.items()))
    name = getattr(value, "name", None)
    if isinstance(name, str) and not isinstance(value, (str, int, float)):
        return name
    return str(value)


_SECRET_FLAGS = frozenset({"security"})
"""Options never shown (Mesos hides credentials from ``/flags`` too)."""


def master_flags(
    options: Any,
    *,
    hostname: str,
    http_host: str,
    http_port: int,
    cluster: str,
    log_dir: str | None,
) -> dict[str, str]:
    """``/flags`` of one master: its options (``MasterOptions`` and its ``MasterConfig``)
    under their own names, plus Mesos' names for the ones Mesos has (``hostname``, ``ip``,
    ``port``, ``cluster``, ``zk``, ``log_dir``, ``agent_ping_timeout``...)."""
    out: dict[str, str] = {}
    if is_dataclass(options):
        for f in fields(options):
            if f.name in _SECRET_FLAGS or f.name == "config":
                continue
            out[f.name] = flag_value(getattr(options, f.name))
        config = getattr(options, "config", None)
        if is_dataclass(config):
            for f in fields(config):
                out[f.name] = flag_value(getattr(config, f.name))
    zk = str(getattr(options, "zk", ""))
    out.update(
        {
            "hostname": hostname,
            "ip": http_host,
            "port": str(http_port),
            "http_port": str(http_port),
            "cluster": cluster,
            "zk": zk if zk.startswith("zk://") else f"zk://{zk}",
            "zk_session_timeout": out.get("session_timeout", "") + "secs",
        }
    )
    if log_dir:
        out["log_dir"] = log_dir
    if "ping_interval" in out:
        out["agent_ping_timeout"] = out["ping_interval"] + "secs"
        out["max_agent_ping_timeouts"] = out.get("max_missed_pings", "")
    if "agent_reregister_timeout" in out:
        out["agent_reregister_timeout"] = out["agent_reregister_timeout"] + "secs"
    if "allocation_interval" in out:
        out["allocation_interval"] = out["allocation_interval"] + "secs"
    if "offer_timeout" in out:
        # Mesos lists --offer_timeout only when set (an Option<Duration>; unset: never).
        if out["offer_timeout"]:
            out["offer_timeout"] = out["offer_timeout"] + "secs"
        else:
            del out["offer_timeout"]
    if "services" in out:
        out["services"] = ",".join(
            str(getattr(s, "name", s)) for s in getattr(options, "services", ())
        )
    return {k: v for k, v in sorted(out.items())}


def master_about(
    options: Any, *, hostname: str, http_host: str, http_port: int, started_at: float
) -> MasterAbout:
    """Gather this master's facts (reads where stderr goes: call once at start-up);
    ``started_at`` is the process's start on the wall clock (its ``Clock.wall()``)."""
    cluster = cluster_name(str(getattr(options, "zk", "")))
    log_dir = stderr_log_dir()
    return MasterAbout(
        hostname=hostname,
        started_at=started_at,
        cluster=cluster,
        log_dir=log_dir,
        http_url=f"http://{http_host}:{http_port}",
        flags=master_flags(
            options,
            hostname=hostname,
            http_host=http_host,
            http_port=http_port,
            cluster=cluster,
            log_dir=log_dir,
        ),
    )


def stderr_log_dir() -> str | None:
    """The directory of the file this process' stderr is written to, or None when
    stderr is a terminal or a pipe (``pydcos cluster up`` and the tests log to files)."""
    with contextlib.suppress(OSError):
        if not stat.S_ISREG(os.fstat(2).st_mode):
            return None
        target = os.readlink("/proc/self/fd/2")
        if target.startswith("/"):
            return str(Path(target).parent)
    return None


@functools.cache
def build_info() -> BuildInfo:
    """When and by whom this pydcos was built (installed), and its git commit.

    The build is the package's install record (``pydcos.egg-info``) when there is one,
    else this source file; the commit is read from the checkout's ``.git`` files."""
    record = _REPO / "pydcos.egg-info" / "PKG-INFO"
    path = record if record.exists() else Path(__file__)
    st = path.stat()
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    sha, branch = _git_head(_REPO / ".git")
    return BuildInfo(
        build_date=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(st.st_mtime)),
        build_time=float(int(st.st_mtime)),
        build_user=user,
        git_sha=sha,
        git_branch=branch,
    )


def build_json(build: BuildInfo) -> dict[str, Any]:
    """Mesos' build fields (``/version`` and the top of ``/master/state``); ``git_sha``
    and ``git_branch`` only when known, as Mesos."""
    out: dict[str, Any] = {
        "version": MESOS_VERSION,
        "build_date": build.build_date,
        "build_time": build.build_time,
        "build_user": build.build_user,
    }
    if build.git_sha:
        out["git_sha"] = build.git_sha
    if build.git_branch:
        out["git_branch"] = build.git_branch
    return out


def _git_head(git: Path) -> tuple[str | None, str | None]:
    """``(sha, branch)`` of a checkout's HEAD, without running git."""
    try:
        head = (git / "HEAD").read_text().strip()
    except OSError:
        return None, None
    if not head.startswith("ref: "):
        return (head or None), None
    ref = head.removeprefix("ref: ")
    branch = ref.removeprefix("refs/heads/")
    with contextlib.suppress(OSError):
        return (git / ref).read_text().strip() or None, branch
    with contextlib.suppress(OSError):
        for line in (git / "packed-refs").read_text().splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha, branch
    return None, branch


def system_metrics() -> dict[str, float]:
    """libprocess' ``system/*`` metrics of this host (``/metrics/snapshot``)."""
    out: dict[str, float] = {"system/cpus_total": float(os.cpu_count() or 0)}
    with contextlib.suppress(OSError):
        one, five, fifteen = os.getloadavg()
        out.update(
            {"system/load_1min": one, "system/load_5min": five, "system/load_15min": fifteen}
        )
    with contextlib.suppress(OSError, ValueError):
        info = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            info[key] = float(rest.split()[0]) * 1024 if rest.split() else 0.0
        out["system/mem_total_bytes"] = info["MemTotal"]
        out["system/mem_free_bytes"] = info.get("MemAvailable", info.get("MemFree", 0.0))
    return out
