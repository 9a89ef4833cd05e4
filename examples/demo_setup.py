"""`make demo`'s middle step: a web service and a cron job on the local cluster.

busybox httpd in Docker when the agents have the Docker containerizer, else a native
busybox httpd (native tasks have a private /tmp, so it serves /bin/busybox's directory);
the job runs every minute. They are the example files under other ids (``/demo-web``,
``demo-tick``), so the README's tour, which adds ``/web`` and ``tick``, works after
``make demo`` too. It also installs the bundled Universe's ``hello-world`` package as
``/demo-hello`` (``pydcos package install``), so ``pydcos package list`` has one entry.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console import default_state_dir, load_cluster  # noqa: E402

APP_ID = "/demo-web"
JOB_ID = "demo-tick"


def renamed(src: Path, new_id: str, into: Path) -> Path:
    """A copy of the example ``src`` with id ``new_id``, in ``into``; a named VIP label
    (``VIP_0: "/web:80"``) is renamed too, so the demo's app and the README tour's do not
    share one VIP."""
    doc = json.loads(src.read_text())
    doc["id"] = new_id
    for port in doc.get("portDefinitions", []):
        labels = port.get("labels", {})
        for key, value in labels.items():
            if key.startswith("VIP_") and value.startswith("/"):
                labels[key] = new_id + value[value.rindex(":") :]
    out = into / src.name
    out.write_text(json.dumps(doc, indent=2))
    return out


def main() -> int:
    rec = load_cluster(default_state_dir())
    if rec is None:
        raise SystemExit("no local cluster: run 'pydcos cluster up' first")
    docker = "docker" in rec.containerizers.split(",")
    app = ROOT / "examples" / "apps" / ("web-docker.json" if docker else "web.json")
    kind = "Docker" if docker else "native"
    print(f"deploying {app.name} as {APP_ID} ({kind} busybox httpd), job {JOB_ID}")
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="pydcos-demo-") as tmp:
        app = renamed(app, APP_ID, Path(tmp))
        job = renamed(ROOT / "examples" / "jobs" / "tick.json", JOB_ID, Path(tmp))
        rc = subprocess.call(
            [py, str(ROOT / "examples" / "deploy_app.py"), "--file", str(app), "--no-wait"]
        )
        rc |= subprocess.call(
            [py, str(ROOT / "examples" / "run_job.py"), "--file", str(job), "--no-run"]
        )
        options = Path(tmp) / "hello.json"
        options.write_text(
            json.dumps(
                {"service": {"name": "demo-hello"}, "hello": {"message": "Hello from make demo"}}
            )
        )
        rc |= subprocess.call(
            [py, "-m", "console.cli", "package", "install", "hello-world", "--yes",
             "--options", str(options)],
            cwd=ROOT,
        )  # fmt: skip
    return rc


if __name__ == "__main__":
    sys.exit(main())
