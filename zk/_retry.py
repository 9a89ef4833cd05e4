"""One retry policy for every ZooKeeper call (in the style of kazoo's ``KazooRetry``)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from kazoo.exceptions import ConnectionLoss, OperationTimeoutError, SessionExpiredError
from kazoo.retry import KazooRetry

from zk._errors import ZkUnavailable

T = TypeVar("T")

#: Errors after which the same call may simply be tried again. As with kazoo's
#: ``ignore_expire``, SessionExpired is one: the client opens a new session by itself.
#: Code that owns ephemeral nodes (election, registry) learns of the loss from the
#: session listener and rebuilds them; a retried call never resurrects old state.
RETRYABLE: tuple[type[BaseException], ...] = (
    ConnectionLoss,
    OperationTimeoutError,
    SessionExpiredError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Tries, exponential backoff with jitter, and an overall deadline.

    ``max_tries=-1`` retries until the deadline. ``clock`` and ``sleep`` are injectable
    so tests can drive the policy without sleeping.
    """

    max_tries: int = 20
    delay: float = 0.05
    backoff: float = 2.0
    max_delay: float = 1.0
    jitter: float = 0.2
    deadline: float | None = 10.0
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def delays(self) -> list[float]:
        """Backoff delays before each retry, without jitter (for docs and tests)."""
        out: list[float] = []
        d = self.delay
        tries = self.max_tries if self.max_tries >= 0 else 10
        for _ in range(max(0, tries - 1)):
            out.append(min(d, self.max_delay))
            d *= self.backoff
        return out

    def __call__(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Call ``fn`` until it returns, retrying ``RETRYABLE`` errors under the policy."""
        start = self.clock()
        tries = 0
        d = self.delay
        while True:
            try:
                return fn(*args, **kwargs)
            except RETRYABLE as exc:
                tries += 1
                if self.max_tries >= 0 and tries >= self.max_tries:
                    raise ZkUnavailable(
                        f"{getattr(fn, '__name__', fn)} failed {tries} times: {exc!r}"
                    ) from exc
                pause = min(d, self.max_delay) * (1 + random.uniform(-self.jitter, self.jitter))
                if self.deadline is not None and self.clock() - start + pause > self.deadline:
                    raise ZkUnavailable(
                        f"{getattr(fn, '__name__', fn)} still failing after "
                        f"{self.deadline:.1f} s: {exc!r}"
                    ) from exc
                self.sleep(pause)
                d *= self.backoff

    def kazoo(self) -> KazooRetry:
        """The same policy as a ``KazooRetry`` (for the client's connection retry)."""
        return KazooRetry(
            max_tries=self.max_tries,
            delay=self.delay,
            backoff=int(self.backoff),
            max_jitter=self.jitter,
            max_delay=self.max_delay,
            deadline=self.deadline,
        )


DEFAULT_RETRY = RetryPolicy()
