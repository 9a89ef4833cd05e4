"""Task logs from anywhere, on a real ``pydcos cluster up`` (2 masters, 1 agent).

A Marathon app prints a numbered line every 50 ms to stdout and stderr. Read with real
clients only: the ``pydcos`` CLI in another process, ``sseclient-py`` over urllib3,
``urllib``. The numbers make loss and repetition visible: a follow must print
consecutive numbers whatever happens to the master serving it.

Order matters (module-scoped cluster): the leader is SIGKILLed near the end, the agent
last.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.testing import wait_for
from tests.console.conftest import REPO, LocalCluster, get, pid_alive, started_cluster

pytestmark = [pytest.mark.slow]

TICKER = {
    "id": "/ticker",
    "cmd": 'i=0; while true; do i=$((i+1)); echo "tick $i"; echo "err $i" >&2; sleep 0.05; done',
    "cpus": 0.1,
    "mem": 32,
    "instances": 1,
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("logs-cluster")
    args = ("--insecure-dev", "--no-docker", "--masters", "2", "--agents", "1")
    with started_cluster(state, *args, check_down=True) as c:
        app = state / "ticker.json"
        app.write_text(json.dumps(TICKER))
        r = c.cli("marathon", "app", "add", str(app))
        assert r.returncode == 0, r.stderr
        yield c


def masters(c: LocalCluster) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(leader, standbys) process records, asking each live master (waits out an
    election)."""

    def look() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        leader, standbys = None, []
        for p in c.record()["processes"]:
            if p["kind"] != "master" or not pid_alive(p["pid"]):
                continue
            status, body = get(p["http_url"] + "/metrics/snapshot")
            if status == 200 and json.loads(body).get("master/elected") == 1:
                leader = p
            else:
                standbys.append(p)
        return (leader, standbys) if leader is not None else None

    return wait_for(look, timeout=30, what="a leading master")


def ticker_task(c: LocalCluster) -> dict[str, Any]:
    def running() -> dict[str, Any] | None:
        status, body = get(masters(c)[0]["http_url"] + "/mesos/master/tasks")
        tasks = json.loads(body)["tasks"] if status == 200 else []
        live = [t for t in tasks if t["state"] == "TASK_RUNNING" and t["id"].startswith("ticker.")]
        return live[0] if live else None

    return wait_for(running, timeout=30, what="the ticker task runs")


def numbers(lines: list[str], word: str = "tick") -> list[int]:
    return [int(m.group(1)) for x in lines if (m := re.fullmatch(rf"{word} (\d+)", x.strip()))]


def consecutive(ns: list[int]) -> bool:
    return ns == list(range(ns[0], ns[0] + len(ns))) if ns else False


