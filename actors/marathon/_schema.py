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

CONSTRAINT_OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS")
HEALTH_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP")

_PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_NON_NEG_INT = {"type": "integer", "minimum": 0}
_NON_NEG_NUM = {"type": "number", "minimum": 0}
_STRING_LIST = {"type": "array", "items": {"type": "string"}}
_PROTOCOL = {"type": "string", "enum": ["tcp", "udp", "udp,tcp", "tcp,udp"]}

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

APP_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["id"],
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "cmd": {"type": "string", "minLength": 1},
        "args": _STRING_LIST,
        "user": {"type": "string"},
        "executor": {"type": "string"},
        "cpus": _NON_NEG_NUM,
        "mem": _NON_NEG_NUM,
        "disk": _NON_NEG_NUM,
        "gpus": _NON_NEG_INT,
        "instances": _NON_NEG_INT,
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "labels": _LABELS,
        "acceptedResourceRoles": _STRING_LIST,
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
                        "portMappings": {"type": "array", "items": _PORT_MAPPING},
                    },
                },
                "portMappings": {"type": "array", "items": _PORT_MAPPING},
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
                        },
                    },
                },
            },
        },
        "ports": {"type": "array", "items": _PORT},
        "portDefinitions": {
            "type": "array",
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
        "constraints": {"type": "array", "items": _CONSTRAINT},
        "healthChecks": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "protocol": {"type": "string", "enum": list(HEALTH_PROTOCOLS)},
                    "path": {"type": "string"},
                    "portIndex": _NON_NEG_INT,
                    "port": _PORT,
                    "command": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["value"],
                        "properties": {"value": {"type": "string", "minLength": 1}},
                    },
                    "gracePeriodSeconds": _NON_NEG_INT,
                    "intervalSeconds": {"type": "integer", "minimum": 1},
                    "timeoutSeconds": {"type": "integer", "minimum": 1},
                    "maxConsecutiveFailures": _NON_NEG_INT,
                    "delaySeconds": _NON_NEG_INT,
                    "ignoreHttp1xx": {"type": "boolean"},
                },
            },
        },
        "upgradeStrategy": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "minimumHealthCapacity": {"type": "number", "minimum": 0, "maximum": 1},
                "maximumOverCapacity": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
        "backoffSeconds": _NON_NEG_NUM,
        "backoffFactor": {"type": "number", "minimum": 1},
        "maxLaunchDelaySeconds": _NON_NEG_NUM,
        "killSelection": {"type": "string", "enum": ["YOUNGEST_FIRST", "OLDEST_FIRST"]},
        "taskKillGracePeriodSeconds": {"type": ["integer", "null"], "minimum": 0},
        "unreachableStrategy": {
            "oneOf": [
                {"type": "string", "const": "disabled"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "inactiveAfterSeconds": _NON_NEG_INT,
                        "expungeAfterSeconds": _NON_NEG_INT,
                    },
                },
            ]
        },
        "dependencies": _STRING_LIST,
        "fetch": {
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
                    "destPath": {"type": "string"},
                },
            },
        },
        "uris": {"type": "array", "items": {"type": "string", "minLength": 1}},
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
