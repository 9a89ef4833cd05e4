"""Build a Universe repository file from a Universe source tree, as Universe's
``scripts/gen_universe.py`` does.

```
 <tree>/packages/H/hello-world/0/package.json          {"packagingVersion", "name"...}
                                 config.json            JSON schema with defaults
                                 marathon.json.mustache the app template
                                 resource.json          {"assets": {"uris": {...}}}
                                 metronome.json.mustache (pydcos: a job package)
```

The directory number is the ``releaseVersion``; templates are stored base64, as in
Universe's ``repo-up-to-*.json``. Reads files, nothing else.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from ._errors import RepositoryNotUniverse

_TEMPLATES = {
    "marathon.json.mustache": ("marathon", "v2AppMustacheTemplate"),
    "metronome.json.mustache": ("metronome", "v1JobMustacheTemplate"),
}


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise RepositoryNotUniverse(f"{path}: not JSON: {exc}") from None


def build_repository(tree: Path) -> dict[str, Any]:
    """``{"packages": [...]}`` for every ``packages/<L>/<name>/<release>/`` under ``tree``."""
    entries: list[dict[str, Any]] = []
    for release_dir in sorted((tree / "packages").glob("*/*/*")):
        if not release_dir.is_dir() or not release_dir.name.isdigit():
            continue
        package_json = release_dir / "package.json"
        if not package_json.is_file():
            raise RepositoryNotUniverse(f"{release_dir}: no package.json")
        entry = _json(package_json)
        if not isinstance(entry, dict):
            raise RepositoryNotUniverse(f"{package_json}: not a JSON object")
        entry["releaseVersion"] = int(release_dir.name)
        for name, key in (("config.json", "config"), ("resource.json", "resource")):
            if (release_dir / name).is_file():
                entry[key] = _json(release_dir / name)
        for name, (key, field) in _TEMPLATES.items():
            if (release_dir / name).is_file():
                raw = (release_dir / name).read_bytes()
                entry[key] = {field: base64.b64encode(raw).decode()}
        entries.append(entry)
    entries.sort(key=lambda e: (str(e.get("name")), int(e["releaseVersion"])))
    return {"packages": entries}
