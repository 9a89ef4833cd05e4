"""OTP supervisor, following supervisor.erl rule for rule.

Restart decision (supervisor.erl `do_restart/4`):
  permanent  -> always restarted
  transient  -> restarted unless the exit is normal (normal, shutdown, Shutdown(_))
  temporary  -> never restarted, and forgotten when it exits
Strategies: one_for_one restarts the child; one_for_all stops every other child
(reverse start order) and restarts all in start order; rest_for_one does the same
for the child and those started after it. Every restart is checked against the
intensity budget (`add_restart`); past it the supervisor stops all its children
and exits with `Shutdown(RestartIntensityExceeded(...))`, which its parent handles
like any other child exit (as in OTP, only a permanent parent restarts it).
A restart whose start fails is retried through a self-message, each retry
counting against the budget (OTP's try_again_restart).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from runtime._actor import Actor, _spawn_ctx
from runtime._intensity import add_restart
from runtime._messages import Down, RestartIntensityExceeded, Shutdown, is_normal_exit
from runtime._ref import ActorRef, AskFuture, LocalActorRef
from runtime.errors import InvalidChildSpec, StartFailed, SupervisorError

if TYPE_CHECKING:
    from runtime._node import Node

__all__ = [
    "ChildInfo",
    "ChildSpec",
    "CountChildren",
    "DeleteChild",
    "RestartChild",
    "StartChild",
    "Supervisor",
    "SupervisorRef",
    "TerminateChild",
    "WhichChildren",
]

log = logging.getLogger("runtime.supervisor")

PERMANENT, TRANSIENT, TEMPORARY = "permanent", "transient", "temporary"
RESTART_TYPES = (PERMANENT, TRANSIENT, TEMPORARY)
BRUTAL_KILL, INFINITY = "brutal_kill", "infinity"
WORKER, SUPERVISOR = "worker", "supervisor"
KINDS = (WORKER, SUPERVISOR)
STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")

StartFn = Callable[["Node"], ActorRef]


@dataclass(frozen=True)
class ChildSpec:
    """OTP child spec. Refused at construction when any field is invalid.

    `start` is either an Actor subclass (spawned with `args`, `kwargs` and an
    optional registered `name`) or a callable `start(node) -> ActorRef` that spawns
    the child itself — OTP's {M, F, A}. `shutdown` is seconds, "brutal_kill" or
    "infinity"; left as None it is 5.0 for a worker and "infinity" for a
    supervisor, the OTP defaults.
    """

    id: str
    """Unique within the supervisor."""
    start: type[Actor] | StartFn
    """What to spawn (see class docstring)."""
    restart: str = PERMANENT
    """permanent | transient | temporary."""
    shutdown: float | str | None = None
    """Seconds to wait after asking it to stop, then kill; or brutal_kill / infinity."""
    kind: str = WORKER
    """worker | supervisor."""
    args: tuple[Any, ...] = ()
    """Positional constructor arguments (Actor-class start only)."""
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Keyword constructor arguments (Actor-class start only)."""
    name: str | None = None
    """Register the child under this node-wide name (Actor-class start only)."""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidChildSpec("ChildSpec.id", self.id, "is not a non-empty string")
        is_class = isinstance(self.start, type)
        if is_class and not issubclass(self.start, Actor):  # type: ignore[arg-type]
            raise InvalidChildSpec("ChildSpec.start", self.start, "is not a runtime.Actor subclass")
        if not callable(self.start):
            raise InvalidChildSpec(
                "ChildSpec.start", self.start, "is neither an Actor subclass nor a callable"
            )
        if self.restart not in RESTART_TYPES:
            raise InvalidChildSpec(
                "ChildSpec.restart", self.restart, "is not one of " + ", ".join(RESTART_TYPES)
            )
        if self.kind not in KINDS:
            raise InvalidChildSpec("ChildSpec.kind", self.kind, "is not one of worker, supervisor")
        if self.shutdown is None:
            object.__setattr__(self, "shutdown", INFINITY if self.kind == SUPERVISOR else 5.0)
        elif isinstance(self.shutdown, str):
            if self.shutdown not in (BRUTAL_KILL, INFINITY):
                raise InvalidChildSpec(
                    "ChildSpec.shutdown",
                    self.shutdown,
                    "is not seconds >= 0, brutal_kill or infinity",
                )
        elif (
            isinstance(self.shutdown, bool)
            or not isinstance(self.shutdown, int | float)
            or self.shutdown < 0
        ):
            raise InvalidChildSpec(
                "ChildSpec.shutdown", self.shutdown, "is not seconds >= 0, brutal_kill or infinity"
            )
        if not isinstance(self.args, tuple):
            raise InvalidChildSpec("ChildSpec.args", self.args, "is not a tuple")
        if not isinstance(self.kwargs, Mapping):
            raise InvalidChildSpec("ChildSpec.kwargs", self.kwargs, "is not a mapping")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise InvalidChildSpec("ChildSpec.name", self.name, "is not a non-empty string")
        if not is_class and (self.args or self.kwargs or self.name is not None):
            raise InvalidChildSpec(
                "ChildSpec.start",
                self.start,
                "is a callable; args/kwargs/name only apply to an Actor class",
            )


