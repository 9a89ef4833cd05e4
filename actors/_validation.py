"""What Marathon's and Metronome's validation share: the HTTP 422 body both APIs use.

Both answer an invalid object with ``{"message": "Object is not valid", "details":
[{"path": "/instances", "errors": ["..."]}]}``; errors for the same path are merged so a
client sees one entry per field. Each package subclasses ``ValidationProblems`` under its
own root error, so its HTTP layer maps its whole family in one place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Self


class ValidationProblems(Exception):
    """An object is not valid; ``body`` is the HTTP 422 payload clients parse."""

    status = 422

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        merged: dict[str, list[str]] = {}
        for path, message in problems:
            errors = merged.setdefault(path or "/", [])
            if message not in errors:
                errors.append(message)
        self.details: list[dict[str, Any]] = [
            {"path": path, "errors": errors} for path, errors in merged.items()
        ]
        self.body: dict[str, Any] = {"message": "Object is not valid", "details": self.details}
        summary = "; ".join(f"{d['path']}: {', '.join(d['errors'])}" for d in self.details)
        super().__init__(f"Object is not valid: {summary}")

    @classmethod
    def single(cls, path: str, message: str) -> Self:
        """One problem at one path (the common case for non-schema checks)."""
        return cls([(path, message)])

    @property
    def paths(self) -> list[str]:
        """The JSON pointers of the invalid fields, in report order."""
        return [d["path"] for d in self.details]


def empty_map() -> Mapping[str, str]:
    """An immutable empty mapping (a dataclass field default)."""
    return MappingProxyType({})


def frozen_map(raw: Mapping[str, Any] | None) -> Mapping[str, str]:
    """An immutable copy of ``raw`` (labels, env) for a frozen record."""
    return MappingProxyType(dict(raw or {}))


# ------------------------------------------------------------------------------ limits
#
# One set of numbers for Marathon, Metronome and the agent, so that whatever one of them
# accepts the others can run: an app or job that passes validation can always launch
# (minimums), and no single document can flood the cluster or the state store (maximums).
# actors/marathon/README.md and actors/metronome/README.md list them ("Limits").

MIN_CPUS = 0.01
"""Mesos' MIN_CPUS: the smallest cpu share a task may ask for."""
MIN_MEM_MB = 32.0
"""Mesos' MIN_MEMORY: a task asking for less is refused by the agent (TASK_ERROR)."""
MAX_CPUS = 1024.0
"""Above any single machine this project runs on: such a task could never be placed."""
MAX_MEM_MB = 4 * 1024 * 1024.0
"""4 TiB of memory per task."""
MAX_DISK_MB = 64 * 1024 * 1024.0
"""64 TiB of disk per task."""
MAX_GPUS = 64
MAX_INSTANCES = 10_000
"""Instances of one app: enough for any real service, far from the 10^12 that once filled
the launch queue."""
MAX_ID_LENGTH = 255
"""Characters of a whole app, group or job id; task ids, znode names and log lines all
embed it."""
MAX_PORTS = 100
"""portDefinitions / ports / portMappings of one app."""
MAX_LABELS = 256
MAX_LABEL_KEY_LENGTH = 255
MAX_LABEL_VALUE_LENGTH = 8192
MAX_ENV = 1000
MAX_ENV_NAME_LENGTH = 255
MAX_ENV_VALUE_LENGTH = 32_768
MAX_CMD_LENGTH = 32_768
"""Characters of cmd and of each arg: even 4-byte UTF-8 stays under Linux's
MAX_ARG_STRLEN (128 KiB per argument of execve)."""
MAX_ARGS = 1000
MAX_HEALTH_CHECKS = 16
MAX_GROUP_APPS = 1000
"""Apps in one group document, counted through every sub-group."""
MAX_SECONDS = 31_536_000
"""Any duration field (grace periods, intervals, delays): at most one year."""
MAX_JSON_DEPTH = 64
"""Nesting levels of a JSON body: an app is about 6 deep, a group adds 2 per level."""
MAX_SAFE_INTEGER = 2**53
"""The largest integer every JSON reader (JavaScript, Jackson doubles) reads exactly."""

# JSON-schema pieces Marathon's app and Metronome's job schemas share (same bounds).
LABELS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "maxProperties": MAX_LABELS,
    "propertyNames": {"minLength": 1, "maxLength": MAX_LABEL_KEY_LENGTH},
    "additionalProperties": {"type": "string", "maxLength": MAX_LABEL_VALUE_LENGTH},
}
ENV_SCHEMA: dict[str, Any] = {
    "type": "object",
    "maxProperties": MAX_ENV,
    # A name with "=" or NUL cannot be put in a process environment.
    "propertyNames": {"pattern": r"^[^=\x00]+$", "maxLength": MAX_ENV_NAME_LENGTH},
    "additionalProperties": {"type": "string", "maxLength": MAX_ENV_VALUE_LENGTH},
}
SECONDS_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_SECONDS}


