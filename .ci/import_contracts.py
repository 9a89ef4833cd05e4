"""A custom import-linter contract: a package's `_private` modules are its own.

import-linter's built-in contracts name modules one by one (its wildcards replace whole
module names, so `actors.master._*` cannot be written), which would let every new private
module slip through. This contract states the rule once, for every module:

    a module whose dotted path has a segment starting with one underscore (`actors.master._actor`,
    `runtime._clock`, `actors._validation`) may be imported only from inside the package that
    holds that segment (`actors.master`, `runtime`, `actors`), including that package's
    `__init__`, which is where the public name is re-exported.

Scripts that are not packages (bench/*.py) are outside grimp's graph, so the contract also
parses the files named in `scripts` and holds them to the same rule: a script is inside no
package, so every private import there is a violation.

Loaded by `lint-imports` from `[tool.importlinter]` in pyproject.toml; the Makefile puts `.ci`
on PYTHONPATH for it (`make imports`).
"""

from __future__ import annotations

import ast
import glob
from dataclasses import dataclass
from typing import cast

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils


def owner_of(module: str) -> str | None:
    """The package a module is private to, or None when every segment is public.

    The owner is the path before the first `_name` segment (dunder names such as `__main__`
    are public): `actors.master._actor.x` -> `actors.master`, `actors._validation` -> `actors`.
    """
    parts = module.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def is_inside(module: str, package: str) -> bool:
    """True when `module` is `package` itself or one of its descendants."""
    return module == package or module.startswith(package + ".")


@dataclass(frozen=True)
class Violation:
    importer: str
    imported: str
    owner: str
    line_numbers: tuple[int, ...]


def graph_violations(graph: grimp.ImportGraph) -> list[Violation]:
    """Every import in the graph of a private module from outside the package that owns it."""
    found: list[Violation] = []
    for imported in sorted(graph.modules):
        owner = owner_of(imported)
        if owner is None:
            continue
        for importer in sorted(graph.find_modules_that_directly_import(imported)):
            if is_inside(importer, owner):
                continue
            details = graph.get_import_details(importer=importer, imported=imported)
            lines = tuple(sorted({d["line_number"] for d in details}))
            found.append(Violation(importer, imported, owner, lines))
    return found


def _imported_names(tree: ast.AST) -> list[tuple[str, int]]:
    """(dotted module path, line) for every absolute import in a parsed file.

    `from a import _b` yields `a._b` as well as `a`: whether `_b` is a module or a name, it
    is private to `a` either way (`from a._b import c` yields `a._b` alone: one row per import).
    """
    names: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.module, node.lineno))
            if owner_of(node.module) is None:
                names.extend((f"{node.module}.{alias.name}", node.lineno) for alias in node.names)
    return names


def script_violations(patterns: list[str], roots: set[str]) -> list[Violation]:
    """Every import of a root package's private module from the scripts matched by `patterns`."""
    found: list[Violation] = []
    for pattern in patterns:
        for path in sorted(glob.glob(pattern, recursive=True)):
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), filename=path)
            for name, line in _imported_names(tree):
                owner = owner_of(name)
                if owner is None or name.split(".")[0] not in roots:
                    continue
                found.append(Violation(path, name, owner, (line,)))
    return found


class PrivateModulesContract(Contract):
    """No module imports another package's `_private` module.

    Configuration options:
        - scripts:        Glob patterns of plain script files (not packages) to hold to the
                          same rule, e.g. "bench/*.py". (Optional.)
        - ignore_imports: ImportExpressions to let through while they are being fixed.
                          (Optional.)
    """

    type_name = "private_modules"

    scripts = fields.ListField(subfield=fields.StringField(), required=False)
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)
    unmatched_ignore_imports_alerting = fields.EnumField(
        contract_utils.AlertLevel, default=contract_utils.AlertLevel.ERROR
    )

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph,
            ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=self.unmatched_ignore_imports_alerting,  # type: ignore[arg-type]
        )
        roots = {module.split(".")[0] for module in graph.modules}
        violations = graph_violations(graph)
        scripts = cast("list[str] | None", self.scripts) or []
        violations += script_violations(scripts, roots)
        return ContractCheck(
            kept=not violations,
            warnings=list(removal.warnings),
            ignored_import_count=removal.ignored_import_count,
            metadata={"violations": violations},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        violations: list[Violation] = check.metadata["violations"]
        by_owner: dict[str, list[Violation]] = {}
        for violation in violations:
            by_owner.setdefault(violation.owner, []).append(violation)
        for owner in sorted(by_owner):
            output.print_error(
                f"Private modules of {owner} imported from outside it "
                f"(import from `{owner}` instead; export the name from its __init__):",
                bold=False,
            )
            output.new_line()
            for v in by_owner[owner]:
                lines = ", ".join(map(str, v.line_numbers))
                output.print_error(f"- {v.importer} -> {v.imported} (l.{lines})", bold=False)
            output.new_line()
