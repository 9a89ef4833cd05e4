"""Send a message to a named actor and print the reply: the leading master's metrics.

    python examples/ask_actor.py [zk://HOST:PORT/pydcos] [--insecure-dev] [--keys DIR]

The same as ``pydcos actor ask master '{"@type": "GetState", "what": "metrics"}'``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _leader import zk_url

from actors.protocol import GetState
from runtime import connect


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zk", nargs="?")
    ap.add_argument("--keys", default=None)
    ap.add_argument("--insecure-dev", action="store_true")
    ap.add_argument("--what", default="metrics", help="state, slaves, frameworks, tasks, metrics")
    args = ap.parse_args()
    keys = args.keys
    if keys is None and not args.insecure_dev:
        from console import default_state_dir, load_cluster

        rec = load_cluster(default_state_dir())
        if rec is not None:
            keys, args.insecure_dev = rec.keys or None, rec.insecure_dev
    with connect(zk_url(args.zk), keys=keys, insecure_dev=args.insecure_dev) as cluster:
        print(f"leader: {cluster.wait_leader().address}")
        reply = cluster.actor("master").ask(GetState(args.what), timeout=5.0)
        print(json.dumps(reply, indent=2)[:2000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