class ChildInfo(NamedTuple):
    """One row of `which_children`; `ref` is None while the child is not running."""

    id: str
    ref: ActorRef | None
    kind: str
    restart: str


@dataclass(frozen=True, slots=True)
class StartChild:
    spec: ChildSpec


@dataclass(frozen=True, slots=True)
class TerminateChild:
    id: str


@dataclass(frozen=True, slots=True)
class RestartChild:
    id: str


@dataclass(frozen=True, slots=True)
class DeleteChild:
    id: str


@dataclass(frozen=True, slots=True)
class WhichChildren:
    pass


@dataclass(frozen=True, slots=True)
class CountChildren:
    pass


@dataclass(frozen=True, slots=True)
class _TryAgainRestart:
    id: str


class _Child:
    __slots__ = ("actor", "restarting", "spec")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.actor: Actor | None = None
        self.restarting = False


def validate_flags(strategy: str, intensity: int, period: float) -> None:
    if strategy not in STRATEGIES:
        raise InvalidChildSpec(
            "Supervisor.strategy", strategy, "is not one of " + ", ".join(STRATEGIES)
        )
    if isinstance(intensity, bool) or not isinstance(intensity, int) or intensity < 0:
        raise InvalidChildSpec("Supervisor.intensity", intensity, "is not an integer >= 0")
    if isinstance(period, bool) or not isinstance(period, int | float) or period <= 0:
        raise InvalidChildSpec("Supervisor.period", period, "is not a number of seconds > 0")


