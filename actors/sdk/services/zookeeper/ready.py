"""The zookeeper member's readiness check, as light a Python start as can be.

    PYTHONPATH="$PYDCOS_SOURCE" "$PYDCOS_PYTHON" -S -m actors.sdk.services.zookeeper.ready

The agent runs a task's readiness check every ``interval`` for the task's life (0.5 s
here: the deploy and the rolling update wait on it), so three members start six Python
processes a second for as long as the service runs. ``node ready`` costs ~40 ms of CPU
each (site, ``zk``'s logging and typing, subprocess...): about a fifth of a core of a
2-core host, taken from whatever else runs there. This entry point skips ``site``
(``-S``: the project comes from ``PYTHONPATH``) and imports only ``socket`` and the pure
``ensemble`` rules (~10 ms). The rule is ``ensemble.ready``, the same as ``node ready``.
"""

from __future__ import annotations

import os
import socket
import sys

from actors.sdk.services.zookeeper.ensemble import EnsembleError, member_from_env, ready


def four_letter(host: str, port: int, word: str, timeout: float = 1.0) -> str:
    """A four-letter word's reply ("" when the member does not answer). ``zk``'s
    ``four_letter_word`` without importing the ``zk`` package (logging, typing)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode("ascii"))
            chunks = []
            while data := s.recv(65536):
                chunks.append(data)
    except OSError:
        return ""
    return b"".join(chunks).decode("utf-8", "replace")


def main() -> int:
    try:
        me = member_from_env(os.environ)
    except EnsembleError as exc:
        print(f"zookeeper ready: {exc}", file=sys.stderr)
        return 1
    local = "127.0.0.1" if me.host == "0.0.0.0" else me.host
    ok, why = ready(
        me, four_letter(local, me.client_port, "srvr"), four_letter(me.host, me.client_port, "conf")
    )
    print(f"zookeeper ready: {why}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
