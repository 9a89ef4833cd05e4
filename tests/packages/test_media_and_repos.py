"""Cosmos' media types and the repository list's rules."""

from __future__ import annotations

import pytest

from actors.packages._errors import (
    MalformedRequest,
    RepoNameOrUriMissing,
    RepositoryAddIndexOutOfBounds,
    RepositoryAlreadyPresent,
    RepositoryNotPresent,
    UnsupportedRepositoryUri,
)
from actors.packages._media import (
    NotAcceptable,
    UnsupportedMediaType,
    check_content_type,
    negotiate,
    response_type,
)
from actors.packages._repos import (
    add_repository,
    check_repository,
    delete_repository,
    parse_stored,
)

V1 = ";charset=utf-8;version=v1"


def test_the_request_media_type_or_plain_json_is_accepted() -> None:
    check_content_type("install", "application/vnd.dcos.package.install-request+json" + V1)
    check_content_type("install", "application/json; charset=utf-8")
    check_content_type("install", None)
    with pytest.raises(UnsupportedMediaType, match="describe-request"):
        check_content_type("install", "application/vnd.dcos.package.describe-request+json" + V1)
    with pytest.raises(UnsupportedMediaType):
        check_content_type("search", "application/x-www-form-urlencoded")


def test_the_response_version_follows_accept_as_the_dcos_cli_asks() -> None:
    v2 = "application/vnd.dcos.package.install-response+json;charset=utf-8;version=v2"
    assert negotiate("install", v2) == "v2"
    v1 = "application/vnd.dcos.package.install-response+json;charset=utf-8;version=v1"
    assert negotiate("install", v1) == "v1"
    assert negotiate("install", "application/json") == "v2"
    assert negotiate("describe", None) == "v3"
    assert negotiate("describe", "*/*") == "v3"
    assert negotiate("repository.add", "text/plain, application/json") == "v1"
    with pytest.raises(NotAcceptable):
        negotiate("install", "text/html")
    assert response_type("list", "v1") == (
        "application/vnd.dcos.package.list-response+json;charset=utf-8;version=v1"
    )


def test_repositories_are_added_at_an_index_and_names_and_uris_are_unique() -> None:
    repos = [{"name": "Universe", "uri": "file:///u/repo.json"}]
    repos = add_repository(repos, "mine", "http://127.0.0.1:8000/repo.json", 0)
    assert [r["name"] for r in repos] == ["mine", "Universe"]
    repos = add_repository(repos, "last", "file:///l/repo.json")
    assert repos[-1]["name"] == "last"
    with pytest.raises(RepositoryAlreadyPresent):
        add_repository(repos, "mine", "file:///other.json")
    with pytest.raises(RepositoryAlreadyPresent):
        add_repository(repos, "other", "file:///u/repo.json")
    with pytest.raises(RepositoryAddIndexOutOfBounds, match="index: 9 is not between 0 and 3"):
        add_repository(repos, "x", "file:///x.json", 9)
    assert [r["name"] for r in delete_repository(repos, name="mine")] == ["Universe", "last"]
    assert len(delete_repository(repos, uri="file:///l/repo.json")) == 2
    with pytest.raises(RepoNameOrUriMissing):
        delete_repository(repos)
    with pytest.raises(RepositoryNotPresent, match="name \\[nope\\]"):
        delete_repository(repos, name="nope")


@pytest.mark.parametrize(
    ("name", "uri", "error", "text"),
    [
        ("", "file:///a.json", MalformedRequest, "name"),
        ("a", 3, MalformedRequest, "uri: 3"),
        ("a", "ftp://host/repo.json", UnsupportedRepositoryUri, "file://, http:// or https://"),
        ("a", "file://relative/repo.json", UnsupportedRepositoryUri, "absolute path"),
        ("a", "http:///repo.json", UnsupportedRepositoryUri, "names no host"),
    ],
)
def test_a_bad_repository_is_refused_naming_the_field(
    name: object, uri: object, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=text):
        check_repository(name, uri)


def test_the_stored_list_is_checked_when_read() -> None:
    assert parse_stored({"repositories": [{"name": "a", "uri": "file:///a"}]}) == [
        {"name": "a", "uri": "file:///a"}
    ]
    with pytest.raises(ValueError):
        parse_stored({"repositories": [{"name": "a"}]})
    with pytest.raises(ValueError):
        parse_stored([])
