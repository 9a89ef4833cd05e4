"""``python -m actors.sdk.bootstrap``: render a task's config templates into its sandbox.

dcos-commons' ``bootstrap`` does this before a task's command: each template of the
task's ``configs`` is rendered with mustache from the task's own environment (so it sees
``PORT_<NAME>``, ``HOST``, ``MESOS_SANDBOX`` the agent set, and the peers' addresses the
scheduler passed), then written to its ``dest`` (relative to the sandbox). The scheduler
passes the templates in ``SDK_CONFIGS`` (JSON: ``[{"dest", "template": base64}]``).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path


def render_configs(env: dict[str, str], cwd: Path) -> list[Path]:
    import chevron

    raw = env.get("SDK_CONFIGS", "")
    if not raw:
        return []
    written = []
    for item in json.loads(raw):
        dest = cwd / str(item["dest"])
        text = base64.b64decode(item["template"]).decode()
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_text(chevron.render(text, env))
        os.replace(tmp, dest)
        written.append(dest)
    return written


def main() -> int:
    try:
        for path in render_configs(dict(os.environ), Path.cwd()):
            print(f"bootstrap: rendered {path}", flush=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"bootstrap: cannot render the task's configs: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