class CliFollow:
    """``pydcos task log --follow`` in its own process, its lines in a queue."""

    def __init__(self, c: LocalCluster, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "task", "log", "--follow", *args,
             "--state-dir", str(c.state_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def take(self, n: int, timeout: float = 30.0) -> list[str]:
        def enough() -> bool:
            with contextlib.suppress(queue.Empty):
                while True:
                    self.seen.append(self.lines.get_nowait())
            return len(self.seen) >= n

        wait_for(enough, timeout=timeout, what=f"{n} lines from the CLI")
        return self.seen

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


def test_the_cli_of_another_process_follows_a_task_through_a_standby(cluster: LocalCluster) -> None:
    ticker_task(cluster)
    _, standbys = masters(cluster)
    follow = CliFollow(cluster, "--lines", "3", "--master", standbys[0]["http_url"], "/ticker")
    try:
        got = numbers(follow.take(25))
    finally:
        follow.stop()
    assert len(got) >= 25 and consecutive(got), got


def test_sse_resumes_with_last_event_id_losing_and_repeating_nothing(
    cluster: LocalCluster,
) -> None:
    import sseclient
    import urllib3

    task = ticker_task(cluster)
    _, standbys = masters(cluster)
    url = f"{standbys[0]['http_url']}/system/v1/logs/v2/task/{task['id']}?skip=-5"
    http = urllib3.PoolManager()

    def events(headers: dict[str, str], n: int) -> list[Any]:
        r = http.request(
            "GET", url, headers={"Accept": "text/event-stream", **headers},
            preload_content=False, timeout=urllib3.Timeout(connect=5, read=20),
        )  # fmt: skip
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        out = []
        for ev in sseclient.SSEClient(r).events():
            if ev.event == "message":
                out.append(ev)
            if len(out) >= n:
                break
        r.release_conn()
        r.close()
        return out

    first = events({}, 10)
    last_id = first[-1].id
    size_then = int(last_id)
    read = f"{standbys[0]['http_url']}/agent/{task['slave_id']}/files/read"

    def grown() -> bool:  # more lines were written while nobody was connected
        path = f"{sandbox_dir(cluster, task)}/stdout"
        q = urllib.parse.urlencode({"path": path, "offset": -1})
        return int(json.loads(get(f"{read}?{q}")[1])["offset"]) > size_then + 200

    wait_for(grown, timeout=20, what="the task writes on")
    second = events({"Last-Event-ID": last_id}, 10)
    ns = numbers([e.data for e in first + second])
    assert consecutive(ns), ns  # nothing lost, nothing twice across the reconnection
    ids = [int(e.id) for e in first + second]
    assert ids == sorted(set(ids))  # offsets only grow


def sandbox_dir(c: LocalCluster, task: dict[str, Any]) -> str:
    agent = next(p for p in c.record()["processes"] if p["kind"] == "agent")
    return f"{agent['work_dir']}/sandboxes/{task['id']}"


def test_text_json_skip_limit_cursor_and_stderr(cluster: LocalCluster) -> None:
    task = ticker_task(cluster)
    base = f"{masters(cluster)[1][0]['http_url']}/system/v1/logs/v2/task/{task['id']}"
    status, body = get(base + "?skip=-3")
    lines = body.decode().splitlines()
    assert status == 200 and len(lines) == 3 and consecutive(numbers(lines))
    status, body = get(base + "/file/stderr?cursor=BEG&limit=4", {"Accept": "application/json"})
    entries = [json.loads(x) for x in body.decode().splitlines()]
    assert status == 200 and [e["fields"]["MESSAGE"] for e in entries] == [
        f"err {i}" for i in range(1, 5)
    ]
    assert entries[0]["offset"] == 0 and entries[1]["offset"] == int(entries[0]["cursor"])
    status, body = get(f"{base}/file/stderr?cursor={entries[1]['cursor']}&limit=1")
    assert body.decode() == "err 3\n"
    r = cluster.cli("task", "log", "--file", "stderr", "--lines", "2", task["id"])
    assert r.returncode == 0 and numbers(r.stdout.splitlines(), "err"), r.stderr
    for bad in ("limit=x", "skip=1.5", "cursor=-4"):
        status, body = get(f"{base}?{bad}")
        assert status == 400 and bad.split("=")[0] in json.loads(body)["message"]


def test_sandbox_files_api_and_traversal_refused(cluster: LocalCluster) -> None:
    task = ticker_task(cluster)
    m = masters(cluster)[1][0]["http_url"]
    agent, directory = task["slave_id"], sandbox_dir(cluster, task)
    status, body = get(f"{m}/agent/{agent}/files/browse?path={urllib.parse.quote(directory)}")
    names = {e["path"].rsplit("/", 1)[-1] for e in json.loads(body)}
    assert status == 200 and {"stdout", "stderr"} <= names
    status, body = get(f"{m}/system/v1/logs/v2/task/{task['id']}/browse")
    assert status == 200 and {"stdout", "stderr"} <= {
        e["path"].rsplit("/", 1)[-1] for e in json.loads(body)
    }
    download = f"{m}/agent/{agent}/files/download?path={directory}/stdout"
    # The ticker may have printed only its first line when this test runs alone.
    status, body = wait_for(lambda: (r := get(download))[1].count(b"\n") >= 2 and r, what="2 ticks")
    assert status == 200 and body.startswith(b"tick 1\ntick 2\n")
    q = urllib.parse.urlencode({"path": f"{directory}/stdout", "offset": 0, "length": 7})
    status, body = get(f"{m}/agent/{agent}/files/read?{q}")
    assert status == 200 and json.loads(body) == {"data": "tick 1\n", "offset": 0}
    # Admin Router's legacy path, which the DC/OS CLI's `dcos task log` reads.
    status, body = get(f"{m}/slave/{agent}/files/read.json?{q}")
    assert status == 200 and json.loads(body) == {"data": "tick 1\n", "offset": 0}
    refused = [
        f"/slave/{agent}/files/read.json?path=/etc/passwd&offset=0",
        f"/agent/{agent}/files/read?path=/etc/passwd&offset=0",
        f"/agent/{agent}/files/read?path={directory}/../../../../../../etc/passwd",
        f"/agent/{agent}/files/browse?path=/",
        f"/system/v1/logs/v2/task/{task['id']}/file/..%2F..%2F..%2Fmeta%2Fagent_id",
    ]
    for path in refused:
        status, body = get(m + path)
        assert status == 403, (path, status, body)
        assert "passwd" not in body.decode() or "outside" in body.decode()
    status, body = get(f"{m}/agent/{agent}/files/read?path={directory}/stdout&offset=-5")
    assert status == 400 and "offset" in json.loads(body)["message"]
    status, body = get(f"{m}/system/v1/logs/v2/task/no-such-task")
    assert status == 404 and "no-such-task" in json.loads(body)["message"]
    status, body = get(f"{m}/agent/no-such-agent/files/browse?path=/x")
    assert status == 404 and "no-such-agent" in json.loads(body)["message"]


def test_a_stalled_sse_reader_holds_one_chunk_and_no_pending_reads(cluster: LocalCluster) -> None:
    """A client that stops reading: the master blocks writing to it and asks the agent
    for nothing more (at most the one follow request in flight), whatever the log's
    size; seen in the master's own Prometheus figures."""
    import socket

    from prometheus_client.parser import text_string_to_metric_families

    app = cluster.state_dir / "flood.json"
    flood = "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 8000000; exec sleep 100000"
    app.write_text(json.dumps({**TICKER, "id": "/flood", "cmd": flood}))
    assert cluster.cli("marathon", "app", "add", str(app)).returncode == 0
    leader, standbys = masters(cluster)

    def flooded() -> dict[str, Any] | None:
        tasks = json.loads(get(leader["http_url"] + "/mesos/master/tasks")[1])["tasks"]
        t = next((t for t in tasks if t["id"].startswith("flood.")), None)
        if t is None or t["state"] != "TASK_RUNNING":
            return None
        q = urllib.parse.urlencode({"path": f"{sandbox_dir(cluster, t)}/stdout", "offset": -1})
        url = f"{standbys[0]['http_url']}/agent/{t['slave_id']}/files/read?{q}"
        return t if json.loads(get(url)[1])["offset"] >= 8_000_000 else None

    task = wait_for(flooded, timeout=30, what="8 MB of log")
    base = urllib.parse.urlsplit(standbys[0]["http_url"])

    def figures() -> dict[str, float]:
        text = get(standbys[0]["http_url"] + "/metrics")[1].decode()
        return {
            s.name: s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
            if s.name.startswith("pydcos_logs_")
        }

    before = figures().get("pydcos_logs_sent_bytes_total", 0.0)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        sock.connect((base.hostname, base.port))
        sock.sendall(
            f"GET /system/v1/logs/v2/task/{task['id']}?cursor=BEG HTTP/1.1\r\n"
            f"Host: {base.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        assert sock.recv(64).startswith(b"HTTP/1.1 200")
        sent = wait_for(
            lambda: (f := figures())["pydcos_logs_streams_open"] >= 1 and f, what="the stream"
        )
        for _ in range(3):  # the client reads nothing more: the master stays blocked
            f = figures()
            assert f["pydcos_logs_follow_pending"] <= 1, f
            assert f["pydcos_logs_sent_bytes_total"] - before < 8_000_000, f  # not all of it
        assert sent["pydcos_logs_streams_started_total"] >= 1
    finally:
        sock.close()
        cluster.cli("marathon", "app", "remove", "/flood", "--force")


def test_component_logs_of_masters_services_and_the_agent(cluster: LocalCluster) -> None:
    task = ticker_task(cluster)
    standby = masters(cluster)[1][0]["http_url"]
    status, body = get(f"{standby}/system/v1/logs/v2/component/master")
    assert status == 200 and "master listening on" in body.decode()
    status, body = get(f"{standby}/system/v1/logs/v2/component/marathon")
    lines = body.decode().splitlines()
    assert status == 200 and lines and all(" actors.marathon" in x for x in lines)
    status, body = get(f"{standby}/system/v1/agent/{task['slave_id']}/logs/v2/component/agent")
    assert status == 200 and "registered with master" in body.decode()
    status, body = get(f"{standby}/system/v1/logs/v2/component/nginx")
    assert status == 404 and "nginx" in json.loads(body)["message"]
    r = cluster.cli("service", "log", "marathon", "--lines", "2")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2, r.stderr
    r = cluster.cli("node", "log", "--agent", task["slave_id"], "--lines", "50")
    assert r.returncode == 0 and "registered with master" in r.stdout, r.stderr


def test_the_dashboard_log_pane_follows_the_selected_task_remotely(cluster: LocalCluster) -> None:
    """Textual's pilot on the live dashboard: ``l`` on the task opens a pane that keeps
    showing new lines, read through the masters' logs API (not the sandbox file)."""
    import asyncio
    import time

    from console._client import resolve_target
    from console._dash_logs import TaskLogScreen
    from console._dashboard import DashboardApp
    from console._feed import LiveSource

    task = ticker_task(cluster)

    async def main() -> None:
        app = DashboardApp(LiveSource(resolve_target(None, cluster.state_dir)))
        async with app.run_test(size=(120, 40)) as pilot:

            async def until(cond: Any, what: str) -> None:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    await pilot.pause(0.1)
                    if cond():
                        return
                raise AssertionError(f"timed out waiting for {what}")

            await until(lambda: task["id"] in app.model.tasks, "the task in the model")
            table = app.query_one("#tasks")
            # The table is synced from the model a moment later: `l` on an empty table
            # only says there is no task yet.
            await until(lambda: table.row_count > 0, "the task's row")
            table.focus()
            await pilot.press("l")
            await until(lambda: isinstance(app.screen, TaskLogScreen), "the log pane")
            pane = app.screen
            assert isinstance(pane, TaskLogScreen) and pane.task_id == task["id"]
            await until(lambda: pane.shown >= 5, "the last lines")
            first = pane.shown
            await until(lambda: pane.shown >= first + 10, "new lines as they come")
            await pilot.press("escape")
            await until(lambda: not isinstance(app.screen, TaskLogScreen), "the pane closed")

    asyncio.run(main())


def test_a_follow_survives_a_leader_sigkill_with_nothing_lost_or_repeated(
    cluster: LocalCluster,
) -> None:
    ticker_task(cluster)
    leader, _ = masters(cluster)
    follow = CliFollow(cluster, "--lines", "0", "--master", leader["http_url"], "ticker")
    try:
        follow.take(5)
        os.kill(leader["pid"], signal.SIGKILL)
        n = len(follow.seen)
        got = numbers(follow.take(n + 40, timeout=40))
    finally:
        err = follow.stop()
    assert consecutive(got), (got, err)
    assert got[0] > 25  # --lines 0: only new lines (earlier tests saw 25 already)


def test_a_finished_tasks_log_stays_readable_and_its_follow_ends(cluster: LocalCluster) -> None:
    task = ticker_task(cluster)
    r = cluster.cli("marathon", "app", "remove", "/ticker", "--force")
    assert r.returncode == 0, r.stderr

    def over() -> bool:
        status, body = get(
            f"{masters(cluster)[0]['http_url']}/mesos/master/tasks?task_id={task['id']}"
        )
        return status == 200 and json.loads(body)["tasks"][0]["state"] != "TASK_RUNNING"

    wait_for(over, timeout=30, what="the ticker task ended")
    r = cluster.cli("task", "log", "--lines", "2", task["id"])
    assert r.returncode == 0 and len(numbers(r.stdout.splitlines())) == 2, r.stderr
    follow = CliFollow(cluster, "--lines", "1", task["id"])
    assert follow.proc.wait(timeout=30) == 0  # the log of a finished task ends
    follow.stop()


def test_an_agent_dying_mid_stream_ends_it_with_an_error_naming_the_agent(
    cluster: LocalCluster,
) -> None:
    import sseclient
    import urllib3

    app = cluster.state_dir / "ticker2.json"
    app.write_text(json.dumps({**TICKER, "id": "/ticker2"}))
    assert cluster.cli("marathon", "app", "add", str(app)).returncode == 0
    task = wait_for(
        lambda: next(
            (
                t
                for t in json.loads(
                    get(masters(cluster)[0]["http_url"] + "/mesos/master/tasks")[1]
                )["tasks"]
                if t["id"].startswith("ticker2.") and t["state"] == "TASK_RUNNING"
            ),
            None,
        ),
        timeout=30,
        what="ticker2 runs",
    )
    standby = masters(cluster)[1]
    url = (masters(cluster)[0] if not standby else standby[0])["http_url"]
    r = urllib3.PoolManager().request(
        "GET", f"{url}/system/v1/logs/v2/task/{task['id']}",
        headers={"Accept": "text/event-stream"}, preload_content=False,
        timeout=urllib3.Timeout(connect=5, read=30),
    )  # fmt: skip
    agent = next(p for p in cluster.record()["processes"] if p["kind"] == "agent")
    errors = []
    for n, ev in enumerate(sseclient.SSEClient(r).events()):
        if n == 3:
            os.kill(agent["pid"], signal.SIGKILL)
        if ev.event == "error":
            errors.append(json.loads(ev.data))
            break
    assert errors and task["slave_id"] in errors[0]["message"], errors
