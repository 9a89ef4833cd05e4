"""The collector on a real Docker container (the engine's stats, not cgroup files): a
CPU-burning busybox task under cpus 0.5 shows its cores, its throttling and its memory
limit. Uses the suite's private dockerd (skips, saying why, when it cannot start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.agent import TEST_IMAGE, DockerContainerizer, DockerDaemon, TaskSpec, UpdateLog
from actors.agent._metrics import ContainerInfo, MetricsCollector, Target
from runtime import SystemClock
from runtime.testing import wait_for
from tests.agent.conftest import acquire_dockerd, release_dockerd

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dockerd() -> Iterator[DockerDaemon]:
    d = acquire_dockerd()
    try:
        yield d
    finally:
        release_dockerd()


def test_docker_task_metrics_from_engine_stats(dockerd: DockerDaemon, tmp_path: Path) -> None:
    c = DockerContainerizer(tmp_path, dockerd.url, agent_id=f"metrics-{tmp_path.name[-12:]}")
    assert c.available, c.unavailable_reason
    spec = TaskSpec(
        task_id="burn",
        command="while :; do :; done",
        container_type="DOCKER",
        image=TEST_IMAGE,
        mem=64,
        cpus=0.5,
    )  # type: ignore[call-arg]
    h = c.launch(spec, None, UpdateLog())
    try:
        wait_for(lambda: h.state == "TASK_RUNNING", timeout=60, what="the container running")
        collector, clock = MetricsCollector(paths=(str(tmp_path),)), SystemClock()
        target = Target(ContainerInfo("burn", "burn", "burn", "fw"), h)

        def sample() -> Any:
            point = collector.collect([target], clock)
            got = point.containers.get("burn")
            return got if got is not None and (got[2] or 0) > 0.2 else None

        _, s, usage = wait_for(sample, timeout=60, what="the container's cores", interval=0.5)
        assert usage is not None and usage < 0.8  # under its 0.5 quota, with noise
        assert s.mem_limit == 64 * 1024 * 1024
        assert s.cpus_limit == 0.5
        assert s.cpu_total_s > 0 and s.mem_bytes > 0
        assert s.at is not None  # the engine's own time of the reading
        assert wait_for(
            lambda: collector.collect([target], clock).containers["burn"][1].nr_throttled > 0,
            timeout=30,
            what="CFS throttling seen",
            interval=0.5,
        )
    finally:
        h.kill(0)
        h.wait(30)
