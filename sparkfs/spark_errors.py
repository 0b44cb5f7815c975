"""Classify Spark and Delta failures by their types and error classes, not their messages.

Spark 4 errors carry an error class (``getCondition()``: ``PATH_NOT_FOUND``,
``DELTA_VERSION_NOT_FOUND``, ``FAILED_READ_FILE.CANNOT_READ_FILE_FOOTER``, ...) and Delta's
conflicts are exception types (``delta.exceptions.ConcurrentAppendException``); a failure
raised on the JVM reaches Python as a captured exception or a ``Py4JJavaError`` whose Java
cause chain holds both. :class:`SparkFailure` collects them once from the whole chain (Python
``__cause__``/``__context__`` and the Java ``getCause()`` chain), so callers ask
``failure.has_condition(...)`` instead of searching the message text, which changes between
versions and is translated by no one.

One thing has no type: an exception raised by sparkfs's own Python code on an executor comes
back as ``PythonException`` whose only content is the formatted traceback;
:func:`executor_error` reads the sparkfs error's class and message from its last line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SparkFailure", "executor_error"]

_MAX_CHAIN = 20


@dataclass(frozen=True)
class SparkFailure:
    """The error classes, exception class names and message parameters along a failure's chain."""

    conditions: frozenset[str]
    classes: frozenset[str]
    parameters: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, exc: BaseException) -> SparkFailure:
        conditions: set[str] = set()
        classes: set[str] = set()
        parameters: dict[str, str] = {}
        for error in _python_chain(exc):
            classes.update(k.__name__ for k in type(error).__mro__)
            _add_condition(conditions, _call(error, "getCondition"))
            parameters.update(_parameters(_call(error, "getMessageParameters")))
            for java in _java_chain(getattr(error, "_origin", None) or getattr(error, "java_exception", None)):
                name = _call(java.getClass(), "getName")
                if isinstance(name, str):
                    classes.add(name.rsplit(".", 1)[-1])
                _add_condition(conditions, _call(java, "getCondition"))
                parameters.update(_parameters(_call(java, "getMessageParameters")))
        return cls(frozenset(conditions), frozenset(classes), parameters)

    def has_condition(self, *names: str, prefixes: Iterable[str] = ()) -> bool:
        """True when an error class in the chain is one of ``names`` or starts with a prefix."""
        wanted = set(names)
        starts = tuple(prefixes)
        return any(c in wanted or (starts and c.startswith(starts)) for c in self.conditions)

    def has_class(self, *names: str) -> bool:
        """True when an exception in the chain (Python or Java, simple name) is one of ``names``."""
        return not self.classes.isdisjoint(names)


def executor_error(exc: BaseException, error_class: str) -> str | None:
    """The message of a sparkfs ``error_class`` (e.g. ``OnlineStoreError``) raised by Python
    code on an executor, from the ``PythonException`` that carries it back; None otherwise."""
    if not SparkFailure.of(exc).has_class("PythonException", "Py4JJavaError", "SparkException"):
        return None
    match = re.search(rf"\b{re.escape(error_class)}: (.+)", str(exc))
    return match.group(1).strip() if match else None


def _add_condition(into: set[str], condition: Any) -> None:
    """Add ``A.B`` as ``A.B``, ``A`` and ``B`` (a sub-class names the specific cause)."""
    if isinstance(condition, str) and condition:
        into.add(condition)
        into.update(condition.split("."))


def _parameters(value: Any) -> dict[str, str]:
    """A Python dict or a py4j ``JavaMap`` of message parameters, as text."""
    try:
        return {str(k): str(v) for k, v in value.items()} if value is not None else {}
    except Exception:  # parameters are a courtesy; the class and condition decide
        return {}


def _call(obj: Any, method: str) -> Any:
    fn = getattr(obj, method, None)
    if fn is None:
        return None
    try:
        return fn()
    except Exception:  # not a SparkThrowable, or the JVM object is gone
        return None


def _python_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < _MAX_CHAIN:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _java_chain(java: Any) -> Iterator[Any]:
    depth = 0
    while java is not None and depth < _MAX_CHAIN:
        yield java
        java = _call(java, "getCause")
        depth += 1
