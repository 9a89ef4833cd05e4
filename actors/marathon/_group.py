"""Groups: the tree of apps Marathon deploys as a whole, and its dependency order.

A deployment plan is computed from two root groups (now and wanted), so the tree is the
unit of desired state. Dependencies may name an app or a whole group; a group's own
dependencies apply to every app inside it. Apps start in dependency order and stop in
reverse, which is what `dependency_levels` gives the planner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from actors._validation import json_problems

from ._app import AppDefinition
from ._errors import InvalidPath, ValidationFailed
from ._paths import ROOT, is_ancestor, normalize_path, parent_of
from ._pods import PodDefinition

_GROUP_FIELDS = frozenset({"id", "apps", "pods", "groups", "dependencies", "version"})


def _prefixed(exc: ValidationFailed, prefix: str) -> list[tuple[str, str]]:
    return [
        (prefix + ("" if d["path"] == "/" else d["path"]), message)
        for d in exc.details
        for message in d["errors"]
    ]


def _count_apps(data: Any) -> int:
    """Apps in a group document and all its sub-groups (iterative: no recursion)."""
    count, stack = 0, [data]
    while stack:
        doc = stack.pop()
        if not isinstance(doc, Mapping):
            continue
        apps, groups = doc.get("apps"), doc.get("groups")
        count += len(apps) if isinstance(apps, list) else 0
        stack.extend(groups if isinstance(groups, list) else ())
    return count


def _pods(
    raw: list[Any], group_id: str, version: str | None, where: str, problems: list[tuple[str, str]]
) -> list[AppDefinition]:
    """A group document's ``pods`` (Marathon's; in the tree they sit with the apps)."""
    out: list[AppDefinition] = []
    for index, doc in enumerate(raw):
        try:
            pod = PodDefinition.from_json(doc, base=group_id, version=version)
        except ValidationFailed as exc:
            problems.extend(_prefixed(exc, f"{where}/pods/{index}"))
            continue
        if parent_of(pod.id) != group_id:
            problems.append(
                (f"{where}/pods/{index}/id", f"pod {pod.id} is not a child of {group_id}")
            )
        out.append(pod)
    return out


@dataclass(frozen=True)
class Group:
    """An immutable group: apps and sub-groups directly inside `id`, plus dependencies."""

    id: str = ROOT
    apps: tuple[AppDefinition, ...] = ()
    groups: tuple[Group, ...] = ()
    dependencies: tuple[str, ...] = ()
    version: str | None = None

    @classmethod
    def from_json(
        cls,
        data: Mapping[str, Any],
        *,
        base: str = ROOT,
        version: str | None = None,
        max_apps: int | None = None,
    ) -> Group:
        """Parse a group document (`POST /v2/groups`), validating every app in it.

        Apps and sub-groups must be direct children of the group, ids unique; all
        problems are reported together with paths like `/groups/0/apps/1/instances`.
        `max_apps` bounds the apps of the whole document (the API passes
        `MAX_GROUP_APPS`; the stored root, grown one app at a time, has no bound).
        """
        problems = json_problems(data)
        if problems:
            raise ValidationFailed(problems)
        if max_apps is not None:
            count = _count_apps(data)
            if count > max_apps:
                raise ValidationFailed.single(
                    "/apps", f"the group holds {count} apps: at most {max_apps} are allowed"
                )
        group = cls._parse(data, base, version, "", problems)
        if problems or group is None:
            raise ValidationFailed(problems)
        return group

    @classmethod
    def _parse(
        cls,
        data: Any,
        base: str,
        version: str | None,
        where: str,
        problems: list[tuple[str, str]],
    ) -> Group | None:
        if not isinstance(data, Mapping):
            problems.append((where or "/", "a group must be a JSON object"))
            return None
        for key in sorted(set(data) - _GROUP_FIELDS):
            problems.append((f"{where}/{key}", f"unknown field {key!r}"))
        raw_id = data.get("id", base)
        if not isinstance(raw_id, str):
            problems.append((f"{where}/id", f"a group id must be a string, got {raw_id!r:.60}"))
            return None
        for key in ("apps", "pods", "groups", "dependencies"):
            if not isinstance(data.get(key, []), list):
                problems.append((f"{where}/{key}", f"{key} must be a JSON array"))
                return None
        try:
            group_id = normalize_path(raw_id, base)
        except InvalidPath as exc:
            problems.append((f"{where}/id", str(exc)))
            return None
        apps: list[AppDefinition] = []
        for index, raw in enumerate(data.get("apps", [])):
            try:
                app = AppDefinition.from_json(raw, base=group_id, version=version)
            except ValidationFailed as exc:
                problems.extend(_prefixed(exc, f"{where}/apps/{index}"))
                continue
            if parent_of(app.id) != group_id:
                problems.append(
                    (f"{where}/apps/{index}/id", f"app {app.id} is not a child of {group_id}")
                )
            apps.append(app)
        apps.extend(_pods(data.get("pods", []), group_id, version, where, problems))
        groups: list[Group] = []
        for index, raw in enumerate(data.get("groups", [])):
            sub = cls._parse(raw, group_id, version, f"{where}/groups/{index}", problems)
            if sub is None:
                continue
            if parent_of(sub.id) != group_id or sub.id == group_id:
                problems.append(
                    (f"{where}/groups/{index}/id", f"group {sub.id} is not a child of {group_id}")
                )
            groups.append(sub)
        seen: set[str] = set()
        for child in [a.id for a in apps] + [g.id for g in groups]:
            if child in seen:
                problems.append((f"{where}/id", f"{child} is defined twice"))
            seen.add(child)
        dependencies: list[str] = []
        for index, dep in enumerate(data.get("dependencies", [])):
            try:
                dependencies.append(normalize_path(str(dep), parent_of(group_id), climb=True))
            except InvalidPath as exc:
                problems.append((f"{where}/dependencies/{index}", str(exc)))
        return cls(
            id=group_id,
            apps=tuple(apps),
            groups=tuple(groups),
            dependencies=tuple(dependencies),
            version=version if version is not None else data.get("version"),
        )

    def to_json(self) -> dict[str, Any]:
        """Marathon's `GET /v2/groups` shape (recursive)."""
        out: dict[str, Any] = {
            "id": self.id,
            "apps": [a.to_json() for a in self.apps if not isinstance(a, PodDefinition)],
            "pods": [a.to_json() for a in self.apps if isinstance(a, PodDefinition)],
            "groups": [g.to_json() for g in self.groups],
            "dependencies": list(self.dependencies),
        }
        if self.version is not None:
            out["version"] = self.version
        return out

    # ---------------------------------------------------------------- queries

    def walk(self) -> Iterator[Group]:
        """This group and every group below it, parents first."""
        yield self
        for sub in self.groups:
            yield from sub.walk()

    def transitive_apps(self) -> dict[str, AppDefinition]:
        """Every app in the tree by id."""
        return {app.id: app for group in self.walk() for app in group.apps}

    def app(self, app_id: str) -> AppDefinition | None:
        """The app with this id anywhere in the tree, or None."""
        return self.transitive_apps().get(app_id)

    def find_group(self, group_id: str) -> Group | None:
        """The group with this id anywhere in the tree (this one included), or None."""
        for g in self.walk():
            if g.id == group_id:
                return g
        return None

    # ---------------------------------------------------------------- updates

    def put_app(self, app: AppDefinition) -> Group:
        """A tree with `app` added or replaced, creating missing groups on the way."""
        if parent_of(app.id) == self.id:
            kept = tuple(a for a in self.apps if a.id != app.id)
            return dataclasses.replace(self, apps=(*kept, app))
        for index, sub in enumerate(self.groups):
            if sub.id == app.id or is_ancestor(sub.id, app.id):
                groups = list(self.groups)
                groups[index] = sub.put_app(app)
                return dataclasses.replace(self, groups=tuple(groups))
        child_id = self._child_towards(app.id)
        return dataclasses.replace(self, groups=(*self.groups, Group(id=child_id).put_app(app)))

    def remove_app(self, app_id: str) -> Group:
        """A tree without the app (unchanged if absent); empty groups are kept."""
        return dataclasses.replace(
            self,
            apps=tuple(a for a in self.apps if a.id != app_id),
            groups=tuple(g.remove_app(app_id) for g in self.groups),
        )

    def replace_group(self, group: Group) -> Group:
        """A tree with the subtree at ``group.id`` replaced (missing groups created)."""
        if group.id == self.id:
            return group
        for index, sub in enumerate(self.groups):
            if sub.id == group.id or is_ancestor(sub.id, group.id):
                groups = list(self.groups)
                groups[index] = sub.replace_group(group)
                return dataclasses.replace(self, groups=tuple(groups))
        child = Group(id=self._child_towards(group.id))
        return dataclasses.replace(self, groups=(*self.groups, child.replace_group(group)))

    def remove_group(self, group_id: str) -> Group:
        """A tree without the group ``group_id`` and everything in it (unchanged if absent)."""
        return dataclasses.replace(
            self,
            groups=tuple(g.remove_group(group_id) for g in self.groups if g.id != group_id),
        )

    def _child_towards(self, path: str) -> str:
        rest = path[len(self.id) :].strip("/") if self.id != ROOT else path.strip("/")
        first = rest.split("/", 1)[0]
        return f"{self.id.rstrip('/')}/{first}"


