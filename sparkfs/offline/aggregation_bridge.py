"""Adapts an aggregation feature view definition to the aggregation engine."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sparkfs.definitions import FeatureView
from sparkfs.offline.aggregation import (
    AggFeature,
    AggregationSpec,
    aggregate_windows,
)
from sparkfs.offline.conform import EVENT_TIMESTAMP

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["aggregate_view", "spec_of", "value_columns"]


def spec_of(view: FeatureView) -> AggregationSpec:
    agg = view.aggregations
    assert agg is not None, f"{view.name} declares no aggregations"
    return AggregationSpec(
        grain=agg.grain,
        windows=tuple(agg.windows),
        features=tuple(AggFeature(name=f.name, function=f.function, column=f.column) for f in agg.features),
    )


def value_columns(view: FeatureView) -> list[str]:
    assert view.aggregations is not None
    return [f.column for f in view.aggregations.features if f.column is not None]


def aggregate_view(
    events: DataFrame, view: FeatureView, keys: list[str], *, start: datetime | None, end: datetime | None
) -> DataFrame:
    return aggregate_windows(events, keys=keys, timestamp_column=EVENT_TIMESTAMP, spec=spec_of(view), start=start, end=end)
