"""Fine-grained permissions, pure: Marathon's list filters and write targets, Metronome's
job resources (DC/OS semantics: a grant on a group covers what is under it)."""

from __future__ import annotations

from actors.marathon._authz import (
    LIST_FILTERS,
    body_ids,
    filter_apps,
    filter_deployments,
    filter_group,
    filter_queue,
    filter_tasks,
    group_ids,
    service_rid,
)
from actors.metronome._api import job_rid, job_rids


def team_a(path: str) -> bool:
    return path == "/team-a" or path.startswith("/team-a/")


def test_service_rid_is_marathon_s_resource_for_the_path() -> None:
    assert service_rid("/team-a/web") == "dcos:service:marathon:marathon:services:/team-a/web"
    assert service_rid("team-a/web/") == "dcos:service:marathon:marathon:services:/team-a/web"
    assert service_rid("/") == "dcos:service:marathon:marathon:services:/"


def test_apps_tasks_queue_deployments_keep_only_readable_ones() -> None:
    apps = {"apps": [{"id": "/team-a/web"}, {"id": "/team-b/web"}, {"id": 3}]}
    assert filter_apps(apps, team_a) == {"apps": [{"id": "/team-a/web"}]}
    tasks = {"tasks": [{"id": "t1", "appId": "/team-b/web"}, {"id": "t2", "appId": "/team-a/x"}]}
    assert [t["id"] for t in filter_tasks(tasks, team_a)["tasks"]] == ["t2"]
    queue = {"queue": [{"app": {"id": "/team-b/w"}}, {"pod": {"id": "/team-a/p"}}, "junk"]}
    assert filter_queue(queue, team_a) == {"queue": [{"pod": {"id": "/team-a/p"}}]}
    deps = [
        {"id": "d1", "affectedApps": ["/team-a/web"]},
        {"id": "d2", "affectedApps": ["/team-a/web", "/team-b/web"]},
        {"id": "d3", "affectedApps": [], "affectedPods": ["/team-b/p"]},
    ]
    assert [d["id"] for d in filter_deployments(deps, team_a)] == ["d1"]
    assert set(LIST_FILTERS) >= {"list_apps", "get_group", "list_tasks", "deployments"}


def test_group_tree_keeps_the_way_to_readable_apps_only() -> None:
    tree = {
        "id": "/",
        "apps": [{"id": "/top"}],
        "pods": [],
        "groups": [
            {"id": "/team-a", "apps": [{"id": "/team-a/web"}], "groups": [], "pods": []},
            {"id": "/team-b", "apps": [{"id": "/team-b/web"}], "groups": [], "pods": []},
            {
                "id": "/shared",
                "apps": [],
                "pods": [],
                "groups": [{"id": "/shared/x", "apps": [{"id": "/shared/x/a"}], "groups": []}],
            },
        ],
    }

    def visible(path: str) -> bool:
        return team_a(path) or path.startswith("/shared/x/a")

    out = filter_group(tree, visible)
    assert out["apps"] == []
    assert [g["id"] for g in out["groups"]] == ["/team-a", "/shared"]
    assert out["groups"][1]["groups"][0]["apps"] == [{"id": "/shared/x/a"}]
    assert tree["groups"][1]["apps"] == [{"id": "/team-b/web"}]  # input untouched


def test_write_targets() -> None:
    assert body_ids({"id": "/team-a/web"}) == ["/team-a/web"]
    assert body_ids([{"id": "/a"}, {"id": 5}, "x"]) == ["/a"]
    assert body_ids({"cmd": "x"}) == []
    assert group_ids({}, "/team-a") == ["/team-a"]
    assert group_ids({"id": "team-b"}, None) == ["/team-b"]
    assert group_ids({"apps": []}, None) == ["/"]


def test_metronome_job_resource_uses_dots_as_the_hierarchy() -> None:
    assert job_rid("team-a.backup") == "dcos:service:metronome:metronome:jobs:team-a/backup"
    assert job_rid("") == "dcos:service:metronome:metronome:jobs"
    assert job_rids("team-a.nightly.backup") == (
        "dcos:service:metronome:metronome:jobs:team-a/nightly/backup",
        "dcos:service:metronome:metronome:jobs:team-a/nightly",
        "dcos:service:metronome:metronome:jobs:team-a",
    )
    assert job_rids("") == ("dcos:service:metronome:metronome:jobs",)
