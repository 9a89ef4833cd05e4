"""Universe repositories read as Cosmos reads them, against files in Universe's format."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from actors.packages import (
    BUNDLED_UNIVERSE,
    Catalog,
    PackageNotFound,
    VersionNotFound,
    build_repository,
    parse_repository,
)
from actors.packages._errors import RepositoryNotUniverse
from actors.packages._universe import describe_v1, describe_v3, list_versions

DATA = Path(__file__).parent / "data"
REPO_FILE = DATA / "repo-up-to-1.10.json"
REPO_URI = "https://universe.example.com/repo/repo-up-to-1.10.json"


def repo_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(REPO_FILE.read_text())
    return doc


def test_a_universe_repository_file_parses_every_package_version() -> None:
    packages = parse_repository(repo_doc(), REPO_URI)
    assert [(p.name, p.version, p.release, p.packaging_version) for p in packages] == [
        ("web", "1.0.0", 0, "3.0"),
        ("web", "1.1.0", 1, "4.0"),
        ("kafka-lite", "0.9.0", 3, "3.0"),
    ]
    web = packages[1]
    assert web.definition["upgradesFrom"] == ["1.0.0"]
    assert web.config["properties"]["service"]["properties"]["name"]["default"] == "web"
    assert (
        web.marathon_template is not None and '"id": "/{{service.name}}"' in web.marathon_template
    )
    assert web.metronome_template is None
    assert web.metadata()["images"] == {"icon-small": "https://downloads.example.com/web/icon.png"}


def test_relative_asset_uris_resolve_against_the_repository_uri() -> None:
    doc = repo_doc()
    doc["packages"][0]["resource"]["assets"]["uris"]["server"] = "assets/web/server.py"
    pkg = parse_repository(doc, "file:///srv/universe/repo.json")[0]
    assert pkg.resource["assets"]["uris"]["server"] == "file:///srv/universe/assets/web/server.py"
    assert "file:///srv/universe/assets/web/server.py" in pkg.asset_uris()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("packages"), "expected a JSON object with a 'packages' array"),
        (lambda d: d["packages"][0].update(packagingVersion="5.0"), "/packages/0/packagingVersion"),
        (lambda d: d["packages"][1].update(name="Web Server"), "/packages/1/name"),
        (lambda d: d["packages"][2].pop("maintainer"), "/packages/2/maintainer: required"),
        (lambda d: d["packages"][0].update(releaseVersion=-1), "/packages/0/releaseVersion"),
        (lambda d: d["packages"][0].update(tags=["two words"]), "/packages/0/tags"),
        (
            lambda d: d["packages"][0]["marathon"].update(v2AppMustacheTemplate="not base64!"),
            "/packages/0/marathon/v2AppMustacheTemplate",
        ),
        (lambda d: d["packages"][1].update(upgradesFrom="1.0.0"), "/packages/1/upgradesFrom"),
    ],
)
def test_a_file_that_is_not_a_universe_repository_is_refused_naming_the_field(
    mutate: Any, expected: str
) -> None:
    doc = repo_doc()
    mutate(doc)
    with pytest.raises(RepositoryNotUniverse) as info:
        parse_repository(doc, REPO_URI)
    assert expected in info.value.message and REPO_URI in info.value.message


def catalog() -> Catalog:
    return Catalog([parse_repository(repo_doc(), REPO_URI)])


def test_search_matches_name_description_and_tags_selected_first() -> None:
    c = catalog()
    assert [r["name"] for r in c.search("")] == ["kafka-lite", "web"]
    assert [r["name"] for r in c.search("STREAM")] == ["kafka-lite"]  # a tag, any case
    assert [r["name"] for r in c.search("sample")] == ["web"]  # the description
    assert [r["name"] for r in c.search("we*")] == ["web"]  # a glob
    assert c.search("nothing-like-it") == []
    web = c.search("web")[0]
    assert web == {
        "name": "web",
        "currentVersion": "1.1.0",
        "versions": {"1.0.0": "0", "1.1.0": "1"},
        "description": "A sample web server",
        "framework": False,
        "tags": ["web", "http"],
        "selected": False,
        "images": {"icon-small": "https://downloads.example.com/web/icon.png"},
    }


def test_select_takes_the_newest_release_or_the_version_named() -> None:
    c = catalog()
    assert c.select("web").version == "1.1.0"
    assert c.select("web", "1.0.0").release == 0
    with pytest.raises(VersionNotFound) as v:
        c.select("web", "9.9")
    assert v.value.body() == {
        "type": "VersionNotFound",
        "message": "Version [9.9] of package [web] not found",
        "data": {"packageName": "web", "packageVersion": "9.9"},
    }
    with pytest.raises(PackageNotFound) as p:
        c.select("nope")
    assert p.value.status == 404 and p.value.body()["type"] == "PackageNotFound"


def test_an_earlier_repository_hides_a_package_of_the_same_name_in_later_ones() -> None:
    doc = repo_doc()
    mine = {**doc["packages"][0], "version": "7.0.0", "description": "my own web"}
    first = parse_repository({"packages": [mine]}, "file:///mine/repo.json")
    c = Catalog([first, parse_repository(repo_doc(), REPO_URI)])
    assert [p.version for p in c.versions("web")] == ["7.0.0"]
    assert c.select("kafka-lite").source == REPO_URI


def test_describe_and_list_versions_have_cosmos_shapes() -> None:
    pkg = catalog().select("web", "1.0.0")
    v3 = describe_v3(pkg)["package"]
    assert v3["name"] == "web" and "marathon" in v3 and "config" in v3
    v1 = describe_v1(pkg)
    assert set(v1) == {"package", "marathonMustache", "config", "resource"}
    assert "config" not in v1["package"] and v1["marathonMustache"].startswith("{")
    assert list_versions(catalog().versions("web")) == {"results": {"1.0.0": "0", "1.1.0": "1"}}


def test_the_bundled_universe_file_is_built_from_its_package_tree() -> None:
    tree = BUNDLED_UNIVERSE.parent
    assert json.loads(BUNDLED_UNIVERSE.read_text()) == build_repository(tree), (
        "universe/repo.json is stale: run .venv/bin/python universe/build.py"
    )


def test_build_repository_base64s_templates_and_numbers_releases(tmp_path: Path) -> None:
    d = tmp_path / "packages" / "H" / "hi" / "3"
    d.mkdir(parents=True)
    (d / "package.json").write_text(
        json.dumps(
            {
                "packagingVersion": "4.0",
                "name": "hi",
                "version": "2.0",
                "maintainer": "m",
                "description": "d",
                "tags": [],
            }
        )
    )
    (d / "marathon.json.mustache").write_text('{"id": "{{x}}"}')
    (d / "config.json").write_text('{"type": "object"}')
    entry = build_repository(tmp_path)["packages"][0]
    assert entry["releaseVersion"] == 3 and entry["config"] == {"type": "object"}
    assert base64.b64decode(entry["marathon"]["v2AppMustacheTemplate"]) == b'{"id": "{{x}}"}'
    assert parse_repository({"packages": [entry]}, "file:///t/repo.json")[0].name == "hi"
