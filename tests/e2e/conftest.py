"""A small cluster harness: real ZooKeeper, masters and agents as OS processes on loopback.

```
 pytest process                      subprocesses (python -m console.cli ... --insecure-dev)
   zk_server (session, tests/conftest.py)   <- one real ZooKeeper, a fresh chroot per test
   Cluster  --start_master()-->  master-1 .. master-N   (logs: tmp_path/logs/master-i.log)
            --start_agent()--->  agent-1 ..  agent-M    (logs: tmp_path/logs/agent-j.log)
            --framework()----->  runtime.connect() + SchedulerDriver, in this process
```

Every process is stopped by PID in teardown, even when the test failed (SIGTERM, then
SIGKILL); native tasks left behind by a SIGKILLed agent are killed through their
checkpoints and their cgroups removed, then the test's own cgroup root
(``--cgroup-root pydcos-e2e-<pid>-<n>``). A failed test gets the tail of every log in its
report (section "e2e logs").
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from kazoo.client import KazooClient

from actors import protocol as p
from actors.framework import Scheduler, SchedulerDriver
from runtime import Cluster as ClusterHandle
from runtime import connect
from runtime.testing import wait_for
from zk import close_quietly, read_leader
from zk import connect as zk_connect

REPO = Path(__file__).resolve().parents[2]
SESSION_TIMEOUT = 2.0
"""ZooKeeper session of every process: a SIGKILLed master is replaced after about this."""
PING_INTERVAL = 0.25
MAX_MISSED_PINGS = 4
"""An agent that stops answering is unreachable after about 1 s."""
LOG_TAIL = 120
"""Lines of each process log shown in a failed test's report."""

_PR_SET_PDEATHSIG = 1
_ROOTS = itertools.count(1)


def _die_with_parent() -> None:
    """Runs in the child: SIGKILL it if the test process dies (no orphans after a crash)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# ------------------------------------------------------------------------------ HTTP


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(
    url: str, method: str = "GET", body: bytes | None = None, timeout: float = 5.0
) -> HttpReply:
    """One request without following redirects (so 307s can be checked); a ``body`` is
    sent as JSON."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=timeout)
    try:
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return HttpReply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def http_get(url: str, timeout: float = 5.0) -> HttpReply:
    """GET without following redirects (so 307s can be checked)."""
    return http_request(url, timeout=timeout)


# ------------------------------------------------------------------------------ processes


@dataclass
class Proc:
    """One ``pydcos master|agent`` subprocess."""

    name: str
    argv: list[str]
    log_path: Path
    banner: str
    """The first word of the line the process prints when it is up (``master``/``agent``)."""
    work_dir: Path | None = None
    popen: subprocess.Popen[bytes] | None = None
    address: str = ""
    """Transport address of its node (``tcp://127.0.0.1:PORT``)."""
    http_url: str = ""
    """Masters: the gateway's base URL."""

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> Proc:
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        env.pop("PYDCOS_ZK", None)
        with open(self.log_path, "ab") as log:
            log.write(f"---- start {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=env,
                preexec_fn=_die_with_parent,
            )
        self.address = self.http_url = ""
        return self

    def wait_up(self, timeout: float = 30.0) -> Proc:
        """Wait for the banner line (``master tcp://... http http://...``)."""

        def banner() -> bool:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode}")
            text = self.log_path.read_text(errors="replace")
            run = text.rsplit(f"---- start {self.name}", 1)[-1]
            for line in run.splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] == self.banner and words[1].startswith("tcp://"):
                    self.address = words[1]
                    if self.banner == "master" and len(words) >= 4:
                        self.http_url = words[3]
                    return True
            return False

        # A process that exited fails at once (retry_errors=False), not at the deadline.
        wait_for(banner, timeout, f"{self.name} to come up", interval=0.05, retry_errors=False)
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL by PID, and reap it."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM by PID, then SIGKILL after ``timeout``."""
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()


def kill_native_tasks(work_dir: Path) -> list[int]:
    """SIGKILL the native tasks checkpointed under ``work_dir`` and remove their cgroups.

    Native tasks run in their own session and outlive a SIGKILLed agent by design; a test
    must not leave them (or their cgroups) behind."""
    from actors.agent import Cgroup, read_checkpoints

    killed = []
    for cp in read_checkpoints(work_dir):
        if cp.get("kind") != "mesos" or cp.get("terminal"):
            continue
        pid = cp.get("pid")
        if isinstance(pid, int) and task_alive(cp):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            killed.append(pid)
        if cp.get("cgroup") and cp.get("cgroup_version"):
            with contextlib.suppress(Exception):
                Cgroup(int(cp["cgroup_version"]), str(cp["cgroup"])).destroy()
    return killed


