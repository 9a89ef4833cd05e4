"""HAProxy's side of the VIP table, pure: slot assignment, config text, runtime commands.

One frontend per VIP (TCP mode, bound on the VIP's address and port) and one backend
with a fixed number of server *slots*. A backend change is a few runtime-API commands
on the slots (no reload): a new instance takes a free slot (``state maint``, ``addr``,
``state ready``), a gone one is drained at once (``state drain``: no new connection,
the ones it has finish). Only a change of the VIP set (a VIP added or removed, a balance
changed, a backend outgrowing its slots) needs a new configuration, which the process
side loads with a hitless master-worker reload.

The slots are rendered as one ``server`` line each, carrying the backend it holds at
that moment, rather than as a ``server-template`` of empty slots: the configuration is
then always the whole truth, so a reload (whose new worker would start from the file)
and a restart after HAProxy died both come up serving the current backends, with no
window of empty slots and no state file to dump before each reload.

Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from actors.l4lb._table import Backend, Vip

MIN_SLOTS = 8
"""Slots of a new backend; doubled whenever its instances outgrow them."""
PLACEHOLDER = "127.0.0.1:1"
"""Address of an empty slot (never used: the slot is disabled)."""


def proxy_name(vip: Vip) -> str:
    """``v_127_128_0_1_80``: the frontend and backend name of a VIP."""
    return "v_" + vip.address.replace(".", "_") + f"_{vip.port}"


@dataclass(frozen=True, slots=True)
class Frontend:
    """What the configuration says about one VIP."""

    name: str
    address: str
    port: int
    balance: str
    slots: int


@dataclass
class HaproxyModel:
    """What HAProxy serves: the frontends of its configuration, and which backend each
    slot holds (None: free; a drained backend's slot is free for the next one)."""

    frontends: dict[str, Frontend] = field(default_factory=dict)
    slots: dict[str, list[Backend | None]] = field(default_factory=dict)

    def copy(self) -> HaproxyModel:
        return HaproxyModel(dict(self.frontends), {k: list(v) for k, v in self.slots.items()})

    def backends(self, name: str) -> set[Backend]:
        return {b for b in self.slots.get(name, []) if b is not None}


def _slots_for(count: int, current: int = 0) -> int:
    slots = max(current, MIN_SLOTS)
    while slots < count:
        slots *= 2
    return slots


@dataclass(frozen=True, slots=True)
class Plan:
    """How to go from what HAProxy serves to what the table says."""

    model: HaproxyModel
    """What HAProxy serves once the plan is carried out."""
    reload: bool
    """The configuration changed: write it and reload (the new file already holds
    every backend, so no command follows a reload)."""
    commands: list[str]
    """Runtime-API commands, in order (empty on reload)."""


def plan(current: HaproxyModel, vips: Mapping[str, Vip]) -> Plan:
    """The next HAProxy state for ``vips`` (by ident) and how to reach it: backends keep
    their slots, new ones take the lowest free slot, gone ones are drained."""
    model = HaproxyModel()
    commands: list[str] = []
    for vip in sorted(vips.values(), key=lambda v: v.ident):
        name = proxy_name(vip)
        old_front = current.frontends.get(name)
        old_slots = list(current.slots.get(name, []))
        wanted = set(vip.backends)
        kept: list[Backend | None] = [b if b in wanted else None for b in old_slots]
        new = sorted(wanted - set(kept), key=lambda b: (b.ip, b.port, b.task_id))
        slots = _slots_for(len(wanted), old_front.slots if old_front else 0)
        kept += [None] * (slots - len(kept))
        for backend in new:
            free = kept.index(None)
            kept[free] = backend
            commands += [
                f"set server {name}/s{free + 1} state maint",
                f"set server {name}/s{free + 1} addr {backend.ip} port {backend.port}",
                f"set server {name}/s{free + 1} state ready",
            ]
        for index, gone in enumerate(old_slots):
            if gone is not None and gone not in wanted:
                commands.insert(0, f"set server {name}/s{index + 1} state drain")
        model.frontends[name] = Frontend(name, vip.address, vip.port, vip.balance, slots)
        model.slots[name] = kept
    reload = model.frontends != current.frontends
    return Plan(model, reload, [] if reload else commands)


@dataclass(frozen=True, slots=True)
class Paths:
    """Where one HAProxy keeps its files (its own directory)."""

    config: str
    runtime_socket: str
    """The worker's admin socket (runtime API)."""
    master_socket: str
    """The master CLI (``show proc``)."""
    pidfile: str


GLOBAL_TIMEOUTS = {"connect": "2s", "client": "5m", "server": "5m"}


HARD_STOP_AFTER = 30.0
"""Seconds an old worker may keep its connections after a reload before it exits: a
VIP added anywhere reloads the one HAProxy every VIP shares, so a long-lived connection
through another VIP gets this long to finish (and no old process outlives it)."""


def render_config(
    model: HaproxyModel, paths: Paths, *, hard_stop_after: float = HARD_STOP_AFTER
) -> str:
    """The whole configuration for ``model`` (see the module docstring)."""
    lines = [
        "# written by pydcos l4lb: every change is overwritten",
        "global",
        f"    stats socket {paths.runtime_socket} mode 600 level admin expose-fd listeners",
        f"    pidfile {paths.pidfile}",
        # An old worker still holding connections after a reload exits after this.
        f"    hard-stop-after {int(hard_stop_after * 1000)}ms",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode tcp",
        *(f"    timeout {k} {v}" for k, v in GLOBAL_TIMEOUTS.items()),
        # A connect refused by an instance that just went away goes to another one.
        "    retries 3",
        "    option redispatch 1",
    ]
    for name, front in sorted(model.frontends.items()):
        lines += [
            "",
            f"frontend {name}",
            f"    bind {front.address}:{front.port}",
            f"    default_backend {name}",
            "",
            f"backend {name}",
            f"    balance {front.balance}",
        ]
        slots = model.slots.get(name, [])
        for index in range(front.slots):
            backend = slots[index] if index < len(slots) else None
            if backend is None:
                lines.append(f"    server s{index + 1} {PLACEHOLDER} disabled")
            else:
                lines.append(f"    server s{index + 1} {backend.ip}:{backend.port}")
    return "\n".join(lines) + "\n"


def ready_servers(state_text: str) -> dict[str, set[tuple[str, int]]]:
    """``show servers state`` output -> backend name -> {(addr, port)} of the servers that
    take new connections: no maintenance or drain flag in the admin state but 0x04
    (the configuration's ``disabled``, which ``state ready`` overrides)."""
    out: dict[str, set[tuple[str, int]]] = {}
    for line in state_text.splitlines():
        fields = line.split()
        if len(fields) < 19 or not fields[0].isdigit():
            continue
        backend, addr, admin, port = fields[1], fields[4], fields[6], fields[18]
        out.setdefault(backend, set())
        if admin.isdigit() and int(admin) & ~0x04 == 0 and port.isdigit():
            out[backend].add((addr, int(port)))
    return out


def with_backends(model: HaproxyModel, name: str, slots: list[Backend | None]) -> HaproxyModel:
    """``model`` with backend ``name``'s slots replaced (tests build models with it)."""
    out = model.copy()
    out.slots[name] = list(slots)
    return dataclasses.replace(out)
