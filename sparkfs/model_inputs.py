"""A model's input matrix, built the same way from a training set and from an online lookup.

A model trained on a training set's ``view__feature`` columns must be scored on exactly those
columns, in that order, with the same encoding: :func:`model_matrix` is that one encoding
(numbers as float64, booleans as 0/1, missing values as NaN), and :func:`online_frame` turns a
:meth:`FeatureStore.get_online_features` answer into the training set's column names, so the
notebook's scoring path cannot drift from its training path (tests/notebooks checks that a
lookup at ``t`` and a point-in-time join at ``t`` give equal matrices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sparkfs.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["column_of", "model_matrix", "online_frame"]


def column_of(ref: str) -> str:
    """The training-set column of a feature reference: ``view:feature`` -> ``view__feature``."""
    view, sep, feature = ref.partition(":")
    if not sep or not view or not feature:
        raise ValidationError(f"{ref!r} is not a feature reference; write view:feature")
    return f"{view}__{feature}"


def online_frame(response: Mapping[str, Any]) -> pd.DataFrame:
    """One row per looked-up entity: its key columns, then one ``view__feature`` column per
    feature (the value whatever its status: not found and outside max age are nulls)."""
    import pandas as pd

    refs = list(response["features"])
    rows = [{**row["entity"], **{column_of(ref): row["features"][ref]["value"] for ref in refs}}
            for row in response["rows"]]
    keys = list(response["rows"][0]["entity"]) if response["rows"] else []
    return pd.DataFrame(rows, columns=[*keys, *(column_of(ref) for ref in refs)])


def model_matrix(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of ``frame`` as float64 (booleans 0/1, nulls NaN), in that order.

    Raises:
        ValidationError: a column is missing (named), or holds values that are not numbers.
    """
    import pandas as pd

    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"the frame lacks the model's columns {missing}; build it from the "
                              "same feature service the model was trained on")
    out = {}
    for name in columns:
        try:
            out[name] = pd.to_numeric(frame[name].map(_number), errors="raise").astype("float64")
        except (TypeError, ValueError):
            raise ValidationError(f"column {name!r} holds non-numeric values; a model matrix "
                                  "takes numeric and boolean features only") from None
    return pd.DataFrame(out, index=frame.index)


def _number(value: Any) -> Any:
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return float("nan")
    if isinstance(value, bool):
        return float(value)
    return value
