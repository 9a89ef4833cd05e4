"""Deploy an app through Marathon's REST API, scale it, and wait for each deployment.

    python examples/deploy_app.py [zk://HOST:PORT/pydcos] --file examples/apps/web.json --scale 3

The same requests the dcos CLI sends: POST /v2/apps, PUT /v2/apps/{id}?partialUpdate=true,
GET /v2/deployments until the deployment is gone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _leader import call, leader_url, zk_url


def wait_deployment(base: str, dep_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while any(d["id"] == dep_id for d in call("GET", f"{base}/marathon/v2/deployments")):
        if time.monotonic() > deadline:
            raise SystemExit(f"deployment {dep_id} still running after {timeout:g} s")
        time.sleep(0.5)
    print(f"deployment {dep_id} finished")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zk", nargs="?")
    ap.add_argument("--file", default="examples/apps/web.json")
    ap.add_argument("--scale", type=int, default=None)
    ap.add_argument("--no-wait", action="store_true")
    args = ap.parse_args()
    base = leader_url(zk_url(args.zk))
    app = json.loads(Path(args.file).read_text())
    existing = {a["id"] for a in call("GET", f"{base}/marathon/v2/apps")["apps"]}
    if app["id"] in existing:
        print(f"app {app['id']} already exists")
    else:
        doc = call("POST", f"{base}/marathon/v2/apps", app)
        print(f"created app {doc['id']}")
        if not args.no_wait:
            wait_deployment(base, doc["deployments"][0]["id"])
    if args.scale is not None:
        doc = call(
            "PUT",
            f"{base}/marathon/v2/apps{app['id']}?partialUpdate=true&force=true",
            {"instances": args.scale},
        )
        print(f"scaling {app['id']} to {args.scale}")
        if not args.no_wait:
            wait_deployment(base, doc["deploymentId"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
