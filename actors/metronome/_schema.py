"""JSON schemas (Draft 2020-12) of Metronome's job spec and schedule spec.

Shapes and ranges follow Metronome's published ``jobspec.schema.json`` and
``schedulespec.schema.json``; rules a schema expresses badly (cmd vs docker image, cron
syntax, IANA zone names, regexes in constraints) live in `_job.py` / `_schedule.py` so
their errors read well. Unknown fields are rejected, as in Metronome's schema
(``additionalProperties: false``): a typo such as ``"cpu"`` must fail loudly instead of
silently running with the default. Features pydcos does not have (``ucr``, ``secrets``,
``networks``, secret env values) are rejected the same way rather than ignored.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

CONSTRAINT_OPERATORS = ("IS", "EQ", "LIKE", "UNLIKE")
"""Metronome's placement operators; EQ is the older spelling of IS."""
CONCURRENCY_POLICIES = ("ALLOW", "FORBID")
RESTART_POLICIES = ("NEVER", "ON_FAILURE")

# One name per dot-separated segment: lowercase alphanumerics, inner dashes.
JOB_ID_PATTERN = r"^([a-z0-9]+(-[a-z0-9]+)*)(\.([a-z0-9]+(-[a-z0-9]+)*))*$"
SCHEDULE_ID_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"

MIN_CPUS = 0.01
MIN_MEM = 32.0
MIN_STARTING_DEADLINE_SECONDS = 60
"""Metronome's ScheduleSpec validator: ``startingDeadline >= 1.minute``."""

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

SCHEDULE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "cron"],
    "properties": {
        "id": {"type": "string", "pattern": SCHEDULE_ID_PATTERN},
        "cron": {"type": "string", "minLength": 1},
        "timezone": {"type": "string", "minLength": 1},
        "startingDeadlineSeconds": {
            "type": "integer",
            "minimum": MIN_STARTING_DEADLINE_SECONDS,
        },
        "concurrencyPolicy": {"type": "string", "enum": list(CONCURRENCY_POLICIES)},
        "enabled": {"type": "boolean"},
        # Rendered by GET; accepted back so a GET body is valid PUT input, then ignored.
        "nextRunAt": {"type": "string"},
    },
}

JOB_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "run"],
    "properties": {
        "id": {"type": "string", "pattern": JOB_ID_PATTERN},
        "description": {"type": "string"},
        "labels": _STRING_MAP,
        "schedules": {"type": "array", "items": {"type": "object"}},
        "run": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "cmd": {"type": "string", "minLength": 1},
                "args": {"type": "array", "items": {"type": "string"}},
                "cpus": {"type": "number", "minimum": MIN_CPUS},
                "mem": {"type": "number", "minimum": MIN_MEM},
                "disk": {"type": "number", "minimum": 0},
                "gpus": {"type": "integer", "minimum": 0},
                "env": _STRING_MAP,
                "user": {"type": "string", "minLength": 1},
                "artifacts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["uri"],
                        "properties": {
                            "uri": {"type": "string", "minLength": 1},
                            "executable": {"type": "boolean"},
                            "extract": {"type": "boolean"},
                            "cache": {"type": "boolean"},
                        },
                    },
                },
                "docker": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "minLength": 1},
                        "forcePullImage": {"type": "boolean"},
                    },
                },
                "placement": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "constraints": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["attribute", "operator"],
                                "properties": {
                                    "attribute": {"type": "string", "minLength": 1},
                                    "operator": {
                                        "type": "string",
                                        "enum": list(CONSTRAINT_OPERATORS),
                                    },
                                    "value": {"type": "string"},
                                },
                            },
                        }
                    },
                },
                "volumes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["containerPath", "hostPath", "mode"],
                        "properties": {
                            "containerPath": {"type": "string", "minLength": 1},
                            "hostPath": {"type": "string", "minLength": 1},
                            "mode": {"type": "string", "enum": ["RO", "RW"]},
                        },
                    },
                },
                "restart": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "policy": {"type": "string", "enum": list(RESTART_POLICIES)},
                        "activeDeadlineSeconds": {"type": "integer", "minimum": 0},
                    },
                },
                "taskKillGracePeriodSeconds": {"type": "number", "minimum": 0},
                "maxLaunchDelay": {"type": "integer", "minimum": 1},
            },
        },
    },
}

JOB_VALIDATOR = Draft202012Validator(JOB_SCHEMA)
SCHEDULE_VALIDATOR = Draft202012Validator(SCHEDULE_SCHEMA)


def schema_problems(validator: Draft202012Validator, data: Any) -> list[tuple[str, str]]:
    """Every schema violation as ``(json_pointer, message)``, in document order.

    Pointers use Metronome's form (``/run/cpus``); a missing required property is
    reported at the property it names, so the error names the field the user forgot.
    """
    problems: list[tuple[str, str]] = []
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
    for error in errors:
        parts = [str(p) for p in error.absolute_path]
        if error.validator == "required" and isinstance(error.validator_value, list):
            missing = [p for p in error.validator_value if p not in (error.instance or {})]
            for name in missing:
                problems.append(("/" + "/".join([*parts, name]), "is required"))
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            for name in sorted(set(error.instance) - allowed):
                problems.append(("/" + "/".join([*parts, name]), "unknown property"))
            continue
        problems.append(("/" + "/".join(parts), error.message))
    return problems
