"""Write a one-package Universe repository (repo.json) for the SDK hello example.

python examples/sdk/hello/build_repo.py /tmp/hello-repo
pydcos package repo add hello-sdk /tmp/hello-repo/repo.json
pydcos package install hello-sdk --yes
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build(out_dir: Path) -> Path:
    pkg = json.loads((HERE / "package.json").read_text())
    pkg["config"] = json.loads((HERE / "config.json").read_text())
    template = (HERE / "marathon.json.mustache").read_text()
    pkg["marathon"] = {"v2AppMustacheTemplate": base64.b64encode(template.encode()).decode()}
    pkg["releaseVersion"] = 0
    out_dir.mkdir(parents=True, exist_ok=True)
    repo = out_dir / "repo.json"
    repo.write_text(json.dumps({"packages": [pkg]}, indent=1))
    return repo


if __name__ == "__main__":
    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else "hello-repo")))
