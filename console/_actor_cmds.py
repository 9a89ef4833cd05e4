"""``pydcos actor ...`` for users' cluster actors (issue 27), beside the system actors.

```
 pydcos actor list                      system actors, then user actors (name, class, node,
                                        state, restarts, uptime, cpus/mem)
 pydcos actor show NAME|ID              one user actor (JSON with --json)
 pydcos actor kill NAME|ID              stop it for good (no restart, name freed)
 pydcos actor ask NAME METHOD [ARGS]    call a user actor's method: ARGS a JSON list (or one
                                        JSON value); the reply printed as JSON
 pydcos actor ask NAME JSON             (unchanged) ask a system actor a JSON message
```

Everything goes through the leader's ``/actors/v1`` routes (the framework ``actors``);
a user actor's method result is shown when it is plain data.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from console._client import ApiError, ClientError, ClusterClient
from console._output import Out


class ActorVerbError(ClientError):
    """A user-actor verb failed; the message is the one line the CLI prints."""


def _api(c: ClusterClient, method: str, path: str, body: Any = None, what: str = "") -> Any:
    try:
        return c.request(method, f"/actors/v1/actors{path}", body, what=what)
    except ApiError as exc:
        message = exc.body.get("message") if isinstance(exc.body, dict) else exc.body
        raise ActorVerbError(f"{what or path}: {message or exc}") from None


def _ref(ref: str) -> str:
    if not ref or ref.count("/") > 1 or any(ch.isspace() for ch in ref):
        raise ActorVerbError(f"actor: {ref!r} is not an id, NAME or NAMESPACE/NAME")
    return "/" + "/".join(quote(part, safe="") for part in ref.split("/"))


def uptime_text(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _actors_doc(c: ClusterClient, everything: bool = False) -> dict[str, Any]:
    try:
        doc = c.request("GET", "/actors/v1/actors", query={"all": str(everything).lower()})
    except ApiError as exc:
        if exc.status in (404, 503):
            return {}
        raise
    return doc if isinstance(doc, dict) else {}


def user_actors(c: ClusterClient, everything: bool = False) -> list[dict[str, Any]]:
    """The framework's actors (live ones; ``everything``: the finished ones too), or []
    when the cluster does not run the ``actors`` service."""
    return list(_actors_doc(c, everything).get("actors", []))


WARM_COLUMNS = ("TASK", "NODE", "STATE", "CPUS/MEM")


def user_rows(actors: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            a["name"] or "-",
            a["id"],
            a["class"],
            a["node"] or "-",
            a["state"],
            a["restarts"],
            uptime_text(a.get("uptime")),
            _cpus_mem(a),
        )
        for a in actors
    ]


def _cpus_mem(a: dict[str, Any]) -> str:
    """Asked cpus/mem, and what its task holds when more (a warm worker's size)."""
    asked = f"{a['cpus']:g}/{a['mem']:g}"
    held = (a.get("task_cpus", a["cpus"]), a.get("task_mem", a["mem"]))
    if held != (a["cpus"], a["mem"]):
        return f"{asked} (warm {held[0]:g}/{held[1]:g})"
    return asked


USER_COLUMNS = ("NAME", "ID", "CLASS", "NODE", "STATE", "RESTARTS", "UPTIME", "CPUS/MEM")


def actor_list(c: ClusterClient, out: Out, system_list: Any) -> int:
    """The system actors (``system_list``: the existing verb), then the user actors and
    the framework's warm workers (idle tasks launched ahead: they hold their resources)."""
    doc = _actors_doc(c)
    actors = list(doc.get("actors", []))
    warm = list(doc.get("warm", []))
    if out.as_json:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            system_list(c, out)
        rows = json.loads(buf.getvalue() or "[]")
        rows += [
            {
                "name": a["name"] or a["id"],
                "address": a["address"],
                "node": a["node"],
                "kind": "user actor",
                "id": a["id"],
                "namespace": a["namespace"],
                "class": a["class"],
                "state": a["state"],
                "restarts": a["restarts"],
                "uptime": a.get("uptime"),
                "cpus": a["cpus"],
                "mem": a["mem"],
            }
            for a in actors
        ]
        rows += [
            {
                "name": w["id"],
                "address": "",
                "node": w["node"],
                "kind": "warm worker",
                "id": w["id"],
                "state": w["state"],
                "cpus": w["cpus"],
                "mem": w["mem"],
            }
            for w in warm
        ]
        out.json(rows)
        return 0
    system_list(c, out)
    out.line("")
    out.table(USER_COLUMNS, user_rows(actors), "User actors")
    if warm:
        out.line("")
        rows_w = [(w["id"], w["node"], w["state"], f"{w['cpus']:g}/{w['mem']:g}") for w in warm]
        out.table(WARM_COLUMNS, rows_w, "Warm workers (idle, held by the actors framework)")
    return 0


def actor_show(c: ClusterClient, out: Out, ref: str) -> int:
    a = _api(c, "GET", _ref(ref), what=f"actor {ref}")
    if out.as_json:
        out.json(a)
        return 0
    fields = [
        ("id", a["id"]),
        ("name", f"{a['namespace']}/{a['name']}" if a["name"] else "-"),
        ("class", a["class"]),
        ("state", a["state"]),
        ("node", f"{a['node'] or '-'} ({a['agent_id'] or '-'})"),
        ("address", a["address"] or "-"),
        ("incarnation", a["incarnation"]),
        ("restarts", f"{a['restarts']} (max {a['max_restarts']}, {a['restart']})"),
        ("lifetime", a["lifetime"] + (f" (owner {a['owner']})" if a["owner"] else "")),
        ("uptime", uptime_text(a.get("uptime"))),
        ("cpus/mem", f"{a['cpus']:g} / {a['mem']:g} MB"),
        ("constraints", json.dumps(a["constraints"]) if a["constraints"] else "-"),
        ("group", a["group"] or "-"),
        ("checkpoint", f"{a['checkpoint_bytes']} bytes" if a["checkpoint_bytes"] else "-"),
        ("last exit", a["last_exit"] or "-"),
    ]
    if a.get("waiting"):
        fields.append(("waiting", "; ".join(f"{h}: {w}" for h, w in a["waiting"].items())))
    for key, value in fields:
        out.line(f"{key:<12} {value}")
    return 0


def actor_kill(c: ClusterClient, out: Out, ref: str) -> int:
    a = _api(c, "DELETE", _ref(ref), what=f"kill {ref}")
    out.result(a, f"actor {a['id']} {a['state'].lower()}")
    return 0


def _call_args(text: str | None) -> list[Any]:
    if text is None:
        return []
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ActorVerbError(f"ARGS {text[:60]!r} is not JSON: {exc}") from None
    return value if isinstance(value, list) else [value]


def actor_call(
    c: ClusterClient, out: Out, ref: str, method: str, args: str | None, timeout: float
) -> int:
    if not method.isidentifier() or method.startswith("_"):
        raise ActorVerbError(f"METHOD: {method!r} is not a public method name")
    body = {"method": method, "args": _call_args(args)}
    try:
        doc = c.request(
            "POST", f"/actors/v1/actors{_ref(ref)}/call", body, query={"timeout": timeout}
        )
    except ApiError as exc:
        message = exc.body.get("message") if isinstance(exc.body, dict) else exc.body
        raise ActorVerbError(f"{ref}.{method}: {message}") from None
    if out.as_json:
        out.json(doc)
    else:
        out.json(doc.get("result"))
    return 0


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def actor_ask(c: ClusterClient, out: Out, a: Any, system_ask: Any) -> int:
    """``actor ask NAME JSON`` (system actor) or ``actor ask NAME METHOD [ARGS]`` (user)."""
    if a.args is None and is_json(a.message):
        return int(system_ask(c, out, a.name, a.message, a.timeout))
    return actor_call(c, out, a.name, a.message, a.args, a.timeout)


def add_commands(sub: Any, groups: dict[str, Any]) -> None:
    """``pydcos actor show|kill`` (the hook in console/_commands.py's area loop)."""
    leaf, act = groups["leaf"], groups.get("actor")
    if act is None:
        return
    x = leaf(
        act,
        "show",
        "one user actor (id, NAME or NAMESPACE/NAME)",
        lambda c, o, a: actor_show(c, o, a.ref),
    )
    x.add_argument("ref", metavar="NAME")
    x = leaf(
        act,
        "kill",
        "stop a user actor for good (no restart)",
        lambda c, o, a: actor_kill(c, o, a.ref),
    )
    x.add_argument("ref", metavar="NAME")
