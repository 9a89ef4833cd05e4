"""The universal runtime on real processes (a master with Marathon, a native agent, no
Docker engine): a MESOS app with the busybox image runs busybox httpd inside the image
with RO/RW volumes and HTTP + COMMAND health checks; a native app serving TLS with a
self-signed certificate passes its HTTPS check; the agent is SIGKILLed and restarted and
the image task is reattached (same pid, still healthy, still serving); removing the app
releases the image root."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.agent import ImageStore
from tests.agent.test_https_checks import self_signed
from tests.e2e.conftest import E2ECluster, http_request, native_checkpoints, task_alive, wait_for
from tests.ucr._image import HOSTNAME_IN_IMAGE, INDEX_HTML, busybox_image

pytestmark = [
    pytest.mark.slow,
    pytest.mark.zk,
    pytest.mark.skipif(os.geteuid() != 0, reason="image roots and mounts need root"),
]

FAST = {"gracePeriodSeconds": 30, "intervalSeconds": 2, "timeoutSeconds": 1}


@pytest.fixture
def cluster(zk_hosts: str, tmp_path: Path) -> Iterator[E2ECluster]:
    (tmp_path / "cluster").mkdir()
    c = E2ECluster(zk_hosts, f"/t-{uuid.uuid4().hex[:12]}", tmp_path / "cluster")
    try:
        yield c
    finally:
        c.stop_all()
        for agent in c.agents:  # image roots are overlay mounts on the host: never leak one
            if agent.work_dir is not None and (agent.work_dir / "images").exists():
                store = ImageStore.for_agent(agent.work_dir)
                for cid in store.containers():
                    store.release(cid)


def post(base: str, path: str, body: Any) -> Any:
    r = http_request(base + path, "POST", json.dumps(body).encode())
    assert r.status in (200, 201), r.body[:400]
    return json.loads(r.body)


def get(base: str, path: str) -> Any:
    r = http_request(base + path)
    assert r.status == 200, r.body[:300]
    return json.loads(r.body)


def healthy_task(base: str, app_id: str) -> dict[str, Any] | None:
    """The app's RUNNING task whose every health check passed, or None."""
    tasks = get(base, f"/marathon/v2/apps{app_id}/tasks")["tasks"]
    for t in tasks:
        results = t.get("healthCheckResults") or []
        if t["state"] == "TASK_RUNNING" and len(results) >= 1 and all(r["alive"] for r in results):
            return dict(t)
    return None


def test_an_image_app_with_volumes_and_an_https_app_survive_an_agent_restart(
    cluster: E2ECluster, tmp_path: Path
) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl(1) is not installed")
    image = busybox_image(tmp_path / "busybox.tar")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "ro.txt").write_text("from the host\n")
    tls = tmp_path / "tls"
    tls.mkdir()
    self_signed(tls)
    cluster.start(masters=1, agents=1, containerizers="mesos")
    agent = cluster.agents[0]
    assert agent.work_dir is not None
    base = cluster.serving_leader().http_url
    web = {
        "id": "/ucr/web",
        "cmd": 'cat /etc/hostname > "$MESOS_SANDBOX/out/hostname"; ls / > "$MESOS_SANDBOX/out/ls";'
        ' echo written > "$MESOS_SANDBOX/out/rw"; exec httpd -f -p "127.0.0.1:$PORT0" -h /var/www',
        "container": {
            "type": "MESOS",
            "docker": {"image": str(image)},
            "volumes": [
                {"containerPath": "/data", "hostPath": str(shared), "mode": "RO"},
                {"containerPath": "out", "hostPath": "out", "mode": "RW"},
            ],
        },
        "cpus": 0.1,
        "mem": 32,
        "portDefinitions": [{"port": 0}],
        "healthChecks": [
            {"protocol": "MESOS_HTTP", "path": "/index.html", "portIndex": 0, **FAST},
            {
                "protocol": "COMMAND",
                # inside the container: the image's sh, the RO volume
                "command": {"value": "test -f /data/ro.txt && ! touch /data/x 2>/dev/null"},
                **FAST,
            },
        ],
    }
    secure = {
        "id": "/ucr/tls",
        "cmd": f"exec {openssl} s_server -quiet -www -accept 127.0.0.1:$PORT0 "
        "-cert cert.pem -key key.pem",
        "fetch": [{"uri": str(tls / "cert.pem")}, {"uri": str(tls / "key.pem")}],
        "cpus": 0.1,
        "mem": 32,
        "portDefinitions": [{"port": 0}],
        "healthChecks": [{"protocol": "MESOS_HTTPS", "path": "/", "portIndex": 0, **FAST}],
    }
    post(base, "/marathon/v2/apps", web)
    post(base, "/marathon/v2/apps", secure)

    try:
        task = wait_for(lambda: healthy_task(base, "/ucr/web"), 60, "the image app healthy")
    except AssertionError as e:
        raise AssertionError(
            f"{e}: {get(base, '/marathon/v2/apps/ucr/web?embed=app.tasks')}, "
            f"queue {get(base, '/marathon/v2/queue')}"
        ) from None
    wait_for(lambda: healthy_task(base, "/ucr/tls"), 60, "the HTTPS app healthy")
    url = f"http://127.0.0.1:{task['ports'][0]}/index.html"
    assert urllib.request.urlopen(url, timeout=5).read().decode() == INDEX_HTML
    out = agent.work_dir / "sandboxes" / task["id"] / "out"
    assert (out / "hostname").read_text().strip() == HOSTNAME_IN_IMAGE  # not the host's
    listing = (out / "ls").read_text().split()
    assert "data" in listing and "usr" not in listing and "home" not in listing
    assert (out / "rw").read_text() == "written\n"
    assert not (shared / "x").exists()

    before = native_checkpoints(agent.work_dir)[task["id"]]
    assert before["image"]["rootfs"]["image"] == str(image)
    agent.kill9()
    assert task_alive(before), "the image task died with the agent"
    cluster.restart(agent)
    after = wait_for(
        lambda: healthy_task(base, "/ucr/web"), 60, "the image task healthy after restart"
    )
    assert after["id"] == task["id"]
    now = native_checkpoints(agent.work_dir)[task["id"]]
    assert (now["pid"], now["start_time"]) == (before["pid"], before["start_time"])
    assert urllib.request.urlopen(url, timeout=5).read().decode() == INDEX_HTML

    for app in ("/ucr/web", "/ucr/tls"):
        r = http_request(f"{base}/marathon/v2/apps{app}?force=true", "DELETE")
        assert r.status == 200, r.body[:200]
    containers = agent.work_dir / "images" / "containers"
    wait_for(lambda: not task_alive(now), 30, "the image task killed")
    wait_for(lambda: not any(containers.iterdir()), 30, "the image root released")
