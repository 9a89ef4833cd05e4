"""The agent serves its sandboxes and its own log through its actor (issue 21).

Any master's gateway asks the agent that holds a sandbox (``BrowseFiles``,
``ReadFile``) or follows a file (``FollowFile``, a long poll answered by a ``FileChunk``
told to the asking master's logs actor), so logs are readable wherever the master runs.
The work is ``actors.logs.FileServer``'s: paths confined to the task's sandbox, reads
bounded, followers held in a bounded table; this module only wires it to the agent: its
sandboxes directory, which tasks still write (running here), and how to tell a reply.

Logs of finished tasks stay readable until sandbox garbage collection removes the
sandbox (``_gc``); the agent's own log is the ``agent`` component, when the process was
told where its output goes (``pydcos agent --log-file``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from actors import protocol as p
from actors.task_states import is_terminal

if TYPE_CHECKING:
    from actors.logs import FileServer


class _Task(Protocol):
    @property
    def state(self) -> str: ...


class AgentActor(Protocol):
    """What this module uses of the agent actor (a Protocol: the actor imports us)."""

    work_dir: str | None
    _resolve: Callable[[str], Any] | None
    __dict__: dict[str, Any]

    @property
    def tasks(self) -> Mapping[str, _Task]: ...

    @property
    def node(self) -> Any: ...

    @property
    def clock(self) -> Any: ...


REQUESTS: tuple[type, ...] = (p.BrowseFiles, p.ReadFile, p.FollowFile)
"""The messages the agent actor hands to ``handle``."""


def _live(agent: AgentActor, task_id: str) -> bool:
    t = agent.tasks.get(task_id)
    return t is not None and not is_terminal(t.state)


def server(agent: AgentActor) -> FileServer:
    """The agent's file server, made on first use (one per agent actor instance)."""
    existing: FileServer | None = agent.__dict__.get("_file_server")
    if existing is not None:
        return existing
    from actors.logs import FileServer, component_logs

    refs: dict[str, Any] = {}
    resolve = agent._resolve or agent.node.ref

    def send(address: str, chunk: p.FileChunk) -> None:
        ref = refs.get(address)
        if ref is None:
            if len(refs) > 256:
                refs.clear()
            ref = refs[address] = resolve(address)
        ref.tell(chunk)

    root = Path(agent.work_dir, "sandboxes") if agent.work_dir else None
    made = FileServer(
        root,
        components=lambda: {k: v for k, v in component_logs().items() if k == "agent"},
        live=lambda task_id: _live(agent, task_id),
        send=send,
        wall=agent.clock.wall,
    )
    agent.__dict__["_file_server"] = made
    return made


def handle(agent: AgentActor, message: Any) -> Any:
    """Answer a ``BrowseFiles``/``ReadFile`` ask; take a ``FollowFile`` tell."""
    files = server(agent)
    if isinstance(message, p.BrowseFiles):
        return files.browse(message)
    if isinstance(message, p.ReadFile):
        return files.read(message)
    files.follow(message)
    return None
