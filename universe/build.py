"""Regenerate universe/repo.json from the package tree (as Universe's gen_universe.py).

.venv/bin/python universe/build.py          # writes universe/repo.json
.venv/bin/python universe/build.py --check  # exit 1 if repo.json is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from actors.packages import build_repository

HERE = Path(__file__).resolve().parent


def render() -> str:
    return json.dumps(build_repository(HERE), indent=2) + "\n"


def main() -> int:
    text = render()
    target = HERE / "repo.json"
    if "--check" in sys.argv[1:]:
        if not target.is_file() or target.read_text() != text:
            print(f"{target} is stale: run .venv/bin/python universe/build.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
