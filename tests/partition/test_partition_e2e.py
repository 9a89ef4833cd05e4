"""Partitions on a real ``--hosts`` cluster (issue 26): three masters with a ZooKeeper
member each, three agents, every one in its own network namespace; partitions are
iptables rules inside the namespaces (``console._hosts``), checked with the public
HTTP APIs (Marathon, Metronome, Mesos) and a real ZooKeeper client.

* An agent cut off from everyone: its tasks go TASK_UNREACHABLE; the app whose
  ``inactiveAfterSeconds`` passes gets a replacement, the one still inside its grace
  does not; after the heal the agent re-registers, its tasks are RUNNING again under
  the same ids, and Marathon kills the surplus (the replacement): never more than
  ``instances``, and no task that came back is killed. A Metronome run whose task was
  on that agent stays the same single active run.
* The leader cut off from everyone (its ZooKeeper member too): another master is
  elected, the old one stops leading and never claims it at the same time, and a write
  fenced with the old leader's term is refused by the ensemble.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from console._hosts import netns_unsupported
from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, started_cluster
from tests.partition._harness import HostsCluster, request
from zk import Fence, Fenced, StateStore, close_quietly, connect, read_credentials, read_term
from zk import term_path as election_term_path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(netns_unsupported() is not None, reason=str(netns_unsupported())),
]


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("partition")
    up = ["--hosts", "--insecure-dev", "--no-docker", "--masters", "3", "--agents", "3"]
    with started_cluster(state, *up) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def hc(lc: LocalCluster) -> Iterator[HostsCluster]:
    c = HostsCluster(lc.state_dir)
    try:
        yield c
    finally:
        c.heal()


def _app(app_id: str, instances: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": app_id,
        "cmd": "sleep 100000",
        "cpus": 0.05,
        "mem": 32,
        "instances": instances,
        **extra,
    }


def _post(hc: HostsCluster, path: str, body: Any) -> Any:
    def ok() -> Any:
        code, answer = hc.api("POST", path, body)
        return answer if code in (200, 201) else None

    return wait_for(ok, 30, f"POST {path}")


def test_agent_partition_then_heal(hc: HostsCluster) -> None:
    web = "/part/web"
    _post(
        hc,
        "/marathon/v2/apps",
        _app(
            web,
            2,
            constraints=[["hostname", "UNIQUE"]],
            unreachableStrategy={"inactiveAfterSeconds": 2, "expungeAfterSeconds": 3600},
        ),
    )
    first = wait_for(lambda: (r := hc.running(web)) and len(r) == 2 and r, 60, "2 web tasks")
    cut_task = sorted(first)[0]
    cut_ip = first[cut_task]["host"]
    cut_host = hc.hosts.name_of(cut_ip)
    assert cut_host is not None and cut_host.startswith("agent-")
    # Default grace (300 s): this one must be kept, never replaced nor killed.
    keep = "/part/keep"
    _post(hc, "/marathon/v2/apps", _app(keep, 1, constraints=[["hostname", "CLUSTER", cut_ip]]))
    (keep_task,) = wait_for(lambda: (r := hc.running(keep)) and list(r), 60, "keep's task")
    # A Metronome run on the same agent (FORBID: one run at a time, ever).
    job = {
        "id": "part.once",
        "run": {
            "cmd": "sleep 100000",
            "cpus": 0.05,
            "mem": 32,
            "placement": {
                "constraints": [{"attribute": "hostname", "operator": "LIKE", "value": cut_ip}]
            },
        },
    }
    _post(hc, "/metronome/v1/jobs", job)
    run = _post(hc, "/metronome/v1/jobs/part.once/runs", {})

    def run_tasks() -> list[dict[str, Any]] | None:
        code, runs = hc.api("GET", "/metronome/v1/jobs/part.once/runs")
        if code != 200:
            return None
        mine = [r for r in runs if r["id"] == run["id"]]
        return mine[0]["tasks"] if mine else None

    (job_task,) = wait_for(
        lambda: (t := run_tasks()) and [x for x in t if x["status"] == "TASK_RUNNING"],
        60,
        "the job's task running",
    )

    hc.partition(cut_host)

    def unreachable_and_replaced() -> bool:
        tasks = hc.app_tasks(web) or []
        states = {t["id"]: t["state"] for t in tasks}
        others = [t for t in tasks if t["state"] == "TASK_RUNNING" and t["host"] != cut_ip]
        return states.get(cut_task) == "TASK_UNREACHABLE" and len(others) == 2

    wait_for(unreachable_and_replaced, 60, "web's task unreachable and replaced")
    keep_tasks = hc.app_tasks(keep) or []
    assert [(t["id"], t["state"]) for t in keep_tasks] == [(keep_task, "TASK_UNREACHABLE")]
    # The run is still the one active run, with its one task (unreachable, not retried).
    code, runs = hc.api("GET", "/metronome/v1/jobs/part.once/runs")
    assert code == 200 and [r["id"] for r in runs] == [run["id"]]
    assert [t["id"] for t in runs[0]["tasks"]] == [job_task["id"]]

    hc.heal()

    def healed() -> dict[str, Any] | None:
        w, k = hc.running(web), hc.running(keep)
        if w is None or k is None or set(k) != {keep_task} or cut_task not in w:
            return None
        tasks = hc.app_tasks(web) or []
        return w if len(w) == 2 and len(tasks) == 2 else None

    back = wait_for(healed, 60, "the agent back, its tasks running, the surplus killed")
    assert cut_task in back and len(back) == 2
    code, runs = hc.api("GET", "/metronome/v1/jobs/part.once/runs")
    assert code == 200 and [r["id"] for r in runs] == [run["id"]]
    assert [(t["id"], t["status"]) for t in runs[0]["tasks"]] == [(job_task["id"], "TASK_RUNNING")]
    # Mesos knows no task that no framework knows: every live task is Marathon's or
    # Metronome's, and each of them is listed by its framework.
    state = hc.mesos_state()
    assert state is not None
    live = {
        t["id"]
        for fw in state["frameworks"]
        for t in fw["tasks"]
        if t["state"] in ("TASK_RUNNING", "TASK_STAGING", "TASK_STARTING")
    }
    known = set(back) | {keep_task, job_task["id"]}
    assert live == known
    hc.api("DELETE", "/metronome/v1/jobs/part.once?stopCurrentJobRuns=true")
    for app in (web, keep):
        hc.api("DELETE", f"/marathon/v2/apps{app}?force=true")


def test_leader_partitioned_from_zookeeper(hc: HostsCluster, lc: LocalCluster) -> None:
    old = wait_for(hc.leader, 30, "a leader")
    record = hc.record()
    zk = connect(
        record["zk_hosts"],
        chroot=record["chroot"],
        credentials=read_credentials(Path(lc.state_dir) / "keys" / "zk.credentials"),
    )
    try:
        term = read_term(zk)
        assert term > 0
        hc.partition(old.host)  # from every other host: masters, agents, ZK members

        def new_leader() -> Any:
            return next((m for m in hc.electeds(timeout=1.0) if m.name != old.name), None)

        new = wait_for(new_leader, 60, "a new leader")
        wait_for(lambda: old not in hc.electeds(timeout=1.0), 30, "the old leader stepped down")
        new_term = read_term(zk)
        assert new_term > term
        # Never two leaders at once: the old one stopped acting (the moment its lease
        # ended or it saw the connection suspended, from its log) before the new one
        # started (its log; one machine, one clock).
        stopped = wait_for(
            lambda: _log_time(lc, old.name, "stopped acting at ", embedded=True),
            10,
            "the old leader's stop logged",
        )
        started = _log_time(lc, new.name, f"leads (term {new_term})")
        assert stopped is not None and started is not None and stopped < started
        # The old leader's term is over: a write fenced with it is refused by the ensemble.
        stale = StateStore(zk, "/partition-test", fence=Fence(election_term_path(), term))
        with pytest.raises(Fenced, match=f"term {term} is over"):
            stale.put("probe", {"from": old.name})
        assert StateStore(zk, "/partition-test").get("probe") is None
        # Meanwhile the cluster answers through the new leader. Just elected, its
        # Marathon answers views with task states 503 + Retry-After until it heard of
        # every task it loaded as not running (the partitioned host's agent never answers:
        # at most its adoption timeout); clients retry a 503, as DC/OS clients do.
        answers: list[int] = []

        def served() -> bool:
            answers.append(request(new.http_url + "/marathon/v2/apps")[0])
            return answers[-1] == 200

        wait_for(served, 60, "the new leader serving /v2/apps")
        assert set(answers) <= {200, 503}, answers
    finally:
        hc.heal()
        close_quietly(zk)
    # Healed: the old master rejoins as a standby; exactly one leader.
    wait_for(
        lambda: (
            request(old.http_url + "/metrics/snapshot", timeout=2)[0] == 200
            and len(hc.electeds()) == 1
        ),
        60,
        "one leader after the heal",
    )


def _log_time(lc: LocalCluster, name: str, needle: str, embedded: bool = False) -> datetime | None:
    """When the process' log last said ``needle`` (the line's timestamp, or with
    ``embedded`` the one right after the needle)."""
    found = None
    for line in (Path(lc.state_dir) / "logs" / f"{name}.log").read_text().splitlines():
        if needle in line:
            text = line.split(needle, 1)[1] if embedded else line
            found = datetime.strptime(text[:23], "%Y-%m-%d %H:%M:%S,%f")
    return found
