"""Shared by the examples: the leader's HTTP URL from ZooKeeper, and JSON over HTTP."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any


def zk_url(arg: str | None) -> str:
    """zk://... from the argument, $PYDCOS_ZK, or the local cluster's state dir."""
    if arg:
        return arg if arg.startswith("zk://") else "zk://" + arg
    if os.environ.get("PYDCOS_ZK"):
        return "zk://" + os.environ["PYDCOS_ZK"].removeprefix("zk://")
    from console import default_state_dir, load_cluster

    rec = load_cluster(default_state_dir())
    if rec is None:
        raise SystemExit("no cluster: pass zk://HOST:PORT/pydcos or run 'pydcos cluster up'")
    return "zk://" + rec.zk


def leader_url(zk: str) -> str:
    from zk import close_quietly, connect, read_leader

    hosts, _, chroot = zk.removeprefix("zk://").partition("/")
    client = connect(hosts, chroot="/" + (chroot or "pydcos"))
    try:
        leader = read_leader(client)
    finally:
        close_quietly(client)
    if leader is None:
        raise SystemExit("no leading master (an election is in progress?)")
    return str(leader.http_url).rstrip("/")


def call(method: str, url: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
    return json.loads(raw) if raw else None
