"""An echo endpoint for transport tests, run in its own OS process or in-process.

Ask bodies are ``{"op": ..., "v": ...}``:
  echo -> reply v;  len -> reply len(v);  count -> reply tells counted so far;
  fail -> error reply ValueError("boom");  raise -> on_envelope raises RuntimeError.
Tells: ``{"op": "echo", "v": ...}`` are told back to the sender (same body);
``{"op": "count"}`` are counted. Target "nobody" raises UnknownTarget.

As a process: ``python -m tests.transport._peer MODE KEYDIR PORT [MAXSIZE]`` prints its
address on stdout and serves until stdin closes or it is killed.
"""

from __future__ import annotations

import sys
from typing import Any

from tests.transport import _messages  # noqa: F401  (registers the test types)
from transport import Envelope, Kind, Security, UnknownTarget, ZmqTransport


class Echo:
    def __init__(self) -> None:
        self.transport: Any = None
        self.count = 0

    def __call__(self, env: Envelope) -> None:
        t = self.transport
        if env.target == "nobody":
            raise UnknownTarget(f"no actor named {env.target!r}")
        body = env.body
        op = body.get("op") if isinstance(body, dict) else None
        if env.kind is Kind.TELL:
            if op == "count":
                self.count += 1
            elif op == "echo":
                t.send(
                    env.sender_node,
                    Envelope(
                        sender_node=t.address,
                        sender_actor=env.target,
                        target=env.sender_actor or "",
                        kind=Kind.TELL,
                        body=body,
                    ),
                )
            return
        if env.kind is not Kind.ASK:
            return
        if op == "echo":
            t.reply(env, body["v"])
        elif op == "len":
            t.reply(env, len(body["v"]))
        elif op == "count":
            t.reply(env, self.count)
        elif op == "fail":
            t.reply_error(env, ValueError("boom"))
        elif op == "raise":
            raise RuntimeError("handler exploded")
        else:
            t.reply(env, body)


def security_for(mode: str, keydir: str) -> Security:
    if mode == "plain":
        return Security.plain()
    return Security.curve(f"{keydir}/cluster.key_secret", f"{keydir}/authorized_keys")


def main(argv: list[str]) -> None:
    mode, keydir, port = argv[0], argv[1], int(argv[2])
    max_size = int(argv[3]) if len(argv) > 3 else 1 << 20
    echo = Echo()
    t = ZmqTransport(
        f"tcp://127.0.0.1:{port}",
        security=security_for(mode, keydir),
        on_envelope=echo,
        max_message_size=max_size,
        heartbeat_interval=0.1,
        heartbeat_timeout=0.6,
    )
    echo.transport = t
    t.start()
    print(t.address, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    t.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