class Supervisor(Actor):
    """An OTP supervisor as an actor. See the module docstring for the rules.

    Children listed at construction start in order inside `started()`; if one fails
    to start, those already started are stopped in reverse and the supervisor
    itself fails to start. Talk to a running one through `SupervisorRef`.
    """

    def __init__(
        self,
        children: Sequence[ChildSpec] = (),
        strategy: str = "one_for_one",
        intensity: int = 3,
        period: float = 5.0,
    ) -> None:
        super().__init__()
        validate_flags(strategy, intensity, period)
        ids = [c.id for c in children]
        for spec in children:
            if not isinstance(spec, ChildSpec):
                raise InvalidChildSpec("Supervisor.children", spec, "is not a ChildSpec")
            if ids.count(spec.id) > 1:
                raise InvalidChildSpec("ChildSpec.id", spec.id, "is used by two children")
        self.strategy = strategy
        self.intensity = intensity
        self.period = period
        self._initial = list(children)
        self._children: list[_Child] = []
        self._restarts: tuple[float, ...] = ()

    # --- lifecycle ------------------------------------------------------------------
    def started(self) -> None:
        for spec in self._initial:
            child = _Child(spec)
            try:
                self._start(child)
            except StartFailed:
                self._terminate(list(self._children))
                raise
            self._children.append(child)

    def stopped(self) -> None:
        self._terminate(list(self._children))

    def _rt_on_kill(self) -> None:
        for child in reversed(self._children):
            if child.actor is not None:
                child.actor._rt_kill()

    # --- messages ---------------------------------------------------------------------
    def receive(self, message: Any) -> Any:
        if type(message) is Down:
            self._on_down(message)
            return None
        if type(message) is _TryAgainRestart:
            child = self._find(message.id)
            if child is not None and child.restarting:
                self._restart(child, "try_again_restart")
            return None
        if type(message) is StartChild:
            return self._start_child(message.spec)
        if type(message) is TerminateChild:
            return self._terminate_child(message.id)
        if type(message) is RestartChild:
            return self._restart_child(message.id)
        if type(message) is DeleteChild:
            return self._delete_child(message.id)
        if type(message) is WhichChildren:
            return [
                ChildInfo(c.spec.id, c.actor.ref if c.actor else None, c.spec.kind, c.spec.restart)
                for c in self._children
            ]
        if type(message) is CountChildren:
            return {
                "specs": len(self._children),
                "active": sum(1 for c in self._children if c.actor is not None),
                "supervisors": sum(1 for c in self._children if c.spec.kind == SUPERVISOR),
                "workers": sum(1 for c in self._children if c.spec.kind == WORKER),
            }
        return super().receive(message)

    def _on_down(self, down: Down) -> None:
        local = down.ref._local()
        target = local._actor if local is not None else None
        child = next((c for c in self._children if c.actor is not None and c.actor is target), None)
        if child is None:
            return  # a child we stopped ourselves, or one that never started
        child.actor = None
        reason = down.reason
        restart = child.spec.restart
        if restart == PERMANENT or (restart == TRANSIENT and not is_normal_exit(reason)):
            self._report(child, reason)
            self._restart(child, reason)
        else:
            if not is_normal_exit(reason):
                self._report(child, reason)
            self._del_child(child)

    def _report(self, child: _Child, reason: Any) -> None:
        log.error(
            "supervisor %s: child %r (%s) terminated, reason=%r",
            self._rt_label(),
            child.spec.id,
            child.spec.restart,
            reason,
        )

    # --- restarting ----------------------------------------------------------------------
    def _restart(self, child: _Child, reason: Any) -> None:
        ok, self._restarts = add_restart(
            self._restarts, self.clock.now(), self.intensity, self.period
        )
        if not ok:
            log.error(
                "supervisor %s: reached max restart intensity (%d in %ss) on child %r "
                "(reason=%r); stopping all children and exiting",
                self._rt_label(),
                self.intensity,
                self.period,
                child.spec.id,
                reason,
            )
            child.restarting = False
            self._del_child(child)
            self.stop(Shutdown(RestartIntensityExceeded(self._rt_label(), child.spec.id, reason)))
            return
        if self.strategy == "one_for_one":
            group = [child]
        elif self.strategy == "one_for_all":
            group = list(self._children)
        else:
            group = self._children[self._children.index(child) :]
        self._terminate([c for c in group if c is not child])
        for member in [c for c in group if c in self._children]:
            member.restarting = False
            try:
                self._start(member)
            except StartFailed as exc:
                log.error(
                    "supervisor %s: restarting child %r failed: %r; will try again",
                    self._rt_label(),
                    member.spec.id,
                    exc.reason,
                )
                member.restarting = True
                self._rt_post(_TryAgainRestart(member.spec.id))
                return
            log.warning(
                "supervisor %s: restarted child %r (after reason=%r)",
                self._rt_label(),
                member.spec.id,
                reason,
            )

    def _start(self, child: _Child) -> None:
        """Spawn the child linked to us; raise StartFailed on any failure."""
        spec = child.spec
        saved = getattr(_spawn_ctx, "link", None)
        _spawn_ctx.link = self
        try:
            if isinstance(spec.start, type):
                ref: ActorRef = self.node._spawn(
                    spec.start, spec.args, dict(spec.kwargs), spec.name, top=False
                )
            else:
                ref = spec.start(self.node)
        except StartFailed:
            raise
        except Exception as exc:
            raise StartFailed(f"child {spec.id!r}", exc) from exc
        finally:
            _spawn_ctx.link = saved
        local = ref._local() if isinstance(ref, ActorRef) else None
        if local is None:
            raise StartFailed(f"child {spec.id!r}", TypeError(f"start returned {ref!r}"))
        actor = local._actor
        if actor is None:
            raise StartFailed(f"child {spec.id!r}", f"start returned an unresolved {ref!r}")
        # Recorded even if it already died: its Down (the link was set before its
        # thread started) is queued to us and is handled as an ordinary exit, as in OTP.
        child.actor = actor

    def _terminate(self, children: list[_Child]) -> None:
        """Stop children in reverse start order, each within its shutdown timeout."""
        for child in reversed(children):
            actor, child.actor = child.actor, None
            if actor is not None:
                shutdown = child.spec.shutdown
                if shutdown == BRUTAL_KILL:
                    actor._rt_kill()
                else:
                    timeout = None if shutdown == INFINITY else float(shutdown)  # type: ignore[arg-type]
                    self.node._stop_actor(actor, timeout)
            if child.spec.restart == TEMPORARY:
                self._del_child(child)

    def _del_child(self, child: _Child) -> None:
        child.actor = None
        if child.spec.restart == TEMPORARY and child in self._children:
            self._children.remove(child)

    def _find(self, child_id: str) -> _Child | None:
        return next((c for c in self._children if c.spec.id == child_id), None)

    # --- dynamic children -------------------------------------------------------------------
    def _start_child(self, spec: ChildSpec) -> ActorRef:
        if not isinstance(spec, ChildSpec):
            raise InvalidChildSpec("StartChild.spec", spec, "is not a ChildSpec")
        existing = self._find(spec.id)
        if existing is not None:
            state = "already started" if existing.actor is not None else "already present"
            raise SupervisorError(f"{self._rt_label()}: child {spec.id!r} {state}")
        child = _Child(spec)
        self._start(child)
        self._children.append(child)
        assert child.actor is not None
        return child.actor.ref

    def _terminate_child(self, child_id: str) -> None:
        child = self._find(child_id)
        if child is None:
            raise SupervisorError(f"{self._rt_label()}: no child {child_id!r}")
        child.restarting = False
        self._terminate([child])

    def _restart_child(self, child_id: str) -> ActorRef:
        child = self._find(child_id)
        if child is None:
            raise SupervisorError(f"{self._rt_label()}: no child {child_id!r}")
        if child.actor is not None:
            raise SupervisorError(f"{self._rt_label()}: child {child_id!r} is running")
        if child.restarting:
            raise SupervisorError(f"{self._rt_label()}: child {child_id!r} is restarting")
        self._start(child)
        assert child.actor is not None
        return child.actor.ref

    def _delete_child(self, child_id: str) -> None:
        child = self._find(child_id)
        if child is None:
            raise SupervisorError(f"{self._rt_label()}: no child {child_id!r}")
        if child.actor is not None:
            raise SupervisorError(f"{self._rt_label()}: child {child_id!r} is running")
        if child.restarting:
            raise SupervisorError(f"{self._rt_label()}: child {child_id!r} is restarting")
        self._children.remove(child)


