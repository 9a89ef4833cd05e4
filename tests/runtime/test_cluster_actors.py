"""Cluster actors, script side, pure: serialisation rules, method tables, futures, the
handle's restart bookkeeping and error mapping (no network: a scripted context)."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path
from typing import Any

import pytest

from runtime import (
    ActorCall,
    ActorInfo,
    ActorMethodError,
    ActorRestarting,
    ActorSpec,
    ActorStopped,
    CallFailed,
    SerializationError,
    SpawnActor,
    Supervise,
    WaitActor,
    monitor,
    remote,
    spec_problem,
)
from runtime._actor_serial import class_payload, dumps_call, load_class, method_table
from runtime._cluster_actors import (
    ActorFuture,
    ActorHandle,
    ActorsMixin,
    end_message,
    method_error,
    pack_dir,
)
from runtime._ref import AskFuture
from runtime.errors import ActorDead, AskTimeout
from transport import DecodeError, codec


class Plain:
    def __init__(self, n: int = 0) -> None:
        self.n = n

    def incr(self, k: int = 1) -> int:
        self.n += k
        return self.n

    async def later(self) -> int:
        return self.n

    @staticmethod
    def util() -> int:
        return 1

    def _private(self) -> None:
        pass


def info(state: str = "RUNNING", incarnation: int = 1, **kw: Any) -> ActorInfo:
    base: dict[str, Any] = {
        "actor_id": "a1",
        "name": "counter",
        "namespace": "default",
        "class_name": "m:Plain",
        "methods": ["incr", "later", "util"],
        "async_methods": ["later"],
        "state": state,
        "address": f"tcp://127.0.0.1:{1000 + incarnation}/actor" if state == "RUNNING" else "",
        "incarnation": incarnation,
        "mem": 128.0,
    }
    base.update(kw)
    return ActorInfo(**base)


class FakeRef:
    def __init__(self, address: str) -> None:
        self.address = address
        self.asks: list[tuple[Any, AskFuture]] = []
        self.tells: list[Any] = []

    def ask_future(self, message: Any, timeout: float = 5.0) -> AskFuture:
        fut = AskFuture("ask", None)
        self.asks.append((message, fut))
        return fut

    def tell(self, message: Any) -> None:
        self.tells.append(message)


class FakeNode:
    def __init__(self) -> None:
        self.refs: dict[str, FakeRef] = {}

    def ref(self, address: str) -> FakeRef:
        return self.refs.setdefault(address, FakeRef(address))


class FakeContext:
    """What a handle needs: a node for refs and the framework's answers."""

    def __init__(self, replies: list[Any] | None = None) -> None:
        self.node = FakeNode()
        self.replies = replies or []
        self.asked: list[Any] = []
        self.watched: list[str] = []

    def framework_ask(self, message: Any, timeout: float = 10.0) -> Any:
        self.asked.append(message)
        return self.replies.pop(0)

    def watch(self, handle: ActorHandle) -> None:
        self.watched.append(handle.actor_id)


# -- serialisation rules -------------------------------------------------------------


def test_unpicklable_argument_is_refused_before_sending_and_named() -> None:
    with pytest.raises(SerializationError, match=r"argument 2 of C\.m \(lock\)"):
        dumps_call((1, threading.Lock()), {}, "C.m")
    with pytest.raises(SerializationError, match="keyword argument 'g'"):
        dumps_call((), {"g": (x for x in [1])}, "C.m")
    assert isinstance(SerializationError("x"), TypeError)


def test_lambdas_travel_with_cloudpickle() -> None:
    args, kwargs = pickle.loads(dumps_call((lambda x: x + 1,), {}, "C.m"))
    assert args[0](1) == 2 and kwargs == {}


