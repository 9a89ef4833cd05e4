"""Print Marathon's event stream (GET /marathon/v2/events, server-sent events).

    python examples/stream_events.py [zk://HOST:PORT/pydcos] [--type status_update_event]

Follows the leader: when the stream ends (a failover), it finds the new leader in
ZooKeeper and reconnects.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _leader import auth_headers, leader_url, zk_url


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zk", nargs="?")
    ap.add_argument("--type", action="append", default=[], help="eventType to keep")
    args = ap.parse_args()
    zk = zk_url(args.zk)
    query = "".join(f"&event_type={t}" for t in args.type).lstrip("&")
    try:
        while True:
            url = leader_url(zk) + "/marathon/v2/events" + ("?" + query if query else "")
            print(f"-- connected to {url}", flush=True)
            try:
                req = urllib.request.Request(url, headers=auth_headers(zk))
                with urllib.request.urlopen(req, timeout=60) as r:
                    for raw in r:
                        line = raw.decode().rstrip()
                        if line.startswith("data:"):
                            e = json.loads(line[5:])
                            rest = {
                                k: v for k, v in e.items() if k not in ("eventType", "timestamp")
                            }
                            print(
                                f"{e['timestamp']} {e['eventType']} {json.dumps(rest)[:160]}",
                                flush=True,
                            )
            except OSError as exc:
                print(f"-- stream ended ({exc}); reconnecting", flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
