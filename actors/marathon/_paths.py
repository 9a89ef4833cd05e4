"""Marathon path ids: `/prod/web/frontend`.

Marathon ids are paths in a tree of groups. Clients may send relative ids (`web`,
`../db`) that are resolved against the enclosing group, so every id is normalised once
at the edge and the rest of the package only ever sees absolute, canonical ids.
"""

from __future__ import annotations

import re

from ._errors import InvalidPath

ROOT = "/"

# One segment: dot-separated labels of lowercase letters, digits and inner hyphens,
# the rule Marathon's PathId validation applies (a label may not start or end with "-").
_LABEL = r"(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])"
SEGMENT_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


def normalize_path(raw: str, base: str = ROOT) -> str:
    """Resolve `raw` against group `base` and return the canonical absolute id.

    `.` and `..` are resolved, repeated and trailing slashes dropped; `..` above the
    root and segments breaking Marathon's naming rule raise `InvalidPath`.
    """
    if not isinstance(raw, str) or raw.strip() == "":
        raise InvalidPath(f"path id must be a non-empty string, got {raw!r}")
    joined = raw if raw.startswith("/") else f"{base.rstrip('/')}/{raw}"
    parts: list[str] = []
    for segment in joined.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                raise InvalidPath(f"path {raw!r} goes above the root group")
            parts.pop()
            continue
        if not SEGMENT_RE.match(segment):
            raise InvalidPath(
                f"path segment {segment!r} of {raw!r} is invalid: use lowercase letters, "
                "digits, hyphens and dots; a name may not begin or end with a hyphen"
            )
        parts.append(segment)
    return "/" + "/".join(parts)


def parent_of(path: str) -> str:
    """The enclosing group of `path` (the root's parent is the root)."""
    head, _, _ = path.rstrip("/").rpartition("/")
    return head or ROOT


def is_ancestor(ancestor: str, path: str) -> bool:
    """True if `path` lies strictly inside group `ancestor`."""
    if ancestor == ROOT:
        return path != ROOT
    return path.startswith(ancestor.rstrip("/") + "/")
