"""Options: schema defaults overlaid with the user's, validated with JSON pointers."""

from __future__ import annotations

import pytest

from actors.packages import JsonSchemaMismatch, merge, resolve_options, schema_defaults
from actors.packages._errors import MalformedRequest
from actors.packages._options import pointer, schema_errors

SCHEMA = {
    "type": "object",
    "properties": {
        "service": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "default": "web", "pattern": "^[a-z-]+$"},
                "port": {"type": "integer", "default": 0, "minimum": 0, "maximum": 65535},
                "limits": {
                    "type": "object",
                    "properties": {"mem": {"type": "number", "default": 64}},
                },
            },
            "required": ["name", "port"],
            "additionalProperties": False,
        },
        "extras": {"type": "object", "properties": {"note": {"type": "string"}}},
        "debug": {"type": "boolean", "default": False},
    },
    "additionalProperties": False,
}


def test_defaults_are_read_from_nested_objects_and_empty_objects_are_left_out() -> None:
    assert schema_defaults(SCHEMA) == {
        "service": {"name": "web", "port": 0, "limits": {"mem": 64}},
        "debug": False,
    }


def test_user_options_merge_key_by_key_over_the_defaults() -> None:
    merged = merge(schema_defaults(SCHEMA), {"service": {"port": 8080, "limits": {"mem": 128}}})
    assert merged == {
        "service": {"name": "web", "port": 8080, "limits": {"mem": 128}},
        "debug": False,
    }
    # A non-object value replaces, whatever it replaces.
    assert merge({"a": {"b": 1}}, {"a": 3}) == {"a": 3}


def test_every_bad_option_is_reported_by_its_json_pointer() -> None:
    with pytest.raises(JsonSchemaMismatch) as info:
        resolve_options(
            "web",
            SCHEMA,
            {"service": {"name": "Web Server", "port": 70000, "colour": "red"}, "debug": "yes"},
        )
    err = info.value
    assert err.status == 400 and err.type == "JsonSchemaMismatch"
    pointers = [e["instance"]["pointer"] for e in err.data["errors"]]
    assert pointers == ["/debug", "/service", "/service/name", "/service/port"]
    assert "web" in err.message and "/service/port: 70000 is greater than" in err.message


def test_a_missing_required_option_points_at_itself() -> None:
    schema = {
        "type": "object",
        "properties": {"service": {"type": "object", "required": ["name", "port"]}},
    }
    errors = schema_errors(schema, {"service": {"port": 1}})
    assert errors == [
        {
            "pointer": "/service/name",
            "keyword": "required",
            "message": "required option 'name' is missing",
        }
    ]


def test_pointers_escape_tilde_and_slash_as_rfc_6901_says() -> None:
    assert pointer(["a/b", "c~d", 0]) == "/a~1b/c~0d/0"
    assert pointer([]) == "/"


def test_options_must_be_an_object_and_no_schema_means_the_user_options() -> None:
    with pytest.raises(MalformedRequest, match="options: expected a JSON object, got list"):
        resolve_options("web", SCHEMA, [1])
    assert resolve_options("web", None, {"x": 1}) == {"x": 1}
    assert resolve_options("web", SCHEMA, None)["service"]["name"] == "web"


def test_a_broken_schema_is_an_error_naming_config_json() -> None:
    with pytest.raises(MalformedRequest, match=r"config\.json is not a valid JSON schema"):
        resolve_options("web", {"type": "objekt"}, {})
