"""App definitions: Marathon's defaults, its validation rules and its error shape.

Rules cited from Marathon's REST API docs / AppDefinition.json schema.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.marathon import (
    AppDefinition,
    Constraint,
    PortDefinition,
    ValidationFailed,
    format_version,
    patch_app,
    stamp_version,
)

V1 = "2024-01-01T00:00:00.000Z"
V2 = "2024-01-02T00:00:00.000Z"


def errors_of(data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as info:
        AppDefinition.from_json(data)
    body = info.value.body
    assert body["message"] == "Object is not valid"
    assert info.value.status == 422
    return {d["path"]: d["errors"] for d in body["details"]}


def test_defaults_are_marathons() -> None:
    """Marathon docs: cpus 1, mem 128, disk 0, gpus 0, instances 1, backoff 1 s x 1.15,
    upgradeStrategy {1, 1}, killSelection YOUNGEST_FIRST, one dynamic port."""
    app = AppDefinition.from_json({"id": "/web", "cmd": "serve"})
    assert (app.cpus, app.mem, app.disk, app.gpus, app.instances) == (1, 128, 0, 0, 1)
    assert (app.backoff_seconds, app.backoff_factor) == (1, 1.15)
    assert app.max_launch_delay_seconds == 3600
    assert app.upgrade_strategy.to_json() == {
        "minimumHealthCapacity": 1.0,
        "maximumOverCapacity": 1.0,
    }
    assert app.kill_selection == "YOUNGEST_FIRST"
    assert app.port_definitions == (PortDefinition(port=0),)
    assert app.require_ports is False
    assert app.unreachable_strategy is not None
    assert app.unreachable_strategy.to_json() == {
        "inactiveAfterSeconds": 300,
        "expungeAfterSeconds": 600,
    }


def test_health_check_defaults_are_marathons() -> None:
    """Marathon health-check docs: grace 300, interval 60, timeout 20, 3 failures, path /."""
    app = AppDefinition.from_json({"id": "/web", "cmd": "serve", "healthChecks": [{}]})
    check = app.health_checks[0].to_json()
    assert check["protocol"] == "HTTP"
    assert check["path"] == "/"
    assert check["portIndex"] == 0
    assert (check["gracePeriodSeconds"], check["intervalSeconds"]) == (300, 60)
    assert (check["timeoutSeconds"], check["maxConsecutiveFailures"]) == (20, 3)


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        ("web", "/", "/web"),
        ("web", "/prod", "/prod/web"),
        ("/prod/web/", "/", "/prod/web"),
        ("a.b-c/x9", "/g", "/g/a.b-c/x9"),
    ],
)
def test_relative_ids_are_resolved_against_the_group(raw: str, base: str, expected: str) -> None:
    """Marathon resolves relative app ids against the enclosing group."""
    assert AppDefinition.from_json({"id": raw, "cmd": "x"}, base=base).id == expected


@pytest.mark.parametrize(
    ("raw", "base"),
    [
        ("../db", "/prod/web"),
        ("/a/../b", "/"),
        ("/prod//web", "/"),
        ("./a", "/g"),
        ("/a/.", "/"),
    ],
)
def test_an_id_that_would_be_normalised_is_refused(raw: str, base: str) -> None:
    """Issue 30: `/a/../b` was quietly stored as `/b`; an id is never rewritten, it is
    a 422 at /id naming the id."""
    with pytest.raises(ValidationFailed) as info:
        AppDefinition.from_json({"id": raw, "cmd": "x"}, base=base)
    assert info.value.paths == ["/id"]
    assert repr(raw) in info.value.details[0]["errors"][0]


@pytest.mark.parametrize("bad", ["Web", "-web", "web-", "a_b", "../..", "a/.x", "/"])
def test_ids_follow_marathons_naming_rule(bad: str) -> None:
    """AppDefinition.json: lowercase letters, digits, dashes and dots; no leading or
    trailing dash; the root is not an app."""
    assert "/id" in errors_of({"id": bad, "cmd": "x"})


def test_unknown_top_level_field_is_rejected() -> None:
    """AppDefinition.json has additionalProperties: false; a typo must not deploy."""
    errors = errors_of({"id": "/web", "cmd": "x", "instanses": 3})
    assert errors == {"/instanses": ["unknown field 'instanses'"]}


def test_negative_instances_reported_at_its_path() -> None:
    """422 details name the JSON path of the bad value."""
    errors = errors_of({"id": "/web", "cmd": "x", "instances": -1})
    assert list(errors) == ["/instances"]
    assert "minimum" in errors["/instances"][0]


def test_all_problems_are_reported_at_once() -> None:
    errors = errors_of({"id": "Bad", "cmd": "x", "mem": -5, "cpus": "one"})
    assert {"/id", "/mem", "/cpus"} <= set(errors) or {"/mem", "/cpus"} <= set(errors)


def test_cmd_and_args_are_mutually_exclusive() -> None:
    """AppDefinition.json: it is invalid to supply both cmd and args."""
    assert "/" in errors_of({"id": "/web", "cmd": "x", "args": ["y"]})


def test_an_app_needs_cmd_args_or_an_image() -> None:
    assert "/" in errors_of({"id": "/web"})
    app = AppDefinition.from_json(
        {"id": "/web", "container": {"type": "DOCKER", "docker": {"image": "nginx"}}}
    )
    assert app.container is not None and app.container.type == "DOCKER"


def test_docker_container_needs_an_image() -> None:
    errors = errors_of({"id": "/web", "cmd": "x", "container": {"type": "DOCKER"}})
    assert "/container/docker/image" in errors


def test_mesos_app_without_port_mappings_gets_one_dynamic_port() -> None:
    app = AppDefinition.from_json({"id": "/web", "cmd": "x"})
    assert [p.port for p in app.port_definitions] == [0]


def test_port_mappings_replace_the_default_port_definition() -> None:
    """Marathon: bridge-networked apps declare ports as portMappings, not portDefinitions."""
    app = AppDefinition.from_json(
        {
            "id": "/web",
            "container": {
                "type": "DOCKER",
                "docker": {"image": "nginx"},
                "portMappings": [{"containerPort": 80, "name": "http"}],
            },
        }
    )
    assert app.port_definitions == ()
    assert app.container is not None
    assert app.container.port_mappings[0].container_port == 80


def test_legacy_docker_port_mappings_are_read() -> None:
    """Marathon < 1.5 put portMappings under container.docker."""
    app = AppDefinition.from_json(
        {
            "id": "/web",
            "container": {
                "type": "DOCKER",
                "docker": {"image": "nginx", "portMappings": [{"containerPort": 8080}]},
            },
        }
    )
    assert app.container is not None and app.container.port_mappings[0].container_port == 8080
    assert app.to_json()["container"]["portMappings"][0]["containerPort"] == 8080


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"portDefinitions": [{"port": 80}, {"port": 80}]}, "/portDefinitions"),
        (
            {"portDefinitions": [{"port": 0, "name": "a"}, {"port": 0, "name": "a"}]},
            "/portDefinitions",
        ),
        (
            {
                "container": {
                    "type": "DOCKER",
                    "docker": {"image": "i"},
                    "portMappings": [{"hostPort": 31000}, {"hostPort": 31000}],
                }
            },
            "/container/portMappings",
        ),
        ({"requirePorts": True}, "/requirePorts"),
        ({"ports": [1], "portDefinitions": [{"port": 2}]}, "/ports"),
    ],
)
def test_port_conflicts_are_rejected(data: dict[str, Any], path: str) -> None:
    assert path in errors_of({"id": "/web", "cmd": "x", **data})


@pytest.mark.parametrize(
    "constraint",
    [
        ["hostname", "NEAR"],
        ["hostname", "MAX_PER"],
        ["rack", "LIKE"],
        ["rack", "LIKE", "r[12"],
        ["rack", "UNLIKE", "("],
        ["hostname", "UNIQUE", "x"],
        ["rack", "MAX_PER", "zero"],
        ["rack", "GROUP_BY", "-1"],
        ["hostname"],
    ],
)
def test_malformed_constraints_are_rejected(constraint: list[str]) -> None:
    """Marathon constraints docs: MAX_PER/LIKE/UNLIKE need a value, regexes must compile."""
    assert "/constraints/0" in errors_of({"id": "/web", "cmd": "x", "constraints": [constraint]})


def test_constraints_accept_array_and_object_forms() -> None:
    app = AppDefinition.from_json(
        {
            "id": "/web",
            "cmd": "x",
            "constraints": [
                ["hostname", "UNIQUE"],
                {"fieldName": "rack", "operator": "GROUP_BY", "value": "3"},
            ],
        }
    )
    assert app.constraints == (
        Constraint("hostname", "UNIQUE"),
        Constraint("rack", "GROUP_BY", "3"),
    )
    assert app.to_json()["constraints"] == [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "3"]]


def test_dependencies_resolve_relative_to_the_apps_group() -> None:
    app = AppDefinition.from_json(
        {"id": "/prod/web", "cmd": "x", "dependencies": ["db", "../shared/cache"]}
    )
    assert app.dependencies == ("/prod/db", "/shared/cache")


def test_invalid_dependency_paths_are_rejected() -> None:
    errors = errors_of({"id": "/prod/web", "cmd": "x", "dependencies": ["DB", "web"]})
    assert "/dependencies/0" in errors
    assert "/dependencies/1" in errors  # depends on itself


@pytest.mark.parametrize(
    ("check", "path"),
    [
        ({"protocol": "COMMAND"}, "/healthChecks/0/command"),
        ({"protocol": "HTTP", "command": {"value": "true"}}, "/healthChecks/0/command"),
        ({"protocol": "TCP", "portIndex": 1}, "/healthChecks/0/portIndex"),
        (
            {"protocol": "HTTP", "timeoutSeconds": 60, "intervalSeconds": 60},
            "/healthChecks/0/timeoutSeconds",
        ),
        ({"protocol": "GRPC"}, "/healthChecks/0/protocol"),
    ],
)
def test_bad_health_checks_are_rejected(check: dict[str, Any], path: str) -> None:
    assert path in errors_of({"id": "/web", "cmd": "x", "healthChecks": [check]})


def test_upgrade_strategy_fractions_must_lie_in_0_1() -> None:
    errors = errors_of(
        {"id": "/web", "cmd": "x", "upgradeStrategy": {"minimumHealthCapacity": 1.5}}
    )
    assert "/upgradeStrategy/minimumHealthCapacity" in errors


def test_unreachable_strategy_disabled_round_trips() -> None:
    app = AppDefinition.from_json({"id": "/web", "cmd": "x", "unreachableStrategy": "disabled"})
    assert app.unreachable_strategy is None
    assert app.to_json()["unreachableStrategy"] == "disabled"
    assert "/unreachableStrategy" in errors_of(
        {
            "id": "/web",
            "cmd": "x",
            "unreachableStrategy": {"inactiveAfterSeconds": 900, "expungeAfterSeconds": 600},
        }
    )


FULL_APP: dict[str, Any] = {
    "id": "/prod/web",
    "args": ["--port", "8080"],
    "container": {
        "type": "DOCKER",
        "docker": {"image": "nginx:1.25", "forcePullImage": True},
        "portMappings": [
            {"containerPort": 80, "hostPort": 0, "servicePort": 10000, "name": "http"}
        ],
        "volumes": [{"containerPath": "/data", "hostPath": "/srv/data", "mode": "RW"}],
    },
    "cpus": 0.5,
    "mem": 256,
    "instances": 3,
    "env": {"MODE": "prod"},
    "labels": {"team": "web"},
    "constraints": [["hostname", "UNIQUE"], ["rack", "MAX_PER", "2"]],
    "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/health", "portIndex": 0}],
    "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.2},
    "backoffSeconds": 2,
    "killSelection": "OLDEST_FIRST",
    "taskKillGracePeriodSeconds": 10,
    "dependencies": ["/prod/db"],
    "fetch": [{"uri": "https://example.invalid/cfg.tgz", "extract": True}],
    "user": "nobody",
}


def test_to_json_round_trips_through_from_json() -> None:
    """GET then PUT of the same document must be a no-op for clients."""
    app = AppDefinition.from_json(FULL_APP, version=V1)
    again = AppDefinition.from_json(app.to_json())
    assert again == app


def test_version_given_by_the_server_wins_over_the_body() -> None:
    """Marathon: version is read-only, set by the server."""
    app = AppDefinition.from_json({"id": "/a", "cmd": "x", "version": V1}, version=V2)
    assert app.version == V2
    assert "/version" in errors_of({"id": "/a", "cmd": "x", "version": "yesterday"})


def test_format_version_is_iso8601_with_millis() -> None:
    assert format_version(0.5) == "1970-01-01T00:00:00.500Z"


def test_scaling_moves_only_last_scaling_at() -> None:
    """Marathon versionInfo: lastConfigChangeAt changes only with the config."""
    v1 = stamp_version(AppDefinition.from_json({"id": "/a", "cmd": "x"}), None, V1)
    scaled = patch_app(v1, {"instances": 5}, version=V2)
    assert scaled.version_info is not None
    assert scaled.version_info.last_scaling_at == V2
    assert scaled.version_info.last_config_change_at == V1
    changed = patch_app(v1, {"cmd": "y"}, version=V2)
    assert changed.version_info is not None
    assert changed.version_info.last_config_change_at == V2


def test_patch_replaces_fields_and_revalidates() -> None:
    base = AppDefinition.from_json(FULL_APP, version=V1)
    patched = patch_app(base, {"instances": 1, "env": {"MODE": "dev"}}, version=V2)
    assert patched.instances == 1
    assert dict(patched.env) == {"MODE": "dev"}
    assert patched.labels == base.labels
    assert patched.version == V2
    with pytest.raises(ValidationFailed):
        patch_app(base, {"instances": -3}, version=V2)


def test_patch_null_falls_back_to_the_default() -> None:
    base = AppDefinition.from_json({"id": "/a", "cmd": "x", "mem": 512})
    assert patch_app(base, {"mem": None}, version=V2).mem == 128


def test_patch_switching_cmd_to_args_drops_cmd() -> None:
    base = AppDefinition.from_json({"id": "/a", "cmd": "x"})
    patched = patch_app(base, {"args": ["run"]}, version=V2)
    assert (patched.cmd, patched.args) == (None, ("run",))


def test_patch_cannot_change_the_id() -> None:
    base = AppDefinition.from_json({"id": "/a", "cmd": "x"})
    with pytest.raises(ValidationFailed) as info:
        patch_app(base, {"id": "/b"}, version=V2)
    assert info.value.details[0]["path"] == "/id"
    assert patch_app(base, {"id": "a"}, version=V2).id == "/a"


def test_scale_is_not_an_upgrade() -> None:
    a = AppDefinition.from_json({"id": "/a", "cmd": "x"})
    b = AppDefinition.from_json({"id": "/a", "cmd": "x", "instances": 4})
    c = AppDefinition.from_json({"id": "/a", "cmd": "y", "instances": 4})
    assert b.is_only_scaling_of(a) and not b.is_upgrade_of(a)
    assert c.is_upgrade_of(a)
