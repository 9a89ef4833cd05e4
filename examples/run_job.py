"""Create a Metronome job (with its cron schedules), run it once now, print its history.

python examples/run_job.py [zk://HOST:PORT/pydcos] --file examples/jobs/tick.json
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zk", nargs="?")
    ap.add_argument("--file", default="examples/jobs/tick.json")
    ap.add_argument("--no-run", action="store_true", help="only create it (cron runs it)")
    args = ap.parse_args()
    base = leader_url(zk_url(args.zk)) + "/metronome/v1"
    job = json.loads(Path(args.file).read_text())
    schedules = job.pop("schedules", [])
    known = {j["id"] for j in call("GET", f"{base}/jobs")}
    if job["id"] not in known:
        call("POST", f"{base}/jobs", job)
        for s in schedules:
            call("POST", f"{base}/jobs/{job['id']}/schedules", s)
        print(f"created job {job['id']} with {len(schedules)} schedule(s)")
    if args.no_run:
        return 0
    run = call("POST", f"{base}/jobs/{job['id']}/runs", {})
    print(f"started run {run['id']}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        doc = call("GET", f"{base}/jobs/{job['id']}?embed=history")
        runs = doc["history"]["successfulFinishedRuns"] + doc["history"]["failedFinishedRuns"]
        if any(r["id"] == run["id"] for r in runs):
            ok = any(r["id"] == run["id"] for r in doc["history"]["successfulFinishedRuns"])
            print(f"run {run['id']}: {'SUCCESS' if ok else 'FAILED'}")
            return 0 if ok else 1
        time.sleep(0.5)
    print(f"run {run['id']} did not finish within 60 s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
