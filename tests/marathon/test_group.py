"""Groups: parsing, child rules, dependency order and cycles."""

from __future__ import annotations

import pytest

from actors.marathon import (
    AppDefinition,
    Group,
    ValidationFailed,
    app_dependencies,
    dependency_levels,
)

PRODUCT = {
    "id": "/product",
    "groups": [
        {"id": "database", "apps": [{"id": "mongo", "cmd": "mongod"}]},
        {
            "id": "service",
            "dependencies": ["/product/database"],
            "apps": [{"id": "api", "cmd": "api"}],
        },
        {
            "id": "frontend",
            "apps": [{"id": "web", "cmd": "web", "dependencies": ["../service/api"]}],
        },
    ],
}


def test_nested_group_ids_resolve_relative_to_their_parent() -> None:
    group = Group.from_json(PRODUCT)
    assert sorted(group.transitive_apps()) == [
        "/product/database/mongo",
        "/product/frontend/web",
        "/product/service/api",
    ]
    assert Group.from_json(group.to_json()) == group


def test_group_dependency_applies_to_every_app_inside() -> None:
    """Marathon: dependencies on a group mean every app in it; a group's own
    dependencies bind all its apps."""
    deps = app_dependencies(Group.from_json(PRODUCT))
    assert deps["/product/service/api"] == {"/product/database/mongo"}
    assert deps["/product/frontend/web"] == {"/product/service/api"}


def test_dependency_levels_start_dependencies_first() -> None:
    """Marathon docs example: /a needs /b needs /c -> start /c, then /b, then /a."""
    assert dependency_levels(Group.from_json(PRODUCT)) == (
        ("/product/database/mongo",),
        ("/product/service/api",),
        ("/product/frontend/web",),
    )


def test_cyclic_dependencies_are_rejected() -> None:
    root = Group.from_json(
        {
            "id": "/",
            "apps": [
                {"id": "a", "cmd": "x", "dependencies": ["b"]},
                {"id": "b", "cmd": "x", "dependencies": ["c"]},
                {"id": "c", "cmd": "x", "dependencies": ["a"]},
                {"id": "d", "cmd": "x"},
            ],
        }
    )
    with pytest.raises(ValidationFailed) as info:
        dependency_levels(root)
    assert "/a, /b, /c" in str(info.value)


def test_app_must_be_a_child_of_its_group() -> None:
    with pytest.raises(ValidationFailed) as info:
        Group.from_json({"id": "/g", "apps": [{"id": "/other/x", "cmd": "x"}]})
    assert info.value.details[0]["path"] == "/apps/0/id"


def test_app_errors_carry_the_path_inside_the_group() -> None:
    with pytest.raises(ValidationFailed) as info:
        Group.from_json(
            {
                "id": "/g",
                "groups": [{"id": "s", "apps": [{"id": "x", "cmd": "x", "instances": -1}]}],
            }
        )
    assert info.value.details[0]["path"] == "/groups/0/apps/0/instances"


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValidationFailed):
        Group.from_json({"id": "/g", "apps": [{"id": "x", "cmd": "a"}, {"id": "x", "cmd": "b"}]})


def test_put_and_remove_app_create_groups_on_the_way() -> None:
    root = Group()
    app = AppDefinition.from_json({"id": "/a/b/c", "cmd": "x"})
    root = root.put_app(app)
    assert root.app("/a/b/c") == app
    assert [g.id for g in root.walk()] == ["/", "/a", "/a/b"]
    replaced = root.put_app(AppDefinition.from_json({"id": "/a/b/c", "cmd": "y"}))
    assert len(replaced.transitive_apps()) == 1
    assert replaced.remove_app("/a/b/c").transitive_apps() == {}