def app_dependencies(root: Group) -> dict[str, frozenset[str]]:
    """For every app, the apps it must wait for.

    A dependency on a path means every app at or below it; a group's dependencies are
    inherited by all apps inside it. Dependencies naming nothing in the tree are
    ignored for ordering (they may be created by a later deployment).
    """
    apps = root.transitive_apps()

    def expand(path: str) -> set[str]:
        return {a for a in apps if a == path or is_ancestor(path, a)}

    inherited: dict[str, set[str]] = {}

    def visit(group: Group, from_parents: frozenset[str]) -> None:
        deps = from_parents | frozenset(group.dependencies)
        for app in group.apps:
            inherited[app.id] = set(deps) | set(app.dependencies)
        for sub in group.groups:
            visit(sub, deps)

    visit(root, frozenset())
    result: dict[str, frozenset[str]] = {}
    for app_id, paths in inherited.items():
        targets: set[str] = set()
        for path in paths:
            targets |= expand(path)
        targets.discard(app_id)
        result[app_id] = frozenset(targets)
    return result


def dependency_levels(root: Group) -> tuple[tuple[str, ...], ...]:
    """Apps in start order: level 0 depends on nothing, level n only on levels < n.

    Apps in one level may start in parallel (Marathon deploys them in one step). A
    cycle raises `ValidationFailed`, as Marathon refuses cyclic groups.
    """
    deps = app_dependencies(root)
    level: dict[str, int] = {}
    remaining = dict(deps)
    while remaining:
        ready = [a for a, d in remaining.items() if all(x in level for x in d)]
        if not ready:
            cycle = ", ".join(sorted(remaining))
            raise ValidationFailed.single(
                "/dependencies", f"dependency graph has a cycle among: {cycle}"
            )
        for app_id in ready:
            level[app_id] = 1 + max((level[d] for d in remaining[app_id]), default=-1)
            del remaining[app_id]
    depth = max(level.values(), default=-1) + 1
    return tuple(tuple(sorted(a for a, n in level.items() if n == i)) for i in range(depth))
