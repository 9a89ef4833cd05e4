"""The JSON schema of a Marathon app definition (Draft 2020-12).

The schema checks shapes and ranges; rules that involve more than one field (cmd vs
args, port conflicts, regexes in constraints, dependency paths) live in `_app.py`,
because schema errors for them would be unreadable. Like Marathon's published
AppDefinition.json, unknown top-level fields are rejected (`additionalProperties:
false`): a typo such as `"instanses"` must fail loudly instead of silently deploying one
instance.
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
    MAX_HEALTH_CHECKS,
    MAX_ID_LENGTH,
    MAX_INSTANCES,
    MAX_MEM_MB,
    MAX_PORTS,
    MAX_SECONDS,
    MIN_CPUS,
    MIN_MEM_MB,
    SECONDS_SCHEMA,
)

from ._readiness import READINESS_CHECK_SCHEMA

CONSTRAINT_OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS")
HEALTH_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP")

_PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
_LABELS = LABELS_SCHEMA
_ENV = ENV_SCHEMA
_SECONDS = SECONDS_SCHEMA
_NON_NEG_SECONDS = {"type": "number", "minimum": 0, "maximum": MAX_SECONDS}
_SHORT_LIST = {"type": "array", "maxItems": 64, "items": {"type": "string", "maxLength": 1024}}
_PROTOCOL = {"type": "string", "enum": ["tcp", "udp", "udp,tcp", "tcp,udp"]}

_PERSISTENT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": ["root", "path", "mount"]},
        "size": {"type": "integer", "minimum": 1, "maximum": 2**40},
        "maxSize": {"type": "integer", "minimum": 1, "maximum": 2**40},
        "constraints": {
            "type": "array",
            "maxItems": 16,
            "items": {"type": "array", "maxItems": 3, "items": {"type": "string"}},
        },
    },
}
"""A local persistent volume (Marathon's ``PersistentVolumeInfo``): see ``_resident``."""

_PORT_MAPPING = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "containerPort": _PORT,
        "hostPort": _PORT,
        "servicePort": _PORT,
        "protocol": _PROTOCOL,
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
        "labels": _LABELS,
    },
}

_CONSTRAINT = {
    "oneOf": [
        {
            "type": "array",
            "prefixItems": [
                {"type": "string", "minLength": 1},
                {"type": "string", "enum": list(CONSTRAINT_OPERATORS)},
                {"type": "string"},
            ],
            "minItems": 2,
            "maxItems": 3,
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["fieldName", "operator"],
            "properties": {
                "fieldName": {"type": "string", "minLength": 1},
                "operator": {"type": "string", "enum": list(CONSTRAINT_OPERATORS)},
                "value": {"type": "string"},
            },
        },
    ]
}

_LIMIT: dict[str, Any] = {"type": ["number", "string"], "minimum": 0, "pattern": "^unlimited$"}
RESOURCE_LIMITS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"cpus": _LIMIT, "mem": _LIMIT},
}
"""Marathon 1.10's ``resourceLimits`` (apps; pods per container): ``cpus``/``mem``, each
``"unlimited"`` or a number (>= the request: checked with the app)."""

