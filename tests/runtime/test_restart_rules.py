"""One row per OTP restart rule (supervisor.erl do_restart/4 and the strategies).

Three children a, b, c start in that order; a and c are permanent, b has the
restart type of the row. b then exits normally (self.stop()) or abnormally (an
exception in a tell handler), and the row says what the supervisor does.
"""

from __future__ import annotations

import pytest

from runtime import ChildSpec, Node, Supervisor, SupervisorRef

from .conftest import Worker

RESTARTED, KEPT, REMOVED = "restarted", "kept, not running", "removed"

# strategy       b's restart   b's exit    -> b afterwards  other children restarted
TABLE = [
    ("one_for_one", "permanent", "normal", RESTARTED, set()),
    ("one_for_one", "permanent", "abnormal", RESTARTED, set()),
    ("one_for_one", "transient", "normal", KEPT, set()),
    ("one_for_one", "transient", "abnormal", RESTARTED, set()),
    ("one_for_one", "temporary", "normal", REMOVED, set()),
    ("one_for_one", "temporary", "abnormal", REMOVED, set()),
    ("one_for_all", "permanent", "normal", RESTARTED, {"a", "c"}),
    ("one_for_all", "permanent", "abnormal", RESTARTED, {"a", "c"}),
    ("one_for_all", "transient", "normal", KEPT, set()),
    ("one_for_all", "transient", "abnormal", RESTARTED, {"a", "c"}),
    ("one_for_all", "temporary", "normal", REMOVED, set()),
    ("one_for_all", "temporary", "abnormal", REMOVED, set()),
    ("rest_for_one", "permanent", "normal", RESTARTED, {"c"}),
    ("rest_for_one", "permanent", "abnormal", RESTARTED, {"c"}),
    ("rest_for_one", "transient", "normal", KEPT, set()),
    ("rest_for_one", "transient", "abnormal", RESTARTED, {"c"}),
    ("rest_for_one", "temporary", "normal", REMOVED, set()),
    ("rest_for_one", "temporary", "abnormal", REMOVED, set()),
]


@pytest.mark.parametrize(
    ("strategy", "restart", "exit_kind", "b_after", "others_restarted"),
    TABLE,
    ids=[f"{s}-{r}-{e}" for s, r, e, *_ in TABLE],
)
def test_restart_rule(
    node: Node,
    strategy: str,
    restart: str,
    exit_kind: str,
    b_after: str,
    others_restarted: set[str],
) -> None:
    specs = [
        ChildSpec("a", Worker, kwargs={"tag": "a"}),
        ChildSpec("b", Worker, restart=restart, kwargs={"tag": "b"}),
        ChildSpec("c", Worker, kwargs={"tag": "c"}),
    ]
    sup = SupervisorRef(node.spawn(Supervisor, specs, strategy=strategy, intensity=10))
    before = {info.id: info.ref for info in sup.which_children()}
    old_b = before["b"]
    assert old_b is not None

    old_b.tell("stop_normal" if exit_kind == "normal" else "crash")
    assert old_b.join(5.0)

    after = {info.id: info.ref for info in sup.which_children()}
    if b_after == REMOVED:
        assert "b" not in after
    elif b_after == KEPT:
        assert after["b"] is None
    else:
        assert after["b"] is not None and after["b"] != old_b
        assert after["b"].ask("ping") == "pong"
    restarted = {cid for cid in ("a", "c") if after[cid] != before[cid]}
    assert restarted == others_restarted
    for cid in ("a", "c"):
        assert after[cid] is not None and after[cid].ask("ping") == "pong"
    assert list(after) == [cid for cid in ("a", "b", "c") if cid in after]  # start order kept


def test_abnormal_stop_reason_restarts_a_transient_child(node: Node) -> None:
    sup = SupervisorRef(node.spawn(Supervisor, [ChildSpec("b", Worker, restart="transient")]))
    old = sup.which_children()[0].ref
    assert old is not None
    old.tell("stop_abnormal")
    assert old.join(5.0)
    new = sup.which_children()[0].ref
    assert new is not None and new != old


def test_shutdown_reason_is_normal_for_a_transient_child(node: Node) -> None:
    sup = SupervisorRef(node.spawn(Supervisor, [ChildSpec("b", Worker, restart="transient")]))
    old = sup.which_children()[0].ref
    assert old is not None
    node.stop(old)
    assert old.join(5.0)
    assert sup.which_children()[0].ref is None
