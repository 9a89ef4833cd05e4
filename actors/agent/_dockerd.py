"""Start and stop a private Docker engine (tests and bench): own socket, data root,
exec root, pidfile and bridge; stopped by PID with its children, mounts and rules."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from actors.agent._errors import AgentError
from runtime import real_now

TEST_IMAGE = "pydcos-test-busybox:latest"


class DockerDaemonError(AgentError):
    """dockerd could not start; the message carries its log tail."""


class DockerDaemon:
    """`with DockerDaemon() as d: d.url` -> unix:///tmp/pydcos-test-XXXX/docker.sock"""

    def __init__(self, dockerd: str = "/usr/sbin/dockerd", start_timeout: float = 30.0) -> None:
        self.dockerd = dockerd
        self.start_timeout = start_timeout
        self.dir = Path(tempfile.mkdtemp(prefix="pydcos-test-", dir="/tmp"))
        self.sock = self.dir / "docker.sock"
        self.url = f"unix://{self.sock}"
        self.log_path = self.dir / "dockerd.log"
        n = random.randint(1, 250)
        self.bridge = f"pyd{os.getpid() % 100000}"
        self.subnet_cidr = f"10.{random.randint(200, 250)}.{n}.1/24"
        self.proc: subprocess.Popen[bytes] | None = None
        self._bridge_made = False

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no dockerd log)"

    def start(self) -> DockerDaemon:
        if not Path(self.dockerd).exists():
            raise DockerDaemonError(f"{self.dockerd} not found")
        self._make_bridge()
        args = [
            self.dockerd,
            f"--host={self.url}",
            f"--data-root={self.dir / 'data'}",
            f"--exec-root={self.dir / 'exec'}",
            f"--pidfile={self.dir / 'docker.pid'}",
        ]
        args.append(f"--bridge={self.bridge}" if self._bridge_made else "--bridge=none")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = real_now() + self.start_timeout
        import docker

        while real_now() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise DockerDaemonError(f"dockerd exited with {self.proc.returncode}:\n{tail}")
            if self.sock.exists():
                try:
                    docker.DockerClient(base_url=self.url, timeout=5).ping()
                    return self
                except Exception:
                    pass
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise DockerDaemonError(f"dockerd did not answer within {self.start_timeout}s:\n{tail}")

    def _make_bridge(self) -> None:
        ip = shutil.which("ip")
        if ip is None or os.geteuid() != 0:
            return
        cmds = [
            [ip, "link", "add", "name", self.bridge, "type", "bridge"],
            [ip, "addr", "add", self.subnet_cidr, "dev", self.bridge],
            [ip, "link", "set", self.bridge, "up"],
        ]
        for c in cmds:
            if subprocess.run(c, capture_output=True).returncode != 0:
                self._del_bridge()
                return
            self._bridge_made = True

    def _del_bridge(self) -> None:
        ip = shutil.which("ip")
        if ip:
            subprocess.run([ip, "link", "del", self.bridge], capture_output=True)
        self._bridge_made = False
        ipt = shutil.which("iptables")
        if not ipt:
            return
        net = self.subnet_cidr.rsplit(".", 1)[0]
        for table in ("nat", "filter"):
            r = subprocess.run([ipt, "-t", table, "-S"], capture_output=True, text=True)
            for line in r.stdout.splitlines():
                if line.startswith("-A ") and (self.bridge in line or net + "." in line):
                    subprocess.run([ipt, "-t", table, "-D", *line[3:].split()], capture_output=True)

    def build_test_image(self, tag: str = TEST_IMAGE) -> str:
        """A FROM-scratch image with /bin/busybox and its applet symlinks."""
        import docker

        ctx = self.dir / "image"
        ctx.mkdir(exist_ok=True)
        shutil.copy("/bin/busybox", ctx / "busybox")
        (ctx / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        )
        client = docker.DockerClient(base_url=self.url, timeout=120)
        client.images.build(path=str(ctx), tag=tag, rm=True)
        client.close()
        return tag

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM dockerd (it stops its containers and containerd), then SIGKILL the rest."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                kids = psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                kids = []
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for k in kids:
                with contextlib.suppress(psutil.Error):
                    k.kill()
            psutil.wait_procs(kids, timeout=5)
        self._unmount_all()
        if self._bridge_made:
            self._del_bridge()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _unmount_all(self) -> None:
        prefix = str(self.dir)
        try:
            mounts = [
                line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
            ]
        except OSError:
            return
        for m in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)

    def __enter__(self) -> DockerDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