class SupervisorRef(ActorRef):
    """An ActorRef to a supervisor, plus OTP's supervisor API as methods.

    Wraps any ActorRef (local or, later, remote); every call is an ask with a
    timeout, and a refusal arrives as SupervisorError / StartFailed.
    """

    __slots__ = ("_ref",)

    def __init__(self, ref: ActorRef) -> None:
        self._ref = ref

    @property
    def name(self) -> str | None:
        return self._ref.name

    def tell(self, message: Any) -> None:
        self._ref.tell(message)

    def ask(self, message: Any, timeout: float = 5.0) -> Any:
        return self._ref.ask(message, timeout)

    def ask_future(self, message: Any, timeout: float = 5.0) -> AskFuture:
        return self._ref.ask_future(message, timeout)

    def is_alive(self) -> bool:
        return self._ref.is_alive()

    @property
    def ref(self) -> ActorRef:
        return self._ref

    def _local(self) -> LocalActorRef | None:
        return self._ref._local()

    def _monitor(self, watcher: Actor, as_ref: ActorRef | None = None) -> None:
        self._ref._monitor(watcher, self if as_ref is None else as_ref)

    def _demonitor(self, watcher: Actor, as_ref: ActorRef | None = None) -> None:
        self._ref._demonitor(watcher, self if as_ref is None else as_ref)

    def start_child(self, spec: ChildSpec, timeout: float = 30.0) -> ActorRef:
        return self._ref.ask(StartChild(spec), timeout)  # type: ignore[no-any-return]

    def terminate_child(self, child_id: str, timeout: float = 30.0) -> None:
        self._ref.ask(TerminateChild(child_id), timeout)

    def restart_child(self, child_id: str, timeout: float = 30.0) -> ActorRef:
        return self._ref.ask(RestartChild(child_id), timeout)  # type: ignore[no-any-return]

    def delete_child(self, child_id: str, timeout: float = 5.0) -> None:
        self._ref.ask(DeleteChild(child_id), timeout)

    def which_children(self, timeout: float = 5.0) -> list[ChildInfo]:
        return self._ref.ask(WhichChildren(), timeout)  # type: ignore[no-any-return]

    def count_children(self, timeout: float = 5.0) -> dict[str, int]:
        return self._ref.ask(CountChildren(), timeout)  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SupervisorRef):
            return self._ref == other._ref
        return self._ref == other

    def __hash__(self) -> int:
        return hash(self._ref)

    def __repr__(self) -> str:
        return f"<SupervisorRef {self._ref!r}>"
