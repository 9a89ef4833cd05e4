"""One root exception per package: a caller catches "anything runtime / transport / zk
refused" with one except clause, and never swallows errors of actor code that way."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    ("package", "root"),
    [("runtime", "RuntimeSystemError"), ("transport", "TransportError"), ("zk", "ZkError")],
)
def test_every_exception_a_package_defines_derives_from_its_root(package: str, root: str) -> None:
    mod = importlib.import_module(package)
    base = getattr(mod, root)
    own = [
        obj
        for name in mod.__all__
        if isinstance(obj := getattr(mod, name), type)
        and issubclass(obj, BaseException)
        and obj.__module__.split(".")[0] == package
    ]
    assert base in own and len(own) > 1
    assert [cls.__name__ for cls in own if not issubclass(cls, base)] == []
