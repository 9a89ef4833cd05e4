"""shared_task: the tasks of one app share one copy of their app-wide parts, each task
stays equal to what it was given, and a changed part is never shared."""

from __future__ import annotations

import msgpack

from actors import protocol as p
from actors.master._share import forget, shared_task
from transport._codec import codec


def task(i: int, cmd: str = "sleep 3600", name: str = "g.web") -> p.TaskInfo:
    return p.TaskInfo(
        task_id=f"g_web.{i}",
        name=name,
        agent_id=f"a{i}",
        resources={"cpus": 0.1, "mem": 32.0, "ports": [[31000 + i, 31000 + i]]},
        command=p.CommandSpec(cmd, env={"MARATHON_APP_ID": "/g/web"}),
        labels={"MARATHON_APP_ID": "/g/web"},
    )


def decoded(t: p.TaskInfo) -> p.TaskInfo:
    """As a new leader gets it from a re-registering agent: every part its own copy."""
    mtype, body = codec.encode_body(t)
    out: p.TaskInfo = codec.decode_body(mtype, msgpack.unpackb(msgpack.packb(body)))
    return out


def test_tasks_of_one_app_share_its_parts_and_stay_equal() -> None:
    forget()
    a, b = decoded(task(1)), decoded(task(2))
    assert a.command is not b.command
    sa, sb = shared_task("f", a), shared_task("f", b)
    assert sa is a and sb == b
    assert sb.command is sa.command and sb.labels is sa.labels
    assert sb.resources is b.resources and sb.task_id == "g_web.2"


def test_a_changed_part_is_not_shared_and_later_tasks_share_the_new_one() -> None:
    forget()
    shared_task("f", decoded(task(1)))
    new = shared_task("f", decoded(task(2, cmd="sleep 7200")))
    assert new.command is not None and new.command.value == "sleep 7200"
    later = shared_task("f", decoded(task(3, cmd="sleep 7200")))
    assert later.command is new.command and later.labels is new.labels


def test_other_frameworks_and_names_are_apart() -> None:
    forget()
    first = shared_task("f", decoded(task(1)))
    other_fw = shared_task("g", decoded(task(2)))
    other_name = shared_task("f", decoded(task(3, name="g.api")))
    assert other_fw.command is not first.command
    assert other_name.command is not first.command


def test_a_kept_status_update_is_equal_and_made_of_the_records_strings() -> None:
    from actors.master._master_core import MasterConfig, MasterCore
    from actors.master._tasks import compact_update
    from actors.task_states import TaskState
    from tests.master.test_master_core import Cluster, one

    c = Cluster(MasterCore("m1", MasterConfig(), now=1000.0))
    c.add_agent()
    c.subscribe()
    c.launch(one(c.offers()), "t1", "cpus:1;mem:64")
    t = next(iter(c.core.tasks.values()))
    m = p.StatusUpdate(c.fid, "t1", t.agent_id, "TASK_RUNNING", "u1", 1.0, reason="R_X")
    wire = codec.decode_body(*_wire(m))
    kept = compact_update(wire, t, TaskState.RUNNING)
    assert kept == m
    assert kept.framework_id is t.framework_id and kept.task_id is t.task.task_id
    assert kept.agent_id is t.agent_id and kept.state is TaskState.RUNNING.value
    c.handle(wire)
    assert t.last_status == m and t.last_status.task_id is t.task.task_id


def _wire(m: p.StatusUpdate) -> tuple[str, object]:
    mtype, body = codec.encode_body(m)
    return mtype, msgpack.unpackb(msgpack.packb(body))
