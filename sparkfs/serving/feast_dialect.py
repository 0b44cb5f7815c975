"""The Feast dialect of the lookup: what ``POST /get-online-features`` accepts beyond sparkfs's
own endpoint, how it names its columns, and which Feast exception each error becomes.

The contract is Feast 0.67's: its feature server (``feast serve``) and its HTTP client
(``online_store: type: remote``), which a Feast user points at sparkfs unchanged.

* **Entity values.** Feast converts each value to its key's type (Python's ``int()`` /
  ``str()``). sparkfs takes the conversions that cannot change which entity is read:
  ``"1"`` (a plain decimal string) and ``1.0`` (an integral number) for an integer key, ``1``
  for a string key. It refuses the lossy ones Feast would make quietly (``1.5`` -> 1,
  ``true`` -> 1, ``"01"`` -> 1, ``" 1"`` -> 1) with a 422 naming the value. Columns that
  no requested view is keyed by are ignored, as in Feast.
* **features and feature_service.** Feast serves the service when both are given and ignores
  ``features``. sparkfs does the same when ``features`` is empty or names the service's own
  columns, and refuses otherwise (a request whose features would be silently dropped).
* **Column names.** Entity keys, then ``feature`` (or ``view__feature`` with
  ``full_feature_names``); every name must be unique, else :class:`FeatureNameCollisionError`.
* **Errors.** The body is a JSON *string* holding ``{"module", "class", "message"}``; Feast's
  client imports ``module``, takes ``class`` from it and raises that with ``message``.

Nothing here imports FastAPI; the route in :mod:`sparkfs.serving.api.lookup` calls it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sparkfs.errors import (
    FeatureNameCollisionError,
    NotFoundError,
    SparkfsError,
    ValidationError,
)
from sparkfs.serving.catalog import Catalog
from sparkfs.serving.lookup import LookupPlan, plan_lookup

__all__ = [
    "check_column_names",
    "coerce_entities",
    "column_names",
    "feast_error_class",
    "feast_error_detail",
    "plan_feast_lookup",
]

_INT_TYPES = ("int32", "int64")
#: Integers a JSON number (a double) holds exactly.
_EXACT_FLOAT = 2**53
#: How ``str(int)`` prints: no sign but ``-``, no leading zero, no blank, no ``_``, ASCII only.
_PLAIN_INT = re.compile(r"0|-?[1-9][0-9]*")
#: Where Feast's client finds the classes named in an error body.
FEAST_ERRORS_MODULE = "feast.errors"


def plan_feast_lookup(catalog: Catalog, features: Sequence[str] | None,
                      feature_service: str | None) -> LookupPlan:
    """Resolve a Feast request's ``features`` / ``feature_service`` (an empty one counts as
    not given, as in Feast).

    Raises:
        ValidationError: neither given; both given and naming different features.
        NotFoundError: an unknown view, feature or service.
    """
    refs = list(features) if features else None
    service = feature_service or None
    if refs is not None and service is not None:
        plan = plan_lookup(catalog, None, service)
        if set(catalog.resolve(refs)) != set(plan.columns):
            raise ValidationError(
                "features / feature_service: both given and they name different features; "
                "Feast's server would serve feature_service and silently ignore features. "
                "Send one of them")
    else:
        plan = plan_lookup(catalog, refs, service)
    return plan


def column_names(plan: LookupPlan, full_feature_names: bool) -> list[str]:
    """``metadata.feature_names``: entity key columns, then one per feature."""
    return [*plan.key_types, *(c.full_name if full_feature_names else c.feature
                               for c in plan.columns)]


def check_column_names(plan: LookupPlan, full_feature_names: bool) -> None:
    """Refuse a response that would name two columns alike (Feast's client would keep one of
    them under that name: silently the wrong value for the other).

    Raises:
        FeatureNameCollisionError: naming the duplicates, where they come from and what to do.
    """
    names = column_names(plan, full_feature_names)
    duplicates = [name for name, n in Counter(names).items() if n > 1]
    if not duplicates:
        return
    sources = [f"entity key {k}" for k in plan.key_types if k in duplicates]
    sources += [c.ref for c in plan.columns
                if (c.full_name if full_feature_names else c.feature) in duplicates]
    fix = ("rename one of the views or features" if full_feature_names else
           "set full_feature_names: true to name the columns view__feature, or request "
           "features with distinct names")
    raise FeatureNameCollisionError(
        f"Duplicate features named {', '.join(duplicates)} found (from {', '.join(sources)}); "
        f"a response names each column once, so one of the values would be lost: {fix}")


def coerce_entities(plan: LookupPlan, entities: Mapping[str, Sequence[Any]]
                    ) -> dict[str, Sequence[Any]]:
    """The key columns of the requested views, each value converted to its key's type where
    the conversion is lossless (see the module docstring); other columns are dropped. A
    missing column is left to the lookup's validation (which names it).

    Raises:
        ValidationError: a value Feast would convert lossily (names ``entities.<col>[<row>]``).
    """
    out: dict[str, Sequence[Any]] = {}
    for name, dtype in plan.key_types.items():
        values = entities.get(name)
        if values is None:
            continue
        want_int = dtype in _INT_TYPES
        if all(v is None or type(v) is (int if want_int else str) for v in values):
            out[name] = values  # the common case: already typed
        else:
            out[name] = [_coerce(name, i, v, want_int) for i, v in enumerate(values)]
    return out


def _coerce(name: str, index: int, value: Any, want_int: bool) -> Any:
    kind = type(value)
    if want_int:
        if kind is str and _PLAIN_INT.fullmatch(value):
            return int(value)
        if kind is float and value.is_integer() and abs(value) <= _EXACT_FLOAT:
            return int(value)
        if kind in (int, type(None)):
            return value
        hint = "send an integer or its plain decimal string (\"1\")"
        want = "an integer (int64)"
    else:
        if kind is int:
            return str(value)
        if kind in (str, type(None)):
            return value
        hint = "send a string (or an integer, read as its decimal string)"
        want = "a string"
    raise ValidationError(f"entities.{name}[{index}]: {json.dumps(value)} is not {want}; "
                          f"{hint}. Feast would convert it lossily, sparkfs refuses it")


def feast_error_class(exc: SparkfsError) -> str:
    """The class of :data:`FEAST_ERRORS_MODULE` that Feast's client raises for ``exc``.

    Feast's own classes where Feast has one for the situation; ``FeastError`` (their root)
    otherwise, where Feast's server would answer with a bare string that its client turns
    into a ``RuntimeError``.
    """
    if isinstance(exc, NotFoundError):
        return {"feature_view": "FeatureViewNotFoundException",
                "feature_service": "FeatureServiceNotFoundException"}.get(
                    exc.kind or "", "FeastObjectNotFoundException")
    if isinstance(exc, FeatureNameCollisionError):
        return "FeatureNameCollisionError"
    if exc.http_status in (401, 403):
        return "FeastPermissionError"
    return "FeastError"


def feast_error_detail(exc: SparkfsError) -> str:
    """Feast's error detail: a JSON document with ``module``, ``class`` and ``message`` (sent
    as a JSON string, as Feast's server does)."""
    return json.dumps({"module": FEAST_ERRORS_MODULE, "class": feast_error_class(exc),
                       "message": str(exc)})