def reason_of(exc: BaseException) -> str:
    """One line saying why a record or an operation failed: a validation error's
    fields (``/cpus: ...``), else the exception; at most 500 characters."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and body.get("details"):
        parts = [f"{d.get('path')}: {'; '.join(d.get('errors', []))}" for d in body["details"]]
        return "; ".join(parts)[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


# ------------------------------------------------------------------------ JSON bodies


class BadJson(ValueError):
    """A request body is not acceptable JSON (HTTP 400); ``path`` points at the culprit."""

    def __init__(self, reason: str, path: str = "/") -> None:
        super().__init__(reason if path == "/" else f"{path}: {reason}")
        self.reason = reason
        self.path = path


class _NonFinite:
    """What a NaN/Infinity literal or an overflowing number parses to, so the walk after
    parsing can name the field it sits in (the parser's hooks do not know it)."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def parse_json_body(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse an HTTP body: strict JSON with finite numbers, nested at most ``max_depth``.

    Python's json reads ``NaN``, ``Infinity`` and ``-Infinity`` (and turns ``1e309`` into
    inf) by default; a NaN cpus once crashed every master that loaded it, so all of these
    are refused, naming the field. Nesting is limited before anything recurses over the
    document (a 100,000-deep body raised RecursionError, a 500). ``-0.0`` reads as 0.0.
    Raises `BadJson`; every JSON body of the gateway's APIs goes through here.
    """
    flagged = [False]

    def constant(literal: str) -> _NonFinite:
        flagged[0] = True
        return _NonFinite(literal)

    def number(literal: str) -> float | _NonFinite:
        value = float(literal)
        if math.isfinite(value):
            return value + 0.0  # -0.0 -> 0.0
        return constant(literal)

    try:
        doc = json.loads(raw, parse_constant=constant, parse_float=number)
    except RecursionError:
        raise BadJson(f"JSON is nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJson(f"malformed JSON: {exc}") from None
    if isinstance(raw, str):
        brackets = raw.count("[") + raw.count("{")
    else:
        brackets = raw.count(b"[") + raw.count(b"{")
    if flagged[0] or brackets > max_depth:
        problems = json_problems(doc, max_depth=max_depth)
        if problems:
            path, reason = problems[0]
            raise BadJson(reason, path)
    return doc


def json_problems(doc: Any, *, max_depth: int = MAX_JSON_DEPTH) -> list[tuple[str, str]]:
    """Numbers no field may hold and nesting no document may have, as (pointer, message).

    Non-finite floats (NaN, ±inf, and what `parse_json_body` marks), integers beyond
    ±2**53, and containers deeper than ``max_depth``. Iterative, so it never recurses
    itself; a JSON schema's ``minimum``/``maximum`` let NaN through (every comparison
    with NaN is false), which is why models run this before their schema.
    """
    problems: list[tuple[str, str]] = []
    stack: list[tuple[str, Any, int]] = [("", doc, 1)]
    while stack:
        pointer, value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                problems.append((pointer or "/", f"JSON is nested deeper than {max_depth} levels"))
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value)
            children = [(f"{pointer}/{_escape(str(k))}", v, depth + 1) for k, v in items]
            stack.extend(reversed(children))
        elif isinstance(value, _NonFinite):
            problems.append(
                (pointer or "/", f"{value.literal} is not allowed: numbers must be finite")
            )
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append((pointer or "/", f"{value} is not allowed: numbers must be finite"))
        elif (
            isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER
        ):
            problems.append(
                (pointer or "/", f"{_short_int(value)} is out of range (at most ±2^53)")
            )
    return problems


def _escape(key: str) -> str:
    """A JSON-pointer token (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def _short_int(value: int) -> str:
    if abs(value) < 10**40:
        return str(value)
    return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"


def schema_message(error: Any) -> str:
    """A readable message for one ``jsonschema`` error, never quoting a huge value.

    jsonschema's own messages repeat the whole offending instance (a 5,000-character id,
    a 1 MB label), so size and range errors are rewritten to say the size and the limit.
    An error inside ``propertyNames`` is about a key, and says so.
    """
    kind = error.validator
    limit = error.validator_value
    value = error.instance
    about_key = "propertyNames" in error.relative_schema_path
    subject = f"the name {_clip(value)}" if about_key else ""
    if kind == "maxLength":
        text = f"is {len(value)} characters long: at most {limit} are allowed"
    elif kind == "minLength":
        text = "must not be empty" if limit == 1 else f"must be at least {limit} characters"
    elif kind == "maxItems":
        text = f"has {len(value)} items: at most {limit} are allowed"
    elif kind == "maxProperties":
        text = f"has {len(value)} entries: at most {limit} are allowed"
    elif kind == "maximum":
        text = f"{_clip(value)} is greater than the maximum of {_clip(limit)}"
    elif kind == "minimum":
        text = f"{_clip(value)} is less than the minimum of {_clip(limit)}"
    elif kind == "pattern":
        text = f"{_clip(value)} does not match {limit!r}"
        subject = subject and "the name"
    else:
        text = str(error.message)
        if len(text) > 300:
            text = text[:300] + "..."
    return f"{subject} {text}" if subject else text


def _clip(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return _short_int(value)
    if isinstance(value, float):
        return f"{value:g}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
