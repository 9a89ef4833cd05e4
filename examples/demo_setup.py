"""`make demo`'s middle step: a web service and a cron job on the local cluster.

busybox httpd in Docker when the agents have the Docker containerizer, else a native
busybox httpd (native tasks have a private /tmp, so it serves /bin/busybox's directory);
the ``tick`` job runs every minute.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console._state import default_state_dir, load  # noqa: E402


def main() -> int:
    rec = load(default_state_dir())
    if rec is None:
        raise SystemExit("no local cluster: run 'pydcos cluster up' first")
    docker = "docker" in rec.containerizers.split(",")
    app = ROOT / "examples" / "apps" / ("web-docker.json" if docker else "web.json")
    print(f"deploying {app.name} ({'Docker' if docker else 'native'} busybox httpd)")
    py = sys.executable
    rc = subprocess.call(
        [py, str(ROOT / "examples" / "deploy_app.py"), "--file", str(app), "--no-wait"]
    )
    rc |= subprocess.call(
        [
            py,
            str(ROOT / "examples" / "run_job.py"),
            "--file",
            str(ROOT / "examples" / "jobs" / "tick.json"),
            "--no-run",
        ]
    )
    return rc


if __name__ == "__main__":
    sys.exit(main())
