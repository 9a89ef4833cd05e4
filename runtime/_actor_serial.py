"""Serialisation rules of cluster actors (pure: pickle, and cloudpickle on demand).

* Arguments and results: ``pickle`` (protocol 5), falling back to ``cloudpickle`` for
  lambdas and classes defined in ``__main__``; what neither can pickle is refused
  *before sending* with ``SerializationError`` naming the argument.
* Classes: by import path ``module:QualName`` when the worker can import it, by value
  (cloudpickle) when defined in ``__main__`` (a script run as a program).
* The method table: public callables, and which are ``async def``; a handle refuses any
  other name at once (``AttributeError``), without a round trip.
"""

from __future__ import annotations

import pickle
from typing import Any

from runtime.errors import RuntimeSystemError

__all__ = [
    "ActorError",
    "SerializationError",
    "class_name_of",
    "class_payload",
    "dumps",
    "dumps_call",
    "load_class",
    "loads",
    "method_table",
]


class ActorError(RuntimeSystemError):
    """Root of the cluster-actor errors a script sees."""


class SerializationError(ActorError, TypeError):
    """A value cannot travel: nothing was sent."""


def dumps(value: Any, what: str) -> bytes:
    """Pickle ``value``; ``what`` names it in the error (``argument 2 of Counter.incr``)."""
    try:
        return pickle.dumps(value, protocol=5)
    except Exception as first:
        try:
            import cloudpickle

            return bytes(cloudpickle.dumps(value, protocol=5))
        except Exception as exc:
            raise SerializationError(
                f"{what} cannot be serialised: {type(exc).__name__}: {exc}"
            ) from first


def dumps_call(args: tuple[Any, ...], kwargs: dict[str, Any], what: str) -> bytes:
    """The payload of a call: ``(args, kwargs)``; a failure names the culprit."""
    try:
        return pickle.dumps((args, kwargs), protocol=5)
    except Exception:
        pass
    for i, a in enumerate(args):
        dumps(a, f"argument {i + 1} of {what} ({type(a).__name__})")
    for k, v in kwargs.items():
        dumps(v, f"keyword argument {k!r} of {what} ({type(v).__name__})")
    return dumps((args, kwargs), f"the arguments of {what}")


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def class_name_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def class_payload(cls: type) -> tuple[str, bytes]:
    """(``module:QualName``, blob): the blob is the class by value (cloudpickle) for
    classes defined in ``__main__`` or in a function, b"" for importable ones."""
    name = class_name_of(cls)
    if cls.__module__ != "__main__" and "<locals>" not in cls.__qualname__:
        return name, b""
    try:
        import cloudpickle

        return name, bytes(cloudpickle.dumps(cls, protocol=5))
    except Exception as exc:
        raise SerializationError(
            f"class {cls.__qualname__} cannot be serialised: {type(exc).__name__}: {exc}"
        ) from exc


def load_class(class_name: str, blob: bytes) -> type:
    """The class back on the worker (ImportError/AttributeError say what is missing)."""
    if blob:
        cls = pickle.loads(blob)
    else:
        module, _, qual = class_name.partition(":")
        if not module or not qual:
            raise ImportError(f"class {class_name!r} is not module:QualName")
        import importlib

        obj: Any = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
        cls = obj if isinstance(obj, type) else getattr(obj, "cls", obj)  # @remote
    if not isinstance(cls, type):
        raise TypeError(f"{class_name} is not a class but {type(cls).__name__}")
    return cls


def method_table(cls: type) -> tuple[list[str], list[str]]:
    """(public method names, the ``async def`` ones), sorted."""
    import inspect

    methods: list[str] = []
    asyncs: list[str] = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        fn = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
        if not callable(fn):
            continue
        methods.append(name)
        if inspect.iscoroutinefunction(fn):
            asyncs.append(name)
    return methods, asyncs
