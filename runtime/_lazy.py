"""PEP 562 hooks for a package ``__init__`` that exports names from its modules lazily.

Why: importing a pure decision module (``actors.marathon._plan``, ``actors.protocol``)
runs the ``__init__`` of every package above it; if those imported their whole package
eagerly, a pure module would load ZeroMQ, kazoo and aiohttp. With these hooks a package
name is imported from its module on first use and then cached in the package's
namespace, so later lookups (and module-level ``from pkg import X``) cost nothing.

``transport`` and ``zk`` keep their own ten lines: they sit below ``runtime`` and import
nothing of the project.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, where: Mapping[str, str], renamed: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``where`` maps each exported name to
    its module (absolute, or relative to the package with a leading dot); ``renamed``
    maps an exported name to the module's own name for it."""
    namespace = sys.modules[package].__dict__
    aliases = dict(renamed or {})

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), aliases.get(name, name))
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
