"""The custom import-linter contract (.ci/import_contracts.py) on a small package tree made
here: what it lets through and what it reports, so a contract that passes for the wrong
reason (a rule that matches nothing) fails this test instead of passing silently."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "import_contracts", REPO / ".ci" / "import_contracts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


contracts = _load()


@pytest.mark.parametrize(
    ("module", "owner"),
    [
        ("actors.master._actor", "actors.master"),
        ("actors.master._actor.inner", "actors.master"),
        ("actors._validation", "actors"),
        ("runtime._clock", "runtime"),
        ("actors.master", None),
        ("actors.master.allocator", None),
        ("console.__main__", None),
        ("_top", ""),
    ],
)
def test_owner_of_is_the_package_before_the_first_private_segment(
    module: str, owner: str | None
) -> None:
    assert contracts.owner_of(module) == owner


FILES = {
    "pkg/__init__.py": "",
    "pkg/_shared.py": "",
    "pkg/a/__init__.py": "from pkg.a._impl import thing\n",
    "pkg/a/_impl.py": "thing = 1\nfrom pkg import _shared\n",
    "pkg/a/sub/__init__.py": "",
    "pkg/a/sub/mod.py": "from pkg.a import _impl\n",
    "pkg/b/__init__.py": "",
    "pkg/b/ok.py": "from pkg.a import thing\n",
    "pkg/b/bad.py": "import pkg.a._impl\n\n\ndef later():\n    from pkg.a._impl import thing\n",
    "scripts/run.py": (
        "from pkg.a import thing\nfrom pkg.a._impl import thing\nfrom pkg import _shared\n"
    ),
}


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "pkg" or m.startswith("pkg.")]:
            del sys.modules[name]


def test_private_imports_from_outside_the_owner_are_reported(tree: Path) -> None:
    graph = grimp.build_graph("pkg", cache_dir=None)
    found = {(v.importer, v.imported, v.line_numbers) for v in contracts.graph_violations(graph)}
    # pkg.a's __init__ and pkg.a.sub may use pkg.a._impl; pkg.a._impl may use pkg._shared
    # (it is inside pkg); pkg.b.ok uses the public name.
    assert found == {("pkg.b.bad", "pkg.a._impl", (1, 5))}


def test_scripts_are_held_to_the_same_rule(tree: Path) -> None:
    found = contracts.script_violations([str(tree / "scripts" / "*.py")], {"pkg"})
    assert [(v.imported, v.owner, v.line_numbers) for v in found] == [
        ("pkg.a._impl", "pkg.a", (2,)),
        ("pkg._shared", "pkg", (3,)),
    ]
    assert contracts.script_violations([str(tree / "scripts" / "*.py")], {"other"}) == []
