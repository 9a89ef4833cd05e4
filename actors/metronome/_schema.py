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

from actors._validation import (
    ENV_SCHEMA,
    LABELS_SCHEMA,
    MAX_ARGS,
    MAX_CMD_LENGTH,
    MAX_CPUS,
    MAX_DISK_MB,
    MAX_GPUS,
    MAX_ID_LENGTH,
    MAX_MEM_MB,
    MAX_SECONDS,
    MIN_MEM_MB,
    SECONDS_SCHEMA,
    schema_message,
)
from actors._validation import MIN_CPUS as _MIN_CPUS

CONSTRAINT_OPERATORS = ("IS", "EQ", "LIKE", "UNLIKE")
"""Metronome's placement operators; EQ is the older spelling of IS."""
CONCURRENCY_POLICIES = ("ALLOW", "FORBID")
RESTART_POLICIES = ("NEVER", "ON_FAILURE")

# One name per dot-separated segment: lowercase alphanumerics, inner dashes. ``\Z``, not
# ``$``: jsonschema searches with Python's re, where ``$`` also matches before a final
# newline ("job\n" would pass).
JOB_ID_PATTERN = r"^([a-z0-9]+(-[a-z0-9]+)*)(\.([a-z0-9]+(-[a-z0-9]+)*))*\Z"
SCHEDULE_ID_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z"

MIN_CPUS = _MIN_CPUS
MIN_MEM = MIN_MEM_MB
"""The agent's and Marathon's minimums too (one constant, actors/_validation.py)."""
MAX_SCHEDULES = 16
MAX_CRON_LENGTH = 256
MIN_STARTING_DEADLINE_SECONDS = 60
"""Metronome's ScheduleSpec validator: ``startingDeadline >= 1.minute``."""

_LABELS = LABELS_SCHEMA
_ENV = ENV_SCHEMA
_SECONDS = SECONDS_SCHEMA

SCHEDULE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "cron"],
    "properties": {
        "id": {"type": "string", "maxLength": 63, "pattern": SCHEDULE_ID_PATTERN},
        "cron": {"type": "string", "minLength": 1, "maxLength": MAX_CRON_LENGTH},
        "timezone": {"type": "string", "minLength": 1, "maxLength": 64},
        "startingDeadlineSeconds": {
            "type": "integer",
            "minimum": MIN_STARTING_DEADLINE_SECONDS,
            "maximum": MAX_SECONDS,
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
        "id": {"type": "string", "maxLength": MAX_ID_LENGTH, "pattern": JOB_ID_PATTERN},
        "description": {"type": "string", "maxLength": 4096},
        "labels": _LABELS,
        "schedules": {"type": "array", "maxItems": MAX_SCHEDULES, "items": {"type": "object"}},
        "run": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "cmd": {"type": "string", "minLength": 1, "maxLength": MAX_CMD_LENGTH},
                "args": {
                    "type": "array",
                    "maxItems": MAX_ARGS,
                    "items": {"type": "string", "maxLength": MAX_CMD_LENGTH},
                },
                "cpus": {"type": "number", "minimum": MIN_CPUS, "maximum": MAX_CPUS},
                "mem": {"type": "number", "minimum": MIN_MEM, "maximum": MAX_MEM_MB},
                "disk": {"type": "number", "minimum": 0, "maximum": MAX_DISK_MB},
                "gpus": {"type": "integer", "minimum": 0, "maximum": MAX_GPUS},
                "env": _ENV,
                "user": {"type": "string", "minLength": 1, "maxLength": 255},
                "artifacts": {
                    "type": "array",
                    "maxItems": 64,
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
                            "maxItems": 64,
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
                    "maxItems": 64,
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
                        "activeDeadlineSeconds": _SECONDS,
                    },
                },
                "taskKillGracePeriodSeconds": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": MAX_SECONDS,
                },
                "maxLaunchDelay": {"type": "integer", "minimum": 1, "maximum": MAX_SECONDS},
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
        if error.validator == "pattern" and parts and parts[-1] == "id":
            problems.append(("/" + "/".join(parts), _id_message(error.instance)))
            continue
        problems.append(("/" + "/".join(parts), schema_message(error)))
    return problems


def _id_message(value: str) -> str:
    return (
        f"{value[:60]!r} is not a valid id: use lowercase letters, digits and dashes, in "
        "dot-separated names that begin and end with a letter or digit"
    )
