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


def auth_headers(zk: str) -> dict[str, str]:
    """``Authorization: token=...`` as DC/OS clients send it: ``$PYDCOS_TOKEN``, else the
    token ``pydcos auth login`` (or ``cluster up``) stored for this cluster."""
    from console import load_token

    token = load_token(zk.removeprefix("zk://"))
    return {"Authorization": f"token={token}"} if token else {}


def call(method: str, url: str, body: Any = None, zk: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    if zk is None:
        try:
            zk = zk_url(None)
        except SystemExit:  # no local cluster: $PYDCOS_TOKEN alone, if set
            zk = ""
    headers = {"Content-Type": "application/json", **auth_headers(zk)}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
    return json.loads(raw) if raw else None
