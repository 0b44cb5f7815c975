"""Turn a :class:`LookupResult` into the two response shapes: sparkfs rows and Feast columns.

Plain dicts rather than model instances (building thousands of small model objects per request
would cost more than the Redis read); they hold exactly the declared response models' fields.

Event times are ISO 8601 strings (:func:`iso_utc`). The HTTP routes ask for ``datetime``
objects instead (``iso=False``) and let orjson print them while it renders the body
(``OPT_UTC_Z``): the same text (a test holds the two to it), formatted in C, which on a
100-entity response was the largest single cost of building it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sparkfs.online.reader import Status
from sparkfs.serving.feast_dialect import feature_names
from sparkfs.serving.lookup import LookupResult

__all__ = ["feast_response", "iso_utc", "rows_response"]

_STATUS = {Status.PRESENT: "PRESENT", Status.NOT_FOUND: "NOT_FOUND",
           Status.OUTSIDE_MAX_AGE: "OUTSIDE_MAX_AGE"}
#: Feast's timestamp for entity columns and values never found (the epoch).
EPOCH = "1970-01-01T00:00:00Z"


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` (protobuf JSON style: fraction only when non-zero).

    ``datetime.isoformat`` (C) already prints the fraction only when non-zero; naive values
    are taken as UTC."""
    if moment.tzinfo is not None and moment.utcoffset():
        moment = moment.astimezone(UTC)
    text = moment.isoformat()
    return (text[:-6] if moment.tzinfo is not None else text) + "Z"


def _json_value(value: Any) -> Any:
    if type(value) is float and not math.isfinite(value):
        return None  # JSON has no NaN/inf
    return value


def _stamper(iso: bool) -> Callable[[datetime], Any]:
    return iso_utc if iso else _same


def _same(moment: datetime) -> datetime:
    return moment


def rows_response(result: LookupResult, *, iso: bool = True) -> dict[str, Any]:
    """``{"features": [...], "rows": [{"entity": {...}, "features": {ref: {...}}}]}``.

    ``iso=False`` leaves event times as ``datetime`` (for :func:`responses.json_response`)."""
    stamp = _stamper(iso)
    columns = [(c.ref, c.view, c.feature) for c in result.plan.columns]
    views = list(dict.fromkeys(view for _, view, _ in columns))
    entities = result.entities
    rows = []
    for i, answers in enumerate(result.rows):
        per_view = {}
        for view in views:
            answer = answers[view]
            per_view[view] = (_STATUS[answer.status],
                              stamp(answer.event_time) if answer.event_time else None,
                              answer.values)
        feats: dict[str, dict[str, Any]] = {}
        for ref, view, feature in columns:
            status, when, values = per_view[view]
            value = None if values is None else _json_value(values[feature])
            feats[ref] = {"value": value, "status": status, "event_time": when}
        rows.append({"entity": {k: v[i] for k, v in entities.items()}, "features": feats})
    return {"features": [c.ref for c in result.plan.columns], "rows": rows}


def feast_response(result: LookupResult, full_feature_names: bool, *, iso: bool = True,
                   version_metadata: bool = False,
                   entities: Mapping[str, Sequence[Any]] | None = None) -> dict[str, Any]:
    """Feast's feature-server JSON: entity key columns first, then one column per feature.

    As Feast 0.67's server answers: a stored null is ``PRESENT`` with a null value, and so is
    NaN (Feast stores NaN as a null); an infinite float is its protobuf JSON string
    (``"Infinity"``, ``"-Infinity"``); a value never found has the epoch as its time.
    ``version_metadata`` adds ``metadata.feature_view_metadata`` (Feast's
    ``include_feature_view_version_metadata``). ``entities`` are the key columns to echo
    (``feast_dialect.entity_columns``; the lookup's own by default). ``iso=False`` leaves event
    times as ``datetime`` (for :func:`responses.json_response`).
    """
    stamp = _stamper(iso)
    n = len(result.rows)
    keys = result.entities if entities is None else entities
    vectors: list[dict[str, Any]] = []
    for values in keys.values():
        vectors.append({"values": list(values), "statuses": ["PRESENT"] * n,
                        "event_timestamps": [EPOCH] * n})
    for col in result.plan.columns:
        values, statuses, stamps = [], [], []
        for answers in result.rows:
            answer = answers[col.view]
            values.append(None if answer.values is None else _feast_value(answer.values[col.feature]))
            statuses.append(_STATUS[answer.status])
            stamps.append(stamp(answer.event_time) if answer.event_time else EPOCH)
        vectors.append({"values": values, "statuses": statuses, "event_timestamps": stamps})
    metadata: dict[str, Any] = {
        "feature_names": [*keys, *feature_names(result.plan, full_feature_names)]}
    if version_metadata:
        # Feast's entry is {name, version: int}, version left out when 0 (an unversioned view);
        # sparkfs versions are content hashes, which Feast's client cannot hold in its integer.
        metadata["feature_view_metadata"] = [{"name": v.name, "definition_version": v.version}
                                             for v in result.plan.views]
    return {"metadata": metadata, "results": vectors}


def _feast_value(value: Any) -> Any:
    if type(value) is float and not math.isfinite(value):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value
