"""cgroup v1/v2 files and Docker stats -> ContainerSample -> DC/OS datapoints (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.agent._metrics import (
    ContainerInfo,
    ContainerSample,
    container_datapoints,
    cpu_usage,
    from_cgroup_v1,
    from_cgroup_v2,
    from_docker_stats,
    parse_kv,
)

FIXTURES = Path(__file__).parent / "fixtures"


def files(d: Path) -> dict[str, str]:
    return {f.name: f.read_text() for f in d.iterdir() if f.is_file()}


def test_v1_real_files() -> None:
    s = from_cgroup_v1(files(FIXTURES / "cgroup_v1"))
    assert s.cpu_user_s == pytest.approx(0.78)  # 78 USER_HZ ticks
    assert s.cpu_system_s == pytest.approx(0.04)
    assert s.cpu_total_s == pytest.approx(0.833201057)  # cpuacct.usage, ns
    assert (s.nr_periods, s.nr_throttled) == (19, 16)
    assert s.throttled_s == pytest.approx(0.786921955)
    assert s.cpus_limit == pytest.approx(0.5)  # 50000 / 100000
    assert s.mem_bytes == 28323840
    assert s.mem_limit == 64 * 1024 * 1024
    assert (s.mem_rss, s.mem_cache) == (28008448, 45056)  # total_rss / total_cache


def test_v1_no_limits_and_missing_files() -> None:
    f = files(FIXTURES / "cgroup_v1")
    f["cpu.cfs_quota_us"] = "-1\n"
    f["memory.limit_in_bytes"] = "9223372036854771712\n"
    del f["cpuacct.usage"]
    s = from_cgroup_v1(f)
    assert s.cpus_limit is None and s.mem_limit is None
    assert s.cpu_total_s == pytest.approx(0.82)  # falls back to user + system ticks
    assert from_cgroup_v1({}) == ContainerSample(cpu_total_s=0.0)


def test_v2_core_cpu_stat_of_this_kernel() -> None:
    s = from_cgroup_v2({"cpu.stat": (FIXTURES / "cgroup_v2" / "cpu.stat.core").read_text()})
    assert s.cpu_total_s == pytest.approx(0.833201)
    assert s.cpu_user_s == pytest.approx(0.786257)
    assert s.cpu_system_s == pytest.approx(0.046943)
    assert s.nr_periods == 0 and s.cpus_limit is None


def test_v2_with_controllers() -> None:
    s = from_cgroup_v2(files(FIXTURES / "cgroup_v2" / "limited"))
    assert s.cpu_total_s == pytest.approx(0.833201)
    assert (s.nr_periods, s.nr_throttled) == (19, 16)
    assert s.throttled_s == pytest.approx(0.786921)
    assert s.cpus_limit == pytest.approx(0.5)
    assert (s.mem_bytes, s.mem_limit) == (28323840, 67108864)
    assert (s.mem_rss, s.mem_cache) == (28008448, 45056)  # anon / file


def test_v2_max_means_no_limit() -> None:
    s = from_cgroup_v2(files(FIXTURES / "cgroup_v2" / "unlimited"))
    assert s.cpus_limit is None and s.mem_limit is None
    assert (s.mem_bytes, s.mem_cache) == (4096, 4096)


def test_docker_stats() -> None:
    stats = {
        "cpu_stats": {
            "cpu_usage": {
                "total_usage": 2_500_000_000,
                "usage_in_usermode": 2_000_000_000,
                "usage_in_kernelmode": 500_000_000,
            },
            "throttling_data": {"periods": 10, "throttled_periods": 3, "throttled_time": 7e8},
        },
        "memory_stats": {
            "usage": 10_485_760,
            "limit": 134_217_728,
            "stats": {"total_rss": 8_388_608, "total_cache": 1_048_576},
        },
    }
    s = from_docker_stats(stats, cpus_limit=0.5)
    assert (s.cpu_total_s, s.cpu_user_s, s.cpu_system_s) == (2.5, 2.0, 0.5)
    assert (s.nr_periods, s.nr_throttled, s.throttled_s) == (10, 3, 0.7)
    assert (s.mem_bytes, s.mem_limit, s.mem_rss, s.mem_cache) == (
        10_485_760,
        134_217_728,
        8_388_608,
        1_048_576,
    )
    assert from_docker_stats({}).mem_limit is None


def test_parse_kv_skips_garbage() -> None:
    assert parse_kv("a 1\nbroken\nb x\nc 3\n") == {"a": 1, "c": 3}


def test_cpu_usage_in_cores() -> None:
    a = ContainerSample(cpu_total_s=10.0)
    b = ContainerSample(cpu_total_s=12.0)
    assert cpu_usage(None, b, 2.0) is None
    assert cpu_usage(a, b, 2.0) == pytest.approx(1.0)
    assert cpu_usage(b, a, 2.0) == 0.0  # a restarted counter never goes negative
    assert cpu_usage(a, b, 0.0) is None


def test_container_datapoints_shape() -> None:
    info = ContainerInfo("t1", "t1", "web", "fw-1", "t1", (("team", "a"),))
    s = from_cgroup_v1(files(FIXTURES / "cgroup_v1"))
    dps = container_datapoints(info, s, 0.97, 1_700_000_000.5)
    by_name = {dp["name"]: dp for dp in dps}
    for name in ("cpus.user.time", "cpus.system.time", "cpus.throttled.time", "mem.total"):
        assert name in by_name
    assert by_name["mem.total"] == {
        "name": "mem.total",
        "value": 28323840,
        "unit": "bytes",
        "timestamp": "2023-11-14T22:13:20.500Z",
        "tags": {
            "container_id": "t1",
            "source": "t1",
            "framework_id": "fw-1",
            "executor_id": "t1",
            "executor_name": "web",
        },
    }
    assert by_name["cpus.limit"]["value"] == pytest.approx(0.5)
    assert by_name["mem.limit"]["value"] == 67108864
    assert by_name["cpus.usage"]["value"] == pytest.approx(0.97)
    assert by_name["cpus.throttled.time"]["unit"] == "seconds"


def test_docker_read_time_is_parsed() -> None:
    from actors.agent._metrics import parse_rfc3339

    assert parse_rfc3339("2023-11-14T22:13:20.5Z") == pytest.approx(1_700_000_000.5)
    assert parse_rfc3339("2023-11-14T22:13:20.123456789Z") == pytest.approx(1_700_000_000.123456789)
    assert parse_rfc3339("0001-01-01T00:00:00Z") is None  # Go's zero time (one_shot preread)
    assert parse_rfc3339("yesterday") is None and parse_rfc3339(None) is None
    assert from_docker_stats({"read": "2023-11-14T22:13:20Z"}).at == pytest.approx(1_700_000_000)


def test_collector_reads_a_cgroup_directory_and_rates_over_the_clock(tmp_path: Path) -> None:
    """The collector's plumbing on v2 files in a directory (no root needed): the second
    pass's cores = CPU time delta / clock delta; a gone task leaves the next point."""
    from actors.agent._cgroups import Cgroup
    from actors.agent._metrics import MetricsCollector, Target
    from runtime import ManualClock

    d = tmp_path / "pydcos" / "t1"
    d.mkdir(parents=True)
    for f in (FIXTURES / "cgroup_v2" / "limited").iterdir():
        (d / f.name).write_text(f.read_text())

    class Handle:
        cgroup = Cgroup(2, "pydcos/t1", root=tmp_path)
        done = False

    clock = ManualClock()
    c = MetricsCollector(paths=(str(tmp_path),))
    target = Target(ContainerInfo("t1", "t1", "web", "fw"), Handle())
    first = c.collect([target], clock).containers["t1"]
    assert first[2] is None and first[1].mem_limit == 67108864
    stat = (d / "cpu.stat").read_text().replace("usage_usec 833201", "usage_usec 1833201")
    (d / "cpu.stat").write_text(stat)
    (d / "memory.max").write_text("1\n")  # limits are read once per container
    clock.advance(2.0)
    second = c.collect([target], clock).containers["t1"]
    assert second[2] == pytest.approx(0.5)
    assert second[1].mem_limit == 67108864
    assert c.collect([], clock).containers == {}
