"""The ``pydcos package`` verbs' local parts: options files and the option table."""

from __future__ import annotations

from pathlib import Path

import pytest

from console._client import ClientError
from console._package_cmds import _option_rows, read_options


def test_an_options_file_must_be_a_readable_json_object(tmp_path: Path) -> None:
    good = tmp_path / "o.json"
    good.write_text('{"service": {"name": "x"}}')
    assert read_options(str(good)) == {"service": {"name": "x"}}
    assert read_options(None) is None
    with pytest.raises(ClientError, match=r"--options .*missing\.json: No such file"):
        read_options(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ClientError, match="not JSON"):
        read_options(str(tmp_path / "bad.json"))
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ClientError, match="expected a JSON object, got list"):
        read_options(str(tmp_path / "list.json"))


def test_the_option_table_lists_leaf_options_with_their_defaults() -> None:
    schema = {
        "properties": {
            "service": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "default": "web", "description": "the id"},
                    "port": {"type": "integer"},
                },
            },
            "debug": {"type": "boolean", "default": False},
        }
    }
    assert _option_rows(schema) == [
        ("service.name", "string", '"web"', "the id"),
        ("service.port", "integer", "-", ""),
        ("debug", "boolean", "false", ""),
    ]