def test_class_by_import_path_or_by_value() -> None:
    name, blob = class_payload(Plain)
    assert name == f"{__name__}:Plain" and blob == b""
    assert load_class(name, blob) is Plain

    def make() -> type:
        class Local:
            def hi(self) -> str:
                return "hi"

        return Local

    local = make()
    name, blob = class_payload(local)
    assert "<locals>" in name and blob
    assert load_class(name, blob)().hi() == "hi"
    with pytest.raises(ImportError, match="not module:QualName"):
        load_class("nocolon", b"")


def test_method_table_lists_public_methods_and_async_ones() -> None:
    methods, asyncs = method_table(Plain)
    assert methods == ["incr", "later", "util"]
    assert asyncs == ["later"]


def test_remote_options_and_misuse() -> None:
    rc = remote(cpus=0.5, mem=128, max_restarts=5)(Plain)
    assert rc.options_["cpus"] == 0.5 and rc.methods == ["incr", "later", "util"]
    assert rc.options(mem=256).options_["mem"] == 256 and rc.options_["mem"] == 128
    with pytest.raises(TypeError, match="unknown option"):
        rc.options(gpus=1)
    with pytest.raises(TypeError, match=r"cluster\.spawn"):
        rc(1)
    assert remote(Plain).options_["max_restarts"] == 3
    with pytest.raises(TypeError, match="classes"):
        remote(len)  # type: ignore[arg-type]


# -- records ---------------------------------------------------------------------------


def spec(**kw: Any) -> ActorSpec:
    return ActorSpec("m:C", b"", b"", ["a"], [], **kw)


def test_spec_validation_names_the_field() -> None:
    assert spec_problem(spec()) is None
    cases: list[tuple[dict[str, Any], str]] = [
        ({"cpus": 0.0}, "cpus"),
        ({"mem": 1.0}, "mem"),
        ({"restart": "sometimes"}, "restart"),
        ({"max_restarts": -2}, "max_restarts"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"constraints": [["zone"]]}, "constraints"),
    ]
    for kw, field in cases:
        with pytest.raises(ValueError, match=field):
            spec(**kw)
    with pytest.raises(ValueError, match="lifetime"):
        SpawnActor(spec(), lifetime="forever")
    with pytest.raises(ValueError, match="strategy"):
        Supervise("one_for_some", [SpawnActor(spec())])


def test_records_round_trip_and_decode_strictly() -> None:
    msg = SpawnActor(spec(constraints=[["zone", "IS", "a"]]), name="n", lifetime="detached")
    mtype, body = codec.encode_body(msg)
    assert mtype == "runtime.SpawnActor"
    assert codec.decode_body(mtype, body) == msg
    bad = dict(body, extra=1)
    with pytest.raises(DecodeError):
        codec.decode_body(mtype, bad)
    body["spec"] = dict(body["spec"], cpus=-1.0)
    with pytest.raises(DecodeError, match="cpus"):
        codec.decode_body(mtype, body)


# -- handles ----------------------------------------------------------------------------


def test_missing_method_fails_at_once_without_a_round_trip() -> None:
    ctx = FakeContext()
    h = ActorHandle(info(), ctx)  # type: ignore[arg-type]
    with pytest.raises(AttributeError, match=r"no method 'nope'.*incr"):
        h.nope  # noqa: B018
    assert ctx.asked == [] and ctx.node.refs == {}


def test_call_goes_to_the_worker_and_decodes_result_and_errors() -> None:
    ctx = FakeContext()
    h = ActorHandle(info(), ctx)  # type: ignore[arg-type]
    fut = h.incr(5)
    ref = ctx.node.refs["tcp://127.0.0.1:1001/actor"]
    message, ask = ref.asks[0]
    assert isinstance(message, ActorCall) and message.method == "incr"
    assert pickle.loads(message.payload) == ((5,), {})
    ask.set(pickle.dumps(15))
    assert fut.result(1) == 15 and fut.done()

    try:
        raise KeyError("k")
    except KeyError as exc:
        failed = CallFailed("KeyError", str(exc), "Traceback...\nKeyError: 'k'", pickle.dumps(exc))
    fut = h.incr()
    ref.asks[-1][1].set(failed)
    with pytest.raises(KeyError) as caught:
        fut.result(1)
    assert isinstance(caught.value, ActorMethodError)
    assert "Remote traceback (actor counter)" in str(caught.value)
    assert caught.value.remote_traceback.endswith("KeyError: 'k'")

    h.incr.tell(1)
    assert ref.tells[0].method == "incr"
    assert ctx.watched == ["a1"]


