"""Rendering a package: mustache with nested options and ``resource``, Cosmos' labels."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from actors.marathon import AppDefinition
from actors.metronome import JobSpec
from actors.packages import (
    BUNDLED_UNIVERSE,
    Catalog,
    build_app,
    build_job,
    installation,
    parse_repository,
    render_template,
    resolve_options,
)
from actors.packages._errors import InvalidTemplate
from actors.packages._render import decode_definition, decode_label

REPO = Path(__file__).parent / "data" / "repo-up-to-1.10.json"
URI = "https://universe.example.com/repo/repo-up-to-1.10.json"


def web(version: str = "1.1.0") -> Any:
    return Catalog([parse_repository(json.loads(REPO.read_text()), URI)]).select("web", version)


def test_nested_options_and_resource_are_in_the_template_scope() -> None:
    pkg = web()
    user = {"service": {"name": "shop", "instances": 3}, "web": {"owner": {"team": "payments"}}}
    app = build_app(pkg, resolve_options("web", pkg.config, user), user)
    assert app["id"] == "/shop" and app["instances"] == 3 and app["cpus"] == 0.1
    server = "https://downloads.example.com/web/server-1.1.0"
    assert app["fetch"] == [{"uri": server}]
    assert app["cmd"] == f"{server} --port $PORT0 --greeting 'hi'"
    assert app["labels"]["team"] == "payments"


def test_booleans_render_as_json_and_still_open_or_skip_sections() -> None:
    pkg = web()
    off = build_app(pkg, resolve_options("web", pkg.config, {}), {})
    assert off["env"] == {"DEBUG": "false"}
    user = {"web": {"debug": True}}
    on = build_app(pkg, resolve_options("web", pkg.config, user), user)
    assert on["env"] == {"DEBUG": "true", "LOG_LEVEL": "debug"}


def test_the_app_carries_cosmos_labels_that_decode_back() -> None:
    pkg = web()
    user = {"service": {"name": "shop"}}
    app = build_app(pkg, resolve_options("web", pkg.config, user), user)
    labels = app["labels"]
    assert labels["DCOS_PACKAGE_NAME"] == "web"
    assert labels["DCOS_PACKAGE_VERSION"] == "1.1.0"
    assert labels["DCOS_PACKAGE_RELEASE"] == "1"
    assert labels["DCOS_PACKAGE_SOURCE"] == URI
    assert labels["DCOS_PACKAGE_REGISTRY_VERSION"] == "4.0"
    assert labels["DCOS_PACKAGE_IS_FRAMEWORK"] == "false"
    assert labels["DCOS_SERVICE_NAME"] == "shop"  # the template's own
    assert decode_label(labels["DCOS_PACKAGE_OPTIONS"]) == user  # the user's, not merged
    meta = decode_label(labels["DCOS_PACKAGE_METADATA"])
    assert meta["name"] == "web" and meta["postInstallNotes"] == "web is up"
    assert "config" not in meta and "marathon" not in meta
    assert decode_definition(labels["DCOS_PACKAGE_DEFINITION"]) == pkg.definition


def test_installation_reads_an_app_back_from_its_labels_alone() -> None:
    pkg = web()
    app = build_app(pkg, resolve_options("web", pkg.config, {}), {}, app_id="/team/web-2")
    entry = installation({"id": app["id"], "labels": app["labels"]})
    assert entry is not None
    assert entry["appId"] == "/team/web-2"
    info = entry["packageInformation"]
    assert info["packageDefinition"]["version"] == "1.1.0"
    assert info["resourceDefinition"]["assets"]["uris"]["server"].endswith("server-1.1.0")
    assert installation({"id": "/plain", "labels": {"team": "x"}}) is None


def test_cosmos_labels_win_over_a_template_that_sets_them_but_framework_name_is_kept() -> None:
    kafka = Catalog([parse_repository(json.loads(REPO.read_text()), URI)]).select("kafka-lite")
    app = build_app(kafka, {}, {})
    assert app["labels"]["DCOS_PACKAGE_FRAMEWORK_NAME"] == "kafka-lite"
    assert app["labels"]["DCOS_PACKAGE_IS_FRAMEWORK"] == "true"
    assert app["labels"]["DCOS_SERVICE_NAME"] == "kafka-lite"  # defaulted from the id


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"id": "{{x}}", }', "is not JSON"),
        ('["{{x}}"]', "is a list, not a JSON object"),
    ],
)
def test_a_template_that_is_not_a_json_object_names_the_package(
    template: str, expected: str
) -> None:
    with pytest.raises(InvalidTemplate) as info:
        render_template("broken", template, {"x": 1}, {})
    assert "package [broken]" in info.value.message and expected in info.value.message


def test_mustache_escapes_html_as_mustache_java_does_and_triple_braces_do_not() -> None:
    doc = render_template("p", '{"a": "{{m}}", "b": "{{{m}}}"}', {"m": "<&>"}, {})
    assert doc == {"a": "&lt;&amp;&gt;", "b": "<&>"}


@pytest.mark.parametrize("name", ["hello-world", "echo", "redis-lite", "cron-echo"])
def test_every_bundled_package_renders_with_its_defaults_to_a_valid_app_or_job(name: str) -> None:
    packages = parse_repository(json.loads(BUNDLED_UNIVERSE.read_text()), BUNDLED_UNIVERSE.as_uri())
    pkg = Catalog([packages]).select(name)
    assert pkg.definition.get("postInstallNotes")
    options = resolve_options(name, pkg.config, {})
    if pkg.metronome_template is not None:
        job = build_job(pkg, options, {})
        assert JobSpec.from_json(job).id == name
        assert job["labels"]["DCOS_PACKAGE_NAME"] == name
    else:
        app = build_app(pkg, options, {})
        assert AppDefinition.from_json(app).id == f"/{name}"
        for fetch in app.get("fetch", []):  # assets are local files, no internet needed
            assert fetch["uri"].startswith("file://")
            assert Path(fetch["uri"].removeprefix("file://")).is_file()


def test_an_option_changes_what_runs() -> None:
    packages = parse_repository(json.loads(BUNDLED_UNIVERSE.read_text()), BUNDLED_UNIVERSE.as_uri())
    pkg = Catalog([packages]).select("hello-world")
    user = {"service": {"name": "hi", "port": 18080, "instances": 2}, "hello": {"message": "yo"}}
    app = build_app(pkg, resolve_options("hello-world", pkg.config, user), user)
    assert app["id"] == "/hi" and app["instances"] == 2
    assert app["portDefinitions"][0]["port"] == 18080 and app["requirePorts"] is True
    assert "echo 'yo' > www/index.html" in app["cmd"]
    assert (
        base64.b64decode(app["labels"]["DCOS_PACKAGE_OPTIONS"])
        == json.dumps(user, sort_keys=True, separators=(",", ":")).encode()
    )


def test_a_group_package_labels_every_app_and_lists_once_as_the_group() -> None:
    import base64 as b64

    template = (
        '{"id": "/{{name}}", "apps": [{"id": "db", "cmd": "sleep 1", "cpus": 0.1, "mem": 32}],'
        ' "groups": [{"id": "web", "apps": [{"id": "/{{name}}/web/fe", "cmd": "sleep 1",'
        ' "cpus": 0.1, "mem": 32}]}]}'
    )
    entry = {
        "packagingVersion": "3.0",
        "name": "stack",
        "version": "1.0",
        "maintainer": "m",
        "description": "a group",
        "marathon": {"v2AppMustacheTemplate": b64.b64encode(template.encode()).decode()},
        "config": {"properties": {"name": {"type": "string", "default": "shop"}}},
    }
    pkg = parse_repository({"packages": [entry]}, "file:///r.json")[0]
    group = build_app(pkg, resolve_options("stack", pkg.config, {}), {})
    db = group["apps"][0]
    fe = group["groups"][0]["apps"][0]
    for app, service in ((db, "db"), (fe, "shop/web/fe")):
        assert app["labels"]["DCOS_PACKAGE_NAME"] == "stack"
        assert app["labels"]["DCOS_PACKAGE_GROUP"] == "/shop"
        assert app["labels"]["DCOS_SERVICE_NAME"] == service
    entry_db = installation({"id": "/shop/db", "labels": db["labels"]})
    assert entry_db is not None
    assert (entry_db["appId"], entry_db["kind"]) == ("/shop", "group")
    with pytest.raises(InvalidTemplate, match="has no apps"):
        bare = {
            **entry,
            "marathon": {
                "v2AppMustacheTemplate": b64.b64encode(b'{"id": "/g", "apps": []}').decode()
            },
        }
        build_app(parse_repository({"packages": [bare]}, "file:///r.json")[0], {}, {})


def test_only_a_package_framework_no_other_app_runs_is_torn_down_and_never_the_platforms() -> None:
    from actors.packages._render import frameworks_to_teardown

    fws = [
        {"id": "f-1", "name": "kafka"},
        {"id": "f-2", "name": "kafka"},
        {"id": "m", "name": "marathon"},
    ]
    assert frameworks_to_teardown("kafka", fws, set()) == ["f-1", "f-2"]
    assert frameworks_to_teardown("kafka", fws, {"kafka"}) == []  # another instance runs it
    assert frameworks_to_teardown("marathon", fws, set()) == []
    assert frameworks_to_teardown("metronome", fws, set()) == []
    assert frameworks_to_teardown("", fws, set()) == []
