"""The ensemble decisions of the ``zookeeper`` service's tasks (pure: text in, text out).

Why dynamic reconfiguration: the members' ports come from offers, so member 0 starts
before anyone knows member 1's ports. ZooKeeper (3.5+) grows an ensemble one member at a
time instead: the first member bootstraps a one-member quorum
(``standaloneEnabled=false``), each next member starts with the current membership plus
itself and asks the ensemble to ``reconfig`` it in. The membership then lives in
``zoo.cfg.dynamic.<version>`` files on the member's persistent volume (ZooKeeper writes
a new one on every reconfig), so a member recovered in place restarts with the latest
membership and its data; a replaced member (fresh volume, maybe new ports) learns the
membership from a live peer and reconfigs its own line to its new address.

Membership text is ZooKeeper's own: ``server.<id>=<host>:<quorum>:<election>:<role>;
<client host>:<client port>`` lines and ``version=<hex>`` (what the ``conf`` four-letter
word prints after ``membership:``, and what a dynamic config file holds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from actors.sdk import SdkError

DYNAMIC_PREFIX = "zoo.cfg.dynamic"
"""Dynamic config files on the volume: ``zoo.cfg.dynamic.<hex version>``; ZooKeeper
names each new one after the old one's prefix."""
SERVER_RE = re.compile(r"^server\.(\d+)=(.+)$")
SERVING_MODES = frozenset({"leader", "follower"})


class EnsembleError(SdkError, ValueError):
    """A membership or a member address that cannot be used (names the value)."""


@dataclass(frozen=True, slots=True)
class Member:
    """This task's own server line: id = pod index + 1 (``myid``), ports from its offer."""

    sid: int
    host: str
    quorum_port: int
    election_port: int
    client_port: int

    def line(self, role: str = "participant") -> str:
        """The ``server.N=`` value ZooKeeper expects (client address after ``;``)."""
        return (
            f"{self.host}:{self.quorum_port}:{self.election_port}:{role};"
            f"{self.host}:{self.client_port}"
        )


@dataclass(frozen=True, slots=True)
class StartPlan:
    """How this member starts: the membership to write (as ``zoo.cfg.dynamic.<version>``),
    and whether it must then ask the ensemble to ``reconfig`` its line in (``join``: a
    new or moved member)."""

    members: dict[int, str]
    version: int
    join: bool
    reason: str

    def dynamic_text(self) -> str:
        return "".join(f"server.{sid}={line}\n" for sid, line in sorted(self.members.items()))

    @property
    def file_name(self) -> str:
        return f"{DYNAMIC_PREFIX}.{self.version:x}"


JOIN_VERSION = 0
"""A joiner's membership is written BELOW every real version: hearing the leader's newer
config, it adopts it, finds itself outside the voters and follows as a non-voting
follower, which the leader counts as synced, so the reconfig that adds it can reach a
quorum (even from 1 voter to 2, where an observer would not count)."""
BOOTSTRAP_VERSION = 1


def member_from_env(env: Mapping[str, str]) -> Member:
    """Member identity from the SDK's task env: ``POD_INSTANCE_INDEX`` and the ports
    named client/quorum/election (``PORT_CLIENT`` ...), on the task's host address."""
    try:
        index = int(env["POD_INSTANCE_INDEX"])
    except (KeyError, ValueError) as exc:
        raise EnsembleError(
            f"POD_INSTANCE_INDEX must be an integer, got {env.get('POD_INSTANCE_INDEX')!r}"
        ) from exc
    ports = {}
    for name in ("CLIENT", "QUORUM", "ELECTION"):
        raw = env.get(f"PORT_{name}", "")
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise EnsembleError(f"PORT_{name} must be a port number, got {raw!r}")
        ports[name] = int(raw)
    host = task_host(env)
    return Member(index + 1, host, ports["QUORUM"], ports["ELECTION"], ports["CLIENT"])


def task_host(env: Mapping[str, str]) -> str:
    """The address the member advertises: the agent's (``HOST``, Mesos' name for it, or
    ``TASK_HOST``/``LIBPROCESS_IP``), else loopback."""
    for key in ("TASK_HOST", "HOST", "LIBPROCESS_IP"):
        value = env.get(key, "").strip()
        if value:
            return value
    return "127.0.0.1"


def parse_membership(text: str) -> dict[int, str]:
    """``server.N=...`` lines of a dynamic config file or of ``conf``'s output."""
    out: dict[int, str] = {}
    for raw in text.splitlines():
        m = SERVER_RE.match(raw.strip())
        if m:
            out[int(m.group(1))] = m.group(2).strip()
    return out


def voters(members: Mapping[int, str]) -> set[int]:
    """Ids whose role is participant (an observer does not vote)."""
    return {sid for sid, line in members.items() if ":observer" not in line.split(";")[0]}


def dynamic_version(name: str) -> int | None:
    """The version of a ``zoo.cfg.dynamic.<hex>`` file name, None for anything else."""
    if not name.startswith(DYNAMIC_PREFIX + "."):
        return None
    suffix = name[len(DYNAMIC_PREFIX) + 1 :]
    try:
        return int(suffix, 16)
    except ValueError:
        return None


