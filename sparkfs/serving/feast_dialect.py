"""The Feast dialect of the lookup: what ``POST /get-online-features`` accepts beyond sparkfs's
own endpoint, how it names its columns, and which Feast exception each error becomes.

The contract is Feast 0.67's: its feature server (``feast serve``) and its HTTP client
(``online_store: type: remote``), which a Feast user points at sparkfs unchanged.

* **Entity values.** Feast converts each value to its key's type (Python's ``int()`` /
  ``str()``). sparkfs takes the conversions that cannot change which entity is read:
  ``"1"`` (a plain decimal string) and ``1.0`` (an integral number) for an integer key, ``1``
  for a string key. It refuses the lossy ones Feast would make quietly (``1.5`` -> 1,
  ``true`` -> 1, ``"01"`` -> 1, ``" 1"`` -> 1) with a 422 naming the value. As in Feast, a
  column that is a key of some served view but not of the requested ones is echoed, and a
  column that is no key at all is ignored.
* **features and feature_service.** Feast serves the service when both are given and ignores
  ``features``. sparkfs does the same when ``features`` is empty or names the service's own
  columns, and refuses otherwise (a request whose features would be silently dropped).
* **Column names.** Entity keys in request order, then ``feature`` (or ``view__feature`` with
  ``full_feature_names``); every name must be unique, else :class:`FeatureNameCollisionError`.
* **Errors.** The body is a JSON *string* holding ``{"module", "class", "message"}``; Feast's
  client imports ``module``, takes ``class`` from it and raises that with ``message``.

Nothing here imports FastAPI; the route in :mod:`sparkfs.serving.api.lookup` calls it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sparkfs.echo import excerpt, short_message
from sparkfs.errors import (
    FeatureNameCollisionError,
    NotFoundError,
    SparkfsError,
    ValidationError,
)
from sparkfs.pipeline.serving_catalog import Catalog
from sparkfs.serving.lookup import LookupPlan, plan_lookup

__all__ = [
    "check_column_names",
    "entity_columns",
    "feast_error_class",
    "feast_error_detail",
    "feature_names",
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


def feature_names(plan: LookupPlan, full_feature_names: bool) -> list[str]:
    """The feature columns' names: ``feature``, or ``view__feature`` with full names."""
    return [c.full_name if full_feature_names else c.feature for c in plan.columns]


def check_column_names(keys: Iterable[str], plan: LookupPlan, full_feature_names: bool) -> None:
    """Refuse a response that would name two columns alike (Feast's client would keep one of
    them under that name: silently the wrong value for the other).

    Raises:
        FeatureNameCollisionError: naming the duplicates, where they come from and what to do.
    """
    keys = list(keys)
    features = feature_names(plan, full_feature_names)
    duplicates = [name for name, n in Counter([*keys, *features]).items() if n > 1]
    if not duplicates:
        return
    sources = [f"entity key {k}" for k in keys if k in duplicates]
    sources += [c.ref for c, name in zip(plan.columns, features, strict=True) if name in duplicates]
    fix = ("rename one of the views or features" if full_feature_names else
           "set full_feature_names: true to name the columns view__feature, or request "
           "features with distinct names")
    raise FeatureNameCollisionError(
        f"Duplicate features named {', '.join(duplicates)} found (from {', '.join(sources)}); "
        f"a response names each column once, so one of the values would be lost: {fix}")


def entity_columns(catalog: Catalog, plan: LookupPlan, entities: Mapping[str, Sequence[Any]]
                   ) -> dict[str, Sequence[Any]]:
    """The entity columns a Feast response echoes, in request order, each value converted to
    its key's type where lossless (see the module docstring): the requested views' keys and,
    as Feast does, any other column that is a key of a served view. Other columns are dropped
    (Feast ignores them too); a missing key is left to the lookup's validation (which names it).

    Raises:
        ValidationError: a value Feast would convert lossily (names ``entities.<col>[<row>]``),
            or columns of unequal length.
    """
    out: dict[str, Sequence[Any]] = {}
    for name, values in entities.items():
        dtype = plan.key_types.get(name) or _served_key_type(catalog, name)
        if dtype is not None:
            out[name] = _coerce_column(name, dtype, values)
    if len({len(v) for v in out.values()}) > 1:
        raise ValidationError("entities: key columns must be parallel lists of one length, got "
                              + ", ".join(f"{k}={len(v)}" for k, v in out.items()))
    return out


def _served_key_type(catalog: Catalog, name: str) -> str | None:
    for view in catalog.views.values():
        for key in view.online.keys:
            if key.name == name:
                return key.dtype
    return None


def _coerce_column(name: str, dtype: str, values: Sequence[Any]) -> Sequence[Any]:
    want_int = dtype in _INT_TYPES
    if all(v is None or type(v) is (int if want_int else str) for v in values):
        return values  # the common case: already typed
    return [_coerce(name, i, v, want_int) for i, v in enumerate(values)]


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
    raise ValidationError(f"entities.{name}[{index}]: {excerpt(json.dumps(value), quote=False)} is not {want}; "
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
                       "message": short_message(str(exc))})