def test_unpicklable_exception_still_reaches_the_caller() -> None:
    err = method_error(CallFailed("Weird", "no pickle", "tb", b""), "x")
    assert type(err) is ActorMethodError and err.type_name == "Weird"
    assert err.cause is None and "tb" in str(err)


def test_worker_loss_fails_calls_in_flight_then_reaches_the_new_incarnation() -> None:
    ctx = FakeContext(replies=[info("RUNNING", 2)])
    h = ActorHandle(info(), ctx)  # type: ignore[arg-type]
    inflight = [h.incr(), h.incr()]
    h._apply(info("RESTARTING", 1, message="worker exited", reason=""))
    for fut in inflight:
        with pytest.raises(ActorRestarting, match="worker exited"):
            fut.result(1)
    fut = h.incr()  # waits for incarnation 2 through WaitActor
    assert ctx.asked == [WaitActor("a1", 2, 10.0)]
    assert "tcp://127.0.0.1:1002/actor" in ctx.node.refs
    assert not fut.done()
    h._apply(info("RUNNING", 1))  # a late, older event changes nothing
    assert h.info.incarnation == 2


def test_an_oom_kill_says_so() -> None:
    ctx = FakeContext()
    h = ActorHandle(info(), ctx)  # type: ignore[arg-type]
    fut = h.incr()
    h._apply(info("RESTARTING", 1, reason="REASON_CONTAINER_LIMITATION_MEMORY", message="oom"))
    with pytest.raises(ActorRestarting, match=r"out of memory.*128 MB"):
        fut.result(1)
    assert "out of memory" in end_message(
        info("FAILED", reason="REASON_CONTAINER_LIMITATION_MEMORY")
    )


def test_transport_loss_marks_the_handle_restarting() -> None:
    ctx = FakeContext()
    h = ActorHandle(info(), ctx)  # type: ignore[arg-type]
    fut = h.incr()
    ctx.node.refs["tcp://127.0.0.1:1001/actor"].asks[0][1].set_exception(ActorDead("gone"))
    with pytest.raises(ActorRestarting, match="worker lost"):
        fut.result(1)
    assert h.info.state == "RESTARTING"


def test_stopped_actor_fails_calls_and_delivers_down() -> None:
    ctx = FakeContext()
    h = ActorHandle(info(), ctx)  # type: ignore[arg-type]
    fut = h.incr()
    down = monitor(h)
    assert not down.done()
    with pytest.raises(AskTimeout):
        down.result(0.01)
    h._apply(info("STOPPED", 1, message="killed"))
    with pytest.raises(ActorStopped, match="killed"):
        fut.result(1)
    d = down.result(1)
    assert d.ref is h and d.name == "counter" and d.reason == "killed"
    failed = h.incr()
    with pytest.raises(ActorStopped):
        failed.result(1)
    assert monitor(h).result(0).reason == "killed"


def test_handles_pickle_to_the_same_handle_per_process() -> None:
    from runtime._cluster_actors import _handles

    ctx = FakeContext()
    h = ActorHandle(info(), ctx)  # type: ignore[arg-type]
    _handles[h.actor_id] = h
    again = pickle.loads(pickle.dumps(h))
    assert again is h
    del _handles[h.actor_id]
    other = pickle.loads(pickle.dumps(h))
    assert other == h and other is not h and other.methods == h.methods