def latest_dynamic(names: Iterable[str]) -> str | None:
    """The newest dynamic config file among ``names`` (highest version), or None."""
    best: tuple[int, str] | None = None
    for name in names:
        v = dynamic_version(name)
        if v is not None and (best is None or v > best[0]):
            best = (v, name)
    return best[1] if best else None


def parse_version(text: str) -> int | None:
    """The ``version=<hex>`` of a membership text, None without one."""
    for raw in text.splitlines():
        key, sep, value = raw.strip().partition("=")
        if sep and key == "version":
            try:
                return int(value, 16)
            except ValueError:
                return None
    return None


def plan_start(
    me: Member,
    stored: Mapping[int, str] | None,
    stored_version: int | None,
    peer: Mapping[int, str] | None,
    peer_version: int | None,
) -> StartPlan:
    """Decide how to start from what the volume holds (``stored``: the latest dynamic
    file's membership) and what a live peer reports (``peer``: its ``conf`` membership).

    - a live peer lists my line as it is: a member back in place; start from the
      ensemble's own membership (its version), no reconfig;
    - a live peer does not (a new member, a replaced one, a move to new ports): join,
      written at ``JOIN_VERSION``, then reconfig my line in;
    - no live peer, the volume has a membership: restart from it (the whole ensemble
      restarting); if my address changed, join once peers answer;
    - nothing anywhere: the first member, a one-member ensemble of itself.
    """
    mine = me.line()
    if peer:
        if peer.get(me.sid) == mine:
            version = peer_version if peer_version is not None else (stored_version or 1)
            return StartPlan(dict(peer), version, False, "back in place: the ensemble lists me")
        members = {sid: line for sid, line in peer.items() if sid != me.sid}
        members[me.sid] = mine
        return StartPlan(members, JOIN_VERSION, True, "joining the ensemble through a live peer")
    if stored:
        version = stored_version if stored_version is not None else BOOTSTRAP_VERSION
        if stored.get(me.sid) == mine:
            return StartPlan(dict(stored), version, False, "recovered: membership from the volume")
        members = {sid: line for sid, line in stored.items() if sid != me.sid}
        members[me.sid] = mine
        return StartPlan(members, JOIN_VERSION, True, "address changed, no live peer yet")
    return StartPlan(
        {me.sid: mine}, BOOTSTRAP_VERSION, False, "bootstrap: first member of a new ensemble"
    )


def reported_mode(srvr_text: str) -> str | None:
    """``Mode:`` of a ``srvr`` reply (leader, follower, observer, standalone) or None."""
    for line in srvr_text.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def membership_of_conf(conf_text: str) -> dict[int, str]:
    """The membership in a ``conf`` reply (the lines after ``membership:``)."""
    _, sep, tail = conf_text.partition("membership:")
    return parse_membership(tail) if sep else {}


def ready(me: Member, srvr_text: str, conf_text: str) -> tuple[bool, str]:
    """Readiness: serving in a quorum (leader/follower) AND a voter at my own address.
    A member that merely runs (``ruok``) or is still syncing is not ready yet, so the
    deploy and the rolling update move to the next member only once this one counts."""
    mode = reported_mode(srvr_text)
    if mode not in SERVING_MODES:
        return False, f"not serving in a quorum (mode {mode or 'unknown'})"
    members = membership_of_conf(conf_text)
    if members.get(me.sid) != me.line():
        return False, f"server.{me.sid} is {members.get(me.sid)!r}, not {me.line()!r} yet"
    return True, f"{mode}, voter server.{me.sid} of {len(voters(members))}"


def sdk_addresses(env: Mapping[str, str], pod: str, port_name: str) -> list[tuple[str, int]]:
    """Every instance's ``host:port`` for a named port, from the SDK's task env
    (``SDK_<POD>_COUNT``, ``SDK_<POD>_<j>_HOST``, ``SDK_<POD>_<j>_PORT_<NAME>``: the
    scheduler reserves a pod's instances before launching any, so all are known)."""
    key = pod.upper().replace("-", "_")
    name = port_name.upper().replace("-", "_")
    raw_count = env.get(f"SDK_{key}_COUNT", "0")
    if not raw_count.isdigit():
        raise EnsembleError(f"SDK_{key}_COUNT must be a count, got {raw_count!r}")
    out = []
    for j in range(int(raw_count)):
        host = env.get(f"SDK_{key}_{j}_HOST", "")
        port = env.get(f"SDK_{key}_{j}_PORT_{name}", "")
        if host and port.isdigit():
            out.append((host, int(port)))
    return out


def peers_from_env(
    env: Mapping[str, str], me: Member, pod: str = "zookeeper"
) -> list[tuple[str, int]]:
    """Client addresses of the other members: ``ZK_PEERS`` (comma-separated host:port,
    for running by hand) or the SDK's env for every instance of ``pod``; mine left out."""
    raw = env.get("ZK_PEERS", "")
    found: list[tuple[str, int]] = []
    for item in raw.replace(" ", "").split(","):
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise EnsembleError(f"peer address must be host:port, got {item!r}")
        found.append((host, int(port)))
    if not raw:
        found = sdk_addresses(env, pod, "client")
    return [a for a in found if a != (me.host, me.client_port)]
