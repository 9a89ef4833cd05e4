"""The scheduler core on a simulated cluster (a manual clock, agents as resource bags
that apply RESERVE/CREATE/LAUNCH the way the master does): deploy order and readiness,
reservations per pod instance, recovery in place, pod replace, custom plans with
parameters, a restarted scheduler carrying on, config updates rolling one at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from actors import protocol as p
from actors.resources import Resources
from actors.sdk import Context, PlanCommandError, PlanNotFound, ServiceCore, load_spec
from actors.sdk._plans import COMPLETE

SPEC = """
name: kv
pods:
  node:
    count: {{COUNT}}
    placement: '[["@agentid", "UNIQUE"]]'
    tasks:
      server:
        goal: RUNNING
        cpus: 0.5
        memory: 64
        volume: {path: data, size: 100}
        ports: {client: {port: 0, env-key: CLIENT_PORT}, peer: {port: 0}}
        env: {MODE: "{{MODE}}"}
        cmd: serve
        readiness-check: {cmd: ping, interval: 1}
      backup:
        goal: FINISH
        cpus: 0.1
        memory: 16
        cmd: backup
plans:
  deploy:
    strategy: serial
    phases:
      nodes:
        pod: node
        steps:
          - default: [[server]]
  backup:
    strategy: serial
    phases:
      backup:
        strategy: parallel
        pod: node
        steps:
          - default: [[backup]]
