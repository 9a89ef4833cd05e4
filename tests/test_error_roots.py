"""One root exception per package (issue 18): every exception class a package's modules
define derives from the package's root, so a caller can catch "anything Marathon refused"
with one except clause. Checked over every module, not only the exported names."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

ROOTS = [
    ("actors.agent", "AgentError"),
    ("actors.cluster_actors", "ClusterActorsError"),
    ("actors.dns", "DnsError"),
    ("actors.framework", "FrameworkToolkitError"),
    ("actors.gateway", "GatewayError"),
    ("actors.iam", "IamError"),
    ("actors.l4lb", "L4lbError"),
    ("actors.logs", "LogsError"),
    ("actors.marathon", "MarathonError"),
    ("actors.master", "MasterError"),
    ("actors.mesos_api", "MesosApiError"),
    ("actors.metrics", "MetricsError"),
    ("actors.metronome", "MetronomeError"),
    ("actors.packages", "PackagesError"),
    ("actors.sdk", "SdkError"),
    ("console", "ConsoleError"),
    ("zk", "ZkError"),
]


def defined_exceptions(package: str) -> list[type]:
    pkg = importlib.import_module(package)
    found = []
    for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{package}."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found.append(obj)
    return found


@pytest.mark.parametrize(("package", "root"), ROOTS)
def test_every_exception_a_package_defines_derives_from_its_root(package: str, root: str) -> None:
    base = getattr(importlib.import_module(package), root)
    own = defined_exceptions(package)
    assert base in own and len(own) > 1
    strays = [f"{cls.__module__}.{cls.__qualname__}" for cls in own if not issubclass(cls, base)]
    assert strays == []
