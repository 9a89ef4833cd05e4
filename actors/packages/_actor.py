"""``PackagesActor``: the repository list of the packages service, on the leading master.

```
 HTTP /package/repository/{list,add,delete} --(local ask)--> PackagesActor
                                                               | persist BEFORE replying
                                           zk.StateStore /cosmos: repositories
```

The list is read from ZooKeeper when the actor starts (a new leader starts with what
the old one stored) and seeded with the default repositories only when nothing was ever
stored (an empty list someone chose stays empty). A change is written to ZooKeeper
before it is answered, so a 200 always reports a persisted list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from runtime import Actor

from ._errors import PackagesError, ServiceUnavailable
from ._repos import Repos, add_repository, delete_repository, parse_stored

log = logging.getLogger("actors.packages")

PACKAGES_ACTOR = "packages"
REPOSITORIES_KEY = "repositories"


@dataclass(frozen=True, slots=True)
class GetRepositories:
    """HTTP layer -> actor (local ask): the repository list."""


@dataclass(frozen=True, slots=True)
class AddRepository:
    """HTTP layer -> actor (local ask): insert a repository the HTTP layer has already
    fetched and parsed (so a broken URI is refused before anything is stored)."""

    name: str
    uri: str
    index: Any = None


@dataclass(frozen=True, slots=True)
class DeleteRepository:
    name: str | None = None
    uri: str | None = None


@dataclass(frozen=True, slots=True)
class RepositoriesReply:
    """Actor -> HTTP layer: the list now, or the Cosmos error that refused the change."""

    repositories: tuple[dict[str, str], ...]
    error: dict[str, Any] | None = None
    status: int = 200


class PackagesActor(Actor):
    def __init__(self, store: Any, defaults: Repos) -> None:
        super().__init__()
        self.store = store
        self.defaults = [dict(r) for r in defaults]
        self.repos: Repos = []

    def started(self) -> None:
        doc = self.store.get(REPOSITORIES_KEY)
        if doc is None:
            self.repos = [dict(r) for r in self.defaults]
            self.store.put(REPOSITORIES_KEY, {"repositories": self.repos})
            log.info("packages: repositories seeded with %s", [r["name"] for r in self.repos])
            return
        try:
            self.repos = parse_stored(doc.value)
        except ValueError as exc:
            # Never overwrite what we cannot read: serve the defaults, say why.
            log.error("packages: stored repositories unreadable (%s); using defaults", exc)
            self.repos = [dict(r) for r in self.defaults]

    def _reply(self) -> RepositoriesReply:
        return RepositoriesReply(tuple(dict(r) for r in self.repos))

    def _change(self, repos: Repos) -> RepositoriesReply:
        try:
            self.store.put(REPOSITORIES_KEY, {"repositories": repos})
        except Exception as exc:  # ZooKeeper down or session lost: nothing changed
            err = ServiceUnavailable(f"the repository list could not be stored: {exc}")
            return RepositoriesReply(tuple(self.repos), err.body(), err.status)
        self.repos = repos
        return self._reply()

    def receive(self, message: Any) -> Any:
        try:
            if isinstance(message, GetRepositories):
                return self._reply()
            if isinstance(message, AddRepository):
                return self._change(
                    add_repository(self.repos, message.name, message.uri, message.index)
                )
            if isinstance(message, DeleteRepository):
                return self._change(delete_repository(self.repos, message.name, message.uri))
        except PackagesError as exc:
            return RepositoriesReply(tuple(self.repos), exc.body(), exc.status)
        return super().receive(message)