def test_wait_returns_done_and_pending_like_ray() -> None:
    ctx = FakeContext()
    h = ActorHandle(info(), ctx)  # type: ignore[arg-type]
    futs = [h.incr() for _ in range(3)]
    asks = ctx.node.refs["tcp://127.0.0.1:1001/actor"].asks
    asks[0][1].set(pickle.dumps(1))
    asks[2][1].set(pickle.dumps(3))
    done, pending = ActorsMixin.wait(None, futs, num_returns=2, timeout=1)  # type: ignore[arg-type]
    assert done == [futs[0], futs[2]] and pending == [futs[1]]
    done, pending = ActorsMixin.wait(None, futs, timeout=0.01)  # type: ignore[arg-type]
    assert pending == [futs[1]]
    assert isinstance(futs[0], ActorFuture)


def test_packed_working_dir_is_content_addressed(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("X = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"junk")
    sha, data = pack_dir(tmp_path)
    other = tmp_path.parent / (tmp_path.name + "-copy")
    other.mkdir()
    (other / "mod.py").write_text("X = 1\n")
    assert pack_dir(other)[0] == sha and len(sha) == 64 and data


def test_tracebacks_of_main_classes_point_back_at_the_script(tmp_path: Path) -> None:
    import sys
    import types

    from runtime._cluster_actors import localise_traceback

    script = tmp_path / "job.py"
    script.write_text("class A:\n    def f(self):\n        raise ValueError('x')\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(script)
    real = sys.modules["__main__"]
    sys.modules["__main__"] = fake_main
    try:
        tb = (
            "Traceback (most recent call last):\n"
            '  File "<dynamic-code>", line 3, in f\n'
            "ValueError: x\n"
        )
        out = localise_traceback(tb)
    finally:
        sys.modules["__main__"] = real
    assert f"  File \"{script}\", line 3, in f\n    raise ValueError('x')\n" in out
    assert localise_traceback("plain") == "plain"


class ScriptedFramework(ActorsMixin):
    """A Cluster whose framework answers are scripted: ``answers`` per attempt."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.sent: list[Any] = []

    def actor(self, name: str, timeout: float = 10.0) -> Any:
        owner = self

        class Ref:
            def is_alive(self) -> bool:
                return not isinstance(owner.answers[0], str)

            def ask(self, message: Any, timeout: float = 5.0) -> Any:
                owner.sent.append(message)
                answer = owner.answers.pop(0)
                if isinstance(answer, BaseException):
                    raise answer
                return answer

        if self.answers and self.answers[0] == "no leader":
            self.answers.pop(0)
            from runtime import NoCluster

            raise NoCluster("no master became leader")
        return Ref()


def test_framework_asks_ride_out_a_leader_change() -> None:
    from runtime import ActorNotFound, GetActor

    answer = info()
    fw = ScriptedFramework(
        [
            "no leader",
            ActorDead("node tcp://old-leader is unreachable"),
            ActorNotFound("no actor named 'cluster_actors' on node 'master'"),
            AskTimeout("no reply"),
            answer,
        ]
    )
    assert fw.framework_ask(GetActor(name="counter"), timeout=10) == answer
    assert len(fw.sent) == 4
    # the framework's own "no such actor" is an answer, not a reason to retry
    fw = ScriptedFramework([ActorNotFound("no actor named 'ghost'")])
    with pytest.raises(ActorNotFound, match="ghost"):
        fw.framework_ask(GetActor(name="ghost"))


def test_a_named_spawn_retried_after_a_dead_leader_takes_the_recorded_actor() -> None:
    answer = info()
    fw = ScriptedFramework([ActorDead("leader gone"), answer])
    request = SpawnActor(spec(), name="counter")
    assert fw.framework_ask(request, timeout=10) == answer
    assert [m.get_if_exists for m in fw.sent] == [False, True]
    fw = ScriptedFramework([AskTimeout("no reply")])
    with pytest.raises(AskTimeout):  # a spawn is not re-sent blindly after a timeout
        fw.framework_ask(SpawnActor(spec()), timeout=10)