APP_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["id"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
        "cmd": {"type": "string", "minLength": 1, "maxLength": MAX_CMD_LENGTH},
        "args": {
            "type": "array",
            "maxItems": MAX_ARGS,
            "items": {"type": "string", "maxLength": MAX_CMD_LENGTH},
        },
        "user": {"type": "string", "maxLength": 255},
        "executor": {"type": "string", "maxLength": 1024},
        # The same minimums as Metronome and the agent: an app that could never launch
        # (every task TASK_ERROR) is refused here, at creation.
        "cpus": {"type": "number", "minimum": MIN_CPUS, "maximum": MAX_CPUS},
        "mem": {"type": "number", "minimum": MIN_MEM_MB, "maximum": MAX_MEM_MB},
        "disk": {"type": "number", "minimum": 0, "maximum": MAX_DISK_MB},
        "gpus": {"type": "integer", "minimum": 0, "maximum": MAX_GPUS},
        "resourceLimits": RESOURCE_LIMITS,
        "instances": {"type": "integer", "minimum": 0, "maximum": MAX_INSTANCES},
        "env": _ENV,
        "labels": _LABELS,
        "acceptedResourceRoles": _SHORT_LIST,
        "container": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "enum": ["MESOS", "DOCKER"]},
                "docker": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "image": {"type": "string", "minLength": 1},
                        "forcePullImage": {"type": "boolean"},
                        "privileged": {"type": "boolean"},
                        "network": {"type": "string", "enum": ["BRIDGE", "HOST", "NONE", "USER"]},
                        "parameters": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["key", "value"],
                                "properties": {
                                    "key": {"type": "string", "minLength": 1},
                                    "value": {"type": "string"},
                                },
                            },
                        },
                        "portMappings": {
                            "type": "array",
                            "maxItems": MAX_PORTS,
                            "items": _PORT_MAPPING,
                        },
                    },
                },
                "portMappings": {"type": "array", "maxItems": MAX_PORTS, "items": _PORT_MAPPING},
                "volumes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["containerPath", "mode"],
                        "properties": {
                            "containerPath": {"type": "string", "minLength": 1},
                            "hostPath": {"type": "string", "minLength": 1},
                            "mode": {"type": "string", "enum": ["RO", "RW"]},
                            "persistent": _PERSISTENT,
                        },
                    },
                },
            },
        },
        "ports": {"type": "array", "maxItems": MAX_PORTS, "items": _PORT},
        "portDefinitions": {
            "type": "array",
            "maxItems": MAX_PORTS,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["port"],
                "properties": {
                    "port": _PORT,
                    "protocol": _PROTOCOL,
                    "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
                    "labels": _LABELS,
                },
            },
        },
        "requirePorts": {"type": "boolean"},
        "constraints": {"type": "array", "maxItems": 64, "items": _CONSTRAINT},
        "healthChecks": {
            "type": "array",
            "maxItems": MAX_HEALTH_CHECKS,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "protocol": {"type": "string", "enum": list(HEALTH_PROTOCOLS)},
                    "path": {"type": "string"},
                    "portIndex": {"type": "integer", "minimum": 0, "maximum": MAX_PORTS},
                    "port": _PORT,
                    "command": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["value"],
                        "properties": {"value": {"type": "string", "minLength": 1}},
                    },
                    "gracePeriodSeconds": _SECONDS,
                    "intervalSeconds": {"type": "integer", "minimum": 1, "maximum": MAX_SECONDS},
                    "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": MAX_SECONDS},
                    "maxConsecutiveFailures": {"type": "integer", "minimum": 0, "maximum": 10_000},
                    "delaySeconds": _SECONDS,
                    "ignoreHttp1xx": {"type": "boolean"},
                },
            },
        },
        "readinessChecks": {"type": "array", "maxItems": 16, "items": READINESS_CHECK_SCHEMA},
        "upgradeStrategy": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "minimumHealthCapacity": {"type": "number", "minimum": 0, "maximum": 1},
                "maximumOverCapacity": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
        "backoffSeconds": _NON_NEG_SECONDS,
        "backoffFactor": {"type": "number", "minimum": 1, "maximum": 100},
        "maxLaunchDelaySeconds": _NON_NEG_SECONDS,
        "killSelection": {"type": "string", "enum": ["YOUNGEST_FIRST", "OLDEST_FIRST"]},
        "taskKillGracePeriodSeconds": {
            "type": ["integer", "null"],
            "minimum": 0,
            "maximum": MAX_SECONDS,
        },
        "unreachableStrategy": {
            "oneOf": [
                {"type": "string", "const": "disabled"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "inactiveAfterSeconds": _SECONDS,
                        "expungeAfterSeconds": _SECONDS,
                    },
                },
            ]
        },
        "dependencies": {
            "type": "array",
            "maxItems": 256,
            "items": {"type": "string", "maxLength": MAX_ID_LENGTH},
        },
        "fetch": {
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
                    "destPath": {"type": "string"},
                },
            },
        },
        "uris": {"type": "array", "maxItems": 64, "items": {"type": "string", "minLength": 1}},
        "version": {"type": "string"},
        "versionInfo": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "lastScalingAt": {"type": "string"},
                "lastConfigChangeAt": {"type": "string"},
            },
        },
    },
}

APP_VALIDATOR = Draft202012Validator(APP_SCHEMA)