"""


def spec(count: int = 3, mode: str = "a"):  # type: ignore[no-untyped-def]
    return load_spec(SPEC, {"COUNT": count, "MODE": mode})


@dataclass
class Agent:
    agent_id: str
    free: Resources
    tasks: dict[str, p.TaskInfo] = field(default_factory=dict)


class Sim:
    """Plays the master and the agents for one core."""

    def __init__(self, core: ServiceCore, agents: int = 3) -> None:
        self.core = core
        self.now = 0.0
        self.agents = [
            Agent(
                f"S{i}",
                Resources.parse(
                    f"cpus:2;mem:1024;disk:1000;ports:[{31000 + 100 * i}-{31099 + 100 * i}]"
                ),
            )
            for i in range(agents)
        ]
        self.launched: list[p.TaskInfo] = []
        self.killed: list[str] = []
        self.n = 0
        self.auto_ready = True

    def agent(self, agent_id: str) -> Agent:
        return next(a for a in self.agents if a.agent_id == agent_id)

    def round(self) -> None:
        """One offer per agent, then one tick."""
        self.now += 1.0
        for a in self.agents:
            self.n += 1
            offer = p.Offer(f"O{self.n}", "fw", a.agent_id, "127.0.0.1", a.free.to_dict())
            eff = self.core.offers([offer], self.now, 1000.0 + self.now)
            for _, ops in eff.accepts:
                for op in ops:
                    self.apply(a, op)
            self.kill(eff.kills)
        _, kills = self.core.progress(self.now)
        self.kill(kills)

    def apply(self, a: Agent, op: p.Operation) -> None:
        res = Resources.from_dict(op.resources) if op.resources else Resources()
        if op.type == "RESERVE":
            a.free = a.free - res.base_form() + res
        elif op.type == "CREATE":
            a.free = a.free - res.strip_volumes() + res
        elif op.type == "DESTROY":
            a.free = a.free - res + res.strip_volumes()
        elif op.type == "UNRESERVE":
            a.free = a.free - res + res.base_form()
        elif op.type == "LAUNCH":
            for t in op.tasks:
                a.free = a.free - Resources.from_dict(t.resources)  # raises if not offered
                a.tasks[t.task_id] = t
                self.launched.append(t)
                self.update(t.task_id, "TASK_RUNNING", healthy=True if self.auto_ready else None)

    def update(self, task_id: str, state: str, healthy: bool | None = None) -> None:
        for a in self.agents:
            t = a.tasks.get(task_id)
            if t is None:
                continue
            if state in ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED"):
                del a.tasks[task_id]
                a.free = a.free + Resources.from_dict(t.resources)
            self.core.status(
                p.StatusUpdate("fw", task_id, a.agent_id, state, "u", 0.0, healthy=healthy),
                self.now,
            )

    def kill(self, ids: list[str]) -> None:
        for task_id in ids:
            self.killed.append(task_id)
            self.update(task_id, "TASK_KILLED")

    def running(self) -> dict[str, p.TaskInfo]:
        return {t.name: t for a in self.agents for t in a.tasks.values()}

    def agent_of(self, name: str) -> str:
        return next(a.agent_id for a in self.agents for t in a.tasks.values() if t.name == name)


def steps(core: ServiceCore, plan: str = "deploy") -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for ph in core.plan_view(plan)["phases"] for s in ph["steps"]]


def test_deploy_reserves_every_instance_first_then_starts_one_at_a_time_on_readiness() -> None:
    core = ServiceCore(spec(), Context(python="/py", api_url="http://s:1"))
    sim = Sim(core)
    sim.auto_ready = False
    sim.round()
    assert len(core.reservations) == 3  # all three, on three agents (@agentid UNIQUE)
    assert len({r.agent_id for r in core.reservations.values()}) == 3
    sim.round()
    assert [t.name for t in sim.launched] == ["node-0-server"]
    sim.round()
    assert [t.name for t in sim.launched] == ["node-0-server"], "waits for readiness"
    assert steps(core)[0] == ("node-0:[server]", "STARTED")
    sim.update(sim.launched[0].task_id, "TASK_RUNNING", healthy=True)
    sim.auto_ready = True
    for _ in range(4):
        sim.round()
    assert [t.name for t in sim.launched] == ["node-0-server", "node-1-server", "node-2-server"]
    assert core.plan_view("deploy")["status"] == COMPLETE
    # every task knows every instance's host and ports, and its own env
    env = sim.launched[2].command.env  # type: ignore[union-attr]
    ports = {n: r.ports for n, r in core.reservations.items()}
    assert env["SDK_NODE_COUNT"] == "3" and env["SDK_NODE_0_HOST"] == "127.0.0.1"
    assert env["SDK_NODE_0_PORT_CLIENT"] == str(ports["node-0"]["client"])
    assert env["CLIENT_PORT"] == str(ports["node-2"]["client"])
    assert env["POD_INSTANCE_INDEX"] == "2" and env["TASK_NAME"] == "node-2-server"
    assert env["FRAMEWORK_NAME"] == "kv" and env["PYDCOS_PYTHON"] == "/py" and env["MODE"] == "a"
    assert 'export VOLUME_PATH="$MESOS_SANDBOX/data"' in sim.launched[2].command.value  # type: ignore[union-attr,operator]
    t = sim.launched[0]
    assert t.health_checks[0].command == "ping" and t.health_checks[0].max_consecutive_failures == 0
    assert [pt.name for pt in t.discovery.ports] == ["client", "peer"]  # type: ignore[union-attr]
    assert "disk(kv-role,kv-principal," in json.dumps(t.resources)


def deployed(count: int = 3) -> tuple[ServiceCore, Sim]:
    core = ServiceCore(spec(count))
    sim = Sim(core)
    for _ in range(count + 3):
        sim.round()
    assert core.plan_view("deploy")["status"] == COMPLETE
    return core, sim


def volume_of(t: p.TaskInfo) -> str:
    return next(k for k in t.resources if k.startswith("disk("))


def test_a_failed_task_is_recovered_in_place_same_agent_volume_and_ports() -> None:
    core, sim = deployed()
    old = sim.running()["node-1-server"]
    agent = sim.agent_of("node-1-server")
    sim.update(old.task_id, "TASK_FAILED")
    sim.round()
    new = sim.running()["node-1-server"]
    assert new.task_id != old.task_id
    assert sim.agent_of("node-1-server") == agent
    assert volume_of(new) == volume_of(old)
    assert new.command.env["CLIENT_PORT"] == old.command.env["CLIENT_PORT"]  # type: ignore[union-attr]
    recovery = core.plan_view("recovery")
    assert [ph["name"] for ph in recovery["phases"]] == ["node-1"]
    assert recovery["status"] == COMPLETE


def test_repeated_failures_back_off_on_the_manual_clock() -> None:
    _, sim = deployed()
    sim.auto_ready = False  # failing before it is ever ready: the failures add up
    rounds = []
    for _ in range(5):
        sim.update(sim.running()["node-0-server"].task_id, "TASK_FAILED")
        n = 0
        while "node-0-server" not in sim.running():
            sim.round()
            n += 1
        rounds.append(n)
    assert rounds == sorted(rounds) and rounds[-1] >= 4 * rounds[0], rounds


def test_pod_replace_needs_force_when_healthy_and_moves_to_fresh_volumes() -> None:
    core, sim = deployed(count=2)
    old = sim.running()["node-0-server"]
    old_agent = sim.agent_of("node-0-server")
    with pytest.raises(PlanCommandError) as err:
        core.shell_pod("replace", "node-0", False)
    assert err.value.status == 409 and "healthy" in str(err.value)
    core.now = sim.now
    assert core.shell_pod("replace", "node-0", True) == ["node-0-server"]
    sim.kill(core.kill_now)
    for _ in range(4):
        sim.round()
    new = sim.running()["node-0-server"]
    assert volume_of(new) != volume_of(old)
    assert sim.agent_of("node-0-server") != old_agent  # the free third agent
    # the old reservation was wiped when its agent offered it
    leftovers = [k for k in sim.agent(old_agent).free.to_dict() if "kv-role" in k]
    assert leftovers == []
    with pytest.raises(PlanNotFound):
        core.shell_pod("restart", "node-7", False)


def test_pod_restart_relaunches_in_place() -> None:
    core, sim = deployed()
    old = sim.running()["node-2-server"]
    sim.kill(core.shell_pod("restart", "node-2", False) and core.kill_now)
    sim.round()
    new = sim.running()["node-2-server"]
    assert new.task_id != old.task_id and volume_of(new) == volume_of(old)


def test_a_custom_plan_runs_finish_tasks_with_its_parameters_beside_the_servers() -> None:
    core, sim = deployed()
    core.plan_command("backup", "start", params={"BACKUP_NAME": "b1"})
    sim.round()
    backups = [t for t in sim.launched if t.name.endswith("-backup")]
    assert sorted(t.name for t in backups) == ["node-0-backup", "node-1-backup", "node-2-backup"]
    assert {t.command.env["BACKUP_NAME"] for t in backups} == {"b1"}  # type: ignore[union-attr]
    assert {t.command.env["SDK_PLAN"] for t in backups} == {"backup"}  # type: ignore[union-attr]
    assert len([t for t in sim.running() if t.endswith("-server")]) == 3  # no volume shared
    for t in backups:
        sim.update(t.task_id, "TASK_FINISHED")
    sim.round()
    assert core.plan_view("backup")["status"] == COMPLETE
    core.plan_command("backup", "start", params={"BACKUP_NAME": "b2"})  # runs again
    sim.round()
    assert len([t for t in sim.launched if t.name.endswith("-backup")]) == 6
    with pytest.raises(PlanNotFound):
        core.plan_command("nope", "start")
    with pytest.raises(PlanNotFound):
        core.plan_view("nope")


def restarted(core: ServiceCore, new_spec=None) -> tuple[ServiceCore, list[str]]:  # type: ignore[no-untyped-def]
    """A new core from what the old one persisted (its dirty keys' snapshots)."""
    stored = {
        k: core.snapshot(k)
        for k in [
            "target",
            *(f"tasks/{n}" for n in core.tasks),
            *(f"reservations/{n}" for n in core.reservations),
            *(f"plans/{n}" for n in core.runs),
        ]
    }
    from actors.sdk._spec import spec_from_data

    fresh = ServiceCore(new_spec or core.spec)
    problems = fresh.restore(
        framework_id="fw",
        target=spec_from_data(stored["target"]["spec"]),
        tasks=[v for k, v in stored.items() if k.startswith("tasks/")],
        reservations=[v for k, v in stored.items() if k.startswith("reservations/")],
        runs=[v for k, v in stored.items() if k.startswith("plans/")],
        configs={},
        now=0.0,
    )
    return fresh, problems


def test_a_restarted_scheduler_carries_on_mid_deploy() -> None:
    core = ServiceCore(spec())
    sim = Sim(core)
    sim.auto_ready = False
    sim.round()
    sim.round()  # node-0 launched, not ready yet
    assert [t.name for t in sim.launched] == ["node-0-server"]
    fresh, problems = restarted(core)
    sim.auto_ready = True
    sim.update(sim.launched[0].task_id, "TASK_RUNNING", healthy=True)
    assert problems == []
    sim.core = fresh
    sim.update(sim.launched[0].task_id, "TASK_RUNNING", healthy=True)  # reconciliation
    for _ in range(4):
        sim.round()
    assert [t.name for t in sim.launched] == ["node-0-server", "node-1-server", "node-2-server"]
    assert fresh.plan_view("deploy")["status"] == COMPLETE
    assert sim.killed == []  # nothing was relaunched


def test_a_config_update_rolls_one_instance_at_a_time() -> None:
    core, sim = deployed()
    fresh, problems = restarted(core, spec(mode="b"))
    assert problems == []
    sim.core = fresh
    assert fresh.runs["update"].interrupted is False
    sim.round()
    assert len(sim.killed) == 1  # node-0 first
    modes = {}
    for _ in range(8):
        sim.round()
        modes = {n: t.command.env["MODE"] for n, t in sim.running().items()}  # type: ignore[union-attr]
        assert sum(1 for m in modes.values() if m) >= 2  # never more than one down
    assert set(modes.values()) == {"b"}
    assert fresh.plan_view("update")["status"] == COMPLETE
    assert [n for n, t in sim.running().items()] and all(
        volume_of(t) for t in sim.running().values()
    )


def test_a_refused_update_keeps_the_running_config() -> None:
    core, _ = deployed()
    bigger = load_spec(SPEC.replace("size: 100", "size: 200"), {"COUNT": 3, "MODE": "a"})
    fresh, problems = restarted(core, bigger)
    assert problems and "volumes cannot change" in problems[0]
    assert fresh.spec.config_id == core.spec.config_id


def test_status_of_a_task_that_is_not_ours() -> None:
    core, _ = deployed(count=1)
    stray = p.StatusUpdate("fw", "stray", "S0", "TASK_RUNNING", "u", 0.0)
    assert core.status(stray, 1.0) is False  # the shell kills it


def test_pod_info_shows_each_task_its_own_ports_and_volumes() -> None:
    core, sim = deployed(count=1)
    core.plan_command("backup", "start", params={"BACKUP_NAME": "b"})
    sim.round()
    info = {t["info"]["name"]: t["info"] for t in core.pod_info("node-0")}
    assert set(info["node-0-server"]["ports"]) == {"client", "peer"}
    assert [v["path"] for v in info["node-0-server"]["volumes"]] == ["data"]
    assert info["node-0-backup"]["ports"] == {} and info["node-0-backup"]["volumes"] == []


def reserved_of(sim: Sim, core: ServiceCore, instance: str) -> dict[str, float]:
    """The instance's reserved cpus/mem on its agent, running tasks included."""
    r = core.reservations[instance]
    a = sim.agent(r.agent_id)
    held = a.free + Resources.sum(Resources.from_dict(t.resources) for t in a.tasks.values())
    part = core._labelled(held)[r.rid].strip_volumes()
    return {n: part.scalar(n) for n in ("cpus", "mem")}


@pytest.mark.parametrize(
    ("cpus", "memory", "want"),
    [
        ("0.8", "96", {"cpus": 0.9, "mem": 112.0}),  # grow: the difference is RESERVEd
        ("0.2", "32", {"cpus": 0.3, "mem": 48.0}),  # shrink: the surplus is UNRESERVEd
    ],
)
def test_a_resource_update_re_reserves_in_place_keeping_volume_and_ports(
    cpus: str, memory: str, want: dict[str, float]
) -> None:
    core, sim = deployed()
    before = {n: t for n, t in sim.running().items()}
    assert reserved_of(sim, core, "node-1") == {"cpus": 0.6, "mem": 80.0}  # server + backup
    text = SPEC.replace("cpus: 0.5", f"cpus: {cpus}").replace("memory: 64", f"memory: {memory}")
    fresh, problems = restarted(core, load_spec(text, {"COUNT": 3, "MODE": "a"}))
    assert problems == []
    sim.core = fresh
    for _ in range(10):
        sim.round()
        assert len(sim.running()) >= 2  # one instance at a time
    assert fresh.plan_view("update")["status"] == COMPLETE
    after = sim.running()
    for name, old in before.items():
        new = after[name]
        assert new.task_id != old.task_id and sim.agent_of(name) == old.agent_id
        assert volume_of(new) == volume_of(old)
        assert new.command.env["CLIENT_PORT"] == old.command.env["CLIENT_PORT"]  # type: ignore[union-attr]
        assert Resources.from_dict(new.resources).scalar("cpus") == float(cpus)
    for inst in ("node-0", "node-1", "node-2"):
        assert reserved_of(sim, fresh, inst) == want
    # a later custom plan still fits in the resized reservations (the backup's share kept)
    fresh.plan_command("backup", "start", params={"BACKUP_NAME": "b"})
    sim.round()
    assert len([t for t in sim.running() if t.endswith("-backup")]) == 3


def test_a_grow_waits_for_room_on_the_agent_then_rolls() -> None:
    core, sim = deployed(count=1)
    agent = sim.agent(core.reservations["node-0"].agent_id)
    hog = Resources.from_scalars({"cpus": agent.free.unreserved().scalar("cpus") - 0.1})
    agent.free = agent.free - hog  # another framework holds all but 0.1 cpus
    fresh, _ = restarted(
        core, load_spec(SPEC.replace("cpus: 0.5", "cpus: 1.0"), {"COUNT": 1, "MODE": "a"})
    )
    sim.core = fresh
    for _ in range(3):
        sim.round()
    assert "node-0-server" not in sim.running()  # killed, waits for 0.5 more cpus
    assert steps(fresh, "update") == [("node-0:[server]", "PREPARED")]
    agent.free = agent.free + hog
    sim.round()
    assert fresh.plan_view("update")["status"] == COMPLETE
    assert reserved_of(sim, fresh, "node-0")["cpus"] == 1.1
