"""Marathon path ids: `/prod/web/frontend`.

Marathon ids are paths in a tree of groups. Clients may send relative ids (`web`) that are
resolved against the enclosing group, so every id is made absolute once at the edge and
the rest of the package only ever sees absolute, canonical ids.

Unlike Marathon, an id is never *normalised*: `/a/../b`, `/a/./b` and `/a//b` are
refused rather than quietly stored as `/b` or `/a/b`, because a user who sent them meant
something else than what would be stored. Only dependencies, which point at other apps
and groups, may climb with `..` (`"dependencies": ["../db"]` is common in group files).
"""

from __future__ import annotations

import re

from actors._validation import MAX_ID_LENGTH

from ._errors import InvalidPath

ROOT = "/"

# One segment: dot-separated labels of lowercase letters, digits and inner hyphens,
# the rule Marathon's PathIdValidation applies (a label may not start or end with "-").
_LABEL = r"(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])"
SEGMENT_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
"""Use with ``fullmatch`` (``$`` would accept a trailing newline)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalize_path(raw: str, base: str = ROOT, *, climb: bool = False) -> str:
    """Resolve `raw` against group `base` and return the absolute id.

    A trailing slash is dropped (`/web/` is `/web`); anything else that would change the
    id (`.`/`..` segments, empty segments) raises `InvalidPath`, as do segments breaking
    Marathon's naming rule, control characters and ids longer than `MAX_ID_LENGTH`.
    `climb=True` (dependencies only) resolves `.` and `..` instead.
    """
    if not isinstance(raw, str) or raw.strip() == "":
        raise InvalidPath(f"path id must be a non-empty string, got {raw!r:.80}")
    if len(raw) > MAX_ID_LENGTH:
        raise InvalidPath(
            f"path id is {len(raw)} characters long: at most {MAX_ID_LENGTH} are allowed"
        )
    bad = _CONTROL.search(raw)
    if bad is not None:
        raise InvalidPath(f"path {raw!r} contains the control character {bad.group()!r}")
    joined = raw if raw.startswith("/") else f"{base.rstrip('/')}/{raw}"
    segments = joined[1:].split("/")
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash
    parts: list[str] = []
    for segment in segments:
        if segment == "":
            raise InvalidPath(f"path {raw!r} has an empty segment (//)")
        if segment in (".", ".."):
            if not climb:
                raise InvalidPath(
                    f"path {raw!r} has a {segment!r} segment: ids are not normalised, "
                    "give the id itself"
                )
            if segment == "..":
                if not parts:
                    raise InvalidPath(f"path {raw!r} goes above the root group")
                parts.pop()
            continue
        if not SEGMENT_RE.fullmatch(segment):
            raise InvalidPath(
                f"path segment {segment!r} of {raw!r} is invalid: use lowercase letters, "
                "digits, hyphens and dots; a name may not begin or end with a hyphen"
            )
        parts.append(segment)
    result = "/" + "/".join(parts)
    if len(result) > MAX_ID_LENGTH:
        raise InvalidPath(
            f"path id {result[:40]!r}... is {len(result)} characters long: at most "
            f"{MAX_ID_LENGTH} are allowed"
        )
    return result


def parent_of(path: str) -> str:
    """The enclosing group of `path` (the root's parent is the root)."""
    head, _, _ = path.rstrip("/").rpartition("/")
    return head or ROOT


def is_ancestor(ancestor: str, path: str) -> bool:
    """True if `path` lies strictly inside group `ancestor`."""
    if ancestor == ROOT:
        return path != ROOT
    return path.startswith(ancestor.rstrip("/") + "/")
