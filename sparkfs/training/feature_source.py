"""The input of a point-in-time join: one offline feature table and how to read it.

A plain dataclass, not a feature-view definition: the training-set layer adapts definitions to
it, so the join engine stays independent of the registry and of YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["CREATED_AT", "EVENT_TIMESTAMP", "INGESTED_AT", "FeatureSource"]

#: Column of every offline table holding the event time (UTC) of a feature row.
EVENT_TIMESTAMP = "event_timestamp"
#: Column of every offline table holding when the row was written; breaks ties on event time.
INGESTED_AT = "_ingested_at"
#: Column of a table whose view declares a ``created_timestamp_column``: when the row was
#: recorded or corrected. Breaks ties on event time before ``_ingested_at``.
CREATED_AT = "_created_at"


@dataclass(frozen=True)
class FeatureSource:
    """One feature view's offline table, as the point-in-time join consumes it.

    Attributes:
        name: Feature view name (used in error messages).
        df: Offline table with the key columns, ``event_timestamp``, the features and
            ``_ingested_at``.
        keys: Join key columns; the spine must have columns of the same names.
        features: Columns of ``df`` to take.
        output_names: Output column name per feature, e.g. ``"user_profile__age"``.
        ttl: How old a value may be and still be joined (``E > T - ttl``); ``None`` for no limit.
        availability_delay: How long after its event time a value becomes usable
            (``E + delay <= T``); models the lag of the online store so training matches serving.
        timestamp_output: If set, also output the matched row's ``event_timestamp`` under this
            name (null when nothing matched).
        created: ``df`` has ``_created_at``: among rows with equal event time the latest
            created wins (a null one counts as oldest), then the latest ``_ingested_at``.
        availability: ``"created"`` (knowing time, needs ``created``) also requires
            ``_created_at <= T``: a row is usable from ``max(E + delay, created)``, so the
            join sees what was known at T; a row without a created time is never usable.
    """

    name: str
    df: DataFrame
    keys: tuple[str, ...]
    features: tuple[str, ...]
    output_names: tuple[str, ...]
    ttl: timedelta | None
    availability_delay: timedelta = timedelta(0)
    timestamp_output: str | None = None
    created: bool = False
    availability: Literal["event", "created"] = "event"

    @property
    def outputs(self) -> tuple[str, ...]:
        """Every column this source adds to the spine, in output order."""
        extra = (self.timestamp_output,) if self.timestamp_output is not None else ()
        return (*self.output_names, *extra)