def remove_cgroup_root(root: str, scratch: Path) -> None:
    """SIGKILL whatever still runs under the cgroup ``root`` and remove it."""
    from actors.agent import NativeContainerizer

    with contextlib.suppress(Exception):
        NativeContainerizer(scratch, cgroup_root=root).remove_cgroup_root(kill_tasks=True)


def task_alive(cp: dict[str, Any]) -> bool:
    """Is the checkpointed native task's process the one that was started (not a reused pid)?"""
    import psutil

    try:
        proc = psutil.Process(int(cp["pid"]))
        started = proc.create_time()
        return proc.status() != psutil.STATUS_ZOMBIE and (
            cp.get("start_time") is None or abs(started - float(cp["start_time"])) < 0.05
        )
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def native_checkpoints(work_dir: Path) -> dict[str, dict[str, Any]]:
    from actors.agent import read_checkpoints

    return {str(cp["task_id"]): cp for cp in read_checkpoints(work_dir) if "task_id" in cp}


# ------------------------------------------------------------------------------ frameworks


class Recorder(Scheduler):
    """Records every event; ``on_offers`` decides what to do with offers (decline by default)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.updates: list[p.StatusUpdate] = []
        self.errors: list[str] = []
        self.offers: list[p.Offer] = []
        self.rescinded: set[str] = set()
        self.lost_agents: list[str] = []
        self.registrations: list[tuple[str, str, str]] = []
        """(``registered``|``reregistered``, framework id, master id)."""
        self.on_offers: Callable[[SchedulerDriver, list[p.Offer]], None] | None = None

    def registered(self, driver: SchedulerDriver, framework_id: str, master_id: str) -> None:
        with self.lock:
            self.registrations.append(("registered", framework_id, master_id))

    def reregistered(self, driver: SchedulerDriver, framework_id: str, master_id: str) -> None:
        with self.lock:
            self.registrations.append(("reregistered", framework_id, master_id))

    def resource_offers(self, driver: SchedulerDriver, offers: list[p.Offer]) -> None:
        with self.lock:
            self.offers.extend(offers)
        if self.on_offers is not None:
            self.on_offers(driver, offers)

    def offer_rescinded(self, driver: SchedulerDriver, offer_id: str) -> None:
        with self.lock:
            self.rescinded.add(offer_id)

    def status_update(self, driver: SchedulerDriver, update: p.StatusUpdate) -> None:
        with self.lock:
            self.updates.append(update)

    def agent_lost(self, driver: SchedulerDriver, agent_id: str) -> None:
        with self.lock:
            self.lost_agents.append(agent_id)

    def error(self, driver: SchedulerDriver, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    # -- queries ----------------------------------------------------------------------

    def of(self, task_id: str) -> list[p.StatusUpdate]:
        with self.lock:
            return [u for u in self.updates if u.task_id == task_id]

    def states(self, task_id: str) -> list[str]:
        return [u.state for u in self.of(task_id)]

    def latest(self, task_id: str) -> str | None:
        s = self.states(task_id)
        return s[-1] if s else None

    def take_offers(self) -> list[p.Offer]:
        """Offers not yet used, declined or rescinded (and forget them)."""
        with self.lock:
            out = [o for o in self.offers if o.offer_id not in self.rescinded]
            self.offers.clear()
            return out


@dataclass
class Framework:
    """A scheduler in the test process, connected through ZooKeeper like any client."""

    handle: ClusterHandle
    driver: SchedulerDriver
    sched: Recorder

    @property
    def framework_id(self) -> str | None:
        return self.driver.framework_id

    def wait_offers(self, n: int = 1, timeout: float = 20.0) -> list[p.Offer]:
        """Wait until at least ``n`` usable offers are held; return (and forget) them all."""
        got: list[p.Offer] = []

        def enough() -> bool:
            got.extend(self.sched.take_offers())
            got[:] = [o for o in got if o.offer_id not in self.sched.rescinded]
            return len(got) >= n

        wait_for(enough, timeout, f"{n} offer(s)")
        return got

    def close(self, teardown: bool = False) -> None:
        """Disconnect; without ``teardown`` the master keeps the framework for its
        failover timeout (a scheduler process that went away)."""
        with contextlib.suppress(Exception):
            self.driver.stop(failover=not teardown)
        with contextlib.suppress(Exception):
            self.handle.close()


# ------------------------------------------------------------------------------ cluster


@dataclass
class E2ECluster:
    """N masters and M agents of one test, in the test's own ZooKeeper chroot."""

    zk_hosts: str
    chroot: str
    tmp_path: Path
    masters: list[Proc] = field(default_factory=list)
    agents: list[Proc] = field(default_factory=list)
    frameworks: list[Framework] = field(default_factory=list)
    cgroup_root: str = field(default_factory=lambda: f"pydcos-e2e-{os.getpid()}-{next(_ROOTS)}")
    """Parent cgroup of this test's native tasks (every agent's ``--cgroup-root``)."""
    _zk: KazooClient | None = None

    @property
    def zk(self) -> str:
        return f"{self.zk_hosts}{self.chroot}"

    @property
    def url(self) -> str:
        return f"zk://{self.zk}"

    @property
    def logs(self) -> Path:
        d = self.tmp_path / "logs"
        d.mkdir(exist_ok=True)
        return d

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "console.cli", *args]

    def _common(self) -> list[str]:
        return ["--zk", self.zk, "--insecure-dev", "--session-timeout", str(SESSION_TIMEOUT)]

    # -- processes --------------------------------------------------------------------

    def add_master(self, *extra: str) -> Proc:
        name = f"master-{len(self.masters) + 1}"
        argv = self._cli(
            "master",
            *self._common(),
            "--hostname",
            name,
            "--ping-interval",
            str(PING_INTERVAL),
            "--max-missed-pings",
            str(MAX_MISSED_PINGS),
            "--agent-reregister-timeout",
            "10",
            # Auth off unless a test opts in with --iam-key (issue 24).
            *(() if "--iam-key" in extra or "--no-auth" in extra else ("--no-auth",)),
            *extra,
        )
        proc = Proc(name, argv, self.logs / f"{name}.log", "master").start()
        self.masters.append(proc)
        return proc

    def add_agent(
        self,
        containerizers: str = "simulated",
        resources: str = "cpus:4;mem:2048;disk:1000;ports:[31000-31100]",
        *extra: str,
    ) -> Proc:
        name = f"agent-{len(self.agents) + 1}"
        work_dir = self.tmp_path / name
        argv = self._cli(
            "agent",
            *self._common(),
            "--hostname",
            name,
            "--containerizers",
            containerizers,
            "--resources",
            resources,
            "--work-dir",
            str(work_dir),
            "--cgroup-root",
            self.cgroup_root,
            *extra,
        )
        proc = Proc(name, argv, self.logs / f"{name}.log", "agent", work_dir=work_dir).start()
        self.agents.append(proc)
        return proc

    def start(
        self,
        masters: int = 1,
        agents: int = 1,
        containerizers: str = "simulated",
        master_args: tuple[str, ...] = (),
    ) -> None:
        """Start processes in parallel, then wait for a leader and every agent registered."""
        for _ in range(masters):
            self.add_master(*master_args)
        for _ in range(agents):
            self.add_agent(containerizers)
        for proc in self.masters + self.agents:
            proc.wait_up()
        self.wait_agents(len(self.agents))

    def restart(self, proc: Proc) -> Proc:
        """Start a stopped or killed process again with the same flags (same work dir)."""
        assert not proc.alive, f"{proc.name} is still running"
        return proc.start().wait_up()

    # -- the leader -------------------------------------------------------------------

    def zk_client(self) -> KazooClient:
        if self._zk is None:
            self._zk = zk_connect(self.zk_hosts, chroot=self.chroot, session_timeout=5.0)
        return self._zk

    def leader(self, timeout: float = 20.0) -> Proc:
        """The master process that leads now (as published in ZooKeeper), among live ones."""

        def find() -> Proc | None:
            info = read_leader(self.zk_client())
            if info is None:
                return None
            for m in self.masters:
                if m.alive and m.address == info.address:
                    return m
            return None

        return wait_for(find, timeout, "a live leading master")

    def serving_leader(self, timeout: float = 30.0) -> Proc:
        """The leader once it serves leader-only requests: ZooKeeper names a new leader a
        moment before its leader-only work has started, and until then its gateway
        answers 503 ("just elected and is starting; retry")."""

        def serving() -> Proc | None:
            m = self.leader()
            return m if http_request(f"{m.http_url}/marathon/v2/leader").status == 200 else None

        result: Proc = wait_for(serving, timeout, "the leader serving leader-only requests")
        return result

    def standbys(self) -> list[Proc]:
        lead = self.leader()
        return [m for m in self.masters if m.alive and m is not lead]

    def get(self, what: str = "state", master: Proc | None = None, query: str = "") -> Any:
        """``/mesos/master/<what>`` from the leader (or ``master``), as JSON."""
        m = master or self.leader()
        r = http_get(f"{m.http_url}/mesos/master/{what}{'?' + query if query else ''}")
        if r.status != 200:
            raise AssertionError(f"GET {what} on {m.name}: {r.status} {r.body[:300]!r}")
        return r.json()

    def wait_agents(self, n: int, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the leader counts ``n`` active agents; return its state."""

        def ready() -> dict[str, Any] | None:
            state = self.get("state")
            return state if state["activated_slaves"] == n else None

        return wait_for(ready, timeout, f"{n} active agent(s)")

    def tasks(self, master: Proc | None = None) -> dict[str, dict[str, Any]]:
        """The leader's ``/mesos/master/tasks``, by task id."""
        return {t["id"]: t for t in self.get("tasks", master, "limit=1000")["tasks"]}

    # -- frameworks -------------------------------------------------------------------

    def framework(
        self,
        name: str = "e2e",
        *,
        failover_timeout: float = 60.0,
        framework_id: str | None = None,
        auto_acknowledge: bool = True,
        on_offers: Callable[[SchedulerDriver, list[p.Offer]], None] | None = None,
    ) -> Framework:
        """A subscribed framework in this process (``runtime.connect`` + ``SchedulerDriver``)."""
        handle = connect(self.url, insecure_dev=True, session_timeout=SESSION_TIMEOUT)
        sched = Recorder()
        sched.on_offers = on_offers
        info = p.FrameworkInfo(
            name, failover_timeout=failover_timeout, framework_id=framework_id, hostname="e2e"
        )
        driver = SchedulerDriver(
            sched,
            info,
            handle.node,
            auto_acknowledge=auto_acknowledge,
            resubscribe_interval=0.5,
        )
        fw = Framework(handle, driver, sched)
        self.frameworks.append(fw)
        handle.on_leader_change(lambda a: driver.master_changed(a and f"{a}/master"))
        driver.start()
        assert driver.wait_subscribed(20), f"framework {name} did not subscribe"
        return fw

    # -- teardown ---------------------------------------------------------------------

    def stop_all(self) -> None:
        """Stop every framework and process by PID; kill leftover native tasks."""
        for fw in self.frameworks:
            fw.close()
        procs = self.agents + self.masters
        for proc in procs:  # SIGTERM all first, so they stop in parallel
            if proc.alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.stop(timeout=10.0)
        for agent in self.agents:
            if agent.work_dir is not None and agent.work_dir.exists():
                kill_native_tasks(agent.work_dir)
        remove_cgroup_root(self.cgroup_root, self.tmp_path)
        if self._zk is not None:
            with contextlib.suppress(Exception):
                close_quietly(self._zk)
            self._zk = None

    def log_tails(self) -> str:
        out = []
        for proc in self.masters + self.agents:
            try:
                lines = proc.log_path.read_text(errors="replace").splitlines()
            except OSError as exc:
                lines = [f"(no log: {exc})"]
            state = "running" if proc.alive else f"exited {proc.popen and proc.popen.returncode}"
            out.append(f"===== {proc.name} (pid {proc.popen and proc.popen.pid}, {state})")
            out.extend(lines[-LOG_TAIL:])
        return "\n".join(out)


# ------------------------------------------------------------------------------ fixtures


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report gets the tail of every process log."""
    rep = yield
    cluster = getattr(item, "_e2e_cluster", None)
    if rep.failed and cluster is not None:
        rep.sections.append(("e2e logs", cluster.log_tails()))
    return rep


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Any]:
    """The session's private Docker engine (tests/agent/conftest.py), shared with the
    agent tests; skipped, saying why, when dockerd cannot start here."""
    from tests.agent.conftest import acquire_dockerd, release_dockerd

    d = acquire_dockerd()
    try:
        yield d
    finally:
        release_dockerd()


@contextlib.contextmanager
def module_cluster(
    zk_hosts: str, scratch: Path, master_args: tuple[str, ...], agent_resources: str
) -> Iterator[E2ECluster]:
    """A module's own cluster in a fresh chroot: two masters started with
    ``master_args``, one ``mesos`` agent offering ``agent_resources``, up and registered;
    every process stopped on exit."""
    c = E2ECluster(zk_hosts, f"/t-{uuid.uuid4().hex[:12]}", scratch)
    try:
        for _ in range(2):
            c.add_master(*master_args)
        c.add_agent("mesos", agent_resources)
        for proc in c.masters + c.agents:
            proc.wait_up()
        c.wait_agents(1)
        yield c
    finally:
        c.stop_all()


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest, zk_hosts: str, zk_chroot: str, tmp_path: Path
) -> Iterator[E2ECluster]:
    """An empty cluster in a fresh chroot of the shared ZooKeeper; call ``start()``."""
    c = E2ECluster(zk_hosts, zk_chroot, tmp_path)
    request.node._e2e_cluster = c
    try:
        yield c
    finally:
        c.stop_all()
