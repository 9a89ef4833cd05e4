"""The CLI through a leader SIGKILL: the next command waits out the election and
answers from the new leader instead of failing on the dead one's closed port."""

from __future__ import annotations

import json
import os
import signal
import urllib.request

import pytest

from tests.console.conftest import LocalCluster

pytestmark = [pytest.mark.slow]


def _leader_pid(cluster: LocalCluster) -> int:
    for p in cluster.record()["processes"]:
        if p["kind"] != "master":
            continue
        with urllib.request.urlopen(p["http_url"] + "/metrics/snapshot", timeout=5) as r:
            if json.load(r).get("master/elected") == 1:
                return int(p["pid"])
    raise AssertionError("no master says it is elected")


def test_a_command_right_after_a_leader_sigkill_answers_from_the_new_leader(
    local_cluster: LocalCluster,
) -> None:
    assert local_cluster.cli("marathon", "app", "list", "--json").returncode == 0
    os.kill(_leader_pid(local_cluster), signal.SIGKILL)
    r = local_cluster.cli("marathon", "app", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []
