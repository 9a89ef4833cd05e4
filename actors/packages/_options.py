"""A package's options: schema defaults overlaid with the user's, then validated (pure).

As the DC/OS CLI and Cosmos do it: the defaults are read out of ``config.json`` (every
``default``, nested objects recursively), the user's options file is merged over them
key by key (objects merge, anything else replaces), and the result must validate against
the schema. Every violation is reported with the JSON pointer of the option it is about
(``/service/port``), so the user sees all of them at once.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from ._errors import JsonSchemaMismatch, MalformedRequest


def schema_defaults(schema: Any) -> dict[str, Any]:
    """Every ``default`` in an object schema, nested objects recursively (an object
    property without defaults anywhere below it is left out)."""
    out: dict[str, Any] = {}
    if not isinstance(schema, dict):
        return out
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if "default" in prop:
            out[key] = prop["default"]
        elif prop.get("type") == "object" or "properties" in prop:
            nested = schema_defaults(prop)
            if nested:
                out[key] = nested
    return out


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: objects merge key by key, other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def pointer(parts: Any) -> str:
    """JSON pointer (RFC 6901) of a path: ``["service", "name"]`` -> ``/service/name``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts) or "/"


def schema_errors(schema: dict[str, Any], options: Any) -> list[dict[str, Any]]:
    """Each way ``options`` violates ``schema``: ``{"pointer", "keyword", "message"}``,
    sorted by pointer. A missing required option points at itself, not its parent."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise MalformedRequest(
            f"the package's config.json is not a valid JSON schema: {exc.message}"
        ) from None
    out = []
    for err in cls(schema).iter_errors(options):
        parts = list(err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            missing = [r for r in err.validator_value if r not in err.instance]
            for name in missing:
                out.append(
                    {
                        "pointer": pointer([*parts, name]),
                        "keyword": "required",
                        "message": f"required option {name!r} is missing",
                    }
                )
            continue
        out.append(
            {"pointer": pointer(parts), "keyword": str(err.validator), "message": err.message}
        )
    out.sort(key=lambda e: (e["pointer"], e["keyword"]))
    return out


def resolve_options(package: str, schema: dict[str, Any] | None, user: Any) -> dict[str, Any]:
    """The options a package is rendered with: defaults, then ``user``'s, validated.
    `JsonSchemaMismatch` lists every bad option by pointer; nothing is installed then."""
    if user is None:
        user = {}
    if not isinstance(user, dict):
        raise MalformedRequest(
            f"options: expected a JSON object, got {type(user).__name__}", {"field": "options"}
        )
    if not schema:
        return dict(user)
    options = merge(schema_defaults(schema), user)
    errors = schema_errors(schema, options)
    if errors:
        listed = "; ".join(f"{e['pointer']}: {e['message']}" for e in errors)
        raise JsonSchemaMismatch(
            f"Options for package [{package}] are not valid: {listed}",
            {
                "errors": [
                    {
                        "instance": {"pointer": e["pointer"]},
                        "keyword": e["keyword"],
                        "message": e["message"],
                    }
                    for e in errors
                ]
            },
        )
    return options
