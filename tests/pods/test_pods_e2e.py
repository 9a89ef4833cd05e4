"""Marathon pods end to end on real processes (``pydcos cluster up``: ZooKeeper, two
masters, one agent, native containers), driven with plain HTTP as a Marathon client
does (the ``marathon`` client library has no pods):

- a pod of two containers sharing an ephemeral volume: one writes a file, the other
  serves it over HTTP on its endpoint's host port (health-checked); ``::status`` is
  STABLE in Marathon's RAML shape and the served file is the writer's;
- the master runs it as one task group: both members are tasks on one agent;
- one container's process killed -> the agent kills the group -> Marathon replaces
  the whole instance;
- the leading master SIGKILLed -> the new leader adopts the same instance;
- a pod that fits no agent: the deployment says why it waits; delete -> gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, pid_alive, started_cluster

pytestmark = pytest.mark.slow

MARK = "pod-e2e-marker"


def pod_doc(pod_id: str = "/duo") -> dict[str, Any]:
    return {
        "id": pod_id,
        "labels": {"tier": "demo"},
        "volumes": [{"name": "shared"}],
        "containers": [
            {
                "name": "writer",
                "resources": {"cpus": 0.1, "mem": 32},
                "exec": {
                    "command": {"shell": f"echo {MARK} $MESOS_TASK_ID > data/msg; exec sleep 3600"}
                },
                "volumeMounts": [{"name": "shared", "mountPath": "data"}],
            },
            {
                "name": "web",
                "resources": {"cpus": 0.1, "mem": 48},
                "exec": {
                    "command": {
                        "shell": "cd data && exec python3 -m http.server $ENDPOINT_HTTP "
                        "--bind 127.0.0.1"
                    }
                },
                "endpoints": [{"name": "http", "hostPort": 0}],
                "healthCheck": {
                    "http": {"endpoint": "http", "path": "/msg"},
                    "intervalSeconds": 1,
                    "gracePeriodSeconds": 30,
                    "delaySeconds": 0,
                    "timeoutSeconds": 2,
                },
                "volumeMounts": [{"name": "shared", "mountPath": "data", "readOnly": True}],
            },
        ],
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("pods-cluster")
    args = ("--insecure-dev", "--no-docker", "--masters", "2", "--agents", "1")
    with started_cluster(state, *args) as c:
        yield c


def masters(c: LocalCluster) -> list[dict[str, Any]]:
    return [p for p in c.record()["processes"] if p["kind"] == "master"]


def http(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw, status, headers = r.read(), r.status, dict(r.headers)
    except urllib.error.HTTPError as exc:
        raw, status, headers = exc.read(), exc.code, dict(exc.headers)
    return status, (json.loads(raw) if raw else None), headers


def leader(c: LocalCluster) -> dict[str, Any]:
    for p in masters(c):
        with contextlib.suppress(OSError):
            if http(p["http_url"] + "/metrics/snapshot")[1].get("master/elected") == 1:
                return p
    raise AssertionError("no master leads")


def marathon(c: LocalCluster) -> str:
    return leader(c)["http_url"] + "/marathon"


def status(c: LocalCluster, pod_id: str = "/duo") -> dict[str, Any]:
    with contextlib.suppress(OSError, AssertionError):
        code, body, _ = http(f"{marathon(c)}/v2/pods{pod_id}::status")
        if code == 200:
            return body  # type: ignore[no-any-return]
    return {}


def stable(c: LocalCluster) -> dict[str, Any] | None:
    doc = status(c)
    if doc.get("status") == "STABLE" and len(doc.get("instances", [])) == 1:
        return doc
    return None


def member_pids(task_id: str) -> list[int]:
    """Processes running as ``task_id`` (their MESOS_TASK_ID)."""
    out = []
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("MESOS_TASK_ID") == task_id:
                out.append(proc.pid)
    return out


def test_a_two_container_pod_shares_its_volume_and_is_replaced_as_a_whole(
    cluster: LocalCluster,
) -> None:
    code, body, headers = http(f"{marathon(cluster)}/v2/pods", "POST", pod_doc())
    assert code == 201, body
    assert body["id"] == "/duo" and headers["Location"] == "/v2/pods/duo"
    assert headers["Marathon-Deployment-Id"]
    doc = wait_for(lambda: stable(cluster), 60, "the pod STABLE")
    # PodStatus as Marathon's RAML: id, spec, status, statusSince, instances, ...
    assert {"id", "spec", "status", "statusSince", "instances", "lastUpdated", "lastChanged"} <= (
        doc.keys()
    )
    inst = doc["instances"][0]
    assert inst["status"] == "STABLE" and inst["id"].startswith("duo.instance-")
    assert [c["name"] for c in inst["containers"]] == ["writer", "web"]
    assert all(c["status"] == "TASK_RUNNING" for c in inst["containers"])
    web = inst["containers"][1]
    port = web["endpoints"][0]["allocatedHostPort"]
    assert web["endpoints"][0]["healthy"] is True
    # The web container serves the file the writer wrote into their shared volume.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/msg", timeout=5) as r:
        served = r.read().decode()
    assert served.split() == [MARK, f"{inst['id']}.writer"]
    # The master ran it as one task group: two tasks on one agent.
    state = http(leader(cluster)["http_url"] + "/mesos/master/state")[1]
    tasks = [t for f in state["frameworks"] for t in f["tasks"] if t["id"].startswith(inst["id"])]
    assert sorted(t["id"] for t in tasks) == sorted(c["containerId"] for c in inst["containers"])
    assert len({t["slave_id"] for t in tasks}) == 1
    assert {t["executor_id"] for t in tasks} == {inst["id"]}  # the group's executor
    # /v2/groups lists the pod; /v2/apps does not.
    group = http(f"{marathon(cluster)}/v2/groups")[1]
    assert [p["id"] for p in group["pods"]] == ["/duo"]
    assert all(a["id"] != "/duo" for a in http(f"{marathon(cluster)}/v2/apps")[1]["apps"])

    # One container dies: the whole group goes, and Marathon replaces the instance.
    writer = inst["containers"][0]["containerId"]
    web_pids = member_pids(inst["containers"][1]["containerId"])
    assert web_pids and member_pids(writer)
    for pid in member_pids(writer):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    new = wait_for(
        lambda: (d := stable(cluster)) and d["instances"][0]["id"] != inst["id"] and d,
        60,
        "a new STABLE instance",
    )
    wait_for(lambda: not any(pid_alive(p) for p in web_pids), 30, "the web member killed too")
    new_inst = new["instances"][0]
    port = new_inst["containers"][1]["endpoints"][0]["allocatedHostPort"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/msg", timeout=5) as r:
        assert r.read().decode().split() == [MARK, f"{new_inst['id']}.writer"]

    # The leader dies: the new one adopts the same instance (nothing relaunched).
    old = leader(cluster)
    os.kill(old["pid"], signal.SIGKILL)
    wait_for(
        lambda: (
            (d := stable(cluster))
            and leader(cluster)["pid"] != old["pid"]
            and d["instances"][0]["id"] == new_inst["id"]
        ),
        60,
        "the same instance STABLE under the new leader",
    )
    versions = http(f"{marathon(cluster)}/v2/pods/duo::versions")[1]
    assert versions == [new["spec"]["version"]]


def test_the_cli_adds_lists_shows_and_removes_a_pod(cluster: LocalCluster, tmp_path: Path) -> None:
    doc = pod_doc("/cli")
    doc["containers"][1]["healthCheck"]["http"]["path"] = "/"
    path = tmp_path / "cli.json"
    path.write_text(json.dumps(doc))
    added = cluster.cli("marathon", "pod", "add", str(path))
    assert added.returncode == 0 and "created pod /cli" in added.stdout, added.stderr
    wait_for(lambda: status(cluster, "/cli").get("status") == "STABLE", 60, "the CLI's pod STABLE")
    listed = cluster.cli("marathon", "pod", "list")
    row = next(line for line in listed.stdout.splitlines() if line.startswith("/cli"))
    assert row.split()[:5] == ["/cli", "STABLE", "1/1", "1", "writer,web"]
    shown = json.loads(cluster.cli("marathon", "pod", "show", "cli", "--json").stdout)
    assert shown["id"] == "/cli" and shown["instances"][0]["status"] == "STABLE"
    bad = cluster.cli("marathon", "pod", "show", "/nope")
    assert bad.returncode == 1 and "Pod '/nope' does not exist" in bad.stderr
    removed = cluster.cli("marathon", "pod", "remove", "cli")
    assert removed.returncode == 0 and "removing pod cli" in removed.stdout


def test_an_image_container_and_a_native_one_share_a_volume(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """A container with ``image`` runs inside that image (universal runtime: no Docker
    engine), the volume at an absolute path there; its native sibling sees the files."""
    from tests.ucr._image import busybox_image

    tar = busybox_image(tmp_path / "busybox.tar", name="busybox:pods")
    imported = cluster.cli("image", "import", str(tar))
    assert imported.returncode == 0, imported.stderr
    doc = {
        "id": "/imgpod",
        "volumes": [{"name": "v"}],
        "containers": [
            {
                "name": "boxed",
                "resources": {"cpus": 0.1, "mem": 32},
                "image": {"kind": "DOCKER", "id": "busybox:pods"},
                "exec": {
                    "command": {
                        "shell": "{ cat /etc/hostname; ls /; } > /v/root.txt; exec sleep 3600"
                    }
                },
                "volumeMounts": [{"name": "v", "mountPath": "/v"}],
            },
            {
                "name": "native",
                "resources": {"cpus": 0.1, "mem": 32},
                "exec": {
                    "command": {
                        "shell": "until [ -s v/root.txt ]; do sleep 0.1; done; "
                        "cp v/root.txt seen.txt; exec sleep 3600"
                    }
                },
                "volumeMounts": [{"name": "v", "mountPath": "v", "readOnly": True}],
            },
        ],
    }
    code, body, _ = http(f"{marathon(cluster)}/v2/pods", "POST", doc)
    assert code == 201, body
    wait_for(
        lambda: status(cluster, "/imgpod").get("status") == "STABLE", 60, "the image pod STABLE"
    )
    inst = status(cluster, "/imgpod")["instances"][0]
    native = inst["containers"][1]["containerId"]
    sandbox = next(cluster.state_dir.glob(f"agents/*/sandboxes/{native}"))
    listed = wait_for(
        lambda: (sandbox / "seen.txt").is_file() and (sandbox / "seen.txt").read_text(),
        30,
        "the image container's file, read through the native one's mount",
    )
    # The image's root (the busybox marker file), not the host's.
    assert "pydcos-busybox-image" in listed.split() and "usr" not in listed.split()
    code, _, _ = http(f"{marathon(cluster)}/v2/pods/imgpod", "DELETE")
    assert code == 202


def test_a_pod_too_big_waits_with_a_reason_then_is_deleted(cluster: LocalCluster) -> None:
    big = pod_doc("/big")
    big["containers"][0]["resources"]["cpus"] = 512
    code, body, _ = http(f"{marathon(cluster)}/v2/pods", "POST", big)
    assert code == 201, body

    def reason() -> str | None:
        deps = http(f"{marathon(cluster)}/v2/deployments?embed=waitingFor")[1]
        for d in deps:
            for action in d["currentActions"]:
                if action.get("pod") == "/big" and "cpus" in action.get("waitingFor", ""):
                    return str(action["waitingFor"])
        return None

    assert "cpus" in wait_for(reason, 30, "the deployment's waiting reason")
    code, _, headers = http(f"{marathon(cluster)}/v2/pods/big?force=true", "DELETE")
    assert code == 202 and headers["Marathon-Deployment-Id"]
    code, _, _ = http(f"{marathon(cluster)}/v2/pods/duo", "DELETE")
    assert code == 202
    wait_for(
        lambda: (
            http(f"{marathon(cluster)}/v2/pods")[1] == []
            and not http(f"{marathon(cluster)}/v2/deployments")[1]
        ),
        60,
        "every pod gone",
    )
    code, body, _ = http(f"{marathon(cluster)}/v2/pods/duo::status")
    assert code == 404 and "does not exist" in body["message"]
